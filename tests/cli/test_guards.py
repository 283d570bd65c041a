"""Regression tests of issue 11, items 4, 5, 6 and 11: repeated seeds, a 0 taken for "the
default", α outside [0, 1] with cross-entropy, and sizes that exhaust memory before any error.

Each CLI case must exit 2 with one line ``selfdistill CMD: error: ...`` naming the option, before
anything is trained or written; each Python case must raise ValueError naming the argument.
"""

from __future__ import annotations

import argparse
import json
import time

import pytest

from selfdistill._util.validation import (
    MAX_GENERATIONS,
    MAX_SEEDS,
    check_seeds,
    parse_int_list,
    parse_seeds,
)
from selfdistill.cli import main
from selfdistill.experiments import recorded_config
from selfdistill.training_flags import QuickDefault, resolve_int, resolve_int_list


def _error_line(capsys, argv: list[str], *needles: str) -> str:
    """Run ``main(argv)``; assert exit 2, one stderr line naming every needle, nothing on stdout."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"selfdistill {argv[0]}: error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in captured.err
    return lines[0]


# ---- item 4: repeated seeds -------------------------------------------------------------------


def test_parse_seeds_refuses_a_repeated_seed_and_names_it():
    with pytest.raises(ValueError, match=r"--seeds names 0 more than once"):
        parse_seeds("--seeds", "0,0")
    with pytest.raises(ValueError, match=r"names 1, 2 more than once"):
        parse_seeds("--seeds", "2,1,2,1,3")
    assert parse_seeds("--seeds", "3, 1,2") == [3, 1, 2]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("-1", r"--seeds must be an integer in \[0, 4294967295\]"),
        (str(2**32), r"--seeds must be an integer in \[0, 4294967295\]"),
        (",".join(map(str, range(MAX_SEEDS + 1))), rf"at most {MAX_SEEDS} values"),
        ("0,x", "comma-separated list of integers"),
        (",", "at least one integer"),
    ],
)
def test_parse_seeds_ranges(text, match):
    with pytest.raises(ValueError, match=match):
        parse_seeds("--seeds", text)


def test_parse_int_list_keeps_repeats_unless_asked():
    assert parse_int_list("--x", "1,1") == [1, 1]
    with pytest.raises(ValueError, match="--x names 1 more than once"):
        parse_int_list("--x", "1,1", unique=True)


@pytest.mark.parametrize(
    ("seeds", "error"),
    [([0, 0], ValueError), ([], ValueError), ([-1], ValueError), ([0.5], ValueError),
     ("01", TypeError), (3, TypeError)],
)  # fmt: skip
def test_check_seeds(seeds, error):
    with pytest.raises(error, match="seeds"):
        check_seeds("seeds", seeds)


@pytest.mark.parametrize(
    "argv",
    [
        ["chain", "--seeds", "0,0"],
        ["noisy", "--seeds", "4,4"],
        ["reproduce", "mobahi-fig3", "--quick", "--seeds", "1,1"],
        ["reproduce", "dong-table1", "--quick", "--seeds", "0,0"],
    ],
)
def test_cli_refuses_repeated_seeds(capsys, tmp_path, argv):
    pytest.importorskip("torch")
    out = tmp_path / "out"
    _error_line(capsys, [*argv, "--out", str(out), "--no-progress"], "--seeds", "more than once")
    assert not out.exists()


def test_python_apis_refuse_repeated_seeds():
    pytest.importorskip("torch")
    from selfdistill.nn.chains.run import ChainConfig, run_chains
    from selfdistill.nn.noisy.config import NoisyConfig
    from selfdistill.nn.noisy.runner import run_noisy

    with pytest.raises(ValueError, match="seeds names 0 more than once"):
        run_chains(None, ChainConfig(generations=1), [0, 0])  # checked before the data is used
    with pytest.raises(ValueError, match="seeds names 2 more than once"):
        run_noisy(NoisyConfig(), ["ce"], [0.2], [2, 2])


# ---- item 5: --epochs 0 is not "the default" ---------------------------------------------------


def test_resolve_int_refuses_zero_and_names_the_flag():
    default = QuickDefault(full=30, quick=15)
    assert resolve_int(None, default, True, "--epochs") == 15
    assert resolve_int(7, default, True, "--epochs") == 7
    for bad in (0, -3):
        with pytest.raises(ValueError, match=r"--epochs must be an integer in \[1, 100000\]"):
            resolve_int(bad, default, True, "--epochs")
    with pytest.raises(ValueError, match="--seeds must name at least one integer"):
        resolve_int_list("--seeds", "", QuickDefault(full=(0,), quick=(0,)), True)


@pytest.mark.parametrize(
    ("name", "flag"),
    [
        ("mobahi-fig3", "--epochs"),
        ("mobahi-fig3", "--generations"),
        ("mobahi-fig3", "--n-train"),
        ("mobahi-fig3", "--width"),
        ("borup-fig5", "--epochs"),
        ("dong-fig1", "--student-epochs"),
        ("dong-fig2", "--width"),
        ("dong-fig5", "--iterations"),
        ("dong-fig5", "--every"),
        ("ntk-kernel", "--generations"),
        ("dong-table1", "--epochs"),
        ("dong-table1", "--width"),
    ],
)
def test_reproduce_refuses_zero_for_every_quick_dependent_option(capsys, tmp_path, name, flag):
    pytest.importorskip("torch")
    out = tmp_path / "out"
    argv = ["reproduce", name, "--quick", flag, "0", "--out", str(out), "--no-progress"]
    _error_line(capsys, argv, flag)
    assert not out.exists()


def test_recorded_config_is_what_ran():
    args = argparse.Namespace(quick=True, epochs=None, seeds=None, width=256, out="x")
    results = {"settings": {"epochs": 15, "seeds": [0, 1], "width": 256, "lr": 0.1}}
    config = recorded_config(args, results)
    assert config == {"quick": True, "epochs": 15, "seeds": [0, 1], "width": 256, "out": "x"}


def test_reproduce_dry_run_reports_the_resolved_quick_defaults(capsys, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "out"
    argv = ["reproduce", "mobahi-fig3", "--quick", "--dry-run", "--out", str(out)]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["settings"]["epochs"] == 15 and report["settings"]["generations"] == 5
    assert report["settings"]["seeds"] == [0, 1]
    assert not out.exists()


# ---- item 6: α in [0, 1] with cross-entropy ----------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--alpha", "1.7"], "--alpha (with --loss ce) must be in [0, 1], got 1.7"),
        (["--alpha", "-0.1"], "--alpha (with --loss ce)"),
        (["--generations", "3", "--alpha", "0.5,1.5"], "--alpha (with --loss ce)"),
        (["--alpha", "grid", "--grid", "0,1.2"], "--grid must be in [0, 1]"),
        (["--alpha", "estimate", "--no-clip-alpha"], "--no-clip-alpha"),
    ],
)
def test_chain_ce_refuses_alpha_outside_the_unit_interval(capsys, tmp_path, extra, needle):
    pytest.importorskip("torch")
    argv = ["chain", "--loss", "ce", *extra, "--out", str(tmp_path / "o"), "--dry-run"]
    _error_line(capsys, argv, needle)


@pytest.mark.parametrize(
    "extra",
    [["--alpha", "1.7"], ["--alpha", "-0.5"], ["--alpha", "estimate", "--no-clip-alpha"],
     ["--alpha", "grid", "--grid=-1,2"]],
)  # fmt: skip
def test_chain_mse_keeps_any_real_alpha(capsys, tmp_path, extra):
    pytest.importorskip("torch")
    argv = ["chain", "--loss", "mse", *extra, "--out", str(tmp_path / "o"), "--dry-run"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["dry_run"] is True


def test_chain_config_and_distill_step_refuse_ce_alpha_outside_unit_interval():
    torch = pytest.importorskip("torch")
    from selfdistill.nn import TrainConfig, build_model, distill_step
    from selfdistill.nn.chains.run import ChainConfig
    from selfdistill.nn.data_splits import DataSplits

    for kwargs in (
        {"alpha": 1.7},
        {"alpha": (0.5, -0.2), "generations": 3},
        {"alpha": "grid", "grid": (0.0, 1.5)},
    ):
        with pytest.raises(ValueError, match=r"with loss 'ce'\) must be in \[0, 1\]"):
            ChainConfig(loss="ce", **kwargs)
    with pytest.raises(ValueError, match="clip_alpha=False"):
        ChainConfig(loss="ce", alpha="estimate", clip_alpha=False)
    assert ChainConfig(loss="mse", alpha=1.7).alpha == 1.7  # Borup: any real alpha
    assert ChainConfig(loss="mse", alpha="estimate", clip_alpha=False).clip_alpha is False

    x = torch.randn(8, 4)
    y = torch.arange(8) % 2
    data = DataSplits("toy", x, y, x, y, x, y, num_classes=2, input_shape=(4,))
    teacher = build_model("mlp", (4,), 2, width=4, seed=0)
    student = build_model("mlp", (4,), 2, width=4, seed=1)
    config = TrainConfig(epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"alpha \(with loss 'ce'\) must be in \[0, 1\]"):
        distill_step(student, teacher, data, config, alpha=1.7, loss="ce")
    distill_step(student, teacher, data, config, alpha=1.7, loss="mse")  # allowed


# ---- item 11: sizes are capped with a clear bound -----------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["chain", "--generations", "10" * 6], f"--generations must be an integer in [1, {MAX_GENERATIONS}]"),  # noqa: E501
        (["chain", "--epochs", "10000000000"], "--epochs must be an integer in [1, 100000]"),
        (["chain", "--width", "10000000000"], "--width must be an integer in [1, 65536]"),
        (["noisy", "--width", "10000000000"], "--width must be an integer in [1, 65536]"),
        (["noisy", "--depth", "100000"], "--depth must be an integer in [0, 256]"),
        (["noisy", "--epochs", "10000000000"], "--epochs"),
        (["noisy", "--num-samples", "10000000000"], "--num-samples must be an integer in [20, 1000000]"),  # noqa: E501
        (["reproduce", "mobahi-fig3", "--generations", "100000000000"], "--generations"),
        (["reproduce", "ntk-kernel", "--width", "100000000"], "--width"),
    ],
)  # fmt: skip
def test_huge_sizes_fail_at_once(capsys, tmp_path, argv, needle):
    pytest.importorskip("torch")
    start = time.perf_counter()
    _error_line(capsys, [*argv, "--out", str(tmp_path / "o"), "--dry-run"], needle)
    assert time.perf_counter() - start < 20.0


def test_python_api_caps():
    pytest.importorskip("torch")
    from selfdistill.nn import TrainConfig, build_model, load_dataset
    from selfdistill.nn.chains.run import ChainConfig
    from selfdistill.nn.models import ModelSpec

    with pytest.raises(ValueError, match=r"generations must be an integer in \[1, 1000\]"):
        ChainConfig(generations=10**11)
    with pytest.raises(ValueError, match=r"epochs must be an integer in \[1, 100000\]"):
        TrainConfig(epochs=10**10)
    with pytest.raises(ValueError, match=r"width must be an integer in \[1, 65536\]"):
        build_model("mlp", (4,), 2, width=10**10)
    with pytest.raises(ValueError, match=r"depth must be an integer in \[0, 256\]"):
        ModelSpec("mlp", depth=10**6)
    with pytest.raises(ValueError, match=r"num_samples must be an integer in \[20, 1000000\]"):
        load_dataset("mnist1d", num_samples=10**11)


@pytest.mark.parametrize(
    "argv",
    [
        ["chain", "--jobs", "0"],
        ["noisy", "--jobs", "0"],
        ["reproduce", "borup-fig5", "--quick", "--jobs", "0"],
        ["reproduce", "dong-table1", "--quick", "--jobs", "0"],
    ],
)
def test_dry_run_checks_the_execution_options_too(capsys, tmp_path, argv):
    pytest.importorskip("torch")
    _error_line(capsys, [*argv, "--out", str(tmp_path / "o"), "--dry-run"], "jobs must be")


def test_results_json_records_the_quick_defaults_that_ran(tmp_path, monkeypatch):
    """``run_experiment`` writes ``config`` with the resolved ``--quick`` defaults (here with the
    experiment's computation replaced by one that returns its settings only)."""
    from types import SimpleNamespace

    import selfdistill.experiments as ex
    from selfdistill.experiments.chains import mobahi_fig3

    fake = SimpleNamespace(
        compute=lambda args: {"settings": mobahi_fig3._settings(args)},
        plot=lambda results, out: None,
        _settings=mobahi_fig3._settings,
    )
    experiment = ex.EXPERIMENTS["mobahi-fig3"]
    monkeypatch.setitem(
        ex.EXPERIMENTS,
        "mobahi-fig3",
        type(experiment)(**{**vars(experiment), "needs_torch": False}),
    )
    monkeypatch.setattr(type(experiment), "load", lambda self: fake)
    parser = argparse.ArgumentParser()
    ex.add_common_arguments(parser, "mobahi-fig3")
    mobahi_fig3.add_arguments(parser)
    args = parser.parse_args(["--quick", "--out", str(tmp_path / "o"), "--width", "32"])
    ex.run_experiment("mobahi-fig3", args)
    config = json.loads((tmp_path / "o" / "results.json").read_text())["config"]
    assert config["epochs"] == 15 and config["generations"] == 5 and config["n_train"] == 1000
    assert config["seeds"] == [0, 1] and config["width"] == 32


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["reproduce", "dong-fig1", "--teacher-width", "0"], "--teacher-width"),
        (["reproduce", "dong-fig1", "--student-width", str(10**9)], "--student-width"),
        (["reproduce", "dong-fig1", "--temperature", "0"], "--temperature"),
        (["reproduce", "borup-fig5", "--lr", "0"], "--lr must be in (0, inf)"),
        (["reproduce", "mobahi-fig3", "--lr-mse", "nan"], "--lr-mse must be finite"),
        (["reproduce", "mobahi-fig3", "--lr-ce", "-1"], "--lr-ce"),
    ],
)
def test_reproductions_check_sizes_and_rates_before_training(capsys, tmp_path, argv, needle):
    pytest.importorskip("torch")
    _error_line(capsys, [*argv, "--out", str(tmp_path / "o"), "--dry-run"], needle)
