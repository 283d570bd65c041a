"""Speed and peak memory of ``selfdistill.ntk.empirical_ntk`` per strategy, side by side.

Strategies ``structured`` (per-layer formula), ``jacobian`` (Jacobian contraction) and ``ntk_vp``
(NTK-vector products) on the symmetric kernel Θ(x, x) of random inputs, float32:

* MLP 40 → 512 → 512 → C (``selfdistill.nn.models.MLP``, seed 0): ``trace`` with C = 10 and
  C = 1 at n = 500, 1000, 2000; ``full`` with C = 10 at n = 250, 500;
* the package CNN, ``build_model("cnn", (40,), 10)`` (MNIST-1D shape, P = 8,010) and
  ``build_model("cnn", (1, 8, 8), 10)`` (digits shape, batch norm in eval mode), ``trace``, n = 500.

Every (configuration, strategy) runs in its own fresh subprocess, the strategies of one
configuration one after the other, so that times are comparable and each peak memory is that run's
own. Peak memory on the CPU is the subprocess's peak resident set size (``ru_maxrss`` from
``resource.getrusage``) minus its resident size just before the call (after a warm-up call on 8
inputs), so it counts everything the call allocates — result included — and nothing imported
before (tracemalloc cannot see torch's allocator); on CUDA ``torch.cuda.max_memory_allocated``
minus the allocation before the call. The run also times a float32 2048³ matrix product in a
subprocess (the machine's GEMM rate, for the flop rates printed beside each row).

The generic strategies take minutes at these sizes, so by default only the runs that the goals
need are timed (``jacobian``: trace C = 10 at n = 500 and 1000, trace C = 1 at n = 2000, full
n = 250, the CNNs; ``ntk_vp``: full n = 250 and 500); the others print the cost model's
estimate instead. ``--all`` times everything (about an hour), ``--quick`` a small subset (n ≤ 500,
about three minutes). Absolute times on a shared machine are noisy: compare the ratios of one run.

    python benchmarks/ntk.py [--quick | --all] [--threads 2] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

STRATEGIES = ("structured", "jacobian", "ntk_vp")

#: (name, model, C, mode, n)
CONFIGS = [
    ("mlp-trace-C10-500", "mlp", 10, "trace", 500),
    ("mlp-trace-C10-1000", "mlp", 10, "trace", 1000),
    ("mlp-trace-C10-2000", "mlp", 10, "trace", 2000),
    ("mlp-trace-C1-500", "mlp", 1, "trace", 500),
    ("mlp-trace-C1-1000", "mlp", 1, "trace", 1000),
    ("mlp-trace-C1-2000", "mlp", 1, "trace", 2000),
    ("mlp-full-C10-250", "mlp", 10, "full", 250),
    ("mlp-full-C10-500", "mlp", 10, "full", 500),
    ("cnn1d-trace-C10-500", "cnn1d", 10, "trace", 500),
    ("cnn2d-trace-C10-500", "cnn2d", 10, "trace", 500),
]

#: the generic-strategy runs timed by default (the others take minutes each)
DEFAULT_SLOW = {
    ("mlp-trace-C10-500", "jacobian"),
    ("mlp-trace-C10-1000", "jacobian"),
    ("mlp-trace-C1-2000", "jacobian"),
    ("mlp-full-C10-250", "jacobian"),
    ("mlp-full-C10-250", "ntk_vp"),
    ("mlp-full-C10-500", "ntk_vp"),
    ("cnn1d-trace-C10-500", "jacobian"),
    ("cnn2d-trace-C10-500", "jacobian"),
}

QUICK = {
    "mlp-trace-C10-500": ("structured", "jacobian"),
    "mlp-trace-C10-2000": ("structured",),
    "mlp-trace-C1-500": ("structured", "jacobian"),
    "mlp-full-C10-250": ("structured", "ntk_vp"),
    "cnn1d-trace-C10-500": ("structured", "jacobian"),
}


def _model(kind: str, c: int):
    import torch

    from selfdistill.nn.models import MLP, build_model

    if kind == "mlp":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return MLP(40, c, width=512, depth=2), (40,)
    shape = (40,) if kind == "cnn1d" else (1, 8, 8)
    model = build_model("cnn", shape, c, seed=0)
    with torch.no_grad():  # batch norm: non-trivial running statistics, then evaluation mode
        model(torch.randn(64, *shape, generator=torch.Generator().manual_seed(1)))
    return model, shape


def _child(name: str, strategy: str, device: str, threads: int, run: bool) -> dict:
    import torch

    from selfdistill.ntk import empirical_ntk, ntk_cost

    torch.set_num_threads(threads)
    _, kind, c, mode, n = next(cfg for cfg in CONFIGS if cfg[0] == name)
    model, shape = _model(kind, c)
    model = model.to(device).eval()
    x = torch.randn(n, *shape, generator=torch.Generator().manual_seed(0)).to(device)
    info = ntk_cost(model, x, mode=mode)
    row = {
        "config": name,
        "strategy": strategy,
        "mode": mode,
        "n": n,
        "C": c,
        "params": info.num_params,
        "auto_choice": info.choice,
        "estimated_flops": info.flops[strategy],
        "chunk_size": info.chunk_size[strategy],
    }
    if not run:
        return row
    empirical_ntk(model, x[:8], mode=mode, strategy=strategy)  # warm-up (lazy imports)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_bytes()
    start = time.perf_counter()
    theta = empirical_ntk(model, x, mode=mode, strategy=strategy)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    row["seconds"] = time.perf_counter() - start
    row["peak_bytes"] = int(peak)
    row["result_bytes"] = theta.numel() * theta.element_size()
    return row


def _gemm_rate(threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(2048, 2048)
    a @ a
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * 2048**3 / best


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _spawn(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _plan(args: argparse.Namespace) -> list[tuple[str, str, bool]]:
    runs = []
    for name, *_ in CONFIGS:
        for strategy in STRATEGIES:
            if args.quick:
                if strategy in QUICK.get(name, ()):
                    runs.append((name, strategy, True))
                continue
            timed = args.all or strategy == "structured" or (name, strategy) in DEFAULT_SLOW
            runs.append((name, strategy, timed))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="a small subset (about 3 minutes)")
    group.add_argument("--all", action="store_true", help="time every strategy everywhere")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--gemm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.gemm:
        print(json.dumps({"gemm_flops_per_second": _gemm_rate(args.threads)}))
        return 0
    if args.child:
        name, strategy, timed = args.child.split(":")
        print(json.dumps(_child(name, strategy, args.device, args.threads, timed == "1")))
        return 0
    common = ["--device", args.device, "--threads", str(args.threads)]
    gemm = _spawn(["--gemm", *common])["gemm_flops_per_second"] if args.device == "cpu" else None
    if gemm:
        print(f"float32 GEMM 2048^3: {gemm / 1e9:.1f} GFLOP/s ({args.threads} threads)")
    rows = []
    for name, strategy, timed in _plan(args):
        row = _spawn(["--child", f"{name}:{strategy}:{int(timed)}", *common])
        rows.append(row)
        if "seconds" in row:
            rate = row["estimated_flops"] / row["seconds"] / 1e9
            print(
                f"{name:20s} {strategy:10s} {row['seconds']:8.2f} s  "
                f"peak {row['peak_bytes'] / 2**20:7.1f} MiB  "
                f"est. {rate:6.1f} GFLOP/s  chunk {row['chunk_size']}",
                flush=True,
            )
        else:
            print(
                f"{name:20s} {strategy:10s}   (not timed; est. "
                f"{row['estimated_flops'] / 1e9:.0f} GFLOP)",
                flush=True,
            )
    print("\nconfig               structured   jacobian/structured   ntk_vp/structured   auto")
    for name, *_ in CONFIGS:
        by = {r["strategy"]: r for r in rows if r["config"] == name}
        base = by.get("structured")
        if base is None or "seconds" not in base:
            continue
        ratios = [
            f"{by[s]['seconds'] / base['seconds']:10.1f}x" if "seconds" in by.get(s, {}) else "—"
            for s in ("jacobian", "ntk_vp")
        ]
        print(
            f"{name:20s} {base['seconds']:8.2f} s   {ratios[0]:>19s}   {ratios[1]:>17s}   "
            f"{base['auto_choice']}"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": args.device, "gemm_flops_per_second": gemm, "rows": rows}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
