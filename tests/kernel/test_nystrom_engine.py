"""The Nyström engine against explicit computations with the Nyström Gram matrix (issue 25).

Reference: ``K~ = K_nm K_mm^+ K_mn`` formed explicitly (``numpy.linalg.pinv``, n x n) and a
brute-force self-distillation loop of explicit solves ``(K~ + lam I) c = targets`` (Borup eqs.
3-5), predictions ``K~(X_test, X) c``. Every step must match to 1e-8 relative (the goal).
Epsilon mode is compared with the exact engine fed ``K~`` as a precomputed kernel.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfdistill import SelfDistilledKernelRidge
from selfdistill.kernel.functions import kernel_matrix
from selfdistill.kernel.nystrom import NystromAccumulator, kernel_block, select_centres
from selfdistill.kernel.nystrom_fit import accumulate, fit_from_statistics, fit_nystrom
from selfdistill.kernel.nystrom_steps import limit_filter

RTOL = 1e-8
KA = {"kernel": "rbf", "gamma": 0.3, "degree": 3, "coef0": 1, "kernel_params": None}


def data(n: int = 400, d: int = 4, q: int = 1, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.c_[np.sin(X[:, 0]), np.cos(X[:, 1]), X[:, 2]][:, :q] + 0.3 * rng.normal(size=(n, q))
    Xt = rng.normal(size=(60, d))
    return X, Y, Xt


def nystrom_grams(X, Xt, C, ka=KA):
    """Explicit ``K~`` (n, n) and ``K~(X_test, X)`` with ``numpy.linalg.pinv``."""
    pinv = np.linalg.pinv(kernel_matrix(C, **ka), hermitian=True)
    Knm = kernel_matrix(X, C, **ka)
    return Knm @ pinv @ Knm.T, kernel_matrix(Xt, C, **ka) @ pinv @ Knm.T


def brute_force(Kt, Kv, Y, lam, alphas, Y_val=None, Kval=None, clipped=False):
    """Explicit solves, step by step; alpha None per step: Borup Thm 4.4 computed directly."""
    n = Kt.shape[0]
    solve = lambda b: np.linalg.solve(Kt + lam * np.eye(n), b)  # noqa: E731
    c1 = solve(Y)
    out, used, prev, c = [Kv @ c1], [np.nan], Kt @ c1, c1
    for a in alphas[1:]:
        if a is None:
            f1, g = Kval @ c1, Kval @ solve(prev)
            a = 1.0 - np.sum((g - f1) * (Y_val - f1)) / np.sum((g - f1) ** 2)
            a = min(max(a, 0.0), 1.0) if clipped else a
        c = solve(a * Y + (1.0 - a) * prev)
        prev = Kt @ c
        out.append(Kv @ c)
        used.append(a)
    return out, np.array(used)


def assert_steps_close(ours, ref, rtol=RTOL):
    for t, (a, b) in enumerate(zip(ours, ref, strict=True)):
        err = np.abs(a - b).max() / np.abs(b).max()
        assert err <= rtol, f"step {t + 1}: relative error {err:.2e}"


def predictions(fit, Xt, ka=KA):
    Kt = kernel_block(Xt, fit.centres, ka)
    return [Kt @ c for c in fit.coefs]


@pytest.mark.parametrize("q", [1, 3])
@pytest.mark.parametrize(
    ("lam", "alphas"), [(0.05, [0.0, 0.0, 0.0]), (0.5, [0.2, 0.0, 0.7, 1.0]), (3.0, [0.5])]
)
def test_fixed_and_per_step_alpha_match_explicit_solves(q, lam, alphas):
    X, Y, Xt = data(q=q)
    steps = len(alphas) + 1
    fit = fit_nystrom(
        X, Y, n_components=50, kernel_args=KA, lam=lam, epsilon=None, steps=steps,
        alphas=np.r_[np.nan, alphas], mode="sequence", block_size=37, random_state=0,
    )  # fmt: skip
    Kt, Kv = nystrom_grams(X, Xt, fit.centres)
    ref, _ = brute_force(Kt, Kv, Y, lam, [np.nan, *alphas])
    assert_steps_close(predictions(fit, Xt), ref)


@pytest.mark.parametrize("clipped", [False, True])
def test_optimal_alpha_matches_theorem_4_4_computed_directly(clipped):
    X, Y, Xt = data(q=2, seed=1)
    Xv, Yv, _ = data(n=80, q=2, seed=2)
    fit = fit_nystrom(
        X, Y, n_components=40, kernel_args=KA, lam=0.2, epsilon=None, steps=5, alphas=None,
        mode="optimal-clipped" if clipped else "optimal", X_val=Xv, Y_val=Yv, random_state=3,
    )  # fmt: skip
    Kt, Kv = nystrom_grams(X, Xt, fit.centres)
    _, Kval = nystrom_grams(X, Xv, fit.centres)
    ref, used = brute_force(Kt, Kv, Y, 0.2, [np.nan] + [None] * 4, Yv, Kval, clipped)
    assert_steps_close(predictions(fit, Xt), ref)
    np.testing.assert_allclose(fit.alphas[1:], used[1:], rtol=1e-8)


@pytest.mark.parametrize("epsilon", [0.02, 0.08, 0.3, 2.0])
@pytest.mark.parametrize("alpha", [0.0, 0.4])
def test_epsilon_mode_matches_the_exact_engine_on_the_nystrom_gram(epsilon, alpha):
    X, Y, Xt = data(n=300, q=2, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_nystrom(
            X, Y, n_components=30, kernel_args=KA, lam=None, epsilon=epsilon, steps=4,
            alphas=np.r_[np.nan, [alpha] * 3], mode="fixed", random_state=0,
        )  # fmt: skip
        Kt, Kv = nystrom_grams(X, Xt, fit.centres)
        exact = SelfDistilledKernelRidge(
            kernel="precomputed", lam=None, epsilon=epsilon, steps=4, alpha=alpha
        ).fit(Kt, Y)
    np.testing.assert_allclose(fit.lams, exact.lams_, rtol=1e-8)
    ref = list(exact.staged_predict(Kv))
    for t, (a, b) in enumerate(zip(predictions(fit, Xt), ref, strict=True)):
        scale = max(np.abs(b).max(), 1e-12)
        assert np.abs(a - b).max() <= RTOL * scale, f"step {t + 1}"
    # the per-step statuses agree with the exact engine's ridges
    assert np.array_equal(fit.status == "collapse", np.isinf(exact.lams_))
    assert np.array_equal(fit.status == "limit", exact.lams_ == 0.0)


def test_epsilon_limit_and_collapse_are_both_reached():
    """The grid above covers all three branches (guards the guard)."""
    X, Y, _ = data(n=300, q=2, seed=4)
    seen = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epsilon in (0.02, 0.08, 0.3, 2.0):
            fit = fit_nystrom(
                X, Y, n_components=30, kernel_args=KA, lam=None, epsilon=epsilon, steps=4,
                alphas=np.r_[np.nan, [0.4] * 3], mode="fixed", random_state=0,
            )  # fmt: skip
            seen |= set(fit.status.ravel())
    assert seen == {"root", "limit", "collapse"}


def test_limit_filter_is_the_explicit_borup_theorem_4_5_limit():
    X, Y, Xt = data(seed=5)
    lam, alpha = 0.3, 0.25
    fit = fit_nystrom(
        X, Y, n_components=40, kernel_args=KA, lam=lam, epsilon=None, steps=1,
        alphas=np.r_[np.nan], mode="fixed", random_state=0,
    )  # fmt: skip
    Kt, Kv = nystrom_grams(X, Xt, fit.centres)
    n = Kt.shape[0]
    y_inf = Kt @ np.linalg.solve(Kt + lam / alpha * np.eye(n), Y)
    ref = Kv @ np.linalg.solve(Kt + lam * np.eye(n), alpha * Y + (1 - alpha) * y_inf)
    ours = kernel_block(Xt, fit.centres, KA) @ limit_filter(fit.spectrum, lam, alpha)
    assert np.abs(ours - ref).max() <= RTOL * np.abs(ref).max()


def test_all_rows_as_centres_equal_the_exact_engine():
    """m = n: the Nyström kernel is the exact kernel on the training rows."""
    X, Y, Xt = data(n=120, seed=6)
    with pytest.warns(UserWarning, match="n_components=500 > n_samples=120"):
        fit = fit_nystrom(
            X, Y, n_components=500, kernel_args=KA, lam=0.1, epsilon=None, steps=3,
            alphas=np.r_[np.nan, 0.3, 0.3], mode="fixed", random_state=0,
        )  # fmt: skip
    exact = SelfDistilledKernelRidge(gamma=0.3, lam=0.1, steps=3, alpha=0.3).fit(X, Y)
    assert_steps_close(predictions(fit, Xt), list(exact.staged_predict(Xt)), rtol=1e-7)


def test_accumulated_statistics_are_the_explicit_products():
    X, Y, _ = data(n=333, q=2)
    C = select_centres(X, 25, 0)
    folds = np.arange(333) % 3
    acc = NystromAccumulator(C, KA, n_outputs=2, n_folds=3, block_size=50)
    acc.partial_fit(X, Y, folds)
    K = kernel_matrix(X, C, **KA)
    for f in range(3):
        rows = folds == f
        np.testing.assert_allclose(acc.gram(f), K[rows].T @ K[rows], rtol=1e-12)
        np.testing.assert_allclose(acc.target_[f], K[rows].T @ Y[rows], rtol=1e-12)
        np.testing.assert_allclose(acc.target_sq_[f], (Y[rows] ** 2).sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(acc.target_sum_[f], Y[rows].sum(axis=0), rtol=1e-12)
        assert acc.n_samples_[f] == rows.sum()
    G, _b, _yy, n = acc.totals()
    np.testing.assert_allclose(G, K.T @ K, rtol=1e-12)
    assert n == 333


def test_float32_blocks_are_close_to_float64():
    """Measured bound: float32 kernel blocks move G by < 1e-5 relative (float64 sums)."""
    X, Y, _ = data(n=2000, d=10)
    C = select_centres(X, 100, 0)
    ka = {**KA, "gamma": 0.05}
    G64 = accumulate(X, Y, C, ka, dtype="float64", block_size=500).gram()
    G32 = accumulate(X, Y, C, ka, dtype="float32", block_size=500).gram()
    assert np.abs(G32 - G64).max() <= 1e-5 * np.abs(G64).max()
    assert np.abs(G32 - G64).max() > 0  # the float32 path really runs in float32


@given(
    cuts=st.lists(st.integers(1, 199), max_size=4, unique=True),
    block=st.integers(1, 80),
    lam=st.floats(1e-3, 10.0),
    alpha=st.floats(0.0, 1.0),
)
def test_blocks_partial_fits_and_merges_do_not_change_the_fit(cuts, block, lam, alpha):
    """Any split of the rows into partial_fit calls, any block size, merged in any grouping:
    the same statistics (1e-12) and the same predictions (1e-10) as one pass."""
    X, Y, Xt = data(n=200, d=3, seed=7)
    C = select_centres(X, 20, 1)
    one = NystromAccumulator(C, KA, block_size=4096).partial_fit(X, Y)
    bounds = [0, *sorted(cuts), 200]
    parts = [
        NystromAccumulator(C, KA, block_size=block).partial_fit(X[a:b], Y[a:b])
        for a, b in itertools.pairwise(bounds)
    ]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    np.testing.assert_allclose(merged.gram(), one.gram(), rtol=1e-12, atol=1e-12)
    alphas = np.r_[np.nan, alpha, alpha]
    kw = {"lam": lam, "epsilon": None, "steps": 3, "alphas": alphas, "mode": "fixed"}
    a, b = fit_from_statistics(merged, **kw), fit_from_statistics(one, **kw)
    Kt = kernel_block(Xt, C, KA)
    for ca, cb in zip(a.coefs, b.coefs, strict=True):
        ref = Kt @ cb
        assert np.abs(Kt @ ca - ref).max() <= 1e-10 * max(np.abs(ref).max(), 1e-12)


def test_other_kernels_and_a_memmap(tmp_path):
    """Non-RBF kernels go through kernel_matrix; X may be a numpy memmap (read in blocks)."""
    X, Y, Xt = data(n=250, seed=8)
    mm = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float64, shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.load(tmp_path / "X.npy", mmap_mode="r")
    ka = {"kernel": "laplacian", "gamma": 0.2, "degree": 3, "coef0": 1, "kernel_params": None}
    fit = fit_nystrom(
        ro, Y, n_components=30, kernel_args=ka, lam=0.1, epsilon=None, steps=2,
        alphas=np.r_[np.nan, 0.5], mode="fixed", block_size=64, random_state=0,
    )  # fmt: skip
    Kt, Kv = nystrom_grams(X, Xt, fit.centres, ka)
    ref, _ = brute_force(Kt, Kv, Y, 0.1, [np.nan, 0.5])
    assert_steps_close(predictions(fit, Xt, ka), ref)
