"""PyTorch side of selfdistill: data splits, models, training, chains, noisy labels (torch extra).

Needs the torch extra: ``pip install 'selfdistill[torch]'``. The rooms, by job:

``data_splits``
    :func:`load_dataset` / :class:`DataSplits` / :class:`DataSpec`: the seeded train /
    validation / test splits as tensors, built on the torch-free readers of
    :mod:`selfdistill.datasets`; :func:`random_crop_flip`.
``models``
    :func:`build_model` (MLP, CNNs, ResNet-18, or a factory of your own) and ``ModelSpec``.
``saved``
    :func:`load_model` / :class:`SavedModel`: a trained model's card and weights, to predict.
``training``
    the loop :func:`fit` (:class:`TrainConfig`, :class:`Callback`, :class:`History`,
    :class:`StepContext`), its checkpoint, data-parallel training, :func:`resolve_device`, the
    metrics callbacks.
``chains``
    chains of self-distilled generations, :func:`distill_step` and :func:`split_metrics`, teacher
    studies.
``clean``
    :func:`find_label_issues` / :class:`LabelIssues`: every label of a data set judged out of
    sample (``selfdistill clean``); :class:`SelfDistillationClassifier` for scikit-learn.
``noisy``
    learning from noisy labels: Dong et al.'s self-distillation, ``sd-margin``, the rivals, the
    method registry and the runner :func:`~selfdistill.nn.noisy.run_noisy`.

The names below are the ones most scripts need; the rest live in their rooms.
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test without torch
    raise ImportError(
        "selfdistill.nn needs PyTorch, which is not installed: pip install 'selfdistill[torch]'"
    ) from exc

from .chains.distill import distill_step, split_metrics
from .clean import LabelIssues, SelfDistillationClassifier, find_label_issues
from .data_splits import DATASETS, DataSpec, DataSplits, load_dataset, random_crop_flip
from .models import MODELS, build_model
from .saved import SavedModel, load_model
from .training.device import resolve_device
from .training.loop import (
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
    "LabelIssues",
    "LossFn",
    "SavedModel",
    "SelfDistillationClassifier",
    "StepContext",
    "TrainConfig",
    "accuracy",
    "build_model",
    "cross_entropy_loss",
    "distill_step",
    "find_label_issues",
    "fit",
    "load_dataset",
    "load_model",
    "predict_logits",
    "random_crop_flip",
    "resolve_device",
    "split_metrics",
]
