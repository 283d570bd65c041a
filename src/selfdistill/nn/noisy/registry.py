"""The registry of noisy-label methods: built-in and plug-in methods under one API.

A method (:class:`~selfdistill.nn.noisy.base.Method`) is a loss rule or a data rule, built from a
:class:`~selfdistill.nn.noisy.base.MethodContext` (:mod:`selfdistill.nn.noisy.base` describes
both kinds). Register one with :func:`register_method`, or from an installed package through the
entry-point group ``selfdistill.methods`` (each entry point names a
:class:`~selfdistill.nn.noisy.base.Method`). The built-ins of
:data:`selfdistill.catalog.NOISY_METHODS` are registered here the same way. docs/noisy.md has a
complete example.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import entry_points
from typing import Any

from ..._util.validation import check_choice
from ...catalog import METHODS_ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from ..training.loop import cross_entropy_loss
from .base import DataChoice, Method, MethodContext
from .dong import SelfDistillationLoss, SelfDistillationTarget
from .margin import MarginSelfDistillationLoss
from .rivals import BootstrapLoss, ELRLoss, GCELoss

__all__ = [
    "ENTRY_POINT_GROUP",
    "DataChoice",
    "Method",
    "MethodContext",
    "get_method",
    "method_names",
    "register_method",
]


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
