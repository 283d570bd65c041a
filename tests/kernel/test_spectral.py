"""Direct tests of `selfdistill.kernel.spectral` that kill its surviving mutants (issue 17).

The estimator's tests reach these functions only with well-conditioned data; here each edge the
code handles explicitly (empty and 1 x 1 matrices, the relative null-space threshold at every
scale, a spectrum that is all null space, a loss at infinity exactly equal to epsilon, equal
eigenvalues, predictions that agree to rounding) is checked against a hand or brute-force value.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from selfdistill.kernel.spectral import (
    EIGVAL_RTOL,
    b_recursion,
    eigh_descending,
    epsilon_ridge,
    filter_polynomials,
    optimal_alpha,
    shrink_factors,
    step_loss,
)


def _rotated(eigenvalues, seed=0):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(len(eigenvalues),) * 2))
    return (q * eigenvalues) @ q.T


# ---------------------------------------------------------------- eigh_descending


def test_eigh_descending_empty_and_one_by_one():
    d, V = eigh_descending(np.zeros((0, 0)))
    assert d.shape == (0,) and V.shape == (0, 0)
    d, V = eigh_descending(np.array([[4.0]]))
    assert d.shape == (1,) and V.shape == (1, 1)
    np.testing.assert_array_equal(d, [4.0])
    np.testing.assert_array_equal(np.abs(V), [[1.0]])


@pytest.mark.parametrize("scale", [1e-14, 1e-6, 1.0, 1e8])
def test_eigh_descending_threshold_is_relative_at_every_scale(scale):
    # eigenvalues 1, 1e-3 (kept at every scale) and 1e-12 (below rtol = 1e-10: zeroed), times scale
    K = scale * _rotated(np.array([1.0, 1e-3, 1e-12]))
    d, V = eigh_descending(K)
    assert d[2] == 0.0
    np.testing.assert_allclose(d[:2], [scale, 1e-3 * scale], rtol=1e-9)
    np.testing.assert_allclose(V.T @ V, np.eye(3), atol=1e-12)
    assert EIGVAL_RTOL == 1e-10


# ---------------------------------------------------------------- b_recursion, step_loss


def test_b_recursion_first_step_ignores_alpha():
    # B^(1) = A_1 whatever alpha_1 is (Borup Lemma 4.2); later steps mix with alpha_t.
    d = np.array([3.0, 1.0, 0.0])
    lams, alphas = np.array([0.5, 2.0]), np.array([0.9, 0.25])
    a1, a2 = shrink_factors(d, 0.5), shrink_factors(d, 2.0)
    expected = np.vstack([a1, a2 * (0.75 * a1 + 0.25)])
    np.testing.assert_allclose(b_recursion(d, lams, alphas), expected, rtol=1e-15)
    np.testing.assert_allclose(b_recursion(d, lams, [0.0, 0.25]), expected, rtol=1e-15)


def test_step_loss_at_zero_finite_and_infinite_ridge():
    d = np.array([2.0, 1.0, 0.0, 0.0])
    w = np.array([1.0, -2.0, 3.0, 0.5])
    n, const = 4, 0.125
    # lam -> 0+: only the null space (d = 0) keeps its residual
    assert step_loss(0.0, d, w, const, n) == pytest.approx((9.0 + 0.25) / n + const, rel=1e-15)
    # lam = inf: the zero function, the whole target is the residual
    assert step_loss(math.inf, d, w, const, n) == pytest.approx(14.25 / n + const, rel=1e-15)
    lam = 0.5
    r = lam / (d + lam)
    assert step_loss(lam, d, w, const, n) == pytest.approx(np.sum(r**2 * w**2) / n + const)


# ---------------------------------------------------------------- epsilon_ridge


def _root_by_brute_force(d, w, const, epsilon):
    n = d.shape[0]
    return math.exp(
        brentq(
            lambda u: step_loss(math.exp(u), d, w, const, n) - epsilon,
            -60.0,
            60.0,
            xtol=1e-15,
            rtol=1e-15,
        )
    )


def test_epsilon_ridge_all_null_space_collapses_or_hits_the_limit():
    d, w = np.zeros(4), np.array([1.0, 1.0, 1.0, 1.0])  # K = 0: L(lam) = mean(w^2) = 1 for all lam
    assert epsilon_ridge(d, w, 0.0, 1.5) == (math.inf, "collapse")
    assert epsilon_ridge(d, w, 0.0, 1.0) == (math.inf, "collapse")  # L(inf) == epsilon exactly
    assert epsilon_ridge(d, w, 0.0, 0.5) == (0.0, "limit")


def test_epsilon_ridge_loss_at_infinity_equal_to_epsilon_collapses():
    d, w = np.array([2.0, 1.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0, 1.0])
    assert epsilon_ridge(d, w, 0.0, 1.0) == (math.inf, "collapse")


def test_epsilon_ridge_limit_and_root_next_to_the_null_space_residual():
    d, w = np.array([1.0, 0.0]), np.array([1.0, 1.0])  # L(0+) = 1/2, L(inf) = 1
    assert epsilon_ridge(d, w, 0.0, 0.5) == (0.0, "limit")  # budget exactly 0
    # budget 0.5: a root; by hand (lam / (1 + lam))^2 = 1/2, lam = 1 + sqrt(2)
    lam, kind = epsilon_ridge(d, w, 0.0, 0.75)
    assert kind == "root"
    assert lam == pytest.approx(1.0 + math.sqrt(2.0), rel=1e-12)
    assert lam == pytest.approx(_root_by_brute_force(d, w, 0.0, 0.75), rel=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_epsilon_ridge_equal_eigenvalues(seed):
    # all eigenvalues equal: the bracket [lo, hi] is one point, where rounding can put the loss a
    # few ulps above epsilon; the root is still returned, and it is the brute-force root
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 8))
    d = np.full(n, rng.uniform(0.1, 10.0))
    w = rng.normal(size=n)
    epsilon = rng.uniform(0.05, 0.95) * float(w @ w) / n
    lam, kind = epsilon_ridge(d, w, 0.0, epsilon)
    assert kind == "root"
    assert lam == pytest.approx(_root_by_brute_force(d, w, 0.0, epsilon), rel=1e-12)


# ---------------------------------------------------------------- optimal_alpha


def test_optimal_alpha_identical_predictions_keep_the_labels():
    y, f = np.array([1.0, 0.0, 2.0]), np.array([0.5, 0.5, 0.5])
    assert optimal_alpha(y, f, f.copy()) == 1.0


def test_optimal_alpha_threshold_is_relative_to_the_larger_prediction():
    # Predictions of size 1e6 that differ by rounding (1e-7): |g - f1|^2 = 3e-14 is far below
    # 1e-24 * |f1|^2 = 3e-12, so the quotient would be noise and 1.0 is returned ...
    f1 = np.full(3, 1e6)
    g = f1 + np.array([1e-7, -1e-7, 1e-7])
    assert optimal_alpha(np.ones(3), f1, g) == 1.0
    # ... while predictions of ordinary size are compared by the formula
    y, f1, g = np.array([1.0, 0.0]), np.array([0.5, 0.5]), np.array([0.0, 1.0])
    diff = g - f1
    assert optimal_alpha(y, f1, g) == pytest.approx(1 - diff @ (y - f1) / (diff @ diff))


def test_optimal_alpha_threshold_floor_is_one():
    # tiny predictions: the threshold is 1e-24 * max(|f1|^2, |g|^2, 1) = 1e-24, and
    # |g - f1|^2 = 1.44e-24 lies above it, so the formula applies (a huge but exact value)
    y, f1, g = np.array([1.0]), np.array([0.0]), np.array([1.2e-12])
    assert optimal_alpha(y, f1, g) == pytest.approx(1 - 1.2e-12 / 1.44e-24, rel=1e-12)


def test_optimal_alpha_threshold_is_inclusive():
    # |g - f1|^2 = (1e-12)^2 == 1e-24 exactly in binary64, equal to the threshold: the two
    # predictions count as one (`<=`), and no distillation is chosen
    assert 1e-12 * 1e-12 == 1e-24
    assert optimal_alpha(np.array([1.0]), np.array([0.0]), np.array([1e-12])) == 1.0


def test_optimal_alpha_threshold_has_an_absolute_floor():
    # predictions of size 1e-13 differ by 1e-13: |g - f1|^2 = 1e-26 is below the floor 1e-24 (and
    # far above 1e-24 * |g|^2 = 4e-50): they count as equal and 1.0 is returned
    assert optimal_alpha(np.array([1.0]), np.array([1e-13]), np.array([2e-13])) == 1.0


# ---------------------------------------------------------------- filter_polynomials


def test_filter_polynomials_accepts_a_scalar_alpha_and_unrolls_eq_12():
    # one alpha as a plain float: one family (shape (1, steps, steps)); the rows are the
    # coefficients of S^(t) = (1 - alpha) A S^(t-1) + alpha I, checked by hand for alpha = 1/4
    C = filter_polynomials(0.25, 3)
    assert C.shape == (1, 3, 3)
    expected = np.array([[1.0, 0.0, 0.0], [0.25, 0.75, 0.0], [0.25, 0.1875, 0.5625]])
    np.testing.assert_allclose(C[0], expected, rtol=0, atol=1e-15)
    # a column of alphas is flattened into families, as a row is
    np.testing.assert_array_equal(
        filter_polynomials(np.array([[0.25], [1.0]]), 3), filter_polynomials([0.25, 1.0], 3)
    )


# ---------------------------------------------------------------- epsilon_ridge: rounding at r = 1


def test_epsilon_ridge_collapses_when_rounding_puts_the_bracket_ratio_at_one():
    # L(inf) = mean(w^2) lies one ulp above epsilon, so the first test (L(inf) <= epsilon) does
    # not fire, but budget / |w|^2 rounds to exactly 1: r = 1, where the bracket d r / (1 - r)
    # would divide by zero. The zero function meets the constraint to rounding: a collapse.
    d = np.array([2.0, 1.0, 0.5])
    w = np.array([0.4116305363741328, 1.0425133694426776, -0.12853466294403426])
    epsilon = 0.4242649945068392
    assert float(w @ w) / 3 > epsilon
    assert math.sqrt(3 * epsilon / float(w @ w)) == 1.0
    assert epsilon_ridge(d, w, 0.0, epsilon) == (math.inf, "collapse")


@pytest.mark.parametrize("seed", range(6))
def test_epsilon_ridge_root_to_1e_14(seed):
    # Brent's method on log(lam): the root agrees with a brute-force root to 1e-14 relative
    rng = np.random.default_rng(100 + seed)
    n = 6
    d = np.sort(rng.uniform(0.01, 10.0, size=n))[::-1]
    w = rng.normal(size=n)
    epsilon = rng.uniform(0.1, 0.9) * float(w @ w) / n
    lam, kind = epsilon_ridge(d, w, 0.0, epsilon)
    assert kind == "root"
    assert lam == pytest.approx(_root_by_brute_force(d, w, 0.0, epsilon), rel=1e-14)


def test_shrink_factors_at_zero_and_infinite_ridge_are_float_arrays_of_the_spectrum():
    # A = D (D + lam I)^-1: lam = inf gives 0 for every eigenvalue, lam -> 0+ gives 1 on the
    # range of D and 0 on its null space; both as float arrays shaped like d
    d = np.array([3.0, 1e-300, 0.0])
    for lam, expected in ((math.inf, [0.0, 0.0, 0.0]), (0.0, [1.0, 1.0, 0.0])):
        A = shrink_factors(d, lam)
        assert A.dtype == np.float64 and A.shape == (3,)
        np.testing.assert_array_equal(A, expected)
    np.testing.assert_allclose(shrink_factors(d, 1.0), [0.75, 1e-300, 0.0], rtol=1e-15)
