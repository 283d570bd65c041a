"""Overhead of Dong et al.'s self-distillation over plain cross-entropy, per training epoch.

One epoch of :func:`selfdistill.nn.fit` with plain cross-entropy and one with
:class:`~selfdistill.nn.noisy.dong.SelfDistillationLoss` (hardmax targets, accuracy schedule) are
timed side by side in the same process (the process's CPU time on the CPU, wall time on CUDA),
interleaved (CE, SD, SD, CE, ...) to cancel drift in the machine's load, repeated, for each
workload of ``--models`` (``mlp:512`` is the network of ``selfdistill reproduce dong-table1``).
The two runs use the same data (10,000 MNIST-1D samples, as dong-table1), the same initial
weights and the same batches; only the loss differs. Prints a JSON summary per workload: the
ratio ``sd / ce`` estimated per order of the pair and averaged in log space (see
:func:`balanced_ratio`) with a bootstrap 95 % interval, the ratio of the medians and of the
minimums. The paper claims almost no extra cost; the project requires ``sd / ce`` below 1.05.

    OMP_NUM_THREADS=1 python benchmarks/sd_overhead.py --repeat 61
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import time

import numpy as np


def balanced_ratio(sd_first: list[float], ce_first: list[float]) -> float:
    """``exp`` of the mean of the two orders' median log-ratios ``log(sd / ce)``.

    Each pair of epochs ran back to back (sharing the machine's state), half of them with CE
    first and half with SD first. The machine can favour the first or the second run of a pair
    by a percent or so; the median over each order separately, averaged in log space, cancels that
    order effect, which a single median over all pairs does not (its distribution is bimodal).
    """
    return math.exp(0.5 * (statistics.median(sd_first) + statistics.median(ce_first)))


def bootstrap_ci95(
    sd_first: list[float], ce_first: list[float], resamples: int = 2000
) -> tuple[float, float]:
    """Percentile bootstrap 95 % interval of :func:`balanced_ratio` (pairs resampled per order)."""
    rng = np.random.default_rng(0)
    a, b = np.asarray(sd_first), np.asarray(ce_first)
    ia = rng.integers(0, len(a), (resamples, len(a)))
    ib = rng.integers(0, len(b), (resamples, len(b)))
    stats = np.exp(0.5 * (np.median(a[ia], axis=1) + np.median(b[ib], axis=1)))
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist1d")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument(
        "--models",
        default="mlp:256,mlp:512,cnn:32",
        help="comma list of MODEL:WIDTH workloads, each timed on its own (default: %(default)s)",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=61, help="pairs of timed epochs")
    parser.add_argument(
        "--with-eval",
        action="store_true",
        help="time the epoch as `selfdistill noisy` runs it: training, then the clean test set "
        "and the validation split evaluated (default: training alone, the strictest measure)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="optional JSON output path")
    args = parser.parse_args()

    import torch

    from selfdistill._util.io import write_json
    from selfdistill.nn import TrainConfig, build_model, fit, load_dataset
    from selfdistill.nn.noisy.dong import SelfDistillationLoss, SelfDistillationTarget
    from selfdistill.nn.training.loop import cross_entropy_loss

    data = load_dataset(args.data, n_train=args.n_train, seed=0)
    y = data.y_train
    config = TrainConfig(epochs=1, batch_size=args.batch_size, device=args.device, progress=False)
    losses = {
        "ce": lambda: cross_entropy_loss,
        "sd": lambda: SelfDistillationLoss(SelfDistillationTarget("hardmax", "accuracy", lam=1.0)),
    }

    eval_sets = (
        {"test": (data.x_test, data.y_test), "val": (data.x_val, data.y_val)}
        if args.with_eval
        else None
    )

    # On the CPU the process's CPU time is measured: on a shared machine wall time mostly measures
    # how long the process waited for a core. On CUDA, wall time after a synchronisation.
    clock = time.perf_counter if args.device.startswith("cuda") else time.process_time

    def epoch_seconds(name: str, model_name: str, width: int) -> float:
        model = build_model(model_name, data.input_shape, data.num_classes, width=width, seed=0)
        loss_fn = losses[name]()
        gc.collect()  # the previous run's garbage is not collected inside this one's timing
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = clock()
        fit(model, data.x_train, y, config, loss_fn=loss_fn, eval_sets=eval_sets)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        return clock() - start

    workloads = []
    for item in args.models.split(","):
        model_name, _, width = item.partition(":")
        model_name, width_ = model_name.strip(), int(width) if width else 0
        epoch_seconds("ce", model_name, width_ or None)  # warm-up (allocations, kernels)
        epoch_seconds("sd", model_name, width_ or None)
        times: dict[str, list[float]] = {"ce": [], "sd": []}
        for i in range(args.repeat):
            order = ("ce", "sd") if i % 2 == 0 else ("sd", "ce")
            for name in order:
                times[name].append(epoch_seconds(name, model_name, width_ or None))
        med = {k: statistics.median(v) for k, v in times.items()}
        log_ratios = [math.log(s / c) for s, c in zip(times["sd"], times["ce"], strict=True)]
        ce_first, sd_first = log_ratios[0::2], log_ratios[1::2]  # pair i ran CE first if i even
        ratio = balanced_ratio(sd_first, ce_first)
        low, high = bootstrap_ci95(sd_first, ce_first)
        workloads.append(
            {
                "model": f"{model_name} width {width_ or 'default'}",
                "median_epoch_seconds": med,
                "sd_over_ce": ratio,
                "sd_over_ce_ci95": [low, high],
                "sd_over_ce_when_ce_ran_first": math.exp(statistics.median(ce_first)),
                "sd_over_ce_when_sd_ran_first": math.exp(statistics.median(sd_first)),
                "ratio_of_medians": med["sd"] / med["ce"],
                "ratio_of_minimums": min(times["sd"]) / min(times["ce"]),
                "overhead_below_5_percent": ratio < 1.05,
            }
        )
        print(
            f"{workloads[-1]['model']}: SD / CE = {ratio:.4f} (95 % CI {low:.4f}-{high:.4f})",
            file=sys.stderr,
        )
    summary = {
        "data": args.data,
        "n_train": len(y),
        "batch_size": args.batch_size,
        "epoch": (
            f"training + evaluation of {len(data.y_test)} test and {len(data.y_val)} validation "
            "samples"
            if args.with_eval
            else "training only"
        ),
        "device": args.device,
        "threads": torch.get_num_threads(),
        "clock": "wall (perf_counter)" if args.device.startswith("cuda") else "CPU (process_time)",
        "repeat": args.repeat,
        "workloads": workloads,
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        write_json(args.out, summary)


if __name__ == "__main__":
    main()
