"""The flag rule of ``selfdistill clean``: how many labels are wrong, and which.

Given out-of-fold class probabilities ``p`` (each sample judged by models that never trained on its
label) and the given labels ``y``:

1. **How many** (the *anchor count*): a confident-joint count in the manner of Northcutt et al.
   (2021, eq. 1), with a per-class threshold ``t_j`` that is the ``q``-quantile (default 0.25) of
   ``p_j`` among the samples labelled ``j`` (cleanlab takes the mean, which leaves the classes'
   hard samples unconfident). A sample is confidently of class ``argmax_{j: p_j >= t_j} p_j``
   when some class reaches its threshold; the count is the number of samples confidently of a
   class other than their label.
2. **Which**: the count's samples with the highest score ``1 − p_{y}`` (the out-of-fold
   probability that the given label is wrong).

``q`` was chosen on a generated tabular set with symmetric and pair noise injected at known rows
(rates 0.05–0.4; ``benchmarks/clean.py``'s ``q_sweep``), never on a test split; the image set of
the benchmark was held back (docs/clean.md). NumPy only.
"""

from __future__ import annotations

import numpy as np

from ..._util.validation import check_real

__all__ = ["anchor_count", "class_thresholds", "confident_classes", "flag_top"]

#: the quantile of the per-class thresholds
DEFAULT_QUANTILE = 0.5


def _check(proba: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    proba, y = np.asarray(proba, dtype=np.float64), np.asarray(y)
    if proba.ndim != 2 or len(proba) != len(y):
        raise ValueError(f"proba must be (n, K) with n = len(y) = {len(y)}, got {proba.shape}")
    if y.size and (y.min() < 0 or y.max() >= proba.shape[1]):
        raise ValueError(f"y must hold class indices in [0, {proba.shape[1] - 1}]")
    return proba, y.astype(np.int64)


def class_thresholds(proba: np.ndarray, y: np.ndarray, q: float = DEFAULT_QUANTILE) -> np.ndarray:
    """``t_j``: the ``q``-quantile of ``p_j`` over the samples labelled ``j`` (``+inf`` for a
    class nobody is labelled with)."""
    proba, y = _check(proba, y)
    q = check_real("q", q, low=0.0, high=1.0)
    out = np.full(proba.shape[1], np.inf)
    for j in range(proba.shape[1]):
        mine = proba[y == j, j]
        if mine.size:
            out[j] = np.quantile(mine, q)
    return out


def confident_classes(proba: np.ndarray, y: np.ndarray, q: float = DEFAULT_QUANTILE) -> np.ndarray:
    """Each sample's confident class (the most probable class that reaches its threshold), or
    ``-1`` when no class does."""
    proba, y = _check(proba, y)
    above = proba >= class_thresholds(proba, y, q)[None, :]
    masked = np.where(above, proba, -np.inf)
    return np.where(above.any(axis=1), masked.argmax(axis=1), -1)


def anchor_count(proba: np.ndarray, y: np.ndarray, q: float = DEFAULT_QUANTILE) -> int:
    """The estimated number of wrong labels: samples confidently of another class than their
    label (:func:`confident_classes`)."""
    c = confident_classes(proba, y, q)
    return int(((c >= 0) & (c != np.asarray(y))).sum())


def flag_top(
    proba: np.ndarray,
    y: np.ndarray,
    *,
    q: float = DEFAULT_QUANTILE,
    trusted: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Flag the :func:`anchor_count` samples with the highest score ``1 − p_y``.

    ``trusted`` (a boolean mask) marks samples whose labels a person confirmed: they are never
    flagged, and neither counted nor ranked. Returns the flagged mask, every sample's score and
    the threshold (the lowest flagged score; ``None`` when nothing is flagged). Ties at the
    threshold are broken by the sample's position (earlier first).
    """
    proba, y = _check(proba, y)
    score = 1.0 - proba[np.arange(len(y)), y]
    free = np.ones(len(y), bool) if trusted is None else ~np.asarray(trusted, dtype=bool)
    k = anchor_count(proba[free], y[free], q) if free.any() else 0
    order = np.flatnonzero(free)[np.argsort(-score[free], kind="stable")]
    flagged = np.zeros(len(y), dtype=bool)
    flagged[order[:k]] = True
    return flagged, score, (float(score[order[k - 1]]) if k else None)
