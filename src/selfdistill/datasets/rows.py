"""Every sample of a user's data, one row each, and the file written back with new labels.

``selfdistill clean`` judges every sample of ``--data``, not a training split: :func:`read_rows`
returns all of them in reading order (a table's data rows; an ``.npz``'s ``x`` then ``x_val``
then ``x_test``; an image folder's files, sorted, ``train/`` then ``val/`` then ``test/`` when it
has them; a built-in set's training pool then its test set), each with the name of its row in the
source (:attr:`DataRows.rows`: the 0-based data row, or the image's path relative to the folder
with ``/`` separators).

:func:`write_relabelled` is the faithful writer: the user's own file with new labels in the label
column and nothing else changed — every row, the original column names, order and dtypes
(CSV/TSV: every other cell as the text it was; Parquet: the columns as they were; ``.npz``: the
same keys and dtypes, ``y`` / ``y_val`` / ``y_test`` relabelled); an image folder becomes a CSV
``path,label``. It never writes over its input, and writes atomically.

NumPy at import; pandas (tables) and Pillow (images) when used. Torch-free.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._util.io import atomic_write_bytes, atomic_write_text
from ..catalog import DATASETS, check_data_source
from .images import _class_files, _layout
from .registry import loader_for
from .user_files import SPLITS, pandas_module, read_data_file

__all__ = [
    "DATA_KINDS",
    "DataRows",
    "read_corrections",
    "read_rows",
    "relabelled_name",
    "write_relabelled",
]

#: what :attr:`DataRows.kind` can be
DATA_KINDS = ("table", "images", "arrays")
_NPZ_LABELS = {"train": "y", "val": "y_val", "test": "y_test"}


@dataclass(frozen=True)
class DataRows:
    """Every sample of a data source, in reading order.

    Attributes
    ----------
    source
        The data as given: a path (absolute) or a built-in data-set name.
    kind
        ``"table"`` (CSV/TSV/Parquet), ``"images"`` (an image folder) or ``"arrays"`` (``.npz``
        or a built-in data set).
    x
        Features ``(n, D)`` (float64) or uint8 images ``(n, C, H, W)``.
    y
        The given labels as class indices ``0 .. K-1`` ``(n,)``.
    class_names
        The name of each class (the labels as the user wrote them, as strings).
    rows
        The name of each sample's row in the source: ``"0" .. "n-1"`` for tables, arrays and
        built-in sets, the relative POSIX path of each image.
    label_column
        The label column of a table (``"label"`` otherwise).
    splits
        The number of samples each split of the source holds, in reading order.
    """

    source: str
    kind: str
    x: np.ndarray
    y: np.ndarray
    class_names: tuple[str, ...]
    rows: tuple[str, ...]
    label_column: str = "label"
    splits: tuple[tuple[str, int], ...] = ()
    #: a table's feature columns, in the order of :attr:`x`'s columns (``None`` otherwise)
    feature_names: tuple[str, ...] | None = None

    def __len__(self) -> int:
        return len(self.y)

    def is_file(self) -> bool:
        """Whether the source is a user's file or folder (not a built-in data set)."""
        return self.source not in DATASETS


def read_rows(
    data: str | Path, *, label_column: str = "label", image_size: int | None = None
) -> DataRows:
    """Read every sample of ``data`` (a data file, an image folder or a built-in name).

    Raises ValueError / FileNotFoundError naming the file, as
    :func:`~selfdistill.datasets.user_files.read_data_file` does.
    """
    name = check_data_source(str(data))
    if name in DATASETS:
        return _builtin_rows(name)
    path = Path(name).resolve()
    file = read_data_file(path, label_column=label_column, image_size=image_size)
    parts = [(s, file.splits[s]) for s in SPLITS if s in file.splits]
    x = np.concatenate([xs for _, (xs, _) in parts])
    y = np.concatenate([ys for _, (_, ys) in parts])
    sizes = tuple((s, len(ys)) for s, (_, ys) in parts)
    if path.is_dir():
        kind = "images"
        rows = tuple(p.relative_to(path).as_posix() for p in _image_paths(path))
    else:
        kind = "arrays" if path.suffix.lower() == ".npz" else "table"
        rows = tuple(str(i) for i in range(len(y)))
    names = getattr(file, "feature_names", None) if kind == "table" else None
    return DataRows(str(path), kind, x, y, file.class_names, rows, label_column, sizes,
                    None if names is None else tuple(names))  # fmt: skip


def _image_paths(root: Path) -> list[Path]:
    """The image files of ``root`` in the order :func:`read_image_folder` reads them."""
    skipped: list[Path] = []  # hidden and system files: left out as image_arrays leaves them
    layout = _layout(root, skipped)
    return [f for s in SPLITS if s in layout for f, _ in _class_files(root, layout[s], skipped)]


def _builtin_rows(name: str) -> DataRows:
    """A built-in data set's pool then test set (MNIST-1D: the loader's default size)."""
    raw = loader_for(name)(data_dir=None, rng=np.random.default_rng(0))
    x = np.concatenate([raw.x_pool, raw.x_test])
    y = np.concatenate([raw.y_pool, raw.y_test]).astype(np.int64)
    names = raw.class_names or tuple(str(c) for c in range(raw.num_classes))
    sizes = (("train", len(raw.y_pool)), ("test", len(raw.y_test)))
    return DataRows(name, "arrays", x, y, tuple(names), tuple(str(i) for i in range(len(y))),
                    splits=sizes)  # fmt: skip


def relabelled_name(rows: DataRows) -> str:
    """The file name of the relabelled copy: ``relabelled.<the input's extension>``
    (``relabelled.csv`` for an image folder, ``relabelled.npz`` for a built-in set)."""
    if rows.kind == "images":
        return "relabelled.csv"
    if not rows.is_file():
        return "relabelled.npz"
    return "relabelled" + Path(rows.source).suffix.lower()


def write_relabelled(rows: DataRows, labels: Any, path: str | Path) -> Path:
    """Write the source of ``rows`` with ``labels`` (class indices, one per sample) to ``path``.

    Raises ValueError when ``path`` is the source itself or ``labels`` is not one class index
    per sample.
    """
    path = Path(path)
    labels = np.asarray(labels)
    if labels.shape != (len(rows),) or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be {len(rows)} class indices, got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(rows.class_names)):
        raise ValueError(f"labels must lie in [0, {len(rows.class_names) - 1}]")
    if rows.is_file() and path.resolve() == Path(rows.source).resolve():
        raise ValueError(f"the relabelled file {path} would overwrite the input {rows.source}")
    if rows.kind == "images":
        return _write_image_labels(rows, labels, path)
    if rows.kind == "table":
        return _write_table(rows, labels, path)
    return _write_arrays(rows, labels, path)


def _write_image_labels(rows: DataRows, labels: np.ndarray, path: Path) -> Path:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label"])
    names = np.asarray(rows.class_names, dtype=object)
    writer.writerows(zip(rows.rows, names[labels].tolist(), strict=True))
    return atomic_write_text(path, buffer.getvalue())


def _originals(values: np.ndarray, codes: np.ndarray, k: int) -> list[Any]:
    """The value the source writes for each class code (the first row holding that code)."""
    first = np.full(k, -1)
    for i, c in enumerate(codes.tolist()):
        if first[c] < 0:
            first[c] = i
    return [values[i] for i in first.tolist()]


def _write_table(rows: DataRows, labels: np.ndarray, path: Path) -> Path:
    pd = pandas_module()
    source = Path(rows.source)
    suffix = source.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(source)
        column = frame.columns[[str(c) for c in frame.columns].index(rows.label_column)]
        old = frame[column].to_numpy()
        value = _originals(old, rows.y, len(rows.class_names))
        frame[column] = pd.Series([value[c] for c in labels.tolist()], dtype=frame[column].dtype)
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return atomic_write_bytes(path, buffer.getvalue())
    sep = "\t" if suffix == ".tsv" else ","
    # every cell as text: the other columns are written back exactly as they were read
    frame = pd.read_csv(source, sep=sep, dtype=str, keep_default_na=False)
    column = frame.columns[[str(c) for c in frame.columns].index(rows.label_column)]
    old = frame[column].to_numpy()
    value = _originals(old, rows.y, len(rows.class_names))
    frame[column] = [value[c] for c in labels.tolist()]
    return atomic_write_text(path, frame.to_csv(sep=sep, index=False, lineterminator="\n"))


def _write_arrays(rows: DataRows, labels: np.ndarray, path: Path) -> Path:
    if not rows.is_file():  # a built-in set: its pool and test set as one x, y
        arrays = {"x": rows.x, "y": labels.astype(np.int64)}
    else:
        with np.load(rows.source, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        keys = [_NPZ_LABELS[split] for split, _ in rows.splits]
        given = np.concatenate([arrays[k].astype(object) for k in keys])
        value = _originals(given, rows.y, len(rows.class_names))
        start = 0
        for key in keys:
            old = arrays[key]
            part = labels[start : start + len(old)]
            arrays[key] = np.array([value[c] for c in part.tolist()], dtype=old.dtype)
            start += len(old)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def read_corrections(path: str | Path, rows: DataRows) -> dict[int, int]:
    """A person's decisions, ``corrections.csv`` with columns ``row,label`` (``row`` as in
    ``issues.csv``, ``label`` a class name): ``{sample index: class index}``.

    ValueError (one line, naming the file) for wrong columns, an unknown row, an unknown label
    or a row given twice.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--corrections: no such file: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            table = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: not a readable CSV file ({exc})") from None
    table = [r for r in table if r]
    if not table or [c.strip() for c in table[0]] != ["row", "label"]:
        got = ",".join(table[0]) if table else "nothing"
        raise ValueError(f"{path}: the columns must be row,label (got {got})")
    index = {name: i for i, name in enumerate(rows.rows)}
    code = {name: j for j, name in enumerate(rows.class_names)}
    out: dict[int, int] = {}
    for line, fields in enumerate(table[1:], start=2):
        if len(fields) != 2:
            raise ValueError(f"{path}: line {line} has {len(fields)} fields; expected row,label")
        row, label = fields[0].strip(), fields[1].strip()
        if row not in index:
            raise ValueError(f"{path}: line {line}: unknown row {row!r} (not a row of the data)")
        if label not in code:
            known = ", ".join(rows.class_names[:10]) + (", ..." if len(code) > 10 else "")
            raise ValueError(f"{path}: line {line}: unknown label {label!r} (classes: {known})")
        if index[row] in out:
            raise ValueError(f"{path}: line {line}: row {row!r} is given twice")
        out[index[row]] = code[label]
    return out
