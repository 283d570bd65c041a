"""One Nyström self-distillation fit: centres, one streamed pass, the steps as filters.

:func:`fit_nystrom` is the engine behind ``SelfDistilledKernelRidge(n_components=m)``: it draws
``m`` centres (:func:`~selfdistill.kernel.nystrom.select_centres`), streams ``X`` in row blocks
through a :class:`~selfdistill.kernel.nystrom.NystromAccumulator` (a Dask array goes through
:mod:`selfdistill.kernel.nystrom_dask` instead) and turns the statistics into the coefficients of
every step on the centres (:mod:`selfdistill.kernel.nystrom_steps`). Memory beyond ``X``:
``O(m^2 + block_size * m)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .nystrom import NystromAccumulator, kernel_block, select_centres
from .nystrom_steps import (
    CENTRE_RTOL,
    NystromSpectrum,
    epsilon_filters,
    fixed_filters,
    nystrom_spectrum,
    optimal_filters,
    whitening,
)

__all__ = [
    "NystromFit",
    "accumulate",
    "fit_from_statistics",
    "fit_nystrom",
    "is_dask_array",
    "n_rows",
]


def is_dask_array(X: object) -> bool:
    """True for a ``dask.array.Array`` (checked without importing Dask)."""
    return type(X).__module__.startswith("dask.") and hasattr(X, "chunks")


def n_rows(X: Any) -> int:
    """Number of rows of anything with a ``shape``."""
    return int(X.shape[0])


def accumulate(
    X: Any,
    Y: np.ndarray,
    centres: np.ndarray,
    kernel_args: dict[str, Any],
    *,
    dtype: str,
    block_size: int,
    folds: np.ndarray | None = None,
    n_folds: int = 1,
) -> NystromAccumulator:
    """One pass over ``X`` in row blocks of ``block_size`` (slices ``X[i:j]``: memmaps welcome).

    ``Y`` is the ``(n, q)`` target matrix (in memory); ``folds`` an optional fold label per row.
    """
    acc = NystromAccumulator(
        centres,
        kernel_args,
        n_outputs=Y.shape[1],
        n_folds=n_folds,
        dtype=dtype,
        block_size=block_size,
    )
    n = n_rows(X)
    for start in range(0, n, block_size):
        rows = slice(start, min(start + block_size, n))
        acc.partial_fit(np.asarray(X[rows]), Y[rows], None if folds is None else folds[rows])
    return acc


@dataclass
class NystromFit:
    """What :func:`fit_nystrom` returns (the estimator copies it into its fitted attributes)."""

    centres: np.ndarray
    spectrum: NystromSpectrum
    coefs: np.ndarray  # (steps, m, q) coefficients on the centres
    alphas: np.ndarray  # (steps,), first NaN
    lams: np.ndarray  # (steps,) or (steps, q) in epsilon mode
    B: np.ndarray | None  # (steps, r, q) in epsilon mode, else None (lazy from lams/alphas)
    status: np.ndarray | None  # (steps, q) in epsilon mode


def check_centres_count(n_components: int, n: int) -> int:
    """``min(n_components, n)``, with a warning when ``n_components > n`` (all rows are centres)."""
    if n_components > n:
        warnings.warn(
            f"n_components={n_components} > n_samples={n}: using all {n} training rows as "
            "centres (the Nyström kernel then equals the exact kernel on them)",
            UserWarning,
            stacklevel=4,
        )
        return n
    return n_components


def fit_nystrom(
    X: Any,
    Y: np.ndarray,
    *,
    n_components: int,
    kernel_args: dict[str, Any],
    lam: float | None,
    epsilon: float | None,
    steps: int,
    alphas: np.ndarray | None,
    mode: str,
    X_val: np.ndarray | None = None,
    Y_val: np.ndarray | None = None,
    block_size: int = 4096,
    dtype: str = "float64",
    random_state: object = None,
) -> NystromFit:
    """Fit every step of self-distillation with the Nyström kernel of ``n_components`` centres.

    Parameters mirror :class:`selfdistill.SelfDistilledKernelRidge` (``mode`` is ``"fixed"``,
    ``"sequence"``, ``"optimal"`` or ``"optimal-clipped"``; ``alphas`` the per-step weights for
    the first two). ``X`` is a numpy array or memmap, anything with ``shape`` and row slices,
    or a Dask array (its statistics are then computed as Dask tasks).
    """
    dask = is_dask_array(X)
    if dask:
        from .nystrom_dask import check_dask_array, dask_accumulate

        check_dask_array(X)
    m = check_centres_count(n_components, n_rows(X))
    centres = select_centres(X, m, random_state)
    if dask:
        acc = dask_accumulate(X, Y, centres, kernel_args, dtype=dtype, block_size=block_size)
    else:
        acc = accumulate(X, Y, centres, kernel_args, dtype=dtype, block_size=block_size)
    return fit_from_statistics(
        acc,
        lam=lam,
        epsilon=epsilon,
        steps=steps,
        alphas=alphas,
        mode=mode,
        X_val=X_val,
        Y_val=Y_val,
    )


def fit_from_statistics(
    acc: NystromAccumulator,
    *,
    lam: float | None,
    epsilon: float | None,
    steps: int,
    alphas: np.ndarray | None,
    mode: str,
    X_val: np.ndarray | None = None,
    Y_val: np.ndarray | None = None,
) -> NystromFit:
    """The steps of :func:`fit_nystrom` from accumulated statistics (all rows, any folds)."""
    centres, kernel_args, dtype = acc.centres, acc.kernel_args, acc.dtype
    G, b, yy, n = acc.totals()
    K_mm = kernel_block(centres, centres, kernel_args, "float64")
    T = whitening(0.5 * (K_mm + K_mm.T), CENTRE_RTOL[dtype])
    spec = nystrom_spectrum(T, G, b, yy, n)
    B = status = None
    if lam is None:
        assert epsilon is not None and alphas is not None
        coefs, B, lams, status = epsilon_filters(spec, epsilon, alphas)
    elif mode in ("optimal", "optimal-clipped"):
        assert X_val is not None and Y_val is not None
        val_basis = kernel_block(X_val, centres, kernel_args, "float64") @ spec.basis
        coefs, alphas = optimal_filters(
            spec, lam, steps, val_basis, Y_val, clipped=mode == "optimal-clipped"
        )
        lams = np.full(steps, lam)
    elif mode in ("fixed", "sequence"):
        assert alphas is not None
        coefs = fixed_filters(spec, lam, alphas)
        lams = np.full(steps, lam)
    else:
        raise ValueError(
            "mode must be 'fixed', 'sequence', 'optimal' or 'optimal-clipped' with a lam, "
            f"got {mode!r}"
        )
    return NystromFit(centres, spec, coefs, alphas, lams, B, status)
