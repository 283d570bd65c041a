"""selfdistill.theory against independent computations.

The reference here never uses the module under test: Mobahi's rounds are recomputed with an
explicit linear solve per round and a root finder on the explicitly computed training loss,
Borup's steps with explicit matrices, and every closed form once more as a plain loop.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import brentq

from selfdistill import theory


# ---------------------------------------------------------------------------------------------
# Independent reference: Mobahi's rounds by explicit solves
# ---------------------------------------------------------------------------------------------
def random_problem(seed: int, n: int, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    """A random symmetric positive-definite G with condition number ``kappa`` and labels."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    d = np.geomspace(1.0, 1.0 / kappa, n) if n > 1 else np.ones(1)
    G = (Q * d) @ Q.T
    return 0.5 * (G + G.T), rng.standard_normal(n)


def explicit_fit(G: np.ndarray, targets: np.ndarray, c: float) -> np.ndarray:
    """Training predictions of Mobahi eq. 11: G (c I + G)^-1 targets, by a linear solve."""
    return G @ np.linalg.solve(c * np.eye(len(G)) + G, targets)


def explicit_c(G: np.ndarray, targets: np.ndarray, epsilon: float) -> float:
    """The multiplier c whose explicit fit has mean squared error epsilon."""

    def h(log_c: float) -> float:
        f = explicit_fit(G, targets, math.exp(log_c))
        return float(np.mean((f - targets) ** 2)) - epsilon

    return math.exp(brentq(h, -60.0, 60.0, xtol=1e-13, rtol=1e-13))


def explicit_rounds(G: np.ndarray, y: np.ndarray, epsilon: float, rounds: int):
    """Targets y_0, y_1, ... and multipliers c_0, c_1, ... until collapse (or ``rounds``)."""
    ys, cs = [y], []
    for _ in range(rounds):
        if np.mean(ys[-1] ** 2) <= epsilon:
            break
        c = explicit_c(G, ys[-1], epsilon)
        cs.append(c)
        ys.append(explicit_fit(G, ys[-1], c))
    return ys, cs


def eig(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d, V = np.linalg.eigh(G)
    return d[::-1], V[:, ::-1]


problems = st.tuples(
    st.integers(0, 10_000),  # seed
    st.integers(2, 7),  # n
    st.sampled_from([1.5, 4.0, 20.0]),  # kappa
    st.floats(0.02, 0.6),  # epsilon as a fraction of mean(y**2)
)


# ---------------------------------------------------------------------------------------------
# Mobahi eq. 12 / 16, Propositions 3-4, Theorem 5
# ---------------------------------------------------------------------------------------------
@given(problems)
def test_c_bounds_contain_the_explicit_root(problem):
    seed, n, kappa, frac = problem
    G, y = random_problem(seed, n, kappa)
    epsilon = frac * float(np.mean(y**2))
    c = explicit_c(G, y, epsilon)
    lower, upper = theory.c_bounds(np.linalg.eigvalsh(G), y, epsilon)
    assert lower * (1 - 1e-9) <= c <= upper * (1 + 1e-9)
    # Units of K = n G: the bounds are on lam = n c.
    lo_k, up_k = theory.c_bounds(n * np.linalg.eigvalsh(G), y, epsilon)
    assert lo_k == pytest.approx(n * lower, rel=1e-12)
    assert up_k == pytest.approx(n * upper, rel=1e-12)


def test_c_bounds_closed_form_and_misprint():
    d = np.array([2.0, 1.0, 0.5])
    y = np.array([3.0, -1.0, 2.0])
    epsilon = 0.5
    s = math.sqrt(3 * 0.5)  # sqrt(K eps), not sqrt(K) * eps
    norm = math.sqrt(14.0)
    lower, upper = theory.c_bounds(d, y, epsilon)
    assert lower == pytest.approx(0.5 * s / (norm - s), rel=1e-14)
    assert upper == pytest.approx(2.0 * s / (norm - s), rel=1e-14)


def test_c_bounds_semidefinite_spectrum_gives_zero_lower_bound():
    lower, upper = theory.c_bounds([1.0, 0.3, 1e-18, -1e-17], [1.0, 2.0, 0.5, -1.0], 0.1)
    assert lower == 0.0
    assert upper > 0.0


@given(problems)
def test_norm_bound_and_guaranteed_rounds_hold_on_explicit_rounds(problem):
    seed, n, kappa, frac = problem
    G, y = random_problem(seed, n, kappa)
    epsilon = frac * float(np.mean(y**2)) / 50.0  # small: several rounds before collapse
    d = np.linalg.eigvalsh(G)
    t_lower = theory.guaranteed_rounds(d, y, epsilon)
    ys, cs = explicit_rounds(G, y, epsilon, rounds=int(t_lower) + 3)
    s = math.sqrt(n * epsilon)
    for t, yt in enumerate(ys):
        # Proposition 3 needs ||z_i|| > s for i < t.
        if all(np.linalg.norm(ys[i]) > s for i in range(t)):
            bound = theory.norm_lower_bound(t, d, y, epsilon)
            assert np.linalg.norm(yt) >= bound - 1e-9 * np.linalg.norm(y)
    # Every c_t lies inside eq. 16's bounds for its round.
    for yt, c in zip(ys, cs, strict=False):
        lower, upper = theory.c_bounds(d, yt, epsilon)
        assert lower * (1 - 1e-9) <= c <= upper * (1 + 1e-9)
    non_collapsed = len(cs)  # rounds 0, 1, ... that had ||y_t|| > sqrt(n eps)
    assert non_collapsed >= math.floor(t_lower)


@pytest.mark.parametrize("r0", [3.5, 6.3, 10.25])  # r0 - 1 not an integer: no tie
def test_kappa_one_is_exact(r0):
    # G = g I: c_t hits eq. 12's bound exactly, ||z_t|| = (r0 - t) sqrt(n eps) (Prop. 3 with
    # a = b = 1), and collapse comes after exactly ceil(t_lower) rounds.
    n, g = 5, 0.7
    rng = np.random.default_rng(1)
    y = rng.standard_normal(n)
    epsilon = (np.linalg.norm(y) / r0) ** 2 / n
    G = g * np.eye(n)
    ys, cs = explicit_rounds(G, y, epsilon, rounds=20)
    s = math.sqrt(n * epsilon)
    for t, yt in enumerate(ys):
        assert np.linalg.norm(yt) == pytest.approx(
            theory.norm_lower_bound(t, np.full(n, g), y, epsilon), rel=1e-9, abs=1e-9 * s
        )
        assert np.linalg.norm(yt) == pytest.approx((r0 - t) * s, rel=1e-9, abs=1e-9 * s)
    t_lower = theory.guaranteed_rounds(np.full(n, g), y, epsilon)
    assert t_lower == pytest.approx(r0 - 1.0, rel=1e-12)
    assert len(cs) == math.ceil(t_lower)
    assert theory.guaranteed_rounds(np.full(n, g), y, epsilon, small_epsilon=True) == (
        pytest.approx(r0, rel=1e-12)
    )


@given(problems, st.integers(0, 4))
def test_ratio_lower_bound_holds_on_explicit_products(problem, t):
    seed, n, kappa, frac = problem
    G, y = random_problem(seed, n, kappa)
    epsilon = frac * float(np.mean(y**2)) / 20.0
    d, _ = eig(G)
    _, cs = explicit_rounds(G, y, epsilon, rounds=t)
    if len(cs) < t:
        return  # collapsed before round t: the theorem says nothing
    B = np.prod([d / (c + d) for c in cs], axis=0) if cs else np.ones(n)
    bound = theory.ratio_lower_bound(t, d, y, epsilon)
    for k in range(n):
        for j in range(n):
            if d[k] > d[j]:
                assert B[k] / B[j] >= bound[k, j] * (1 - 1e-9)
            else:
                assert np.isnan(bound[k, j])


def test_ratio_lower_bound_closed_form_and_order():
    d = np.array([0.5, 2.0, 1.0])  # any order: rows and columns follow eigvals
    y = np.array([2.0, -2.0, 1.0])
    epsilon, t = 0.1, 2.5
    r0 = np.linalg.norm(y) / math.sqrt(3 * epsilon)
    got = theory.ratio_lower_bound(t, d, y, epsilon)
    for k in range(3):
        for j in range(3):
            if d[k] > d[j]:
                want = ((r0 - 1 + 0.5 / d[j]) / (r0 - 1 + 0.5 / d[k])) ** t
                assert got[k, j] == pytest.approx(want, rel=1e-13)
            else:
                assert np.isnan(got[k, j])


@given(problems, st.floats(0.0, 6.0))
def test_sparsity_index_is_min_over_pairs_and_loop(problem, t):
    seed, n, kappa, frac = problem
    G, y = random_problem(seed, n, kappa)
    epsilon = frac * float(np.mean(y**2))
    d = np.linalg.eigvalsh(G)
    got = theory.sparsity_index(t, d, y, epsilon)
    assert got == pytest.approx(np.nanmin(theory.ratio_lower_bound(t, d, y, epsilon)), rel=1e-12)
    # Eq. 23 as a loop over neighbours of the ascending spectrum.
    r0 = np.linalg.norm(y) / math.sqrt(n * epsilon)
    asc = np.sort(d)
    loop = min(
        ((r0 - 1 + asc[0] / asc[k]) / (r0 - 1 + asc[0] / asc[k + 1])) ** t for k in range(n - 1)
    )
    assert got == pytest.approx(loop, rel=1e-12)
    assert got >= 1.0


@given(problems, st.floats(0.05, 0.95))
def test_theorem6_max_sparsity_decreases_in_epsilon_towards_the_limit(problem, shrink):
    seed, n, kappa, frac = problem
    G, y = random_problem(seed, n, kappa)
    d = np.linalg.eigvalsh(G)
    eps_hi = frac * float(np.mean(y**2))
    eps_lo = shrink * eps_hi
    s_hi = theory.max_sparsity_index(d, y, eps_hi)
    s_lo = theory.max_sparsity_index(d, y, eps_lo)
    limit = theory.sparsity_index_limit(d)
    assert s_lo >= s_hi * (1 - 1e-12)
    assert s_lo <= limit * (1 + 1e-12)
    # eq. 24 is eq. 23 at t = t_lower
    t_lower = theory.guaranteed_rounds(d, y, eps_lo)
    assert s_lo == pytest.approx(theory.sparsity_index(t_lower, d, y, eps_lo), rel=1e-13)


def test_sparsity_index_limit_is_the_epsilon_to_zero_limit():
    G, y = random_problem(3, 6, 4.0)
    d = np.linalg.eigvalsh(G)
    limit = theory.sparsity_index_limit(d)
    asc = np.sort(d)
    want = math.exp(asc[0] / (asc[-1] / asc[0]) * min(1 / asc[:-1] - 1 / asc[1:]))
    assert limit == pytest.approx(want, rel=1e-14)
    near = theory.max_sparsity_index(d, y, 1e-12 * float(np.mean(y**2)))
    assert near == pytest.approx(limit, rel=1e-5)
    assert limit > 1.0


# ---------------------------------------------------------------------------------------------
# Mobahi section 3.7: equivalent spectrum and generalisation terms
# ---------------------------------------------------------------------------------------------
@given(problems, st.integers(1, 4))
def test_equivalent_kernel_reproduces_the_distilled_round(problem, rounds):
    seed, n, kappa, frac = problem
    G, y = random_problem(seed, n, kappa)
    epsilon = frac * float(np.mean(y**2)) / 10.0
    ys, cs = explicit_rounds(G, y, epsilon, rounds=rounds)
    d, V = eig(G)
    d_dag = theory.equivalent_spectrum(d, cs)
    # Plain ridge regression with G_dagger and c_0 gives the last round's predictions.
    G_dag = (V * d_dag) @ V.T
    np.testing.assert_allclose(
        explicit_fit(G_dag, y, cs[0]), ys[-1], rtol=1e-8, atol=1e-10 * np.linalg.norm(y)
    )
    # eq. 25 literally.
    literal = cs[0] / (np.prod([d + c for c in cs], axis=0) / d ** len(cs) - 1.0)
    np.testing.assert_allclose(d_dag, literal, rtol=1e-10)
    # d_dagger and both generalisation terms decrease with every round (section 3.7).
    for t in range(1, len(cs)):
        before = theory.equivalent_spectrum(d, cs[:t])
        after = theory.equivalent_spectrum(d, cs[: t + 1])
        assert np.all(after < before)
        assert theory.rademacher_trace_term(after) < theory.rademacher_trace_term(before)
        assert theory.local_rademacher_term(after) <= theory.local_rademacher_term(before)


def test_equivalent_spectrum_of_one_round_is_the_spectrum_and_zero_stays_zero():
    d = np.array([3.0, 1.0, 0.0])
    np.testing.assert_allclose(theory.equivalent_spectrum(d, [0.4]), d, rtol=1e-14)
    assert theory.equivalent_spectrum(d, [0.4, 0.2])[2] == 0.0


def test_generalisation_terms_by_loops():
    rng = np.random.default_rng(5)
    d = rng.uniform(0.0, 2.0, size=7)
    assert theory.rademacher_trace_term(d) == pytest.approx(math.sqrt(d.sum()), rel=1e-14)
    desc = sorted(d, reverse=True)
    size = len(d)
    want = min(k / size + math.sqrt(sum(desc[k:]) / size) for k in range(size + 1))
    assert theory.local_rademacher_term(d) == pytest.approx(want, rel=1e-14)
    assert theory.local_rademacher_term(np.zeros(3)) == 0.0


def test_local_rademacher_term_sorts_descending():
    """A spectrum whose minimum over k is interior, where the sort order decides the value.

    With d = (4, 0.01, 0.01, 0.01, 0.01) in any input order, sorted descending, k = 1 removes the
    large entry: 1/5 + sqrt(0.04/5) ~ 0.289. Sorted ascending (a surviving mutant of issue 17),
    k = 1 removes a small one and the minimum stays at k = 0, sqrt(4.04/5) ~ 0.899.
    """
    d = np.array([0.01, 4.0, 0.01, 0.01, 0.01])
    want = 1 / 5 + math.sqrt(0.04 / 5)
    assert theory.local_rademacher_term(d) == pytest.approx(want, rel=1e-14)
    ascending = sorted(d)
    wrong = min(k / 5 + math.sqrt(sum(ascending[k:]) / 5) for k in range(6))
    assert wrong != pytest.approx(want, rel=1e-3)  # the data can tell the two orders apart


# ---------------------------------------------------------------------------------------------
# Mobahi section 3.4: early stopping
# ---------------------------------------------------------------------------------------------
def test_early_stopping_path_matches_explicit_fits_and_never_sparsifies():
    G, y = random_problem(11, 6, 20.0)
    d, V = eig(G)
    m = float(np.mean(y**2))
    epsilons = np.array([0.01, 0.1, 0.4, 0.9]) * m
    path = theory.early_stopping_path(d, y, epsilons, eigvecs=V)
    same = theory.early_stopping_path(d, V.T @ y, epsilons)  # labels given as z = V^T y
    np.testing.assert_allclose(same.cs, path.cs, rtol=1e-12)
    for e, c, B in zip(epsilons, path.cs, path.B, strict=True):
        assert c == pytest.approx(explicit_c(G, y, e), rel=1e-8)
        np.testing.assert_allclose(B, d / (c + d), rtol=1e-13)
        # Section 3.4: B_0[k] / B_0[j] < d_k / d_j -- the pattern of D, never sparser.
        ratio = B[:, None] / B[None, :]
        upper = d[:, None] / d[None, :]
        assert np.all(ratio[upper > 1] < upper[upper > 1])
    assert np.all(np.diff(path.cs) > 0)  # looser tolerance, larger multiplier
    # Self-distillation at the smallest tolerance beats the pattern of D after enough rounds.
    _, cs = explicit_rounds(G, y, float(epsilons[0]), rounds=60)
    B_sd = np.prod([d / (c + d) for c in cs], axis=0)
    assert B_sd[0] / B_sd[-1] > d[0] / d[-1]


def test_early_stopping_path_null_space_limit():
    d = np.array([1.0, 0.5, 0.0])
    z = np.array([1.0, 1.0, 1.0])  # the null component alone leaves mean 1/3
    path = theory.early_stopping_path(d, z, [0.3, 0.5])
    assert path.cs[0] == 0.0
    np.testing.assert_array_equal(path.B[0], [1.0, 1.0, 0.0])
    assert path.cs[1] > 0.0
    resid = np.mean((z * path.cs[1] / (path.cs[1] + d)) ** 2)
    assert resid == pytest.approx(0.5, rel=1e-10)


# ---------------------------------------------------------------------------------------------
# Borup Theorem 4.3, Theorem 4.5, appendix D.1
# ---------------------------------------------------------------------------------------------
def eq15_literal(B: np.ndarray, A: np.ndarray, alpha: float, k: int, j: int) -> float:
    """Borup eq. 15 exactly as printed; inf where the bracket is zero (sgn(+inf) = 1)."""
    x = (B[k] / B[j] - A[k] / A[j]) * A[j] / (B[k] * (A[k] - A[j])) + 1.0
    return 1.0 if x == 0.0 else float(np.sign(1.0 / x - alpha))


@given(
    st.integers(0, 10_000),
    st.integers(2, 6),
    st.floats(0.0, 1.0),
    st.floats(1e-3, 10.0),
    st.integers(1, 8),
)
def test_ratio_direction_predicts_the_next_step_with_fixed_lam(seed, n, alpha, lam, steps):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0.01, 1.0, n)
    A = d / (d + lam)
    B = np.ones(n)
    for _ in range(steps):  # walk the fixed-alpha path of Lemma 4.2
        B = A * ((1 - alpha) * B + alpha)
    pred = theory.ratio_direction(B, A, alpha)
    B_next = A * ((1 - alpha) * B + alpha)
    for k in range(n):
        for j in range(n):
            if d[k] <= d[j]:
                assert np.isnan(pred[k, j])
                continue
            change = B_next[k] / B_next[j] - B[k] / B[j]
            if abs(change) > 1e-10 * B[k] / B[j]:
                assert pred[k, j] == np.sign(change)
                assert eq15_literal(B, A, alpha, k, j) == np.sign(change)


def test_ratio_direction_first_step_and_alpha_one():
    A = np.array([0.9, 0.5, 0.2])
    grows = theory.ratio_direction(np.ones(3), A, 0.3)  # B^(0) = I: every ratio grows
    assert np.all(grows[np.triu_indices(3, 1)] == 1.0)
    stays = theory.ratio_direction(A, A, 1.0)  # alpha = 1: B^(tau) = A for every tau
    assert np.all(stays[np.triu_indices(3, 1)] == 0.0)


def test_ratio_direction_null_space_entries_are_nan():
    # Spline kernel: B = 0 on the null space of K, where no ratio exists.
    pred = theory.ratio_direction([0.9, 0.4, 0.0], [0.8, 0.3, 0.0], 0.25)
    assert pred[0, 1] == 1.0
    assert np.isnan(pred[0, 2]) and np.isnan(pred[1, 2])


def test_ratio_direction_where_eq15_is_wrong():
    # A changes between steps (ridge 0.0..10 drawn at random per step): the bracket x of eq. 15 is
    # negative, eq. 15 predicts "shrinks", the ratio grows. Found by a random search over ridge
    # sequences; never seen on fixed-lam paths nor on the epsilon-mode paths of the estimator.
    d = np.array([0.26969021, 0.21142069])
    B = np.array([0.94460689, 0.93500568])
    alpha, lam = 0.7503646726300526, 7.580566342010833
    A = d / (d + lam)
    B_next = A * ((1 - alpha) * B + alpha)
    assert B_next[0] / B_next[1] > B[0] / B[1]  # grows
    assert eq15_literal(B, A, alpha, 0, 1) == -1.0  # eq. 15 as printed
    assert theory.ratio_direction(B, A, alpha)[0, 1] == 1.0


@given(st.integers(0, 10_000), st.floats(0.0, 1.0), st.floats(1e-2, 5.0))
def test_limit_rate_bounds_explicit_convergence(seed, alpha, lam):
    rng = np.random.default_rng(seed)
    n = 5
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    d = rng.uniform(0.05, 2.0, n)
    K = (Q * d) @ Q.T
    y = rng.standard_normal(n)
    smoother = K @ np.linalg.inv(K + lam * np.eye(n))
    y_inf = alpha * K @ np.linalg.solve(alpha * K + lam * np.eye(n), y)  # Borup Thm A.5
    rate = theory.limit_rate(d, lam, alpha)
    assert rate == pytest.approx((1 - alpha) * d.max() / (d.max() + lam), rel=1e-14)
    y_t = smoother @ y  # step 1
    first = np.linalg.norm(y_t - y_inf)
    for tau in range(2, 30):
        y_t = smoother @ (alpha * y + (1 - alpha) * y_t)
        err = np.linalg.norm(y_t - y_inf)
        assert err <= rate ** (tau - 1) * first * (1 + 1e-9) + 1e-13


def test_limit_rate_is_attained_along_the_top_eigenvector():
    d = np.array([2.0, 1.0, 0.3])
    lam, alpha = 0.5, 0.2
    rate = theory.limit_rate(d, lam, alpha)
    A = d / (d + lam)
    B_inf = alpha * A / (1 - (1 - alpha) * A)
    B = A.copy()
    errs = []
    for _ in range(60):
        errs.append(np.abs(B - B_inf).max())
        B = A * ((1 - alpha) * B + alpha)
    # the next component contracts by (1 - alpha) A[1] = 0.533: (0.533 / 0.64)^60 ~ 2e-5
    assert errs[-1] / errs[-2] == pytest.approx(rate, rel=1e-4)


def test_collapse_regime_cases():
    y = np.array([1.0, -1.0, 1.0, -1.0])  # mean(y**2) = 1
    assert theory.collapse_regime(y, 1.0, 0.5) == "collapsed"
    assert theory.collapse_regime(y, 2.0, 0.0) == "collapsed"
    assert theory.collapse_regime(y, 0.9, 0.0) == "collapses-later"
    assert theory.collapse_regime(y, 0.5, 0.5) == "collapses-later"  # m = eps / alpha
    assert theory.collapse_regime(y, 0.4, 0.5) == "never-collapses"
    assert theory.collapse_regime(y, 0.9, 1.0) == "never-collapses"


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: theory.c_bounds([1.0, np.nan], [1.0, 2.0], 0.1), "eigvals"),
        (lambda: theory.c_bounds([1.0, -0.5], [1.0, 2.0], 0.1), "eigvals must be >= 0"),
        (lambda: theory.c_bounds([1.0, 0.5], [1.0, 2.0, 3.0], 0.1), "same length"),
        (lambda: theory.c_bounds([1.0, 0.5], [1.0, 2.0], 0.0), "epsilon"),
        (lambda: theory.c_bounds([1.0, 0.5], [1.0, 2.0], 2.5), "collapse regime"),
        (lambda: theory.c_bounds([[1.0]], [1.0], 0.1), "1-D"),
        (lambda: theory.guaranteed_rounds([1.0, 0.0], [1.0, 2.0], 0.1), "strictly positive"),
        (lambda: theory.norm_lower_bound(-1, [1.0, 0.5], [1.0, 2.0], 0.1), "t must be"),
        (lambda: theory.norm_lower_bound(1, [1.0, 1e-20], [1.0, 2.0], 0.1), "kappa"),
        (lambda: theory.ratio_lower_bound(1, [1.0, 0.0], [1.0, 2.0], 0.1), "range"),
        (lambda: theory.ratio_lower_bound(1e9, [1.0, 1e-3], [1.0, 2.0], 1e-9), "overflow"),
        (lambda: theory.sparsity_index(1, [1.0], [1.0], 0.1), "at least 2"),
        (lambda: theory.sparsity_index_limit([1.0, 0.0]), "strictly positive"),
        (lambda: theory.equivalent_spectrum([1.0, 0.5], [0.1, 0.0]), "cs must be > 0"),
        (lambda: theory.equivalent_spectrum([1.0, 0.5], [0.1, np.inf]), "finite"),
        (lambda: theory.rademacher_trace_term([1.0, -1.0]), "d_dagger"),
        (lambda: theory.early_stopping_path([1.0, 0.5], [1.0, 2.0], [3.0]), "epsilons"),
        (lambda: theory.early_stopping_path([1.0, 0.5], [1, 2], [0.1], eigvecs=np.eye(3)), "eig"),
        (lambda: theory.ratio_direction([1.0, 0.5], [0.5, 0.2, 0.1], 0.5), "same length"),
        (lambda: theory.ratio_direction([1.0, -0.1], [0.5, 0.2], 0.5), "B_prev"),
        (lambda: theory.ratio_direction([1.0, 0.5], [1.0, 0.2], 0.5), "A must"),
        (lambda: theory.ratio_direction([1.0, 0.5], [0.5, 0.2], 1.5), "alpha"),
        (lambda: theory.limit_rate([1.0, 0.5], 0.0, 0.5), "lam"),
        (lambda: theory.limit_rate([1.0, 0.5], 1.0, -0.1), "alpha"),
        (lambda: theory.collapse_regime([1.0, 2.0], -1.0, 0.5), "epsilon"),
        (lambda: theory.collapse_regime([1.0, np.inf], 1.0, 0.5), "y"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------
# Tests that kill surviving mutants of `selfdistill.theory` (issue 17, docs/testing.md).
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


# ---------------------------------------------------------------- error messages, whole
def _labels_for(d: list[float]) -> np.ndarray:
    return np.arange(1.0, len(d) + 1.0)  # ||y||^2 / n >= 14 / 3 > epsilon = 0.1


def _kappa_message(what: str, zeros: int) -> str:
    return (
        f"{what} needs a strictly positive spectrum (finite condition number kappa), but eigvals "
        f"has {zeros} zero eigenvalue(s) (|d| <= 1e-10 * max): restrict the problem to the range "
        "of the Gram matrix (its positive eigenvalues and the matching label components)"
    )


_D, _Y = [1.0, 0.5], [1.0, 2.0]  # mean(y**2) = 2.5
_Y3 = np.array([1.41, 0.84, 0.36])  # 3 nextafter(mean(y**2), 0) rounds up to ||y||^2
_FINITE = "must contain only finite values (no NaN or inf)"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: theory.c_bounds(["a", "b"], _Y, 0.1),
            "eigvals must hold real numbers, got dtype <U1",
        ),
        (lambda: theory.c_bounds([], [], 0.1), "eigvals must have at least 1 entries, got 0"),
        (lambda: theory.c_bounds([1.0, np.inf], _Y, 0.1), f"eigvals {_FINITE}"),
        (
            lambda: theory.c_bounds([0.0, 0.0], _Y, 0.1),
            "eigvals must have a positive entry (the Gram matrix is zero)",
        ),
        (lambda: theory.sparsity_index_limit([2.0]), "eigvals must have at least 2 entries, got 1"),
        (lambda: theory.c_bounds(_D, [1.0, np.nan], 0.1), f"y {_FINITE}"),
        (lambda: theory.c_bounds(_D, _Y, 0.0), "epsilon must be in (0, inf), got 0.0"),
        (
            lambda: theory.c_bounds(_D, _Y, 3.0),
            "epsilon is in the collapse regime: ||y|| = 2.23607 <= sqrt(n * epsilon) = 2.44949, so "
            "the zero function already meets the tolerance (Mobahi eq. 7); the bounds need "
            "epsilon < mean(y**2) = 2.5",
        ),
        (
            lambda: theory.sparsity_index(1, [1.0], [1.0], 0.1),
            "eigvals must have at least 2 entries for a sparsity index",
        ),
        (lambda: theory.equivalent_spectrum(_D, [0.1, np.nan]), f"cs {_FINITE}"),
        (
            lambda: theory.equivalent_spectrum(_D, [0.1, 0.0]),
            "cs must be > 0 (multipliers of non-collapsed rounds)",
        ),
        (lambda: theory.rademacher_trace_term([1.0, np.nan]), f"d_dagger {_FINITE}"),
        (lambda: theory.local_rademacher_term([np.inf]), f"d_dagger {_FINITE}"),
        (
            lambda: theory.early_stopping_path(_D, [1.0, 2.0, 3.0], [0.1]),
            "eigvals and y must have the same length (the n eigenvalues of the n x n Gram matrix "
            "and the n labels), got 2 and 3",
        ),
        (
            lambda: theory.early_stopping_path(_D, _Y, [0.1], eigvecs=[["a", "b"], ["c", "d"]]),
            "eigvecs must hold real numbers, got dtype <U1",
        ),
        (lambda: theory.early_stopping_path(_D, _Y, [0.1, np.nan]), f"epsilons {_FINITE}"),
        (
            lambda: theory.early_stopping_path(_D, _Y, [3.0]),
            "epsilons must be in (0, mean(y**2)) = (0, 2.5); at or above mean(y**2) the solution "
            "collapses to zero",
        ),
        (
            # below mean(y**2) by one ulp: the root finder sees the collapse (r >= 1 by rounding)
            lambda: theory.early_stopping_path(
                [1.0, 0.5, 0.25], _Y3, [np.nextafter(np.mean(_Y3**2), 0.0)]
            ),
            "epsilons must be clearly below mean(y**2) (the solution collapses)",
        ),
        (lambda: theory.ratio_direction([1.0, np.nan], [0.5, 0.2], 0.5), f"B_prev {_FINITE}"),
        (lambda: theory.ratio_direction([1.0, 0.5], [0.5, np.nan], 0.5), f"A {_FINITE}"),
        (
            lambda: theory.ratio_direction([1.5, 0.5], [0.5, 0.2], 0.5),
            "B_prev must have entries in [0, 1]",
        ),
        (
            lambda: theory.ratio_direction([1.0, 0.5], [0.5, -0.1], 0.5),
            "A must have entries in [0, 1)",
        ),
        (
            lambda: theory.ratio_direction([1.0, 0.5], [0.5, 0.2], -0.1),
            "alpha must be in [0, 1], got -0.1",
        ),
        (lambda: theory.limit_rate(_D, 0.0, 0.5), "lam must be in (0, inf), got 0.0"),
        (lambda: theory.limit_rate(_D, 1.0, 1.5), "alpha must be in [0, 1], got 1.5"),
        (lambda: theory.collapse_regime(_Y, 0.0, 0.5), "epsilon must be in (0, inf), got 0.0"),
        (lambda: theory.collapse_regime(_Y, 1.0, -0.1), "alpha must be in [0, 1], got -0.1"),
        (lambda: theory.collapse_regime(_Y, 1.0, 1.5), "alpha must be in [0, 1], got 1.5"),
    ],
)
def test_error_messages_whole(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("what", "call"),
    [
        ("norm_lower_bound", lambda d: theory.norm_lower_bound(1, d, _labels_for(d), 0.1)),
        ("guaranteed_rounds", lambda d: theory.guaranteed_rounds(d, _labels_for(d), 0.1)),
        ("ratio_lower_bound", lambda d: theory.ratio_lower_bound(1, d, _labels_for(d), 0.1)),
        ("sparsity_index", lambda d: theory.sparsity_index(1, d, _labels_for(d), 0.1)),
        ("sparsity_index_limit", theory.sparsity_index_limit),
    ],
)
def test_zero_eigenvalue_message_names_the_function_and_counts_the_zeros(what, call):
    # two exact zeros and one within EIGVAL_RTOL (1e-10) of zero: three zero eigenvalues
    with pytest.raises(ValueError) as info:
        call([2.0, 0.0, 0.0])
    assert str(info.value) == _kappa_message(what, 2)
    with pytest.raises(ValueError) as info:
        call([2.0, 0.0, 1e-11, 0.0])
    assert str(info.value) == _kappa_message(what, 3)


# ---------------------------------------------------------------- edges handled explicitly
@pytest.mark.parametrize("top", [1.0, 4.0])  # tol = EIGVAL_RTOL * top, exact in both
def test_round_off_zero_threshold_is_inclusive_on_both_sides(top):
    # |d| <= EIGVAL_RTOL * max counts as zero (docstring of the module): at exactly +-tol the
    # eigenvalue is 0 (lower bound 0), just beyond it is kept (+) or refused (-)
    tol = theory.EIGVAL_RTOL * top
    y, eps = [1.0, 2.0, 3.0], 0.5
    for at_tol in (tol, -tol):
        assert theory.c_bounds([top, at_tol, 0.5], y, eps)[0] == 0.0
    s = math.sqrt(3 * eps)
    above = 2.0 * tol
    lower = theory.c_bounds([top, above, 0.5], y, eps)[0]
    assert lower == pytest.approx(above * s / (math.sqrt(14.0) - s), rel=1e-14)
    with pytest.raises(ValueError, match="eigvals must be >= 0"):
        theory.c_bounds([top, -above, 0.5], y, eps)


def test_ratio_lower_bound_at_the_largest_finite_exponent():
    # The overflow check refuses t * log-ratio > log(float max) and accepts equality, where
    # exp gives 1.797...e308 (finite, without an overflow warning). t is found by stepping
    # ulps until t * x equals log(float max), x computed as the module does (eq. 20).
    d, y, eps = np.array([1.0, 0.5]), np.array([1.0, 2.0]), 0.1
    r0 = float(np.linalg.norm(y)) / math.sqrt(2 * eps)
    logf = np.log(r0 - 1.0 + 0.5 / d)
    x = logf[1] - logf[0]
    log_max = np.log(np.finfo(float).max)
    t = log_max / x
    for _ in range(64):
        if t * x == log_max:
            break
        t = np.nextafter(t, np.inf if t * x < log_max else 0.0)
    assert t * x == log_max  # the search found the exact edge
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        at_edge = theory.ratio_lower_bound(float(t), d, y, eps)
    assert at_edge[0, 1] == np.exp(log_max)
    assert 1.79e308 < at_edge[0, 1] < np.inf
    beyond = float(np.nextafter(t, np.inf))
    with pytest.raises(ValueError) as info:
        theory.ratio_lower_bound(beyond, d, y, eps)
    assert str(info.value) == f"t = {beyond:g} is so large that the bound overflows a float"


@pytest.mark.parametrize("scale", [0.3, 1.0, 7.0])
def test_sparsity_index_limit_is_scale_free(scale):
    # Theorem 6's exponent d_min / kappa * min(1/d_k - 1/d_{k+1}) is unchanged by d -> s d
    # (G or K units); by hand for d = (1, 2, 4) s: d_min / kappa = s / 4, the gaps are 1/(2s)
    # and 1/(4s), so the exponent is (s / 4) / (4 s) = 1/16
    d = scale * np.array([4.0, 1.0, 2.0])
    assert theory.sparsity_index_limit(d) == pytest.approx(math.exp(1 / 16), rel=1e-15)


def test_local_rademacher_term_k_equals_n_term_is_one():
    # a large spectrum: the minimum over k is at k = K, where the sum is empty: 1 + sqrt(0) = 1
    # (k = 0: sqrt(200 / 2) = 10; k = 1: 1/2 + sqrt(50) = 7.57)
    assert theory.local_rademacher_term([100.0, 100.0]) == 1.0


def test_early_stopping_path_returns_the_epsilons_as_given():
    path = theory.early_stopping_path([2.0, 1.0], [1.0, 1.0], [0.5, 0.1])
    assert isinstance(path, theory.EarlyStoppingPath)
    np.testing.assert_array_equal(path.epsilons, [0.5, 0.1])
    assert path.cs.shape == (2,) and path.B.shape == (2, 2)


def test_collapse_regime_compares_alpha_m_with_epsilon():
    y = np.array([2.0, -2.0])  # m = mean(y**2) = 4
    assert theory.collapse_regime(y, 1.0, 0.5) == "never-collapses"  # alpha m = 2 > 1
    assert theory.collapse_regime(y, 2.0, 0.5) == "collapses-later"  # alpha m = 2 = epsilon
    assert theory.collapse_regime(y, 4.0, 0.5) == "collapsed"  # m = epsilon
