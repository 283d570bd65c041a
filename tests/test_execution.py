"""The execution layer of sweeps (issue 16): same results on every executor, resume, faults.

Run functions live at module level so that the ``processes`` executor (spawn) and Ray can import
them; Ray's workers do not see pytest's ``sys.path``, so this module is pickled by value for Ray.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from selfdistill.execution import (
    Execution,
    RunStore,
    SweepError,
    run_sweep,
    spec_key,
)


def toy_run(spec: dict) -> dict:
    """A deterministic 'training': a seeded least-squares fit, plus a call record on disk."""
    if "calls" in spec:
        Path(spec["calls"], f"{spec['seed']}-{os.getpid()}-{time.time_ns()}").touch()
    rng = np.random.default_rng(spec["seed"])
    X = rng.standard_normal((40, 5))
    y = X @ np.arange(1.0, 6.0) + spec["noise"] * rng.standard_normal(40)
    coef = np.linalg.lstsq(X, y, rcond=None)[0]
    return {"coef": coef, "mse": float(np.mean((X @ coef - y) ** 2)), "nan": float("nan")}


def failing_run(spec: dict) -> dict:
    if spec["seed"] == 2:
        raise ValueError("training diverged at epoch 3 (lower lr)")
    return toy_run(spec)


def dying_once_run(spec: dict) -> dict:
    """Kills its worker process on the first attempt of seed 1 (Ray must re-run it)."""
    marker = Path(spec["marker"])
    if spec["seed"] == 1 and not marker.exists():
        marker.touch()
        os._exit(1)
    return toy_run({k: v for k, v in spec.items() if k != "marker"})


def specs(n: int = 4, **extra: object) -> list[dict]:
    return [{"seed": s, "noise": 0.1 * s, **extra} for s in range(n)]


def expected() -> list[dict]:
    return [json.loads(json.dumps(_plain(toy_run(s)))) for s in specs()]


def _plain(result: dict) -> dict:
    return {"coef": result["coef"].tolist(), "mse": result["mse"], "nan": None}


def test_serial_results_in_order_and_json_normalised() -> None:
    assert run_sweep(toy_run, specs(), progress=False) == expected()


def test_processes_match_serial() -> None:
    ex = Execution(executor="processes", jobs=2)
    assert run_sweep(toy_run, specs(), execution=ex, progress=False) == expected()


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_matches_serial_and_reruns_a_dead_worker(local_ray, tmp_path: Path) -> None:
    ex = Execution(executor="ray", cpus_per_run=1, max_retries=2)
    assert run_sweep(toy_run, specs(), execution=ex, progress=False) == expected()
    marker = tmp_path / "died-once"
    got = run_sweep(dying_once_run, specs(marker=str(marker)), execution=ex, progress=False)
    assert marker.exists()  # the first attempt did die
    assert got == expected()


def test_ray_reports_a_worker_that_always_dies(local_ray, tmp_path: Path) -> None:
    ex = Execution(executor="ray", max_retries=0)
    runs = specs(2, marker=str(tmp_path / "never-created-before-exit"))
    with pytest.raises(SweepError, match="run 1") as info:
        run_sweep(dying_once_run, runs, execution=ex, store=tmp_path / "store", progress=False)
    assert [f.index for f in info.value.failures] == [1]
    assert RunStore(tmp_path / "store").load(info.value.failures[0].spec) is None
    assert len(list((tmp_path / "store").glob("*.json"))) == 1  # run 0 was kept


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_a_failing_run_is_reported_and_the_others_kept(executor: str, tmp_path: Path) -> None:
    ex = Execution(executor=executor, jobs=2 if executor == "processes" else None)
    with pytest.raises(SweepError) as info:
        run_sweep(failing_run, specs(), execution=ex, store=tmp_path, progress=False)
    (failure,) = info.value.failures
    assert failure.index == 2 and failure.spec == specs()[2]
    assert "ValueError: training diverged at epoch 3" in failure.error
    assert "1 of 4 runs failed" in str(info.value)
    stored = RunStore(tmp_path)
    for i, spec in enumerate(specs()):
        assert (stored.load(spec) is None) == (i == 2)
    if executor == "serial":  # the rerun executes only the failed run (it fails again)
        with pytest.raises(SweepError, match="1 of 4"):
            run_sweep(failing_run, specs(), execution=ex, store=tmp_path, progress=False)


def test_rerun_executes_only_unfinished_runs(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    calls.mkdir()
    runs = specs(calls=str(calls))
    first = run_sweep(toy_run, runs, store=tmp_path / "store", progress=False)
    assert len(list(calls.iterdir())) == 4
    # a damaged record is a run to redo, not an error
    record = tmp_path / "store" / f"{spec_key(runs[3])}.json"
    record.write_text('{"spec": {"seed": 3', encoding="utf-8")
    again = run_sweep(toy_run, runs, store=tmp_path / "store", progress=False)
    assert again == first
    assert len(list(calls.iterdir())) == 5  # only run 3 ran again


DRIVER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    import test_execution as te
    from selfdistill.execution import run_sweep
    run_sweep(te.slow_after_two, te.specs(calls={calls!r}), store={store!r}, progress=False)
    """
)


def slow_after_two(spec: dict) -> dict:
    if spec["seed"] >= 2 and not Path(spec["calls"], "fast").exists():
        time.sleep(600)  # the driver is killed while this run is under way
    return toy_run(spec)


def test_killed_driver_resumes_with_only_the_unfinished_runs(tmp_path: Path) -> None:
    calls, store = tmp_path / "calls", tmp_path / "store"
    calls.mkdir()
    code = DRIVER.format(tests=str(Path(__file__).parent), calls=str(calls), store=str(store))
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(list(store.glob("*.json"))) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, "the driver ended before it was killed"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert len(list(store.glob("*.json"))) == 2
    (calls / "fast").touch()
    before = {p.name for p in calls.iterdir()}
    results = run_sweep(slow_after_two, specs(calls=str(calls)), store=store, progress=False)
    ran = {p.name.split("-")[0] for p in calls.iterdir()} - {"fast"}
    new = {p.name.split("-")[0] for p in set(calls.iterdir()) - {calls / n for n in before}}
    assert new == {"2", "3"} and ran >= {"0", "1", "2", "3"}
    assert results == run_sweep(toy_run, specs(), progress=False)


def test_repeated_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="specs must all differ"):
        run_sweep(toy_run, [specs()[0], dict(specs()[0])], progress=False)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"executor": "dask"}, "executor"),
        ({"executor": "processes", "jobs": 0}, "jobs"),
        ({"cpus_per_run": 0}, "cpus_per_run"),
        ({"gpus_per_run": -1}, "gpus_per_run"),
        ({"max_retries": -1}, "max_retries"),
        ({"ray_address": "auto"}, "ray_address"),
    ],
)
def test_bad_execution_settings(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Execution(**kwargs)


def test_threads_per_run() -> None:
    cores = os.cpu_count() or 1
    assert Execution(executor="processes", jobs=cores).threads_per_run == 1
    assert Execution(executor="ray", cpus_per_run=2).threads_per_run == 2


def test_ray_missing_is_a_one_line_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from selfdistill.execution import add_execution_arguments, execution_from_args

    parser = argparse.ArgumentParser()
    add_execution_arguments(parser)
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(RuntimeError, match=r'pip install "selfdistill\[ray\]"'):
        execution_from_args(parser.parse_args(["--executor", "ray"]))
    assert execution_from_args(parser.parse_args(["--jobs", "2"])).executor == "processes"
