"""Self-distillation of a Nyström kernel as diagonal filters on an ``m x m`` eigenproblem.

Let ``K_mm = U diag(s) U^T`` and keep the ``r`` eigenvalues ``s > centre_rtol * max(s)``;
``T = U_r diag(s_r)^-1/2`` whitens the centres and ``phi(x) = T^T k(C, x)`` are the Nyström
features, so that ``Phi Phi^T = K_nm K_mm^+ K_mn = K~`` (the pseudo-inverse cut at the same
tolerance). Kernel ridge regression with ``K~`` is ridge regression on ``phi``; with
``M = Phi^T Phi = T^T G T = Q diag(d) Q^T`` (``G = K_mn K_nm``, accumulated by
:class:`~selfdistill.kernel.nystrom.NystromAccumulator`) the non-zero eigenvalues of ``K~`` are
``d`` and its eigenvectors ``Phi Q d^-1/2``. Borup & Andersen's closed form (eq. 13 with
``D^-1 B^(t) = (D + lam)^-1 S^(t)``, Lemma 4.2 eq. 12) then reads, for any ``x``,

    f_t(x) = k(x, C) P diag(S^(t) / (d + lam)) h,   P = T Q,   h = P^T K_mn y,

with ``S^(1) = 1``, ``S^(t) = (1 - alpha_t) B^(t-1) + alpha_t`` and ``B^(t) = A S^(t)``, ``A = d /
(d + lam)`` (:func:`selfdistill.kernel.spectral.b_recursion`): every step is a diagonal filter on
``h`` and the coefficients on the centres are ``beta_t = P diag(...) h`` -- ``O(m^2)`` per step, no
pass over the data. Optimal alpha (Borup Thm 4.4) needs the validation predictions of the filters
``1 / (d + lam)`` and ``B^(t-1) / (d + lam)``; epsilon mode (Mobahi eq. 1, 13; Borup appendix D)
finds each step's ridge on ``d`` plus the energy of ``y`` outside the range of ``K~`` (``y^T y -
|d^-1/2 h|^2``), with :func:`selfdistill.kernel.spectral.epsilon_ridge`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .spectral import (
    EIGVAL_RTOL,
    b_recursion,
    eigh_descending,
    epsilon_ridge,
    optimal_alpha,
    shrink_factors,
)

__all__ = [
    "CENTRE_RTOL",
    "NystromSpectrum",
    "epsilon_filters",
    "fixed_filters",
    "limit_filter",
    "nystrom_spectrum",
    "optimal_filters",
]

#: Relative tolerance on the eigenvalues of ``K_mm`` per kernel-block precision: directions with
#: ``s <= CENTRE_RTOL[dtype] * max(s)`` are left out of ``K_mm^+`` (the Nyström kernel's
#: pseudo-inverse). float64: :data:`~selfdistill.kernel.spectral.EIGVAL_RTOL`, far above the
#: rounding of ``K_mm`` (about ``m * eps``). float32: a block's products carry relative rounding of
#: about ``sqrt(block) * 6e-8`` (4e-6 for 4096 rows), which the whitening ``s^-1/2`` amplifies in
#: the directions of small ``s``; directions below ``1e-5 * max(s)`` are cut. Measured
#: (docs/kernel.md): on an ill-conditioned ``K_mm`` (RBF, 300 centres in 2-D, 94 % of its spectrum
#: below ``1e-6 max``) with ``lam = 0.01`` the float32 test MSE was 0.0244 at a cut of 1e-10,
#: 0.0029 at 1e-6 and 0.00025 at 1e-5 against 0.00014 in float64; on well-conditioned problems the
#: cut changed nothing.
CENTRE_RTOL: dict[str, float] = {"float64": EIGVAL_RTOL, "float32": 1e-5}


@dataclass(frozen=True)
class NystromSpectrum:
    """The ``m x m`` eigenproblem of a Nyström fit (module docstring).

    Attributes
    ----------
    eigvals : ndarray of shape (r,)
        Non-zero spectrum ``d`` of ``K~`` (descending; ``<= EIGVAL_RTOL * max`` set to 0); the
        other ``n - r`` eigenvalues of ``K~`` are exactly 0.
    basis : ndarray of shape (m, r)
        ``P = T Q``: coefficients on the centres of the eigen-directions.
    h : ndarray of shape (r, q)
        ``P^T K_mn y``.
    target_sq : ndarray of shape (q,)
        ``y^T y`` per column.
    n_samples : int
    """

    eigvals: np.ndarray
    basis: np.ndarray
    h: np.ndarray
    target_sq: np.ndarray
    n_samples: int

    def range_coords(self) -> np.ndarray:
        """``z = V^T y`` on the range of ``K~``: ``h / sqrt(d)`` (0 where ``d = 0``), (r, q)."""
        d = self.eigvals[:, None]
        return np.where(d > 0, self.h / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)

    def null_sq(self) -> np.ndarray:
        """``|y|^2`` outside the range of ``K~`` per column (``>= 0``), shape (q,)."""
        z = self.range_coords()
        return np.maximum(self.target_sq - np.einsum("ij,ij->j", z, z), 0.0)


def whitening(K_mm: np.ndarray, rtol: float) -> np.ndarray:
    """``T = U_r diag(s_r)^-1/2`` for the eigenvalues ``s > rtol * max(s)`` of ``K_mm``."""
    s, U = eigh_descending(K_mm, rtol=rtol)
    r = int(np.count_nonzero(s > 0))
    return U[:, :r] / np.sqrt(s[:r])


def nystrom_spectrum(
    T: np.ndarray, G: np.ndarray, b: np.ndarray, target_sq: np.ndarray, n_samples: int
) -> NystromSpectrum:
    """Eigendecomposition of ``M = T^T G T`` and the targets in its eigenbasis.

    Parameters
    ----------
    T : ndarray of shape (m, r)
        :func:`whitening` of ``K_mm``.
    G, b : ndarray
        ``K_mn K_nm`` (m, m) and ``K_mn y`` (m, q).
    target_sq : ndarray of shape (q,)
        ``y^T y`` per column.
    n_samples : int
    """
    M = T.T @ G @ T
    M = 0.5 * (M + M.T)
    d, Q = eigh_descending(M, rtol=EIGVAL_RTOL)
    P = T @ Q
    return NystromSpectrum(d, P, P.T @ b, np.asarray(target_sq, dtype=float), int(n_samples))


def _stage_filters(B: np.ndarray, alphas: np.ndarray, d: np.ndarray, lam: float) -> np.ndarray:
    """``S^(t) / (d + lam)`` for t = 1..steps from ``B^(t)`` (rows of ``B``), shape (steps, r)."""
    steps = B.shape[0]
    S = np.ones((steps, d.shape[0]))
    for t in range(1, steps):
        S[t] = (1.0 - alphas[t]) * B[t - 1] + alphas[t]
    return S / (d + lam)


def fixed_filters(spec: NystromSpectrum, lam: float, alphas: np.ndarray) -> np.ndarray:
    """Coefficients on the centres of every step for a fixed ``lam`` and given alphas.

    Returns
    -------
    ndarray of shape (steps, m, q)
        ``beta_t = P diag(S^(t) / (d + lam)) h`` (module docstring).
    """
    d = spec.eigvals
    steps = alphas.shape[0]
    B = b_recursion(d, np.full(steps, lam), alphas)
    F = _stage_filters(B, alphas, d, lam)  # (steps, r)
    return _to_centres(spec, F[:, :, None] * spec.h[None, :, :])


def _to_centres(spec: NystromSpectrum, coef: np.ndarray) -> np.ndarray:
    """``P @ coef[t]`` for every step: (steps, r, q) -> (steps, m, q), one GEMM."""
    steps, r, q = coef.shape
    flat = spec.basis @ coef.transpose(1, 0, 2).reshape(r, steps * q)
    return flat.reshape(-1, steps, q).transpose(1, 0, 2)


def optimal_filters(
    spec: NystromSpectrum,
    lam: float,
    steps: int,
    val_basis: np.ndarray,
    Y_val: np.ndarray,
    clipped: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Steps with the validation-optimal alpha of each (Borup Thm 4.4, Algorithm 1).

    ``val_basis = k(X_val, C) P`` (n_val, r). The step's validation predictions are
    ``alpha f1 + (1 - alpha) g`` with ``f1`` of the filter ``1 / (d + lam)`` and ``g`` of
    ``B^(t-1) / (d + lam)`` (the step fitted with ``alpha = 0``).

    Returns
    -------
    coefs : ndarray of shape (steps, m, q)
    alphas : ndarray of shape (steps,)
        First entry NaN.
    """
    d = spec.eigvals
    A = shrink_factors(d, lam)
    alphas = np.full(steps, np.nan)
    coef = np.empty((steps, d.shape[0], spec.h.shape[1]))
    c1 = spec.h / (d + lam)[:, None]
    coef[0] = c1
    f1v = val_basis @ c1
    b = A.copy()  # B^(1)
    for t in range(1, steps):
        g = (b / (d + lam))[:, None] * spec.h
        a = optimal_alpha(Y_val, f1v, val_basis @ g)
        if clipped:
            a = min(max(a, 0.0), 1.0)
        alphas[t] = a
        coef[t] = a * c1 + (1.0 - a) * g
        b = A * ((1.0 - a) * b + a)
    return _to_centres(spec, coef), alphas


def limit_filter(spec: NystromSpectrum, lam: float, alpha: float) -> np.ndarray:
    """Coefficients on the centres of the ``steps -> inf`` limit (Borup Thm 4.5), (m, q).

    ``(alpha + (1 - alpha) d / (d + lam / alpha)) / (d + lam)`` on ``h``; ``alpha > 0``.
    """
    d = spec.eigvals
    scale = (alpha + (1.0 - alpha) * d / (d + lam / alpha)) / (d + lam)
    return spec.basis @ (scale[:, None] * spec.h)


def _epsilon_column(
    d: np.ndarray, z: np.ndarray, null_y: float, n: int, epsilon: float, alphas: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Epsilon mode for one output column on the range of ``K~`` (see :func:`epsilon_filters`)."""
    steps = alphas.shape[0]
    r = d.shape[0]
    pos = d > 0
    root_d = np.sqrt(d)
    # The n - r null directions of K~ enter the step loss only through their total energy: one
    # extra zero eigenvalue carries it, and scaling w by sqrt(r_c / n) makes epsilon_ridge's mean
    # over r_c = r + 1 entries the mean over n (the root and bracket are unchanged).
    d_c = np.append(d, 0.0)
    scale = math.sqrt((r + 1) / n)
    coef = np.zeros((steps, r))
    B = np.empty((steps, r))
    lams = np.empty(steps)
    status: list[str] = []
    z_prev = z
    b_prev = np.ones(r)
    for t in range(steps):
        a = 1.0 if t == 0 else float(alphas[t])
        w = a * z + (1.0 - a) * z_prev
        null_sq = null_y if t == 0 else a * a * null_y  # previous predictions lie in the range
        diff = z - z_prev
        const = 0.0 if t == 0 else a * (1.0 - a) * (float(diff @ diff) + null_y) / n
        w_c = np.append(w, math.sqrt(null_sq)) * scale
        lam_t, st = epsilon_ridge(d_c, w_c, const, epsilon)
        shrink = shrink_factors(d, lam_t)
        if st == "root":
            coef[t] = root_d * w / (d + lam_t)
        elif st == "limit":
            coef[t] = np.where(pos, w / np.where(pos, root_d, 1.0), 0.0)
        b_prev = shrink * ((1.0 - a) * b_prev + a)
        B[t] = b_prev
        z_prev = shrink * w
        lams[t] = lam_t
        status.append(st)
    return coef, B, lams, status


def epsilon_filters(
    spec: NystromSpectrum, epsilon: float, alphas: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Epsilon mode (Mobahi eq. 1; Borup appendix D): per step and column the ridge at which the
    step's training loss equals ``epsilon``, found on the spectrum of ``K~``.

    The targets of step ``t`` in the eigenbasis of ``K~`` are ``w = alpha z + (1 - alpha) z_prev``
    on the range and ``alpha`` times the null-space part of ``y`` outside it (the previous step's
    predictions lie in the range), so the step loss of
    :func:`selfdistill.kernel.spectral.step_loss` is a function of ``d``, ``w`` and one number, the
    null-space energy.

    Returns
    -------
    coefs : ndarray of shape (steps, m, q)
    B : ndarray of shape (steps, r, q)
    lams : ndarray of shape (steps, q)
    status : ndarray of shape (steps, q), object
        ``"root"``, ``"collapse"`` or ``"limit"`` per step and column.
    """
    d = spec.eigvals
    Z = spec.range_coords()
    null = spec.null_sq()
    steps = alphas.shape[0]
    r, q = Z.shape
    coef = np.empty((steps, r, q))
    B = np.empty((steps, r, q))
    lams = np.empty((steps, q))
    status = np.empty((steps, q), dtype=object)
    for j in range(q):
        c, b, lam, st = _epsilon_column(d, Z[:, j], float(null[j]), spec.n_samples, epsilon, alphas)
        coef[:, :, j], B[:, :, j], lams[:, j] = c, b, lam
        status[:, j] = st
    return _to_centres(spec, coef), B, lams, status
