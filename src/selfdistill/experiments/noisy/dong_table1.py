"""Dong et al. Table 1 and figure 4: learning from noisy labels, every method and noise rate.

Symmetric label noise at rates 0, 0.2, 0.4, 0.6, 0.8 on offline data (MNIST-1D by default), each
method of :mod:`selfdistill.nn.noisy.runner` (ce, early-stop on a noisy validation split,
Reed's soft and hard bootstrapping, GCE, self-distillation) trained with the same budget from the
same initial weights, over several seeds. Writes

* ``table1.md`` — final clean test accuracy, mean ± std over seeds (the shape of Dong's Table 1),
  and the same for label recovery on the training set and for the precision, recall and F1 of
  the flagged samples (prediction ≠ given label; Confident Learning's own flagged set);
* ``fig4_curves.png`` — clean test accuracy per epoch, one panel per noise rate (Dong's figure 4
  shows the 40 % panel for CIFAR-10);
* ``runs.csv`` and every run in ``results.json``.

Every finished training is kept in ``OUT/state`` as it finishes, so an interrupted run resumes
where it stopped; the trainings run side by side with ``--jobs N`` or ``--executor ray``
(docs/scaling.md).

The defaults are a setting where the effect exists on a CPU budget: 10,000 MNIST-1D training
samples and a 2 × 512 MLP, which memorises the noisy labels within the 60 epochs (see
docs/noisy.md for what holds there and what does not). ``--quick`` is the demo: noise 0.4, one seed,
8,000 samples, 30 epochs, evaluated on 2,000 test samples.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ... import training_flags as opt
from ..._util.io import atomic_write_text
from ...catalog import DATASETS, MODELS, NOISE_KINDS
from ...execution import add_execution_arguments, execution_from_args

__all__ = ["add_arguments", "compute", "plot"]

FULL = {
    "n_train": 10_000,
    "width": 512,
    "epochs": 60,
    "noises": "0.4,0.8,0.2,0.6,0",  # most telling first: partial results stay useful
    "seeds": "0,1,2",
}
QUICK = {"n_train": 8000, "width": 512, "epochs": 30, "noises": "0.4", "seeds": "0"}
#: the quick variant evaluates on fewer samples per epoch (the per-epoch evaluation dominates)
QUICK_EVAL = {"n_test": 2000, "n_val": 1000}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_data_option(parser, DATASETS)
    parser.add_argument(
        "--data-dir", default=None,
        help="folder of on-disk data sets (default: $SELFDISTILL_DATA_DIR)",
    )  # fmt: skip
    parser.add_argument(
        "--n-train", type=int, default=None,
        help="training samples (default: 10000; quick 8000)",
    )  # fmt: skip
    parser.add_argument(
        "--model", default="mlp", choices=MODELS, help="network (default: %(default)s)"
    )
    parser.add_argument(
        "--width", type=int, default=None, help="hidden units (default: 512; quick 512)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: 60; quick 30)")
    parser.add_argument(
        "--noises", default=None,
        help="comma list of noise rates (default: 0.4,0.8,0.2,0.6,0; quick 0.4)",
    )  # fmt: skip
    parser.add_argument(
        "--noise-kind", default="symmetric", choices=NOISE_KINDS, help="(default: %(default)s)"
    )
    parser.add_argument("--methods", default="all", help="comma list or 'all' (default: all)")
    parser.add_argument(
        "--seeds", default=None, help="comma list of seeds (default: 0,1,2; quick 0)"
    )
    parser.add_argument(
        "--lam", type=float, default=0.0,
        help="λ of self-distillation; 0 (default): Dong et al.'s CIFAR-10 rule, 1 for noise "
        "≤ 0.4 and 1.5 above",
    )  # fmt: skip
    parser.add_argument("--lr", type=float, default=0.05, help="(default: %(default)s)")
    opt.add_device_option(parser)
    add_execution_arguments(parser)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The checked options, the ``--quick`` presets resolved (torch-free)."""
    from ..._util.validation import MAX_EPOCHS, MAX_WIDTH, check_int, check_real, parse_seeds
    from ...catalog import parse_methods, parse_noises

    preset = QUICK if args.quick else FULL

    def pick(name: str) -> Any:
        value = getattr(args, name)
        return preset[name] if value is None else value

    return {
        "methods": parse_methods(args.methods, "--methods"),
        "noises": parse_noises(pick("noises"), "--noises"),
        "seeds": parse_seeds("--seeds", pick("seeds")),
        "n_train": check_int("--n-train", pick("n_train"), low=1),
        "width": check_int("--width", pick("width"), low=1, high=MAX_WIDTH),
        "epochs": check_int("--epochs", pick("epochs"), low=1, high=MAX_EPOCHS),
        "lr": check_real("--lr", args.lr, low=0.0, low_inclusive=False),
        "lam": check_real("--lam", args.lam),
    }


def compute(args: argparse.Namespace) -> dict[str, Any]:
    from ...nn.noisy.config import NoisyConfig, config_dict
    from ...nn.noisy.runner import run_noisy
    from ...reports.noisy import (
        FLAGGED_KEYS,
        flagged_tables,
        markdown_table,
        noisy_val_selection,
        selection_table,
        summarise,
        write_runs_csv,
    )

    s = _settings(args)
    methods, noises, seeds = s["methods"], s["noises"], s["seeds"]
    config = NoisyConfig(
        data=args.data,
        data_dir=args.data_dir,
        n_train=s["n_train"],
        noise_kind=args.noise_kind,
        model=args.model,
        width=s["width"],
        epochs=s["epochs"],
        lr=s["lr"],
        lam=s["lam"] if s["lam"] > 0 else None,
        device=args.device,
        **opt.file_options(args),
        **(QUICK_EVAL if args.quick else {}),
    )
    runs = run_noisy(
        config, methods, noises, seeds,
        execution=execution_from_args(args), store=args.out / "state", progress=args.progress,
    )  # fmt: skip
    write_runs_csv(args.out / "runs.csv", runs)
    title = (
        f"{config.data}, n_train = {config.n_train}, {config.model} {config.width}, "
        f"{config.noise_kind} noise: clean test accuracy "
        + (f"(mean ± std over {len(seeds)} seeds)" if len(seeds) > 1 else f"(seed {seeds[0]})")
    )
    acc_table = selection_table(runs)
    rec_table = markdown_table(runs, "label_recovery")
    atomic_write_text(
        args.out / "table1.md",
        f"# Dong et al. Table 1 on {config.data}\n\n{title}\n\n"
        f"## Final clean test accuracy (%)\n\n"
        "Last epoch, except early-stop (epoch selected on a NOISY validation split). The row "
        "'selected on noisy val' is, per seed and noise rate, the method whose model is the most "
        "accurate on the NOISY validation split (what a user can choose without clean labels or "
        "the noise rate; it costs every candidate's training); 'chosen' names the picks.\n\n"
        f"{acc_table}\n## Label recovery (%)\n\n"
        "Fraction of corrupted training labels whose prediction equals the true label.\n\n"
        f"{rec_table}\n{flagged_tables(runs)}",
    )
    if args.progress:
        print(acc_table, end="")
    return {
        "settings": s,
        "config": config_dict(config),
        "methods": methods,
        "noises": noises,
        "seeds": seeds,
        "figure_title": title,
        "summary_final_test_acc": summarise(runs, "final_test_acc"),
        "summary_label_recovery": summarise(runs, "label_recovery"),
        "summary_best_test_acc": summarise(runs, "best_test_acc"),
        "noisy_val_selection": noisy_val_selection(runs),
        **{f"summary_{key}": summarise(runs, key) for key in FLAGGED_KEYS},
        "runs": runs,
    }


def plot(results: dict[str, Any], out: Path) -> None:
    """``fig4_curves.png``: clean test accuracy per epoch, one panel per noise rate."""
    from ...reports.noisy import plot_curves

    plot_curves(results["runs"], out / "fig4_curves.png", title=results["figure_title"])
