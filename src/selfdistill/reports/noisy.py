"""Tables and figures of noisy-label runs (torch-free): mean ± std over seeds, accuracy curves.

A *run* is a dict with at least ``seed``, ``method``, ``noise``, ``final_test_acc``,
``best_test_acc``, ``label_recovery`` and ``test_acc_curve`` (see
:mod:`selfdistill.nn.noisy.runner`).
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._util.io import write_csv
from .._util.stats import sample_std
from ..catalog import NOISY_RUN_KEYS

__all__ = [
    "CSV_FIELDS",
    "FLAGGED_KEYS",
    "flagged_tables",
    "markdown_table",
    "noisy_val_selection",
    "plot_curves",
    "selection_table",
    "summarise",
    "write_runs_csv",
]

#: the scalar keys of a run (its curve left out), with early stopping's two extras
CSV_FIELDS = (*NOISY_RUN_KEYS[:6], "memorised", "selected_epoch", *NOISY_RUN_KEYS[7:])


def _ordered(values: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def _mean_std(values: Sequence[float | None]) -> tuple[float, float, int]:
    xs = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if xs.size == 0:
        return math.nan, math.nan, 0
    std = sample_std(xs)
    return float(xs.mean()), std, int(xs.size)


def summarise(
    runs: Sequence[Mapping[str, Any]], key: str = "final_test_acc"
) -> list[dict[str, Any]]:
    """Mean and sample standard deviation (ddof = 1) of ``key`` over seeds per (method, noise)."""
    rows = []
    for noise in sorted(_ordered([r["noise"] for r in runs])):
        for method in _ordered([r["method"] for r in runs]):
            vals = [r[key] for r in runs if r["method"] == method and r["noise"] == noise]
            if not vals:
                continue
            mean, std, count = _mean_std(vals)
            rows.append({"method": method, "noise": noise, "mean": mean, "std": std, "n": count})
    return rows


def markdown_table(
    runs: Sequence[Mapping[str, Any]], key: str = "final_test_acc", *, percent: bool = True
) -> str:
    """Methods as rows, noise rates as columns, cells ``mean ± std`` over seeds (the mean alone
    for a single seed); best mean bold."""
    noises = sorted(_ordered([r["noise"] for r in runs]))
    methods = _ordered([r["method"] for r in runs])
    stats = {(s["method"], s["noise"]): s for s in summarise(runs, key)}
    scale = 100.0 if percent else 1.0
    best = {}
    for noise in noises:
        means = [stats[m, noise]["mean"] for m in methods if (m, noise) in stats]
        finite = [v for v in means if math.isfinite(v)]
        best[noise] = max(finite) if finite else math.nan
    lines = [
        "| method | " + " | ".join(f"noise {n:g}" for n in noises) + " |",
        "|---|" + "---|" * len(noises),
    ]
    for method in methods:
        cells = []
        for noise in noises:
            s = stats.get((method, noise))
            if s is None or not math.isfinite(s["mean"]):
                cells.append("–")
                continue
            cell = f"{scale * s['mean']:.2f}"
            if s["n"] > 1:  # one seed has no spread to show
                cell += f" ± {scale * s['std']:.2f}"
            cells.append(f"**{cell}**" if s["mean"] == best[noise] else cell)
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: the scores of a run's flagged set against the corruption mask
FLAGGED_KEYS = ("flagged_precision", "flagged_recall", "flagged_f1")


def flagged_tables(runs: Sequence[Mapping[str, Any]]) -> str:
    """Markdown sections with :func:`markdown_table` of each of :data:`FLAGGED_KEYS`."""
    intro = (
        "Flagged: training samples whose final prediction differs from the given label "
        "(confident-learning: the samples cleanlab flags), scored against the true corruption "
        "mask (undefined without noise).\n\n"
    )
    parts = []
    for key, title in zip(FLAGGED_KEYS, ("precision", "recall", "F1"), strict=True):
        parts.append(f"## Flagged samples: {title} (%)\n\n{intro}{markdown_table(runs, key)}")
    return "\n".join(parts)


#: the ``method`` of the runs :func:`noisy_val_selection` returns
SELECTED = "selected on noisy val"


def _noisy_val_acc(run: Mapping[str, Any]) -> float:
    """Accuracy on the NOISY validation split of the model a run reports (its ``noisy_val_acc``;
    for runs stored before that key existed, read off ``noisy_val_curve`` at ``selected_epoch``)."""
    if run.get("noisy_val_acc") is not None:
        return float(run["noisy_val_acc"])
    return float(run["noisy_val_curve"][run.get("selected_epoch", -1)])


def noisy_val_selection(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per (seed, noise), the run whose reported model is most accurate on the NOISY validation
    split — the choice of method a user can make without clean labels or the noise rate.

    Returns one run-like dict per (seed, noise): ``method`` is :data:`SELECTED`, ``chosen`` the
    method picked (ties keep the earlier method in ``runs``), ``final_test_acc`` and
    ``noisy_val_acc`` its values, ``trainings`` the sum over the candidates (every candidate is
    trained to choose). Runs without a noisy validation curve are not candidates.
    """
    groups: dict[tuple[int, float], list[Mapping[str, Any]]] = {}
    for run in runs:
        if run.get("noisy_val_acc") is not None or run.get("noisy_val_curve"):
            groups.setdefault((run["seed"], run["noise"]), []).append(run)
    out = []
    for (seed, noise), group in groups.items():
        best = max(group, key=_noisy_val_acc)  # max keeps the first of equal values
        out.append({
            "seed": seed, "noise": noise, "method": SELECTED, "chosen": best["method"],
            "final_test_acc": best["final_test_acc"], "noisy_val_acc": _noisy_val_acc(best),
            "trainings": sum(r.get("trainings") or 1 for r in group),
        })  # fmt: skip
    return out


def selection_table(runs: Sequence[Mapping[str, Any]]) -> str:
    """:func:`markdown_table` of the final clean test accuracy with one more row, the method
    selected on the noisy validation split (:func:`noisy_val_selection`), and a last row naming
    the methods it chose per noise rate (with counts over seeds). With a single method it is the
    plain table."""
    if len(_ordered([r["method"] for r in runs])) < 2:
        return markdown_table(runs)
    picks = noisy_val_selection(runs)
    noises = sorted(_ordered([r["noise"] for r in runs]))
    chosen = []
    for noise in noises:
        names = [p["chosen"] for p in picks if p["noise"] == noise]
        chosen.append(", ".join(f"{m} × {names.count(m)}" for m in _ordered(names)) or "–")
    return markdown_table([*runs, *picks]) + "| chosen | " + " | ".join(chosen) + " |\n"


def write_runs_csv(path: str | os.PathLike[str], runs: Sequence[Mapping[str, Any]]) -> Path:
    """One row per run with the scalar measures (:data:`CSV_FIELDS`)."""
    return write_csv(path, [{k: r.get(k) for k in CSV_FIELDS} for r in runs], CSV_FIELDS)


def plot_curves(
    runs: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], *, title: str = ""
) -> Path:
    """Clean test accuracy per epoch, mean over seeds (band: ± 1 std), one panel per noise rate.

    Early stopping's selected epoch is marked on its (plain cross-entropy) curve.
    """
    from .plotting import band, plt, save_figure

    noises = sorted(_ordered([r["noise"] for r in runs]))
    methods = _ordered([r["method"] for r in runs])
    cols = min(len(noises), 3)
    rows = math.ceil(len(noises) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, noise in zip(axes.flat, noises, strict=False):
        for i, method in enumerate(methods):
            sel = [r for r in runs if r["method"] == method and r["noise"] == noise]
            if not sel:
                continue
            curves = np.asarray([r["test_acc_curve"] for r in sel], dtype=float)
            epochs = np.arange(1, curves.shape[1] + 1)
            mean = curves.mean(axis=0)
            color = colors[i % len(colors)]
            if method == "early-stop":
                sel_epochs = [r["selected_epoch"] + 1 for r in sel if "selected_epoch" in r]
                accs = [r["final_test_acc"] for r in sel]
                ax.scatter(
                    sel_epochs, accs, marker="v", s=40, color=color, zorder=5,
                    label="early-stop (selected on noisy val)",
                )  # fmt: skip
                continue
            std = sample_std(curves, axis=0) if len(sel) > 1 else None
            band(ax, epochs, mean, std, color=color, label=method)
        ax.set_title(f"noise {noise:g}")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (clean labels)")
        ax.grid(True, alpha=0.3)
    axes.flat[0].legend(fontsize=8, loc="lower right")  # the same methods in every panel
    for ax in list(axes.flat)[len(noises) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(textwrap.fill(title, width=60 * cols))
    fig.tight_layout()
    return save_figure(fig, path)
