"""Per-epoch metrics written as they happen: ``metrics.csv`` and optional TensorBoard events.

:class:`MetricsCSV` is a :class:`~selfdistill.nn.training.loop.Callback` of
:func:`~selfdistill.nn.fit` that rewrites ``metrics.csv`` atomically after every epoch with one row
per epoch so far: the epoch, the training loss and accuracy, every evaluated ``<set>_loss`` /
``<set>_acc``, the learning rate, the epoch's seconds and, when given a reader of α_t
(self-distillation), the mean α_t over the epoch's steps. A run killed mid-way leaves the complete
rows of its finished epochs.

:class:`TensorBoardLog` writes the same scalars as TensorBoard event files (the ``tensorboard``
extra: ``pip install 'selfdistill[tensorboard]'``; without it a one-line RuntimeError says so).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import nn

from ..._util.io import write_csv
from .loop import Callback, StepContext

__all__ = [
    "MetricsCSV",
    "TensorBoardLog",
    "alpha_reader",
    "check_tensorboard",
    "tensorboard_writer",
]


def alpha_reader(loss_fn: Any) -> Callable[[], float] | None:
    """A reader of the last step's α_t of a self-distillation loss (an object with a ``rule``
    holding ``last_alpha``, :class:`selfdistill.nn.noisy.dong.SelfDistillationLoss`), else None."""
    rule = getattr(loss_fn, "rule", None)
    if rule is None or not hasattr(rule, "last_alpha"):
        return None
    return lambda: float(rule.last_alpha)


class _EpochAlpha(Callback):
    """The mean α_t of the current epoch's steps (``nan`` without a reader)."""

    def __init__(self, alpha: Callable[[], float] | None) -> None:
        self.alpha = alpha
        self._sum, self._count = 0.0, 0

    def on_step_end(self, ctx: StepContext, loss: float) -> None:
        if self.alpha is not None:
            value = self.alpha()
            if math.isfinite(value):
                self._sum, self._count = self._sum + value, self._count + 1

    def epoch_alpha(self) -> float | None:
        """The epoch's mean α_t (``None`` without values), resetting the sums."""
        value = self._sum / self._count if self._count else None
        self._sum, self._count = 0.0, 0
        return value


class MetricsCSV(_EpochAlpha):
    """Rewrite ``path`` (CSV) atomically after every epoch with all epochs so far.

    Parameters
    ----------
    path
        The CSV file (its folder is created).
    alpha
        Reader of the current step's α_t (:func:`alpha_reader`), called after every step; its
        epoch mean is the ``alpha`` column. ``None``: no ``alpha`` column.
    extra
        Constant columns put first in every row (e.g. ``{"generation": 2}``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        alpha: Callable[[], float] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(alpha)
        self.path = Path(path)
        self.extra = dict(extra or {})
        self.rows: list[dict[str, Any]] = []

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> None:
        row = {**self.extra, **metrics}
        if self.alpha is not None:
            row["alpha"] = self.epoch_alpha()
        self.rows.append(row)
        write_csv(self.path, self.rows)


def check_tensorboard() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``, or a one-line RuntimeError when the
    ``tensorboard`` package is missing (nothing is written)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise RuntimeError(
            "--tensorboard needs the tensorboard package: pip install 'selfdistill[tensorboard]'"
        ) from None
    return SummaryWriter


def tensorboard_writer(log_dir: str | Path) -> Any:
    """A ``torch.utils.tensorboard.SummaryWriter`` on ``log_dir``; a one-line RuntimeError when
    the ``tensorboard`` package is missing."""
    return check_tensorboard()(log_dir=str(log_dir))


class TensorBoardLog(_EpochAlpha):
    """Write every per-epoch metric (and α_t) as TensorBoard scalars under ``log_dir``.

    The event file is flushed after every epoch and closed after ``epochs`` epochs.
    """

    def __init__(
        self, log_dir: str | Path, *, epochs: int, alpha: Callable[[], float] | None = None
    ) -> None:
        super().__init__(alpha)
        self.writer = tensorboard_writer(log_dir)
        self.epochs = epochs

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> None:
        scalars = {k: v for k, v in metrics.items() if k != "epoch"}
        if self.alpha is not None:
            scalars["alpha"] = self.epoch_alpha()
        for key, value in scalars.items():
            if value is not None:
                self.writer.add_scalar(key, value, epoch + 1)
        self.writer.flush()
        if epoch + 1 >= self.epochs:
            self.writer.close()
