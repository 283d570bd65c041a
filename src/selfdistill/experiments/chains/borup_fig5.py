"""Borup & Andersen (2021) section 5, figure 5: fixed α against the estimated α̂.

For each seed, eleven chains share generation 1 (trained on the labels): ten with a fixed
α ∈ {0, 0.1, …, 0.9} in every step and one with α̂ estimated per step in closed form from the
validation predictions of an extra α = 0 fit (Borup eq. 16 with the Frobenius norm; 2(τ − 1) + 1
fits). Loss: the ℓ2 loss of the softmax output (Borup eq. 18). The paper (ResNet-50, CIFAR-10)
reports small α over-regularising (accuracy falls with the steps), larger α improving, the best
fixed α in [0.5, 0.7] and α̂ ≈ 0.6 at every step with comparable accuracy. Here: an MLP on mnist1d
(or digits), small enough for a 2-core CPU.
"""

from __future__ import annotations

import argparse
import functools
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ... import training_flags as opt
from ..._util.stats import sample_std
from ...catalog import GENERATED_DATASETS as DATASETS
from ...execution import add_execution_arguments, execution_from_args
from .._state import state_dir

GRID = tuple(round(0.1 * i, 1) for i in range(10))

GENERATIONS = opt.QuickDefault(full=5, quick=3)
SEEDS = opt.QuickDefault(full=(0, 1, 2), quick=(0,))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_mlp_chain_options(parser, DATASETS, GENERATIONS, SEEDS)
    add_execution_arguments(parser)  # one run per seed (its fixed-α and estimated-α chains)
    parser.add_argument(
        "--lr",
        type=float,
        default=0.5,
        help="SGD learning rate; the l2 loss through the softmax has small gradients "
        "(default: %(default)s)",
    )
    opt.add_device_option(parser)


def _seed_chains(spec: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """One run of the sweep: every chain (fixed α and estimated α) of ``spec["seed"]``."""
    from ...nn.chains.run import run_alpha_chains

    data, config, schedules = kwargs["data"], kwargs["config"], kwargs["schedules"]
    return run_alpha_chains(data, config, spec["seed"], schedules, state_dir=kwargs["state"])


def _chain_name(alpha: float) -> str:
    """The key of the chain with the fixed ``alpha`` in the results."""
    return f"alpha={alpha:g}"


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        **opt.mlp_chain_settings(args, GENERATIONS, SEEDS),
        "lr": opt.positive_real("--lr", args.lr),
        "device": args.device,
        "grid": list(GRID),
    }


def compute(args: argparse.Namespace) -> dict[str, Any]:
    from ...execution import run_sweep
    from ...nn.chains.run import ChainConfig
    from ...nn.data_splits import load_dataset
    from ...nn.training.loop import TrainConfig
    from ...reports.chain import summarise_chain

    s = _settings(args)
    tau = s["generations"]
    data = load_dataset(s["data"], seed=0, n_train=s["n_train"], **opt.file_options(args))
    train = TrainConfig(
        epochs=s["epochs"],
        batch_size=128,
        lr=s["lr"],
        weight_decay=5e-4,
        device=s["device"],
        progress=False,
    )
    config = ChainConfig(
        generations=tau, alpha=0.0, loss="mse", model="mlp", width=s["width"], train=train
    )
    names = {a: _chain_name(a) for a in GRID}
    schedules: dict[str, Any] = {names[a]: (a,) * (tau - 1) for a in GRID}
    schedules["estimate"] = "estimate"
    state = state_dir(args.out, "chains", s)
    per_chain: dict[str, list[dict[str, Any]]] = {name: [] for name in schedules}
    fn = functools.partial(_seed_chains, data=data, config=config, schedules=schedules, state=state)
    seeds = [{"seed": seed, "settings": s} for seed in s["seeds"]]
    execution = execution_from_args(args)
    for spec, chains in zip(
        seeds,
        run_sweep(fn, seeds, execution=execution, progress=args.progress, desc="borup-fig5"),
        strict=True,
    ):
        for name, records in chains.items():
            per_chain[name].append({"seed": spec["seed"], "generations": records})
    shutil.rmtree(state, ignore_errors=True)

    summaries = {name: summarise_chain(runs) for name, runs in per_chain.items()}
    est = summaries["estimate"]
    alpha_hat = [
        [r["generations"][i]["alpha_hat"] for r in per_chain["estimate"]] for i in range(1, tau)
    ]
    # Grid search baseline: the fixed α with the best mean validation accuracy at the last step.
    best = max(GRID, key=lambda a: summaries[names[a]]["val_acc_mean"][-1])
    observed = {
        "final_test_acc": {names[a]: summaries[names[a]]["test_acc_mean"][-1] for a in GRID},
        "final_train_acc": {names[a]: summaries[names[a]]["train_acc_mean"][-1] for a in GRID},
        "generation1_test_acc": est["test_acc_mean"][0],
        "best_fixed_alpha_by_val": best,
        "best_fixed_test_acc": summaries[names[best]]["test_acc_mean"][-1],
        "estimate_final_test_acc": est["test_acc_mean"][-1],
        "estimate_final_train_acc": est["train_acc_mean"][-1],
        "alpha_hat_mean_per_generation": [float(np.mean(v)) for v in alpha_hat],
        "alpha_hat_std_per_generation": [sample_std(v) for v in alpha_hat],
        "fits_estimate": 2 * (tau - 1) + 1,
        "fits_grid": len(GRID) * (tau - 1) + 1,
    }
    if args.progress:
        print(f"borup-fig5: {observed}")

    return {
        "settings": s,
        "train_size": len(data.y_train),
        "chains": per_chain,
        "summaries": summaries,
        "alpha_hat": alpha_hat,
        "observed": observed,
    }


def plot(results: dict[str, Any], out: Path) -> None:
    """``alpha.png``: accuracies per fixed α and for α̂, and α̂ per generation."""
    from ...reports.plotting import band, plt, save_figure

    s, summaries = results["settings"], results["summaries"]
    tau, grid = s["generations"], s["grid"]
    est = summaries["estimate"]
    best = results["observed"]["best_fixed_alpha_by_val"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    cmap = plt.get_cmap("viridis")
    gens = np.arange(1, tau + 1)
    for k, a in enumerate(grid):
        sm = summaries[_chain_name(a)]
        color = cmap(k / (len(grid) - 1))
        for ax, key in ((axes[0], "train_acc"), (axes[1], "test_acc")):
            mean = 100 * np.asarray(sm[f"{key}_mean"])
            ax.plot(gens, mean, color=color, lw=1.2, label=f"α = {a:g}")
    for ax, key in ((axes[0], "train_acc"), (axes[1], "test_acc")):
        band(
            ax, gens, est[f"{key}_mean"], est[f"{key}_std"], scale=100,
            color="red", lw=2.4, ls="--", marker="o", label="α̂ (estimated)",
        )  # fmt: skip
        ax.set_xlabel("generation (1 = trained on labels)")
        ax.set_ylabel("accuracy (%)")
        ax.set_xticks(gens)
        ax.grid(alpha=0.3)
    axes[0].set_title("train accuracy on the original labels")
    axes[1].set_title("test accuracy")
    axes[1].legend(fontsize=7, ncol=2, loc="best")
    hat = np.asarray(results["alpha_hat"], dtype=float)
    axes[2].errorbar(
        gens[1:],
        hat.mean(1),
        yerr=sample_std(hat, axis=1),
        color="red",
        marker="o",
        capsize=3,
        label="α̂ (mean ± std)",
    )
    for j in range(hat.shape[1]):
        axes[2].scatter(
            gens[1:], hat[:, j], color="gray", s=10, alpha=0.6, label="per seed" if j == 0 else None
        )
    axes[2].axhspan(0.0, 1.0, color="tab:green", alpha=0.08, label="[0, 1]: α̂ is clipped to it")
    axes[2].axhline(best, color="black", ls=":", label=f"best fixed α on validation ({best:g})")
    axes[2].set_xlabel("generation")
    axes[2].set_ylabel("α")
    axes[2].set_xticks(gens[1:])
    axes[2].set_title("estimated α̂ per generation (before clipping)")
    axes[2].legend(fontsize=8)
    axes[2].grid(alpha=0.3)
    title = (
        f"Fixed α against estimated α̂ ({s['data']}, {results['train_size']} train, MLP, ℓ2 loss; "
        f"mean over {len(s['seeds'])} seed(s)) — cf. Borup & Andersen fig. 5"
    )
    save_figure(fig, out / "alpha.png", title=title)
