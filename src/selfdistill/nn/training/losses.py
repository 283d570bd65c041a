"""The losses against soft targets, written once for the chains and the noisy-label rules.

* :func:`soft_target_cross_entropy` — ``−mean_b Σ_c t_bc log q_bc`` from log-probabilities
  ``log q`` and soft targets ``t`` (rows of a distribution, or any weights): the one
  implementation behind :func:`soft_cross_entropy`, Dong et al.'s target rule
  (:class:`~selfdistill.nn.noisy.dong.SelfDistillationLoss`), ``sd-margin``'s smoothed target and
  Reed et al.'s bootstrapping;
* :func:`soft_cross_entropy` — the same from logits, at a temperature T and scaled by T² so that
  gradients keep their size (Hinton et al. 2015);
* :func:`mse_softmax_loss` — ``mean_b ‖softmax(z_b) − t_b‖²``, the squared error of the softmax
  output: the ℓ2 setting of Mobahi et al. section 5 and Borup & Andersen eq. (18), and Dong et
  al.'s squared loss for (B, C) logits. Its name is ``"mse"`` everywhere (``chain --loss mse``,
  ``noisy --sd-loss mse``); ``"squared"``, its old name in the noisy-label rules, is an alias
  (:data:`selfdistill.catalog.LOSS_ALIASES`).

Integer labels ``(B,)`` count as one-hot rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["as_soft", "mse_softmax_loss", "soft_cross_entropy", "soft_target_cross_entropy"]


def as_soft(targets: Tensor, num_classes: int) -> Tensor:
    """Integer labels ``(B,)`` as one-hot float32 rows ``(B, num_classes)``; soft targets as
    they are."""
    if targets.dtype in (torch.int64, torch.int32):
        return F.one_hot(targets.long(), num_classes).to(torch.float32)
    return targets


def soft_target_cross_entropy(log_q: Tensor, targets: Tensor) -> Tensor:
    """``−mean_b Σ_c t_bc log q_bc`` of log-probabilities ``log_q`` ``(B, C)`` and soft targets
    ``t`` ``(B, C)``; the gradient flows through both (detach the targets to stop it there)."""
    return -(targets * log_q).sum(dim=1).mean()


def soft_cross_entropy(logits: Tensor, targets: Tensor, temperature: float = 1.0) -> Tensor:
    """``−T² · mean_b Σ_c t_bc · log softmax(logits_b / T)_c`` (soft-target cross-entropy).

    ``targets`` are soft targets ``(B, C)`` or integer labels ``(B,)``; at T = 1 with one-hot
    targets this is the ordinary cross-entropy.
    """
    soft = as_soft(targets, logits.shape[1])
    log_probs = torch.log_softmax(logits / temperature, dim=1)
    return temperature**2 * soft_target_cross_entropy(log_probs, soft)


def mse_softmax_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean over the batch of ``‖softmax(logits) − target‖²`` (Mobahi sec. 5, Borup eq. 18).

    ``targets`` are soft targets ``(B, C)`` or integer labels ``(B,)``, which count as one-hot rows.
    """
    probs = torch.softmax(logits, dim=1)
    soft = as_soft(targets, logits.shape[1])
    return ((probs - soft) ** 2).sum(dim=1).mean()
