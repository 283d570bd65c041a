"""Dong et al. (2019) section 2.3, figure 2: label energy in the top NTK eigenspaces against noise.

Dong et al. take a batch of 128 test images of a binary CIFAR-10 task (classes 2 and 7 positive),
corrupt its labels at noise levels 0–0.5 and measure the share of the label vector in the span of
the top-5 eigenvectors of the network's NTK: it falls as the noise grows (clean labels are
"informative information", noise lives in the eigenspaces of small eigenvalues).

Here: a probe batch of the test split of an offline data set (``digits`` by default; ``mnist1d``),
the same binary task (classes 2 and 7 against the rest; ``--task multiclass`` keeps all classes),
the project's MLP with one logit per class, one-hot labels (Frobenius energy) and the trace NTK
Σ_c Θ_cc, labels corrupted by :func:`selfdistill.noise.corrupt_labels` (``symmetric-exclusive``:
each label moves to another class with probability ``noise``). The NTK is
measured at initialisation and after training on the clean training split, for several seeds
(network initialisation and corruption).

One-hot labels always contain the constant vector (their rows sum to one), which lies close to the
top NTK eigenvector, so even labels without any relation to the inputs keep about Σ_c p_c² of
their energy in the top eigenspace (p_c the class fractions); corrupting imbalanced labels moves
p_c towards uniform and lowers that floor by itself. The right panel therefore also shows the
energy of the centred labels Y − mean(Y), and both panels show two references: the energy k/n
of a random vector (dashed) and that of the probe labels randomly permuted (dotted).
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

import numpy as np

from ... import training_flags as opt
from ..._util.stats import sample_std
from ..._util.validation import parse_float_list
from ...catalog import GENERATED_DATASETS as DATASETS
from ...execution import add_execution_arguments

POSITIVE = (2, 7)  # Dong et al. appendix B: classes 2 and 7 form the positive class

EPOCHS = opt.QuickDefault(full=30, quick=10)
WIDTH = opt.QuickDefault(full=512, quick=128)
SEEDS = opt.QuickDefault(full=(0, 1, 2, 3, 4), quick=(0, 1))
#: probe size; the full default is capped at the test split (all 359 test inputs of digits)
PROBE = opt.QuickDefault(full=2000, quick=128)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_data_option(parser, DATASETS, default="digits")
    parser.add_argument(
        "--task",
        default="binary",
        choices=("binary", "multiclass"),
        help="binary: classes 2 and 7 against the rest, as Dong et al. (default: %(default)s)",
    )
    opt.add_quick_int_option(
        parser, "--probe", PROBE, "probe batch of test inputs, default capped at the test split"
    )
    parser.add_argument("--k", type=int, default=5, help="top eigenvectors (default: 5)")
    parser.add_argument(
        "--noise",
        default="0,0.1,0.2,0.3,0.4,0.5",
        help="comma list of noise levels (default: %(default)s)",
    )
    opt.add_quick_int_option(parser, "--epochs", EPOCHS)
    opt.add_quick_int_option(parser, "--width", WIDTH, "MLP width")
    opt.add_int_list_option(parser, "--seeds", SEEDS)
    opt.add_device_option(parser)
    add_execution_arguments(parser)  # one run per seed


def task_label(task: str, num_classes: int) -> str:
    """How a figure title names the task (``--task``)."""
    return "classes 2, 7 vs rest" if task == "binary" else f"{num_classes} classes"


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(args.quick)
    noise = list(parse_float_list("--noise", args.noise, low=0.0, high=1.0))
    probe = opt.resolve_int(args.probe, PROBE, quick, "--probe")
    if probe < 2 or not 1 <= args.k <= probe:
        raise ValueError(f"--probe must be >= 2 and --k in [1, probe], got {probe}, {args.k}")
    return {
        "data": args.data,
        "task": args.task,
        "probe": probe,
        "probe_given": args.probe is not None,
        "k": args.k,
        "noise": noise,
        "epochs": opt.resolve_int(args.epochs, EPOCHS, quick, "--epochs"),
        "width": opt.resolve_int(args.width, WIDTH, quick, "--width"),
        "seeds": opt.resolve_int_list("--seeds", args.seeds, SEEDS, quick),
        "device": args.device,
    }


def _task(data: Any, s: dict[str, Any]) -> dict[str, Any]:
    """The labels of the task (binary or all classes) and the fixed probe batch of test inputs."""
    import torch

    if s["task"] == "binary":
        relabel = lambda y: torch.isin(y, torch.tensor(POSITIVE)).long()  # noqa: E731
    else:
        relabel = lambda y: y  # noqa: E731
    y_test = relabel(data.y_test)
    if len(data.x_test) < s["probe"]:
        raise ValueError(f"--probe must be at most the test set size {len(data.x_test)}")
    g = torch.Generator().manual_seed(0)
    probe_index = torch.randperm(len(data.x_test), generator=g)[: s["probe"]]
    return {
        "num_classes": 2 if s["task"] == "binary" else data.num_classes,
        "y_train": relabel(data.y_train),
        "y_test": y_test,
        "x_probe": data.x_test[probe_index],
        "y_probe": y_test[probe_index].numpy(),
    }


def seed_run(spec: dict[str, Any], data: Any) -> dict[str, Any]:
    """One seed (a run of the sweep): label energies on the NTK at initialisation and after
    training, per noise rate and for shuffled labels, and the trained network's test accuracy."""
    from ...nn.models import build_model
    from ...nn.training.loop import TrainConfig, accuracy, fit
    from ...noise import corrupt_labels
    from ...ntk import empirical_ntk, label_energy, ntk_eigh

    seed, s = int(spec["seed"]), spec["settings"]
    t = _task(data, s)
    num_classes, x_probe, y_probe = t["num_classes"], t["x_probe"], t["y_probe"]
    onehot = np.eye(num_classes)

    def energies(decomposition: Any, labels: np.ndarray) -> dict[str, float]:
        y = onehot[labels]
        return {
            "raw": label_energy(decomposition, y, s["k"]),
            "centred": label_energy(decomposition, y - y.mean(axis=0), s["k"]),
        }

    model = build_model("mlp", data.input_shape, num_classes, width=s["width"], seed=seed).eval()
    decompositions = {"init": ntk_eigh(empirical_ntk(model, x_probe).double(), s["k"])}
    config = TrainConfig(
        epochs=s["epochs"], batch_size=64, lr=0.05, seed=seed, device=s["device"], progress=False
    )
    fit(model, data.x_train, t["y_train"], config)
    model = model.cpu().eval()
    test_acc = accuracy(model, data.x_test, t["y_test"])
    decompositions["trained"] = ntk_eigh(empirical_ntk(model, x_probe).double(), s["k"])
    noisy = [
        corrupt_labels(
            y_probe, rate, "symmetric-exclusive", num_classes,
            seed=np.random.default_rng([seed, round(1000 * rate)]),
        )[0]
        for rate in s["noise"]
    ]  # fmt: skip
    permuted = np.random.default_rng([seed, 999]).permutation(y_probe)
    out: dict[str, Any] = {"test_acc": test_acc, "energy": {}, "shuffled": {}}
    for st, decomposition in decompositions.items():
        base = energies(decomposition, permuted)
        rows = [energies(decomposition, labels) for labels in noisy]
        out["shuffled"][st] = base
        out["energy"][st] = {kd: [row[kd] for row in rows] for kd in base}
    return out


def compute(args: argparse.Namespace) -> dict[str, Any]:
    from ...execution import execution_from_args, run_sweep
    from ...nn.data_splits import load_dataset

    s = _settings(args)
    data = load_dataset(s["data"], seed=0, **opt.file_options(args))
    opt.cap_default(s, "probe", len(data.x_test))
    num_classes = _task(data, s)["num_classes"]  # checks --probe before any training
    states = ("init", "trained")
    kinds = ("raw", "centred")
    runs = run_sweep(
        functools.partial(seed_run, data=data),
        [{"seed": seed, "settings": s} for seed in s["seeds"]],
        execution=execution_from_args(args), progress=args.progress, desc="dong-fig2 seeds",
    )  # fmt: skip
    energy = {(st, kd): [r["energy"][st][kd] for r in runs] for st in states for kd in kinds}
    shuffled = {(st, kd): [r["shuffled"][st][kd] for r in runs] for st in states for kd in kinds}
    test_acc = [r["test_acc"] for r in runs]
    summary = {
        kd: {
            st: {
                "mean": np.mean(energy[st, kd], axis=0).tolist(),
                "std": sample_std(energy[st, kd], axis=0).tolist(),
                "per_seed": energy[st, kd],
                "shuffled_labels": float(np.mean(shuffled[st, kd])),
            }
            for st in states
        }
        for kd in kinds
    }
    return {
        "settings": s,
        "num_classes": num_classes,
        "noise": s["noise"],
        "energy": summary,
        "random_vector_energy": s["k"] / s["probe"],
        "test_acc": test_acc,
    }


def plot(results: dict[str, Any], out: Path) -> None:
    """``dong_fig2.png``: label energy in the top-k NTK eigenspace against the noise level."""
    from ...reports.plotting import plt, save_figure

    s, summary = results["settings"], results["energy"]
    num_classes = results["num_classes"]
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.4), sharey=True)
    labels = {"init": "NTK at initialisation", "trained": "NTK after training (clean labels)"}
    titles = {
        "raw": "one-hot labels Y (Dong's measure)",
        "centred": "centred labels Y − mean(Y) (constant vector removed)",
    }
    for ax, kd in zip(axes, ("raw", "centred"), strict=True):
        for st, marker, color in (("trained", "o", "C0"), ("init", "s", "C1")):
            ax.errorbar(
                s["noise"],
                summary[kd][st]["mean"],
                yerr=summary[kd][st]["std"],
                marker=marker,
                color=color,
                capsize=3,
                label=labels[st],
            )
            ax.axhline(
                summary[kd][st]["shuffled_labels"],
                color=color,
                ls=":",
                label=labels[st].split(" (")[0] + ": labels permuted",
            )
        ax.axhline(
            results["random_vector_energy"],
            color="grey",
            ls="--",
            label=f"random vector (k/n = {s['k']}/{s['probe']})",
        )
        ax.set_xlabel("label noise (probability that a probe label is changed)")
        ax.set_title(titles[kd], fontsize=10)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"label energy in top-{s['k']} NTK eigenspace")
    axes[1].legend(fontsize=8, loc="upper right")
    fig.suptitle(
        f"Dong et al. fig. 2: {s['data']} ({task_label(s['task'], num_classes)}), "
        f"probe of {s['probe']} test inputs, "
        f"MLP width {s['width']}, {len(s['seeds'])} seeds",
        fontsize=11,
    )
    save_figure(fig, out / "dong_fig2.png")
