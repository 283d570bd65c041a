"""What each executor of `selfdistill.execution` adds per run, measured side by side in one run.

Two sweeps, each executed with ``serial``, ``processes`` (``--jobs``) and a local Ray instance:

* ``trivial``: runs that return at once, so the wall time per run is the executor's overhead
  (start-up reported separately: the pool's spawn or ``ray.init``);
* ``busy``: CPU-bound runs of a fixed amount of single-threaded NumPy work, so the speed-up over
  ``serial`` shows how much of the machine's cores a sweep of real runs gets.

Usage::

    python benchmarks/sweep_overhead.py                 # 200 trivial runs, 8 busy runs
    python benchmarks/sweep_overhead.py --jobs 2 --busy 16 --work 2.0

Prints a table and writes ``--out`` (JSON) with every number.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from selfdistill.execution import Execution, run_sweep


def trivial(spec: dict) -> dict:
    return {"index": spec["index"]}


def busy(spec: dict) -> dict:
    """About ``work`` seconds of single-threaded float64 matrix products."""
    rng = np.random.default_rng(spec["index"])
    a = rng.standard_normal((200, 200))
    deadline = time.perf_counter() + spec["work"]
    count = 0
    while time.perf_counter() < deadline:
        a = np.tanh(a @ a / 200.0)
        count += 1
    return {"index": spec["index"], "products": count}


def _timed(fn, specs, execution: Execution) -> float:
    start = time.perf_counter()
    run_sweep(fn, specs, execution=execution, progress=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--trivial", type=int, default=200, help="trivial runs")
    parser.add_argument("--busy", type=int, default=8, help="busy runs")
    parser.add_argument("--work", type=float, default=1.0, help="seconds of work per busy run")
    parser.add_argument("--out", type=Path, default=Path("runs/bench/sweep_overhead.json"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import ray

    executions = {
        "serial": Execution(),
        f"processes ({args.jobs})": Execution(executor="processes", jobs=args.jobs),
        f"ray (local, {args.jobs} CPUs)": Execution(executor="ray", cpus_per_run=1),
    }
    rows = []
    for name, execution in executions.items():
        startup = 0.0
        if execution.executor == "ray":  # started once here, so that start-up is counted apart
            start = time.perf_counter()
            ray.init(num_cpus=args.jobs, include_dashboard=False, _node_ip_address="127.0.0.1")
            startup = time.perf_counter() - start
        elif execution.executor == "processes":  # a pool of the same size, spawned and closed
            startup = _timed(trivial, [{"index": i} for i in range(args.jobs)], execution)
        trivial_s = _timed(trivial, [{"index": i} for i in range(args.trivial)], execution)
        busy_specs = [{"index": i, "work": args.work} for i in range(args.busy)]
        busy_s = _timed(busy, busy_specs, execution)
        if execution.executor == "ray":
            ray.shutdown()
        if execution.executor == "processes":  # each sweep spawns its own pool: count it apart
            trivial_s = max(trivial_s - startup, 0.0)
        rows.append(
            {
                "executor": name,
                "startup_s": startup,
                "trivial_ms_per_run": 1000 * trivial_s / args.trivial,
                "busy_s": busy_s,
            }
        )
    serial_busy = rows[0]["busy_s"]
    print(f"{'executor':<26} {'start-up s':>10} {'ms per trivial run':>19} {'busy speed-up':>14}")
    for row in rows:
        row["busy_speedup"] = serial_busy / row["busy_s"]
        print(
            f"{row['executor']:<26} {row['startup_s']:>10.2f} "
            f"{row['trivial_ms_per_run']:>19.2f} {row['busy_speedup']:>14.2f}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"settings": vars(args) | {"out": str(args.out)}, "rows": rows}))


if __name__ == "__main__":
    main()
