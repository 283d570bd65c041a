"""The training loop shared by every PyTorch feature, and what it needs around it (torch extra).

``loop``
    :func:`fit` with :class:`TrainConfig`, :class:`Callback`, :class:`History`,
    :class:`StepContext`; :func:`predict_logits`, :func:`accuracy`, :func:`cross_entropy_loss`.
``checkpoint``
    the per-epoch checkpoint ``fit`` writes atomically and resumes from, bit-identically.
``distributed``, ``torchrun``
    data-parallel training under ``torchrun`` (DistributedDataParallel), and a command-line job
    to run with it (``torchrun -m selfdistill.nn.training.torchrun``).
``device``
    :func:`resolve_device`: ``auto`` resolved, a device the machine lacks refused.
``metrics_log``
    the per-epoch ``metrics.csv`` and TensorBoard callbacks.
"""

from __future__ import annotations

from .device import resolve_device
from .loop import (
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
    "Callback",
    "History",
    "LossFn",
    "StepContext",
    "TrainConfig",
    "accuracy",
    "cross_entropy_loss",
    "fit",
    "predict_logits",
    "resolve_device",
]
