"""The distillation step, its targets, losses and metrics, shared by the chains and the teacher
studies.

* :func:`distill_step` — one step: train a student on the labels, or on ``α·y + (1 − α)·teacher(x)``
  from a frozen teacher (what every generation of a chain and every student of a teacher study
  does);
* :func:`split_metrics` — accuracies against the original labels on the train / validation / test
  splits, and the softmax output's squared error and cross-entropy on validation and test.

* :func:`teacher_probabilities` — the frozen teacher's softmax outputs on the training inputs,
  computed once per generation (the teacher never changes, so per-batch calls would only repeat
  this work).
* :func:`mix_targets` — ``α·y + (1 − α)·teacher(x)`` (Borup & Andersen eq. 1 with the weighted
  target of their footnote 8; Mobahi et al. section 5 is α = 0).
* :func:`make_loss` — ``mse``: squared error between the softmax output and the target, the ℓ2
  setting of Mobahi et al. section 5 and Borup & Andersen eq. (18); ``ce``: cross-entropy with soft
  targets, optionally at a temperature T (Hinton et al. 2015; scaled by T² so that gradients keep
  their size).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..._util.validation import check_choice, check_real
from ...catalog import DISTILL_LOSSES as LOSSES
from ..data_splits import check_splits
from ..training.loop import Callback, History, TrainConfig, fit, predict_logits

if TYPE_CHECKING:
    from ..data_splits import DataSplits

__all__ = [
    "LOSSES",
    "distill_step",
    "freeze",
    "make_loss",
    "mix_targets",
    "mse_softmax_loss",
    "soft_cross_entropy",
    "split_metrics",
    "teacher_probabilities",
]


def _as_soft(targets: Tensor, num_classes: int) -> Tensor:
    if targets.dtype in (torch.int64, torch.int32):
        return F.one_hot(targets.long(), num_classes).to(torch.float32)
    return targets


def mse_softmax_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean over the batch of ``‖softmax(logits) − target‖²`` (Mobahi sec. 5, Borup eq. 18).

    ``targets`` are soft targets (B, C) or integer labels (B,), which count as one-hot rows.
    """
    probs = torch.softmax(logits, dim=1)
    soft = _as_soft(targets, logits.shape[1])
    return ((probs - soft) ** 2).sum(dim=1).mean()


def soft_cross_entropy(logits: Tensor, targets: Tensor, temperature: float = 1.0) -> Tensor:
    """``−T² · mean_b Σ_c t_bc · log softmax(logits_b / T)_c`` (soft-target cross-entropy).

    At T = 1 with one-hot targets this is the ordinary cross-entropy.
    """
    soft = _as_soft(targets, logits.shape[1])
    log_probs = torch.log_softmax(logits / temperature, dim=1)
    return -(temperature**2) * (soft * log_probs).sum(dim=1).mean()


def make_loss(name: str, temperature: float = 1.0) -> Callable[[Tensor, Tensor, object], Tensor]:
    """A loss with the training loop's signature ``(logits, targets, ctx) -> scalar``.

    Parameters
    ----------
    name
        ``"mse"`` (:func:`mse_softmax_loss`) or ``"ce"`` (:func:`soft_cross_entropy`).
    temperature
        Softmax temperature T > 0 of ``ce``; ``mse`` is defined at T = 1 only.
    """
    check_choice("loss", name, LOSSES)
    temperature = check_real("temperature", temperature, low=0.0, low_inclusive=False)
    if name == "mse":
        if temperature != 1.0:
            raise ValueError(f"temperature must be 1 with loss 'mse', got {temperature!r}")
        return lambda logits, targets, ctx: mse_softmax_loss(logits, targets)
    return lambda logits, targets, ctx: soft_cross_entropy(logits, targets, temperature)


def freeze(model: nn.Module) -> nn.Module:
    """A frozen teacher: a deep copy of ``model`` in eval mode with gradients switched off.

    The copy shares no tensors with ``model``, so training a student (even one built from the same
    object) can never change the teacher.
    """
    teacher = copy.deepcopy(model)
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher


@torch.no_grad()
def teacher_probabilities(
    teacher: nn.Module,
    x: Tensor,
    *,
    temperature: float = 1.0,
    batch_size: int = 1024,
    device: str = "cpu",
) -> Tensor:
    """``softmax(teacher(x) / T)`` on CPU as float32 (B, C), with the teacher in eval mode."""
    temperature = check_real("temperature", temperature, low=0.0, low_inclusive=False)
    was_training = teacher.training
    teacher.eval()
    try:
        logits = predict_logits(teacher, x, batch_size=batch_size, device=device)
    finally:
        teacher.train(was_training)
    return torch.softmax(logits.detach().cpu().float() / temperature, dim=1)


def mix_targets(alpha: float, labels: Tensor, teacher_probs: Tensor) -> Tensor:
    """``α·onehot(labels) + (1 − α)·teacher_probs`` (Borup & Andersen footnote 8).

    ``alpha`` may lie outside [0, 1] (the unconstrained α̂ of Borup eq. 16); then the rows still
    sum to one but can have negative entries.
    """
    alpha = check_real("alpha", alpha)
    if teacher_probs.ndim != 2 or labels.shape[0] != teacher_probs.shape[0]:
        raise ValueError(
            f"labels {tuple(labels.shape)} and teacher_probs {tuple(teacher_probs.shape)} "
            "must have the same number of rows"
        )
    y = F.one_hot(labels.long(), teacher_probs.shape[1]).to(teacher_probs.dtype)
    return alpha * y + (1.0 - alpha) * teacher_probs


def _check_module(name: str, model: object) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}")


def distill_step(
    student: nn.Module,
    teacher: nn.Module | None,
    data: DataSplits,
    config: TrainConfig,
    *,
    alpha: float = 0.0,
    loss: str = "ce",
    temperature: float = 1.0,
    callbacks: Sequence[Callback] = (),
) -> History:
    """Train ``student`` in place on the labels (``teacher is None``) or on distilled targets.

    With a teacher the targets are ``α·onehot(y) + (1 − α)·softmax(teacher(x) / T)`` (Borup &
    Andersen eq. 1 with footnote 8; Mobahi et al. sec. 5 is α = 0; Hinton et al. 2015 for T):
    the teacher is frozen first (:func:`freeze`), so the caller's model is never trained or
    switched out of its mode, and its probabilities on ``data.x_train`` are computed once. The
    loss is :func:`make_loss` ``(loss, T)``; the labels-only step trains at T = 1.

    Parameters
    ----------
    student
        The model to train (built by the caller, which owns its initialisation seed).
    teacher
        The previous generation or teacher snapshot, or None.
    data
        The splits; only ``x_train`` and ``y_train`` are used.
    config
        Training settings of :func:`~selfdistill.nn.training.loop.fit` (its device also computes the
        teacher's probabilities).
    alpha, loss, temperature
        Ground-truth weight α (any real with ``"mse"``, in [0, 1] with ``"ce"``), ``"mse"`` or
        ``"ce"``, softmax temperature T > 0.
    callbacks
        Passed to :func:`~selfdistill.nn.training.loop.fit`.

    Returns
    -------
    History
        The training loop's per-epoch metrics; ``student`` is left in eval mode.
    """
    check_choice("loss", loss, LOSSES)
    check_splits(data)
    _check_module("student", student)
    if teacher is not None:
        _check_module("teacher", teacher)
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    if teacher is None:
        targets, temperature = data.y_train, 1.0
    else:
        if loss == "ce":  # else a negative weight: no distribution, a loss unbounded below
            check_real("alpha (with loss 'ce')", alpha, low=0.0, high=1.0)
        frozen = freeze(teacher)
        if any(
            p.data_ptr() == q.data_ptr() for p in frozen.parameters() for q in student.parameters()
        ):  # pragma: no cover - freeze() copies, so this guards against future changes only
            raise RuntimeError("the teacher must be a distinct model from the student")
        probs = teacher_probabilities(
            frozen, data.x_train, temperature=temperature, device=config.device
        )
        targets = mix_targets(alpha, data.y_train, probs)
    history = fit(
        student,
        data.x_train,
        targets,
        config,
        loss_fn=make_loss(loss, temperature),
        callbacks=callbacks,
    )
    student.eval()
    return history


def split_metrics(
    model: nn.Module, data: DataSplits, device: str, *, losses: bool = True
) -> dict[str, float]:
    """Metrics of ``model`` (eval mode) against the ORIGINAL labels of every split.

    ``{train,val,test}_acc`` (argmax accuracy) and, with ``losses``, for validation and test the
    squared error of the softmax output against the one-hot label, ``‖softmax(f(x)) − e_y‖²``
    (``*_mse``, the ℓ2 loss of Mobahi sec. 5 / Borup eq. 18), and its cross-entropy
    ``−log softmax(f(x))_y`` (``*_ce``, probabilities clamped at 1e-12), each a mean over samples.
    """
    out: dict[str, float] = {}
    for name, x, y in (
        ("train", data.x_train, data.y_train),
        ("val", data.x_val, data.y_val),
        ("test", data.x_test, data.y_test),
    ):
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        logits = predict_logits(model, x, device=device)
        labels = y.long().cpu()
        out[f"{name}_acc"] = float((logits.argmax(dim=1) == labels).double().mean())
        if name == "train" or not losses:
            continue
        probs = torch.softmax(logits, dim=1)
        onehot = F.one_hot(labels, data.num_classes).float()
        out[f"{name}_mse"] = float(((probs - onehot) ** 2).sum(1).mean())
        out[f"{name}_ce"] = float(-(probs.gather(1, labels[:, None]).clamp_min(1e-12)).log().mean())
    return out
