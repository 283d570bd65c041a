"""`selfdistill clean` against cleanlab and the in-sample flags, on noise injected at known rows.

Three data sets a user could have made, each read through the reader `clean` uses
(:func:`selfdistill.datasets.rows.read_rows`): MNIST-1D as an ``.npz``, scikit-learn's digits as
an image folder of 8x8 PNGs, and a tabular CSV from ``make_classification``. Each is split once
(seeded, stratified) into a pool and a CLEAN test split. For every noise kind (symmetric, pair)
and rate (0.05, 0.1, 0.2, 0.4) the pool's labels are corrupted at known rows, then:

* ``clean``: :func:`selfdistill.nn.find_label_issues` (3-fold cross-fitting of sd-margin, ELR and
  GCE, the flag rule of :mod:`selfdistill.nn.clean.flags`; 9 trainings) and its final model (the
  method chosen on out-of-fold agreement with the given labels, trained on the whole pool);
* ``cleanlab``: cleanlab's ``find_label_issues`` given the out-of-fold probabilities of the same
  network trained with plain cross-entropy in the same folds (3 trainings), as cleanlab's docs
  use it;
* ``in-sample``: today's flags of ``selfdistill noisy`` (the sd-margin model trained on the
  whole pool; prediction != given label);
* every single method trained on the whole pool (same seed as clean's final model, which is one
  of them), scored on the clean test split.

Also recorded, to choose the flag rule's quantile q on this generated data (never on a test
split): the flagged F1 at q = 0.1, 0.25, 0.5 and of cleanlab's rule on clean's own probabilities.
Each (data, kind, rate, seed) cell is one run of a sweep: ``--jobs`` processes, stored in
``--out``'s folder so an interrupted benchmark resumes.

    nice -n 10 .venv/bin/python benchmarks/clean.py --seeds 0 --out runs/bench-clean/results.json
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

METHODS = ("sd-margin", "elr", "gce")
RATES = (0.05, 0.1, 0.2, 0.4)
KINDS = ("symmetric", "pair")


def make_data(name: str, folder: Path, n: int) -> Path:
    """Write one of the three data sets into ``folder`` as a user would have it."""
    if name == "mnist1d":
        from selfdistill.datasets.builtin import make_mnist1d_arrays

        raw = make_mnist1d_arrays(max(n, 1000), cache_dir=folder)
        path = folder / "mnist1d.npz"
        np.savez(path, x=raw["x"][:n], y=raw["y"][:n])
        return path
    if name == "digits-images":
        from PIL import Image
        from sklearn.datasets import load_digits

        digits = load_digits()
        root = folder / "digits"
        for i, (image, label) in enumerate(zip(digits.images[:n], digits.target[:n], strict=True)):
            (root / str(label)).mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 15.9).astype(np.uint8)).save(root / str(label) / f"{i}.png")
        return root
    if name == "tabular-csv":
        import pandas as pd
        from sklearn.datasets import make_classification

        x, y = make_classification(
            n_samples=n, n_features=20, n_informative=12, n_classes=6, n_clusters_per_class=1,
            class_sep=1.5, random_state=0,
        )  # fmt: skip
        frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(20)])
        frame["label"] = np.array(["a", "b", "c", "d", "e", "f"])[y]
        path = folder / "table.csv"
        frame.to_csv(path, index=False)
        return path
    raise ValueError(f"unknown data set {name!r}")


def prf(flagged: np.ndarray, wrong: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of a flagged set against the corrupted rows."""
    tp = float((flagged & wrong).sum())
    p = tp / flagged.sum() if flagged.sum() else 0.0
    r = tp / wrong.sum() if wrong.sum() else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def run_cell(spec: dict[str, Any], data: dict[str, str]) -> dict[str, Any]:
    """One (data, kind, rate, seed) cell: every flag rule and every final model."""
    import torch
    from cleanlab.filter import find_label_issues as cleanlab_issues

    from selfdistill.datasets.rows import read_rows
    from selfdistill.datasets.splits import stratified_split
    from selfdistill.nn import find_label_issues
    from selfdistill.nn.clean.crossfit import crossfit, scaled, train_network
    from selfdistill.nn.clean.flags import flag_top
    from selfdistill.nn.noisy.config import NoisyConfig
    from selfdistill.nn.training.loop import predict_logits
    from selfdistill.nn.training.seeds import derive_seed
    from selfdistill.noise import corrupt_labels

    rows = read_rows(data[spec["data"]])
    k = len(rows.class_names)
    pool, test = stratified_split(rows.y, 0.25, np.random.default_rng(0))
    x, y_true = rows.x[pool], rows.y[pool]
    seed = int(spec["seed"])
    y, wrong = corrupt_labels(y_true, spec["rate"], spec["kind"], k, seed=derive_seed(seed, 1))
    options = dict(spec["options"])
    config = NoisyConfig(**options)
    out: dict[str, Any] = {**spec, "n_pool": len(y), "n_test": len(test)}
    out["n_wrong"] = int(wrong.sum())

    start = time.perf_counter()
    issues = find_label_issues(x, y, classes=rows.class_names, methods=METHODS, folds=3, seed=seed,
                               final_model=False, **options)  # fmt: skip
    out["clean_crossfit_s"] = time.perf_counter() - start
    out["clean"] = prf(issues.flagged, wrong)
    out["clean_n_flagged"] = issues.n_flagged
    out["chosen"], out["oof_accuracy"] = issues.method, issues.methods
    out["q_sweep"] = {
        str(q): prf(flag_top(issues.proba, y, q=q)[0], wrong)["f1"] for q in (0.1, 0.25, 0.5)
    }
    out["cleanlab_rule_on_clean_proba"] = prf(cleanlab_issues(y, issues.proba), wrong)

    start = time.perf_counter()
    ce = crossfit(x, y, config, ["ce"], folds=3, seed=seed, num_classes=k)["ce"]
    out["cleanlab"] = prf(cleanlab_issues(y, ce), wrong)
    out["cleanlab_s"] = time.perf_counter() - start

    x_test = rows.x[test]
    out["test_acc"], out["single_s"] = {}, {}
    for method in METHODS:  # clean's final model is the chosen one of these (same seed)
        start = time.perf_counter()
        model, (mean, std), _ = train_network(method, x, y, config, derive_seed(seed, 99), k)
        out["single_s"][method] = time.perf_counter() - start

        def predict(inputs: np.ndarray, model: Any = model, mean: Any = mean, std: Any = std):
            tensor = torch.from_numpy(np.ascontiguousarray((scaled(inputs) - mean) / std))
            return predict_logits(model, tensor).argmax(dim=1).numpy()

        out["test_acc"][method] = float((predict(x_test) == rows.y[test]).mean())
        if method == "sd-margin":
            out["in_sample"] = prf(predict(x) != y, wrong)
    out["clean_test_acc"] = out["test_acc"][issues.method]
    out["clean_s"] = out["clean_crossfit_s"] + out["single_s"][issues.method]
    return out


def _mean(cells: list[dict[str, Any]], *path: str) -> float:
    """The mean over ``cells`` of ``cell[path[0]][path[1]]...``."""
    values = []
    for cell in cells:
        value: Any = cell
        for key in path:
            value = value[key]
        values.append(value)
    return float(np.mean(values))


def table(cells: list[dict[str, Any]]) -> str:
    """The Markdown table: per (data, kind, rate), means over seeds."""
    head = (
        "| data | noise | rate | wrong | clean P / R / F1 | cleanlab (CE) P / R / F1 | "
        "in-sample P / R / F1 | clean acc (method) | sd-margin / elr / gce acc | clean s | "
        "cleanlab s |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((cell["data"], cell["kind"], cell["rate"]), []).append(cell)
    lines = []
    for (data, kind, rate), cs in groups.items():
        trio = {
            key: " / ".join(f"{_mean(cs, key, s):.3f}" for s in ("precision", "recall", "f1"))
            for key in ("clean", "cleanlab", "in_sample")
        }
        singles = " / ".join(f"{_mean(cs, 'test_acc', m):.3f}" for m in METHODS)
        chosen = ",".join(sorted({cell["chosen"] for cell in cs}))
        lines.append(
            f"| {data} | {kind} | {rate:g} | {_mean(cs, 'n_wrong'):.0f} | {trio['clean']} | "
            f"{trio['cleanlab']} | {trio['in_sample']} | "
            f"{_mean(cs, 'clean_test_acc'):.3f} ({chosen}) | {singles} | "
            f"{_mean(cs, 'clean_s'):.0f} | {_mean(cs, 'cleanlab_s'):.0f} |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist1d,digits-images,tabular-csv")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--n", type=int, default=1200, help="samples per data set (pool + test)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-clean/results.json"))
    args = parser.parse_args()

    from selfdistill.execution import Execution, run_sweep

    names = args.data.split(",")
    options = {"epochs": args.epochs, "width": args.width, "batch_size": 64, "device": "cpu"}
    specs = [
        {"data": d, "kind": kind, "rate": float(rate), "seed": int(seed), "n": args.n,
         "options": options}
        for d in names for kind in args.kinds.split(",") for rate in args.rates.split(",")
        for seed in args.seeds.split(",")
    ]  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data = {d: str(make_data(d, Path(tmp), args.n)) for d in names}
        execution = Execution("processes", jobs=args.jobs) if args.jobs > 1 else Execution()
        start = time.perf_counter()
        cells = run_sweep(
            functools.partial(run_cell, data=data), specs, execution=execution,
            store=args.out.parent / "cells", progress=True, desc="cells",
        )  # fmt: skip
    report = {"settings": {**vars(args), "out": str(args.out)}, "cells": cells,
              "wall_s": time.perf_counter() - start}  # fmt: skip
    args.out.write_text(json.dumps(report, indent=1))
    print(table(cells))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
