"""Readers of a user's own data: ``.npz`` arrays, CSV / TSV / Parquet tables, image folders.

Each reader returns :class:`FileData`: the splits the file holds (``train`` always; ``val`` and
``test`` when it has them), the features as they are (float64 features, or uint8 images of shape
``(N, C, H, W)``) and the labels encoded as ``0 .. K-1``, with the class names. The classes are the
sorted distinct labels of all splits (numbers in numeric order, strings in text order), so labels
already ``0 .. K-1`` stay as they are. Splitting off what the file lacks, subsetting and
standardising happen in :mod:`selfdistill.nn.data_splits`, exactly as for the built-in data sets.

* :func:`read_npz` — arrays ``x``, ``y`` and optionally ``x_val``, ``y_val``, ``x_test``,
  ``y_test`` (:func:`numpy.load`, no pickles);
* :func:`read_table` — one row per sample, numeric feature columns and a label column, read with
  pandas (``.csv``, ``.tsv``; ``.parquet`` through pyarrow): the ``tables`` extra;
* :func:`read_image_folder` — the ImageFolder layout ``DIR/<class>/*.png|jpg`` (or
  ``DIR/train/<class>/...`` with optional ``DIR/val`` and ``DIR/test``), decoded with Pillow: the
  ``images`` extra.

Every bad input is a one-sentence ``ValueError`` naming the file (or ``FileNotFoundError``), and
nothing is written. NumPy only at import: importable without torch, pandas or Pillow.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..catalog import DATA_FILE_SUFFIXES, check_data_source
from .images import IMAGE_SIZE_MAX, IMAGE_SUFFIXES, image_arrays

__all__ = [
    "IMAGE_SIZE_MAX",
    "IMAGE_SUFFIXES",
    "FileData",
    "class_order",
    "encode_labels",
    "feature_frame",
    "file_arrays",
    "id_columns",
    "pandas_module",
    "read_data_file",
    "read_frame",
    "read_image_folder",
    "read_npz",
    "read_table",
]

SPLITS = ("train", "val", "test")
_NPZ_KEYS = ("x", "y", "x_val", "y_val", "x_test", "y_test")


@dataclass(frozen=True)
class FileData:
    """The splits of a data file: ``split -> (x, y)`` with ``y`` in ``0 .. K-1``, and the names of
    the K classes."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    class_names: tuple[str, ...]
    #: a table's feature columns, in the order of the features (``None`` for other formats)
    feature_names: tuple[str, ...] | None = None
    #: a table's label column (``None`` for other formats)
    label_column: str | None = None


def read_data_file(
    path: str | Path, *, label_column: str = "label", image_size: int | None = None
) -> FileData:
    """Read a data file or image folder, by its extension (:data:`DATA_FILE_SUFFIXES`).

    ``label_column`` applies to tables, ``image_size`` (resize to ``image_size`` squared) to
    image folders; each is ignored by the other formats.
    """
    source = check_data_source(str(path))
    path = Path(source)
    if path.is_dir():
        return read_image_folder(path, image_size=image_size)
    if path.suffix.lower() == ".npz":
        return read_npz(path)
    if path.suffix.lower() in DATA_FILE_SUFFIXES:
        return read_table(path, label_column=label_column)
    raise ValueError(f"data: {path} is a built-in data set name, not a file")


# --------------------------------------------------------------------------------------------
# Shared checks: labels and features
# --------------------------------------------------------------------------------------------


def _label_values(source: str, what: str, y: np.ndarray) -> np.ndarray:
    """Labels as int64 or str: integral floats are integers, booleans and bytes are text,
    anything else is refused."""
    if y.ndim != 1:
        raise ValueError(f"{source}: {what} must be one label per sample (1-D), got {y.shape}")
    if y.dtype.kind in "iu":
        return y.astype(np.int64)
    if y.dtype.kind == "b":
        return y.astype(str)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{source}: {what} has missing or non-finite labels")
        if not np.array_equal(y, np.round(y)):
            raise ValueError(
                f"{source}: {what} must hold class labels (integers or strings), got fractions"
            )
        return y.astype(np.int64)
    if y.dtype.kind == "S":
        try:
            return np.array([v.decode("utf-8") for v in y.tolist()], dtype=str)
        except UnicodeDecodeError:
            raise ValueError(f"{source}: {what} holds bytes that are not UTF-8 text") from None
    if y.dtype.kind in "UO":
        if any(v is None or (isinstance(v, float) and v != v) for v in y.tolist()):
            raise ValueError(f"{source}: {what} has missing labels")
        return np.array([str(v) for v in y.tolist()], dtype=str)
    raise ValueError(f"{source}: {what} must hold integers or strings, got dtype {y.dtype}")


def class_order(classes: np.ndarray) -> np.ndarray:
    """The distinct labels ``classes`` in class order: numbers by value; text by the number it
    reads as when every label reads as a finite number (``"2"`` before ``"10"``; ties, such as
    ``"1"`` and ``"01"``, which stay distinct classes, by text), else in text order."""
    if classes.dtype.kind != "U":
        return np.sort(classes)
    try:
        numbers = [float(c) for c in classes.tolist()]
    except ValueError:
        return np.sort(classes)
    if not all(np.isfinite(numbers)):
        return np.sort(classes)
    order = sorted(range(len(classes)), key=lambda i: (numbers[i], str(classes[i])))
    return classes[order]


def encode_labels(
    source: str, ys: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Map the labels of every split to ``0 .. K-1`` (the distinct labels of all splits, in the
    order of :func:`class_order`).

    Returns the int64 codes per split and the class names (``str`` of each label: text labels
    exactly as given, so ``"01"``, ``"1"`` and ``"1.0"`` are three classes). Integer and text
    labels mixed across splits are compared as text. ValueError naming ``source`` for fewer than
    two classes.
    """
    values = {split: _label_values(source, what, y) for (split, what), y in _named(ys).items()}
    if len({v.dtype.kind for v in values.values()}) > 1:
        values = {k: v.astype(str) for k, v in values.items()}
    classes = class_order(np.unique(np.concatenate(list(values.values()))))
    if len(classes) < 2:
        only = f" ({classes[0]!s})" if len(classes) else ""
        raise ValueError(
            f"{source}: the labels hold {len(classes)} class{only}; at least 2 are needed"
        )
    position = {c: i for i, c in enumerate(classes.tolist())}
    codes = {}
    for split, v in values.items():
        distinct, inverse = np.unique(v, return_inverse=True)
        lookup = np.array([position[c] for c in distinct.tolist()], dtype=np.int64)
        codes[split] = lookup[inverse.reshape(-1)]
    return codes, tuple(str(c) for c in classes.tolist())


def _named(ys: Mapping[str, np.ndarray]) -> dict[tuple[str, str], np.ndarray]:
    return {(split, "y" if split == "train" else f"y_{split}"): y for split, y in ys.items()}


def _check_features(source: str, what: str, x: np.ndarray) -> np.ndarray:
    """Numeric features of shape ``(N, ...)`` without NaN or infinity."""
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{source}: {what} must hold numbers, got dtype {x.dtype}")
    if x.ndim < 2:
        raise ValueError(
            f"{source}: {what} must have one row of features per sample, shape (N, D) or "
            f"(N, C, H, W), got {x.shape}"
        )
    if x.dtype.kind == "f":
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if not finite.all():
            raise ValueError(
                f"{source}: {what} holds NaN or infinite values (first in sample "
                f"{int(np.argmin(finite))})"
            )
    return x if x.dtype == np.uint8 else x.astype(np.float64, copy=False)


def file_arrays(source: str, arrays: Mapping[str, Any]) -> FileData:
    """Check ``{"x", "y", "x_val", "y_val", "x_test", "y_test"}`` (the last four optional; a split
    needs both of its arrays) and encode the labels: the splits of :class:`FileData`."""
    unknown = sorted(set(arrays) - set(_NPZ_KEYS))
    if unknown:
        raise ValueError(
            f"{source}: unexpected array(s) {', '.join(unknown)}; expected x, y and optionally "
            "x_val, y_val, x_test, y_test"
        )
    for key in ("x", "y"):
        if arrays.get(key) is None:
            found = ", ".join(sorted(k for k, v in arrays.items() if v is not None)) or "none"
            raise ValueError(f"{source}: no array {key!r} (found: {found})")
    xs, ys = {}, {}
    for split in SPLITS:
        kx, ky = ("x", "y") if split == "train" else (f"x_{split}", f"y_{split}")
        x, y = arrays.get(kx), arrays.get(ky)
        if (x is None) != (y is None):
            given, missing = (kx, ky) if y is None else (ky, kx)
            raise ValueError(f"{source}: {given} is given without {missing}")
        if x is None:
            continue
        x, y = np.asarray(x), np.asarray(y)
        xs[split] = _check_features(source, kx, x)
        if len(x) != len(y):
            raise ValueError(f"{source}: {kx} has {len(x)} samples but {ky} has {len(y)}")
        if len(x) == 0:
            raise ValueError(f"{source}: {kx} has no samples")
        if x.shape[1:] != xs["train"].shape[1:]:
            raise ValueError(
                f"{source}: {kx} has samples of shape {x.shape[1:]} but x has "
                f"{xs['train'].shape[1:]}"
            )
        ys[split] = y
    codes, names = encode_labels(source, ys)
    return FileData({s: (xs[s], codes[s]) for s in xs}, names)


# --------------------------------------------------------------------------------------------
# .npz
# --------------------------------------------------------------------------------------------


def read_npz(path: str | Path) -> FileData:
    """Read arrays ``x``, ``y`` (and optionally ``x_val``, ``y_val``, ``x_test``, ``y_test``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data: no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    return file_arrays(str(path), arrays)


# --------------------------------------------------------------------------------------------
# Tables: CSV, TSV, Parquet
# --------------------------------------------------------------------------------------------


def pandas_module() -> Any:
    """The ``pandas`` module, or ImportError with the line that installs the ``tables`` extra."""
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "reading CSV/TSV/Parquet data needs pandas and pyarrow: "
            "pip install 'selfdistill[tables]'"
        ) from None
    return pandas


_SEPARATORS = {",": "comma", "\t": "tab", ";": "semicolon", "|": "vertical-bar"}
_ID_NAMES = frozenset({"id", "ids", "index", "idx", "row", "rowid", "row_id", "row id",
                       "sample_id", "sampleid", "uid", "uuid", "guid", ""})  # fmt: skip


def id_columns(columns: list[str]) -> list[str]:
    """The columns whose name says they hold row ids, not features: ``id``, ``index``,
    ``row_id``, ``uuid``, ... (any case), names ending in ``_id`` / ``-id`` / `` id``, and the
    ``Unnamed: N`` of an unnamed index column that pandas wrote."""
    out = []
    for c in columns:
        low = c.strip().lower()
        if low in _ID_NAMES or low.startswith("unnamed: ") or low.endswith(("_id", "-id", " id")):
            out.append(c)
    return out


def _separator_hint(path: Path, sep: str, header: str) -> str:
    """A sentence saying which separator a one-column table's header really uses, or ''."""
    counts = {s: header.count(s) for s in _SEPARATORS if s != sep}
    found, count = max(counts.items(), key=lambda kv: kv[1])
    if count == 0:
        return ""
    fix = {",": "name it .csv", "\t": "name it .tsv"}.get(found, "save it comma-separated as .csv")
    return (
        f"{path}: the file is read as {_SEPARATORS[sep]}-separated ({path.suffix}) but its "
        f"header holds {count} {_SEPARATORS[found]}(s) and no {_SEPARATORS[sep]}: it looks "
        f"{_SEPARATORS[found]}-separated; {fix}"
    )


def _header_row(path: Path, sep: str) -> list[str]:
    """The first line of a CSV / TSV as the user wrote it (no renaming of duplicates)."""
    import csv

    with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
        return next(csv.reader(f, delimiter=sep), [])


def _check_label_column(path: Path, label_column: str, columns: list[str]) -> None:
    if label_column not in columns:
        shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
        hint = ""
        try:
            [float(c) for c in columns]
            hint = " (the first row holds numbers: does the file lack a header row?)"
        except ValueError:
            pass
        raise ValueError(
            f"{path}: no label column {label_column!r} (columns: {shown}){hint}; "
            "name it with --label-column / label_column"
        )


def read_frame(path: Path, label_column: str | None) -> tuple[Any, Any]:
    """A table read with pandas, and its label column as written (text from CSV / TSV, typed
    from Parquet; ``None`` without ``label_column`` or when the table lacks it).

    ValueError naming the file for an unreadable or empty table, a table with no rows, repeated
    column names, and a one-column table whose header uses another separator.
    """
    if not path.is_file():
        raise FileNotFoundError(f"data: no such file: {path}")
    pd = pandas_module()
    suffix = path.suffix.lower()
    sep = "\t" if suffix == ".tsv" else ","
    try:
        if suffix == ".parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ImportError(
                    "reading Parquet data needs pyarrow: pip install 'selfdistill[tables]'"
                ) from None
            frame = pd.read_parquet(path)
            header = [str(c) for c in frame.columns]
        else:
            header = _header_row(path, sep)
            if not header:
                raise ValueError(f"{path}: the file is empty")
            frame = pd.read_csv(path, sep=sep, index_col=False)
    except (ImportError, ValueError) as exc:
        if isinstance(exc, ImportError) or str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: cannot read the table ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # pandas / pyarrow parser errors of many types
        raise ValueError(f"{path}: cannot read the table ({type(exc).__name__}: {exc})") from None
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ValueError(
            f"{path}: column name(s) {', '.join(map(repr, repeated))} appear more than once"
        )
    if suffix != ".parquet" and len(header) == 1:
        hint = _separator_hint(path, sep, header[0])
        if hint:
            raise ValueError(hint)
    frame.columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        raise ValueError(f"{path}: the table has a header ({len(header)} columns) but no rows")
    labels = None
    if label_column is not None and label_column in frame.columns:
        if suffix == ".parquet":
            labels = frame[label_column]
        else:  # the labels as written: "01", "1" and "1.0" are three different strings
            labels = pd.read_csv(
                path, sep=sep, index_col=False, usecols=[label_column], dtype=str,
                keep_default_na=False,
            )[label_column]  # fmt: skip
            labels = labels.where(labels.str.strip() != "", None)
    return frame, labels


def feature_frame(path: Path, frame: Any, drop: list[str], *, ids: bool = True) -> Any:
    """The numeric feature columns of ``frame``: ``drop`` and (with ``ids``) id columns
    (:func:`id_columns`, left out with a warning naming them) removed; ValueError naming the
    columns that hold text, dates or other non-numbers (with a value and its row) and those with
    missing values."""
    ids = id_columns([c for c in frame.columns if c not in drop]) if ids else []
    if ids:
        warnings.warn(
            f"{path}: column(s) {', '.join(map(repr, ids))} hold row ids, not features, and "
            "are left out",
            UserWarning,
            stacklevel=3,
        )
    features = frame.drop(columns=drop + ids)
    if features.shape[1] == 0:
        raise ValueError(f"{path}: no feature columns besides {', '.join(map(repr, drop + ids))}")
    text = [c for c in features.columns if features[c].dtype.kind not in "biuf"]
    if text:
        column = features[text[0]]
        pd = pandas_module()
        numbers = pd.to_numeric(column, errors="coerce")
        row = int(np.argmax((numbers.isna() & column.notna()).to_numpy()))
        kind = "dates or times" if column.dtype.kind in "mM" else "text or other values"
        raise ValueError(
            f"{path}: feature columns must be numeric; {', '.join(map(repr, text[:5]))} "
            f"hold(s) {kind} (column {text[0]!r}, row {row}: {column.iloc[row]!r}); drop "
            "or encode them"
        )
    x = features.to_numpy(dtype=np.float64)
    bad = [c for c, ok in zip(features.columns, np.isfinite(x).all(axis=0), strict=True) if not ok]
    if bad:
        raise ValueError(
            f"{path}: feature column(s) {', '.join(map(repr, bad[:5]))} hold missing, NaN or "
            "infinite values"
        )
    return features


def read_table(path: str | Path, *, label_column: str = "label") -> FileData:
    """Read a table with one row per sample: numeric feature columns and ``label_column``.

    ``.csv`` (comma-separated) and ``.tsv`` (tab-separated) are read with :func:`pandas.read_csv`,
    ``.parquet`` with :func:`pandas.read_parquet` (pyarrow). The whole table is the training pool.
    The labels stay as written (a CSV's ``"01"`` and ``"1"`` are two classes); every other column
    is a feature, except row ids by their name (:func:`id_columns`: left out with a warning);
    a column of text or dates is refused by name.
    """
    path = Path(path)
    frame, labels = read_frame(path, label_column)
    columns = [str(c) for c in frame.columns]
    _check_label_column(path, label_column, columns)
    features = feature_frame(path, frame, [label_column])
    missing = labels.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"{path}: label column {label_column!r} has missing values "
            f"(first in row {int(np.argmax(missing))})"
        )
    y = labels.to_numpy()
    y = y.astype(str) if y.dtype.kind not in "biuf" else y
    data = file_arrays(str(path), {"x": features.to_numpy(dtype=np.float64), "y": y})
    return FileData(data.splits, data.class_names, tuple(features.columns), label_column)


# --------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------


def read_image_folder(root: str | Path, *, image_size: int | None = None) -> FileData:
    """Read images laid out as class sub-folders (the ImageFolder convention).

    ``root/<class>/<image>`` is the training pool; or ``root/train/<class>/...`` is, with
    ``root/val/<class>/...`` and ``root/test/<class>/...`` as given validation and test splits
    when present. Every file under ``root`` is read or refused by name, and the images are read
    as the user sees them (:func:`selfdistill.datasets.images.image_arrays`: greyscale stays one
    channel, a folder with colour is RGB, real transparency a fourth channel), resized to
    ``image_size`` × ``image_size`` (bilinear, at most :data:`IMAGE_SIZE_MAX`) when given, and
    returned as uint8 ``(N, C, H, W)``; the class names are the folder names.
    """
    return file_arrays(str(root), image_arrays(root, image_size=image_size))
