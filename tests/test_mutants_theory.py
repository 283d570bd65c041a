"""Tests that kill surviving mutants of `selfdistill.theory` (issue 17, scripts/mutation.py).

The property tests of tests/test_theory.py check the bounds as inequalities on explicit rounds,
which a weaker bound also passes; here the closed forms are compared with the papers' formulas
written out, and the input checks and edge cases the property tests never reach are pinned down.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from selfdistill import theory


def _problem():
    d = np.array([3.0, 1.5, 0.4, 0.1])  # kappa = 30
    y = np.array([1.0, -2.0, 0.5, 1.5])
    epsilon = 0.05  # r0 = ||y|| / sqrt(n eps) = sqrt(7.5) / sqrt(0.2) > 1
    return d, y, epsilon


# ---------------------------------------------------------------- Mobahi Proposition 3


@pytest.mark.parametrize("t", [0, 1, 2.5, 7])
def test_norm_lower_bound_is_proposition_3_written_out(t):
    d, y, epsilon = _problem()
    n, kappa = d.size, d.max() / d.min()
    s = math.sqrt(n * epsilon)
    r0 = np.linalg.norm(y) / s
    a = ((r0 - 1) ** 2 + kappa * (2 * r0 - 1)) / (r0 - 1 + kappa) ** 2
    b = r0**2 * kappa / (r0 - 1 + kappa) ** 2
    expected = a**t * np.linalg.norm(y) - s * b * (a**t - 1) / (a - 1)
    assert theory.norm_lower_bound(t, d, y, epsilon) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- spectra


@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e8])
def test_spectrum_rounding_is_relative_to_the_largest_eigenvalue(scale):
    # +-1e-13 relative (rounding noise of a PSD matrix) is accepted and read as exactly 0 at
    # every scale: B_0 is 0 there, as for an exact 0; -1e-6 relative is refused
    z = np.array([1.0, -0.5, 0.25, 2.0])
    noisy = theory.early_stopping_path(scale * np.array([1.0, 0.5, 1e-13, -1e-13]), z, [0.3])
    exact = theory.early_stopping_path(scale * np.array([1.0, 0.5, 0.0, 0.0]), z, [0.3])
    np.testing.assert_array_equal(noisy.B, exact.B)
    assert np.all(noisy.B[0, 2:] == 0.0) and np.all(noisy.B[0, :2] > 0.0)
    with pytest.raises(ValueError, match=">= 0"):
        theory.early_stopping_path(scale * np.array([1.0, 0.5, -1e-6, 0.0]), z, [0.3])


def test_a_single_eigenvalue_is_a_spectrum():
    # Borup Theorem 4.5 for n = 1: (1 - alpha) d / (d + lam)
    assert theory.limit_rate([2.0], 1.0, 0.25) == pytest.approx(0.75 * 2.0 / 3.0, rel=1e-15)


# ---------------------------------------------------------------- early stopping


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.0, 2.0])
def test_early_stopping_path_epsilons_outside_the_open_interval(bad):
    # mean(z**2) = 1 for z = [1, 1]: epsilon must lie in (0, 1); the ends are refused by the range
    # check itself (epsilon 0 would otherwise return the c -> 0+ limit, epsilon 1 a collapse)
    with pytest.raises(ValueError, match=r"must be in \(0, mean"):
        theory.early_stopping_path([2.0, 1.0], [1.0, 1.0], [0.5, bad])


# ---------------------------------------------------------------- Borup Theorem 4.3


def test_ratio_direction_zero_b_entry_has_no_ratio():
    B = np.array([0.9, 0.0, 0.5])
    A = np.array([0.8, 0.5, 0.2])
    out = theory.ratio_direction(B, A, 0.3)
    assert np.all(np.isnan(out[1, :])) and np.all(np.isnan(out[:, 1]))
    assert np.isfinite(out[0, 2])  # A_0 > A_2, both B positive: a defined direction
