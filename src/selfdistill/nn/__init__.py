"""PyTorch side of selfdistill: data sets, models, the training loop and data-parallel training.

Needs the torch extra: ``pip install 'selfdistill[torch]'``.

Main names: :func:`load_dataset` / :class:`DataSplits` (:mod:`.data`), :func:`build_model`
(:mod:`.models`), :func:`fit`, :class:`TrainConfig`, :class:`Callback`, :class:`History`,
:func:`predict_logits`, :func:`accuracy` (:mod:`.train`; its checkpoint file is :mod:`.checkpoint`),
:func:`distill_step` and :func:`split_metrics` (:mod:`.distill`: one distillation step and its
metrics, shared by :mod:`.chain` and :mod:`.teacher`), :func:`load_model` / :class:`SavedModel`
(:mod:`.saved`: a trained model's card and weights, to predict), and :mod:`.distributed` for
``torchrun``.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test without torch
    raise ImportError(
        "selfdistill.nn needs PyTorch, which is not installed: pip install 'selfdistill[torch]'"
    ) from exc

from .data import DATASETS, DataSpec, DataSplits, load_dataset, random_crop_flip
from .device import resolve_device
from .distill import distill_step, split_metrics
from .models import MODELS, build_model
from .saved import SavedModel, load_model
from .train import (
    Callback,
    History,
    LossFn,
    StepContext,
    TrainConfig,
    accuracy,
    cross_entropy_loss,
    fit,
    predict_logits,
)

__all__ = [
    "DATASETS",
    "MODELS",
    "Callback",
    "DataSpec",
    "DataSplits",
    "History",
    "LossFn",
    "SavedModel",
    "StepContext",
    "TrainConfig",
    "accuracy",
    "build_model",
    "cross_entropy_loss",
    "distill_step",
    "fit",
    "load_dataset",
    "load_model",
    "predict_logits",
    "random_crop_flip",
    "resolve_device",
    "split_metrics",
]
