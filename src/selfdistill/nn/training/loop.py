"""The training loop shared by every PyTorch feature: :func:`fit`.

One call trains a model for ``config.epochs`` epochs of mini-batch SGD or Adam with weight decay
and an optional per-step cosine learning-rate schedule, evaluates it on named evaluation sets
after every epoch, and returns the per-epoch metrics (:class:`History`).

Determinism. Everything random depends on ``config.seed`` alone:

* the data order of epoch e is ``torch.randperm(n)`` from a ``torch.Generator`` seeded with
  ``data_seed(seed) + epoch`` (the rule of ``DistributedSampler``, so a data-parallel run sees the
  same global batches);
* the global torch generator (dropout, random targets drawn by a loss function, ...) is seeded
  with ``seed + rank`` inside ``torch.random.fork_rng``, so the caller's random state is left
  untouched;
* the initial weights are the model's business: :func:`selfdistill.nn.models.build_model` with a
  ``seed``.

Checkpoints and resume (:mod:`selfdistill.nn.training.checkpoint`). With ``checkpoint_dir`` the loop
writes ``checkpoint.pt`` atomically after every epoch (model, optimizer, scheduler, every rank's
random state, history) and, if the file exists when :func:`fit` starts, continues after its last
epoch. The resumed run performs exactly the operations of an uninterrupted one, so on the CPU its
result is bit-identical (on CUDA as well when ``torch.use_deterministic_algorithms(True)`` is set).

Data-parallel. Under ``torchrun`` with an initialised process group the same loop runs with
DistributedDataParallel; see :mod:`selfdistill.nn.training.distributed`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..._util.progress import progress_bar
from ..._util.validation import MAX_EPOCHS, check_choice, check_int, check_real
from ...catalog import DEFAULT_LR, OPTIMIZERS, SCHEDULES
from . import distributed as _dist
from .checkpoint import (
    CHECKPOINT_NAME,
    fingerprint,
    load_checkpoint,
    set_rng_state,
    write_checkpoint,
)
from .device import resolve_device
from .seeds import derive_seed

__all__ = [
    "CHECKPOINT_NAME",
    "Callback",
    "History",
    "LossFn",
    "StepContext",
    "TrainConfig",
    "accuracy",
    "cosine_factor",
    "cross_entropy_loss",
    "data_seed",
    "epoch_order",
    "fit",
    "predict_logits",
]


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of :func:`fit` (checked on construction; ValueError names the field).

    Attributes
    ----------
    epochs
        Passes over the training set (at least 1).
    batch_size
        Samples per optimisation step (the global batch under DDP).
    optimizer
        ``"sgd"`` (heavy-ball momentum), ``"adam"`` (L2 weight decay added to the gradient) or
        ``"adamw"`` (decoupled weight decay).
    lr
        Peak learning rate; ``None`` (the default): the optimiser's own,
        :data:`selfdistill.catalog.DEFAULT_LR` (SGD 0.05, Adam and AdamW 0.001), set on
        construction.
    momentum, weight_decay
        SGD momentum in [0, 1), weight decay (L2 coefficient).
    schedule
        ``"cosine"``: lr · ½(1 + cos(π s / S)) at step s of S, updated every step;
        ``"constant"``: lr throughout.
    seed
        Seed of the data order and of the global torch generator inside the loop.
    device
        Where to train, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or ``"auto"`` (CUDA when
        available, else CPU), resolved on construction by :func:`~selfdistill.nn.resolve_device`
        (a device this machine lacks is a ValueError).
    progress
        Show a tqdm bar (on stderr) with the running loss and accuracy.
    eval_batch_size
        Batch size of the per-epoch evaluation.
    """

    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, low=1, high=MAX_EPOCHS)
        check_int("batch_size", self.batch_size, low=1)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        if self.lr is None:
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])
        check_real("lr", self.lr, low=0.0, low_inclusive=False)
        check_real("momentum", self.momentum, low=0.0, high=1.0, high_inclusive=False)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_int("seed", self.seed, low=0)
        check_int("eval_batch_size", self.eval_batch_size, low=1)
        object.__setattr__(self, "device", resolve_device(self.device))


@dataclass
class StepContext:
    """What a loss function or callback knows about the current optimisation step.

    ``prediction`` and ``correct`` are what :func:`fit` computes anyway for the training accuracy,
    handed to the loss so that a rule needing them (e.g. Dong et al.'s accuracy-weighted target)
    does not compute them a second time: ``prediction`` is ``argmax`` of the batch's logits
    ``(B,)``, ``correct`` the 0-dim count of ``prediction == labels`` (the integer labels, or the
    argmax of soft targets). Other training loops may leave them ``None``.
    """

    epoch: int
    step: int
    index: Tensor
    model: nn.Module
    prediction: Tensor | None = None
    correct: Tensor | None = None


LossFn = Callable[[Tensor, Tensor, StepContext], Tensor]


class Callback:
    """Hooks called by :func:`fit`; every hook is a no-op here. Subclass and override.

    Under DDP the hooks run on every rank (metrics are already reduced over ranks); write files
    only where :func:`selfdistill.nn.training.distributed.is_main_process` is true.
    """

    def on_step_end(self, ctx: StepContext, loss: float) -> None:
        """After the optimiser step; ``loss`` is this rank's batch loss."""

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> None:
        """After epoch ``epoch`` (0-based) was evaluated, before its checkpoint is written."""


@dataclass
class History:
    """Per-epoch metrics: one dict per epoch with ``epoch`` (0-based), ``train_loss``,
    ``train_acc``, ``<name>_loss`` and ``<name>_acc`` per evaluation set, ``lr`` (at the epoch's
    first step) and ``seconds`` (wall time of the epoch, evaluation included)."""

    epochs: list[dict[str, float]] = field(default_factory=list)

    def column(self, key: str) -> list[float]:
        """The values of one metric, epoch by epoch."""
        return [row[key] for row in self.epochs]

    @property
    def last(self) -> dict[str, float]:
        """Metrics of the last epoch."""
        if not self.epochs:
            raise ValueError("history is empty: no epoch was trained")
        return self.epochs[-1]


def cross_entropy_loss(logits: Tensor, targets: Tensor, ctx: StepContext | None = None) -> Tensor:
    """Mean cross-entropy with integer labels ``(B,)`` or soft targets ``(B, C)`` (rows summing
    to 1): ``-mean_i sum_c targets_ic log softmax(logits_i)_c``."""
    if targets.dtype.is_floating_point:
        return torch.sum(-targets * F.log_softmax(logits, dim=1), dim=1).mean()
    return F.cross_entropy(logits, targets)


def data_seed(seed: int) -> int:
    """The data-order seed derived from ``config.seed``.

    Epoch e uses ``data_seed(seed) + e``. Hashing the seed (:func:`~.seeds.derive_seed`) keeps the
    orders of different seeds unrelated; ``seed + e`` alone would give seed s at epoch e + 1 the
    order of seed s + 1 at epoch e. The 64-bit seed is shifted to 62 bits, so that adding the
    epoch never overflows.
    """
    return derive_seed(seed, 0x5E1F, bits=64) >> 2


def epoch_order(n: int, seed: int, epoch: int) -> Tensor:
    """The single-process order of the ``n`` training samples in epoch ``epoch``."""
    generator = torch.Generator()
    generator.manual_seed(data_seed(seed) + epoch)
    return torch.randperm(n, generator=generator)


def cosine_factor(step: int, total_steps: int) -> float:
    """Cosine annealing to zero: ½(1 + cos(π · step / total_steps)) (Loshchilov & Hutter 2017,
    without restarts)."""
    return 0.5 * (1.0 + math.cos(math.pi * step / total_steps))


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _check_inputs(
    x_train: Tensor, targets_train: Tensor, eval_sets: Mapping[str, tuple[Tensor, Tensor]]
) -> Tensor:
    if not isinstance(x_train, Tensor) or not isinstance(targets_train, Tensor):
        raise ValueError("x_train and targets_train must be torch tensors")
    if x_train.dim() < 2:
        raise ValueError(
            f"x_train must have shape (N, features...), one row per sample, got "
            f"{tuple(x_train.shape)}"
        )
    for name, t in (("x_train", x_train), ("targets_train", targets_train)):
        if t.is_complex():
            raise ValueError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if len(x_train) == 0 or len(x_train) != len(targets_train):
        raise ValueError(
            f"x_train and targets_train must have the same positive length, got "
            f"{len(x_train)} and {len(targets_train)}"
        )
    if targets_train.dtype.is_floating_point:
        if targets_train.dim() != 2:
            raise ValueError(
                f"soft targets_train must have shape (N, C), got {tuple(targets_train.shape)}"
            )
        labels = targets_train.argmax(dim=1)
    else:
        if targets_train.dtype == torch.bool:
            raise ValueError(
                "targets_train must be integer class labels (N,) or float soft targets (N, C), "
                "got torch.bool"
            )
        if targets_train.dim() != 1:
            raise ValueError(
                f"integer targets_train must have shape (N,), got {tuple(targets_train.shape)}"
            )
        labels = targets_train.long()
    for name, pair in eval_sets.items():
        if not isinstance(name, str) or not name or name == "train":
            raise ValueError(
                f"eval_sets names must be non-empty strings other than 'train', got {name!r}"
            )
        x, y = pair
        if (
            len(x) != len(y) or y.dtype.is_floating_point or y.dtype == torch.bool
            or y.dim() != 1
        ):  # fmt: skip
            raise ValueError(
                f"eval_sets[{name!r}] must be (inputs, integer labels) of equal length, got "
                f"{tuple(x.shape)} and {tuple(y.shape)} {y.dtype}"
            )
        if x.shape[1:] != x_train.shape[1:]:
            raise ValueError(
                f"eval_sets[{name!r}] inputs must have samples of shape "
                f"{tuple(x_train.shape[1:])} as x_train, got {tuple(x.shape[1:])}"
            )
    return labels


def _check_probabilities(targets: Tensor) -> None:
    """Soft targets of the default cross-entropy must be distributions: otherwise the loss has
    no minimum (it goes negative and diverges)."""
    low = float(targets.min())
    sums = targets.double().sum(dim=1)
    worst = int((sums - 1).abs().argmax())
    if low < -1e-6 or abs(float(sums[worst]) - 1) > 1e-3:
        raise ValueError(
            "targets_train: soft targets of the cross-entropy must be probabilities (entries "
            f">= 0, each row summing to 1), got a smallest entry {low:.4g} and a row summing "
            f"to {float(sums[worst]):.4g} (sample {worst}); pass loss_fn for other targets"
        )


def _first_layer_width(model: nn.Module) -> int | None:
    for module in model.modules():
        if isinstance(module, nn.Linear) and not nn.parameter.is_lazy(module.weight):
            return int(module.in_features)
        if isinstance(module, nn.modules.conv._ConvNd):
            return None
    return None


def _check_finite(name: str, x: Tensor) -> None:
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x.reshape(len(x), -1))).any(dim=1).nonzero()[0, 0])
        raise ValueError(
            f"{name} contains NaN or infinite values (first in sample {bad}): clean or impute "
            "the inputs before training"
        )


@torch.no_grad()
def _fit_to_model(
    model: nn.Module,
    x_train: Tensor,
    targets_train: Tensor,
    labels_train: Tensor,
    eval_sets: dict[str, tuple[Tensor, Tensor]],
) -> tuple[Tensor, Tensor, dict[str, tuple[Tensor, Tensor]]]:
    """Check the data against the model: finite inputs, its float dtype, labels < its outputs.

    Floating inputs and soft targets are cast to the dtype of the model's parameters (a float64
    array from NumPy meets a float32 network); integer inputs (token ids) are left alone.
    """
    params = [p for p in model.parameters() if p.is_floating_point()]
    if not params or any(nn.parameter.is_lazy(p) for p in params):
        return x_train, targets_train, eval_sets
    dtype, device = params[0].dtype, params[0].device

    def cast(x: Tensor) -> Tensor:
        return x.to(dtype) if x.is_floating_point() and x.dtype != dtype else x

    _check_finite("x_train", x_train)
    _check_finite("targets_train", targets_train)
    for name, (x, _) in eval_sets.items():
        _check_finite(f"eval_sets[{name!r}] inputs", x)
    x_train, targets_train = cast(x_train), cast(targets_train)
    eval_sets = {name: (cast(x), y) for name, (x, y) in eval_sets.items()}
    was_training = model.training
    model.eval()
    try:
        outputs = model(x_train[:2].to(device))
    except (RuntimeError, ValueError, IndexError) as exc:
        width = _first_layer_width(model)
        takes = f" (its first layer takes {width} features)" if width is not None else ""
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"x_train has samples of shape {tuple(x_train.shape[1:])}, which the model cannot "
            f"take{takes}: {first}"
        ) from None
    finally:
        model.train(was_training)
    classes = outputs.shape[1] if outputs.dim() == 2 and outputs.shape[1] > 1 else None
    if targets_train.is_floating_point() and classes is not None:
        if targets_train.shape[1] != classes:
            raise ValueError(
                f"soft targets_train must have one column per model output, shape "
                f"(N, {classes}), got {tuple(targets_train.shape)}"
            )
    for name, labels in [("targets_train", labels_train)] + [
        (f"eval_sets[{k!r}] labels", y) for k, (_, y) in eval_sets.items()
    ]:
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or (classes is not None and high >= classes):
            allowed = f"[0, {classes - 1}]" if classes is not None else "[0, inf)"
            raise ValueError(
                f"{name} must hold class labels in {allowed} (the model has "
                f"{classes or outputs.shape[-1]} outputs), got values in [{low}, {high}]"
            )
    return x_train, targets_train, eval_sets


@torch.no_grad()
def _evaluate(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    batch_size: int,
    device: torch.device,
    rank: int = 0,
    world_size: int = 1,
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy on (x, y); with ``world_size`` > 1 (DDP) each rank takes
    every W-th sample and the sums are all-reduced."""
    xs, ys = (x[rank::world_size], y[rank::world_size]) if world_size > 1 else (x, y)
    sums = torch.zeros(3, dtype=torch.float64, device=device)
    model.eval()
    for start in range(0, len(xs), batch_size):
        xb = xs[start : start + batch_size].to(device, non_blocking=True)
        yb = ys[start : start + batch_size].to(device, non_blocking=True)
        logits = model(xb)
        sums[0] += F.cross_entropy(logits.float(), yb, reduction="sum").double()
        sums[1] += (logits.argmax(dim=1) == yb).sum()
        sums[2] += len(yb)
    if world_size > 1:
        _dist.all_reduce_sum(sums)
    loss_sum, correct, count = sums.tolist()
    if count == 0:
        return math.nan, math.nan
    return loss_sum / count, correct / count


def fit(
    model: nn.Module,
    x_train: Tensor,
    targets_train: Tensor,
    config: TrainConfig,
    *,
    loss_fn: LossFn | None = None,
    eval_sets: Mapping[str, tuple[Tensor, Tensor]] | None = None,
    callbacks: Sequence[Callback] = (),
    checkpoint_dir: str | Path | None = None,
    distributed: bool | None = None,
    augment: Callable[[Tensor], Tensor] | None = None,
) -> History:
    """Train ``model`` on ``(x_train, targets_train)``; return per-epoch metrics.

    Phases: :func:`_set_up`, resume from ``checkpoint_dir``, ``config.epochs`` epochs of
    :func:`_train_step` (each opened by :func:`_start_epoch`), each closed by :func:`_end_epoch`.

    Parameters
    ----------
    model
        Any ``nn.Module`` mapping inputs to logits ``(B, C)``; moved to ``config.device``, trained
        in place and left in eval mode.
    x_train, targets_train
        Inputs ``(N, ...)`` (batches are moved to the device) and integer labels ``(N,)`` or soft
        targets ``(N, C)``.
    config
        Hyper-parameters (:class:`TrainConfig`).
    loss_fn
        ``loss_fn(logits, targets, ctx) -> scalar``; default :func:`cross_entropy_loss`.
    eval_sets
        ``{name: (x, int labels)}`` evaluated in eval mode after every epoch, giving
        ``<name>_loss`` (cross-entropy) and ``<name>_acc``.
    callbacks
        :class:`Callback` objects, called in order.
    checkpoint_dir
        Folder of the atomic per-epoch ``checkpoint.pt``
        (:mod:`selfdistill.nn.training.checkpoint`); an existing one is resumed (ValueError when
        written with other hyper-parameters or data).
    distributed
        ``None``: data-parallel exactly when a process group with more than one process is
        initialised; ``False``: train this process alone even then; ``True``: require it.
    augment
        Applied to every training batch on the device, e.g.
        :func:`selfdistill.nn.data_splits.random_crop_flip`; it may draw from the global torch
        generator (seeded and checkpointed by the loop). Evaluation sets are never augmented.

    Returns
    -------
    History
        ``train_loss`` and ``train_acc`` are means over the epoch's mini-batches in training mode
        (``train_acc`` against the labels, or the argmax of soft targets).

    Raises
    ------
    ValueError
        Inconsistent shapes, a bad evaluation set, a foreign checkpoint.
    FloatingPointError
        When the loss becomes NaN or infinite (lower the learning rate).
    """
    loop = _set_up(model, x_train, targets_train, config, loss_fn, eval_sets, distributed)
    loop.callbacks, loop.augment = callbacks, augment
    resume_rng = _resume(loop, checkpoint_dir)
    start_step = len(loop.history.epochs) * loop.steps_per_epoch
    with torch.random.fork_rng(devices=[loop.device.index] if loop.device.type == "cuda" else []):
        if resume_rng is not None:
            set_rng_state(resume_rng, loop.device)
        else:
            torch.manual_seed(config.seed + loop.rank)
        bar = progress_bar(
            range(start_step, loop.total_steps),
            desc="train",
            total=loop.total_steps - start_step,
            enabled=config.progress and loop.rank == 0,
        )
        for step in bar:
            epoch, batch = divmod(step, loop.steps_per_epoch)
            if batch == 0:
                _start_epoch(loop, epoch)
            _train_step(loop, epoch, batch, step, bar)
            if batch == loop.steps_per_epoch - 1:
                _end_epoch(loop, epoch, bar)
        if hasattr(bar, "close"):
            bar.close()
    model.eval()
    return loop.history


@dataclass
class _Loop:
    """What the phases of one :func:`fit` call share: the run's fixed parts, then the state of the
    current epoch (data order, running sums of loss / correct / count, start time, first lr)."""

    model: nn.Module
    train_module: nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    config: TrainConfig
    device: torch.device
    rank: int
    world_size: int
    x_train: Tensor
    targets_train: Tensor
    labels_train: Tensor
    loss_fn: LossFn
    eval_sets: dict[str, tuple[Tensor, Tensor]]
    steps_per_epoch: int
    total_steps: int
    fingerprint: dict[str, Any]
    sums: Tensor
    callbacks: Sequence[Callback] = ()
    augment: Callable[[Tensor], Tensor] | None = None
    checkpoint_path: Path | None = None
    history: History = field(default_factory=History)
    order: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.int64))
    epoch_start: float = 0.0
    epoch_lr: float = 0.0

    @property
    def local_batch(self) -> int:
        return self.config.batch_size // self.world_size


def _set_up(
    model: nn.Module,
    x_train: Tensor,
    targets_train: Tensor,
    config: TrainConfig,
    loss_fn: LossFn | None,
    eval_sets: Mapping[str, tuple[Tensor, Tensor]] | None,
    distributed: bool | None,
) -> _Loop:
    """Check the inputs, pick the device and world, wrap in DDP, build optimizer and schedule."""
    eval_sets = dict(eval_sets or {})
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    labels_train = _check_inputs(x_train, targets_train, eval_sets)
    if not targets_train.is_floating_point():
        targets_train = labels_train  # int32, uint8, ... labels as the int64 the losses take
    elif loss_fn is None or loss_fn is cross_entropy_loss:
        _check_probabilities(targets_train)
    eval_sets = {k: (x, y.long()) for k, (x, y) in eval_sets.items()}
    x_train, targets_train, eval_sets = _fit_to_model(
        model, x_train, targets_train, labels_train, eval_sets
    )
    rank, world_size = _world(distributed, config.batch_size)
    distributed = world_size > 1
    device = torch.device(config.device)
    if device.type == "cuda" and device.index is None:  # "cuda" means the current device
        device = torch.device("cuda", torch.cuda.current_device())
    local_n = math.ceil(len(x_train) / world_size)
    steps_per_epoch = math.ceil(local_n / (config.batch_size // world_size))
    total_steps = config.epochs * steps_per_epoch

    model.to(device)
    train_module: nn.Module = model
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        train_module = DistributedDataParallel(model, device_ids=ids)
    optimizer = _make_optimizer(model, config)
    if config.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: cosine_factor(s, total_steps)
        )
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    return _Loop(
        model=model,
        train_module=train_module,
        optimizer=optimizer,
        scheduler=scheduler,
        config=config,
        device=device,
        rank=rank,
        world_size=world_size,
        x_train=x_train,
        targets_train=targets_train,
        labels_train=labels_train,
        loss_fn=cross_entropy_loss if loss_fn is None else loss_fn,
        eval_sets=eval_sets,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        fingerprint=fingerprint(config, x_train, targets_train, world_size),
        sums=torch.zeros(3, dtype=torch.float64, device=device),
    )


def _world(distributed: bool | None, batch_size: int) -> tuple[int, int]:
    """(rank, world size) of this run: (0, 1) unless it trains data-parallel (see :func:`fit`)."""
    if distributed is None:
        distributed = _dist.is_active()
    elif distributed and not _dist.is_active():
        raise ValueError(
            "distributed=True needs an initialised process group with more than one process "
            "(run under torchrun and call selfdistill.nn.training.distributed.init_distributed())"
        )
    rank, world_size = _dist.world() if distributed else (0, 1)
    if batch_size % world_size:
        raise ValueError(
            f"batch_size must be a multiple of the world size {world_size}, got {batch_size}"
        )
    return rank, world_size


def _resume(loop: _Loop, checkpoint_dir: str | Path | None) -> dict[str, Tensor | None] | None:
    """Restore the state of ``checkpoint_dir``'s checkpoint if there is one; return this rank's
    random state to continue from (None: a fresh run)."""
    if checkpoint_dir is None:
        return None
    loop.checkpoint_path = Path(checkpoint_dir) / CHECKPOINT_NAME
    if not loop.checkpoint_path.exists():
        return None
    loop.history.epochs, rng = load_checkpoint(
        loop.checkpoint_path,
        loop.fingerprint,
        loop.model,
        loop.optimizer,
        loop.scheduler,
        loop.rank,
    )
    return rng


def _start_epoch(loop: _Loop, epoch: int) -> None:
    """Draw the epoch's data order, reset the running sums, switch to training mode."""
    n, seed, world_size = len(loop.x_train), loop.config.seed, loop.world_size
    if world_size > 1:
        loop.order = _dist.distributed_indices(n, data_seed(seed), epoch, loop.rank, world_size)
    else:
        loop.order = epoch_order(n, seed, epoch)
    loop.sums.zero_()
    loop.epoch_start = time.perf_counter()
    loop.epoch_lr = loop.optimizer.param_groups[0]["lr"]
    loop.model.train()


def _train_step(loop: _Loop, epoch: int, batch: int, step: int, bar: Any) -> None:
    """One optimisation step on mini-batch ``batch`` of the epoch's order; callbacks after it."""
    index = loop.order[batch * loop.local_batch : (batch + 1) * loop.local_batch]
    xb = loop.x_train[index].to(loop.device, non_blocking=True)
    if loop.augment is not None:
        xb = loop.augment(xb)
    tb = loop.targets_train[index].to(loop.device, non_blocking=True)
    labels = loop.labels_train
    yb = tb if labels is loop.targets_train else labels[index].to(loop.device)
    logits = loop.train_module(xb)
    with torch.no_grad():  # the training accuracy, shared with the loss through ctx
        prediction = logits.argmax(dim=1)
        correct = (prediction == yb).sum()
    ctx = StepContext(epoch, step, index, loop.model, prediction, correct)
    loss = loop.loss_fn(logits, tb, ctx)
    loop.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    loop.optimizer.step()
    loop.scheduler.step()
    loss_value = float(loss.detach())
    if not math.isfinite(loss_value):
        raise FloatingPointError(
            f"the training loss is {loss_value} at epoch {epoch}, step {step}: "
            f"training diverged (lower lr, now {loop.config.lr})"
        )
    loop.sums[0] += loss_value * len(index)
    loop.sums[1] += correct
    loop.sums[2] += len(index)
    for cb in loop.callbacks:
        cb.on_step_end(ctx, loss_value)
    if hasattr(bar, "set_postfix") and (batch % 10 == 0 or batch == loop.steps_per_epoch - 1):
        loss_sum, n_correct, count = loop.sums.tolist()
        bar.set_postfix(
            epoch=f"{epoch + 1}/{loop.config.epochs}",
            loss=f"{loss_sum / count:.4f}",
            acc=f"{n_correct / count:.3f}",
            refresh=False,
        )


def _end_epoch(loop: _Loop, epoch: int, bar: Any) -> None:
    """Reduce the epoch's sums over ranks, evaluate, record the metrics, call back, checkpoint."""
    reduced = _dist.all_reduce_sum(loop.sums.clone()) if loop.world_size > 1 else loop.sums
    loss_sum, correct, count = reduced.tolist()
    metrics: dict[str, float] = {
        "epoch": epoch,
        "train_loss": loss_sum / count,
        "train_acc": correct / count,
    }
    for name, (x_eval, y_eval) in loop.eval_sets.items():
        metrics[f"{name}_loss"], metrics[f"{name}_acc"] = _evaluate(
            loop.model,
            x_eval,
            y_eval,
            loop.config.eval_batch_size,
            loop.device,
            loop.rank,
            loop.world_size,
        )
    metrics["lr"] = loop.epoch_lr
    metrics["seconds"] = time.perf_counter() - loop.epoch_start
    loop.history.epochs.append(metrics)
    if hasattr(bar, "set_postfix") and loop.eval_sets:
        first = next(iter(loop.eval_sets))
        bar.set_postfix(
            epoch=f"{epoch + 1}/{loop.config.epochs}",
            loss=f"{metrics['train_loss']:.4f}",
            acc=f"{metrics['train_acc']:.3f}",
            **{f"{first}_acc": f"{metrics[f'{first}_acc']:.3f}"},
        )
    for cb in loop.callbacks:
        cb.on_epoch_end(epoch, metrics, loop.model)
    if loop.checkpoint_path is not None:
        write_checkpoint(
            loop.checkpoint_path,
            loop.model,
            loop.optimizer,
            loop.scheduler,
            loop.history.epochs,
            loop.fingerprint,
            loop.device,
        )


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: Tensor, *, batch_size: int = 1024, device: str = "cpu"
) -> Tensor:
    """Logits of ``model`` on ``x`` in eval mode, batched, returned on the CPU as float32.

    The model is moved to ``device``; its training/eval mode is restored afterwards.
    """
    batch_size = check_int("batch_size", batch_size, low=1)
    dev = torch.device(device)
    was_training = model.training
    model.to(dev).eval()
    try:
        outs = [
            model(x[start : start + batch_size].to(dev, non_blocking=True)).float().cpu()
            for start in range(0, len(x), batch_size)
        ]
    finally:
        model.train(was_training)
    if not outs:
        raise ValueError("x must hold at least one sample")
    return torch.cat(outs)


def accuracy(
    model: nn.Module, x: Tensor, y: Tensor, *, batch_size: int = 1024, device: str = "cpu"
) -> float:
    """Fraction of samples whose argmax logit equals the label ``y`` (eval mode)."""
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    logits = predict_logits(model, x, batch_size=batch_size, device=device)
    return float((logits.argmax(dim=1) == y.cpu()).double().mean())
