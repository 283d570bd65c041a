"""Saved models: final weights with a small JSON model card, loaded back to predict.

A saved model is a folder holding

* ``model.json`` — the card: the architecture (:class:`~selfdistill.nn.models.ModelSpec`'s
  ``name``, ``width``, ``depth``), the input shape, the classes and their names, the
  standardisation statistics of the training split, the data source, the method and its
  parameters, the seed and the versions that trained it (:func:`model_card`);
* ``model.pt`` — the ``state_dict``, read back with ``torch.load(..., weights_only=True)``; the
  card records its SHA-256 (``weights_sha256``), so a damaged or truncated file is reported as
  damaged, never as weights of another architecture.

A model trained on a table also records its feature columns (``feature_names``) and label
column (``label_column``): :meth:`SavedModel.read_data` then takes a new table's columns by
name, in any order, refuses one that lacks a feature column (naming it), and finds the labels
in the recorded label column.

:func:`load_model` returns a :class:`SavedModel` that applies the card's standardisation to raw
inputs (uint8 inputs are scaled to [0, 1] first, as the loaders do) and predicts class
probabilities. :func:`read_features` reads the inputs of a data file to predict on.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import platform
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import __version__
from .._util.io import atomic_write_bytes, to_jsonable, write_json
from ..datasets.user_files import feature_frame, read_frame, read_image_folder
from .data_splits import DataSplits
from .models import ModelSpec
from .training.loop import predict_logits

__all__ = [
    "CARD_FORMAT",
    "CARD_NAME",
    "WEIGHTS_NAME",
    "SavedModel",
    "load_model",
    "model_card",
    "read_features",
    "save_model",
]

CARD_NAME = "model.json"
WEIGHTS_NAME = "model.pt"
#: the ``format`` key of every card; a card with another one is refused
CARD_FORMAT = "selfdistill-model/1"


def model_card(
    data: DataSplits,
    network: ModelSpec,
    *,
    method: str,
    params: Mapping[str, Any],
    seed: int,
    source: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The card of a network of ``network``'s architecture trained on ``data``.

    Parameters
    ----------
    data
        The splits it was trained on: input shape, classes (``class_names`` when the data has
        them, else ``"0" .. "K-1"``) and ``standardisation``.
    network
        Its architecture.
    method, params
        How it was trained (e.g. ``"sd"`` and ``{"lam": 1.0, ...}``), recorded as given.
    seed
        The run's seed.
    source
        Where the data came from (e.g. the run's data spec); default ``{"name": data.name}``.
    """
    names = getattr(data, "class_names", None)
    classes = [str(c) for c in names] if names else [str(c) for c in range(data.num_classes)]
    stats = data.standardisation
    standardisation = None if stats is None else {
        "mean": np.asarray(stats[0]).reshape(-1), "std": np.asarray(stats[1]).reshape(-1),
    }  # fmt: skip
    return to_jsonable(
        {
            "format": CARD_FORMAT,
            "architecture": asdict(network),
            "input_shape": list(data.input_shape),
            "num_classes": data.num_classes,
            "classes": classes,
            "standardisation": standardisation,
            "data": dict(source) if source is not None else {"name": data.name},
            "feature_names": _optional_list(getattr(data, "feature_names", None)),
            "label_column": getattr(data, "label_column", None),
            "method": {"name": method, "params": dict(params)},
            "seed": seed,
            "versions": {
                "selfdistill": __version__,
                "torch": torch.__version__,
                "numpy": np.__version__,
                "python": platform.python_version(),
            },
            "weights": WEIGHTS_NAME,
        }
    )


def _optional_list(values: Any) -> list[str] | None:
    return None if values is None else [str(v) for v in values]


def save_model(folder: str | Path, model: nn.Module, card: Mapping[str, Any]) -> Path:
    """Write ``model``'s weights and then its card, with the weights' SHA-256 added
    (``weights_sha256``), into ``folder`` (each atomically); return the card's path. The card is
    written last, so a card on disk always has its weights."""
    folder = Path(folder)
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    weights = buffer.getvalue()
    atomic_write_bytes(folder / WEIGHTS_NAME, weights)
    card = {**card, "weights_sha256": hashlib.sha256(weights).hexdigest()}
    return write_json(folder / CARD_NAME, card)


def weights_damage(card_path: str | Path) -> str | None:
    """Why the weights of the saved model whose card is ``card_path`` are damaged (missing card
    or weights, unreadable card, SHA-256 different from the card's), or ``None`` when they are
    whole. Reads the files only: no torch load."""
    card_path = Path(card_path)
    try:
        card = _read_card(card_path)
    except (OSError, ValueError) as exc:
        return str(exc)
    weights = card_path.parent / str(card.get("weights", WEIGHTS_NAME))
    try:
        data = weights.read_bytes()
    except OSError as exc:
        return f"{weights}: cannot be read ({exc.strerror or exc})"
    expected = card.get("weights_sha256")
    if expected is not None and hashlib.sha256(data).hexdigest() != expected:
        return f"{weights}: its SHA-256 does not match the one its card {card_path.name} records"
    return None


@dataclass(frozen=True)
class SavedModel:
    """A trained network with its card (:func:`load_model`).

    Attributes
    ----------
    model
        The network, on the CPU in eval mode.
    card
        The model card (:func:`model_card`).
    path
        The card's file.
    """

    model: nn.Module
    card: dict[str, Any]
    path: Path

    @property
    def class_names(self) -> list[str]:
        """The name of each class ``0 .. K-1``."""
        return list(self.card["classes"])

    def standardise(self, x: Any) -> torch.Tensor:
        """Raw inputs ``(N, *input_shape)`` as the network saw them in training: uint8 scaled to
        [0, 1], then the card's standardisation. ValueError for another shape or non-finite
        values."""
        array = np.asarray(x)
        shape = tuple(self.card["input_shape"])
        if array.ndim != len(shape) + 1 or array.shape[1:] != shape:
            raise ValueError(
                f"x must have shape (N, {', '.join(map(str, shape))}) for this model "
                f"({int(np.prod(shape))} features per sample), got {array.shape}"
            )
        scale = 255.0 if array.dtype == np.uint8 else 1.0
        try:
            array = array.astype(np.float32) / np.float32(scale)
        except (TypeError, ValueError):
            raise ValueError(f"x must be numeric, got dtype {array.dtype}") from None
        if not np.isfinite(array).all():
            raise ValueError("x must be finite (it holds NaN or infinite values)")
        stats = self.card.get("standardisation")
        if stats is not None:
            channel = (1, len(stats["mean"])) + (1,) * (array.ndim - 2)
            mean = np.asarray(stats["mean"], dtype=np.float32).reshape(channel)
            std = np.asarray(stats["std"], dtype=np.float32).reshape(channel)
            # a constant feature has standard deviation 0: divided by 1, as in training
            array = (array - mean) / np.where(std > 1e-12, std, np.float32(1.0))
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    @property
    def label_column(self) -> str | None:
        """The label column of the table the model was trained on (``None``: not a table)."""
        column = self.card.get("label_column")
        return None if column is None else str(column)

    def read_data(
        self, path: str | Path, *, label_column: str | None = None
    ) -> tuple[np.ndarray, Any]:
        """The inputs of a data file to predict on, as this model takes them, and its labels
        when it has them (:func:`read_features`): a table's columns by the card's feature names
        (any order; a missing one refused by name), its labels from ``label_column`` (default:
        the card's label column, else ``"label"``); image folders resized as in training."""
        column = label_column or self.label_column or "label"
        size = (self.card.get("data") or {}).get("image_size")
        names = self.card.get("feature_names")
        return read_features(path, label_column=column, image_size=size, feature_names=names)

    def predict_proba(self, x: Any, *, batch_size: int = 1024) -> np.ndarray:
        """Class probabilities ``(N, K)`` (softmax of the logits) of raw inputs ``x``."""
        logits = predict_logits(self.model, self.standardise(x), batch_size=batch_size)
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict(self, x: Any, *, batch_size: int = 1024) -> np.ndarray:
        """The predicted class ``0 .. K-1`` of each raw input (argmax of the probabilities)."""
        return self.predict_proba(x, batch_size=batch_size).argmax(axis=1)


def _card_path(path: str | Path) -> Path:
    path = Path(path)
    card = path / CARD_NAME if path.is_dir() else path
    if not card.is_file():
        raise FileNotFoundError(f"{card}: no model card there (a saved model's {CARD_NAME})")
    return card


def _read_card(card_path: Path) -> dict[str, Any]:
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{card_path}: not a readable model card ({exc})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ValueError(f"{card_path}: not a model card (its format must be {CARD_FORMAT!r})")
    required = ("architecture", "input_shape", "num_classes", "classes")
    missing = [k for k in required if k not in card]
    if missing:
        raise ValueError(f"{card_path}: the model card lacks {', '.join(missing)}")
    problem = _card_problem(card)
    if problem:
        raise ValueError(f"{card_path}: the model card is damaged: {problem}")
    return card


def _positive_ints(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value)
    )


def _card_problem(card: dict[str, Any]) -> str | None:
    """What is inconsistent in a card (classes, shapes, statistics, columns), or ``None``."""
    k, classes, shape = card["num_classes"], card["classes"], card["input_shape"]
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        return f"num_classes must be an integer >= 2, got {k!r}"
    if not isinstance(classes, list) or len(classes) != k:
        count = len(classes) if isinstance(classes, list) else type(classes).__name__
        return f"it names {count} classes for a model of {k} classes"
    if len({str(c) for c in classes}) != k:
        return "its class names repeat"
    if not _positive_ints(shape):
        return f"input_shape must be a list of positive integers, got {shape!r}"
    stats = card.get("standardisation")
    if stats is not None:
        try:
            mean = [float(v) for v in stats["mean"]]
            std = [float(v) for v in stats["std"]]
        except (TypeError, KeyError, ValueError):
            return "standardisation must hold lists mean and std of numbers"
        if len(mean) != shape[0] or len(std) != shape[0]:
            return (
                f"standardisation must hold {shape[0]} means and standard deviations (one per "
                f"feature or channel), got {len(mean)} and {len(std)}"
            )
        if not all(math.isfinite(v) for v in mean + std) or min(std) < 0:
            return "standardisation holds non-finite values or a negative standard deviation"
    names = card.get("feature_names")
    width = math.prod(shape)
    if names is not None and (
        not isinstance(names, list) or len(names) != width or len(set(names)) != len(names)
    ):
        return f"feature_names must name the {math.prod(shape)} features once each"
    return None


def load_model(path: str | Path) -> SavedModel:
    """Load a saved model: its card (``model.json``, or the folder holding it) and weights.

    The weights are read with ``torch.load(..., weights_only=True)`` (no pickled code runs).

    Raises
    ------
    FileNotFoundError
        When the card or its weights file is missing.
    ValueError
        For a file that is not a model card or a damaged one (e.g. 3 class names for a 2-class
        model), damaged weights (truncated: their SHA-256 differs from the card's, or they are
        not a weights file at all), or weights that do not match the card's architecture (the
        message names the file).
    """
    card_path = _card_path(path)
    card = _read_card(card_path)
    weights = card_path.parent / str(card.get("weights", WEIGHTS_NAME))
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: the weights of model card {card_path} are missing")
    damage = weights_damage(card_path)
    if damage is not None:
        raise ValueError(f"{damage}: the weights file is damaged; rerun the command that wrote it")
    try:
        model = ModelSpec(**card["architecture"]).build(
            tuple(card["input_shape"]), int(card["num_classes"]), seed=0
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{card_path}: the architecture cannot be built ({exc})") from None
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, unpickling errors, ...
        raise ValueError(
            f"{weights}: the weights file is damaged ({_first_line(exc)}); rerun the command "
            "that wrote it"
        ) from None
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ValueError(f"{weights}: the weights file is damaged (not a state_dict of tensors)")
    try:
        model.load_state_dict(state)
    except Exception as exc:  # RuntimeError of load_state_dict: other names or shapes
        first = _first_line(exc)
        raise ValueError(
            f"{weights}: the weights do not match the architecture of {card_path} ({first})"
        ) from None
    return SavedModel(model=model.eval(), card=card, path=card_path)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_features(
    path: str | Path,
    *,
    label_column: str = "label",
    image_size: int | None = None,
    feature_names: list[str] | None = None,
) -> tuple[np.ndarray, Any]:
    """The inputs of a data file to predict on, and its labels when it has them (else ``None``).

    ``.npz``: the array ``x`` (and ``y``); ``.csv`` / ``.tsv`` / ``.parquet`` (pandas): the
    columns ``feature_names`` by name, in that order (ValueError naming those the table lacks;
    other columns but ``label_column`` are left out with a warning naming them), or without
    ``feature_names`` every column but ``label_column`` (optional here) and row ids
    (:func:`~selfdistill.datasets.user_files.id_columns`), as numeric features; labels as
    written; a folder: the images of :func:`selfdistill.datasets.user_files.read_image_folder`
    (every split, in the order train, val, test; uint8, resized to ``image_size``), labelled with
    their class folder's name. ValueError / FileNotFoundError name the file.
    """
    path = Path(path)
    if path.is_dir():
        data = read_image_folder(path, image_size=image_size)
        parts = [data.splits[k] for k in ("train", "val", "test") if k in data.splits]
        names = np.asarray(data.class_names)
        return np.concatenate([x for x, _ in parts]), names[np.concatenate([y for _, y in parts])]
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such data file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                if "x" not in archive:
                    raise ValueError(f"{path}: the npz file has no array 'x'")
                return archive["x"], (archive["y"] if "y" in archive else None)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: not a readable npz file ({exc})") from None
    if suffix not in (".csv", ".tsv", ".parquet"):
        raise ValueError(f"{path}: unknown data file extension; use .npz, .csv, .tsv or .parquet")
    table, labels = read_frame(path, label_column)
    if labels is not None and labels.isna().any():
        labels = labels.astype(object).where(labels.notna(), "")
    labels = None if labels is None else labels.to_numpy()
    drop = [label_column] if label_column in table.columns else []
    if feature_names is None:
        return feature_frame(path, table, drop).to_numpy(dtype=np.float64), labels
    missing = [c for c in feature_names if c not in table.columns]
    if missing:
        shown = ", ".join(map(repr, missing[:8])) + (" ..." if len(missing) > 8 else "")
        raise ValueError(
            f"{path}: lacks the model's feature column(s) {shown} ({len(missing)} of "
            f"{len(feature_names)}); the model was trained on columns "
            f"{', '.join(map(repr, feature_names[:8]))}{' ...' if len(feature_names) > 8 else ''}"
        )
    extra = [c for c in table.columns if c not in feature_names and c not in drop]
    if extra:
        warnings.warn(
            f"{path}: column(s) {', '.join(map(repr, extra[:8]))} are not features of the model "
            "and are left out",
            UserWarning,
            stacklevel=2,
        )
    features = feature_frame(path, table[list(feature_names)], [], ids=False)
    return features.to_numpy(dtype=np.float64), labels
