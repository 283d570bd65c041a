"""Mobahi et al. (2020) section 5, figure 3: accuracy over generations of self-distillation.

Pure self-distillation (α = 0): every generation is a freshly initialised network trained on the
previous generation's softmax outputs, with the ℓ2 loss (softmax output against target) and with
cross-entropy. The paper (ResNet on CIFAR-10/100) reports the training accuracy on the ORIGINAL
labels falling generation after generation, and the test accuracy first rising and then falling.
Here: an MLP on mnist1d (or digits), small enough for a 2-core CPU.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from ... import training_flags as opt
from ...catalog import GENERATED_DATASETS as DATASETS
from ...execution import add_execution_arguments, execution_from_args
from .._state import state_dir

GENERATIONS = opt.QuickDefault(full=10, quick=5)
SEEDS = opt.QuickDefault(full=(0, 1, 2), quick=(0, 1))
LOSSES = ("mse", "ce")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_mlp_chain_options(parser, DATASETS, GENERATIONS, SEEDS)
    add_execution_arguments(parser)  # one run per seed's chain
    parser.add_argument(
        "--lr-mse",
        type=float,
        default=1.0,
        help="SGD learning rate with the l2 loss, whose gradients through the softmax are small "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--lr-ce",
        type=float,
        default=0.2,
        help="SGD learning rate with cross-entropy (default: %(default)s)",
    )
    opt.add_device_option(parser)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        **opt.mlp_chain_settings(args, GENERATIONS, SEEDS),
        "lr": {
            "mse": opt.positive_real("--lr-mse", args.lr_mse),
            "ce": opt.positive_real("--lr-ce", args.lr_ce),
        },
        "device": args.device,
    }


def observe(summary: dict[str, Any]) -> dict[str, Any]:
    """The paper's two claims, read off the mean curves (accuracies as fractions)."""
    test = summary["test_acc_mean"]
    train = summary["train_acc_mean"]
    peak = max(range(len(test)), key=test.__getitem__)
    return {
        "test_gen1": test[0],
        "test_peak": test[peak],
        "test_peak_generation": peak + 1,
        "test_last": test[-1],
        "test_rises_then_falls": bool(0 < peak < len(test) - 1 and test[-1] < test[peak]),
        "test_rise": test[peak] - test[0],
        # The rise counts as clear when it exceeds the two standard deviations added together.
        "test_rise_exceeds_std": bool(
            "test_acc_std" in summary
            and test[peak] - test[0] > summary["test_acc_std"][peak] + summary["test_acc_std"][0]
        ),
        "train_gen1": train[0],
        "train_last": train[-1],
        "train_falls": bool(train[-1] < train[0]),
        "train_monotone_nonincreasing": bool(
            all(b <= a + 1e-12 for a, b in itertools.pairwise(train))
        ),
    }


def compute(args: argparse.Namespace) -> dict[str, Any]:
    from ..._util.io import write_csv
    from ..._util.progress import Stages
    from ...nn.chains.run import ChainConfig, run_chains
    from ...nn.data_splits import load_dataset
    from ...nn.training.loop import TrainConfig
    from ...reports.chain import chain_rows, format_summary, summarise_chain

    s = _settings(args)
    data = load_dataset(s["data"], seed=0, n_train=s["n_train"], **opt.file_options(args))
    train = TrainConfig(
        epochs=s["epochs"],
        batch_size=128,
        optimizer="sgd",
        weight_decay=5e-4,
        device=s["device"],
        progress=False,
    )
    stages = Stages(2, name="mobahi-fig3", enabled=args.progress)
    results: dict[str, Any] = {"settings": s, "train_size": len(data.y_train), "losses": {}}
    for loss in LOSSES:
        config = ChainConfig(
            generations=s["generations"],
            alpha=0.0,
            loss=loss,
            model="mlp",
            width=s["width"],
            train=replace(train, lr=s["lr"][loss]),
        )
        with stages(f"loss {loss}: {len(s['seeds'])} seeds x {s['generations']} generations"):
            state = state_dir(args.out, loss, {**s, "loss": loss})
            runs = run_chains(
                data, config, s["seeds"], state_dir=state, execution=execution_from_args(args)
            )
            shutil.rmtree(state, ignore_errors=True)  # finished: the results hold everything
        summary = summarise_chain(runs)
        write_csv(args.out / f"generations-{loss}.csv", chain_rows(runs))
        results["losses"][loss] = {"runs": runs, "summary": summary, "observed": observe(summary)}
        if args.progress:
            print(f"loss {loss}:\n{format_summary(summary)}")
    return results


def plot(results: dict[str, Any], out: Path) -> None:
    """``accuracy.png``: test and train accuracy over the generations, one row per loss."""
    from ...reports.chain import plot_chain_accuracy
    from ...reports.plotting import plt, save_figure

    s = results["settings"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True)
    for row, loss in enumerate(LOSSES):
        summary = results["losses"][loss]["summary"]
        name = "ℓ2 (softmax MSE)" if loss == "mse" else "cross-entropy"
        plot_chain_accuracy(axes[row, 0], summary, keys=("test_acc",))
        axes[row, 0].set_title(f"{name}: test accuracy")
        plot_chain_accuracy(axes[row, 1], summary, keys=("train_acc",))
        axes[row, 1].set_title(f"{name}: train accuracy on the original labels")
        for ax in axes[row]:
            ax.legend(loc="best", fontsize=8)
    title = (
        f"Self-distillation chains, α = 0 ({s['data']}, {results['train_size']} train, MLP width "
        f"{s['width']}; mean ± std over {len(s['seeds'])} seeds) — cf. Mobahi et al. fig. 3"
    )
    save_figure(fig, out / "accuracy.png", title=title)
