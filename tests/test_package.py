"""Package-level contracts: torch-free import, CLI help everywhere, atomic I/O, validation."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import selfdistill
from selfdistill._util import io as _io
from selfdistill._util.outdir import LOCK_NAME, OWNER_NAME
from selfdistill._util.validation import (
    check_choice,
    check_int,
    check_real,
    parse_float_list,
    parse_int_list,
)
from selfdistill.cli import COMMANDS, build_parser, main
from selfdistill.experiments import EXPERIMENTS, add_experiment_arguments, run_experiment
from tests.helpers import BLOCK_TORCH, run_without_torch


def test_import_without_torch() -> None:
    proc = run_without_torch(
        "import selfdistill, selfdistill.cli, selfdistill.experiments\n"
        "selfdistill.cli.build_parser()\n"
        "print('ok', selfdistill.__version__)\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")


def test_top_level_names_are_imported_on_first_use() -> None:
    """``import selfdistill`` does not import scikit-learn; each public name resolves to the
    object its submodule defines, once, and an unknown name is an AttributeError."""
    code = (
        "import sys, selfdistill\n"
        "assert 'sklearn' not in sys.modules, 'eager sklearn'\n"
        "from selfdistill.kernel.ridge import SelfDistilledKernelRidge as K\n"
        "from selfdistill.kernel.cv import SelfDistilledKernelRidgeCV as CV\n"
        "from selfdistill.noise import corrupt_labels as c\n"
        "assert selfdistill.SelfDistilledKernelRidge is K and selfdistill.corrupt_labels is c\n"
        "from selfdistill import SelfDistilledKernelRidgeCV\n"
        "assert SelfDistilledKernelRidgeCV is CV\n"
        "assert set(selfdistill.__all__) <= set(dir(selfdistill))\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr
    for name in selfdistill.__all__:
        assert getattr(selfdistill, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'KernelRidge'"):
        selfdistill.KernelRidge  # noqa: B018


def test_every_registered_module_imports_without_torch() -> None:
    modules = [m for m, _ in COMMANDS.values()]
    modules += [e.module for e in EXPERIMENTS.values()]
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    proc = run_without_torch(code)
    assert proc.returncode == 0, proc.stderr


def test_help_of_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert "demo" in sub.choices and "reproduce" in sub.choices
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage" in capsys.readouterr().out
    for name in EXPERIMENTS:
        with pytest.raises(SystemExit) as exc:
            main(["reproduce", name, "--help"])
        assert exc.value.code == 0
        help_text = capsys.readouterr().out
        assert "--out" in help_text and "--replot OUT" in help_text


def test_every_experiment_has_compute_and_plot() -> None:
    """The experiment module contract: compute(args) -> dict and plot(results, out)."""
    for name, experiment in EXPERIMENTS.items():
        module = experiment.load()
        assert callable(module.compute) and callable(module.plot), name
        assert not hasattr(module, "run"), name


def test_compute_runs_without_matplotlib(tmp_path: Path) -> None:
    """compute never draws: a kernel reproduction computes with matplotlib blocked."""
    block = BLOCK_TORCH.replace(
        'name == "torch" or name.startswith("torch.")', 'name.startswith("matplotlib")'
    )
    code = block + (
        "import argparse\n"
        "from selfdistill.experiments import add_experiment_arguments, run_experiment\n"
        "parser = argparse.ArgumentParser()\n"
        "add_experiment_arguments(parser, 'borup-fig2')\n"
        f"args = parser.parse_args(['--out', {str(tmp_path)!r}, '--quick', '--no-progress'])\n"
        "run_experiment('borup-fig2', args, plot=False)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in tmp_path.iterdir() if p.name not in (LOCK_NAME, OWNER_NAME))
    assert names == ["results.json"]


def test_replot_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def replot(name: str) -> str:
        assert main(["reproduce", name, "--replot", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("selfdistill reproduce: error: --replot")
        return err

    assert "no results.json in" in replot("borup-fig2")
    (tmp_path / "results.json").write_text("{not json")
    assert "is not valid JSON" in replot("borup-fig2")
    _io.write_json(tmp_path / "results.json", [1, 2])
    assert "is not the results of a run (not a JSON object)" in replot("borup-fig2")
    (tmp_path / "results.json").unlink()  # a results.json no command wrote is never replaced
    parser = argparse.ArgumentParser()
    add_experiment_arguments(parser, "borup-fig2")
    run_experiment(
        "borup-fig2", parser.parse_args(["--out", str(tmp_path), "--no-progress"]), plot=False
    )
    capsys.readouterr()
    assert (
        "holds the results of `selfdistill reproduce borup-fig2`, not those of "
        "`selfdistill reproduce sparsity`"
    ) in replot("sparsity")
    assert not any(p.suffix == ".png" for p in tmp_path.iterdir())


def test_version() -> None:
    assert selfdistill.__version__.count(".") == 2


def test_write_json_is_strict_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "r.json"
    _io.write_json(
        path,
        {
            "a": np.float64(1.5),
            "b": np.arange(3),
            "nan": math.nan,
            "p": tmp_path,
            "t": (1, np.int64(2)),
            "flag": np.bool_(True),
        },
    )
    data = json.loads(path.read_text())
    assert data == {
        "a": 1.5,
        "b": [0, 1, 2],
        "nan": None,
        "p": str(tmp_path),
        "t": [1, 2],
        "flag": True,
    }
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary left behind


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    _io.write_json(path, {"old": 1})
    with pytest.raises(TypeError):
        _io.write_json(path, {"bad": object()})
    assert _io.read_json(path) == {"old": 1}
    assert sorted(os.listdir(tmp_path)) == ["r.json"]


def test_write_csv(tmp_path: Path) -> None:
    path = _io.write_csv(tmp_path / "r.csv", [{"a": 1, "b": 2.5}, {"a": 2, "c": "x"}])
    assert path.read_text().splitlines() == ["a,b,c", "1,2.5,", "2,,x"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: check_real("lam", 0.0, low=0.0, low_inclusive=False),
            r"lam must be in \(0, inf\)",
        ),
        (lambda: check_real("alpha", 1.5, low=0.0, high=1.0), r"alpha must be in \[0, 1\]"),
        (lambda: check_real("alpha", float("nan")), "alpha must be finite"),
        (lambda: check_real("alpha", "x"), "alpha must be a real number"),
        (lambda: check_int("steps", 0, low=1), r"steps must be an integer in \[1, inf\]"),
        (lambda: check_int("steps", 1.0, low=1), "steps must be an integer"),
        (lambda: check_choice("kind", "x", ["a", "b"]), "kind must be one of 'a', 'b'"),
        (lambda: parse_int_list("--seeds", "0,a"), "--seeds must be a comma-separated"),
        (lambda: parse_float_list("--grid", "0.1,x"), "--grid must be a comma-separated list"),
        (lambda: parse_float_list("--grid", " , "), "--grid must name at least one number"),
        (
            lambda: parse_float_list("--noise", "0.2,1.5", low=0, high=1),
            r"--noise must be in \[0, 1\]",
        ),
        (lambda: parse_float_list("--noise", "nan"), "--noise must be finite"),
    ],
)
def test_validation_messages_name_the_argument(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_parse_int_list() -> None:
    assert parse_int_list("--seeds", "0, 1,2") == [0, 1, 2]


def test_parse_float_list() -> None:
    assert parse_float_list("--noise", "0, 0.2,0.4", low=0.0, high=1.0) == (0.0, 0.2, 0.4)
    assert parse_float_list("--grid", "-0.5") == (-0.5,)


def test_the_demo_writes_each_parts_page(tmp_path: Path) -> None:
    # README: each demo part writes its results.json, figures and report.html, as `reproduce`
    from selfdistill.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--only", "borup-fig2", "--out", str(out), "--no-progress"]) == 0
    page = (out / "borup-fig2" / "report.html").read_text(encoding="utf-8")
    assert "borup-fig2" in page and "<img" in page
