"""Dong et al. (2019) section 3.5, figure 5: information gain of the self-distillation targets.

During a self-distillation run (Algorithm 1: targets α_t y + (1 − α_t) h(f(x)) from the network's
own outputs, on noisy labels) Dong et al. measure, on a fixed batch, the share of the targets'
energy in the top-5 NTK eigenspace minus the share of the noisy labels': the *information gain*.
It is "mostly larger than zero" over the first 1500 iterations (binary CIFAR-10, ResNet-56, MSE).

Here: all classes of an offline data set (``digits`` by default), or with ``--task binary`` the
binary task of ``dong-fig2`` (classes 2 and 7 against the rest). The labels of the training split
are corrupted by :func:`selfdistill.noise.corrupt_labels` (``symmetric-exclusive``); the project's
MLP is trained by :func:`selfdistill.nn.training.loop.fit` with
:class:`selfdistill.nn.noisy.dong.SelfDistillationLoss` (hardmax label function, α_t = 1 − accuracy
of the batch, squared loss on the softmax output as Dong's MSE), and
:class:`selfdistill.ntk.LabelEnergyCallback` on a probe batch of training inputs records the
energies of the noisy labels, the clean labels and the targets. The gain is shown for the labels
as they are (Dong's measure) and centred (Y − mean(Y); see ``dong-fig2`` for why). SGD with
learning rate 0.1, momentum 0.9, batch 128, as Dong et al. appendix B.

Why multi-class by default: on the imbalanced binary task (20 % positives) with 30 % noise the
run locks into the majority class. Early on the network predicts "negative" everywhere, which
agrees with 62 % of the noisy labels, so α_t = 1 − accuracy ≈ 0.38 and the targets of the noisy
positives become 0.38 — the squared loss never pulls the network out, and the test accuracy stays
at the majority rate. The one-hot gain is then large and positive (the targets are nearly constant
and the constant vector lies in the top eigenspace), while the centred gain is zero: a case where
Dong's measure reports a "gain" that is no information at all.
"""

from __future__ import annotations

import argparse
import functools
import math
from pathlib import Path
from typing import Any

import numpy as np

from ... import training_flags as opt
from ..._util.stats import sample_std
from ...catalog import GENERATED_DATASETS as DATASETS
from ...execution import add_execution_arguments

POSITIVE = (2, 7)

ITERATIONS = opt.QuickDefault(full=1500, quick=200)
EVERY = opt.QuickDefault(full=50, quick=10)
#: probe size; the full default is capped at the training split
PROBE = opt.QuickDefault(full=1000, quick=128)
WIDTH = opt.QuickDefault(full=512, quick=128)
SEEDS = opt.QuickDefault(full=(0, 1, 2), quick=(0,))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_data_option(parser, DATASETS, default="digits")
    parser.add_argument(
        "--task",
        default="multiclass",
        choices=("binary", "multiclass"),
        help="binary: classes 2 and 7 against the rest, as Dong et al. (default: %(default)s; "
        "see the module docstring for why)",
    )
    parser.add_argument(
        "--noise", type=float, default=0.3, help="label noise rate (default: %(default)s)"
    )
    opt.add_quick_int_option(parser, "--iterations", ITERATIONS, "optimisation steps")
    opt.add_quick_int_option(parser, "--every", EVERY, "record every N steps")
    opt.add_quick_int_option(
        parser, "--probe", PROBE, "probe batch of training inputs, default capped at the split"
    )
    parser.add_argument("--k", type=int, default=5, help="top eigenvectors (default: 5)")
    opt.add_quick_int_option(parser, "--width", WIDTH, "MLP width")
    opt.add_int_list_option(parser, "--seeds", SEEDS)
    opt.add_device_option(parser)
    add_execution_arguments(parser)  # one run per seed


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(args.quick)
    s = {
        "data": args.data,
        "task": args.task,
        "noise": args.noise,
        "iterations": opt.resolve_int(args.iterations, ITERATIONS, quick, "--iterations"),
        "every": opt.resolve_int(args.every, EVERY, quick, "--every"),
        "probe": opt.resolve_int(args.probe, PROBE, quick, "--probe"),
        "probe_given": args.probe is not None,
        "k": args.k,
        "width": opt.resolve_int(args.width, WIDTH, quick, "--width"),
        "seeds": opt.resolve_int_list("--seeds", args.seeds, SEEDS, quick),
        "device": args.device,
        "batch_size": 128,
        "lr": 0.1,
    }
    if not 0.0 <= s["noise"] < 1.0:
        raise ValueError(f"--noise must be in [0, 1), got {s['noise']}")
    if s["iterations"] < 1 or s["every"] < 1:
        raise ValueError("--iterations and --every must be at least 1")
    if s["probe"] < 2 or not 1 <= s["k"] <= s["probe"]:
        raise ValueError(f"--probe must be >= 2 and --k in [1, probe], got {s['probe']}, {s['k']}")
    return s


def _task(data: Any, s: dict[str, Any]) -> tuple[Any, Any, int]:
    """Training labels, test labels and class count of the task (binary or all classes)."""
    import torch

    if s["task"] == "binary":
        positive = torch.tensor(POSITIVE)
        relabel = lambda y: torch.isin(y, positive).long()  # noqa: E731
        return relabel(data.y_train), relabel(data.y_test), 2
    return data.y_train, data.y_test, data.num_classes


def seed_run(spec: dict[str, Any], data: Any) -> dict[str, Any]:
    """One seed (a run of the sweep): self-distillation on noisy labels, recording the targets'
    label energies on the probe batch every ``every`` steps."""
    import torch

    from ...nn.models import build_model
    from ...nn.noisy.dong import SelfDistillationLoss, SelfDistillationTarget
    from ...nn.training.loop import TrainConfig, accuracy, fit
    from ...noise import corrupt_labels
    from ...ntk import LabelEnergyCallback

    seed, s = int(spec["seed"]), spec["settings"]
    y_train, y_test, num_classes = _task(data, s)
    n = len(data.x_train)
    epochs = math.ceil(s["iterations"] / math.ceil(n / s["batch_size"]))
    noisy_np, _ = corrupt_labels(
        y_train.numpy(), s["noise"], "symmetric-exclusive", num_classes, seed=seed
    )
    noisy = torch.from_numpy(noisy_np)
    probe = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: s["probe"]]
    rule = SelfDistillationTarget("hardmax", "accuracy", lam=1.0)
    callback = LabelEnergyCallback(
        data.x_train[probe], {"noisy": noisy[probe], "clean": y_train[probe]}, rule=rule,
        reference="noisy", steps=list(range(0, s["iterations"], s["every"])), k=s["k"],
    )  # fmt: skip
    model = build_model("mlp", data.input_shape, num_classes, width=s["width"], seed=seed)
    config = TrainConfig(
        epochs=epochs, batch_size=s["batch_size"], lr=s["lr"], seed=seed, device=s["device"],
        progress=False,
    )  # fmt: skip
    fit(
        model, data.x_train, noisy, config,
        loss_fn=SelfDistillationLoss(rule, loss="squared"), callbacks=[callback],
    )  # fmt: skip
    return {
        "seed": seed,
        "records": callback.records,
        "test_acc": accuracy(model.cpu(), data.x_test, y_test),
        "probe_wrong_fraction": float((noisy[probe] != y_train[probe]).float().mean()),
    }


def compute(args: argparse.Namespace) -> dict[str, Any]:
    from ...execution import execution_from_args, run_sweep
    from ...nn.data_splits import load_dataset

    s = _settings(args)
    data = load_dataset(s["data"], seed=0, **opt.file_options(args))
    n = len(data.x_train)
    opt.cap_default(s, "probe", n)
    if s["probe"] > n:
        raise ValueError(f"--probe must be at most the training set size {n}")
    num_classes = _task(data, s)[2]
    runs = run_sweep(
        functools.partial(seed_run, data=data),
        [{"seed": seed, "settings": s} for seed in s["seeds"]],
        execution=execution_from_args(args), progress=args.progress, desc="dong-fig5 seeds",
    )  # fmt: skip

    steps = [r["step"] for r in runs[0]["records"]]

    def series(key: str, name: str | None = None) -> np.ndarray:
        return np.array(
            [
                [rec[key] if name is None else rec[key][name] for rec in run["records"]]
                for run in runs
            ],
            dtype=float,
        )

    summary: dict[str, Any] = {"steps": steps}
    for suffix in ("", "_centred"):
        gain = series("information_gain" + suffix)
        summary["information_gain" + suffix] = {
            "mean": gain.mean(0).tolist(),
            "std": sample_std(gain, axis=0).tolist(),
            "fraction_positive": float(np.mean(gain > 0)),
        }
        summary["energy" + suffix] = {
            name: series("energy" + suffix, name).mean(0).tolist()
            for name in ("noisy", "clean", "targets")
        }
    summary["alpha"] = series("alpha").mean(0).tolist()

    return {"settings": s, "num_classes": num_classes, "summary": summary, "runs": runs}


def plot(results: dict[str, Any], out: Path) -> None:
    """``dong_fig5.png``: information gain and label energies over the iterations."""
    from ...reports.plotting import band, plt, save_figure
    from .dong_fig2 import task_label

    s, summary, runs = results["settings"], results["summary"], results["runs"]
    num_classes, steps = results["num_classes"], summary["steps"]
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.4))
    for suffix, color, label in (
        ("", "C0", "one-hot labels (Dong's measure)"),
        ("_centred", "C3", "centred labels Y − mean(Y)"),
    ):
        g = summary["information_gain" + suffix]
        std = g["std"] if len(runs) > 1 else None
        band(axes[0], steps, g["mean"], std, alpha=0.2, color=color, label=label)
    axes[0].axhline(0.0, color="black", lw=0.8)
    axes[0].set_xlabel("training iteration")
    axes[0].set_ylabel(f"information gain  E{s['k']}(targets) − E{s['k']}(noisy labels)")
    axes[0].set_title("information gain of the self-distillation targets", fontsize=10)
    axes[0].legend(fontsize=9)
    axes[0].grid(alpha=0.3)
    for name, color in (("targets", "C2"), ("clean", "C0"), ("noisy", "C1")):
        axes[1].plot(steps, summary["energy"][name], color=color, label=f"{name} (one-hot)")
        axes[1].plot(
            steps, summary["energy_centred"][name], color=color, ls="--", label=f"{name} (centred)"
        )
    axes[1].set_xlabel("training iteration")
    axes[1].set_ylabel(f"label energy in top-{s['k']} NTK eigenspace")
    axes[1].set_ylim(0, 1.02)
    axes[1].set_title("energies on the probe batch (mean over seeds)", fontsize=10)
    axes[1].legend(fontsize=8, ncol=2)
    axes[1].grid(alpha=0.3)
    fig.suptitle(
        f"Dong et al. fig. 5: {s['data']} ({task_label(s['task'], num_classes)}), "
        f"{s['noise']:.0%} label noise, "
        f"MLP width {s['width']}, probe of {s['probe']}, {len(runs)} seed(s)",
        fontsize=11,
    )
    save_figure(fig, out / "dong_fig5.png")
