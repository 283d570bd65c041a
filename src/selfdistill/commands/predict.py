"""Predict with a saved model: class, class name and probabilities of every sample of a data file.

--model is a model folder (or its model.json) written by `selfdistill noisy` or `selfdistill
chain`; the model card's standardisation is applied to the raw inputs of --data, an .npz (array
x) or a .csv / .tsv / .parquet table (every column but --label-column is a feature; the label
column may be absent; a model trained on a table takes its feature columns by name, in any
order), or an image folder (resized as the model's training images were). Writes
--out (CSV): index, predicted_label, predicted_name, confidence and p_<class> for every class;
when the data has labels, their accuracy is printed.

example:
  selfdistill predict --model runs/mine/runs/seed0-noise0-sd --data new.csv --out predictions.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_arguments", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", type=Path, required=True, metavar="PATH",
        help="a saved model: its folder or its model.json",
    )  # fmt: skip
    parser.add_argument(
        "--data", type=Path, required=True, metavar="PATH",
        help="the samples to predict: .npz (array x), .csv / .tsv / .parquet, or an image folder",
    )  # fmt: skip
    parser.add_argument(
        "--label-column", default=None,
        help="a table's label column, left out of the features when present (default: the "
        "label column the model was trained with, else label)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=Path("predictions.csv"), metavar="PATH",
        help="the predictions CSV (default: %(default)s)",
    )  # fmt: skip


def _model_files(model: Path) -> dict[str, Path]:
    """The files of ``--model`` (a folder or its ``model.json``) that ``--out`` must not be."""
    folder = model if model.is_dir() else model.parent
    files = {"--model": model} if not model.is_dir() else {}
    files.update({f"--model {name}": folder / name for name in ("model.json", "model.pt")})
    return files


def main(args: argparse.Namespace) -> int:
    try:
        from ..nn.saved import load_model
    except ImportError as exc:
        raise RuntimeError(f"`selfdistill predict` needs PyTorch: {exc}") from None
    from .._util.io import write_csv
    from .._util.outdir import check_output_file
    from ..label_report import prediction_rows

    model_files = _model_files(args.model)
    check_output_file(args.out, name="--out", inputs={"--data": args.data, **model_files})
    saved = load_model(args.model)
    x, labels = saved.read_data(args.data, label_column=args.label_column)
    try:
        proba = saved.predict_proba(x)
    except ValueError as exc:
        raise ValueError(f"{args.data}: {exc}") from None
    write_csv(args.out, prediction_rows(proba, saved.class_names))
    print(f"wrote {args.out} ({len(proba)} predictions)", file=sys.stderr)
    if labels is not None:
        names = saved.class_names
        given = [str(v) for v in labels]
        if all(g in names for g in given):
            hits = sum(names[p] == g for p, g in zip(proba.argmax(axis=1), given, strict=True))
            print(f"accuracy against the data's labels: {hits / len(given):.4f}", file=sys.stderr)
    return 0
