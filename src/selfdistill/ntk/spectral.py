"""Spectral lens on an (n, n) kernel: eigenspaces, label energy and information gain.

Dong et al. section 2.3: gradient descent on the squared loss shrinks the component of the
residual along the NTK eigenvector e_i by (1 − ηλ_i) per step, so the eigenspaces of the largest
eigenvalues are fitted first (Anisotropic Information Retrieval). The *label energy*

    E_k(y) = ‖U_kᵀ y‖²_F / ‖y‖²_F,     U_k = [e_1, ..., e_k] (eigenvectors of the k largest λ),

is the fraction of the label vector's squared norm in the top-k eigenspace (Dong's figure 2 uses
k = 5; for one-hot labels Y ∈ R^{n×C} the norm is Frobenius, i.e. the energies of the C columns
add up). Dong section 3.5 (figure 5) calls E_k(targets) − E_k(labels) the *information gain* of
the self-distillation targets over the labels.

Note: Dong's text says "the ratio of the norm"; we report the ratio of *squared* norms (an energy
fraction, additive over eigenvectors and over one-hot columns); its square root is the ratio of
norms. Every function takes NumPy arrays or torch tensors: :func:`ntk_eigh` returns the same kind
it is given (torch stays on its device), :func:`label_energy` and :func:`information_gain` return
Python floats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from .._util.validation import check_int

__all__ = ["information_gain", "label_energy", "ntk_eigh"]

Array = Any  # numpy.ndarray | torch.Tensor


def _square(name: str, theta: Array) -> Array:
    if not isinstance(theta, Tensor):
        theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim != 2 or theta.shape[0] != theta.shape[1] or theta.shape[0] < 1:
        raise ValueError(
            f"{name} must be a square (n, n) kernel matrix (use mode='trace' or an output index "
            f"in empirical_ntk), got shape {tuple(theta.shape)}"
        )
    finite = torch.isfinite(theta).all().item() if isinstance(theta, Tensor) else None
    if finite is None:
        finite = bool(np.isfinite(theta).all())
    if not finite:
        raise ValueError(f"{name} must be finite")
    return theta


def _top_eigh(theta: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest eigenpairs of a symmetric float64 matrix, largest first (LAPACK ``syevx``:
    tridiagonal reduction, bisection for the k eigenvalues, inverse iteration for their vectors —
    a direct solver, not an iterative approximation)."""
    n = theta.shape[0]
    if k == n:
        values, vectors = np.linalg.eigh(theta)
    else:
        values, vectors = scipy.linalg.eigh(
            theta, subset_by_index=[n - k, n - 1], driver="evx", check_finite=False
        )
    return values[::-1].copy(), vectors[:, ::-1].copy()


def ntk_eigh(theta: Array, k: int | None = None) -> tuple[Array, Array]:
    """Eigen-decomposition of a symmetric kernel, largest eigenvalue first.

    Parameters
    ----------
    theta
        (n, n) symmetric kernel matrix (NumPy or torch); it is symmetrised as (Θ + Θᵀ)/2 first,
        so rounding asymmetry does not matter.
    k
        Only the k largest eigenpairs, k in [1, n] (default: all n). Label energies in the top-k
        eigenspace (Dong sec. 2.3) need no more; at n = 2000 this is several times faster than the
        full decomposition (LAPACK ``syevx`` through :func:`scipy.linalg.eigh` with
        ``subset_by_index``; the same eigenpairs as the full solver to rounding).

    Returns
    -------
    eigenvalues, eigenvectors
        (m,) eigenvalues in descending order and (n, m) orthonormal eigenvectors as columns
        (``eigenvectors[:, i]`` belongs to ``eigenvalues[i]``), m = k or n, of the input's kind:
        a torch tensor in gives torch tensors of its dtype on its device (a top-k decomposition
        is computed in float64 on the CPU), anything else NumPy float64 arrays.
    """
    theta = _square("theta", theta)
    n = theta.shape[0]
    if k is not None:
        k = check_int("k", k, low=1, high=n)
    if isinstance(theta, Tensor):
        symmetric = (theta + theta.T) / 2
        if k is None:
            values, vectors = torch.linalg.eigh(symmetric)
            return values.flip(0), vectors.flip(1)
        top = _top_eigh(symmetric.detach().cpu().double().numpy(), k)
        return tuple(torch.from_numpy(a).to(theta.device, theta.dtype) for a in top)  # type: ignore[return-value]
    return _top_eigh((theta + theta.T) / 2, n if k is None else k)


def _eigenvectors(theta: Array | tuple[Array, Array], k: int) -> Array:
    """The top-k eigenvectors (n, k) of a kernel or of an ``ntk_eigh`` pair, k checked."""
    if isinstance(theta, tuple):
        if len(theta) != 2:
            raise ValueError("theta as a tuple must be (eigenvalues, eigenvectors) from ntk_eigh")
        values, vectors = theta
        if vectors.ndim != 2 or not 1 <= vectors.shape[1] <= vectors.shape[0]:
            raise ValueError(
                "theta eigenvectors must be an (n, m) matrix with 1 <= m <= n, got shape "
                f"{tuple(vectors.shape)}"
            )
        if tuple(values.shape) != (vectors.shape[1],):
            raise ValueError(
                f"theta eigenvalues must have shape ({vectors.shape[1]},), "
                f"got {tuple(values.shape)}"
            )
        k = check_int("k", k, low=1, high=vectors.shape[1])
        return vectors[:, :k]
    theta = _square("theta", theta)
    k = check_int("k", k, low=1, high=theta.shape[0])
    return ntk_eigh(theta, k)[1]


def _as_float64(name: str, y: Array, n: int) -> np.ndarray:
    if isinstance(y, Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(
            f"{name} must have shape ({n},) or ({n}, C) to match the kernel, got {y.shape}"
        )
    if not np.isfinite(y).all():
        raise ValueError(f"{name} must be finite")
    if not np.any(y):
        raise ValueError(f"{name} must not be all zeros (its energy fraction is undefined)")
    return y


def label_energy(theta: Array | tuple[Array, Array], y: Array, k: int) -> float:
    """Fraction of ‖y‖² in the span of the top-k eigenvectors of ``theta`` (Dong sec. 2.3, fig. 2).

    Parameters
    ----------
    theta
        (n, n) symmetric kernel (e.g. ``empirical_ntk(model, x)``), or the pair
        ``ntk_eigh(theta)`` (or ``ntk_eigh(theta, m)`` with m ≥ k) to reuse one decomposition
        for several label vectors. A matrix is decomposed only as far as the top k eigenpairs.
    y
        Labels (n,) — a real label vector such as ±1 binary labels — or (n, C), e.g. one-hot
        labels or soft targets (the norm is then Frobenius). Integer class indices must be
        one-hot encoded first: a 1-D vector is taken as real values.
    k
        Number of leading eigenvectors, in [1, n] (in [1, m] for a pair of m eigenpairs). When
        λ_k = λ_{k+1} the top-k span is not unique and the result depends on the solver's choice
        of basis.

    Returns
    -------
    float
        ‖U_kᵀ y‖²_F / ‖y‖²_F in [0, 1] (1 for k = n).
    """
    top = _eigenvectors(theta, k)
    y = _as_float64("y", y, top.shape[0])
    if isinstance(top, Tensor):
        top = top.detach().cpu().numpy()
    top = np.asarray(top, dtype=np.float64)
    return float(np.sum((top.T @ y) ** 2) / np.sum(y**2))


def information_gain(
    theta: Array | tuple[Array, Array], y_reference: Array, y_target: Array, k: int
) -> float:
    """Information gain E_k(y_target) − E_k(y_reference) (Dong et al. sec. 3.5, fig. 5).

    Dong: "the subtraction of informative information corresponding to the label vector provided
    by the self-distillation algorithm and the original label vector". ``y_reference`` is the
    original (noisy) label vector, ``y_target`` the self-distillation targets; both as in
    :func:`label_energy`, which defines E_k. Positive: the targets carry a larger share of
    their energy in the top-k NTK eigenspace than the labels.
    """
    if not isinstance(theta, tuple):
        theta = _square("theta", theta)
        theta = ntk_eigh(theta, check_int("k", k, low=1, high=theta.shape[0]))
    return label_energy(theta, y_target, k) - label_energy(theta, y_reference, k)
