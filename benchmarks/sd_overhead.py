"""Overhead of Dong et al.'s self-distillation over plain cross-entropy, per training epoch.

One epoch of :func:`selfdistill.nn.fit` with plain cross-entropy and one with
:class:`~selfdistill.nn.refinery.SelfDistillationLoss` (hardmax targets, accuracy schedule) are
timed side by side in the same process (the process's CPU time on the CPU, wall time on CUDA),
interleaved (CE, SD, SD, CE, ...) to cancel drift in the machine's load, repeated, for each
workload of ``--models`` (``mlp:512`` is the network of ``selfdistill reproduce dong-table1``).
The two runs use the same data, the same initial weights and the same batches; only the loss
differs. Prints a JSON summary per workload: the median of the pairwise ratios ``sd / ce`` (each
pair ran back to back, so it shares the machine's state) with its distribution-free 95 %
confidence interval (order statistics of the binomial), the ratio of the medians and of the
minimums. The paper claims almost no extra cost; the project requires the median pairwise ratio
below 1.05.

    OMP_NUM_THREADS=1 python benchmarks/sd_overhead.py --repeat 61
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def median_ci95(values: list[float]) -> tuple[float, float]:
    """Distribution-free 95 % confidence interval of the median of sorted ``values``.

    The ranks come from the Binomial(n, 1/2) law of the number of values below the median
    (coverage at least 95 %; the whole range when n < 6).
    """
    from scipy.stats import binom

    n = len(values)
    # the largest k with P(k < B < n - k) >= 95 %, B ~ Binomial(n, 1/2) the count below the median
    k = max(int(binom.ppf(0.025, n, 0.5)) - 1, 0)
    return values[k], values[n - 1 - k]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist1d")
    parser.add_argument("--n-train", type=int, default=5000)
    parser.add_argument(
        "--models",
        default="mlp:256,mlp:512,cnn:32",
        help="comma list of MODEL:WIDTH workloads, each timed on its own (default: %(default)s)",
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=61, help="pairs of timed epochs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="optional JSON output path")
    args = parser.parse_args()

    import torch

    from selfdistill._io import write_json
    from selfdistill.nn import TrainConfig, build_model, fit, load_dataset
    from selfdistill.nn.refinery import (
        SelfDistillationLoss,
        SelfDistillationTarget,
        cross_entropy_loss,
    )

    data = load_dataset(args.data, n_train=args.n_train, seed=0)
    y = data.y_train
    config = TrainConfig(epochs=1, batch_size=args.batch_size, device=args.device, progress=False)
    losses = {
        "ce": lambda: cross_entropy_loss,
        "sd": lambda: SelfDistillationLoss(SelfDistillationTarget("hardmax", "accuracy", lam=1.0)),
    }

    # On the CPU the process's CPU time is measured: on a shared machine wall time mostly measures
    # how long the process waited for a core. On CUDA, wall time after a synchronisation.
    clock = time.perf_counter if args.device.startswith("cuda") else time.process_time

    def epoch_seconds(name: str, model_name: str, width: int) -> float:
        model = build_model(model_name, data.input_shape, data.num_classes, width=width, seed=0)
        loss_fn = losses[name]()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        start = clock()
        fit(model, data.x_train, y, config, loss_fn=loss_fn)
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
        ratios = sorted(s / c for s, c in zip(times["sd"], times["ce"], strict=True))
        pairwise = statistics.median(ratios)
        low, high = median_ci95(ratios)
        workloads.append(
            {
                "model": f"{model_name} width {width_ or 'default'}",
                "median_epoch_seconds": med,
                "median_of_pairwise_ratios": pairwise,
                "median_of_pairwise_ratios_ci95": [low, high],
                "ratio_of_medians_sd_over_ce": med["sd"] / med["ce"],
                "ratio_of_minimums_sd_over_ce": min(times["sd"]) / min(times["ce"]),
                "overhead_below_5_percent": pairwise < 1.05,
            }
        )
    summary = {
        "data": args.data,
        "n_train": len(y),
        "batch_size": args.batch_size,
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
