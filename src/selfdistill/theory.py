"""Bounds and diagnostics of self-distilled kernel ridge regression, as pure functions.

Every quantity that Mobahi, Farajtabar & Bartlett (2020) and Borup & Andersen (2021) state about
self-distillation, computed from a spectrum and targets before (or after) any training.

Units
-----
Spectra and multipliers come in matching units: eigenvalues of the Gram matrix ``K`` with
ridges ``lam`` (the units of :class:`~selfdistill.SelfDistilledKernelRidge`), or eigenvalues of
Mobahi's ``G = K / n`` with his multipliers ``c = lam / n``. Every formula of this module except
:func:`local_rademacher_term` is homogeneous in that scale, so both work; the generalisation
terms of Mobahi section 3.7 are meant in ``G`` units. ``y`` is the label vector and
``n = len(y)`` (Mobahi's ``K``). Mobahi's formulas depend on ``y`` only through ``||y||``, which
equals ``||z||`` for the rotated labels ``z = V^T y``.

Mobahi's sections 3.x print the collapse threshold as "sqrt(K) eps"; eq. 7 and eq. 12 show that
it is ``sqrt(K eps)`` (``sqrt(n * epsilon)`` here), which is what this module uses
(see ``docs/misprints.md``).

Where a bound needs a strictly positive spectrum (a finite condition number ``kappa``) and the
spectrum has zero eigenvalues (e.g. the spline kernel on points that include 0 or 1), the function
raises ``ValueError`` rather than returning ``inf`` or ``NaN``. Eigenvalues within
``EIGVAL_RTOL * max(eigvals)`` of zero count as zero (the estimator's tolerance,
:data:`selfdistill.kernel.spectral.EIGVAL_RTOL`); clearly negative ones are rejected.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

import numpy as np

from ._util.validation import as_real_array, check_real
from .kernel.spectral import EIGVAL_RTOL, epsilon_ridge

__all__ = [
    "EIGVAL_RTOL",
    "RATIO_SIGN_RTOL",
    "EarlyStoppingPath",
    "c_bounds",
    "collapse_regime",
    "early_stopping_path",
    "equivalent_spectrum",
    "guaranteed_rounds",
    "limit_rate",
    "local_rademacher_term",
    "max_sparsity_index",
    "norm_lower_bound",
    "rademacher_trace_term",
    "ratio_direction",
    "ratio_lower_bound",
    "sparsity_index",
    "sparsity_index_limit",
]

CollapseRegime = Literal["collapsed", "collapses-later", "never-collapses"]


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def _vector(name: str, value: object, *, min_len: int = 1) -> np.ndarray:
    """A 1-D array of finite reals, at least ``min_len`` long."""
    arr = as_real_array(name, value)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size < min_len:
        raise ValueError(f"{name} must have at least {min_len} entries, got {arr.size}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    return arr


def _spectrum(eigvals: object, *, name: str = "eigvals", min_len: int = 1) -> np.ndarray:
    """Eigenvalues of a positive semi-definite matrix; round-off zeros set to exactly 0."""
    d = _vector(name, eigvals, min_len=min_len)
    top = float(np.max(np.abs(d)))
    if top == 0.0:
        raise ValueError(f"{name} must have a positive entry (the Gram matrix is zero)")
    tol = EIGVAL_RTOL * top
    if np.any(d < -tol):
        raise ValueError(
            f"{name} must be >= 0 (a positive semi-definite Gram matrix), got min {d.min():g}"
        )
    return np.where(d <= tol, 0.0, d)


def _kappa(d: np.ndarray, what: str) -> float:
    """Condition number ``d_max / d_min`` of a spectrum from :func:`_spectrum`."""
    d_min = float(d.min())
    if d_min == 0.0:
        raise ValueError(
            f"{what} needs a strictly positive spectrum (finite condition number kappa), but "
            f"eigvals has {int(np.sum(d == 0.0))} zero eigenvalue(s) "
            f"(|d| <= {EIGVAL_RTOL:g} * max): restrict the problem to the range of the Gram "
            "matrix (its positive eigenvalues and the matching label components)"
        )
    return float(d.max()) / d_min


def _labels(y: object, n: int | None = None) -> np.ndarray:
    arr = _vector("y", y)
    if n is not None and arr.size != n:
        raise ValueError(
            f"eigvals and y must have the same length (the n eigenvalues of the n x n Gram "
            f"matrix and the n labels), got {n} and {arr.size}"
        )
    return arr


def _radius(eigvals: object, y: object, epsilon: object) -> tuple[np.ndarray, float, float]:
    """Checked spectrum, ``sqrt(n * epsilon)`` and ``r0 = ||y|| / sqrt(n * epsilon) > 1``."""
    d = _spectrum(eigvals)
    y = _labels(y, d.size)
    epsilon = check_real(
        "epsilon",
        epsilon,
        low=0.0,
        low_inclusive=False,  # pragma: no mutate (equivalent: None is falsy, read as False)
    )
    s = math.sqrt(y.size * epsilon)
    norm = float(np.linalg.norm(y))
    if norm <= s:
        raise ValueError(
            f"epsilon is in the collapse regime: ||y|| = {norm:g} <= sqrt(n * epsilon) = {s:g}, "
            "so the zero function already meets the tolerance (Mobahi eq. 7); the bounds need "
            f"epsilon < mean(y**2) = {norm**2 / y.size:g}"
        )
    return d, s, norm / s


def _round_index(t: object) -> float:
    return check_real("t", t, low=0.0)


# ---------------------------------------------------------------------------------------------
# Mobahi et al. (2020)
# ---------------------------------------------------------------------------------------------


def c_bounds(eigvals: object, y: object, epsilon: float) -> tuple[float, float]:
    r"""Bounds on the multiplier ``c`` that solves the ``epsilon``-constrained problem.

    Mobahi et al. (2020) eq. 12 (and eq. 16 at every round ``t``, with ``y = y_t``):

    $$
    \frac{d_{\min}\sqrt{n\epsilon}}{\lVert y\rVert - \sqrt{n\epsilon}} \;\le\; c \;\le\;
    \frac{d_{\max}\sqrt{n\epsilon}}{\lVert y\rVert - \sqrt{n\epsilon}}
    $$

    Parameters
    ----------
    eigvals : array_like of shape (n,)
        Eigenvalues of ``G = K / n`` (then ``c`` is Mobahi's multiplier) or of ``K`` (then the
        bounds are on the ridge ``lam = n c``).
    y : array_like of shape (n,)
        Targets of the round (only ``||y||`` enters).
    epsilon : float
        Loss tolerance ``epsilon > 0`` on the mean squared error, with ``epsilon < mean(y**2)``.

    Returns
    -------
    (lower, upper) : tuple of float
        ``lower`` is 0 when the spectrum has zero eigenvalues (then only ``c >= 0`` is known).

    Raises
    ------
    ValueError
        On bad input, or when ``||y|| <= sqrt(n epsilon)`` (collapse: no ``c > 0`` solves it).
    """
    d, _, r0 = _radius(eigvals, y, epsilon)
    scale = 1.0 / (r0 - 1.0)  # sqrt(n eps) / (||y|| - sqrt(n eps))
    return float(d.min()) * scale, float(d.max()) * scale


def _a_b(r0: float, kappa: float) -> tuple[float, float, float]:
    """``a(kappa)``, ``b(kappa)`` and ``a(kappa) - 1`` of Mobahi Proposition 3."""
    u = r0 - 1.0 + kappa
    a = ((r0 - 1.0) ** 2 + kappa * (2.0 * r0 - 1.0)) / u**2
    b = r0**2 * kappa / u**2
    a_minus_1 = kappa * (1.0 - kappa) / u**2  # exact form, no cancellation
    return a, b, a_minus_1


def norm_lower_bound(t: float, eigvals: object, y: object, epsilon: float) -> float:
    r"""Lower bound on ``||z_t||``, the norm of the targets after ``t`` rounds.

    Mobahi et al. (2020) Proposition 3:

    $$
    \lVert z_t\rVert \ge a^t \lVert z_0\rVert - \sqrt{n\epsilon}\, b\, \frac{a^t - 1}{a - 1},
    \qquad a = \frac{(r_0 - 1)^2 + \kappa(2r_0 - 1)}{(r_0 - 1 + \kappa)^2},\quad
    b = \frac{r_0^2\,\kappa}{(r_0 - 1 + \kappa)^2},\quad
    r_0 = \frac{\lVert z_0\rVert}{\sqrt{n\epsilon}},
    $$

    valid while ``||z_i|| > sqrt(n eps)`` for ``i = 0, ..., t - 1``. For ``kappa = 1``
    (``a = 1``) the geometric sum is its limit ``t``.

    Parameters
    ----------
    t : float
        Round index ``t >= 0`` (``z_0 = V^T y`` are the labels, ``z_t`` the training predictions of
        round ``t - 1``, i.e. of step ``t`` of the estimator).
    eigvals, y, epsilon
        As in :func:`c_bounds`; the spectrum must be strictly positive.

    Returns
    -------
    float
        The bound (it may be negative, then it says nothing).
    """
    t = _round_index(t)
    d, s, r0 = _radius(eigvals, y, epsilon)
    kappa = _kappa(d, "norm_lower_bound")
    a, b, a_minus_1 = _a_b(r0, kappa)
    if a_minus_1 == 0.0:
        geometric = t
    else:
        geometric = math.expm1(t * math.log1p(a_minus_1)) / a_minus_1
    return a**t * r0 * s - s * b * geometric


def guaranteed_rounds(
    eigvals: object, y: object, epsilon: float, *, small_epsilon: bool = False
) -> float:
    r"""Number of self-distillation rounds guaranteed before the solution collapses.

    Mobahi et al. (2020) Proposition 4, eq. 18 (with the threshold $\sqrt{n\epsilon}$, not the
    misprinted $\sqrt{n}\,\epsilon$):

    $$
    \underline{t} = \frac{1}{\kappa}\left(\frac{\lVert y\rVert}{\sqrt{n\epsilon}} - 1\right)
    $$

    Rounds ``t = 0, 1, ...`` with ``t < t_lower`` all have ``||z_t|| > sqrt(n eps)``, so at least
    ``floor(t_lower)`` rounds are non-collapsed. With ``small_epsilon=True`` the near-interpolation
    form ``||y|| / (kappa sqrt(n eps))`` of section 3.2 (``epsilon -> 0``) is returned instead.

    Parameters
    ----------
    eigvals, y, epsilon
        As in :func:`c_bounds`; the spectrum must be strictly positive.
    small_epsilon : bool, default False
        Return the ``epsilon -> 0`` approximation.

    Returns
    -------
    float
        ``t_lower > 0`` (a real number; round it down for a count of rounds).
    """
    d, _, r0 = _radius(eigvals, y, epsilon)
    kappa = _kappa(d, "guaranteed_rounds")
    return (r0 if small_epsilon else r0 - 1.0) / kappa


def _log_factor(d: np.ndarray, r0: float) -> np.ndarray:
    """``log(r0 - 1 + d_min / d)`` for a positive spectrum (the terms of eq. 20/23)."""
    return np.log(r0 - 1.0 + float(d.min()) / d)


def ratio_lower_bound(t: float, eigvals: object, y: object, epsilon: float) -> np.ndarray:
    r"""Lower bounds on ``B_{t-1}[k, k] / B_{t-1}[j, j]`` for every pair with ``d_k > d_j``.

    Mobahi et al. (2020) Theorem 5, eq. 20:

    $$
    \frac{B_{t-1}[k, k]}{B_{t-1}[j, j]} \ge
    \left(\frac{r_0 - 1 + d_{\min}/d_j}{r_0 - 1 + d_{\min}/d_k}\right)^{t},
    $$

    with ``r0 = ||y|| / sqrt(n eps)`` and ``B_{t-1} = A_0 ... A_{t-1}`` (eq. 19). The theorem
    states it for ``t <= t_lower`` (:func:`guaranteed_rounds`); its proof holds whenever rounds
    ``0, ..., t - 1`` have not collapsed.

    Parameters
    ----------
    t : float
        Number of rounds ``t >= 0`` in the product ``B_{t-1}`` (estimator step ``t``).
    eigvals, y, epsilon
        As in :func:`c_bounds`; the spectrum must be strictly positive.

    Returns
    -------
    ndarray of shape (n, n)
        Entry ``[k, j]`` is the bound where ``eigvals[k] > eigvals[j]``, NaN elsewhere; rows and
        columns in the order of ``eigvals``.
    """
    t = _round_index(t)
    d, _, r0 = _radius(eigvals, y, epsilon)
    _kappa(d, "ratio_lower_bound")
    logf = _log_factor(d, r0)
    log_ratio = t * (logf[None, :] - logf[:, None])  # [k, j]: t log(f_j / f_k)
    if np.any(log_ratio > np.log(np.finfo(float).max)):
        raise ValueError(f"t = {t:g} is so large that the bound overflows a float")
    return np.where(d[:, None] > d[None, :], np.exp(log_ratio), np.nan)


def sparsity_index(t: float, eigvals: object, y: object, epsilon: float) -> float:
    r"""Sparsity index ``S_{B_{t-1}}``: the smallest of Theorem 5's bounds over all pairs.

    Mobahi et al. (2020) eq. 23: with $d_1 \le d_2 \le \dots \le d_n$ sorted ascending,

    $$
    S_{B_{t-1}} = \min_k \left(\frac{r_0 - 1 + d_{\min}/d_k}{r_0 - 1 + d_{\min}/d_{k+1}}\right)^{t}.
    $$

    The minimum over
    neighbouring pairs equals the minimum over all pairs ``d_k > d_j`` of :func:`ratio_lower_bound`
    (the ratio of a pair is a product of neighbouring ratios, each ``>= 1``).

    Parameters
    ----------
    t : float
        Number of rounds ``t >= 0``.
    eigvals, y, epsilon
        As in :func:`c_bounds`; at least two eigenvalues, all strictly positive.

    Returns
    -------
    float
        ``S >= 1`` (larger is sparser; 1 when two eigenvalues coincide).
    """
    t = _round_index(t)
    d, _, r0 = _radius(eigvals, y, epsilon)
    if d.size < 2:
        raise ValueError("eigvals must have at least 2 entries for a sparsity index")
    _kappa(d, "sparsity_index")
    logf = _log_factor(np.sort(d), r0)  # ascending d: logf non-increasing
    steps = logf[:-1] - logf[1:]
    return float(np.exp(t * np.min(steps)))


def max_sparsity_index(eigvals: object, y: object, epsilon: float) -> float:
    """The sparsity index at the guaranteed number of rounds, ``S_{B_{t_lower - 1}}``.

    Mobahi et al. (2020) eq. 24: :func:`sparsity_index` evaluated at
    ``t_lower = (||y|| / sqrt(n eps) - 1) / kappa`` (:func:`guaranteed_rounds`). Theorem 6: it
    decreases in ``epsilon`` and tends to :func:`sparsity_index_limit` as ``epsilon -> 0``.
    """
    return sparsity_index(guaranteed_rounds(eigvals, y, epsilon), eigvals, y, epsilon)


def sparsity_index_limit(eigvals: object) -> float:
    r"""Limit of :func:`max_sparsity_index` as ``epsilon -> 0``.

    Mobahi et al. (2020) Theorem 6:

    $$
    \lim_{\epsilon \to 0} S = \exp\!\left(\frac{d_{\min}}{\kappa}\,
    \min_k \left(\frac{1}{d_k} - \frac{1}{d_{k+1}}\right)\right),
    $$

    with ``d_1 <= ... <= d_n`` sorted ascending (the limit does not depend on ``y``).

    Parameters
    ----------
    eigvals : array_like of shape (n,)
        At least two strictly positive eigenvalues (in ``G`` or ``K`` units: the exponent is
        scale-free).
    """
    d = np.sort(_spectrum(eigvals, min_len=2))
    kappa = _kappa(d, "sparsity_index_limit")
    gaps = 1.0 / d[:-1] - 1.0 / d[1:]
    return float(np.exp(float(d[0]) / kappa * float(np.min(gaps))))


def equivalent_spectrum(eigvals: object, cs: object) -> np.ndarray:
    r"""Spectrum ``d_dagger`` of the kernel whose plain ridge regression equals round ``t``.

    Mobahi et al. (2020) section 3.7, eq. 25: after rounds with multipliers $c_0, \dots, c_t$,

    $$
    d^\dagger_k = \frac{c_0}{\prod_{i=0}^{t} (d_k + c_i) / d_k^{\,t+1} - 1},
    $$

    so that ridge regression with Gram eigenvalues ``d_dagger`` and multiplier ``c_0`` reproduces
    ``B_t = d_dagger / (c_0 + d_dagger)``. Computed as ``c_0 / expm1(sum_i log1p(c_i / d_k))``
    (no cancellation); zero eigenvalues map to 0 (the limit).

    Parameters
    ----------
    eigvals : array_like of shape (n,)
        Eigenvalues ``d_k >= 0``.
    cs : array_like of shape (t + 1,)
        Multipliers of rounds ``0, ..., t`` (``c_i > 0``, finite: rounds before a collapse), in
        the same units as ``eigvals``.

    Returns
    -------
    ndarray of shape (n,)
        ``d_dagger`` in the order of ``eigvals``; it decreases in ``t``.
    """
    d = _spectrum(eigvals)
    c = _vector("cs", cs)
    if np.any(c <= 0.0):
        raise ValueError("cs must be > 0 (multipliers of non-collapsed rounds)")
    out = np.zeros_like(d)
    pos = d > 0.0
    log_prod = np.sum(np.log1p(c[None, :] / d[pos, None]), axis=1)
    out[pos] = c[0] / np.expm1(log_prod)
    return out


def _dagger(d_dagger: object) -> np.ndarray:
    d = _vector("d_dagger", d_dagger)
    if np.any(d < 0.0):
        raise ValueError(f"d_dagger must be >= 0, got min {d.min():g}")
    return d


def rademacher_trace_term(d_dagger: object) -> float:
    r"""``sqrt(tr G_dagger)``, the trace term of the Rademacher complexity bound.

    Mobahi et al. (2020) section 3.7 (via Bartlett & Mendelson 2002, Lemma 22): the Rademacher
    complexity of the equivalent kernel class is proportional to $\sqrt{\sum_k d^\dagger_k}$.

    Parameters
    ----------
    d_dagger : array_like of shape (n,)
        Equivalent spectrum from :func:`equivalent_spectrum` (in ``G = K / n`` units).
    """
    return float(np.sqrt(np.sum(_dagger(d_dagger))))


def local_rademacher_term(d_dagger: object) -> float:
    r"""The local Rademacher complexity term ``min_k (k/K + sqrt(sum_{j>k} d_dagger_j / K))``.

    Mobahi et al. (2020) section 3.7 (via Bartlett, Bousquet & Mendelson 2005, Corollary 6.7):

    $$
    \min_{k = 0, \dots, K} \left(\frac{k}{K} + \sqrt{\frac{1}{K}\sum_{j > k} d^\dagger_j}\right),
    $$

    with ``d_dagger`` sorted non-increasing and ``K = len(d_dagger)``.

    Parameters
    ----------
    d_dagger : array_like of shape (n,)
        Equivalent spectrum from :func:`equivalent_spectrum`, in ``G = K / n`` units (the term is
        not scale-free).
    """
    d = np.sort(_dagger(d_dagger))[::-1]
    size = d.size
    tails = np.concatenate([np.cumsum(d[::-1])[::-1], [0.0]])  # tails[k] = sum_{j >= k} d[j]
    k = np.arange(size + 1)
    return float(np.min(k / size + np.sqrt(tails / size)))


class EarlyStoppingPath(NamedTuple):
    """Result of :func:`early_stopping_path`."""

    epsilons: np.ndarray  #: (m,) the tolerances, as given
    cs: np.ndarray  #: (m,) multiplier c_0 (units of eigvals); 0 means the c -> 0+ limit
    B: np.ndarray  #: (m, n) diagonals of B_0 = D (c_0 I + D)^-1, in the order of eigvals


def early_stopping_path(
    eigvals: object, y: object, epsilons: object, *, eigvecs: object = None
) -> EarlyStoppingPath:
    r"""Early stopping by a looser tolerance: ``B_0`` for each ``epsilon`` (Mobahi section 3.4).

    One plain fit (round 0, no self-distillation) per tolerance: $c_0$ solves Proposition 2's
    $\frac{1}{n}\sum_k \big(z_k\, c / (c + d_k)\big)^2 = \epsilon$ and
    $B_0 = D\,(c_0 I + D)^{-1}$ (eq. 22). Whatever $\epsilon$,

    $$
    \frac{B_0[k]}{B_0[j]} = \frac{1 + c_0/d_j}{1 + c_0/d_k} < \frac{d_k}{d_j}:
    $$

    early stopping
    keeps (at best) the sparsity pattern of ``D``, whereas self-distillation's ``B_t`` ratios grow
    without bound (Theorem 5).

    Parameters
    ----------
    eigvals : array_like of shape (n,)
        Eigenvalues of the Gram matrix (``G`` or ``K`` units).
    y : array_like of shape (n,)
        Labels. The root depends on the labels' components in the eigenbasis, not only on their
        norm: with ``eigvecs`` given, ``y`` is in the original coordinates and ``z = eigvecs^T y``;
        without it, ``y`` must already be ``z`` (one component per eigenvalue).
    epsilons : array_like of shape (m,)
        Tolerances, each in ``(0, mean(y**2))``.
    eigvecs : array_like of shape (n, n), optional
        Eigenvectors as columns, in the order of ``eigvals`` (the estimator's ``eigvecs_``).

    Returns
    -------
    EarlyStoppingPath
        ``(epsilons, cs, B)``; ``cs[i] = 0`` where the null space alone already leaves a
        residual above ``epsilons[i]`` (the ``c -> 0+`` limit).
    """
    d = _spectrum(eigvals)
    y = _labels(y, d.size)
    if eigvecs is not None:
        V = as_real_array("eigvecs", eigvecs)
        if V.shape != (d.size, d.size) or not np.all(np.isfinite(V)):
            raise ValueError(f"eigvecs must be a finite ({d.size}, {d.size}) array")
        y = V.T @ y
    eps = _vector("epsilons", epsilons)
    mean_sq = float(np.mean(y**2))
    if np.any(eps <= 0.0) or np.any(eps >= mean_sq):
        raise ValueError(
            f"epsilons must be in (0, mean(y**2)) = (0, {mean_sq:g}); at or above mean(y**2) "
            "the solution collapses to zero"
        )
    # The engine's root finder on the spectrum (Mobahi Prop. 2 residual = epsilon, eq. 12 bracket).
    cs = np.array([epsilon_ridge(d, y, 0.0, float(e))[0] for e in eps])
    if not np.all(np.isfinite(cs)):  # an epsilon within rounding of mean(y**2): collapse
        raise ValueError("epsilons must be clearly below mean(y**2) (the solution collapses)")
    with np.errstate(invalid="ignore"):  # 0 / 0 where c = 0 on the null space, masked by where
        B = np.where(d[None, :] > 0.0, d[None, :] / (cs[:, None] + d[None, :]), 0.0)
    return EarlyStoppingPath(epsilons=eps, cs=cs, B=B)


# ---------------------------------------------------------------------------------------------
# Borup & Andersen (2021)
# ---------------------------------------------------------------------------------------------

#: Relative tolerance under which :func:`ratio_direction` reports "stays" (0).
RATIO_SIGN_RTOL = 1e-12


def ratio_direction(B_prev: object, A: object, alpha: float) -> np.ndarray:
    r"""Whether ``B[k, k] / B[j, j]`` grows, stays or shrinks at the next step.

    Borup & Andersen (2021) Theorem 4.3, eq. 15 (appendix D, eq. 26, when ``A`` changes from step
    to step): with $B = B^{(\tau-1)}$, $A = A^{(\tau)}$ and
    $B^{(\tau)} = A\big((1 - \alpha) B + \alpha I\big)$ (Lemma 4.2), for $d_k > d_j$:

    $$
    \operatorname{sgn}\!\left(\frac{B^{(\tau)}_k}{B^{(\tau)}_j} - \frac{B_k}{B_j}\right)
    = \operatorname{sgn}\!\left(x^{-1} - \alpha\right),\qquad
    x = \left(\frac{B_k}{B_j} - \frac{A_k}{A_j}\right)\frac{A_j}{B_k\,(A_k - A_j)} + 1.
    $$

    Clearing the denominators gives the exact form computed here,
    ``sgn(P - alpha N)`` with ``P = B_j B_k (A_k - A_j) > 0`` and
    ``N = A_j B_k (1 - B_j) - A_k B_j (1 - B_k) = x P``. It equals eq. 15 whenever ``x >= 0``
    (``x = 0`` at ``B = I``, where eq. 15 reads ``sgn(+inf)``), which holds along every path with
    fixed ``A`` (fixed ``lam``). When ``x < 0`` -- reachable when ``A`` changes between steps, e.g.
    an arbitrary ridge schedule -- eq. 15 says "shrinks" but the ratio grows; this function returns
    the correct ``+1`` (see ``docs/theory.md``).

    Parameters
    ----------
    B_prev : array_like of shape (n,)
        Diagonal of ``B^(tau-1)`` (``B^(0) = I``; the estimator's ``B_[tau - 2]`` for
        ``tau >= 2``), entries in ``[0, 1]`` (0 on a null space of ``K``).
    A : array_like of shape (n,)
        Diagonal of ``A^(tau) = D (D + lam_tau I)^-1``, entries in ``[0, 1)``; ``A_k > A_j`` exactly
        when ``d_k > d_j``.
    alpha : float
        Weight ``alpha^(tau)`` of the ground-truth targets at the step, in ``[0, 1]``.

    Returns
    -------
    ndarray of shape (n, n)
        Entry ``[k, j]`` is +1 (grows), 0 (stays, within ``RATIO_SIGN_RTOL``) or -1 (shrinks) where
        ``A[k] > A[j]``; NaN elsewhere and where ``B_prev[k]`` or ``B_prev[j]`` is 0 (no ratio).
    """
    B = _vector("B_prev", B_prev)
    A_ = _vector("A", A)
    if A_.size != B.size:
        raise ValueError(f"B_prev and A must have the same length, got {B.size} and {A_.size}")
    if np.any(B < 0.0) or np.any(B > 1.0):
        raise ValueError("B_prev must have entries in [0, 1]")
    if np.any(A_ < 0.0) or np.any(A_ >= 1.0):
        raise ValueError("A must have entries in [0, 1)")
    alpha = check_real("alpha", alpha, low=0.0, high=1.0)
    Bk, Bj = B[:, None], B[None, :]
    Ak, Aj = A_[:, None], A_[None, :]
    P = Bj * Bk * (Ak - Aj)
    N = Aj * Bk * (1.0 - Bj) - Ak * Bj * (1.0 - Bk)
    value = P - alpha * N
    scale = np.abs(P) + alpha * np.abs(N)
    tol = RATIO_SIGN_RTOL * scale
    # equivalent mutant: ``<`` differs only where |value| equals the rounded product tol exactly
    # (and tol > 0): value is a cancelling difference there, and a search of 20,000 random inputs
    # with alpha solved for the edge found none; either answer is within the tolerance anyway
    stays = np.abs(value) <= tol  # pragma: no mutate
    sign = np.where(stays, 0.0, np.sign(value))
    defined = (Ak > Aj) & (Bk > 0.0) & (Bj > 0.0)  # a zero B entry (null space): no ratio
    return np.where(defined, sign, np.nan)


def limit_rate(eigvals: object, lam: float, alpha: float) -> float:
    r"""Linear convergence factor of ``y^(tau) -> y^(inf)`` for a fixed ``alpha``.

    Borup & Andersen (2021) Theorem 4.5: by Lemma 4.2,

    $$
    B^{(\tau)} - B^{(\infty)} = (1 - \alpha)\, A\, \big(B^{(\tau-1)} - B^{(\infty)}\big),\qquad
    B^{(\infty)} = \alpha A\,\big(I - (1 - \alpha) A\big)^{-1},
    $$

    so every component contracts by $(1 - \alpha)\, d_k / (d_k + \lambda)$ per step and
    $\lVert y^{(\tau)} - y^{(\infty)}\rVert
    \le \text{rate}^{\tau-1}\, \lVert y^{(1)} - y^{(\infty)}\rVert$ with

    $$
    \text{rate} = (1 - \alpha)\,\frac{d_{\max}}{d_{\max} + \lambda}.
    $$

    For ``alpha = 0`` the limit is the zero function (Mobahi's collapse at rate ``rate``).

    Parameters
    ----------
    eigvals : array_like of shape (n,)
        Eigenvalues of ``K`` (in the units of ``lam``).
    lam : float
        Ridge ``lam > 0``.
    alpha : float
        Fixed weight ``alpha`` in ``[0, 1]``.

    Returns
    -------
    float
        The factor, in ``[0, 1)``.
    """
    d = _spectrum(eigvals)
    lam = check_real(
        "lam",
        lam,
        low=0.0,
        low_inclusive=False,  # pragma: no mutate (equivalent: None is falsy, read as False)
    )
    alpha = check_real("alpha", alpha, low=0.0, high=1.0)
    d_max = float(d.max())
    return (1.0 - alpha) * d_max / (d_max + lam)


def collapse_regime(y: object, epsilon: float, alpha: float) -> CollapseRegime:
    """Which of the three behaviours of appendix D.1 the constrained problem shows.

    Borup & Andersen (2021) appendix D.1, with ``m = mean(y**2)``:

    * ``m <= epsilon``: ``"collapsed"`` (the zero function from step 1 on);
    * ``epsilon < m <= epsilon / alpha``: ``"collapses-later"`` (some later step is zero; for
      ``alpha = 0`` this is every ``m > epsilon``, Mobahi's setting);
    * ``m > epsilon / alpha``: ``"never-collapses"`` (the zero function is never feasible).

    Parameters
    ----------
    y : array_like of shape (n,)
        Labels.
    epsilon : float
        Tolerance ``epsilon > 0`` of the step loss
        ``alpha mean((f - y)^2) + (1 - alpha) mean((f - y_prev)^2) <= epsilon``.
    alpha : float
        Fixed weight in ``[0, 1]``.
    """
    y = _labels(y)
    epsilon = check_real(
        "epsilon",
        epsilon,
        low=0.0,
        low_inclusive=False,  # pragma: no mutate (equivalent: None is falsy, read as False)
    )
    alpha = check_real("alpha", alpha, low=0.0, high=1.0)
    m = float(np.mean(y**2))
    if m <= epsilon:
        return "collapsed"
    if alpha * m <= epsilon:
        return "collapses-later"
    return "never-collapses"
