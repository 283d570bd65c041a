"""Kernel evaluation: sklearn kernels, precomputed, callables and Mobahi's spline kernel."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS

from selfdistill.kernel.functions import KERNELS, kernel_matrix, spline_kernel

RNG = np.random.default_rng(0)
X = RNG.uniform(0.1, 1.0, size=(6, 3))  # positive: chi2 kernels need non-negative inputs
Y = RNG.uniform(0.1, 1.0, size=(4, 3))


@pytest.mark.parametrize("name", sorted(PAIRWISE_KERNEL_FUNCTIONS))
def test_every_sklearn_kernel_matches_kernel_ridge(name: str) -> None:
    params = {"gamma": 0.7, "degree": 2, "coef0": 0.3}
    ours = kernel_matrix(X, Y, kernel=name, **params)
    theirs = KernelRidge(kernel=name, **params)._get_kernel(X, Y)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)


def test_kernel_params_reach_the_kernel_and_callable() -> None:
    # kernel_params overrides gamma for a named kernel ...
    a = kernel_matrix(X, Y, kernel="rbf", gamma=1.0, kernel_params={"gamma": 0.25})
    np.testing.assert_allclose(a, np.exp(-0.25 * ((X[:, None] - Y[None]) ** 2).sum(-1)))

    # ... and is passed to a callable.
    def k(x: np.ndarray, y: np.ndarray, scale: float = 1.0) -> float:
        return float(scale * np.dot(x, y))

    b = kernel_matrix(X, Y, kernel=k, kernel_params={"scale": 3.0})
    np.testing.assert_allclose(b, 3.0 * X @ Y.T, rtol=1e-14)


def test_precomputed_is_returned_unchanged() -> None:
    K = X @ X.T
    np.testing.assert_array_equal(kernel_matrix(K, kernel="precomputed"), K)


def test_kernel_names_include_spline_and_precomputed() -> None:
    assert {"spline", "precomputed", "rbf", "linear"} <= set(KERNELS)


def _green(x: float, t: float) -> float:
    """Mobahi section 4, written out once more for scalars."""
    return max((x - t) ** 3, 0.0) / 6 - x * (1 - t) * (x * x - 2 * t + t * t) / 6


def test_spline_matches_the_formula_and_solves_the_boundary_value_problem() -> None:
    x = np.linspace(0, 1, 7)
    G = spline_kernel(x[:, None])
    expected = np.array([[_green(a, b) for b in x] for a in x])
    np.testing.assert_allclose(G, expected, rtol=0, atol=1e-16)
    # f(x) = g(x, t) satisfies f(0) = f(1) = 0 and f'''' = 0 away from t, with the unit jump
    # of f''' at x = t of a Green's function of d^4/dx^4 (R(f) = int f''^2 -> L = d^4/dx^4).
    t = 0.37
    h = 1e-3
    f = lambda s: _green(s, t)  # noqa: E731
    assert f(0.0) == 0.0 and abs(f(1.0)) < 1e-16
    assert spline_kernel(np.array([[0.0], [1.0]]), np.array([[t]])).tolist() == [[0.0], [0.0]]

    def third(s: float) -> float:
        return (f(s + 2 * h) - 2 * f(s + h) + 2 * f(s - h) - f(s - 2 * h)) / (2 * h**3)

    assert third(t + 0.05) - third(t - 0.05) == pytest.approx(1.0, rel=1e-6)
    # f''(0) = f''(1) = 0
    f2 = lambda s: (f(s + h) - 2 * f(s) + f(s - h)) / h**2  # noqa: E731
    assert abs(f2(h)) < 2e-3 and abs(f2(1 - h)) < 2e-3


def test_spline_gram_is_symmetric_psd_with_vanishing_boundary_rows() -> None:
    x = np.linspace(0, 1, 11)[:, None]
    G = spline_kernel(x)
    np.testing.assert_array_equal(G, G.T)
    assert np.all(G[0] == 0.0) and np.all(G[-1] == 0.0)
    d = np.linalg.eigvalsh(G)
    assert d.min() > -1e-16 and np.sum(d > 1e-12) == 9  # two-dimensional null space


@given(
    arrays(float, st.integers(1, 8), elements=st.floats(0, 1)),
    arrays(float, st.integers(1, 8), elements=st.floats(0, 1)),
)
def test_spline_symmetric_in_its_arguments(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(
        spline_kernel(a[:, None], b[:, None]), spline_kernel(b[:, None], a[:, None]).T, atol=1e-15
    )


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.array([[0.5], [1.2]]), r"X values must be in \[0, 1\]"),
        (np.array([[-0.1]]), r"X values must be in \[0, 1\]"),
        (np.array([[0.1, 0.2]]), "X must have exactly one feature"),
    ],
)
def test_spline_rejects_bad_inputs(data: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        spline_kernel(data)
