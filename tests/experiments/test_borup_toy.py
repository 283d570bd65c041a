"""Borup & Andersen section 4.5 toy example as a regression test, and its experiment end to end."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from selfdistill import SelfDistilledKernelRidge
from selfdistill._util.outdir import LOCK_NAME, OWNER_NAME
from selfdistill.datasets.toy import load_borup_toy
from selfdistill.experiments import EXPERIMENTS, run_experiment
from selfdistill.experiments.kernel.borup_toy import ratios
from tests.helpers import assert_replots

# The numbers from the issue (MSE against sin(2 pi x) on 0, 0.01, ..., 1; alpha = 0).
REFERENCE = [0.16477, 0.15076, 0.14915, 0.15561, 0.16735, 0.18251]
REFERENCE_LIMIT = 0.49505


def test_shipped_data_are_the_authors_targets() -> None:
    data = load_borup_toy()
    np.testing.assert_array_equal(data.x, np.round(np.arange(11) * 0.1, 12))
    assert data.y[0] == 0.38476636465198066 and data.y[-1] == 0.5589512650600734
    assert (data.gamma, data.lam) == (80.0, 0.2)
    assert data.grid.shape == (101,) and data.grid[1] == 0.01 and data.grid[-1] == 1.0
    np.testing.assert_array_equal(data.reference_mse_alpha0, REFERENCE)


def test_alpha_zero_reproduces_the_reference_mse() -> None:
    data = load_borup_toy()
    est = SelfDistilledKernelRidge(kernel="rbf", gamma=80.0, lam=0.2, steps=6, alpha=0.0)
    est.fit(data.x[:, None], data.y)
    grid = data.grid[:, None]
    mse = [np.mean((p - data.truth) ** 2) for p in est.staged_predict(grid)]
    np.testing.assert_allclose(mse, REFERENCE, atol=5e-6, rtol=0)  # the 5 printed decimals
    assert np.mean((est.predict_limit(grid) - data.truth) ** 2) == pytest.approx(
        REFERENCE_LIMIT, abs=5e-6
    )


def test_misprinted_gamma_does_not_reproduce_the_figure() -> None:
    """With gamma = 1/80 the Gram matrix is numerically rank 2 (papers/README.md)."""
    data = load_borup_toy()
    est = SelfDistilledKernelRidge(kernel="rbf", gamma=1 / 80, lam=0.2, steps=6).fit(
        data.x[:, None], data.y
    )
    assert np.sum(est.eigvals_ > 1e-6 * est.eigvals_[0]) <= 3
    mse = np.mean((est.predict(data.grid[:, None], step=1) - data.truth) ** 2)
    assert mse > 0.3  # nowhere near 0.16477


def test_optimal_alpha_behaves_as_the_paper_describes() -> None:
    """Sec. 4.5: alpha*(tau) approximately equal for tau >= 3; clipped converges at tau = 4."""
    data = load_borup_toy()
    X, grid = data.x[:, None], data.grid[:, None]
    kw = {"kernel": "rbf", "gamma": 80.0, "lam": 0.2, "steps": 6}
    opt = SelfDistilledKernelRidge(alpha="optimal", **kw).fit(X, data.y, grid, data.truth)
    clip = SelfDistilledKernelRidge(alpha="optimal-clipped", **kw).fit(X, data.y, grid, data.truth)
    assert np.ptp(opt.alphas_[2:]) < 0.01 and not (0 <= opt.alphas_[1] <= 1)
    assert abs(clip.alphas_[2] - clip.alphas_[3]) > 0.1 and np.ptp(clip.alphas_[3:]) < 0.01
    # each step's alpha* gives a validation error no larger than alpha = 0 from the same state
    mse_opt = [np.mean((p - data.truth) ** 2) for p in opt.staged_predict(grid)]
    assert mse_opt[1] < REFERENCE[1]


def test_ratios_increase_in_tau_for_alpha_zero() -> None:
    """Borup Thm 4.3 / fig. 4a: R_k^(tau) strictly increasing in tau for every k."""
    data = load_borup_toy()
    est = SelfDistilledKernelRidge(kernel="rbf", gamma=80.0, lam=0.2, steps=6, alpha=0.0)
    R = ratios(est.fit(data.x[:, None], data.y).B_)
    assert R.shape == (6, 10) and np.all(np.diff(R, axis=0) > 0)


def test_experiment_quick_writes_results_and_figures(tmp_path, capsys) -> None:
    assert EXPERIMENTS["borup-fig2"].module == "selfdistill.experiments.kernel.borup_toy"
    args = argparse.Namespace(out=tmp_path, quick=True, progress=False, steps=6)
    results = run_experiment("borup-fig2", args, plot=False)
    table = capsys.readouterr().out
    assert "0.16477" in table and "0.18251" in table and "0.49505" in table
    assert results["max_abs_deviation_from_reference"] == 0.0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["experiment"] == "borup-fig2"
    assert len(saved["results"]["mse"]["optimal"]) == 6
    files = sorted(p.name for p in tmp_path.iterdir() if p.name not in (LOCK_NAME, OWNER_NAME))
    assert files == ["results.json"]  # nothing drawn (the lock holds --out while it runs)
    pngs = ("fig2_steps.png", "fig3_B_diagonal.png", "fig4_ratios.png")
    assert_replots("borup-fig2", tmp_path, tmp_path / "replot", pngs)  # from results.json alone
