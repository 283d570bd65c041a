"""Saved models: final weights with a small JSON model card, loaded back to predict.

A saved model is a folder holding

* ``model.json`` — the card: the architecture (:class:`~selfdistill.nn.models.ModelSpec`'s
  ``name``, ``width``, ``depth``), the input shape, the classes and their names, the
  standardisation statistics of the training split, the data source, the method and its
  parameters, the seed and the versions that trained it (:func:`model_card`);
* ``model.pt`` — the ``state_dict``, read back with ``torch.load(..., weights_only=True)``.

:func:`load_model` returns a :class:`SavedModel` that applies the card's standardisation to raw
inputs (uint8 inputs are scaled to [0, 1] first, as the loaders do) and predicts class
probabilities. :func:`read_features` reads the inputs of a data file to predict on.
"""

from __future__ import annotations

import io
import json
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import __version__
from .._util.io import atomic_write_bytes, to_jsonable, write_json
from ..datasets.user_files import pandas_module, read_image_folder
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


def save_model(folder: str | Path, model: nn.Module, card: Mapping[str, Any]) -> Path:
    """Write ``model``'s weights and then its card into ``folder`` (each atomically); return the
    card's path. The card is written last, so a card on disk always has its weights."""
    folder = Path(folder)
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
    atomic_write_bytes(folder / WEIGHTS_NAME, buffer.getvalue())
    return write_json(folder / CARD_NAME, card)


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
            array = (array - mean) / std
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

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
    return card


def load_model(path: str | Path) -> SavedModel:
    """Load a saved model: its card (``model.json``, or the folder holding it) and weights.

    The weights are read with ``torch.load(..., weights_only=True)`` (no pickled code runs).

    Raises
    ------
    FileNotFoundError
        When the card or its weights file is missing.
    ValueError
        For a file that is not a model card, or weights that do not match the card's
        architecture (the message names the file).
    """
    card_path = _card_path(path)
    card = _read_card(card_path)
    weights = card_path.parent / str(card.get("weights", WEIGHTS_NAME))
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: the weights of model card {card_path} are missing")
    try:
        model = ModelSpec(**card["architecture"]).build(
            tuple(card["input_shape"]), int(card["num_classes"]), seed=0
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{card_path}: the architecture cannot be built ({exc})") from None
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:  # unpickling errors, RuntimeError of load_state_dict, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{weights}: the weights do not match the architecture of {card_path} ({first})"
        ) from None
    return SavedModel(model=model.eval(), card=card, path=card_path)


def read_features(
    path: str | Path, *, label_column: str = "label", image_size: int | None = None
) -> tuple[np.ndarray, Any]:
    """The inputs of a data file to predict on, and its labels when it has them (else ``None``).

    ``.npz``: the array ``x`` (and ``y``); ``.csv`` / ``.tsv`` / ``.parquet`` (pandas): every
    column but ``label_column`` (which is optional here) as numeric features; a folder: the
    images of :func:`selfdistill.datasets.user_files.read_image_folder` (every split, in the order
    train, val, test; uint8, resized to ``image_size``), labelled with their class folder's name.
    ValueError / FileNotFoundError name the file.
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
    pd = pandas_module()
    try:
        if suffix == ".parquet":
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except Exception as exc:  # pandas raises many parser error types
        raise ValueError(f"{path}: not a readable table ({exc})") from None
    labels = table.pop(label_column).to_numpy() if label_column in table.columns else None
    text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if text:
        names = ", ".join(map(str, text))
        raise ValueError(f"{path}: feature columns must be numeric, not {names}")
    return table.to_numpy(dtype=np.float64), labels
