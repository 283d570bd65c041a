"""Teacher early stopping (Dong et al. 2019, sec. 2.1: "no early stopping, no dark knowledge").

One teacher is trained on the labels and its weights are snapshotted after several epochs
(:class:`EpochSnapshots`); a smaller student is then distilled from every snapshot
(:func:`distill_student`). Plotting the students' accuracy against the teacher's epoch shows
whether a teacher stopped early teaches better than one trained to convergence.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from ..._util.validation import check_int
from ..data_splits import DataSplits
from ..training.loop import Callback, TrainConfig
from .distill import distill_step, freeze, split_metrics

__all__ = ["EpochSnapshots", "distill_student", "train_teacher_with_snapshots"]


class EpochSnapshots(Callback):
    """Keep a copy of the model's weights after each of the given epochs (1-based counts).

    ``snapshots[e]`` is the state dict (CPU tensors) after ``e`` completed epochs, and
    ``metrics[e]`` the training loop's metrics of that epoch.
    """

    def __init__(self, epochs: Sequence[int]) -> None:
        self.epochs = sorted({check_int("snapshot epoch", e, low=1) for e in epochs})
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.metrics: dict[int, dict[str, float]] = {}

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> None:
        done = epoch + 1  # the loop's epoch index is 0-based
        if done in self.epochs:
            self.snapshots[done] = {
                k: v.detach().cpu().clone() for k, v in model.state_dict().items()
            }
            self.metrics[done] = dict(metrics)


def train_teacher_with_snapshots(
    build: Callable[[], nn.Module],
    data: DataSplits,
    config: TrainConfig,
    snapshot_epochs: Sequence[int],
    *,
    loss: str = "ce",
) -> tuple[dict[int, nn.Module], dict[int, dict[str, float]]]:
    """Train ``build()`` on the labels for ``config.epochs`` and return a model per snapshot epoch.

    Returns ``({epoch: frozen model in eval mode}, {epoch: train/val/test accuracy})``, the
    accuracies measured in eval mode against the original labels; every snapshot epoch must lie in
    ``[1, config.epochs]``.
    """
    epochs = sorted(set(snapshot_epochs))
    if not epochs or epochs[0] < 1 or epochs[-1] > config.epochs:
        raise ValueError(
            f"snapshot_epochs must lie in [1, {config.epochs}] (the teacher's epochs), got {epochs}"
        )
    model = build()
    snaps = EpochSnapshots(epochs)
    distill_step(model, None, data, config, loss=loss, callbacks=[snaps])
    teachers, metrics = {}, {}
    for e, state in snaps.snapshots.items():
        t = copy.deepcopy(model)
        t.load_state_dict(state)
        teachers[e] = freeze(t)
        metrics[e] = {
            **split_metrics(teachers[e], data, config.device, losses=False),
            **{"train_loss": snaps.metrics[e]["train_loss"]},
        }
    return teachers, metrics


def distill_student(
    teacher: nn.Module | None,
    build: Callable[[], nn.Module],
    data: DataSplits,
    config: TrainConfig,
    *,
    alpha: float = 0.0,
    temperature: float = 4.0,
) -> tuple[nn.Module, dict[str, float]]:
    """Train ``build()`` on ``α·y + (1 − α)·softmax(teacher(x)/T)`` with soft-target cross-entropy.

    ``teacher=None`` trains on the labels alone (the no-distillation baseline). One
    :func:`~selfdistill.nn.chains.distill.distill_step` with the ``ce`` loss. Returns the student
    and its train (original labels) / validation / test accuracy.
    """
    student = build()
    distill_step(student, teacher, data, config, alpha=alpha, loss="ce", temperature=temperature)
    return student, split_metrics(student, data, config.device, losses=False)
