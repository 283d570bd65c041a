"""The ``n_components`` route of the kernel estimators: parameters, inputs, fitted attributes.

``SelfDistilledKernelRidge(n_components=m)`` (and the classifier, and both CV estimators) fit
the Nyström kernel of ``m`` centres (:mod:`selfdistill.kernel.nystrom_fit`). This module holds
what the estimators share for it: the checks of ``n_components``, ``block_size`` and ``dtype``,
the inputs that are streamed rather than loaded (a Dask array; anything with ``shape``,
``dtype`` and row slices, such as an h5py dataset; numpy memmaps are numpy arrays and are read
in blocks as well), and the fitted attributes of a :class:`NystromFit`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.sparse
from sklearn.utils.validation import check_array, validate_data

from .._util.validation import check_choice, check_int, check_numeric_columns
from .nystrom import DTYPES, check_n_components
from .nystrom_fit import NystromFit, is_dask_array

__all__ = [
    "check_nystrom_params",
    "check_same_rows",
    "is_streamable",
    "nystrom_attributes",
    "validate_nystrom_input",
]


def check_nystrom_params(est: Any, *, warn: bool = True) -> tuple[int, int, str] | None:
    """``(n_components, block_size, dtype)``, or None for the exact engine.

    None when ``n_components`` is None, and when ``kernel="precomputed"``: the Gram matrix is
    then already in memory and the exact engine runs (with a ``UserWarning`` if ``warn``).

    Raises
    ------
    ValueError
        ``n_components`` not an int >= 1, ``block_size`` not an int >= 1, ``dtype`` not
        ``"float64"``/``"float32"``.
    """
    m = check_n_components(est.n_components)
    if m is None:
        return None
    block = check_int("block_size", est.block_size, low=1)
    dtype = check_choice("dtype", est.dtype, DTYPES)
    if est.kernel == "precomputed":
        if warn:
            warnings.warn(
                'n_components is ignored with kernel="precomputed": the n x n Gram matrix is '
                "already in memory, so the exact engine runs",
                UserWarning,
                stacklevel=3,
            )
        return None
    return m, block, dtype


def is_streamable(X: object) -> bool:
    """A Dask array, or a 2-D array-like with ``shape``, ``dtype`` and slices that is not a
    numpy array, a sparse matrix or a DataFrame (those go through scikit-learn's validation)."""
    if is_dask_array(X):
        return True
    if isinstance(X, np.ndarray) or scipy.sparse.issparse(X) or hasattr(X, "iloc"):
        return False
    shape = getattr(X, "shape", None)
    return (
        shape is not None and len(shape) == 2 and hasattr(X, "dtype") and hasattr(X, "__getitem__")
    )


def check_same_rows(X: object, y: object) -> None:
    """``ValueError`` when ``X`` and ``y`` both have a known, different number of rows."""
    n_rows = getattr(X, "shape", (None,))[0]
    y_rows = getattr(y, "shape", (None,))[0]
    if n_rows is not None and y_rows is not None and n_rows != y_rows:
        raise ValueError(f"y must have one row per row of X: X has {n_rows}, y has {y_rows}")


def validate_nystrom_input(
    est: Any, X: Any, y: Any, *, classifier: bool = False
) -> tuple[Any, np.ndarray]:
    """Validate ``(X, y)`` for a Nyström fit without loading a streamed ``X``.

    In-memory arrays (numpy memmaps included: not copied when float64 or float32) go through
    scikit-learn's ``validate_data``; a streamed ``X`` is checked block by block during the
    pass (width, finiteness), here only for its shape. ``y`` is always loaded.
    """
    if not is_streamable(X):
        check_same_rows(X, y)
        check_numeric_columns(X)
        return validate_data(
            est,
            X,
            y,
            dtype=(np.float64, np.float32),
            multi_output=not classifier,
            y_numeric=not classifier,
            ensure_min_samples=1,
        )
    if is_dask_array(X):
        from .nystrom_dask import check_dask_array

        check_dask_array(X)
    if hasattr(y, "compute"):
        y = y.compute()
    y = check_array(
        y,
        ensure_2d=False,
        dtype=None if classifier else np.float64,
        input_name="y",
    )
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must have one row per row of X: X has {X.shape[0]}, y has {y.shape[0]}"
        )
    if X.shape[0] < 1:
        raise ValueError("X must have at least one row")
    est.n_features_in_ = int(X.shape[1])
    return X, y


def nystrom_attributes(fit: NystromFit, y_ndim: int) -> dict[str, Any]:
    """Fitted attributes of a :class:`NystromFit` (``dual_coefs_`` on the centres, ...)."""
    coefs = fit.coefs if y_ndim == 2 else fit.coefs[:, :, 0]
    lams = fit.lams if (fit.lams.ndim == 1 or y_ndim == 2) else fit.lams[:, 0]
    B = None if fit.B is None else (fit.B if y_ndim == 2 else fit.B[:, :, 0])
    collapsed = None
    if fit.status is not None:
        every = np.all(fit.status == "collapse", axis=1)
        collapsed = int(np.argmax(every)) + 1 if every.any() else None
    return {
        "X_fit_": fit.centres,
        "centres_": fit.centres,
        "n_components_": int(fit.centres.shape[0]),
        "dual_coefs_": coefs,
        "alphas_": fit.alphas,
        "lams_": lams,
        "collapsed_at_": collapsed,
        "_B": B,
        "_nystrom": fit.spectrum,
    }
