"""Every bound of selfdistill.theory holds on the path that SelfDistilledKernelRidge computes.

Random positive-definite problems (precomputed Gram matrices with a chosen condition number
kappa), several sizes and tolerances; the estimator works in K units (ridges lam_t = n c_t), so
the theory functions get ``eigvals_`` and ``lams_`` as they are. A failing case is a bug or a
finding about the papers (docs/theory.md) -- never a reason to loosen a tolerance here.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfdistill import CollapseWarning, SelfDistilledKernelRidge, theory

pytestmark = pytest.mark.filterwarnings("ignore::selfdistill.CollapseWarning")

#: Relative slack for floating-point rounding only (the roots are found to ~1e-13).
RTOL = 1e-9


def gram(seed: int, n: int, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    """Random symmetric positive-definite K (eigenvalues geometric from 1 to 1/kappa) and y."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    d = np.geomspace(1.0, 1.0 / kappa, n) * rng.uniform(0.5, 5.0)
    K = (Q * d) @ Q.T
    return 0.5 * (K + K.T), rng.standard_normal(n) + rng.uniform(-1, 1)


def fit(K, y, **params) -> SelfDistilledKernelRidge:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        return SelfDistilledKernelRidge(kernel="precomputed", **params).fit(K, y)


def targets(est: SelfDistilledKernelRidge, K: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Mobahi's y_0 = y, y_t = training predictions of step t (round t - 1)."""
    return [y, *est.staged_predict(K)]


problems = st.tuples(
    st.integers(0, 10_000),  # seed
    st.integers(3, 12),  # n
    st.sampled_from([1.0, 2.0, 10.0, 100.0]),  # kappa
    st.floats(1e-4, 0.5),  # epsilon as a fraction of mean(y**2)
)


@given(problems)
def test_mobahi_bounds_hold_on_the_estimator_path(problem):
    seed, n, kappa, frac = problem
    K, y = gram(seed, n, kappa)
    epsilon = frac * float(np.mean(y**2))
    d = np.linalg.eigvalsh(K)
    t_lower = theory.guaranteed_rounds(d, y, epsilon)
    steps = math.floor(t_lower) + 2
    est = fit(K, y, lam=None, epsilon=epsilon, steps=steps, alpha=0.0)
    np.testing.assert_allclose(np.sort(est.eigvals_), np.sort(d), rtol=1e-8, atol=1e-12)
    ys = targets(est, K, y)
    s = math.sqrt(n * epsilon)
    alive = [t for t in range(steps) if np.linalg.norm(ys[t]) > s]  # rounds with a root c_t
    # Proposition 4: at least floor(t_lower) rounds before the collapse.
    rounds = steps if est.collapsed_at_ is None else est.collapsed_at_ - 1
    assert rounds >= math.floor(t_lower)
    assert alive == list(range(rounds))
    for t in alive:
        # eq. 16: c_t = lam_t / n inside the bounds of its round (K units: bounds on lam_t).
        # Both sides divide by ||z_t|| - sqrt(n eps): rounding in ||z_t|| is amplified by
        # ||z_t|| / (||z_t|| - sqrt(n eps)) (huge only at a tie with the collapse threshold).
        norm = np.linalg.norm(ys[t])
        tol = RTOL + 1e-13 * norm / (norm - s)
        lower, upper = theory.c_bounds(est.eigvals_, ys[t], epsilon)
        assert lower * (1 - tol) <= est.lams_[t] <= upper * (1 + tol)
    for t in range(rounds + 1):
        # Proposition 3 (needs ||z_i|| > sqrt(n eps) for i < t).
        bound = theory.norm_lower_bound(t, est.eigvals_, y, epsilon)
        assert np.linalg.norm(ys[t]) >= bound - RTOL * np.linalg.norm(y)
    for t in range(1, rounds + 1):
        # Theorem 5 on B_{t-1} = A_0 ... A_{t-1} = the estimator's B_ of step t.
        B = est.B_[t - 1]
        bound = theory.ratio_lower_bound(t, est.eigvals_, y, epsilon)
        mask = ~np.isnan(bound)
        assert np.all((B[:, None] / B[None, :])[mask] >= bound[mask] * (1 - RTOL))
    # Section 3.7: d_dagger decreases with every round, and reproduces B_t with c_0.
    previous = None
    for t in range(rounds):
        d_dag = theory.equivalent_spectrum(est.eigvals_, est.lams_[: t + 1])
        np.testing.assert_allclose(d_dag / (est.lams_[0] + d_dag), est.B_[t], rtol=1e-9)
        if previous is not None:
            assert np.all(d_dag < previous)
        previous = d_dag


@given(problems, st.floats(0.0, 1.0), st.floats(1e-3, 3.0), st.integers(2, 8))
def test_borup_direction_and_monotone_b_for_fixed_lam(problem, alpha, lam_scale, steps):
    seed, n, kappa, _ = problem
    K, y = gram(seed, n, kappa)
    lam = lam_scale * float(np.linalg.eigvalsh(K).max())
    est = fit(K, y, lam=lam, steps=steps, alpha=alpha)
    d, B = est.eigvals_, est.B_
    A = d / (d + lam)
    np.testing.assert_allclose(B[0], A, rtol=1e-12)
    # Lemma 4.2: every diagonal strictly decreases, and stays in (0, 1]. The exact decrement
    # B^(tau-1) - B^(tau) = ((1 - alpha) A)^(tau-2) (A - B_inf) (1 - (1 - alpha) A) vanishes
    # geometrically; where it is below rounding (1e-13 relative) only "non-increasing" is testable.
    assert np.all((B > 0) & (B <= 1))
    assert np.all(B[1:] <= B[:-1])
    B_inf = alpha * A / (1 - (1 - alpha) * A)
    tau = np.arange(2, steps + 1)[:, None]
    gap = ((1 - alpha) * A) ** (tau - 2) * (A - B_inf) * (1 - (1 - alpha) * A)
    resolvable = gap > 1e-13 * B[:-1]
    assert np.all((B[1:] < B[:-1])[resolvable])
    # Theorem 4.3 (eq. 15): the predicted sign of every ratio change.
    check_directions(B, [A] * steps, np.full(steps, alpha))
    # Theorem 4.5: linear convergence to the limit at limit_rate.
    rate = theory.limit_rate(d, lam, alpha)
    y_inf = est.predict_limit(K)
    errors = [np.linalg.norm(p - y_inf) for p in est.staged_predict(K)]
    for tau, err in enumerate(errors, start=1):
        assert err <= rate ** (tau - 1) * errors[0] * (1 + RTOL) + 1e-12 * np.linalg.norm(y)


def check_directions(B: np.ndarray, As: list[np.ndarray], alphas: np.ndarray) -> int:
    """Compare ratio_direction with the ratio changes of B; returns the number of checks."""
    checked = 0
    for t in range(1, len(B)):
        pred = theory.ratio_direction(B[t - 1], As[t], float(alphas[t]))
        ratio_prev = B[t - 1][:, None] / B[t - 1][None, :]
        change = B[t][:, None] / B[t][None, :] - ratio_prev
        mask = ~np.isnan(pred) & (np.abs(change) > 1e-9 * ratio_prev)
        assert np.array_equal(pred[mask], np.sign(change[mask]))
        checked += int(mask.sum())
    return checked


#: problems on which Theorem D.2 has something to say: distinct eigenvalues (kappa > 1, otherwise
#: every ratio of B is 1 and stays 1) and a tolerance that leaves several rounds before collapse.
direction_problems = st.tuples(
    st.integers(0, 10_000),
    st.integers(3, 12),
    st.sampled_from([2.0, 10.0, 100.0]),
    st.floats(1e-4, 0.05),
)


@given(direction_problems, st.sampled_from([0.1, 0.25, 0.5, 0.75]))
def test_borup_direction_in_epsilon_mode(problem, alpha):
    # Appendix D, Theorem D.2: the ridge changes from step to step (lam_t solves the constraint).
    seed, n, kappa, frac = problem
    K, y = gram(seed, n, kappa)
    epsilon = frac * float(np.mean(y**2))
    est = fit(K, y, lam=None, epsilon=epsilon, steps=6, alpha=alpha)
    last = 6 if est.collapsed_at_ is None else est.collapsed_at_ - 1
    d = est.eigvals_
    As = [d / (d + lam) for lam in est.lams_[:last]]
    # every example compares at least one predicted sign with the estimator's ratio change
    assert check_directions(est.B_[:last], As, est.alphas_[:last]) > 0


@given(problems, st.sampled_from([0.2, 0.5]))
def test_collapse_regime_predicts_the_estimator(problem, alpha):
    seed, n, kappa, _ = problem
    K, y = gram(seed, n, kappa)
    m = float(np.mean(y**2))
    for factor in (1.5, 0.6 / alpha, 1.5 / alpha):  # collapsed, collapses-later, never
        epsilon = m / factor if factor != 1.5 else 1.5 * m
        regime = theory.collapse_regime(y, epsilon, alpha)
        est = fit(K, y, lam=None, epsilon=epsilon, steps=200, alpha=alpha)
        if regime == "collapsed":
            assert est.collapsed_at_ == 1
        elif regime == "collapses-later":
            assert est.collapsed_at_ is not None and est.collapsed_at_ > 1
        else:
            assert est.collapsed_at_ is None


def test_early_stopping_path_matches_single_fits():
    K, y = gram(7, 8, 10.0)
    est0 = fit(K, y, lam=1.0, steps=1)
    m = float(np.mean(y**2))
    epsilons = np.array([0.05, 0.2, 0.6]) * m
    path = theory.early_stopping_path(est0.eigvals_, y, epsilons, eigvecs=est0.eigvecs_)
    for e, lam, B in zip(epsilons, path.cs, path.B, strict=True):
        est = fit(K, y, lam=None, epsilon=float(e), steps=1)
        assert lam == pytest.approx(est.lams_[0], rel=1e-10)
        np.testing.assert_allclose(B, est.B_[0], rtol=1e-10)
