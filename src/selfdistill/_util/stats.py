"""Summary statistics over repeated runs (seeds, trials), one convention for the whole package.

Every "mean ± std" that ``selfdistill`` reports over seeds or trials uses the *sample* standard
deviation (``ddof = 1``, the unbiased variance estimate's square root), and 0 where a single run
is summarised (a spread cannot be estimated from one value).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sample_std"]


def sample_std(values: Any, axis: int | None = None) -> np.ndarray | float:
    """Sample standard deviation (``ddof = 1``) of ``values`` over ``axis``; 0 for a single value.

    Parameters
    ----------
    values
        Array-like of runs; ``axis`` is the axis over the runs (``None``: all values, a float).
    axis
        The axis of the runs.

    Returns
    -------
    ndarray or float
        ``sqrt(sum (x - mean)^2 / (n - 1))`` with ``n`` the number of runs, or zeros when n = 1.
    """
    xs = np.asarray(values, dtype=float)
    n = xs.size if axis is None else xs.shape[axis]
    if n == 0:
        raise ValueError("sample_std needs at least one value")
    if n == 1:
        std = np.zeros_like(xs.mean(axis=axis))
    else:
        std = xs.std(axis=axis, ddof=1)
    return float(std) if axis is None else std
