"""Summaries, tables and figures of chains of generations (no torch needed).

A chain result is ``[{"seed": s, "generations": [{"generation", "alpha", "fits", "train_acc",
"val_acc", "test_acc", ...}, ...]}, ...]`` as produced by
:func:`selfdistill.nn.chains.run.run_chains`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._util.io import write_csv, write_json
from .._util.stats import sample_std

__all__ = [
    "ACCURACIES",
    "chain_rows",
    "format_summary",
    "plot_chain_accuracy",
    "summarise_chain",
    "write_chain_outputs",
]

ACCURACIES = ("train_acc", "val_acc", "test_acc")
_LABELS = {"train_acc": "train (original labels)", "val_acc": "validation", "test_acc": "test"}


def chain_rows(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One flat row per (seed, generation) for a CSV; nested values are left out."""
    rows = []
    for run in runs:
        for rec in run["generations"]:
            row = {"seed": run["seed"]}
            row.update({k: v for k, v in rec.items() if not isinstance(v, (dict, list))})
            rows.append(row)
    return rows


def summarise_chain(
    runs: Sequence[Mapping[str, Any]], keys: Sequence[str] = ACCURACIES
) -> dict[str, Any]:
    """Mean and sample standard deviation over seeds (ddof = 1; 0 for one seed) per generation.

    Returns ``{"generation": [...], "<key>_mean": [...], "<key>_std": [...], "alpha_mean": ...,
    "fits": [...]}``; α is averaged over the seeds that report one (None for generation 1).
    """
    if not runs:
        raise ValueError("runs must hold at least one seed")
    n = min(len(r["generations"]) for r in runs)
    out: dict[str, Any] = {"generation": list(range(1, n + 1)), "seeds": len(runs)}
    for key in keys:
        values = np.array([[r["generations"][i][key] for i in range(n)] for r in runs], float)
        out[f"{key}_mean"] = values.mean(axis=0).tolist()
        out[f"{key}_std"] = sample_std(values, axis=0).tolist()
    alphas = []
    for i in range(n):
        vals = [
            r["generations"][i]["alpha"] for r in runs if r["generations"][i]["alpha"] is not None
        ]
        alphas.append(float(np.mean(vals)) if vals else None)
    out["alpha_mean"] = alphas
    out["fits"] = [runs[0]["generations"][i]["fits"] for i in range(n)]
    return out


def format_summary(summary: Mapping[str, Any]) -> str:
    """A plain-text table: generation, mean α, fits, accuracies as mean ± std in percent."""
    head = f"{'gen':>3} {'alpha':>6} {'fits':>5}" + "".join(
        f" {k.replace('_acc', ''):>15}" for k in ACCURACIES
    )
    lines = [head]
    for i, g in enumerate(summary["generation"]):
        a = summary["alpha_mean"][i]
        line = f"{g:>3} {'-' if a is None else f'{a:.3f}':>6} {summary['fits'][i]:>5}"
        for k in ACCURACIES:
            m, s = summary[f"{k}_mean"][i], summary[f"{k}_std"][i]
            line += f" {100 * m:>8.2f} ± {100 * s:4.2f}"
        lines.append(line)
    return "\n".join(lines)


def plot_chain_accuracy(
    ax, summary: Mapping[str, Any], *, keys=ACCURACIES, label: str = ""
) -> None:
    """Mean accuracy (percent) against generation with a ± std band, one line per key."""
    from .plotting import band

    gens = np.asarray(summary["generation"])
    for key in keys:
        name = _LABELS.get(key, key) if not label else f"{label}: {_LABELS.get(key, key)}"
        mean, std = summary[f"{key}_mean"], summary[f"{key}_std"]
        band(ax, gens, mean, std, scale=100, alpha=0.2, marker="o", ms=3, label=name)
    ax.set_xlabel("generation (1 = trained on labels)")
    ax.set_ylabel("accuracy (%)")
    ax.set_xticks(gens)
    ax.grid(alpha=0.3)


def write_chain_outputs(
    out: str | os.PathLike[str],
    config: Mapping[str, Any],
    runs: Sequence[Mapping[str, Any]],
    *,
    title: str = "Self-distillation chain",
) -> dict[str, Path]:
    """Write ``results.json`` (``{"command": "chain", "config", "runs", "summary"}``),
    ``generations.csv`` and ``accuracy.png`` (accuracy against generation, mean ± std over seeds)
    into ``out``."""
    from .plotting import plt, save_figure

    out = Path(out)
    summary = summarise_chain(runs)
    paths = {
        "results": write_json(
            out / "results.json",
            {"command": "chain", "config": config, "runs": runs, "summary": summary},
        ),
        "csv": write_csv(out / "generations.csv", chain_rows(runs)),
    }
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    plot_chain_accuracy(axes[0], summary, keys=("train_acc",))
    axes[0].set_title("train accuracy on the original labels")
    plot_chain_accuracy(axes[1], summary, keys=("val_acc", "test_acc"))
    axes[1].set_title("validation and test accuracy")
    for ax in axes:
        ax.legend(loc="best", fontsize=8)
    n = summary["seeds"]
    fig.suptitle(f"{title} (mean ± std over {n} seed{'s' if n != 1 else ''})")
    paths["png"] = save_figure(fig, out / "accuracy.png")
    return paths
