"""End-to-end runs of the NTK reproductions (dong-fig2, dong-fig5, ntk-kernel) at tiny sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from selfdistill.cli import build_parser, main
from selfdistill.experiments import run_experiment
from tests.helpers import assert_replots


def _run(name: str, out: Path, *options: str) -> dict:
    """The quick variant parsed as the CLI parses it, computed without drawing."""
    argv = ["reproduce", name, "--quick", "--no-progress", "--out", str(out), *options]
    run_experiment(name, build_parser().parse_args(argv), plot=False)
    data = json.loads((out / "results.json").read_text())
    assert data["experiment"] == name
    return data["results"]


def test_dong_fig2_tiny(tmp_path: Path) -> None:
    results = _run(
        "dong-fig2",
        tmp_path,
        *("--seeds", "0", "--epochs", "2", "--width", "32", "--probe", "48", "--noise", "0,0.5"),
    )
    assert_replots("dong-fig2", tmp_path, tmp_path / "replot", ["dong_fig2.png"])
    assert results["noise"] == [0.0, 0.5]
    for kind in ("raw", "centred"):
        for state in ("init", "trained"):
            entry = results["energy"][kind][state]
            assert len(entry["mean"]) == 2
            assert all(0.0 <= e <= 1.0 for e in entry["mean"])
    # clean labels carry more of their (centred) energy in the top eigenspace than 50 % noise
    centred = results["energy"]["centred"]["trained"]["mean"]
    assert centred[0] > centred[1] + 0.05
    assert results["random_vector_energy"] == pytest.approx(5 / 48)


def test_dong_fig5_tiny(tmp_path: Path) -> None:
    results = _run(
        "dong-fig5",
        tmp_path,
        *("--seeds", "0", "--iterations", "12", "--every", "5", "--width", "16", "--probe", "24"),
    )
    assert_replots("dong-fig5", tmp_path, tmp_path / "replot", ["dong_fig5.png"])
    summary = results["summary"]
    assert summary["steps"] == [0, 5, 10]
    gain = np.array(summary["information_gain"]["mean"])
    energies = summary["energy"]
    np.testing.assert_allclose(
        gain, np.array(energies["targets"]) - np.array(energies["noisy"]), atol=1e-12
    )
    assert all(0.0 <= a <= 1.0 for a in summary["alpha"])


def test_ntk_kernel_tiny(tmp_path: Path) -> None:
    results = _run(
        "ntk-kernel",
        tmp_path,
        *("--seeds", "0", "--n-train", "80", "--generations", "2", "--alphas", "0,1"),
        *("--epochs", "1", "--width", "16"),
    )
    assert_replots("ntk-kernel", tmp_path, tmp_path / "replot", ["ntk_kernel.png"])
    kernel = results["kernel"]
    # step 1 is plain kernel ridge regression whatever alpha; alpha = 1 repeats it at step 2
    assert kernel["0.0"]["test_acc"][0] == kernel["1.0"]["test_acc"][0]
    assert kernel["1.0"]["test_acc"][1] == kernel["1.0"]["test_acc"][0]
    assert len(results["kernel_alpha_hat"]) == 1
    network = results["network"]
    assert set(network) == {"0.0", "1.0", "optimal"}
    assert network["0.0"]["test_acc"][0] == network["1.0"]["test_acc"][0]  # shared generation 1
    no_net = _run(
        "ntk-kernel",
        tmp_path / "kernel-only",
        *("--seeds", "0", "--n-train", "80", "--generations", "2", "--alphas", "0"),
        *("--width", "16", "--no-network"),
    )
    assert "network" not in no_net and no_net["kernel"]["0.0"]["test_acc"]
    out = tmp_path / "kernel-only"
    assert_replots("ntk-kernel", out, tmp_path / "replot-kernel-only", ["ntk_kernel.png"])


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("dong-fig2", ["--noise", "0,2"], "--noise must be in [0, 1], got 2.0"),
        ("dong-fig5", ["--noise", "1.0"], "--noise must be in"),
        ("ntk-kernel", ["--generations", "1"], "--generations must be at least 2"),
        ("ntk-kernel", ["--alphas", "x"], "--alphas must be a comma-separated list of numbers"),
    ],
)
def test_bad_options_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, options: list, message: str
) -> None:
    code = main(["reproduce", name, "--quick", "--no-progress", "--out", str(tmp_path), *options])
    assert code == 2
    assert message in capsys.readouterr().err


def test_full_defaults_are_large_probes_capped_at_the_split() -> None:
    """Issue 14 part 5: full runs use probes of up to 2000 (dong-fig2), 1000 (dong-fig5) and
    n-train up to 2000 (ntk-kernel), capped at what the data set holds; --quick keeps the small
    demo sizes; a size the user gives is kept and refused when too large."""
    from selfdistill import training_flags as opt
    from selfdistill.experiments.ntk import dong_fig2, dong_fig5, ntk_kernel

    def settings(module, name: str, *options: str) -> dict:
        return module._settings(build_parser().parse_args(["reproduce", name, *options]))

    fig2, fig5 = settings(dong_fig2, "dong-fig2"), settings(dong_fig5, "dong-fig5")
    assert (fig2["probe"], fig5["probe"], fig5["every"]) == (2000, 1000, 50)
    assert settings(dong_fig2, "dong-fig2", "--quick")["probe"] == 128
    assert settings(dong_fig5, "dong-fig5", "--quick")["probe"] == 128
    opt.cap_default(fig2, "probe", 359)  # digits' test split
    assert fig2["probe"] == 359 and "probe_given" not in fig2
    given = settings(dong_fig2, "dong-fig2", "--probe", "500")
    opt.cap_default(given, "probe", 359)
    assert given["probe"] == 500  # refused later by _task, naming --probe
    kernel = settings(ntk_kernel, "ntk-kernel")
    data = ntk_kernel._load(kernel, {})
    assert kernel["n_train"] == len(data.x_train) == 1294 and "n_train_given" not in kernel
    assert settings(ntk_kernel, "ntk-kernel", "--quick")["n_train"] == 300
    with pytest.raises(ValueError, match=r"n_train must be in \[1, 1294\]"):
        ntk_kernel._load(settings(ntk_kernel, "ntk-kernel", "--n-train", "2000"), {})
