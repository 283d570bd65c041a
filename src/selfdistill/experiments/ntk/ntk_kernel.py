"""Kernel self-distillation on a network's empirical NTK, beside that network's generations.

The kernel papers motivate their results by the NTK regime (Borup & Andersen appendix C, Mobahi
et al. section 5): a wide network trained on the squared loss behaves like kernel ridge regression
with its NTK. This experiment takes the first generation's network of a chain *at its
initialisation* (the same weights :mod:`selfdistill.nn.chains.run` starts from), computes its
empirical NTK on the training inputs (trace over the logits), and runs
:class:`selfdistill.ntk.NTKKernelRidge` — closed-form self-distillation on that kernel — for fixed
α and for Borup's optimal α (Thm 4.4 / Algorithm 1 on the validation split; clipped to [0, 1] for
the accuracy curve as the network chain clips its α̂, and reported unclipped). That is the
prediction one gets *before training*: which α helps and over how many steps. Beside it, the
network's own chains (:func:`selfdistill.nn.chains.run.run_alpha_chains`, ``mse`` loss, the same α
values, plus Borup's estimated α̂ of section 5) show what training actually does.

The ridge λ of the kernel side is chosen on the validation split at step 1 from a grid relative
to the mean diagonal of the Gram matrix. The comparison is qualitative: a finite network trained
by SGD on softmax outputs is not its initial NTK's kernel regression, and the experiment reports
both sides rather than claiming they agree.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ... import training_flags as opt
from ..._util.validation import parse_float_list
from ...catalog import GENERATED_DATASETS as DATASETS

LAM_GRID = (1e-3, 1e-2, 1e-1, 1.0)  # times the mean diagonal of the Gram matrix

#: training samples; the full default is capped at the training split (all 1294 of digits)
N_TRAIN = opt.QuickDefault(full=2000, quick=300)
GENERATIONS = opt.QuickDefault(full=6, quick=4)
EPOCHS = opt.QuickDefault(full=40, quick=30)
WIDTH = opt.QuickDefault(full=256, quick=128)
SEEDS = opt.QuickDefault(full=(0, 1, 2), quick=(0,))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_data_option(parser, DATASETS, default="digits")
    opt.add_quick_int_option(
        parser, "--n-train", N_TRAIN, "training samples; the default is capped at the split"
    )
    opt.add_quick_int_option(parser, "--generations", GENERATIONS, "steps / generations")
    parser.add_argument(
        "--alphas",
        default=None,
        help="comma list of fixed alphas (default: 0,0.25,0.5; quick 0,0.5)",
    )
    opt.add_quick_int_option(parser, "--epochs", EPOCHS, "per generation")
    opt.add_quick_int_option(parser, "--width", WIDTH, "MLP width")
    parser.add_argument(
        "--no-network",
        dest="network",
        action="store_false",
        help="only the kernel prediction, no network chains",
    )
    opt.add_int_list_option(parser, "--seeds", SEEDS)
    opt.add_device_option(parser)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(args.quick)
    if args.alphas:
        alphas = list(parse_float_list("--alphas", args.alphas, low=0.0, high=1.0))
    else:
        alphas = [0.0, 0.5] if quick else [0.0, 0.25, 0.5]
    s = {
        "data": args.data,
        "n_train": opt.resolve_int(args.n_train, N_TRAIN, quick, "--n-train"),
        "n_train_given": args.n_train is not None,
        "generations": opt.resolve_int(args.generations, GENERATIONS, quick, "--generations"),
        "alphas": alphas,
        "epochs": opt.resolve_int(args.epochs, EPOCHS, quick, "--epochs"),
        "width": opt.resolve_int(args.width, WIDTH, quick, "--width"),
        "network": bool(args.network),
        "seeds": opt.resolve_int_list("--seeds", args.seeds, SEEDS, quick),
        "device": args.device,
    }
    if s["generations"] < 2:
        raise ValueError(f"--generations must be at least 2, got {s['generations']}")
    return s


def _kernel_side(data: Any, model: Any, s: dict[str, Any]) -> dict[str, Any]:
    """NTK at initialisation -> closed-form self-distillation for each alpha (and optimal)."""
    from ...kernel.ridge import SelfDistilledKernelRidge
    from ...ntk import NTKKernelRidge

    steps = s["generations"]
    base = NTKKernelRidge(model, lam=1.0, steps=1).fit(data.x_train, data.y_train)
    gram = base.gram_
    k_val, k_test = base.kernel(data.x_val), base.kernel(data.x_test)
    onehot = np.eye(data.num_classes)
    y, y_val, y_test = (onehot[t.numpy()] for t in (data.y_train, data.y_val, data.y_test))
    scale = float(np.mean(np.diag(gram)))

    def accuracies(est: SelfDistilledKernelRidge, k: np.ndarray, labels: np.ndarray) -> list[float]:
        truth = labels.argmax(1)
        return [float(np.mean(p.argmax(1) == truth)) for p in est.staged_predict(k)]

    lam_val = {}
    for r in LAM_GRID:
        est = SelfDistilledKernelRidge(kernel="precomputed", lam=r * scale, steps=1).fit(gram, y)
        lam_val[r] = accuracies(est, k_val, y_val)[0]
    ratio = max(LAM_GRID, key=lambda r: (lam_val[r], r))  # ties: the larger ridge
    lam = ratio * scale
    out: dict[str, Any] = {
        "lam": lam,
        "lam_over_mean_diag": ratio,
        "lam_grid_val_acc": {str(r): v for r, v in lam_val.items()},
        "alphas": {},
    }
    for alpha in [*s["alphas"], "optimal-clipped"]:
        est = SelfDistilledKernelRidge(kernel="precomputed", lam=lam, steps=steps, alpha=alpha)
        est.fit(gram, y, k_val, y_val)
        val_acc, test_acc = accuracies(est, k_val, y_val), accuracies(est, k_test, y_test)
        out["alphas"]["optimal" if alpha == "optimal-clipped" else str(alpha)] = {
            "val_acc": val_acc,
            "test_acc": test_acc,
            "best_step_by_val": int(np.argmax(val_acc)) + 1,
            "alpha_per_step": [None, *est.alphas_[1:].tolist()],
        }
    # the unclipped alpha-hat of Thm 4.4, comparable with the network's raw alpha-hat
    raw = SelfDistilledKernelRidge(kernel="precomputed", lam=lam, steps=steps, alpha="optimal")
    out["alpha_hat_unclipped"] = raw.fit(gram, y, k_val, y_val).alphas_[1:].tolist()
    return out


def _load(s: dict[str, Any], file_options: dict[str, Any]) -> Any:
    """The data set with ``s["n_train"]`` training samples; a default ``n_train`` is capped at
    the training split (``s["n_train"]`` becomes the size used)."""
    from ...nn.data_splits import load_dataset

    if not s["n_train_given"]:
        opt.cap_default(s, "n_train", len(load_dataset(s["data"], seed=0, **file_options).x_train))
    s.pop("n_train_given", None)
    return load_dataset(s["data"], seed=0, n_train=s["n_train"], **file_options)


def compute(args: argparse.Namespace) -> dict[str, Any]:
    from ..._util.progress import Stages
    from ...nn.chains.run import ChainConfig, fit_seed, run_alpha_chains
    from ...nn.models import build_model
    from ...nn.training.loop import TrainConfig

    s = _settings(args)
    data = _load(s, opt.file_options(args))
    tau = s["generations"]
    config = ChainConfig(
        generations=tau,
        loss="mse",
        model="mlp",
        width=s["width"],
        train=TrainConfig(
            epochs=s["epochs"], batch_size=64, lr=0.1, device=s["device"], progress=False
        ),
    )
    schedules: dict[str, Any] = {str(a): (a,) * (tau - 1) for a in s["alphas"]}
    schedules["optimal"] = "estimate"
    stages = Stages(
        len(s["seeds"]) * (2 if s["network"] else 1), name="ntk-kernel", enabled=args.progress
    )
    kernel_runs, network_runs = [], []
    for seed in s["seeds"]:
        with stages(f"seed {seed}: NTK of the initial network, kernel self-distillation"):
            model = build_model(
                "mlp",
                data.input_shape,
                data.num_classes,
                width=s["width"],
                seed=fit_seed(seed, 1, 0),  # generation 1's initialisation in the chain
            )
            kernel_runs.append(_kernel_side(data, model, s))
        if s["network"]:
            with stages(f"seed {seed}: network chains ({len(schedules)} schedules)"):
                chains = run_alpha_chains(data, config, seed, schedules)
                network_runs.append(
                    {
                        name: {
                            "test_acc": [r["test_acc"] for r in records],
                            "val_acc": [r["val_acc"] for r in records],
                            "alpha": [r["alpha"] for r in records],
                            "alpha_hat": [r.get("alpha_hat") for r in records],
                        }
                        for name, records in chains.items()
                    }
                )

    names = [*map(str, s["alphas"]), "optimal"]
    kernel = {
        name: {
            key: np.mean([run["alphas"][name][key] for run in kernel_runs], axis=0).tolist()
            for key in ("val_acc", "test_acc")
        }
        for name in names
    }
    for name in names:
        kernel[name]["best_step_by_val"] = int(np.argmax(kernel[name]["val_acc"])) + 1
    kernel_alpha_hat = np.mean([run["alpha_hat_unclipped"] for run in kernel_runs], axis=0).tolist()
    network: dict[str, Any] = {}
    if network_runs:
        for name in names:
            network[name] = {
                key: np.mean([run[name][key] for run in network_runs], axis=0).tolist()
                for key in ("val_acc", "test_acc")
            }
            network[name]["best_generation_by_val"] = int(np.argmax(network[name]["val_acc"])) + 1
        network_alpha_hat = np.mean(
            [run["optimal"]["alpha_hat"][1:] for run in network_runs], axis=0
        ).tolist()

    result: dict[str, Any] = {
        "settings": s,
        "train_size": len(data.x_train),
        "kernel": kernel,
        "kernel_alpha_hat": kernel_alpha_hat,
        "kernel_runs": kernel_runs,
    }
    if network:
        result.update(
            network=network, network_alpha_hat=network_alpha_hat, network_runs=network_runs
        )
    return result


def plot(results: dict[str, Any], out: Path) -> None:
    """``ntk_kernel.png``: test accuracy per step and generation, and the estimated α̂."""
    from ...reports.plotting import plt, save_figure

    s, kernel, network = results["settings"], results["kernel"], results.get("network", {})
    names, tau = [*map(str, s["alphas"]), "optimal"], s["generations"]
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.4), gridspec_kw={"width_ratios": [3, 2]})
    steps = np.arange(1, tau + 1)
    for i, name in enumerate(names):
        label = "α̂ clipped to [0, 1]" if name == "optimal" else f"α = {float(name):g}"
        axes[0].plot(
            steps, kernel[name]["test_acc"], color=f"C{i}", marker="o", label=f"NTK kernel, {label}"
        )
        if network:
            axes[0].plot(
                steps,
                network[name]["test_acc"],
                color=f"C{i}",
                marker="s",
                ls="--",
                label=f"network, {label}",
            )
    axes[0].set_xlabel("step (kernel) / generation (network)")
    axes[0].set_ylabel("test accuracy")
    axes[0].set_xticks(steps)
    axes[0].set_title(
        "self-distillation: NTK prediction (solid) and networks (dashed)", fontsize=10
    )
    axes[0].legend(fontsize=8, ncol=2)
    axes[0].grid(alpha=0.3)
    axes[1].plot(
        steps[1:], results["kernel_alpha_hat"], marker="o", label="NTK kernel: Thm 4.4 per step"
    )
    if network:
        axes[1].plot(
            steps[1:],
            results["network_alpha_hat"],
            marker="s",
            ls="--",
            label="network: α̂ of sec. 5",
        )
    axes[1].set_xlabel("step / generation")
    axes[1].axhspan(0, 1, color="grey", alpha=0.1, label="[0, 1]")
    axes[1].set_ylabel("estimated α̂ (unclipped)")
    axes[1].set_xticks(steps[1:])
    axes[1].set_title("Borup's optimal α", fontsize=10)
    axes[1].legend(fontsize=8)
    axes[1].grid(alpha=0.3)
    fig.suptitle(
        f"Kernel self-distillation on the initial network's NTK vs network generations: "
        f"{s['data']}, n = {results['train_size']}, MLP width {s['width']}, "
        f"{len(s['seeds'])} seed(s)",
        fontsize=11,
    )
    save_figure(fig, out / "ntk_kernel.png")
