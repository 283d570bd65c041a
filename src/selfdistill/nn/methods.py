"""The registry of noisy-label methods: built-in and plug-in methods under one API.

A method is one of two kinds:

* a **loss rule** — ``build(ctx) -> LossFn``: the per-batch loss ``(logits, labels, step_ctx) ->
  scalar`` of :mod:`selfdistill.nn.train` (``step_ctx.index`` holds the batch's sample indices,
  ``step_ctx.epoch`` / ``step`` the position); the returned object may carry a ``callbacks``
  list of :class:`~selfdistill.nn.train.Callback` that :func:`~selfdistill.nn.train.fit` then
  calls (the runner evaluates the NOISY validation split as ``noisyval``, so a callback reads
  ``metrics["noisyval_acc"]``), and a ``lam`` attribute that the run records as its ``lam``;
* a **data rule** — ``build(ctx, x, y, train) -> DataChoice``: given the training inputs, the
  given labels and ``train(x, y) -> predict_proba`` (a training with the comparison's network and
  recipe), return the samples (and labels) to train on and, optionally, the samples it flags as
  mislabelled. The final model is trained with cross-entropy on the chosen data.

:class:`MethodContext` is what both receive: training-set size, class count, the given (noisy)
labels and the comparison's hyper-parameters (:class:`~selfdistill.nn.noisy_runner.MethodParams`)
with λ already resolved — never the noise rate, which a user does not know.

Register with :func:`register_method`, or from an installed package through the entry-point group
``selfdistill.methods`` (each entry point names a :class:`Method`). The built-ins of
:data:`selfdistill.catalog.NOISY_METHODS` are registered here the same way. docs/noisy.md has a
complete example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.metadata import entry_points
from importlib.util import find_spec
from typing import Any

from torch import Tensor

from .._validation import check_choice
from ..catalog import METHODS_ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from .early_learning import ELRLoss, MarginSelfDistillationLoss
from .refinery import (
    BootstrapLoss,
    GCELoss,
    SelfDistillationLoss,
    SelfDistillationTarget,
    cross_entropy_loss,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "DataChoice",
    "Method",
    "MethodContext",
    "get_method",
    "method_names",
    "register_method",
]

#: ``train(x, y) -> predict_proba``: one training with the comparison's network and recipe
TrainFn = Callable[[Tensor, Tensor], Callable[[Tensor], Tensor]]


@dataclass(frozen=True)
class MethodContext:
    """What a method knows when it is built.

    Attributes
    ----------
    n_train, num_classes
        Training-set size (the range of ``StepContext.index``) and number of classes.
    labels
        The given (possibly corrupted) training labels ``(n_train,)``.
    hyper
        The comparison's :class:`~selfdistill.nn.noisy_runner.MethodParams`.
    lam
        λ of Dong et al.'s ``sd``, resolved (``hyper.lam`` or Dong's rule).
    seed
        The run's seed (initial weights, data order).
    """

    n_train: int
    num_classes: int
    labels: Tensor
    hyper: Any
    lam: float
    seed: int = 0


@dataclass(frozen=True)
class DataChoice:
    """What a data rule returns.

    Attributes
    ----------
    index
        Indices (into the training set) of the samples to train on.
    labels
        Their labels ``(len(index),)``; ``None``: the given labels.
    flagged
        Boolean mask ``(n_train,)`` of the samples the rule flags as mislabelled (reported in
        place of prediction ≠ given label); ``None``: the final model's disagreements.
    """

    index: Tensor
    labels: Tensor | None = None
    flagged: Tensor | None = None


@dataclass(frozen=True)
class Method:
    """A registered method: ``kind`` is ``"loss"`` or ``"data"``; ``build`` as in the module
    docstring; ``description`` one line for listings; ``requires`` the ``(module, install hint)``
    pairs it imports, checked by :meth:`check_available` before a sweep starts."""

    name: str
    kind: str
    build: Callable[..., Any]
    description: str = ""
    requires: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, ("loss", "data"))
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not callable(self.build):
            raise TypeError(f"build must be callable, got {type(self.build).__name__}")

    def check_available(self) -> None:
        """RuntimeError, one line with the install hint, when a required module is missing."""
        for module, hint in self.requires:
            if find_spec(module) is None:
                raise RuntimeError(f"method {self.name} needs {module}: {hint}")


_REGISTRY: dict[str, Method] = {}


def register_method(
    name: str,
    *,
    loss: Callable[[MethodContext], Any] | None = None,
    data: Callable[..., DataChoice] | None = None,
    description: str = "",
    replace: bool = False,
) -> Method:
    """Register a method under ``name``: exactly one of ``loss`` (a loss rule's ``build(ctx)``)
    or ``data`` (a data rule). A taken name raises ValueError unless ``replace``.

    Methods registered by a call exist in the process that made it: for the ``processes`` and
    ``ray`` executors register them at import of a module the workers import (an entry point).
    """
    if (loss is None) == (data is None):
        raise ValueError("register_method needs exactly one of loss= or data=")
    method = Method(name, "loss" if loss is not None else "data", loss or data, description)
    if name in _registry() and not replace:
        raise ValueError(f"name: a method {name!r} is already registered (replace=True)")
    _REGISTRY[name] = method
    return method


def _registry() -> dict[str, Method]:
    """The registry, with the entry points' methods loaded on first use."""
    if not _LOADED:
        _LOADED.append(True)
        for point in entry_points(group=ENTRY_POINT_GROUP):
            method = point.load()
            if not isinstance(method, Method):
                raise TypeError(f"entry point {point.name!r} must name a Method, got {method!r}")
            _REGISTRY.setdefault(point.name, method)
    return _REGISTRY


_LOADED: list[bool] = []


def method_names() -> tuple[str, ...]:
    """Every registered method's name (built-ins first)."""
    return tuple(_registry())


def get_method(name: str) -> Method:
    """The method registered as ``name`` (ValueError naming ``method`` and the known ones)."""
    return _registry()[check_choice("method", name, method_names())]


# --------------------------------------------------------------------------- built-ins


def _dong_sd(ctx: MethodContext) -> SelfDistillationLoss:
    hyper = ctx.hyper
    rule = SelfDistillationTarget(
        hyper.label_function, "accuracy", lam=ctx.lam, temperature=hyper.temperature
    )
    loss = SelfDistillationLoss(rule, hyper.sd_loss)
    loss.lam = ctx.lam
    return loss


def _register_builtins() -> None:
    from .confident_learning import confident_learning

    builtins: list[tuple[str, str, Callable[..., Any], str]] = [
        ("ce", "loss", lambda ctx: cross_entropy_loss, "cross-entropy on the given labels"),
        ("early-stop", "loss", lambda ctx: cross_entropy_loss, "ce, epoch chosen on noisy val"),
        ("bootstrap-soft", "loss",
         lambda ctx: BootstrapLoss("soft", ctx.hyper.beta_soft), "Reed et al. 2015"),
        ("bootstrap-hard", "loss",
         lambda ctx: BootstrapLoss("hard", ctx.hyper.beta_hard), "Reed et al. 2015"),
        ("gce", "loss", lambda ctx: GCELoss(ctx.hyper.gce_q), "Zhang & Sabuncu 2018"),
        ("sd", "loss", _dong_sd, "Dong et al. 2019, Algorithm 1"),
        ("elr", "loss",
         lambda ctx: ELRLoss(ctx.n_train, ctx.num_classes, ctx.hyper.elr_beta, ctx.hyper.elr_lam),
         "early-learning regularisation, Liu et al. 2020"),
        ("sd-margin", "loss",
         lambda ctx: MarginSelfDistillationLoss(
             ctx.n_train, ctx.num_classes, lam=ctx.hyper.margin_lam, beta=ctx.hyper.ema_beta,
             smoothing=ctx.hyper.margin_smoothing, patience=ctx.hyper.switch_patience),
         "self-distillation from a temporal ensemble, per-sample margin (the default)"),
        ("confident-learning", "data", confident_learning,
         "cleanlab find_label_issues on K-fold probabilities, retrain on the kept samples"),
    ]  # fmt: skip
    for name, kind, build, description in builtins:
        _REGISTRY[name] = Method(name, kind, build, description)
    cleanlab = (("cleanlab", "pip install 'selfdistill[cleanlab]'"),)
    _REGISTRY["confident-learning"] = replace(_REGISTRY["confident-learning"], requires=cleanlab)


_register_builtins()
