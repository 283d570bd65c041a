"""Sweeps of the commands on every executor (issue 16), noisy's resume (issue 12 item 5) and the
locked output folders of the commands (issue 11 items 13 and 15).

The identity tests compare the whole ``results.json`` of a tiny sweep run serially, on two local
processes and as Ray tasks: equal apart from timing fields (``seconds``) and the ``--out`` path.
Every run uses one torch thread (conftest.py in this process; ``cores // jobs`` = 1 in a pool of
2 on CI's 2 cores; ``--cpus-per-run 1`` under Ray), which bit-identical numbers need.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from selfdistill._util.outdir import output_folder  # noqa: E402
from selfdistill.cli import main  # noqa: E402
from selfdistill.nn.data_splits import load_dataset  # noqa: E402
from selfdistill.nn.noisy import runner as noisy_runner  # noqa: E402
from selfdistill.nn.noisy.config import NoisyConfig  # noqa: E402
from selfdistill.nn.noisy.runner import run_noisy  # noqa: E402

NOISY = ["noisy", "--data", "digits", "--n-train", "150", "--width", "16", "--epochs", "2"]
NOISY += ["--method", "ce,early-stop,sd", "--noise", "0.4", "--seeds", "0,1", "--no-progress"]
CHAIN = ["chain", "--data", "digits", "--n-train", "120", "--generations", "2", "--epochs", "1"]
CHAIN += ["--seeds", "0,1", "--width", "8", "--alpha", "0.3", "--no-progress"]
EXECUTORS = {
    "serial": [],
    "processes": ["--jobs", "2"],
    "ray": ["--executor", "ray", "--cpus-per-run", "1"],
}


def without_timing(obj: Any) -> Any:
    """``obj`` without the keys that legitimately differ between runs: ``seconds`` and ``out``."""
    if isinstance(obj, dict):
        return {k: without_timing(v) for k, v in obj.items() if k not in ("seconds", "out")}
    if isinstance(obj, list):
        return [without_timing(v) for v in obj]
    return obj


def results(out: Path) -> Any:
    return without_timing(json.loads((out / "results.json").read_text()))


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def serial_noisy(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("noisy") / "serial"
    assert main([*NOISY, "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("executor", ["processes", "ray"])
def test_noisy_results_do_not_depend_on_the_executor(
    executor: str, serial_noisy: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if executor == "ray":
        request.getfixturevalue("local_ray")
    out = tmp_path / executor
    assert main([*NOISY, *EXECUTORS[executor], "--out", str(out)]) == 0
    expected = results(serial_noisy)
    assert [(r["seed"], r["method"]) for r in expected["runs"]] == [
        (s, m) for s in (0, 1) for m in ("ce", "early-stop", "sd")
    ]
    assert results(out) == expected


def test_chain_results_do_not_depend_on_the_executor(local_ray, tmp_path: Path) -> None:
    got = {}
    for name, options in EXECUTORS.items():
        assert main([*CHAIN, *options, "--out", str(tmp_path / name)]) == 0
        got[name] = results(tmp_path / name)
    assert [r["seed"] for r in got["serial"]["runs"]] == [0, 1]
    assert got["processes"] == got["serial"]
    assert got["ray"] == got["serial"]


def test_a_failed_noisy_run_is_named_and_a_rerun_executes_only_it(
    serial_noisy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    real = noisy_runner.train_method
    calls: list[tuple[int, str]] = []

    def flaky(method, *args, **kwargs):
        calls.append((kwargs["seed"], method))
        if method == "sd" and kwargs["seed"] == 1 and fail:
            raise FloatingPointError("loss is nan at epoch 1")
        return real(method, *args, **kwargs)

    monkeypatch.setattr(noisy_runner, "train_method", flaky)
    out = tmp_path / "killed"
    fail = True
    assert main([*NOISY, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "1 of 4 runs failed" in err and "run 3 (seed 1, noise 0.4, sd)" in err
    assert "FloatingPointError: loss is nan at epoch 1" in err
    assert len(list((out / "state" / "runs").glob("*.json"))) == 3  # the others are kept
    assert not (out / "results.json").exists()
    fail, calls[:] = False, []
    assert main([*NOISY, "--out", str(out)]) == 0
    assert calls == [(1, "sd")]  # only the unfinished run
    assert results(out) == results(serial_noisy)
    calls[:] = []
    assert main([*NOISY, "--out", str(out)]) == 0 and calls == []  # all stored: nothing runs


def test_noisy_refuses_another_config_in_the_same_folder(serial_noisy: Path, capsys) -> None:
    assert main([*NOISY, "--lr", "0.01", "--out", str(serial_noisy)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "another configuration" in err


def test_run_noisy_on_given_data_splits(tmp_path: Path) -> None:
    """Python users hand over their DataSplits; NoisyConfig then needs no data-set name."""
    options = {"n_train": 150, "width": 16, "epochs": 1}
    data = load_dataset("digits", seed=0, n_train=150)
    named = run_noisy(NoisyConfig(data="digits", **options), ["ce", "sd"], [0.2], [0])
    given = NoisyConfig(data=None, **options)
    from selfdistill.execution import Execution

    two = Execution(executor="processes", jobs=2)
    store = tmp_path / "state"
    got = run_noisy(given, ["ce", "sd"], [0.2], [0], data=data, execution=two, store=store)
    assert json.loads(json.dumps(named)) == got
    other = load_dataset("digits", seed=1, n_train=150)
    with pytest.raises(ValueError, match="another configuration"):  # other data, same store
        run_noisy(given, ["ce"], [0.2], [0], data=other, store=store)
    with pytest.raises(ValueError, match="needs data=DataSplits"):
        run_noisy(given, ["ce"], [0.2], [0])


@pytest.mark.parametrize(
    "argv",
    [
        ["chain", "--out", "{file}"],
        ["chain", "--out", "{file}/sub"],
        ["noisy", "--out", "{file}"],
        ["reproduce", "borup-fig2", "--out", "{file}"],
    ],
)
def test_an_output_path_through_a_file_is_one_line(argv: list[str], tmp_path: Path, capsys) -> None:
    file = tmp_path / "FILE"
    file.write_text("not a folder")
    assert main([a.format(file=file) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "--out must be a folder" in err


@pytest.mark.parametrize("command", ["chain", "noisy", "reproduce borup-fig2"])
def test_a_held_output_folder_is_refused_naming_the_holder(
    command: str, tmp_path: Path, capsys
) -> None:
    import os

    with output_folder(tmp_path / "busy"):
        assert main([*command.split(), "--out", str(tmp_path / "busy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"in use by process {os.getpid()}" in err
