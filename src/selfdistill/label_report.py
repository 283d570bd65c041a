"""The relabelling report (which given labels the model believes are wrong) and predictions.

Torch-free: everything works on class probabilities ``(N, K)`` as NumPy arrays.

* :func:`label_rows` — one row per training sample, ``index, row, given_label, predicted_label,
  confidence, p_given, flagged`` (and the class names ``given_name``, ``predicted_name``), where
  ``confidence`` is the probability of the predicted class, ``p_given`` that of the given label
  and ``flagged`` whether the two classes differ. Rows are sorted by how sure the model is that
  the given label is wrong: flagged rows first, then by ``p_given`` ascending (ties: by index).
* :func:`flag_scores` — precision, recall and F1 of ``flagged`` against the truly corrupted
  samples, when the noise was injected (so the corrupted samples are known).
* :func:`prediction_rows` — ``predict``'s rows: predicted class, its name and every probability.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._util.io import write_csv

__all__ = [
    "LABEL_COLUMNS",
    "flag_scores",
    "label_rows",
    "prediction_rows",
    "write_label_rows",
]

#: the columns of ``labels.csv``
LABEL_COLUMNS = (
    "index",
    "row",
    "given_label",
    "predicted_label",
    "confidence",
    "p_given",
    "flagged",
    "given_name",
    "predicted_name",
)


def _check_proba(proba: Any) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[0] == 0 or proba.shape[1] < 2:
        raise ValueError(f"proba must have shape (N >= 1, K >= 2), got {proba.shape}")
    return proba


def _names(class_names: Sequence[str] | None, k: int) -> list[str]:
    if class_names is None:
        return [str(c) for c in range(k)]
    if len(class_names) != k:
        raise ValueError(f"class_names must name all {k} classes, got {len(class_names)}")
    return [str(c) for c in class_names]


def label_rows(
    proba: Any,
    given: Any,
    class_names: Sequence[str] | None = None,
    rows: Any = None,
) -> list[dict[str, Any]]:
    """The rows of ``labels.csv`` for class probabilities ``proba`` ``(N, K)`` and the given
    labels ``given`` ``(N,)`` in ``0 .. K-1``, most surely wrong first (module docstring).

    ``rows`` ``(N,)``: each sample's row in the user's data (``DataSplits.train_rows``: the
    0-based data row of a CSV/Parquet file, the index into an npz's ``x``); ``row`` is left
    empty without it. ``index`` is the sample's position in the training split."""
    proba = _check_proba(proba)
    given = np.asarray(given)
    n, k = proba.shape
    if given.shape != (n,) or not np.issubdtype(given.dtype, np.integer):
        raise ValueError(f"given must be {n} integer labels, got shape {given.shape}")
    if given.min() < 0 or given.max() >= k:
        raise ValueError(f"given labels must lie in [0, {k - 1}]")
    names = _names(class_names, k)
    predicted = proba.argmax(axis=1)
    confidence = proba[np.arange(n), predicted]
    p_given = proba[np.arange(n), given]
    flagged = predicted != given
    order = np.lexsort((np.arange(n), p_given, ~flagged))
    if rows is not None:
        rows = np.asarray(rows)
        if rows.shape != (n,):
            raise ValueError(f"rows must hold one source row per sample ({n}), got {rows.shape}")
    return [
        {
            "index": int(i),
            "row": None if rows is None else int(rows[i]),
            "given_label": int(given[i]),
            "predicted_label": int(predicted[i]),
            "confidence": float(confidence[i]),
            "p_given": float(p_given[i]),
            "flagged": bool(flagged[i]),
            "given_name": names[given[i]],
            "predicted_name": names[predicted[i]],
        }
        for i in order
    ]


def write_label_rows(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write :func:`label_rows`'s rows as ``labels.csv`` (atomically)."""
    return write_csv(path, rows, LABEL_COLUMNS)


def flag_scores(flagged: Any, corrupted: Any) -> dict[str, float | None]:
    """Precision, recall and F1 of ``flagged`` as a detector of the ``corrupted`` samples.

    Returns ``flagged_precision`` (corrupted among flagged), ``flagged_recall`` (flagged among
    corrupted) and ``flagged_f1`` (their harmonic mean); each ``None`` where undefined: no
    sample corrupted (all three), none flagged (precision, F1), precision + recall = 0 (F1).
    """
    flagged = np.asarray(flagged, dtype=bool)
    corrupted = np.asarray(corrupted, dtype=bool)
    if flagged.shape != corrupted.shape or flagged.ndim != 1:
        raise ValueError(
            f"flagged and corrupted must be 1-d of one length, got {flagged.shape}, "
            f"{corrupted.shape}"
        )
    hits = int((flagged & corrupted).sum())
    if not corrupted.any():
        return {"flagged_precision": None, "flagged_recall": None, "flagged_f1": None}
    recall = hits / int(corrupted.sum())
    precision = hits / int(flagged.sum()) if flagged.any() else None
    f1 = None
    if precision is not None and precision + recall > 0:
        f1 = 2 * precision * recall / (precision + recall)
    return {"flagged_precision": precision, "flagged_recall": recall, "flagged_f1": f1}


def prediction_rows(proba: Any, class_names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per sample: ``index, predicted_label, predicted_name, confidence`` and
    ``p_<name>`` for every class, in the input's order."""
    proba = _check_proba(proba)
    names = _names(class_names, proba.shape[1])
    predicted = proba.argmax(axis=1)
    rows = []
    for i, p in enumerate(proba):
        row: dict[str, Any] = {
            "index": i,
            "predicted_label": int(predicted[i]),
            "predicted_name": names[predicted[i]],
            "confidence": float(p[predicted[i]]),
        }
        row.update({f"p_{name}": float(v) for name, v in zip(names, p, strict=True)})
        rows.append(row)
    return rows
