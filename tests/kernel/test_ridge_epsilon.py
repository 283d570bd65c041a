"""Epsilon mode (Mobahi eq. 1; Borup appendix D): roots, collapse, the spline's null space.

Every ridge the estimator finds on the spectrum is checked by a fresh dense solve: the step's
training loss at ``lams_[t]`` must equal epsilon, and an independent root finder on the
dense-solve loss must find the same ridge.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import brentq

from selfdistill import CollapseWarning, SelfDistilledKernelRidge
from selfdistill.exceptions import ToleranceWarning
from selfdistill.kernel.functions import spline_kernel
from tests.kernel.test_ridge import assert_rel, problem


def dense_step(K, y, prev, a, lam):
    """One step by a fresh solve: coefficients, training predictions, the step's loss."""
    coef = np.linalg.solve(K + lam * np.eye(K.shape[0]), a * y + (1 - a) * prev)
    f = K @ coef
    loss = a * np.mean((f - y) ** 2) + (1 - a) * np.mean((f - prev) ** 2)
    return coef, f, loss


@pytest.mark.parametrize("alpha", [0.0, 0.3])
def test_epsilon_roots_meet_the_constraint_and_match_dense_solves(alpha) -> None:
    X, Xt, y, K, Kt = problem(20, n=30, gamma=0.3)
    eps = 0.1
    est = SelfDistilledKernelRidge(gamma=0.3, lam=None, epsilon=eps, steps=4, alpha=alpha)
    est.fit(X, y)
    assert est.lams_.shape == (4,) and est.collapsed_at_ is None
    prev = y
    for t in range(4):
        a = 1.0 if t == 0 else alpha
        coef, f, loss = dense_step(K, y, prev, a, est.lams_[t])
        assert loss == pytest.approx(eps, rel=1e-9)
        assert_rel(est.predict(Xt, step=t + 1), Kt @ coef)
        # an independent root of the dense-solve loss, bracketed generously
        lam_ref = brentq(
            lambda u, prev=prev, a=a: dense_step(K, y, prev, a, np.exp(u))[2] - eps,
            np.log(1e-8),
            np.log(1e4),
            xtol=1e-13,
        )
        assert est.lams_[t] == pytest.approx(np.exp(lam_ref), rel=1e-8)
        prev = f


def test_multi_output_has_one_root_per_column() -> None:
    X, Xt, y, _, _ = problem(21, n=30, q=3, gamma=0.3)
    y = y * np.array([1.0, 2.0, 0.5])  # different scales: different ridges
    est = SelfDistilledKernelRidge(gamma=0.3, lam=None, epsilon=0.02, steps=3, alpha=0.2)
    est.fit(X, y)
    assert np.all(np.isfinite(est.lams_)) and est.collapsed_at_ is None
    assert est.lams_.shape == (3, 3) and est.B_.shape == (3, 30, 3)
    assert len(set(np.round(est.lams_[0], 8))) == 3
    for j in range(3):
        single = SelfDistilledKernelRidge(gamma=0.3, lam=None, epsilon=0.02, steps=3, alpha=0.2)
        single.fit(X, y[:, j])
        np.testing.assert_allclose(est.lams_[:, j], single.lams_, rtol=1e-12)
        np.testing.assert_allclose(est.B_[:, :, j], single.B_, rtol=1e-12, atol=1e-300)
        assert_rel(est.predict(Xt)[:, j], single.predict(Xt))


def test_b_diagonal_of_epsilon_mode_reproduces_training_predictions() -> None:
    X, _, y, _, _ = problem(22, n=20, gamma=0.3)
    est = SelfDistilledKernelRidge(gamma=0.3, lam=None, epsilon=0.05, steps=3, alpha=0.4)
    est.fit(X, y)
    V = est.eigvecs_
    for t in range(3):
        assert_rel(est.predict(X, step=t + 1), V @ (est.B_[t] * (V.T @ y)), rtol=1e-9)


def test_mobahi_eq_12_bounds_the_ridge() -> None:
    """d_min r <= lam_t <= d_max r, r = sqrt(n eps) / (|z| - sqrt(n eps)), z the targets."""
    X, _, y, _, _ = problem(23, n=25, gamma=0.5)
    eps = 0.05
    est = SelfDistilledKernelRidge(gamma=0.5, lam=None, epsilon=eps, steps=3).fit(X, y)
    d = est.eigvals_
    targets = y
    for t in range(3):
        znorm = np.linalg.norm(targets)
        root = np.sqrt(25 * eps)
        lo, hi = d[-1] * root / (znorm - root), d[0] * root / (znorm - root)
        assert lo <= est.lams_[t] <= hi
        targets = est.predict(X, step=t + 1)


def test_collapse_warns_once_and_predicts_exact_zeros() -> None:
    X, Xt, y, K, _ = problem(24, n=20, gamma=0.3)
    eps = 0.5 * np.mean(y**2)
    # find the collapse step by dense solves: the first step whose targets have mean square <= eps
    prev, lam_steps, expected = y, [], None
    for t in range(8):
        if np.mean(prev**2) <= eps:
            expected = t + 1
            break
        lam = np.exp(
            brentq(lambda u, p=prev: dense_step(K, p, p, 0.0, np.exp(u))[2] - eps, -20, 12)
        )
        prev = dense_step(K, prev, prev, 0.0, lam)[1]
        lam_steps.append(lam)
    assert expected is not None and expected >= 2
    est = SelfDistilledKernelRidge(gamma=0.3, lam=None, epsilon=eps, steps=8, alpha=0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    collapse = [w for w in caught if issubclass(w.category, CollapseWarning)]
    assert len(collapse) == 1
    assert str(collapse[0].message) == (  # one output: no column named
        f"self-distillation collapsed at step {expected}: the zero function meets "
        f"epsilon = {eps:g}, so this step predicts exactly zero"
    )
    assert est.collapsed_at_ == expected
    np.testing.assert_allclose(est.lams_[: expected - 1], lam_steps, rtol=1e-8)
    assert np.all(np.isinf(est.lams_[expected - 1 :]))
    staged = list(est.staged_predict(Xt))
    assert all(np.all(p == 0.0) for p in staged[expected - 1 :])
    assert all(np.any(p != 0.0) for p in staged[: expected - 1])
    assert np.all(est.B_[expected - 1 :] == 0.0)


def test_collapse_with_alpha_uses_borup_condition() -> None:
    """alpha mean(y^2) + (1 - alpha) mean(y_prev^2) <= eps collapses (Borup appendix D.1)."""
    X, _, y, _, _ = problem(25, n=15, gamma=0.3)
    eps = 1.01 * np.mean(y**2)
    with pytest.warns(CollapseWarning, match="step 1"):
        est = SelfDistilledKernelRidge(gamma=0.3, lam=None, epsilon=eps, alpha=0.5).fit(X, y)
    assert est.collapsed_at_ == 1 and np.all(est.predict(X) == 0.0)


def test_multi_output_collapsed_at_is_when_every_column_is_zero() -> None:
    X, _, y, _, _ = problem(26, n=15, q=2, gamma=0.3)
    y = y * np.array([0.1, 3.0])  # the small column collapses at once, the big one later
    eps = 0.3 * np.mean(y[:, 1] ** 2)
    with pytest.warns(CollapseWarning) as caught:
        est = SelfDistilledKernelRidge(gamma=0.3, lam=None, epsilon=eps, steps=10).fit(X, y)
    assert len(caught) == 1 and str(caught[0].message) == (
        "self-distillation collapsed at step 1 (output column 0): the zero function meets "
        f"epsilon = {eps:g}, so this step predicts exactly zero"
    )
    first_zero = [t + 1 for t in range(10) if np.all(est.predict(X, step=t + 1) == 0.0)]
    assert est.collapsed_at_ == first_zero[0] > 1
    assert np.all(est.predict(X, step=1)[:, 0] == 0.0)


def test_spline_null_space_takes_the_lam_to_zero_limit() -> None:
    """Mobahi sec. 4 kernel on x = 0, 0.1, ..., 1: g(0, .) = g(1, .) = 0, so f(0) = f(1) = 0.

    With eps below the forced residual (y_0^2 + y_10^2) / 11 no ridge reaches eps: the estimator
    interpolates the interior points (the lam -> 0+ limit) and warns.
    """
    x = np.linspace(0, 1, 11)[:, None]
    y = np.sin(2 * np.pi * x[:, 0]) + np.linspace(0.5, 1.0, 11)
    forced = (y[0] ** 2 + y[-1] ** 2) / 11
    est = SelfDistilledKernelRidge(kernel="spline", lam=None, epsilon=0.5 * forced, steps=2)
    with pytest.warns(ToleranceWarning) as caught:
        est.fit(x, y)
    assert len(caught) == 1 and str(caught[0].message) == (
        f"at step 1 no ridge lam > 0 reaches epsilon = {0.5 * forced:g} (the residual forced by "
        "the kernel's null space and the alpha term exceeds it); took the lam -> 0+ limit, the "
        "minimum-norm fit on the range of K"
    )
    assert est.lams_[0] == 0.0
    f1 = est.predict(x, step=1)
    np.testing.assert_allclose(f1[1:-1], y[1:-1], rtol=1e-9)
    assert f1[0] == 0.0 and f1[-1] == 0.0
    # the minimum-norm fit: no coefficient along the null space of K (e_0 and e_10 here), where
    # it would change no prediction (k(x, 0) = k(x, 1) = 0) but would change dual_coefs_
    G = spline_kernel(x)
    np.testing.assert_allclose(
        est.dual_coefs_[0], np.linalg.pinv(G, hermitian=True) @ y, rtol=1e-9, atol=1e-12
    )
    # the same limit by dense solves with a vanishing ridge, on a fine grid
    grid = np.linspace(0, 1, 41)[:, None]
    G, Gt = spline_kernel(x), spline_kernel(grid, x)
    dense = Gt @ np.linalg.solve(G + 1e-13 * np.eye(11), y)
    np.testing.assert_allclose(est.predict(grid, step=1), dense, atol=1e-6)
    # step 2 targets vanish at the ends: an ordinary root again, and the constraint holds
    assert est.lams_[1] > 0
    _, f2, loss = dense_step(G, f1, f1, 0.0, est.lams_[1])
    assert loss == pytest.approx(0.5 * forced, rel=1e-9)
    assert_rel(est.predict(x, step=2), f2)
    assert est.eigvals_[-2:].tolist() == [0.0, 0.0]


def test_spline_fixed_lam_matches_dense_solve() -> None:
    x = np.linspace(0, 1, 11)[:, None]
    y = np.cos(3 * x[:, 0])
    grid = np.linspace(0, 1, 23)[:, None]
    est = SelfDistilledKernelRidge(kernel="spline", lam=1e-3, steps=3, alpha=0.1).fit(x, y)
    G, Gt = spline_kernel(x), spline_kernel(grid, x)
    prev = y
    for t in range(3):
        a = 1.0 if t == 0 else 0.1
        coef = np.linalg.solve(G + 1e-3 * np.eye(11), a * y + (1 - a) * prev)
        prev = G @ coef
        assert_rel(est.predict(grid, step=t + 1), Gt @ coef)


@given(
    seed=st.integers(0, 2**16),
    n=st.integers(3, 12),
    frac=st.floats(0.02, 0.9),
    alpha=st.floats(0.0, 0.9),
)
def test_property_epsilon_constraint_holds_at_every_step(seed, n, frac, alpha) -> None:
    X, _, y, K, _ = problem(seed, n=n, gamma=0.5)
    eps = frac * np.mean(y**2)
    est = SelfDistilledKernelRidge(gamma=0.5, lam=None, epsilon=eps, steps=4, alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        warnings.simplefilter("ignore", ToleranceWarning)
        est.fit(X, y)
    prev = y
    for t in range(4):
        a = 1.0 if t == 0 else alpha
        lam = est.lams_[t]
        f = est.predict(X, step=t + 1)
        if np.isinf(lam):  # collapse: allowed only when zero meets the constraint
            assert a * np.mean(y**2) + (1 - a) * np.mean(prev**2) <= eps * (1 + 1e-12)
            assert np.all(f == 0.0)
        elif lam > 1e-6 * est.eigvals_[0]:  # well-conditioned root: dense solve agrees
            _, f_dense, loss = dense_step(K, y, prev, a, lam)
            assert loss == pytest.approx(eps, rel=1e-7)
            assert_rel(f, f_dense, rtol=1e-6)
        prev = f


def test_constraint_met_to_rounding_collapses_instead_of_dividing_by_zero() -> None:
    """Regression: at alpha mean(y^2) = epsilon up to rounding the bracket ratio r reaches 1.0.

    Found by the theory property tests (seed 6, n = 6, kappa = 10): the root finder divided by
    1 - r = 0. Mathematically r < 1 exactly when the zero function misses the constraint, so
    r >= 1 means the step collapses.
    """
    from tests.test_theory_estimator import gram

    K, y = gram(6, 6, 10.0)
    eps = 0.5 * np.mean(y**2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        est = SelfDistilledKernelRidge(
            kernel="precomputed", lam=None, epsilon=eps, steps=6, alpha=0.5
        ).fit(K, y)
    assert est.collapsed_at_ is not None
    assert np.all(np.isinf(est.lams_[est.collapsed_at_ - 1 :]))
    assert np.all(est.predict(K) == 0.0)
    # Every step before the collapse still meets its constraint (dense check).
    prev = y
    for t in range(est.collapsed_at_ - 1):
        a = 1.0 if t == 0 else est.alphas_[t]  # step 1 fits y itself
        _, prev, loss = dense_step(K, y, prev, a, est.lams_[t])
        assert loss == pytest.approx(eps, rel=1e-8)
