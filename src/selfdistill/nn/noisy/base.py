"""The types a noisy-label method is made of: what it is built from and what a data rule returns.

A method is one of two kinds (:mod:`selfdistill.nn.noisy.registry` registers them by name):

* a **loss rule** — ``build(ctx) -> LossFn``: the per-batch loss ``(logits, labels, step_ctx) ->
  scalar`` of :func:`selfdistill.nn.fit` (``step_ctx.index`` holds the batch's sample indices,
  ``step_ctx.epoch`` / ``step`` the position); the returned object may carry a ``callbacks``
  list of :class:`~selfdistill.nn.Callback` that ``fit`` then calls (the runner evaluates the
  NOISY validation split as ``noisyval``, so a callback reads ``metrics["noisyval_acc"]``), and a
  ``lam`` attribute that the run records as its ``lam``;
* a **data rule** — ``build(ctx, x, y, train) -> DataChoice``: given the training inputs, the
  given labels and ``train(x, y) -> predict_proba`` (a training with the comparison's network and
  recipe), return the samples (and labels) to train on and, optionally, the samples it flags as
  mislabelled. The final model is trained with cross-entropy on the chosen data.

:class:`MethodContext` is what both receive: training-set size, class count, the given (noisy)
labels and the comparison's hyper-parameters (:class:`~selfdistill.nn.noisy.config.MethodParams`)
with λ already resolved — never the noise rate, which a user does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from typing import Any

from torch import Tensor

from ..._util.validation import check_choice
from .config import MethodParams

__all__ = ["DataChoice", "Method", "MethodContext", "TrainFn"]


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
        The comparison's :class:`~selfdistill.nn.noisy.runner.MethodParams`.
    lam
        λ of Dong et al.'s ``sd``, resolved (``hyper.lam`` or Dong's rule).
    seed
        The run's seed (initial weights, data order).
    """

    n_train: int
    num_classes: int
    labels: Tensor
    hyper: MethodParams
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
