"""End-to-end runs of the quick variants of ``mobahi-fig2`` and ``sparsity``."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from selfdistill._util.io import read_json
from selfdistill.experiments import add_experiment_arguments, run_experiment
from tests.helpers import assert_replots


def run_quick(name: str, out, *extra: str) -> dict:
    """The quick variant's results, computed without drawing a figure."""
    parser = argparse.ArgumentParser()
    add_experiment_arguments(parser, name)
    args = parser.parse_args(["--out", str(out), "--quick", "--no-progress", *extra])
    run_experiment(name, args, plot=False)
    saved = read_json(out / "results.json")
    assert saved["experiment"] == name
    return saved["results"]


def test_mobahi_fig2_reproduces_four_rounds_then_collapse(tmp_path):
    res = run_quick("mobahi-fig2", tmp_path)
    assert_replots("mobahi-fig2", tmp_path, tmp_path / "replot", ["mobahi_fig2.png"])
    # Seed 0: four rounds t = 0..3 and the collapse at the fifth fit, as in the paper.
    assert res["rounds_before_collapse"] == 4
    assert res["collapsed_at_step"] == 5
    # Every round meets its constraint exactly and c_t lies inside eq. 12's bounds.
    np.testing.assert_allclose(res["train_mse_against_round_targets"], 0.04, rtol=1e-9)
    assert all(res["c_within_bounds"])
    # Two zero eigenvalues (x = 0 and x = 1): semi-definite Gram matrix, B = 0 there.
    assert sum(v == 0.0 for v in res["eigvals_G"]) == 2
    B = np.array(res["B"])
    assert np.all(B[:, -2:] == 0.0)
    assert np.all(B[1:, :-2] < B[:-1, :-2])  # every basis coefficient shrinks
    # A few rounds help, more rounds underfit (section 4).
    mse = res["test_mse_against_sin"]
    assert mse[1] < mse[0] < mse[-1]


def test_mobahi_fig2_rejects_bad_options(tmp_path):
    with pytest.raises(ValueError, match="--epsilon"):
        run_quick("mobahi-fig2", tmp_path, "--epsilon", "-1")


def test_sparsity_quick_run(tmp_path):
    res = run_quick("sparsity", tmp_path)
    pngs = ("sparsity_vs_epsilon.png", "sd_vs_early_stopping.png")
    assert_replots("sparsity", tmp_path, tmp_path / "replot", pngs)
    sweep = res["sweep"]
    # Proposition 4 on every tolerance; Theorem 6: S decreases in epsilon, below its limit.
    assert all(
        obs >= np.floor(t)
        for obs, t in zip(sweep["observed_rounds"], sweep["t_lower"], strict=True)
    )
    s = np.array(sweep["max_sparsity_index"])
    assert np.all(np.diff(s) <= 0) and np.all(s <= sweep["sparsity_index_limit"])
    # Theorem 5 at floor(t_lower) where that is at least one round.
    for bound, obs in zip(
        sweep["sparsity_index_at_t_floor"],
        sweep["observed_neighbour_ratio_at_t_floor"],
        strict=True,
    ):
        assert (bound is None) == (obs is None)
        if bound is not None:
            assert obs >= bound
    # Section 3.4: early stopping stays above the pattern of D, self-distillation goes below it.
    cmp = res["comparison"]
    floor = cmp["pattern_of_D_effective_bases"]
    assert min(cmp["early_stopping_effective_bases"]) > floor
    assert cmp["self_distillation_effective_bases"][-1] < floor


def test_sparsity_rejects_bad_fraction(tmp_path):
    with pytest.raises(ValueError, match="--epsilon-fraction"):
        run_quick("sparsity", tmp_path, "--epsilon-fraction", "1.5")
