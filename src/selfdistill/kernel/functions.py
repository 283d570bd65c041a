"""Kernel evaluation for :class:`~selfdistill.SelfDistilledKernelRidge`.

Every kernel that :func:`sklearn.metrics.pairwise.pairwise_kernels` knows (``"rbf"``,
``"linear"``, ``"poly"``, ``"laplacian"``, ...), ``"precomputed"``, a callable ``k(x, x')`` and
``"spline"``: the Green's function of Mobahi et al. (2020) section 4,

.. math::

    g(x, x') = \\tfrac16 \\max((x - x')^3, 0) - \\tfrac16\\, x (1 - x') (x^2 - 2x' + x'^2),

the kernel of the regulariser :math:`R(f) = \\int_0^1 f''(x)^2\\,dx` with boundary conditions
``f(0) = f(1) = f''(0) = f''(1) = 0``. It is defined for scalar inputs in ``[0, 1]``; since
``g(0, .) = g(1, .) = 0`` its Gram matrix on points that include 0 or 1 is only positive
*semi*-definite (see :data:`selfdistill.kernel.ridge.EIGVAL_RTOL` for how the estimator treats
the null space).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels

from .._util.validation import check_real

__all__ = [
    "KERNELS",
    "check_kernel_params",
    "check_spline_input",
    "kernel_matrix",
    "spline_kernel",
]

#: Names accepted by ``kernel=`` besides a callable.
KERNELS: tuple[str, ...] = (*sorted(PAIRWISE_KERNEL_FUNCTIONS), "precomputed", "spline")

#: Kernels whose ``gamma`` scales a distance or an inner product: it must be > 0 (or None, for
#: scikit-learn's default ``1 / n_features``); a negative ``gamma`` turns the RBF kernel into an
#: exponentially growing, indefinite function.
GAMMA_KERNELS: frozenset[str] = frozenset(
    {"rbf", "laplacian", "chi2", "poly", "polynomial", "sigmoid"}
)
DEGREE_KERNELS: frozenset[str] = frozenset({"poly", "polynomial"})


def check_kernel_params(kernel: object, gamma: object, degree: object, coef0: object) -> None:
    """Check the parameters of a named kernel as scikit-learn's kernel functions require.

    ``gamma`` must be None or a finite real > 0 for the kernels that take it (``rbf``,
    ``laplacian``, ``chi2``, ``poly``, ``sigmoid``); ``degree`` a finite real >= 1 for ``poly``;
    ``coef0`` a finite real for ``poly`` and ``sigmoid``. Parameters a kernel ignores are not
    checked (as in :class:`sklearn.kernel_ridge.KernelRidge`).

    Raises
    ------
    ValueError
        Naming the parameter, the kernel and the allowed range.
    """
    if callable(kernel) or kernel not in GAMMA_KERNELS:
        return
    if gamma is not None:
        check_real(f"gamma (kernel={kernel!r})", gamma, low=0.0, low_inclusive=False)
    if kernel in DEGREE_KERNELS:
        check_real(f"degree (kernel={kernel!r})", degree, low=1.0)
    if kernel in ("poly", "polynomial", "sigmoid"):
        check_real(f"coef0 (kernel={kernel!r})", coef0)


def check_spline_input(name: str, X: np.ndarray) -> np.ndarray:
    """Return ``X`` as a column after checking it is 1-D data in ``[0, 1]``.

    Raises
    ------
    ValueError
        Naming ``name`` when ``X`` has more than one feature or a value outside ``[0, 1]``.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 1:
        raise ValueError(
            f'{name} must have exactly one feature for kernel="spline", got shape {X.shape}'
        )
    if X.size and (X.min() < 0.0 or X.max() > 1.0):
        raise ValueError(
            f'{name} values must be in [0, 1] for kernel="spline", '
            f"got range [{X.min():g}, {X.max():g}]"
        )
    return X


def spline_kernel(X: np.ndarray, Y: np.ndarray | None = None) -> np.ndarray:
    """Mobahi et al. (2020) section 4 spline Green's function ``g(x, y)`` for all pairs.

    Parameters
    ----------
    X : ndarray of shape (n, 1)
        Points in ``[0, 1]``.
    Y : ndarray of shape (m, 1), optional
        Points in ``[0, 1]``; ``X`` when omitted.

    Returns
    -------
    ndarray of shape (n, m)
        ``g(x_i, y_j)``, evaluated in the algebraically equal form
        ``a (1 - b) (2b - b^2 - a^2) / 6`` with ``a = min(x, y)``, ``b = max(x, y)``: exactly
        symmetric, and exactly zero when an argument is 0 or 1 (the formula as printed leaves
        rounding residue of about 1e-18 there).
    """
    X = check_spline_input("X", X)
    Yc = X if Y is None else check_spline_input("Y", Y)
    a = np.minimum(X[:, 0][:, None], Yc[:, 0][None, :])
    b = np.maximum(X[:, 0][:, None], Yc[:, 0][None, :])
    G = a * (1.0 - b) * (2.0 * b - b * b - a * a) / 6.0
    return G


def kernel_matrix(
    X: np.ndarray,
    Y: np.ndarray | None = None,
    *,
    kernel: str | Callable[..., float] = "rbf",
    gamma: float | None = None,
    degree: float = 3,
    coef0: float = 1,
    kernel_params: dict[str, Any] | None = None,
) -> np.ndarray:
    """Kernel matrix ``k(X, Y)``, parameters as in :class:`sklearn.kernel_ridge.KernelRidge`.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Left inputs (for ``"precomputed"``: the kernel matrix itself, returned unchanged).
    Y : ndarray of shape (m, d), optional
        Right inputs; ``X`` when omitted.
    kernel : str or callable
        One of :data:`KERNELS` or a callable ``k(x, y) -> float`` on two 1-D rows.
    gamma, degree, coef0 : float
        Passed to the sklearn kernels that take them (ignored by the others, as in sklearn).
    kernel_params : dict, optional
        Extra keyword arguments for the kernel function (callables included).

    Returns
    -------
    ndarray of shape (n, m)
    """
    if kernel == "spline":
        return spline_kernel(X, Y)
    if kernel == "precomputed":
        return pairwise_kernels(X, Y, metric="precomputed")
    if callable(kernel):
        params = dict(kernel_params or {})
    else:
        params = {"gamma": gamma, "degree": degree, "coef0": coef0, **(kernel_params or {})}
    return pairwise_kernels(X, Y, metric=kernel, filter_params=not callable(kernel), **params)
