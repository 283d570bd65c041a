"""Dong et al. (2019) section 2.1, figure 1: "no early stopping, no dark knowledge".

A large teacher is trained on the labels and snapshotted after several epochs; a smaller student is
distilled (soft-target cross-entropy at temperature T, α = 0) from every snapshot. The paper
(WRN-28 teacher, 5-layer CNN student, CIFAR-100) finds that the teacher trained longest does not
educate the best student: a teacher stopped early carries more "dark knowledge". Here: a wide MLP
teacher and a narrow MLP student on mnist1d (or digits), with a student trained on the labels alone
as the baseline.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

import numpy as np

from ... import training_flags as opt
from ..._util.stats import sample_std
from ..._util.validation import MAX_WIDTH, check_int, check_real
from ...catalog import GENERATED_DATASETS as DATASETS
from ...execution import add_execution_arguments

N_TRAIN = opt.QuickDefault(full=4000, quick=1000)
TEACHER_EPOCHS = opt.QuickDefault(full=(5, 10, 20, 40, 80, 120), quick=(3, 6, 12, 24))
STUDENT_EPOCHS = opt.QuickDefault(full=40, quick=12)
SEEDS = opt.QuickDefault(full=(0, 1, 2), quick=(0,))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    opt.add_data_option(parser, DATASETS)
    opt.add_quick_int_option(parser, "--n-train", N_TRAIN, "training samples")
    opt.add_int_list_option(
        parser,
        "--teacher-epochs",
        TEACHER_EPOCHS,
        "comma list of snapshot epochs; the last is the teacher's length",
    )
    opt.add_quick_int_option(parser, "--student-epochs", STUDENT_EPOCHS)
    parser.add_argument("--teacher-width", type=int, default=512, help="(default: %(default)s)")
    parser.add_argument("--student-width", type=int, default=64, help="(default: %(default)s)")
    parser.add_argument(
        "--temperature",
        type=float,
        default=4.0,
        help="distillation temperature (default: %(default)s)",
    )
    opt.add_int_list_option(parser, "--seeds", SEEDS)
    opt.add_device_option(parser)
    add_execution_arguments(parser)  # one run per seed


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(args.quick)
    epochs = opt.resolve_int_list("--teacher-epochs", args.teacher_epochs, TEACHER_EPOCHS, quick)
    return {
        "data": args.data,
        "n_train": opt.resolve_int(args.n_train, N_TRAIN, quick, "--n-train"),
        "teacher_epochs": sorted(set(epochs)),
        "student_epochs": opt.resolve_int(
            args.student_epochs, STUDENT_EPOCHS, quick, "--student-epochs"
        ),
        "teacher_width": check_int("--teacher-width", args.teacher_width, low=1, high=MAX_WIDTH),
        "student_width": check_int("--student-width", args.student_width, low=1, high=MAX_WIDTH),
        "temperature": check_real("--temperature", args.temperature, low=0.0, low_inclusive=False),
        "seeds": opt.resolve_int_list("--seeds", args.seeds, SEEDS, quick),
        "device": args.device,
    }


def summarise(
    per_seed: list[dict[str, Any]], epochs: list[int]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mean and sample std over seeds of every accuracy per snapshot epoch, and what they show."""

    def stat(values: list[float]) -> tuple[float, float]:
        return float(np.mean(values)), sample_std(values)

    summary: dict[str, Any] = {"teacher_epochs": epochs}
    for who, key in (
        ("student", "test_acc"),
        ("student", "train_acc"),
        ("teacher", "test_acc"),
        ("teacher", "train_acc"),
    ):
        src = "students" if who == "student" else "teacher"
        ms = [stat([r[src][e][key] for r in per_seed]) for e in epochs]
        summary[f"{who}_{key}_mean"] = [m for m, _ in ms]
        summary[f"{who}_{key}_std"] = [sd for _, sd in ms]
    summary["baseline_test_acc_mean"], summary["baseline_test_acc_std"] = stat(
        [r["baseline_student"]["test_acc"] for r in per_seed]
    )
    best = int(np.argmax(summary["student_test_acc_mean"]))
    observed = {
        "best_teacher_epoch_for_student": epochs[best],
        "student_test_acc_at_best": summary["student_test_acc_mean"][best],
        "student_test_acc_at_last": summary["student_test_acc_mean"][-1],
        "teacher_test_acc_at_last": summary["teacher_test_acc_mean"][-1],
        "teacher_train_acc_at_last": summary["teacher_train_acc_mean"][-1],
        "baseline_student_test_acc": summary["baseline_test_acc_mean"],
        # Better only if the gap exceeds the two standard deviations over seeds added together.
        "early_teacher_better": bool(
            epochs[best] < epochs[-1]
            and summary["student_test_acc_mean"][best] - summary["student_test_acc_mean"][-1]
            > summary["student_test_acc_std"][best] + summary["student_test_acc_std"][-1]
        ),
    }
    return summary, observed


def seed_run(spec: dict[str, Any], data: Any) -> dict[str, Any]:
    """One seed of the experiment (a run of the sweep): the teacher with its snapshots and a
    student distilled from each snapshot, plus one trained on the labels alone."""
    from ...nn.chains.teacher import distill_student, train_teacher_with_snapshots
    from ...nn.models import build_model
    from ...nn.training.loop import TrainConfig

    seed, s = int(spec["seed"]), spec["settings"]
    epochs = s["teacher_epochs"]
    # Teacher: constant learning rate and no weight decay, so that it keeps fitting the labels
    # (memorising them) as the epochs go on.
    teacher_cfg = TrainConfig(
        epochs=epochs[-1], lr=0.1, weight_decay=0.0, schedule="constant", seed=seed,
        device=s["device"], progress=False,
    )  # fmt: skip
    student_cfg = TrainConfig(
        epochs=s["student_epochs"], lr=0.1, weight_decay=5e-4, seed=seed + 1000,
        device=s["device"], progress=False,
    )  # fmt: skip

    def build_teacher() -> Any:
        return build_model(
            "mlp", data.input_shape, data.num_classes, width=s["teacher_width"], seed=seed
        )

    def build_student() -> Any:
        return build_model(
            "mlp", data.input_shape, data.num_classes, width=s["student_width"], seed=seed + 500
        )

    teachers, teacher_metrics = train_teacher_with_snapshots(
        build_teacher, data, teacher_cfg, epochs
    )
    _, baseline = distill_student(None, build_student, data, student_cfg)
    students = {
        e: distill_student(
            teachers[e], build_student, data, student_cfg, temperature=s["temperature"]
        )[1]
        for e in epochs
    }
    return {
        "seed": seed, "teacher": teacher_metrics, "students": students,
        "baseline_student": baseline,
    }  # fmt: skip


def _int_keys(record: dict[str, Any]) -> dict[str, Any]:
    """A run's record as JSON returns it, with its per-epoch dicts keyed by int epochs again."""
    out = dict(record)
    for part in ("teacher", "students"):
        out[part] = {int(e): v for e, v in record[part].items()}
    return out


def compute(args: argparse.Namespace) -> dict[str, Any]:
    from ...execution import execution_from_args, run_sweep
    from ...nn.data_splits import load_dataset

    s = _settings(args)
    data = load_dataset(s["data"], seed=0, n_train=s["n_train"], **opt.file_options(args))
    epochs = s["teacher_epochs"]
    specs = [{"seed": seed, "settings": s} for seed in s["seeds"]]
    runs = run_sweep(
        functools.partial(seed_run, data=data), specs, execution=execution_from_args(args),
        progress=args.progress, desc="dong-fig1 seeds",
    )  # fmt: skip
    per_seed = [_int_keys(run) for run in runs]
    summary, observed = summarise(per_seed, epochs)
    if args.progress:
        print(f"dong-fig1: {observed}")

    return {
        "settings": s,
        "train_size": len(data.y_train),
        "runs": per_seed,
        "summary": summary,
        "observed": observed,
    }


def plot(results: dict[str, Any], out: Path) -> None:
    """``teacher_epochs.png``: student and teacher accuracy against the teacher's epochs."""
    from matplotlib.ticker import NullFormatter

    from ...reports.plotting import band, plt, save_figure

    s, summary = results["settings"], results["summary"]
    epochs = summary["teacher_epochs"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    x = np.asarray(epochs)
    for ax, key, title in (
        (axes[0], "test_acc", "test accuracy"),
        (axes[1], "train_acc", "train accuracy (labels)"),
    ):
        for who, color, marker in (("student", "tab:red", "o"), ("teacher", "tab:blue", "s")):
            width = s["student_width"] if who == "student" else s["teacher_width"]
            label = (
                f"student (MLP width {width}) distilled from the teacher at that epoch"
                if who == "student"
                else f"teacher (MLP width {width})"
            )
            mean, std = summary[f"{who}_{key}_mean"], summary[f"{who}_{key}_std"]
            band(ax, x, mean, std, scale=100, color=color, marker=marker, label=label)
        if key == "test_acc":
            ax.axhline(
                100 * summary["baseline_test_acc_mean"],
                color="gray",
                ls="--",
                label="student trained on the labels",
            )
        ax.set_xscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels([str(e) for e in epochs])
        ax.xaxis.set_minor_formatter(NullFormatter())  # only the snapshot epochs are labelled
        ax.set_xlabel("teacher epochs (snapshot)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    # One legend below both panels: inside, it covers the curves.
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.subplots_adjust(bottom=0.22)
    title = (
        f"Teacher early stopping ({s['data']}, {results['train_size']} train, "
        f"T = {s['temperature']:g}, mean ± std over {len(s['seeds'])} seed(s)) "
        "— cf. Dong et al. fig. 1"
    )
    save_figure(fig, out / "teacher_epochs.png", title=title)
