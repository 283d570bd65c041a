"""The rivals of self-distillation on noisy labels, as training-loop loss rules.

* :class:`BootstrapLoss` — Reed et al. (2015) bootstrapping, soft and hard;
* :class:`GCELoss` — generalised cross-entropy (Zhang & Sabuncu 2018, eq. 6);
* :class:`ELRLoss` — Early-Learning Regularisation (Liu et al. 2020, NeurIPS, eq. 7):
  ``CE(z, y) + λ · mean_i log(1 − ⟨p_i, t_i⟩)``; their defaults β = 0.7, λ = 3; built on
* :class:`TemporalEnsemble` — ``t_i ← β t_i + (1 − β) p_i`` per training sample, of the detached,
  clamped and renormalised softmax ``p_i`` (Liu et al. 2020, eq. 9; clamp as in their code), which
  the margin method (:mod:`selfdistill.nn.noisy.margin`) uses as its teacher too.

The baseline ``ce`` is the training loop's own :func:`~selfdistill.nn.cross_entropy_loss`.
Every rule has the signature ``(logits (B, C), labels (B,), ctx) -> scalar`` of
:func:`selfdistill.nn.fit`; the temporal-ensemble rules index their state with the batch's sample
indices, ``ctx.index`` of :class:`~selfdistill.nn.StepContext`, so they need the training-set size
at construction.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._util.validation import check_choice, check_int, check_real
from ..training.losses import soft_target_cross_entropy

__all__ = ["BootstrapLoss", "ELRLoss", "GCELoss", "TemporalEnsemble"]

#: the clamp of the softmax before it enters the ensemble (Liu et al.'s code)
EPS = 1e-4


def _check_batch(logits: Tensor, targets: Tensor) -> None:
    """Logits (B, C) and integer labels (B,) of one batch: shapes checked (free, no device sync);
    label values are checked once per fit by :func:`~selfdistill.nn.training.loop.fit`."""
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (B, C), got {tuple(logits.shape)}")
    if targets.dim() != 1 or len(targets) != len(logits):
        raise ValueError(
            f"targets must be {len(logits)} class labels (shape ({len(logits)},)) to match the "
            f"logits, got shape {tuple(targets.shape)}"
        )


class BootstrapLoss:
    """Reed et al. (2015) bootstrapping, soft or hard.

    soft: ``−Σ_k (β t_k + (1 − β) q_k) log q_k`` with ``q = softmax(z)``; as in Reed et al. the
    gradient also flows through the ``q_k`` of the target, which makes the soft variant
    cross-entropy plus a minimum-entropy regulariser, ``β·CE(t, q) + (1 − β)·H(q)``
    (``detach=True`` stops it there instead).
    hard: ``−Σ_k (β t_k + (1 − β) z_k) log q_k`` with ``z = onehot(argmax q)``.
    Defaults β = 0.95 (soft) and β = 0.8 (hard), Reed et al.'s values. Mean over the batch.
    """

    def __init__(self, kind: str = "soft", beta: float | None = None, *, detach: bool = False):
        self.kind = check_choice("kind", kind, ("soft", "hard"))
        if beta is None:
            beta = 0.95 if kind == "soft" else 0.8
        self.beta = check_real("beta", beta, low=0.0, high=1.0)
        self.detach = bool(detach)

    def __call__(self, logits: Tensor, targets: Tensor, ctx: Any = None) -> Tensor:
        _check_batch(logits, targets)
        log_q = torch.log_softmax(logits, dim=1)
        t = F.one_hot(targets.long(), logits.shape[1]).to(logits.dtype)
        if self.kind == "soft":
            q = log_q.exp()
            pred = q.detach() if self.detach else q
        else:
            pred = F.one_hot(logits.detach().argmax(dim=1), logits.shape[1]).to(logits.dtype)
        return soft_target_cross_entropy(log_q, self.beta * t + (1.0 - self.beta) * pred)


class GCELoss:
    """Generalised cross-entropy (Zhang & Sabuncu 2018, eq. 6): ``(1 − p_y^q) / q``, mean.

    ``q → 0`` gives cross-entropy, ``q = 1`` the mean absolute error (up to a factor); the default
    q = 0.7 is the paper's.
    """

    def __init__(self, q: float = 0.7) -> None:
        # equivalent mutant low_inclusive=None (falsy, as False)
        self.q = check_real("q", q, low=0.0, high=1.0, low_inclusive=False)  # pragma: no mutate

    def __call__(self, logits: Tensor, targets: Tensor, ctx: Any = None) -> Tensor:
        _check_batch(logits, targets)
        p_y = torch.softmax(logits, dim=1).gather(1, targets.long().reshape(-1, 1)).squeeze(1)
        return ((1.0 - p_y.clamp_min(torch.finfo(p_y.dtype).tiny) ** self.q) / self.q).mean()


def _index(ctx: Any) -> Tensor:
    index = getattr(ctx, "index", None)
    if index is None:
        raise ValueError("ctx.index: this loss rule needs the batch's sample indices")
    return index


class TemporalEnsemble:
    """Per-sample exponential moving average of predicted class probabilities.

    Parameters
    ----------
    n_train, num_classes
        Size of the state ``t`` (``(n_train, num_classes)``).
    beta
        Momentum β in [0, 1): ``t_i ← β t_i + (1 − β) p_i``.
    init
        ``"zeros"``: ``t`` starts at zero (Liu et al.'s code); ``"first"``: a sample's first
        prediction is its ``t`` (no bias towards zero early on).
    """

    def __init__(self, n_train: int, num_classes: int, beta: float = 0.7, init: str = "zeros"):
        n_train = check_int("n_train", n_train, low=1)
        num_classes = check_int("num_classes", num_classes, low=2)
        # pragma: no mutate start  # equivalent: high_inclusive=None (falsy, as False)
        self.beta = check_real("beta", beta, low=0.0, high=1.0, high_inclusive=False)
        # pragma: no mutate end
        if init not in ("zeros", "first"):
            raise ValueError(f"init must be 'zeros' or 'first', got {init!r}")
        self.init = init
        self.t_ = torch.zeros(n_train, num_classes)
        self.seen_ = torch.zeros(n_train, dtype=torch.bool)

    def update(self, index: Tensor, probs: Tensor) -> Tensor:
        """Fold the batch's probabilities ``(B, C)`` into rows ``index``; return those rows."""
        # `.to(None)` mutants here and in the return are equivalent without an accelerator: the
        # state and the batch are both on the CPU (not testable on a CPU-only machine)
        index = index.to(self.t_.device)  # pragma: no mutate
        p = probs.detach().to(self.t_).clamp(EPS, 1.0 - EPS)
        p = p / p.sum(dim=1, keepdim=True)
        new = self.beta * self.t_[index] + (1.0 - self.beta) * p
        if self.init == "first":
            first = ~self.seen_[index]
            new[first] = p[first]
        self.t_[index] = new
        self.seen_[index] = True
        return new.to(probs.device)  # pragma: no mutate  # equivalent on the CPU: see above


class ELRLoss:
    """Early-Learning Regularisation (Liu et al. 2020, eq. 7), a training-loop ``LossFn``.

    ``CE(z, y) + λ · mean_i log(1 − ⟨p_i, t_i⟩)`` with ``p = softmax(z)`` clamped to
    ``[1e-4, 1 − 1e-4]`` and ``t`` the :class:`TemporalEnsemble` (β, zeros start).
    """

    def __init__(self, n_train: int, num_classes: int, beta: float = 0.7, lam: float = 3.0):
        # pragma: no mutate start  # equivalent: init dropped (its default is Liu et al.'s "zeros")
        self.ensemble = TemporalEnsemble(n_train, num_classes, beta, init="zeros")
        # pragma: no mutate end
        self.lam = check_real("lam", lam, low=0.0)

    def __call__(self, logits: Tensor, targets: Tensor, ctx: Any = None) -> Tensor:
        p = torch.softmax(logits, dim=1).clamp(EPS, 1.0 - EPS)
        t = self.ensemble.update(_index(ctx), p)
        regulariser = torch.log(1.0 - (t * p).sum(dim=1)).mean()
        return F.cross_entropy(logits, targets.long()) + self.lam * regulariser
