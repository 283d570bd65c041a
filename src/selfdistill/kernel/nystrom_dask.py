"""Nyström statistics of a ``dask.array`` as Dask tasks, reduced by a tree of merges.

Each row chunk of ``X`` becomes one task that streams the chunk in blocks through its own
:class:`~selfdistill.kernel.nystrom.NystromAccumulator`; the per-chunk accumulators are merged
pairwise (a binary tree, ``ceil(log2(chunks))`` levels), so only ``m x m`` statistics travel
between workers -- never a row of ``X``. Dask's current scheduler runs the graph: the threaded
one by default, a ``dask.distributed.Client`` (a cluster, or ``LocalCluster``) when one is
active. Needs the ``dask`` extra: ``pip install 'selfdistill[dask]'``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .nystrom import NystromAccumulator

__all__ = ["check_dask_array", "dask_accumulate"]


def check_dask_array(X: Any) -> None:
    """Raise ``ValueError`` if the Dask array ``X`` is not 2-D or its row chunks are unknown."""
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D dask array, got {X.ndim} dimension(s)")
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(
            "X is a dask array with unknown chunk sizes (e.g. after boolean indexing): call "
            "X.compute_chunk_sizes() first"
        )


def _chunk_stats(
    X: np.ndarray,
    Y: np.ndarray,
    centres: np.ndarray,
    kernel_args: dict[str, Any],
    dtype: str,
    block_size: int,
) -> NystromAccumulator:
    acc = NystromAccumulator(
        centres, kernel_args, n_outputs=Y.shape[1], dtype=dtype, block_size=block_size
    )
    return acc.partial_fit(X, Y)


def _merge(a: NystromAccumulator, b: NystromAccumulator) -> NystromAccumulator:
    return a.merge(b)


def dask_accumulate(
    X: Any,
    Y: Any,
    centres: np.ndarray,
    kernel_args: dict[str, Any],
    *,
    dtype: str,
    block_size: int,
) -> NystromAccumulator:
    """Statistics of all rows of the Dask array ``X`` (targets ``Y``: numpy or Dask, ``(n, q)``).

    Raises
    ------
    ValueError
        If ``X`` has unknown chunk sizes or is not 2-D.
    """
    try:
        import dask
        import dask.array as da
    except ImportError:  # pragma: no cover - the dask extra is installed in CI
        raise ImportError(
            "fitting a dask array needs Dask: pip install 'selfdistill[dask]'"
        ) from None
    check_dask_array(X)
    X = X.rechunk({1: -1})
    Yd = Y if hasattr(Y, "chunks") else da.from_array(np.asarray(Y))
    Yd = Yd.reshape(Yd.shape[0], -1).rechunk((X.chunks[0], -1))
    task = dask.delayed(_chunk_stats, pure=True)
    shared = dask.delayed(centres)
    parts = [
        task(xb, yb, shared, kernel_args, dtype, block_size)
        for xb, yb in zip(X.to_delayed().ravel(), Yd.to_delayed().ravel(), strict=True)
    ]
    merge = dask.delayed(_merge, pure=True)
    while len(parts) > 1:
        pairs = [merge(parts[i], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    return parts[0].compute()
