"""The library's default self-distillation on noisy labels, ``sd-margin``, and its switch.

* :class:`MarginSelfDistillationLoss` — the library's default self-distillation (``sd-margin``):
  Dong et al.'s target ``α y + (1 − α) h`` with ``h = t_i`` (the temporal ensemble instead of
  hardmax of the current output) and a per-sample weight from the teacher's margin against the
  given label, ``α_i = 1 − clip(λ (max_c t_ic − t_{i,y_i}), 0, 1)``, smoothed towards uniform by
  ε (Szegedy et al. 2016's label smoothing); smoothed cross-entropy on the given labels until the
  accuracy on the NOISY validation split first stops improving (:class:`NoisyValSwitch`), the
  target from the next epoch on. docs/noisy.md has the variants measured on the way to it.

The teacher is ELR's :class:`~selfdistill.nn.noisy.rivals.TemporalEnsemble`; the rule indexes
its state with the batch's sample indices, ``ctx.index`` of :class:`~selfdistill.nn.StepContext`,
so it needs the training-set size at construction.
"""

from __future__ import annotations

import math
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ..._util.validation import check_int, check_real
from ..training.loop import Callback
from ..training.losses import soft_target_cross_entropy
from .rivals import TemporalEnsemble, _index

__all__ = ["MarginSelfDistillationLoss", "NoisyValSwitch"]


class NoisyValSwitch(Callback):
    """Switch at the end of early learning: the first epoch whose validation accuracy (on the
    NOISY split, ``metrics[metric]``) has not beaten the best so far for ``patience`` epochs.

    ``switch_epoch_`` is the first epoch after the switch (``None`` until then); never switched
    back.
    """

    def __init__(self, patience: int = 1, metric: str = "noisyval_acc") -> None:
        self.patience = check_int("patience", patience, low=1)
        self.metric = metric
        self.best_ = -math.inf
        self.best_epoch_ = -1
        self.switch_epoch_: int | None = None

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> None:
        if self.metric not in metrics:
            raise ValueError(
                f"metric: {self.metric!r} is not among the epoch's metrics "
                f"({', '.join(sorted(metrics))}); evaluate a noisy validation split"
            )
        if metrics[self.metric] > self.best_:
            self.best_, self.best_epoch_ = metrics[self.metric], epoch
        if self.switch_epoch_ is None and epoch - self.best_epoch_ >= self.patience:
            self.switch_epoch_ = epoch + 1

    def active(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` is after the switch."""
        return self.switch_epoch_ is not None and epoch >= self.switch_epoch_


class MarginSelfDistillationLoss:
    """Self-distillation from a temporal-ensemble teacher with a per-sample margin weight.

    Target (detached) ``(1 − ε) (α_i e_{y_i} + (1 − α_i) t_i) + ε / C`` with ``t`` the
    :class:`TemporalEnsemble` (β, first-prediction start) and ``α_i = 1 − clip(λ · (max_c t_ic −
    t_{i,y_i}), 0, 1)``: a sample whose teacher agrees with its label keeps the label, one whose
    teacher prefers another class by a margin of 1/λ or more follows the teacher; ε mixes in the
    uniform distribution over the C classes (label smoothing, Szegedy et al. 2016, section 7). Loss:
    ``−mean_i Σ_c target_ic log softmax(z_i)_c``. Before the switch (``warmup`` epochs, or
    :class:`NoisyValSwitch` when ``warmup`` is ``None``) the target is the smoothed given label
    ``(1 − ε) e_{y_i} + ε / C``; the teacher is updated all along.

    Parameters
    ----------
    n_train, num_classes
        Size of the teacher's state.
    lam
        λ of the margin (default 3).
    beta
        Momentum of the teacher (default 0.7, ELR's).
    smoothing
        ε in [0, 1) (default 0.1); 0 gives the unsmoothed target.
    warmup
        Epochs of cross-entropy before the switch; ``None`` (default): switch on the noisy
        validation accuracy, with ``patience``.
    patience
        Epochs without improvement of the noisy validation accuracy that end the warm-up.

    Attributes
    ----------
    callbacks
        ``[NoisyValSwitch]`` when the switch is automatic (pass them to ``fit``), else ``[]``.
    """

    def __init__(
        self,
        n_train: int,
        num_classes: int,
        *,
        lam: float = 3.0,
        beta: float = 0.7,
        smoothing: float = 0.1,
        warmup: int | None = None,
        patience: int = 1,
    ) -> None:
        self.ensemble = TemporalEnsemble(n_train, num_classes, beta, init="first")
        self.lam = check_real("lam", lam, low=0.0)
        # pragma: no mutate start  # equivalent: high_inclusive=None (falsy, as False)
        self.smoothing = check_real("smoothing", smoothing, low=0.0, high=1.0, high_inclusive=False)
        # pragma: no mutate end
        self.warmup = None if warmup is None else check_int("warmup", warmup, low=0)
        self.switch = NoisyValSwitch(patience) if warmup is None else None
        self.callbacks = [] if self.switch is None else [self.switch]

    def distilling(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` trains on the self-distillation target."""
        if self.switch is not None:
            return self.switch.active(epoch)
        return epoch >= self.warmup

    def margin(self, t: Tensor, labels: Tensor) -> Tensor:
        """The teacher's margin against the given label, ``max_c t_ic − t_{i,y_i}`` ``(B,)``."""
        return t.max(dim=1).values - t.gather(1, labels.view(-1, 1)).squeeze(1)

    def target(self, t: Tensor, labels: Tensor) -> Tensor:
        """The unsmoothed target ``α_i e_{y_i} + (1 − α_i) t_i`` ``(B, C)``, ``α_i = 1 −
        clip(λ · margin_i, 0, 1)``."""
        # clip(λ · margin, 0, 1): λ >= 0 and the margin >= 0, so only the upper end is needed
        alpha = (1.0 - (self.lam * self.margin(t, labels)).clamp(max=1.0)).unsqueeze(1)
        return ((1.0 - alpha) * t).scatter_add(1, labels.view(-1, 1), alpha)

    def smoothed_loss(self, log_q: Tensor, labels: Tensor, target: Tensor | None = None) -> Tensor:
        """``−mean_i Σ_c ((1 − ε) target_ic + ε / C) log q_ic``; ``target`` ``None``: the one-hot
        given labels (then it is ``F.cross_entropy(..., label_smoothing=ε)``)."""
        eps = self.smoothing
        # the uniform part of the target: −(ε / C) Σ_c log q_c, averaged over the batch
        uniform = -log_q.mean() * eps  # every row has C entries: the mean of the row means
        if target is None:
            return (1.0 - eps) * F.nll_loss(log_q, labels) + uniform
        return (1.0 - eps) * soft_target_cross_entropy(log_q, target) + uniform

    def __call__(self, logits: Tensor, targets: Tensor, ctx: Any = None) -> Tensor:
        log_q = F.log_softmax(logits, dim=1)
        t = self.ensemble.update(_index(ctx), log_q.detach().exp())
        labels = targets.long()
        if not self.distilling(getattr(ctx, "epoch", 0)):
            return self.smoothed_loss(log_q, labels)
        target = self.target(t, labels)
        # equivalent mutant: labels=None, which smoothed_loss does not read when given a target
        return self.smoothed_loss(log_q, labels, target)  # pragma: no mutate
