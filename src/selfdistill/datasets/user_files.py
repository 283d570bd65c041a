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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._util.validation import check_int
from ..catalog import DATA_FILE_SUFFIXES, check_data_source

__all__ = [
    "IMAGE_SUFFIXES",
    "FileData",
    "encode_labels",
    "file_arrays",
    "pandas_module",
    "read_data_file",
    "read_image_folder",
    "read_npz",
    "read_table",
]

#: image files of an image folder (case-insensitive)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SPLITS = ("train", "val", "test")
_NPZ_KEYS = ("x", "y", "x_val", "y_val", "x_test", "y_test")


@dataclass(frozen=True)
class FileData:
    """The splits of a data file: ``split -> (x, y)`` with ``y`` in ``0 .. K-1``, and the names of
    the K classes."""

    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    class_names: tuple[str, ...]


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
    """Labels as int64 or str: integral floats are integers, anything else is refused."""
    if y.ndim != 1:
        raise ValueError(f"{source}: {what} must be one label per sample (1-D), got {y.shape}")
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(f"{source}: {what} has missing or non-finite labels")
        if not np.array_equal(y, np.round(y)):
            raise ValueError(
                f"{source}: {what} must hold class labels (integers or strings), got fractions"
            )
        return y.astype(np.int64)
    if y.dtype.kind in "UO":
        if any(v is None or (isinstance(v, float) and v != v) for v in y.tolist()):
            raise ValueError(f"{source}: {what} has missing labels")
        return y.astype(str)
    raise ValueError(f"{source}: {what} must hold integers or strings, got dtype {y.dtype}")


def encode_labels(
    source: str, ys: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Map the labels of every split to ``0 .. K-1`` (the sorted distinct labels of all splits).

    Returns the int64 codes per split and the class names (``str`` of each label). Integer and
    text labels mixed across splits are compared as text. ValueError naming ``source`` for fewer
    than two classes.
    """
    values = {split: _label_values(source, what, y) for (split, what), y in _named(ys).items()}
    if len({v.dtype.kind for v in values.values()}) > 1:
        values = {k: v.astype(str) for k, v in values.items()}
    classes = np.unique(np.concatenate(list(values.values())))
    if len(classes) < 2:
        only = f" ({classes[0]!s})" if len(classes) else ""
        raise ValueError(
            f"{source}: the labels hold {len(classes)} class{only}; at least 2 are needed"
        )
    codes = {k: np.searchsorted(classes, v).astype(np.int64) for k, v in values.items()}
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


def _check_label_column(path: Path, label_column: str, columns: list[str]) -> None:
    if label_column not in columns:
        shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
        raise ValueError(
            f"{path}: no label column {label_column!r} (columns: {shown}); "
            "name it with --label-column / label_column"
        )


def read_table(path: str | Path, *, label_column: str = "label") -> FileData:
    """Read a table with one row per sample: numeric feature columns and ``label_column``.

    ``.csv`` (comma-separated) and ``.tsv`` (tab-separated) are read with :func:`pandas.read_csv`,
    ``.parquet`` with :func:`pandas.read_parquet` (pyarrow). The whole table is the training pool.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data: no such file: {path}")
    pd = pandas_module()
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise ImportError(
                    "reading Parquet data needs pyarrow: pip install 'selfdistill[tables]'"
                ) from None
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except ImportError:
        raise
    except Exception as exc:  # pandas / pyarrow parser errors of many types
        raise ValueError(f"{path}: cannot read the table ({type(exc).__name__}: {exc})") from None
    columns = [str(c) for c in frame.columns]
    _check_label_column(path, label_column, columns)
    frame.columns = columns
    features = frame.drop(columns=[label_column])
    if features.shape[1] == 0:
        raise ValueError(f"{path}: no feature columns besides the label column {label_column!r}")
    text = [c for c in features.columns if features[c].dtype.kind not in "biuf"]
    if text:
        raise ValueError(
            f"{path}: feature columns must be numeric; {', '.join(map(repr, text[:5]))} "
            "hold(s) text or other values"
        )
    x = features.to_numpy(dtype=np.float64)
    bad = [c for c, ok in zip(features.columns, np.isfinite(x).all(axis=0), strict=True) if not ok]
    if bad:
        raise ValueError(
            f"{path}: feature column(s) {', '.join(map(repr, bad[:5]))} hold missing, NaN or "
            "infinite values"
        )
    labels = frame[label_column]
    if labels.isna().any():
        raise ValueError(
            f"{path}: label column {label_column!r} has missing values "
            f"(first in row {int(np.argmax(labels.isna().to_numpy()))})"
        )
    y = labels.to_numpy()
    y = y.astype(str) if y.dtype.kind not in "biuf" else y
    return file_arrays(str(path), {"x": x, "y": y})


# --------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "reading an image folder needs Pillow: pip install 'selfdistill[images]'"
        ) from None
    return Image


def _image_files(folder: Path) -> list[tuple[Path, str]]:
    """``(file, class)`` of ``folder/<class>/*.png|jpg|jpeg``, sorted."""
    out = []
    for cls in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        out += [
            (f, cls.name)
            for f in sorted(cls.iterdir())
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
        ]
    return out


def _decode(image_module: Any, path: Path, size: int | None) -> Any:
    """One image, fully decoded (grey stays grey, anything else becomes RGB), resized."""
    try:
        with image_module.open(path) as im:
            im.load()
            grey = im.mode in ("1", "L", "LA", "I", "I;16", "F")
            im = im.convert("L" if grey else "RGB")
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"{path}: cannot read the image ({exc})") from None
    if size is not None and im.size != (size, size):
        im = im.resize((size, size), image_module.Resampling.BILINEAR)
    return im


def read_image_folder(root: str | Path, *, image_size: int | None = None) -> FileData:
    """Read images laid out as class sub-folders (the ImageFolder convention).

    ``root/<class>/*.png|jpg|jpeg`` is the training pool; or ``root/train/<class>/...`` is, with
    ``root/val/<class>/...`` and ``root/test/<class>/...`` as given validation and test splits
    when present. Images are decoded with Pillow (greyscale stays one channel; a folder mixing
    greyscale and colour is read as RGB), resized to ``image_size`` × ``image_size`` (bilinear)
    when given, and returned as uint8 ``(N, C, H, W)``; the class names are the folder names.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data: no such folder: {root}")
    if image_size is not None:
        image_size = check_int("image_size", image_size, low=1)
    layout = {s: root / s for s in SPLITS if (root / s).is_dir()}
    if layout and "train" not in layout:
        raise ValueError(f"{root}: has {'/, '.join(layout)}/ but no train/ folder")
    layout = layout or {"train": root}
    files = {split: _image_files(folder) for split, folder in layout.items()}
    if not files["train"]:
        raise ValueError(
            f"{layout['train']}: no images ({', '.join(IMAGE_SUFFIXES)}) in class sub-folders "
            f"{layout['train']}/<class>/"
        )
    image_module = _pillow()
    decoded = {s: [_decode(image_module, f, image_size) for f, _ in fs] for s, fs in files.items()}
    every = [(im, f) for s in decoded for im, (f, _) in zip(decoded[s], files[s], strict=True)]
    if len({im.size for im, _ in every}) > 1:
        (a, fa), (b, fb) = every[0], next(p for p in every if p[0].size != every[0][0].size)
        raise ValueError(
            f"{root}: images of different sizes ({fa.relative_to(root)} {a.size[0]}x{a.size[1]}, "
            f"{fb.relative_to(root)} {b.size[0]}x{b.size[1]}); pass --image-size / image_size "
            "to resize them"
        )
    rgb = any(im.mode == "RGB" for im, _ in every)
    arrays: dict[str, Any] = {}
    for split, images in decoded.items():
        if not images:
            continue
        stack = np.stack([np.asarray(im.convert("RGB") if rgb else im) for im in images])
        x = stack.transpose(0, 3, 1, 2) if rgb else stack[:, None]
        kx, ky = ("x", "y") if split == "train" else (f"x_{split}", f"y_{split}")
        arrays[kx], arrays[ky] = np.ascontiguousarray(x), np.array([c for _, c in files[split]])
    return file_arrays(str(root), arrays)
