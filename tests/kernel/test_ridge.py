"""SelfDistilledKernelRidge against independent computations (fixed-lam regime).

Brute force = a fresh dense linear solve per step (numpy), Borup & Andersen's closed forms
(Thm 4.1, Lemma 4.2, Thm 4.4, Thm 4.5) written out with matrix powers and ``np.linalg``.
Tolerance: 1e-8 relative to the largest prediction unless stated.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from sklearn.exceptions import NotFittedError
from sklearn.metrics.pairwise import rbf_kernel

from selfdistill import SelfDistilledKernelRidge
from selfdistill.exceptions import CollapseWarning, ToleranceWarning
from selfdistill.kernel.spectral import EIGVAL_RTOL

RTOL = 1e-8


def assert_rel(actual: np.ndarray, expected: np.ndarray, rtol: float = RTOL) -> None:
    scale = max(float(np.abs(expected).max()), 1e-300)
    err = float(np.abs(np.asarray(actual) - expected).max()) / scale
    assert err <= rtol, f"relative error {err:.3g} > {rtol:g}"


def problem(seed: int, n: int = 25, m: int = 9, d: int = 2, q: int | None = None, gamma=0.7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Xt = rng.normal(size=(m, d))
    y = rng.normal(size=(n,) if q is None else (n, q))
    K = rbf_kernel(X, X, gamma=gamma)
    Kt = rbf_kernel(Xt, X, gamma=gamma)
    return X, Xt, y, K, Kt


def brute_force(K, Kt, y, lam, alphas):
    """Borup eqs. 3-5 with a fresh solve per step; returns test and train predictions."""
    n = K.shape[0]
    prev = y
    test, train = [], []
    for t, a in enumerate(alphas):
        a = 1.0 if t == 0 else a
        coef = np.linalg.solve(K + lam * np.eye(n), a * y + (1 - a) * prev)
        prev = K @ coef
        test.append(Kt @ coef)
        train.append(prev)
    return np.array(test), np.array(train)


@pytest.mark.parametrize("q", [None, 3])
@pytest.mark.parametrize("alpha", [0.0, 0.4, [0.1, 0.9, 0.0, 0.5]])
def test_fixed_lam_matches_brute_force(q, alpha) -> None:
    X, Xt, y, K, Kt = problem(1, q=q)
    est = SelfDistilledKernelRidge(gamma=0.7, lam=0.3, steps=5, alpha=alpha).fit(X, y)
    alphas = [np.nan, *([alpha] * 4 if np.isscalar(alpha) else alpha)]
    expected, _ = brute_force(K, Kt, y, 0.3, alphas)
    staged = np.array(list(est.staged_predict(Xt)))
    assert staged.shape == expected.shape
    assert_rel(staged, expected)
    for t in range(1, 6):
        assert_rel(est.predict(Xt, step=t), staged[t - 1], rtol=1e-13)
    assert_rel(est.predict(Xt), staged[-1], rtol=1e-13)
    np.testing.assert_array_equal(est.alphas_[1:], alphas[1:])
    assert np.isnan(est.alphas_[0])
    assert est.lams_.shape == (5,) and np.all(est.lams_ == 0.3)
    assert est.collapsed_at_ is None and est.n_features_in_ == 2


@pytest.mark.parametrize("q", [None, 2])
@pytest.mark.parametrize("clipped", [False, True])
def test_optimal_alpha_matches_numerical_minimisation(q, clipped) -> None:
    """Borup Thm 4.4 / Algorithm 1 against Brent's method on freshly refitted steps."""
    X, Xt, y, K, Kt = problem(2, n=20, m=15, q=q)
    rng = np.random.default_rng(3)
    yv = np.sin(Xt[:, 0]) if q is None else np.sin(Xt[:, :q])
    yv = yv + 0.1 * rng.normal(size=yv.shape)
    mode = "optimal-clipped" if clipped else "optimal"
    est = SelfDistilledKernelRidge(gamma=0.7, lam=0.05, steps=4, alpha=mode)
    est.fit(X, y, X_val=Xt, y_val=yv)
    n = K.shape[0]
    solve = lambda b: np.linalg.solve(K + 0.05 * np.eye(n), b)  # noqa: E731
    prev = K @ solve(y)
    for t in range(1, 4):

        def val_err(a, prev=prev):
            return float(np.sum((yv - Kt @ solve(a * y + (1 - a) * prev)) ** 2))

        bounds = (0.0, 1.0) if clipped else (-50.0, 50.0)
        res = minimize_scalar(val_err, bounds=bounds, method="bounded", options={"xatol": 1e-10})
        assert est.alphas_[t] == pytest.approx(res.x, abs=1e-7)
        a = est.alphas_[t]
        prev = K @ solve(a * y + (1 - a) * prev)
    # some step of the unclipped variant leaves [0, 1] on this problem: alpha is "any real"
    if not clipped:
        assert np.any((est.alphas_[1:] < 0) | (est.alphas_[1:] > 1))
    else:
        assert np.all((est.alphas_[1:] >= 0) & (est.alphas_[1:] <= 1))
    expected, _ = brute_force(K, Kt, y, 0.05, est.alphas_)
    assert_rel(np.array(list(est.staged_predict(Xt))), expected)


def test_theorem_4_1_closed_form_from_the_first_fit() -> None:
    """Borup eq. 6: y^(tau) = (sum_i a_i eta(i+1, tau) M^(tau-i+1) + eta(2, tau) M^tau) y."""
    X, _, y, K, _ = problem(4, n=15)
    alphas = [np.nan, 0.2, 0.7, 0.0, 0.35]
    est = SelfDistilledKernelRidge(gamma=0.7, lam=0.5, steps=5, alpha=alphas[1:]).fit(X, y)
    M = K @ np.linalg.inv(K + 0.5 * np.eye(15))

    def eta(i, tau):  # prod_{j=i}^{tau} (1 - alpha_j), 1-based
        return np.prod([1 - alphas[j - 1] for j in range(i, tau + 1)])

    for tau in range(1, 6):
        mat = eta(2, tau) * np.linalg.matrix_power(M, tau)
        for i in range(2, tau + 1):
            mat += alphas[i - 1] * eta(i + 1, tau) * np.linalg.matrix_power(M, tau - i + 1)
        assert_rel(est.predict(X, step=tau), mat @ y)


def test_lemma_4_2_b_recursion_and_spectrum() -> None:
    X, _, y, K, _ = problem(5, n=18)
    est = SelfDistilledKernelRidge(gamma=0.7, lam=0.2, steps=4, alpha=[0.3, 0.0, 0.6]).fit(X, y)
    d, V = est.eigvals_, est.eigvecs_
    assert np.all(np.diff(d) <= 0) and d[-1] >= 0
    np.testing.assert_allclose(V.T @ V, np.eye(18), atol=1e-12)
    assert_rel(K @ V, V * d, rtol=1e-12)
    B = est.B_
    assert B.shape == (4, 18)
    # B^(t) from its definition (Borup eq. 11) with A = D (D + lam)^-1
    A = d / (d + 0.2)
    a = est.alphas_
    eta = lambda i, tau: np.prod([1 - a[j - 1] for j in range(i, tau + 1)])  # noqa: E731
    for tau in range(1, 5):
        b = eta(2, tau) * A**tau + sum(
            a[i - 1] * eta(i + 1, tau) * A ** (tau - i + 1) for i in range(2, tau + 1)
        )
        assert_rel(B[tau - 1], b, rtol=1e-12)
        assert_rel(est.predict(X, step=tau), V @ (B[tau - 1] * (V.T @ y)))


@pytest.mark.parametrize("alpha", [0.25, 1.0])
def test_theorem_4_5_limit(alpha: float) -> None:
    X, Xt, y, K, Kt = problem(6, n=20)
    est = SelfDistilledKernelRidge(gamma=0.7, lam=0.3, steps=400, alpha=alpha).fit(X, y)
    # y^(inf) = K (K + lam/alpha I)^-1 y on the training points
    y_inf = K @ np.linalg.solve(K + 0.3 / alpha * np.eye(20), y)
    assert_rel(est.predict_limit(X), y_inf)
    # f_inf(x) = alpha f_1(x) + (1 - alpha) f(x; KRR on y_inf), and the linear-rate convergence
    f1 = Kt @ np.linalg.solve(K + 0.3 * np.eye(20), y)
    g = Kt @ np.linalg.solve(K + 0.3 * np.eye(20), y_inf)
    assert_rel(est.predict_limit(Xt), alpha * f1 + (1 - alpha) * g)
    assert_rel(est.predict(Xt), est.predict_limit(Xt), rtol=1e-9)


def test_limit_is_zero_for_alpha_zero_and_rejected_otherwise() -> None:
    X, Xt, y, _, _ = problem(7, q=2)
    est = SelfDistilledKernelRidge(gamma=0.7, lam=0.3, alpha=0.0).fit(X, y)
    out = est.predict_limit(Xt)
    assert out.shape == (9, 2) and np.all(out == 0.0)
    est = SelfDistilledKernelRidge(gamma=0.7, lam=0.3, steps=3, alpha=[0.1, 0.2]).fit(X, y)
    with pytest.raises(ValueError) as info:
        est.predict_limit(Xt)
    assert str(info.value) == (
        "predict_limit needs one constant float alpha in [0, 1], got alpha=[0.1, 0.2]"
    )


def test_multi_output_equals_columnwise_single_output() -> None:
    X, Xt, y, _, _ = problem(8, q=3)
    est = SelfDistilledKernelRidge(gamma=0.7, lam=0.1, steps=4, alpha=0.2).fit(X, y)
    for j in range(3):
        single = SelfDistilledKernelRidge(gamma=0.7, lam=0.1, steps=4, alpha=0.2).fit(X, y[:, j])
        assert_rel(est.predict(Xt)[:, j], single.predict(Xt), rtol=1e-12)
    assert est.dual_coefs_.shape == (4, 25, 3) and est.B_.shape == (4, 25)


def test_column_target_keeps_its_shape() -> None:
    X, Xt, y, _, _ = problem(9)
    est = SelfDistilledKernelRidge(gamma=0.7).fit(X, y[:, None])
    assert est.predict(Xt).shape == (9, 1)
    assert all(p.shape == (9, 1) for p in est.staged_predict(Xt))


@pytest.mark.parametrize("kernel", ["linear", "poly", "laplacian", "precomputed", "callable"])
def test_other_kernels_match_brute_force(kernel) -> None:
    X, Xt, y, _, _ = problem(10, n=12, d=3)
    if kernel == "precomputed":
        K, Kt = X @ X.T + 1.0, Xt @ X.T + 1.0
        est = SelfDistilledKernelRidge(kernel="precomputed", lam=0.4, steps=3, alpha=0.3)
        est.fit(K, y)
        pred = np.array(list(est.staged_predict(Kt)))
    else:
        from sklearn.metrics.pairwise import pairwise_kernels

        if kernel == "callable":
            kern = lambda a, b, s=1.0: float(np.exp(-s * np.abs(a - b).sum()))  # noqa: E731
            params = {"kernel_params": {"s": 0.3}}
            K = pairwise_kernels(X, X, metric=kern, s=0.3)
            Kt = pairwise_kernels(Xt, X, metric=kern, s=0.3)
        else:
            kern = kernel
            params = {"gamma": 0.3, "degree": 2, "coef0": 0.5}
            K = pairwise_kernels(X, X, metric=kernel, filter_params=True, **params)
            Kt = pairwise_kernels(Xt, X, metric=kernel, filter_params=True, **params)
        est = SelfDistilledKernelRidge(kernel=kern, lam=0.4, steps=3, alpha=0.3, **params)
        pred = np.array(list(est.fit(X, y).staged_predict(Xt)))
    expected, _ = brute_force(K, Kt, y, 0.4, [np.nan, 0.3, 0.3])
    assert_rel(pred, expected)


def test_eigenvalue_tolerance_zeroes_the_null_space() -> None:
    """A rank-2 linear kernel on 10 points: 8 eigenvalues below EIGVAL_RTOL * d_max are 0."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(10, 2))
    est = SelfDistilledKernelRidge(kernel="linear", lam=0.1, steps=2).fit(X, rng.normal(size=10))
    d = est.eigvals_
    assert np.sum(d > 0) == 2 and np.all(d[2:] == 0.0)
    assert est.eigval_rtol_ == EIGVAL_RTOL
    np.testing.assert_allclose(np.sort(d[:2]), np.sort(np.linalg.eigvalsh(X.T @ X)), rtol=1e-12)


@given(
    seed=st.integers(0, 2**16),
    n=st.integers(2, 12),
    q=st.sampled_from([None, 1, 3]),
    lam=st.floats(1e-2, 10.0),
    alphas=st.lists(st.floats(0.0, 1.0), min_size=0, max_size=5),
)
def test_property_staged_predictions_equal_brute_force(seed, n, q, lam, alphas) -> None:
    X, Xt, y, K, Kt = problem(seed, n=n, m=4, q=q)
    est = SelfDistilledKernelRidge(gamma=0.7, lam=lam, steps=len(alphas) + 1, alpha=alphas)
    expected, _ = brute_force(K, Kt, y, lam, [np.nan, *alphas])
    assert_rel(np.array(list(est.fit(X, y).staged_predict(Xt))), expected)


@given(
    seed=st.integers(0, 2**16),
    n=st.integers(2, 15),
    lam=st.floats(1e-3, 10.0),
    alpha=st.floats(0.0, 0.99),
)
def test_property_b_in_unit_interval_and_decreasing(seed, n, lam, alpha) -> None:
    """Borup Lemma 4.2: [B^(t)]_kk in [0, 1], strictly decreasing in t for a constant alpha < 1.

    For alpha = 0 also Thm 4.3: B_k / B_j = ((1 + lam/d_j) / (1 + lam/d_k))^t.
    """
    X, _, y, _, _ = problem(seed, n=n)
    est = SelfDistilledKernelRidge(gamma=0.7, lam=lam, steps=6, alpha=alpha).fit(X, y)
    B, d = est.B_, est.eigvals_
    pos = d > 0
    assert np.all((B >= 0) & (B <= 1))
    # non-increasing everywhere, strictly from step 1 to 2: B2 - B1 = -A (1 - alpha) (1 - A)
    assert np.all(B[1:] <= B[:-1])
    assert np.all(B[1, pos] < B[0, pos])
    # alpha = 0, Borup eq. 14 / Thm 4.3: B^(t) = A^t and
    # B_k / B_j = ((1 + lam/d_j) / (1 + lam/d_k))^t
    est0 = SelfDistilledKernelRidge(gamma=0.7, lam=lam, steps=6, alpha=0.0).fit(X, y)
    B0 = est0.B_[:, pos]
    k = d[pos]
    for t in range(1, 7):
        np.testing.assert_allclose(B0[t - 1], (k / (k + lam)) ** t, rtol=1e-12)
    if pos.sum() >= 2 and B0[-1, -1] > 1e-250:
        ratio = B0[:, 0] / B0[:, -1]
        expected = ((1 + lam / k[-1]) / (1 + lam / k[0])) ** np.arange(1, 7)
        np.testing.assert_allclose(ratio, expected, rtol=1e-10)


def test_indefinite_kernel_computed_by_the_estimator_falls_back_to_lu() -> None:
    """Regression: a sigmoid kernel with K + lam I indefinite was solved with K + 2 lam I.

    The Cholesky attempt had added lam to the diagonal of the kernel in place, and the LU
    fallback added it again to a copy of that kernel.
    """
    from sklearn.metrics.pairwise import sigmoid_kernel

    X, Xt, y, _, _ = problem(13, n=10)
    K = sigmoid_kernel(X, X, gamma=0.5, coef0=0.5)
    Kt = sigmoid_kernel(Xt, X, gamma=0.5, coef0=0.5)
    assert np.linalg.eigvalsh(K + 0.3 * np.eye(10))[0] < -0.3  # Cholesky must fail
    est = SelfDistilledKernelRidge(kernel="sigmoid", gamma=0.5, coef0=0.5, lam=0.3, alpha=0.2)
    expected, _ = brute_force(K, Kt, y, 0.3, [np.nan, 0.2, 0.2])
    assert_rel(np.array(list(est.fit(X, y).staged_predict(Xt))), expected)


def test_indefinite_kernel_falls_back_to_lu() -> None:
    """K + lam I not positive definite (an indefinite precomputed kernel): LU, same as solve."""
    rng = np.random.default_rng(12)
    Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    K = (Q * np.array([3.0, 2.0, 1.0, 0.5, 0.2, -0.1, -0.9, -2.0])) @ Q.T
    K = 0.5 * (K + K.T)
    y = rng.normal(size=8)
    K_given = K.copy()
    est = SelfDistilledKernelRidge(kernel="precomputed", lam=0.5, steps=3, alpha=0.2).fit(K, y)
    np.testing.assert_array_equal(K, K_given)  # the user's matrix is not overwritten
    expected, _ = brute_force(K, K, y, 0.5, [np.nan, 0.2, 0.2])
    assert_rel(np.array(list(est.staged_predict(K))), expected)


@given(
    seed=st.integers(0, 2**16),
    n=st.integers(3, 10),
    q=st.sampled_from([None, 2]),
    lam=st.floats(1e-2, 3.0),
    delta=st.floats(1e-3, 1.0),
)
def test_property_optimal_alpha_minimises_validation_error(seed, n, q, lam, delta) -> None:
    """Borup Thm 4.4: no other alpha at step 2 gives a smaller validation error (brute force)."""
    X, Xt, y, K, Kt = problem(seed, n=n, m=6, q=q)
    yv = np.random.default_rng(seed + 1).normal(size=(6,) if q is None else (6, q))
    est = SelfDistilledKernelRidge(gamma=0.7, lam=lam, steps=2, alpha="optimal")
    est.fit(X, y, X_val=Xt, y_val=yv)
    prev = K @ np.linalg.solve(K + lam * np.eye(n), y)

    def val_err(a: float) -> float:
        coef = np.linalg.solve(K + lam * np.eye(n), a * y + (1 - a) * prev)
        return float(np.sum((yv - Kt @ coef) ** 2))

    a = est.alphas_[1]
    best = val_err(a)
    assert best == pytest.approx(float(np.sum((yv - est.predict(Xt)) ** 2)), rel=1e-8)
    for other in (a - delta, a + delta, 0.0, 1.0):
        assert best <= val_err(other) * (1 + 1e-10) + 1e-14


# ----------------------------------------------------------------------
# Tests that kill surviving mutants of `selfdistill.kernel.ridge` (issue 17, docs/testing.md)
def _data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, rng.normal(size=(n, 3))


def _explicit_steps(K, Y, lam, alphas):
    """Borup eq. 4-7 by explicit solves: c_t = (K + lam I)^-1 (a_t Y + (1 - a_t) K c_{t-1})."""
    A = K + lam * np.eye(K.shape[0])
    coefs, prev = [], Y
    for t, a in enumerate(alphas):
        target = Y if t == 0 else a * Y + (1 - a) * prev
        c = np.linalg.solve(A, target)
        coefs.append(c)
        prev = K @ c
    return coefs


def test_multi_output_targets_match_explicit_solves():
    X, Y = _data()
    K = np.exp(-0.5 * ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    est = SelfDistilledKernelRidge(kernel="rbf", gamma=0.5, lam=0.3, steps=3, alpha=0.25).fit(X, Y)
    expected = _explicit_steps(K, Y, 0.3, [None, 0.25, 0.25])
    for t in range(3):
        np.testing.assert_allclose(est.dual_coefs_[t], expected[t], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.predict(X), K @ expected[2], rtol=1e-9, atol=1e-12)
    for j in range(3):  # column by column, as three single-output fits
        single = SelfDistilledKernelRidge(kernel="rbf", gamma=0.5, lam=0.3, steps=3, alpha=0.25)
        np.testing.assert_allclose(
            single.fit(X, Y[:, j]).predict(X), est.predict(X)[:, j], rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("overshoot", [0.5, 3.0])
def test_optimal_clipped_alpha_clips_above_one(overshoot):
    # Validation targets placed beyond the first model, away from the alpha = 0 student:
    # y_val = f1 - overshoot (g - f1) gives alpha* = 1 + overshoot (Borup eq. 16), clipped to 1.
    X, Y = _data(seed=1)
    y = Y[:, 0]
    Xv = np.random.default_rng(2).normal(size=(8, 2))
    base = dict(kernel="rbf", gamma=0.5, lam=0.3, steps=2)
    f1 = SelfDistilledKernelRidge(**base, alpha=0.0).fit(X, y).predict(Xv, step=1)
    g = SelfDistilledKernelRidge(**base, alpha=0.0).fit(X, y).predict(Xv, step=2)
    yv = f1 - overshoot * (g - f1)
    free = SelfDistilledKernelRidge(**base, alpha="optimal").fit(X, y, Xv, yv)
    assert free.alphas_[1] == pytest.approx(1.0 + overshoot, rel=1e-9)
    clipped = SelfDistilledKernelRidge(**base, alpha="optimal-clipped").fit(X, y, Xv, yv)
    assert clipped.alphas_[1] == 1.0
    np.testing.assert_allclose(clipped.predict(X), clipped.predict(X, step=1), rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_precomputed_symmetry_tolerance_is_relative(scale):
    X, Y = _data()
    K = scale * np.exp(-0.5 * ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    nearly = K.copy()
    nearly[0, 1] += 1e-12 * scale  # 1e-12 relative: rounding, accepted at every scale
    SelfDistilledKernelRidge(kernel="precomputed", lam=0.3).fit(nearly, Y[:, 0])
    skewed = K.copy()
    skewed[0, 1] += 1e-5 * scale  # 1e-5 relative: not a symmetric kernel
    with pytest.raises(ValueError, match="symmetric"):
        SelfDistilledKernelRidge(kernel="precomputed", lam=0.3).fit(skewed, Y[:, 0])


@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ,
    reason="under mutmut each function runs through a trampoline, which adds stack frames",
)
def test_epsilon_mode_warnings_point_at_the_callers_line():
    X, Y = _data()
    y = Y[:, 0]
    with pytest.warns(CollapseWarning) as caught:
        SelfDistilledKernelRidge(lam=None, epsilon=10.0 * float(np.mean(y**2)), steps=2).fit(X, y)
    assert caught[0].filename == __file__
    # a null space (the linear kernel in 2-D has rank 2 on 12 points) and a tiny epsilon: no
    # ridge reaches it, the lam -> 0+ limit is taken
    with pytest.warns(ToleranceWarning) as caught:
        SelfDistilledKernelRidge(kernel="linear", lam=None, epsilon=1e-6, steps=2).fit(X, y)
    assert caught[0].filename == __file__


def test_unfitted_estimator_raises_not_fitted_before_checking_alpha():
    X, _ = _data()
    with pytest.raises(NotFittedError):
        SelfDistilledKernelRidge(alpha="optimal").predict_limit(X)


def test_predict_limit_refused_in_epsilon_mode_with_positive_alpha():
    X, Y = _data()
    y = Y[:, 0]
    est = SelfDistilledKernelRidge(
        lam=None, epsilon=0.05 * float(np.mean(y**2)), steps=2, alpha=0.5
    ).fit(X, y)
    with pytest.raises(ValueError) as info:
        est.predict_limit(X)
    assert str(info.value) == (
        "predict_limit with alpha > 0 needs a fixed lam: in epsilon mode the ridge of each step "
        "depends on the previous one and there is no closed-form limit"
    )


# ---------------------------------------------------------------- n_components: the Nyström engine
# The reference is the explicit Nyström Gram K~ = K_nm K_mm^+ K_mn (numpy pinv) with fresh
# solves per step (tests/kernel/test_nystrom_engine.py), on the centres select_centres draws.
POLY = {"kernel": "poly", "gamma": 0.5, "degree": 3, "coef0": 0.7, "kernel_params": None}


def nystrom_problem(seed: int, q: int | None = None, n: int = 30):
    rng = np.random.default_rng(seed)
    X, Xt = rng.normal(size=(n, 3)), rng.normal(size=(7, 3))
    return X, Xt, rng.normal(size=(n,) if q is None else (n, q))


@pytest.mark.parametrize("q", [None, 2])
def test_nystrom_steps_and_limit_match_explicit_solves_on_the_nystrom_gram(q) -> None:
    from selfdistill.kernel.nystrom import select_centres
    from tests.kernel.test_nystrom_engine import brute_force as nystrom_steps
    from tests.kernel.test_nystrom_engine import nystrom_grams

    X, Xt, y = nystrom_problem(40, q)
    # every kernel parameter matters for "poly": each one must reach the Nyström pass
    kw = dict(POLY, lam=0.3, steps=3, alpha=0.4, n_components=8, random_state=5, block_size=4)
    est = SelfDistilledKernelRidge(**kw).fit(X, y)
    C = select_centres(X, 8, 5)  # the seed reaches the centres
    np.testing.assert_array_equal(est.centres_, C)
    assert est.n_features_in_ == 3 and est.eigval_rtol_ == EIGVAL_RTOL
    Kt, Kv = nystrom_grams(X, Xt, C, POLY)
    Y = y.reshape(30, -1)
    expected, _ = nystrom_steps(Kt, Kv, Y, 0.3, [np.nan, 0.4, 0.4])
    shape = (7,) if q is None else (7, q)
    for t, pred in enumerate(est.staged_predict(Xt)):
        assert pred.shape == shape
        assert_rel(pred, expected[t].reshape(shape))
    # Borup Thm 4.5 on K~: f_inf = K~(x, X) (K~ + lam)^-1 (alpha y + (1 - alpha) y_inf)
    y_inf = Kt @ np.linalg.solve(Kt + 0.3 / 0.4 * np.eye(30), Y)
    limit = Kv @ np.linalg.solve(Kt + 0.3 * np.eye(30), 0.4 * Y + 0.6 * y_inf)
    assert_rel(est.predict_limit(Xt), limit.reshape(shape))
    assert_rel(est.predict_limit(Xt), limit.reshape(shape))  # the cached coefficients
    zero = SelfDistilledKernelRidge(**dict(kw, alpha=0.0)).fit(X, y).predict_limit(Xt)
    assert zero.shape == shape and np.all(zero == 0.0)
    # the spectrum: the m non-zero eigenvalues of K~; its n x n eigenvectors are never formed
    top = np.linalg.eigvalsh(Kt)[::-1][:8]
    np.testing.assert_allclose(est.eigvals_, top, rtol=1e-8)
    with pytest.raises(AttributeError) as info:
        _ = est.eigvecs_
    assert str(info.value) == (
        "eigvecs_: with n_components the n x n eigenvectors of the Nyström Gram matrix are "
        "never formed (its eigenvalues are eigvals_)"
    )


def test_nystrom_optimal_alpha_is_theorem_4_4_on_the_nystrom_gram() -> None:
    from selfdistill.kernel.nystrom import select_centres
    from tests.kernel.test_nystrom_engine import brute_force as nystrom_steps
    from tests.kernel.test_nystrom_engine import nystrom_grams

    X, Xt, y = nystrom_problem(41)
    Xv = np.random.default_rng(42).normal(size=(9, 3))
    yv = np.sin(Xv[:, 0])
    est = SelfDistilledKernelRidge(**POLY, lam=0.3, steps=3, alpha="optimal", n_components=8)
    est.set_params(random_state=5).fit(X, y, X_val=Xv, y_val=yv)
    C = select_centres(X, 8, 5)
    Kt, Kv = nystrom_grams(X, Xt, C, POLY)
    Kval = nystrom_grams(X, Xv, C, POLY)[1]
    expected, used = nystrom_steps(
        Kt, Kv, y[:, None], 0.3, [np.nan, None, None], Y_val=yv[:, None], Kval=Kval
    )
    np.testing.assert_allclose(est.alphas_[1:], used[1:], rtol=1e-8)
    assert np.isnan(est.alphas_[0])
    assert_rel(est.predict(Xt), expected[-1][:, 0])


def test_nystrom_pass_runs_with_the_estimators_block_size_and_dtype(monkeypatch) -> None:
    import selfdistill.kernel.nystrom_fit as nystrom_fit

    seen = []
    accumulate = nystrom_fit.accumulate

    def spy(*args, **kwargs):
        seen.append((kwargs["block_size"], kwargs["dtype"]))
        return accumulate(*args, **kwargs)

    monkeypatch.setattr(nystrom_fit, "accumulate", spy)
    X, _, y = nystrom_problem(43)
    SelfDistilledKernelRidge(n_components=8, block_size=4, dtype="float32").fit(X, y)
    assert seen == [(4, "float32")]


def test_nystrom_epsilon_collapse_warns_for_the_single_output() -> None:
    X, Xt, y = nystrom_problem(44)
    eps = 2.0 * float(np.mean(y**2))  # the zero function meets it at step 1
    est = SelfDistilledKernelRidge(lam=None, epsilon=eps, steps=2, n_components=8, random_state=0)
    with pytest.warns(CollapseWarning) as caught:
        est.fit(X, y)
    assert len(caught) == 1
    assert str(caught[0].message) == (
        f"self-distillation collapsed at step 1: the zero function meets epsilon = {eps:g}, "
        "so this step predicts exactly zero"
    )
    assert est.collapsed_at_ == 1 and np.all(est.predict(Xt) == 0.0)
