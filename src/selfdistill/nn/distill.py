"""Distillation targets and losses shared by the chains and the teacher studies.

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
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_choice, check_real
from .train import predict_logits

__all__ = [
    "LOSSES",
    "freeze",
    "make_loss",
    "mix_targets",
    "mse_softmax_loss",
    "soft_cross_entropy",
    "teacher_probabilities",
]

LOSSES = ("mse", "ce")


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
