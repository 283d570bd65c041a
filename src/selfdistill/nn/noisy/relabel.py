"""The data set with refined labels: ``noisy --export-relabelled PATH``.

The training split's labels are replaced by the model's predictions (``predicted_label`` of a
run's ``labels.csv``, :mod:`selfdistill.label_report`); the inputs are written back in the
units the data came in (the standardisation undone). ``.npz``: the arrays ``x``, ``y`` (refined)
and ``x_val``, ``y_val``, ``x_test``, ``y_test`` as they were, which ``--data PATH.npz`` reads
back; ``.csv``: the training split only, one row per sample, feature columns ``x0, x1, ...``
and the label column (the input table's ``--label-column``). Labels are written as class names
when the data has them.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..._util.io import atomic_write_bytes, atomic_write_text
from ..data_splits import DataSplits

__all__ = ["export_relabelled", "refined_labels"]


def refined_labels(labels_csv: str | Path, n_train: int) -> np.ndarray:
    """The predicted label of every training sample, in training-split order, from a run's
    ``labels.csv`` (ValueError naming the file when it does not cover ``n_train`` samples)."""
    with open(labels_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    index = np.array([int(r["index"]) for r in rows], dtype=np.int64)
    if len(rows) != n_train or sorted(index.tolist()) != list(range(n_train)):
        raise ValueError(f"{labels_csv}: does not hold one row per training sample ({n_train})")
    out = np.empty(n_train, dtype=np.int64)
    out[index] = [int(r["predicted_label"]) for r in rows]
    return out


def _raw(data: DataSplits, part: str) -> np.ndarray:
    x = getattr(data, f"x_{part}").numpy()
    if data.standardisation is None:
        return x
    mean, std = data.standardisation
    return x * std + mean


def export_relabelled(
    path: str | Path, data: DataSplits, labels_csv: str | Path, *, label_column: str = "label"
) -> Path:
    """Write ``data`` with the refined training labels of ``labels_csv`` to ``path`` (``.npz``
    or ``.csv``, whose label column is ``label_column``), atomically."""
    path = Path(path)
    y = refined_labels(labels_csv, len(data.y_train))
    names = getattr(data, "class_names", None)

    def labels(values: np.ndarray) -> np.ndarray:
        return np.asarray(names)[values] if names else values

    if path.suffix.lower() == ".npz":
        buffer = io.BytesIO()
        np.savez(
            buffer, x=_raw(data, "train"), y=labels(y),
            x_val=_raw(data, "val"), y_val=labels(data.y_val.numpy()),
            x_test=_raw(data, "test"), y_test=labels(data.y_test.numpy()),
        )  # fmt: skip
        return atomic_write_bytes(path, buffer.getvalue())
    if path.suffix.lower() != ".csv":
        raise ValueError(f"export path must end in .npz or .csv, got {str(path)!r}")
    x = _raw(data, "train").reshape(len(y), -1)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*(f"x{j}" for j in range(x.shape[1])), label_column])
    for row, label in zip(x.tolist(), labels(y).tolist(), strict=True):
        writer.writerow([*(repr(v) for v in row), label])
    return atomic_write_text(path, buffer.getvalue())
