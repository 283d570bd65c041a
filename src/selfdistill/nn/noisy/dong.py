"""Dong et al.'s one-generation self-distillation on noisy labels: the target rule and its loss.

The target rule of Dong et al. (2019), Algorithm 1, at step t:

.. math:: \\tilde y_{t,i} = \\alpha_t\\, y_i + (1 - \\alpha_t)\\, h(f(x_i; \\omega_t)),

detached from the computational graph, where ``h`` is a *label function* of the network's current
output and ``α_t`` a weight on the observed label. Section 3.4 sets ``1 − α_t = λ · accuracy`` with
the accuracy of the current batch against the observed labels; with ``λ > 1`` (the paper's 1.5 at
high noise) the weight is clipped to ``[0, 1]`` (see ``docs/misprints.md``).

Pieces, each usable alone from any training loop:

* label functions :func:`hardmax`, :func:`softmax_labels`, :func:`ramp` (Theorem 1's clipped label
  function for ±1 labels) and :func:`make_label_function`;
* α schedules (:func:`make_alpha_schedule`): ``accuracy``, ``constant``, ``linear``, ``cosine``,
  ``exponential``, or any callable ``(epoch, step, batch_accuracy) -> alpha``;
* :class:`SelfDistillationTarget` — the rule itself, ``targets = rule(outputs, labels, epoch=,
  step=)``; :class:`SelfDistillationLoss` wraps it as a training-loop ``LossFn`` with cross-entropy
  against the soft target or the squared error of Theorem 1.

The rivals it is compared with are in :mod:`selfdistill.nn.noisy.rivals`, the library's default
``sd-margin`` in :mod:`selfdistill.nn.noisy.margin`. Every ``LossFn`` has the signature
``(logits (B, C), labels (B,), ctx) -> scalar`` of :func:`selfdistill.nn.fit`; ``ctx`` needs
``epoch`` and ``step`` attributes only where the α schedule uses them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..._util.validation import check_choice, check_int, check_real
from ...catalog import ALPHA_SCHEDULES, LABEL_FUNCTIONS, SD_LOSSES, canonical_loss
from ..training.losses import mse_softmax_loss, soft_target_cross_entropy

__all__ = [
    "ALPHA_SCHEDULES",
    "LABEL_FUNCTIONS",
    "SD_LOSSES",
    "AlphaSchedule",
    "SelfDistillationLoss",
    "SelfDistillationTarget",
    "batch_accuracy",
    "hardmax",
    "make_alpha_schedule",
    "make_label_function",
    "ramp",
    "softmax_labels",
]

#: ``alpha = schedule(epoch, step, batch_accuracy)``
AlphaSchedule = Callable[[int, int, float], float]


def _is_binary(outputs: Tensor) -> bool:
    """Scalar outputs per sample (shape (B,) or (B, 1)): the ±1 setting of Theorem 1."""
    return outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[1] == 1)


# --------------------------------------------------------------------------- label functions


def hardmax(outputs: Tensor) -> Tensor:
    """One-hot rows of ``argmax(outputs)``; for scalar outputs the sign in {−1, +1} (0 -> +1)."""
    if _is_binary(outputs):
        return torch.where(outputs >= 0, 1.0, -1.0).to(outputs.dtype)
    return F.one_hot(outputs.argmax(dim=1), outputs.shape[1]).to(outputs.dtype)


def softmax_labels(outputs: Tensor, temperature: float = 1.0) -> Tensor:
    """``softmax(outputs / T)`` row-wise (a soft label function; low T approaches hardmax)."""
    if _is_binary(outputs):
        raise ValueError("the softmax label function needs (B, C) outputs with C >= 2")
    return torch.softmax(outputs / temperature, dim=1)


def ramp(outputs: Tensor, rho: float = 0.0) -> Tensor:
    r"""Theorem 1's label function for ±1 labels: ``x / (1 − 2ρ)`` on ``|x| ≤ 1 − 2ρ``, else sgn x.

    Equivalently (Dong et al. Theorem 1 and Lemma 6)

    $$
    h(x) = \operatorname{clip}\!\left(\frac{x}{1 - 2\rho},\, -1,\, 1\right),
    $$

    where ρ < 1/2 is the largest per-cluster fraction of wrong labels (ρ = 0: ``clip(x, −1, 1)``).
    """
    rho = _check_rho(rho)
    return torch.clamp(outputs / (1.0 - 2.0 * rho), -1.0, 1.0)


def _check_rho(rho: float) -> float:
    """``rho`` in ``[0, 1/2)``: the ramp's largest per-cluster fraction of wrong labels."""
    # equivalent mutant: high_inclusive=None is falsy like False (same open bound, same message)
    return check_real(
        "rho",
        rho,
        low=0.0,
        high=0.5,
        high_inclusive=False,  # pragma: no mutate
    )


def make_label_function(
    name: str | Callable[[Tensor], Tensor], *, temperature: float = 1.0, rho: float = 0.0
) -> Callable[[Tensor], Tensor]:
    """The label function ``h`` of Algorithm 1: ``hardmax``, ``softmax`` (temperature) or ``ramp``.

    A callable is returned unchanged.
    """
    if callable(name):
        return name
    check_choice("label_function", name, LABEL_FUNCTIONS)
    if name == "hardmax":
        return hardmax
    if name == "softmax":
        # equivalent mutant: low_inclusive=None is falsy like False (same open bound, same message)
        temperature = check_real(
            "temperature",
            temperature,
            low=0.0,
            low_inclusive=False,  # pragma: no mutate
        )
        return lambda outputs: softmax_labels(outputs, temperature)
    rho = _check_rho(rho)
    return lambda outputs: ramp(outputs, rho)


# --------------------------------------------------------------------------- alpha schedules


def batch_accuracy(outputs: Tensor, labels: Tensor) -> float:
    """Fraction of the batch whose prediction equals the observed label.

    Multi-class: ``argmax(outputs) == labels``, where (B, C) soft or one-hot labels count as their
    row argmax; scalar outputs: ``sign(outputs) == labels`` (±1).
    """
    if labels.numel() == 0:
        raise ValueError("batch_accuracy needs a non-empty batch")
    if _is_binary(outputs):
        correct = hardmax(outputs.reshape(-1)) == labels.reshape(-1)  # == promotes the dtypes
    else:
        if labels.ndim == 2:  # soft / one-hot rows (the target rule accepts them)
            labels = labels.argmax(dim=1)
        correct = outputs.argmax(dim=1) == labels
    return int(correct.sum()) / labels.shape[0]


def _progress(epoch: int, step: int, total: int, unit: str) -> float:
    t = step if unit == "step" else epoch
    return min(max(t / total, 0.0), 1.0)


def make_alpha_schedule(
    name: str | AlphaSchedule = "accuracy",
    *,
    lam: float = 1.0,
    alpha: float = 0.5,
    start: float = 1.0,
    end: float = 0.0,
    total: int | None = None,
    gamma: float = 0.999,
    unit: str = "step",
) -> AlphaSchedule:
    """A schedule ``alpha_t = schedule(epoch, step, batch_accuracy)`` for the label weight.

    Parameters
    ----------
    name
        ``"accuracy"``: ``α_t = 1 − clip(λ · batch_accuracy, 0, 1)`` (Dong et al. sec. 3.4);
        ``"constant"``: ``α_t = alpha``;
        ``"linear"`` / ``"cosine"``: from ``start`` to ``end`` over ``total`` steps (or epochs),
        then ``end``; ``"cosine"`` is ``end + (start − end)(1 + cos(π t / total)) / 2``;
        ``"exponential"``: ``end + (start − end) · gamma^t``.
        A callable of ``(epoch, step, batch_accuracy)`` is used as it is (its values are checked
        to lie in [0, 1] by :class:`SelfDistillationTarget`).
    lam
        λ ≥ 0 of the accuracy schedule.
    alpha, start, end
        Weights in [0, 1].
    total
        Length of the linear and cosine schedules (> 0), in ``unit``.
    gamma
        Decay factor in (0, 1] of the exponential schedule, per ``unit``.
    unit
        ``"step"`` (global optimisation step, the default) or ``"epoch"``.
    """
    if callable(name):
        return name
    check_choice("alpha schedule", name, ALPHA_SCHEDULES)
    check_choice("unit", unit, ("step", "epoch"))
    if name == "accuracy":
        lam = check_real("lam", lam, low=0.0)
        return lambda epoch, step, acc: 1.0 - min(max(lam * acc, 0.0), 1.0)
    if name == "constant":
        alpha = check_real("alpha", alpha, low=0.0, high=1.0)
        return lambda epoch, step, acc: alpha
    start = check_real("start", start, low=0.0, high=1.0)
    end = check_real("end", end, low=0.0, high=1.0)
    if name == "exponential":
        # equivalent mutant: low_inclusive=None is falsy like False (same open bound, same message)
        gamma = check_real(
            "gamma",
            gamma,
            low=0.0,
            high=1.0,
            low_inclusive=False,  # pragma: no mutate
        )
        return lambda epoch, step, acc: (
            end + (start - end) * gamma ** (step if unit == "step" else epoch)
        )
    if total is None:
        raise ValueError(f"total (the schedule length in {unit}s) is needed by the {name} schedule")
    total = check_int("total", total, low=1)
    if name == "linear":
        return lambda epoch, step, acc: start + (end - start) * _progress(epoch, step, total, unit)
    return lambda epoch, step, acc: (
        end + 0.5 * (start - end) * (1.0 + math.cos(math.pi * _progress(epoch, step, total, unit)))
    )


# --------------------------------------------------------------------------- the target rule


def _label_matrix(labels: Tensor, outputs: Tensor) -> Tensor:
    """Observed labels in the shape and dtype of ``h(outputs)``: one-hot rows or ±1 values."""
    if _is_binary(outputs):
        values = labels.to(outputs.dtype).reshape(outputs.shape)
        if not torch.all((values == 1) | (values == -1)):
            raise ValueError("labels for scalar outputs must be -1 or +1 (Theorem 1's setting)")
        return values
    if labels.ndim == 2:  # already soft / one-hot
        return labels.to(outputs.dtype)
    return F.one_hot(labels.long(), outputs.shape[1]).to(outputs.dtype)


class SelfDistillationTarget:
    r"""Dong et al.'s target rule (Algorithm 1): ``α_t · y + (1 − α_t) · h(f(x))``, detached.

    $$
    \tilde y_t = \alpha_t\, y + (1 - \alpha_t)\, h\big(f(x; w_t)\big),
    $$

    with $1 - \alpha_t = \lambda \cdot$ (accuracy of the batch) for the ``"accuracy"`` schedule.

    Parameters
    ----------
    label_function
        ``"hardmax"`` (default), ``"softmax"`` (with ``temperature``), ``"ramp"`` (with ``rho``;
        scalar outputs and ±1 labels only) or a callable ``outputs -> labels``.
    schedule
        The α schedule: a name of :data:`ALPHA_SCHEDULES` or a callable
        ``(epoch, step, batch_accuracy) -> alpha``; ``schedule_options`` (``lam``, ``alpha``,
        ``start``, ``end``, ``total``, ``gamma``, ``unit``) go to :func:`make_alpha_schedule`.
    temperature, rho
        Options of the softmax and ramp label functions.

    Notes
    -----
    Calling the rule with the batch's outputs (logits, or scalar outputs for ±1 labels) and
    observed labels returns the detached targets, and records ``last_alpha`` and
    ``last_accuracy`` (the batch accuracy against the observed labels). The accuracy is computed
    only when the schedule is ``"accuracy"`` or a callable; otherwise ``last_accuracy`` is NaN.

    Examples
    --------
    >>> import torch
    >>> rule = SelfDistillationTarget("hardmax", "accuracy", lam=1.0)
    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    >>> rule(logits, torch.tensor([0, 0]))  # accuracy 1/2 -> alpha 1/2
    tensor([[1.0000, 0.0000],
            [0.5000, 0.5000]])
    """

    def __init__(
        self,
        label_function: str | Callable[[Tensor], Tensor] = "hardmax",
        schedule: str | AlphaSchedule = "accuracy",
        *,
        temperature: float = 1.0,
        rho: float = 0.0,
        **schedule_options: Any,
    ) -> None:
        self.label_function = make_label_function(label_function, temperature=temperature, rho=rho)
        self.schedule = make_alpha_schedule(schedule, **schedule_options)
        self._needs_accuracy = callable(schedule) or schedule == "accuracy"
        self.last_alpha = math.nan
        self.last_accuracy = math.nan

    def alpha(self, outputs: Tensor, labels: Tensor, *, epoch: int = 0, step: int = 0) -> float:
        """α_t for this batch (also stored as ``last_alpha``)."""
        acc = batch_accuracy(outputs, labels) if self._needs_accuracy else math.nan
        return self._record_alpha(acc, epoch, step)

    def _record_alpha(self, acc: float, epoch: int, step: int) -> float:
        value = float(self.schedule(epoch, step, acc))
        if not (0.0 <= value <= 1.0):
            raise ValueError(f"the alpha schedule must return a value in [0, 1], got {value!r}")
        self.last_alpha, self.last_accuracy = value, acc
        return value

    def _alpha_from_prediction(
        self,
        prediction: Tensor,
        labels: Tensor,
        epoch: int,
        step: int,
        correct: Tensor | None = None,
    ) -> float:
        # alpha() from the predicted classes argmax f(x), (B,), computed once per step by the
        # caller for both the accuracy and hardmax; count_nonzero is the cheapest count here.
        # ``correct`` (the count of prediction == labels) is used when the caller has it.
        n = labels.shape[0]
        if n == 0:
            raise ValueError("batch_accuracy needs a non-empty batch")
        if self._needs_accuracy:
            if correct is None:
                correct = torch.count_nonzero(prediction == labels)
            acc = int(correct) / n
        else:
            acc = math.nan
        return self._record_alpha(acc, epoch, step)

    def __call__(self, outputs: Tensor, labels: Tensor, *, epoch: int = 0, step: int = 0) -> Tensor:
        """The detached targets ``α_t · y + (1 − α_t) · h(outputs)`` for one batch."""
        with torch.no_grad():
            outputs = outputs.detach()
            if _is_binary(outputs) or labels.ndim != 1:
                a = self.alpha(outputs, labels, epoch=epoch, step=step)
                y = _label_matrix(labels, outputs)
                return a * y + (1.0 - a) * self.label_function(outputs)
            return self._class_targets(outputs, labels.long(), epoch, step)

    def _class_targets(self, outputs: Tensor, labels: Tensor, epoch: int, step: int) -> Tensor:
        # The same targets for (B, C) outputs and integer labels, in few tensor operations: the
        # prediction is computed once (for the accuracy and for hardmax) and the label weight is
        # scattered in place, which keeps the rule's cost per step close to nothing.
        pred = outputs.argmax(dim=1, keepdim=True)
        a = self._alpha_from_prediction(pred.squeeze(1), labels, epoch, step)
        if self.label_function is hardmax:
            target = torch.zeros_like(outputs).scatter_(1, pred, 1.0 - a)
        else:
            target = (1.0 - a) * self.label_function(outputs)
        index = labels.view(-1, 1)
        return target.scatter_add_(1, index, outputs.new_full(index.shape, a))


class SelfDistillationLoss:
    """Algorithm 1 as a training-loop ``LossFn``: the loss against :class:`SelfDistillationTarget`.

    Parameters
    ----------
    rule
        The target rule.
    loss
        ``"ce"``: ``−mean_b Σ_c t_bc log softmax(z_b)_c`` (cross-entropy against the soft target,
        Dong et al. sec. 3.4; :func:`~selfdistill.nn.training.losses.soft_target_cross_entropy`);
        ``"mse"``: ``mean_b ‖g(z_b) − t_b‖²`` with ``g`` the softmax for (B, C) logits
        (:func:`~selfdistill.nn.training.losses.mse_softmax_loss`) and the identity for scalar
        outputs with ±1 labels (Theorem 1's squared loss on the raw output ``f(W, x)``);
        ``"squared"``, its old name, is accepted.
    """

    def __init__(self, rule: SelfDistillationTarget | None = None, loss: str = "ce") -> None:
        self.rule = rule if rule is not None else SelfDistillationTarget()
        self.loss = check_choice("loss", canonical_loss(loss), SD_LOSSES)

    def __call__(self, logits: Tensor, targets: Tensor, ctx: Any = None) -> Tensor:
        epoch = getattr(ctx, "epoch", 0)
        step = getattr(ctx, "step", 0)
        if (
            self.loss == "ce"
            and self.rule.label_function is hardmax
            and logits.ndim == 2
            and logits.shape[1] > 1
            and targets.ndim == 1
        ):
            labels = targets.long()  # the targets themselves when they are int64 already
            return self._hardmax_ce(logits, labels, epoch, step, ctx)
        soft = self.rule(logits, targets, epoch=epoch, step=step)
        if self.loss == "ce":
            if _is_binary(logits):
                raise ValueError("loss 'ce' needs (B, C) logits; use 'mse' for ±1 outputs")
            return soft_target_cross_entropy(F.log_softmax(logits, dim=1), soft)
        if _is_binary(logits):
            return ((logits.reshape(soft.shape) - soft) ** 2).mean()
        return mse_softmax_loss(logits, soft)

    def _hardmax_ce(
        self, logits: Tensor, labels: Tensor, epoch: int, step: int, ctx: Any
    ) -> Tensor:
        """Cross-entropy against the hardmax target without building it (the default rule).

        With ``p_b = argmax z_b`` the target row is ``α·e_{y_b} + (1 − α)·e_{p_b}``, so
        ``−mean_b Σ_c t_bc log q_bc = α·CE(z, y) + (1 − α)·CE(z, p)``: two integer-label
        negative log-likelihoods on one ``log_softmax``, with no dense (B, C) target. The first
        term's factor α/B is ``nll_loss``'s constant class weight (``reduction="sum"``), the
        second's (1 − α) the ``alpha`` of the one ``torch.add`` that joins them, so the rule adds
        two autograd nodes to plain cross-entropy and no more. Equal to the general path up to
        rounding (tested in float64).

        The prediction ``argmax z`` and its count of correct labels are taken from ``ctx``
        (``prediction``, ``correct``) when the training loop provides them, as
        :func:`~selfdistill.nn.training.loop.fit` does for its training accuracy.
        """
        n, c = logits.shape
        pred = getattr(ctx, "prediction", None)
        if pred is None:
            pred = logits.argmax(dim=1)  # integer output: never part of the autograd graph
        correct = getattr(ctx, "correct", None)
        a = self.rule._alpha_from_prediction(pred, labels, epoch, step, correct)
        log_q = F.log_softmax(logits, dim=1)
        label_term = F.nll_loss(log_q, labels, log_q.new_full((c,), a / n), reduction="sum")
        return torch.add(label_term, F.nll_loss(log_q, pred), alpha=1.0 - a)
