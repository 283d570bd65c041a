"""Spectral building blocks of kernel self-distillation (pure functions on the Gram spectrum).

With ``K = V diag(d) V^T`` every self-distillation step is a diagonal update (Borup & Andersen
2021, Lemma 4.2; Mobahi et al. 2020, eq. 13). This module holds the pieces that work on the
spectrum alone: the eigendecomposition with its null-space tolerance, the ``B`` recursion, the
step loss and its bracketing root finder for the ridge in epsilon mode, and the closed-form
optimal ``alpha`` (Borup Thm 4.4).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import scipy.linalg
from scipy.optimize import brentq

__all__ = [
    "EIGVAL_RTOL",
    "b_recursion",
    "eigh_descending",
    "epsilon_ridge",
    "filter_polynomials",
    "optimal_alpha",
    "shrink_factors",
    "step_loss",
]

#: Relative eigenvalue tolerance: eigenvalues ``d <= EIGVAL_RTOL * d_max`` (negative rounding
#: noise included) are treated as exactly zero, i.e. as the null space of the Gram matrix. It sits
#: two orders above the rounding error of a symmetric eigensolver (about ``n * eps * d_max``,
#: ``1e-12`` for ``n = 4000``) and far below any eigenvalue that matters for ``lam / d_max``
#: above ``1e-8``. The spline Green's function (``g(0, .) = g(1, .) = 0``) has exact zeros.
EIGVAL_RTOL: float = 1e-10


def eigh_descending(K: np.ndarray, *, rtol: float = EIGVAL_RTOL) -> tuple[np.ndarray, np.ndarray]:
    """Eigendecomposition of a symmetric PSD matrix, eigenvalues descending, null space zeroed.

    Uses LAPACK ``syevd`` (``driver="evd"``, divide and conquer), several times faster than the
    default driver for all eigenpairs.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Symmetric kernel (Gram) matrix; only its lower triangle is read.
    rtol : float
        Eigenvalues ``<= rtol * max(d)`` are set to exactly ``0`` (see :data:`EIGVAL_RTOL`).

    Returns
    -------
    d : ndarray of shape (n,)
        Eigenvalues, descending, ``>= 0``.
    V : ndarray of shape (n, n)
        Orthonormal eigenvectors, column ``k`` belongs to ``d[k]``.
    """
    # equivalent mutants: shape[1] (K is square), the driver (every LAPACK driver gives the same
    # decomposition; evd is the fast one) and check_finite (the estimators check X and y)
    n = K.shape[0]  # pragma: no mutate
    if n == 0:
        return np.zeros(0), np.zeros((0, 0))
    d, V = scipy.linalg.eigh(K, driver="evd", check_finite=False)  # pragma: no mutate
    d = d[::-1].copy()
    V = np.ascontiguousarray(V[:, ::-1])
    d_max = max(float(d[0]), 0.0)
    d[d <= rtol * d_max] = 0.0
    return d, V


def b_recursion(eigvals: np.ndarray, lams: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    r"""Diagonals of ``B^(t)``, t = 1..steps (Borup Lemma 4.2 eq. 12; appendix D for varying lam).

    $$
    B^{(0)} = I,\qquad B^{(t)} = A_t\big((1 - \alpha_t)\, B^{(t-1)} + \alpha_t I\big),\qquad
    A_t = D\,(D + \lambda_t I)^{-1};
    $$

    ``alpha_1`` is irrelevant, and so is ``B^(0)`` (``B^(1) = A_1``). ``lam_t = inf``
    (a collapsed step) gives ``A_t = 0``; ``lam_t = 0`` (the ``lam -> 0+`` limit) gives ``A_t`` = 1
    on the range of ``D`` and 0 on its null space.

    Parameters
    ----------
    eigvals : ndarray of shape (n,)
        Eigenvalues ``d >= 0``.
    lams : ndarray of shape (steps,)
        Ridge of every step.
    alphas : ndarray of shape (steps,)
        Ground-truth weight of every step (the first entry is ignored).

    Returns
    -------
    ndarray of shape (steps, n)
    """
    # equivalent mutants (dtype=float dropped): the arithmetic below promotes integers to float
    d = np.asarray(eigvals, dtype=float)  # pragma: no mutate
    lams = np.asarray(lams, dtype=float)  # pragma: no mutate
    alphas = np.asarray(alphas, dtype=float)  # pragma: no mutate
    out = np.empty((lams.shape[0], d.shape[0]))
    b = np.ones(d.shape[0])
    for t, lam in enumerate(lams):
        # equivalent mutant: any a with (1 - a) + a == 1 exactly (e.g. 2.0) at t = 0, where b = 1
        a = 1.0 if t == 0 else alphas[t]  # pragma: no mutate
        b = shrink_factors(d, float(lam)) * ((1.0 - a) * b + a)
        out[t] = b
    return out


def filter_polynomials(alphas: np.ndarray, steps: int) -> np.ndarray:
    """Coefficients of the step filters as polynomials in ``A`` (Borup Lemma 4.2, eq. 12 unrolled).

    With a constant ``alpha`` the targets of step ``t`` are ``V S^(t) V^T y`` with
    ``S^(1) = I`` and ``S^(t) = (1 - alpha) B^(t-1) + alpha I``; eq. 12 gives
    ``B^(t) = A S^(t)`` and so ``S^(t) = (1 - alpha) A S^(t-1) + alpha I``, a polynomial of degree
    ``t - 1`` in ``A = D (D + lam I)^-1`` whose coefficients do not depend on ``lam``:

        S^(t) = (1 - alpha)^(t-1) A^(t-1) + alpha sum_{j<t-1} (1 - alpha)^j A^j.

    All coefficients are ``>= 0`` for ``alpha`` in ``[0, 1]`` (no cancellation). Predictions of
    step ``t`` are ``k(x, X) V (D + lam I)^-1 S^(t) V^T y`` (Borup eq. 13 with
    ``D^-1 B^(t) = (D + lam I)^-1 S^(t)``, which never divides by an eigenvalue), so the
    predictions of every ``(alpha, t)`` at one ``lam`` are combinations of the ``steps`` vectors
    ``k(x, X) V A^j (D + lam I)^-1 V^T y``, ``j = 0..steps-1``.

    Parameters
    ----------
    alphas : array-like of shape (m,)
        Constant ground-truth weights in ``[0, 1]``, one per polynomial family.
    steps : int
        Number of steps ``>= 1``.

    Returns
    -------
    ndarray of shape (m, steps, steps)
        ``C[i, t - 1, j]`` is the coefficient of ``A^j`` in ``S^(t)`` for ``alphas[i]`` (lower
        triangular in the last two axes).
    """
    # equivalent mutants: dtype=float dropped (1.0 - a promotes integers), reshape(-2) (numpy
    # reads any negative size as "the rest")
    a = np.asarray(alphas, dtype=float).reshape(-1)  # pragma: no mutate
    C = np.zeros((a.shape[0], steps, steps))
    C[:, 0, 0] = 1.0
    for t in range(1, steps):
        C[:, t, 1:] = (1.0 - a)[:, None] * C[:, t - 1, :-1]
        C[:, t, 0] = a
    return C


def shrink_factors(d: np.ndarray, lam: float) -> np.ndarray:
    """Diagonal of ``A = D (D + lam I)^-1`` (Borup eq. 11), including ``lam = 0`` and ``inf``."""
    if math.isinf(lam):
        return np.zeros(d.shape)
    if lam == 0.0:
        return np.where(d > 0, 1.0, 0.0)
    return d / (d + lam)


def step_loss(lam: float, d: np.ndarray, w: np.ndarray, const: float, n: int) -> float:
    r"""Training loss of one step as a function of its ridge (Mobahi Prop. 2; Borup appendix D).

    With targets $t = \alpha y + (1 - \alpha) y_\text{prev}$ and $w = V^\top t$ the step's loss
    $\frac{\alpha}{n}\lVert f - y\rVert^2 + \frac{1 - \alpha}{n}\lVert f - y_\text{prev}\rVert^2$
    equals (Borup footnote 8)

    $$
    L(\lambda) = \frac{1}{n}\sum_k \left(\frac{\lambda}{d_k + \lambda}\right)^2 w_k^2
    + \frac{\alpha(1 - \alpha)}{n}\,\lVert y - y_\text{prev}\rVert^2,
    $$

    increasing in ``lam``.
    """
    if lam == 0.0:
        r = np.where(d > 0, 0.0, 1.0)
    elif math.isinf(lam):
        r = np.ones_like(d)
    else:
        r = lam / (d + lam)
    return float(np.dot(r * r, w * w)) / n + const


def epsilon_ridge(
    d: np.ndarray, w: np.ndarray, const: float, epsilon: float
) -> tuple[float, Literal["root", "collapse", "limit"]]:
    """Ridge ``lam`` at which the step's training loss equals ``epsilon`` (Mobahi eq. 1, 5, 12).

    The loss :func:`step_loss` increases from ``L(0+) = null-space residual + const`` to
    ``L(inf) = mean(w^2) + const``. Three cases:

    * ``L(inf) <= epsilon``: the zero function meets the constraint (collapse, Mobahi eq. 7):
      returns ``(inf, "collapse")``.
    * ``L(0+) >= epsilon``: no ridge reaches epsilon; returns ``(0.0, "limit")``, the
      ``lam -> 0+`` limit (minimum-norm fit on the range of ``K``).
    * otherwise the unique root, bracketed exactly by Mobahi's eq. 12 generalised to a null space
      and a constant: with ``E = n (epsilon - const) - |w_null|^2``, ``S = |w_range|^2`` and
      ``r = sqrt(E / S)`` the root lies in ``[d_min r / (1 - r), d_max r / (1 - r)]`` (``d_min``
      the smallest non-zero eigenvalue; in Mobahi's units ``c = lam / n``). Brent's method on
      ``log lam`` refines it to about 1e-13 relative.

    Parameters
    ----------
    d : ndarray of shape (n,)
        Eigenvalues ``>= 0`` (null space exactly 0).
    w : ndarray of shape (n,)
        Targets of the step in the eigenbasis, ``V^T t``.
    const : float
        ``alpha (1 - alpha) mean((y - y_prev)^2)``.
    epsilon : float
        Loss tolerance ``> 0``.
    """
    n = d.shape[0]
    w2 = w * w
    null = d <= 0
    null_sq = float(w2[null].sum())
    range_sq = float(w2[~null].sum())
    if (null_sq + range_sq) / n + const <= epsilon:
        return math.inf, "collapse"
    budget = n * (epsilon - const) - null_sq
    if budget <= 0.0 or range_sq == 0.0:
        return 0.0, "limit"
    r = math.sqrt(budget / range_sq)
    if r >= 1.0:
        # r < 1 exactly when L(inf) > epsilon; r >= 1 happens only by rounding when L(inf) equals
        # epsilon to machine precision: the zero function meets the constraint (collapse).
        return math.inf, "collapse"
    dr = d[~null]
    # equivalent mutants of the two bracket ends: one that only widens the bracket (e.g. ``r *
    # (1 - r)`` or ``r / (1 + r)`` for ``lo``, ``/ r`` for ``hi``) finds the same root
    lo = float(dr.min()) * r / (1.0 - r)  # pragma: no mutate
    hi = float(dr.max()) * r / (1.0 - r)  # pragma: no mutate

    def h(u: float) -> float:
        return step_loss(math.exp(u), d, w, const, n) - epsilon

    u_lo, u_hi = math.log(lo), math.log(hi)
    h_lo, h_hi = h(u_lo), h(u_hi)
    # Rounding at a bracket end (e.g. all eigenvalues equal). Equivalent mutants: ``>=`` / ``<=``
    # to strict (brentq returns an end where h is exactly 0), and the tolerances of brentq (its
    # superlinear last steps reach the root to rounding before xtol, rtol (scipy's default is
    # the same 4 eps) or maxiter bind; the tests check the root to 1e-14 of a brute-force one).
    if h_lo >= 0.0:  # pragma: no mutate
        return lo, "root"
    if h_hi <= 0.0:  # pragma: no mutate
        return hi, "root"
    # pragma: no mutate start
    u = brentq(h, u_lo, u_hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=200)
    # pragma: no mutate end
    return math.exp(u), "root"


def optimal_alpha(y_val: np.ndarray, f1_val: np.ndarray, g_val: np.ndarray) -> float:
    r"""Validation-optimal ground-truth weight of one step (Borup Thm 4.4, eq. 16; Algorithm 1).

    The step's validation predictions are ``alpha f1 + (1 - alpha) g`` with ``f1`` the first
    step's predictions and ``g`` those of the step fitted with ``alpha = 0`` (Borup eq. 7);
    the squared (Frobenius, Borup section 5) error is minimised over all real alpha by

    $$
    \alpha^* = 1 - \frac{\langle g - f_1,\; y - f_1\rangle}{\lVert g - f_1\rVert^2}.
    $$

    When ``g == f1`` (to rounding:
    ``|g - f1|^2 <= 1e-24 max(|f1|^2, |g|^2, 1)``) every alpha gives the same validation error
    and ``1.0`` (no distillation) is returned. The one implementation of eq. 16, used by the
    kernel estimator and, for networks, by :func:`selfdistill.alpha.optimal_alpha`.
    """
    f1 = np.ravel(f1_val)
    g = np.ravel(g_val)
    diff = g - f1
    denom = float(np.dot(diff, diff))
    # Relative threshold: below it the two predictions agree to rounding error, and the quotient
    # would be noise. Equivalent mutants: dropping |f1|^2 or |g|^2 from the max (near the
    # threshold |g - f1| <= 1e-12 |f1|, so the two norms agree to 1e-12 relative).
    if denom <= 1e-24 * max(float(np.dot(f1, f1)), float(np.dot(g, g)), 1.0):  # pragma: no mutate
        return 1.0
    return 1.0 - float(np.dot(diff, np.ravel(y_val) - f1)) / denom
