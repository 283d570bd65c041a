"""The evidence the review page shows beside a suspect label, read from the user's DATA.

* images (an image folder, or an ``.npz`` whose ``x`` holds images): a thumbnail of each sample,
  embedded as a ``data:`` URI so that the page works when it is moved;
* tables (CSV / TSV / Parquet, or an ``.npz`` of feature vectors): the sample's feature values
  and (for the flagged ones) its nearest *correctly-labelled* neighbours — the samples ``clean``
  did not flag, in the standardised feature space (Euclidean distance, scikit-learn's
  :class:`~sklearn.neighbors.NearestNeighbors`).

Rows are found by ``issues.csv``'s ``row`` (an image's path relative to DATA) or ``index`` (the
sample's position in reading order: the file's rows; an ``.npz``'s ``x``, then ``x_val``, then
``x_test``). Nothing here fails the report: evidence that cannot be read becomes a one-line note.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...catalog import DATASETS
from .page import png_data_uri

__all__ = ["Evidence", "gather_evidence", "image_thumbnail", "nearest_correct"]

#: thumbnails and neighbour lists are embedded for at most this many samples (flagged first)
MAX_EVIDENCE = 20_000
#: a thumbnail's longest side in pixels (smaller images keep their size; the page scales them)
THUMB_SIZE = 64
#: feature values shown per table row
MAX_FEATURES = 12
NEIGHBOURS = 3
#: neighbours are listed for every flagged sample, and for the top-scored others up to this many
MIN_NEIGHBOUR_ROWS = 1000
#: built-in data sets whose feature vectors are images: (C, H, W), and whether ink is high
BUILTIN_IMAGES = {"digits": ((1, 8, 8), True)}


@dataclass
class Evidence:
    """What :func:`gather_evidence` found: ``thumbs`` (index -> data URI), ``features`` (the
    names shown and index -> values), ``neighbours`` (index -> ``[[index, distance], ...]``) and
    ``notes`` (one line each: what could not be shown, and why)."""

    kind: str = "none"
    thumbs: dict[int, str] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)
    n_features: int = 0
    features: dict[int, list[float]] = field(default_factory=dict)
    neighbours: dict[int, list[list[float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("thumbnails need Pillow: pip install 'selfdistill[images]'") from None
    return Image


def _encode(image: Any, *, photo: bool) -> str:
    """A Pillow image as a PNG (or, for large colour photos, JPEG) data URI."""
    image.thumbnail((THUMB_SIZE, THUMB_SIZE))
    buffer = io.BytesIO()
    if photo and image.mode == "RGB":
        image.save(buffer, format="JPEG", quality=85)
        return png_data_uri(buffer.getvalue(), "image/jpeg")
    image.save(buffer, format="PNG", optimize=True)
    return png_data_uri(buffer.getvalue())


def image_thumbnail(path: str | Path) -> str:
    """The thumbnail of one image file (at most :data:`THUMB_SIZE` pixels a side) as a data URI."""
    image_module = _pillow()
    with image_module.open(path) as im:
        im.load()
        grey = im.mode in ("1", "L", "LA", "I", "I;16", "F")
        photo = im.format == "JPEG" and max(im.size) > 48
        im = im.convert("L" if grey else "RGB")
    return _encode(im, photo=photo)


def _array_thumbnail(x: np.ndarray) -> str | None:
    """A thumbnail of one image held as an array (``C, H, W`` with C = 1 or 3, or ``H, W``)."""
    if x.ndim == 3 and x.shape[0] in (1, 3):
        x = x.transpose(1, 2, 0)
        x = x[..., 0] if x.shape[2] == 1 else x
    elif x.ndim != 2:
        return None
    if x.dtype != np.uint8:
        x = x.astype(float)
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        x = np.zeros_like(x) if hi <= lo else (x - lo) / (hi - lo) * 255.0
        x = np.nan_to_num(x).round().astype(np.uint8)
    image = _pillow().fromarray(np.ascontiguousarray(x))
    return _encode(image, photo=False)


def nearest_correct(
    x: np.ndarray, flagged: np.ndarray, queries: Sequence[int], k: int = NEIGHBOURS
) -> dict[int, list[list[float]]]:
    """For each sample of ``queries``, its ``k`` nearest samples that are not flagged (itself
    excluded), in features standardised over all samples: ``{index: [[index, distance], ...]}``
    (nearest first)."""
    from sklearn.neighbors import NearestNeighbors

    x = np.asarray(x, float).reshape(len(x), -1)
    sd = x.std(axis=0)
    z = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    reference = np.flatnonzero(~np.asarray(flagged, bool))
    queries = np.asarray(queries, int)
    if len(reference) == 0 or len(queries) == 0:
        return {}
    n_ask = min(k + 1, len(reference))
    model = NearestNeighbors(n_neighbors=n_ask).fit(z[reference])
    distances, positions = model.kneighbors(z[queries])
    out = {}
    for q, dist, pos in zip(queries.tolist(), distances, positions, strict=True):
        found = [
            [int(reference[p]), round(float(d), 4)]
            for p, d in zip(pos, dist, strict=True)
            if reference[p] != q
        ]
        out[q] = found[:k]
    return out


def _table_features(
    evidence: Evidence, x: np.ndarray, names: list[str], flagged: np.ndarray, shown: list[int]
) -> None:
    evidence.kind = "table"
    evidence.n_features = x.shape[1]
    evidence.feature_names = names[:MAX_FEATURES]
    evidence.features = {i: [float(v) for v in x[i, :MAX_FEATURES]] for i in shown}
    if x.shape[1] > MAX_FEATURES:
        evidence.notes.append(
            f"The first {MAX_FEATURES} of the {x.shape[1]} features are shown; the neighbours "
            "are measured on all of them."
        )
    # neighbours of the flagged samples (at least MIN_NEIGHBOUR_ROWS of the first shown)
    queries = [i for i in shown if flagged[i]]
    if len(queries) < MIN_NEIGHBOUR_ROWS:
        queries += [i for i in shown if not flagged[i]][: MIN_NEIGHBOUR_ROWS - len(queries)]
    evidence.neighbours = nearest_correct(x, flagged, queries)


def _table_names(path: Path, label_column: str) -> list[str]:
    from ...datasets.user_files import pandas_module

    pd = pandas_module()
    if path.suffix.lower() == ".parquet":
        columns = list(pd.read_parquet(path).columns)
    else:
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        columns = list(pd.read_csv(path, sep=sep, nrows=0).columns)
    return [str(c) for c in columns if str(c) != label_column]


def _array_evidence(
    evidence: Evidence,
    data: str,
    rows: Sequence[str],
    flags: np.ndarray,
    shown: list[int],
    label_column: str,
    image_size: int | None,
) -> None:
    """Evidence of a table, an ``.npz`` or a built-in set, read as ``clean`` read it
    (:func:`~selfdistill.datasets.rows.read_rows`, the same reading order)."""
    from ...datasets.rows import read_rows

    read = read_rows(data, label_column=label_column, image_size=image_size)
    if read.rows != tuple(rows):
        raise ValueError(
            f"it holds {len(read.rows):,} samples that are not the {len(rows):,} rows the run "
            "judged (changed since?)"
        )
    x = read.x
    if read.source in BUILTIN_IMAGES and x.ndim == 2:
        shape, invert = BUILTIN_IMAGES[read.source]
        if int(np.prod(shape)) == x.shape[1]:  # the features are the pixels of an image
            x = x.reshape(len(x), *shape)
            x = x.max() - x if invert else x
    if x.ndim >= 3:
        evidence.kind = "images"
        thumbs = {i: _array_thumbnail(x[i]) for i in shown}
        evidence.thumbs = {i: t for i, t in thumbs.items() if t is not None}
        return
    if read.kind == "table":
        names = _table_names(Path(read.source), label_column)
    else:
        names = [f"x[{j}]" for j in range(x.shape[1])]
    _table_features(evidence, x, names, flags, shown)


def gather_evidence(
    data: str | None,
    data_kind: str,
    *,
    rows: Sequence[str],
    indices: Sequence[int],
    flagged: Sequence[bool],
    label_column: str = "label",
    image_size: int | None = None,
    limit: int = MAX_EVIDENCE,
) -> Evidence:
    """Thumbnails or feature values and neighbours for the first ``limit`` samples of ``rows`` /
    ``indices`` (the page's order: flagged first, by score), read from ``data`` (the DATA of the
    run: a path or a built-in data set's name). Never raises for unreadable data: the reason is a
    note."""
    evidence = Evidence()
    order = np.argsort(~np.asarray(flagged, bool), kind="stable")[:limit]
    shown = [int(indices[i]) for i in order]
    if len(shown) < len(rows):
        evidence.notes.append(
            f"Evidence is embedded for {len(shown):,} of the {len(rows):,} samples (flagged "
            "first, by score), to keep the page small."
        )
    path = Path(data) if data else None
    if data not in DATASETS and (path is None or not path.exists()):
        evidence.notes.append(
            f"The data ({data or 'not recorded'}) is not a file or folder on this machine: no "
            "thumbnails or feature values."
        )
        return evidence
    flags = np.zeros(len(indices), bool)
    flags[np.asarray(indices, int)] = np.asarray(flagged, bool)
    by_index = [""] * len(rows)
    for row, index in zip(rows, indices, strict=True):
        by_index[int(index)] = row
    try:
        if data_kind == "images" and path is not None and path.is_dir():
            evidence.kind = "images"
            evidence.thumbs = {int(indices[i]): image_thumbnail(path / rows[i]) for i in order}
        else:
            _array_evidence(evidence, str(data), by_index, flags, shown, label_column, image_size)
    except (ImportError, OSError, ValueError, IndexError) as exc:
        evidence.notes.append(f"No evidence from {data}: {exc}")
        evidence.kind = "none"
        evidence.thumbs, evidence.features, evidence.neighbours = {}, {}, {}
    return evidence
