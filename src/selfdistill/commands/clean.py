"""Find the wrong labels in your data set and train the model that survives them.

Every sample of --data is judged by networks that never trained on its label: the samples are
split into --folds stratified folds and each noisy-label method (--methods; default sd-margin,
elr, gce) trains on all folds but one and predicts the one left out. The out-of-fold probabilities,
averaged over the methods, estimate how many labels are wrong (a confident-joint count with
per-class thresholds) and flag that many samples, those whose given label is least probable. The
method whose out-of-fold predictions agree best with the GIVEN labels (no clean labels are needed)
then trains once more on every sample: the model you keep. Nothing is corrupted, nothing injected.
Cost: methods × folds + 1 trainings (default 3 × 3 + 1 = 10); --method NAME forces one method
(folds + 1 trainings). The trainings run side by side with --jobs N or --executor ray, and each
finished one is kept in OUT/state: rerunning the same command resumes (a run with other labels,
e.g. --corrections, retrains every fold).

Writes into OUT: issues.csv (one row per sample, most surely wrong first: row, index, given_label,
suggested_label, score = 1 - p_given, flagged, p_given, p_suggested, corrected), probabilities.npy
(out-of-fold, float32, n x classes), results.json, model/ (read by `selfdistill predict --model
OUT/model`) and relabelled.<ext>: your file with the suggested label in the label column of every
flagged row (every row, your columns and dtypes; an image folder gives a CSV path,label). Your
input is never written over. --corrections FILE (columns row,label) trusts the labels a person
decided: they replace the given ones and are never flagged again.

example:
  selfdistill clean --data mine.csv --label-column species --out runs/clean
  selfdistill predict --model runs/clean/model --data new.csv --out predictions.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .._util.io import atomic_write_bytes, write_csv, write_json
from .._util.outdir import check_output_folder, output_folder
from .._util.validation import check_int
from ..config_file import add_config_option, resolved_options
from ..execution import EXECUTION_OPTIONS, execution_from_args
from ..training_flags import add_training_flags, training_settings
from ._dry_run import add_dry_run_option, print_dry_run
from .report import write_run_report

__all__ = ["add_arguments", "main"]

DEFAULT_METHODS = "sd-margin,elr,gce"
ISSUE_COLUMNS = (
    "row", "index", "given_label", "suggested_label", "score", "flagged", "p_given", "p_suggested",
    "corrected",
)  # fmt: skip
_OUTPUTS = ("issues.csv", "probabilities.npy", "results.json", "model")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data")
    g.add_argument(
        "--data", required=True, metavar="PATH|NAME",
        help="your data: a .csv/.tsv/.parquet table (one row per sample), a .npz (arrays x, y; "
        "optionally x_val, y_val, x_test, y_test: every split is judged), a folder of images "
        "DIR/<class>/*.png|jpg, or a built-in data set name",
    )  # fmt: skip
    g.add_argument(
        "--label-column", default="label", metavar="NAME",
        help="label column of a table (default: %(default)s)",
    )  # fmt: skip
    g.add_argument(
        "--image-size", type=int, default=None, metavar="PIXELS",
        help="resize the images of a folder to this many pixels squared (default: as they are)",
    )  # fmt: skip
    g.add_argument(
        "--corrections", type=Path, default=None, metavar="FILE",
        help="a CSV row,label of labels a person decided (the review page's download): "
        "trusted, never flagged (default: none)",
    )  # fmt: skip
    g = parser.add_argument_group("judging")
    g.add_argument(
        "--folds", type=int, default=3, help="K of the K-fold cross-fitting, >= 2 (default: 3)"
    )
    g.add_argument(
        "--methods", default=DEFAULT_METHODS,
        help="comma list of the noisy-label methods cross-fitted (loss rules: ce, gce, elr, sd, "
        "sd-margin, bootstrap-soft, bootstrap-hard, or a plug-in) (default: %(default)s)",
    )  # fmt: skip
    g.add_argument(
        "--method", default=None,
        help="force one method: only it is cross-fitted and it trains the final model "
        "(default: the method of --methods that agrees best with the given labels out of fold)",
    )  # fmt: skip
    g.add_argument("--seed", type=int, default=0, help="seed of folds and networks (default: 0)")
    add_training_flags(
        parser, epochs=40, seeds="0", omit=("momentum", "seeds"),
        title="model and budget (of every training)",
    )  # fmt: skip
    add_config_option(parser)
    parser.add_argument(
        "--out", type=Path, default=Path("runs") / "clean",
        help="output folder; OUT/state keeps finished trainings (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress bars"
    )
    add_dry_run_option(parser)


def _same_or_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_paths(args: argparse.Namespace, data: str, relabelled: str) -> None:
    """``--out`` equal to or inside the data folder, or an output that is an input: refused."""
    out = args.out.resolve()
    inputs = [Path(data)] if Path(data).exists() else []
    if args.corrections is not None:
        inputs.append(args.corrections.resolve())
    outputs = [out / name for name in (*_OUTPUTS, relabelled)]
    for path in inputs:
        if path == out or any(_same_or_inside(path, o) for o in outputs):
            raise ValueError(f"--out {args.out}: an output would overwrite the input {path}")


def main(args: argparse.Namespace) -> int:
    from ..catalog import check_data_source
    from ..datasets.rows import read_corrections, read_rows, relabelled_name

    flags = training_settings(args)
    execution = execution_from_args(args)
    check_int("--seed", args.seed, low=0)
    check_int("--folds", args.folds, low=2)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.image_size is not None:
        check_int("--image-size", args.image_size, low=1)
    try:
        from ..nn.clean.crossfit import check_folds, clean_methods
        from ..nn.clean.issues import find_label_issues
    except ImportError as exc:
        raise RuntimeError(f"`selfdistill clean` needs PyTorch: {exc}") from None
    names = clean_methods()
    for m in [*methods, *([args.method] if args.method else [])]:
        if m not in names:
            raise ValueError(f"--methods/--method: unknown method {m!r}; choose from "
                             f"{', '.join(names)}")  # fmt: skip
    if not methods or len(set(methods)) != len(methods):
        raise ValueError(f"--methods must be a comma list without repeats, got {args.methods!r}")
    source = check_data_source(args.data)
    data = str(Path(source).resolve()) if Path(source).exists() else source
    if Path(data).is_dir() and _same_or_inside(args.out.resolve(), Path(data)):
        raise ValueError(f"--out {args.out} must not be the data folder or lie inside it")
    if args.dry_run:
        forced = [args.method] if args.method else methods
        resolved = {"trainings": len(forced) * args.folds + 1, "data": data}
        return print_dry_run(args, resolved, command="clean")
    check_output_folder(args.out, command="clean")
    rows = read_rows(data, label_column=args.label_column, image_size=args.image_size)
    _check_paths(args, data, relabelled_name(rows))
    fixes = {} if args.corrections is None else read_corrections(args.corrections, rows)
    labels = rows.y.copy()
    labels[list(fixes)] = list(fixes.values())
    trusted = np.zeros(len(rows), bool)
    trusted[list(fixes)] = True
    check_folds(labels, args.folds, rows.class_names, flag="--folds")
    options = {k: flags[k] for k in _CONFIG_FLAGS}
    with output_folder(args.out, command="clean") as out:
        issues = find_label_issues(
            rows.x, labels, classes=rows.class_names, methods=methods, method=args.method,
            folds=args.folds, seed=args.seed, trusted=trusted, execution=execution,
            store=out / "state", progress=args.progress, source=_source(rows, args),
            feature_names=rows.feature_names,
            label_column=args.label_column if rows.kind == "table" else None, **options,
        )  # fmt: skip
        settings = {
            "data": data, "label_column": args.label_column, "image_size": args.image_size,
            "folds": args.folds, "seed": args.seed, "methods": methods, "method": args.method,
            "corrections": None if args.corrections is None else str(args.corrections.resolve()),
            **{k: flags[k] for k in _CONFIG_FLAGS},
        }  # fmt: skip
        recorded = resolved_options(args, exclude=EXECUTION_OPTIONS)
        results = _write_outputs(out, rows, issues, labels, trusted, settings, recorded)
        write_run_report(out)  # the review page; a failing page only warns
    _print_summary(results, out)
    return 0


#: the training flags find_label_issues takes (NoisyConfig's flat keywords)
_CONFIG_FLAGS = (
    "model", "width", "depth", "epochs", "batch_size", "optimizer", "lr", "weight_decay",
    "schedule", "device",
)  # fmt: skip


def _source(rows: Any, args: argparse.Namespace) -> dict[str, Any]:
    return {"name": rows.source, "kind": rows.kind, "label_column": args.label_column,
            "image_size": args.image_size}  # fmt: skip


def _write_outputs(
    out: Path,
    rows: Any,
    issues: Any,
    labels: np.ndarray,
    trusted: np.ndarray,
    settings: dict[str, Any],
    options: dict[str, Any],
) -> dict[str, Any]:
    """issues.csv, probabilities.npy, model/, relabelled.<ext> and results.json (last; its
    ``config.options`` is what ``--config OUT/results.json`` reads back)."""
    import io

    from ..datasets.rows import relabelled_name, write_relabelled

    names = np.asarray(rows.class_names, dtype=object)
    n = len(rows)
    score = np.where(trusted, 0.0, issues.score)
    p_given = issues.proba[np.arange(n), rows.y]
    order = np.argsort(-score, kind="stable")
    table = [
        {
            "row": rows.rows[i], "index": int(i), "given_label": names[rows.y[i]],
            "suggested_label": names[labels[i] if trusted[i] else issues.suggested[i]],
            "score": float(score[i]), "flagged": int(issues.flagged[i]),
            "p_given": float(p_given[i]), "p_suggested": float(issues.p_suggested[i]),
            "corrected": names[labels[i]] if trusted[i] else "",
        }
        for i in order.tolist()
    ]  # fmt: skip
    write_csv(out / "issues.csv", table, ISSUE_COLUMNS)
    buffer = io.BytesIO()
    np.save(buffer, issues.proba.astype(np.float32))
    atomic_write_bytes(out / "probabilities.npy", buffer.getvalue())
    issues.save_model(out / "model")
    new = np.where(issues.flagged, issues.suggested, labels)
    relabelled = write_relabelled(rows, new.astype(np.int64), out / relabelled_name(rows))
    k = len(names)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (rows.y, issues.suggested), 1)
    flagged_per_class = np.bincount(rows.y[issues.flagged], minlength=k)
    results = {
        "command": "clean",
        "settings": settings,
        "data_kind": rows.kind,
        "classes": list(rows.class_names),
        "n": n,
        "n_flagged": issues.n_flagged,
        "threshold": issues.threshold,
        "method": issues.method,
        "methods": issues.methods,
        "flagged_per_class": {str(names[j]): int(c) for j, c in enumerate(flagged_per_class)},
        "confusion": {"labels": list(rows.class_names), "matrix": confusion.tolist()},
        "corrections": int(trusted.sum()),
        "trainings": issues.trainings,
        "top_pairs": _top_pairs(rows.y[issues.flagged], issues.suggested[issues.flagged], names),
        "config": {"options": options},
        "outputs": {
            "issues": "issues.csv",
            "probabilities": "probabilities.npy",
            "model": "model",
            "relabelled": relabelled.name,
        },
    }
    write_json(out / "results.json", results)
    return results


def _top_pairs(given: np.ndarray, suggested: np.ndarray, names: np.ndarray) -> list[dict]:
    """The most frequent (given, suggested) pairs among the flagged samples, at most 5."""
    pairs: dict[tuple[int, int], int] = {}
    for g, s in zip(given.tolist(), suggested.tolist(), strict=True):
        pairs[(g, s)] = pairs.get((g, s), 0) + 1
    top = sorted(pairs.items(), key=lambda p: (-p[1], p[0]))[:5]
    return [{"given": str(names[g]), "suggested": str(names[s]), "count": c} for (g, s), c in top]


def _print_summary(results: dict[str, Any], out: Path) -> None:
    n, flagged = results["n"], results["n_flagged"]
    accuracies = ", ".join(f"{m} {a:.3f}" for m, a in results["methods"].items())
    print(f"{n} samples, {flagged} flagged ({100 * flagged / max(n, 1):.1f} %)")
    print(f"method: {results['method']} (out-of-fold agreement with the given labels: "
          f"{accuracies})")  # fmt: skip
    for pair in results["top_pairs"]:
        print(f"  {pair['given']} -> {pair['suggested']}: {pair['count']}")
    print(f"wrote {out}/issues.csv, results.json, probabilities.npy, model/ and "
          f"{results['outputs']['relabelled']}", file=sys.stderr)  # fmt: skip
