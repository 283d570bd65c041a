"""Epoch time of :func:`selfdistill.nn.fit` against a bare PyTorch loop, side by side in one run.

For each (data set, model) pair this times, on the same data, initial weights and batch order:

* ``bare``: a minimal hand-written loop (index a batch, forward, cross-entropy, backward, SGD
  step, per-step cosine factor) — the floor that any training loop pays;
* ``fit``: ``fit`` alone (no evaluation sets, no checkpoints): the loop's own overhead;
* ``fit+ckpt``: ``fit`` with per-epoch evaluation on the validation split and an atomic
  checkpoint written after every epoch (what a real run does).

It checks that ``bare`` and ``fit`` reach the same weights (to 1e-5; they perform the same
updates) and prints seconds per epoch (each the minimum over ``--repeat`` runs) and the ratios
``fit / bare`` and ``fit+ckpt / fit``. Absolute times on a shared machine are noisy; the ratios
come from timings taken in the same run.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/nn_epoch.py [--epochs 3] [--repeat 3] [--out F.json]``
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from typing import Any

import torch
import torch.nn.functional as F

from selfdistill._util.io import write_json
from selfdistill.nn import TrainConfig, build_model, fit, load_dataset
from selfdistill.nn.training.loop import epoch_order


def bare_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig) -> None:
    """The same updates as ``fit`` (SGD, momentum, weight decay, per-step cosine), nothing else."""
    opt = torch.optim.SGD(
        model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )
    n = len(x)
    steps = math.ceil(n / cfg.batch_size)
    total = cfg.epochs * steps
    step = 0
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        for epoch in range(cfg.epochs):
            order = epoch_order(n, cfg.seed, epoch)
            for b in range(steps):
                idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
                for group in opt.param_groups:
                    group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / total))
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--num-samples", type=int, default=40_000, help="MNIST-1D size")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    args = parser.parse_args()

    torch.set_num_threads(1)
    cases = [("digits", "mlp"), ("mnist1d", "mlp"), ("mnist1d", "cnn")]
    rows: list[dict[str, Any]] = []
    for data_name, model_name in cases:
        options = {"num_samples": args.num_samples} if data_name == "mnist1d" else {}
        t0 = time.perf_counter()
        data = load_dataset(data_name, seed=0, **options)
        load_s = time.perf_counter() - t0
        cfg = TrainConfig(epochs=args.epochs, batch_size=128, progress=False)
        evals = {"val": (data.x_val, data.y_val)}

        def model() -> torch.nn.Module:
            return build_model(model_name, data.input_shape, data.num_classes, seed=0)  # noqa: B023

        timings: dict[str, float] = {"bare": math.inf, "fit": math.inf, "fit+ckpt": math.inf}
        max_diff = 0.0
        for _ in range(args.repeat):
            a, b = model(), model()
            t = time.perf_counter()
            bare_loop(a, data.x_train, data.y_train, cfg)
            timings["bare"] = min(timings["bare"], time.perf_counter() - t)
            t = time.perf_counter()
            fit(b, data.x_train, data.y_train, cfg)
            timings["fit"] = min(timings["fit"], time.perf_counter() - t)
            max_diff = max(
                max_diff,
                max(
                    float((p - q).detach().abs().max())
                    for p, q in zip(a.parameters(), b.parameters(), strict=True)
                ),
            )
            with tempfile.TemporaryDirectory() as tmp:
                t = time.perf_counter()
                fit(model(), data.x_train, data.y_train, cfg, eval_sets=evals, checkpoint_dir=tmp)
                timings["fit+ckpt"] = min(timings["fit+ckpt"], time.perf_counter() - t)
        assert max_diff < 1e-5, f"bare loop and fit disagree by {max_diff}"
        row = {
            "data": data_name,
            "model": model_name,
            "n_train": len(data.y_train),
            "load_seconds": load_s,
            **{f"{k}_seconds_per_epoch": v / args.epochs for k, v in timings.items()},
            "fit_over_bare": timings["fit"] / timings["bare"],
            "ckpt_over_fit": timings["fit+ckpt"] / timings["fit"],
            "max_weight_difference": max_diff,
        }
        rows.append(row)
        print(
            f"{data_name:8s} {model_name:4s} n={row['n_train']:6d}  "
            f"bare {row['bare_seconds_per_epoch']:.3f} s/epoch  "
            f"fit {row['fit_seconds_per_epoch']:.3f}  "
            f"fit+ckpt {row['fit+ckpt_seconds_per_epoch']:.3f}"
            f"  fit/bare {row['fit_over_bare']:.2f}  ckpt/fit {row['ckpt_over_fit']:.2f}  "
            f"|dw| {max_diff:.1e}  (load {load_s:.1f} s)",
            flush=True,
        )
    if args.out:
        write_json(args.out, {"epochs": args.epochs, "repeat": args.repeat, "rows": rows})


if __name__ == "__main__":
    main()
