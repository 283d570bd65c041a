"""Speed and peak memory of ``selfdistill.ntk.empirical_ntk`` per strategy, side by side.

An MLP with 40 inputs, hidden width 512 and 10 outputs (``build_model("mlp", (40,), 10,
width=512, depth=DEPTH)``) on n = 500, 1000, 2000 random inputs; the symmetric kernel
Θ(x, x) in each requested mode. Every (n, strategy) runs in its own subprocess, interleaved, so
that the peak memory is that configuration's own:

* CPU: peak resident set size of the subprocess (``ru_maxrss``) minus its size just before the
  call (tracemalloc does not see torch's allocator);
* CUDA: ``torch.cuda.max_memory_allocated``.

Absolute times on a shared machine are noisy: compare the ratios of one run. The strategy that
``"auto"`` picks is printed beside the measured fastest.

    python benchmarks/ntk.py                      # n = 500, 1000, 2000, mode trace, depth 1
    python benchmarks/ntk.py --sizes 500 --modes trace,full --depth 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

STRATEGIES = ("jacobian", "ntk_vp")


def _child(n: int, strategy: str, mode: str, depth: int, device: str, threads: int) -> dict:
    import torch

    from selfdistill.nn.models import build_model
    from selfdistill.ntk import empirical_ntk, ntk_cost

    torch.set_num_threads(threads)
    model = build_model("mlp", (40,), 10, width=512, depth=depth, seed=0).to(device).eval()
    x = torch.randn(n, 40, generator=torch.Generator().manual_seed(0)).to(device)
    parsed_mode: str | int = int(mode) if mode.isdigit() else mode
    info = ntk_cost(model, x, mode=parsed_mode)
    empirical_ntk(model, x[:8], mode=parsed_mode, strategy=strategy)  # warm-up (lazy imports)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_bytes()
    start = time.perf_counter()
    theta = empirical_ntk(model, x, mode=parsed_mode, strategy=strategy)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    seconds = time.perf_counter() - start
    return {
        "n": n,
        "strategy": strategy,
        "mode": mode,
        "seconds": seconds,
        "peak_bytes": int(peak),
        "result_bytes": theta.numel() * theta.element_size(),
        "kernel_entries_per_second": theta.numel() / seconds,
        "auto_choice": info.choice,
        "estimated_flops": info.flops[strategy],
        "chunk_size": info.chunk_size[strategy],
        "params": info.num_params,
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,1000,2000", help="comma list of n")
    parser.add_argument("--modes", default="trace", help="comma list: trace, full, or an index")
    parser.add_argument("--depth", type=int, default=1, help="hidden layers (default: 1)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        n, strategy, mode = args.child.split(":")
        row = _child(int(n), strategy, mode, args.depth, args.device, args.threads)
        print(json.dumps(row))
        return 0
    rows = []
    sizes = [int(s) for s in args.sizes.split(",")]
    for mode in args.modes.split(","):
        for n in sizes:
            for strategy in STRATEGIES:  # side by side: both strategies at each size in turn
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    f"{n}:{strategy}:{mode}",
                    "--depth",
                    str(args.depth),
                    "--device",
                    args.device,
                    "--threads",
                    str(args.threads),
                ]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append(row)
                print(
                    f"mode={mode:5s} n={n:5d} {strategy:8s} {row['seconds']:8.2f} s  "
                    f"peak {row['peak_bytes'] / 2**20:8.1f} MiB  "
                    f"{row['kernel_entries_per_second']:10.0f} entries/s  "
                    f"chunk {row['chunk_size']}",
                    flush=True,
                )
    print("\nmode    n     jacobian/ntk_vp time   fastest    auto picks")
    for mode in args.modes.split(","):
        for n in sizes:
            pair = {r["strategy"]: r for r in rows if r["n"] == n and r["mode"] == mode}
            ratio = pair["jacobian"]["seconds"] / pair["ntk_vp"]["seconds"]
            fastest = min(pair, key=lambda s: pair[s]["seconds"])
            print(
                f"{mode:5s} {n:5d}   {ratio:20.2f}   {fastest:8s}   {pair[fastest]['auto_choice']}"
            )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"depth": args.depth, "device": args.device, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
