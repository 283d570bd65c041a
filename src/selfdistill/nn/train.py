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

Checkpoints and resume. With ``checkpoint_dir`` the loop writes ``checkpoint.pt`` atomically after
every epoch (model, optimizer, scheduler, every rank's random state, history) and, if the file
exists when :func:`fit` starts, continues after its last epoch. The resumed run performs exactly
the operations of an uninterrupted one, so on the CPU its result is bit-identical (on CUDA as
well when ``torch.use_deterministic_algorithms(True)`` is set).

Data-parallel. Under ``torchrun`` with an initialised process group the same loop runs with
DistributedDataParallel; see :mod:`selfdistill.nn.distributed`.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._io import atomic_write_bytes
from .._validation import check_choice, check_int, check_real
from ..progress import progress_bar
from . import distributed as _dist

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

CHECKPOINT_NAME = "checkpoint.pt"
_CHECKPOINT_VERSION = 1
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")


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
    lr, momentum, weight_decay
        Peak learning rate, SGD momentum in [0, 1), weight decay (L2 coefficient).
    schedule
        ``"cosine"``: lr · ½(1 + cos(π s / S)) at step s of S, updated every step;
        ``"constant"``: lr throughout.
    seed
        Seed of the data order and of the global torch generator inside the loop.
    device
        Where to train, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``.
    progress
        Show a tqdm bar (on stderr) with the running loss and accuracy.
    eval_batch_size
        Batch size of the per-epoch evaluation.
    """

    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    seed: int = 0
    device: str = "cpu"
    progress: bool = True
    eval_batch_size: int = 1024

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, low=1)
        check_int("batch_size", self.batch_size, low=1)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_real("lr", self.lr, low=0.0, low_inclusive=False)
        check_real("momentum", self.momentum, low=0.0, high=1.0, high_inclusive=False)
        check_real("weight_decay", self.weight_decay, low=0.0)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_int("seed", self.seed, low=0)
        check_int("eval_batch_size", self.eval_batch_size, low=1)
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(
                f"device must be a torch device such as 'cpu' or 'cuda:0', got {self.device!r}"
            ) from None


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
    only where :func:`selfdistill.nn.distributed.is_main_process` is true.
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

    Epoch e uses ``data_seed(seed) + e``. Hashing the seed (NumPy's ``SeedSequence``) keeps the
    orders of different seeds unrelated; ``seed + e`` alone would give seed s at epoch e + 1 the
    order of seed s + 1 at epoch e.
    """
    return int(np.random.SeedSequence([seed, 0x5E1F]).generate_state(1, dtype=np.uint64)[0] >> 2)


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


def _fingerprint(
    config: TrainConfig, x_train: Tensor, targets_train: Tensor, world_size: int
) -> dict[str, Any]:
    keys = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule")
    out: dict[str, Any] = {k: getattr(config, k) for k in keys}
    out["seed"] = config.seed
    out["n_train"] = len(x_train)
    out["targets_shape"] = list(targets_train.shape)
    out["world_size"] = world_size
    return out


def _check_inputs(
    x_train: Tensor, targets_train: Tensor, eval_sets: Mapping[str, tuple[Tensor, Tensor]]
) -> Tensor:
    if not isinstance(x_train, Tensor) or not isinstance(targets_train, Tensor):
        raise ValueError("x_train and targets_train must be torch tensors")
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
        if len(x) != len(y) or y.dtype.is_floating_point or y.dim() != 1:
            raise ValueError(
                f"eval_sets[{name!r}] must be (inputs, int64 labels) of equal length, got "
                f"{tuple(x.shape)} and {tuple(y.shape)} {y.dtype}"
            )
    return labels


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


def _rng_state(device: torch.device) -> dict[str, Tensor | None]:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return {"cpu": torch.get_rng_state(), "cuda": cuda}


def _set_rng_state(state: Mapping[str, Tensor | None], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


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

    Parameters
    ----------
    model
        Any ``nn.Module`` mapping a batch of inputs to logits ``(B, C)``; moved to
        ``config.device`` and trained in place. It is left in eval mode.
    x_train
        Training inputs ``(N, ...)`` (kept where they are; batches are moved to the device).
    targets_train
        Integer labels ``(N,)`` or soft targets ``(N, C)``; the loss sees the batch's rows.
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
        Folder of the atomic per-epoch ``checkpoint.pt``; an existing checkpoint is resumed
        (ValueError when it was written with other hyper-parameters or data).
    distributed
        ``None`` (default): data-parallel exactly when a process group with more than one process
        is initialised; ``False``: train this process alone even then; ``True``: require it.
    augment
        Applied to every training batch on the device before the forward pass, e.g.
        :func:`selfdistill.nn.data.random_crop_flip`; it may draw from the global torch generator
        (seeded and checkpointed by the loop). Evaluation sets are never augmented.

    Returns
    -------
    History
        ``train_loss`` and ``train_acc`` are means over the epoch's mini-batches in training mode
        (``train_acc`` against the labels, or the argmax of soft targets); evaluation sets are
        measured after the epoch in eval mode.

    Raises
    ------
    ValueError
        Inconsistent shapes, a bad evaluation set, a foreign checkpoint.
    FloatingPointError
        When the loss becomes NaN or infinite (lower the learning rate).
    """
    eval_sets = dict(eval_sets or {})
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    labels_train = _check_inputs(x_train, targets_train, eval_sets)
    if distributed is None:
        distributed = _dist.is_active()
    elif distributed and not _dist.is_active():
        raise ValueError(
            "distributed=True needs an initialised process group with more than one process "
            "(run under torchrun and call selfdistill.nn.distributed.init_distributed())"
        )
    rank, world_size = _dist.world() if distributed else (0, 1)
    if config.batch_size % world_size:
        raise ValueError(
            f"batch_size must be a multiple of the world size {world_size}, got {config.batch_size}"
        )
    loss_fn = cross_entropy_loss if loss_fn is None else loss_fn
    device = torch.device(config.device)
    if device.type == "cuda" and device.index is None:  # "cuda" means the current device
        device = torch.device("cuda", torch.cuda.current_device())
    n = len(x_train)
    local_batch = config.batch_size // world_size
    local_n = math.ceil(n / world_size)
    steps_per_epoch = math.ceil(local_n / local_batch)
    total_steps = config.epochs * steps_per_epoch
    dseed = data_seed(config.seed)

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

    fingerprint = _fingerprint(config, x_train, targets_train, world_size)
    ckpt_path = None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_NAME
    history = History()
    resume_rng = None
    if ckpt_path is not None and ckpt_path.exists():
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if state.get("version") != _CHECKPOINT_VERSION or state.get("fingerprint") != fingerprint:
            diff = {
                k: (state.get("fingerprint", {}).get(k), v)
                for k, v in fingerprint.items()
                if state.get("fingerprint", {}).get(k) != v
            }
            raise ValueError(
                f"checkpoint_dir {checkpoint_dir} holds a checkpoint of a different run "
                f"(checkpoint vs now: {diff}); use another checkpoint_dir or delete {ckpt_path}"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history.epochs = [dict(row) for row in state["history"]]
        resume_rng = state["rng"][rank]

    start_step = len(history.epochs) * steps_per_epoch
    fork_devices = [device.index] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        if resume_rng is not None:
            _set_rng_state(resume_rng, device)
        else:
            torch.manual_seed(config.seed + rank)
        bar = progress_bar(
            range(start_step, total_steps),
            desc="train",
            total=total_steps - start_step,
            enabled=config.progress and rank == 0,
        )
        order = torch.empty(0, dtype=torch.int64)
        sums = torch.zeros(3, dtype=torch.float64, device=device)
        epoch_start, epoch_lr = time.perf_counter(), config.lr
        for step in bar:
            epoch, batch = divmod(step, steps_per_epoch)
            if batch == 0:
                if distributed:
                    order = _dist.distributed_indices(n, dseed, epoch, rank, world_size)
                else:
                    order = epoch_order(n, config.seed, epoch)
                sums.zero_()
                epoch_start = time.perf_counter()
                epoch_lr = optimizer.param_groups[0]["lr"]
                model.train()
            index = order[batch * local_batch : (batch + 1) * local_batch]
            xb = x_train[index].to(device, non_blocking=True)
            if augment is not None:
                xb = augment(xb)
            tb = targets_train[index].to(device, non_blocking=True)
            yb = tb if labels_train is targets_train else labels_train[index].to(device)
            logits = train_module(xb)
            with torch.no_grad():  # the training accuracy, shared with the loss through ctx
                prediction = logits.argmax(dim=1)
                correct = (prediction == yb).sum()
            ctx = StepContext(epoch, step, index, model, prediction, correct)
            loss = loss_fn(logits, tb, ctx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise FloatingPointError(
                    f"the training loss is {loss_value} at epoch {epoch}, step {step}: "
                    f"training diverged (lower lr, now {config.lr})"
                )
            sums[0] += loss_value * len(index)
            sums[1] += correct
            sums[2] += len(index)
            for cb in callbacks:
                cb.on_step_end(ctx, loss_value)
            if hasattr(bar, "set_postfix") and (batch % 10 == 0 or batch == steps_per_epoch - 1):
                loss_sum, correct, count = sums.tolist()
                bar.set_postfix(
                    epoch=f"{epoch + 1}/{config.epochs}",
                    loss=f"{loss_sum / count:.4f}",
                    acc=f"{correct / count:.3f}",
                    refresh=False,
                )
            if batch != steps_per_epoch - 1:
                continue
            # ---- end of epoch: reduce, evaluate, record, call back, checkpoint ----
            reduced = _dist.all_reduce_sum(sums.clone()) if distributed else sums
            loss_sum, correct, count = reduced.tolist()
            metrics: dict[str, float] = {
                "epoch": epoch,
                "train_loss": loss_sum / count,
                "train_acc": correct / count,
            }
            for name, (x_eval, y_eval) in eval_sets.items():
                ev_loss, ev_acc = _evaluate(
                    model, x_eval, y_eval, config.eval_batch_size, device, rank, world_size
                )
                metrics[f"{name}_loss"] = ev_loss
                metrics[f"{name}_acc"] = ev_acc
            metrics["lr"] = epoch_lr
            metrics["seconds"] = time.perf_counter() - epoch_start
            history.epochs.append(metrics)
            if hasattr(bar, "set_postfix") and eval_sets:
                first = next(iter(eval_sets))
                bar.set_postfix(
                    epoch=f"{epoch + 1}/{config.epochs}",
                    loss=f"{metrics['train_loss']:.4f}",
                    acc=f"{metrics['train_acc']:.3f}",
                    **{f"{first}_acc": f"{metrics[f'{first}_acc']:.3f}"},
                )
            for cb in callbacks:
                cb.on_epoch_end(epoch, metrics, model)
            if ckpt_path is not None:
                _write_checkpoint(
                    ckpt_path, model, optimizer, scheduler, history, fingerprint, device
                )
        if hasattr(bar, "close"):
            bar.close()
    model.eval()
    return history


def _write_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    history: History,
    fingerprint: dict[str, Any],
    device: torch.device,
) -> None:
    """Atomically write the full training state (rank 0 writes; every rank's RNG state is kept)."""
    data_parallel = fingerprint["world_size"] > 1
    rng = _dist.all_gather_objects(_rng_state(device)) if data_parallel else [_rng_state(device)]
    if not data_parallel or _dist.is_main_process():
        state = {
            "version": _CHECKPOINT_VERSION,
            "fingerprint": fingerprint,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng,
            "history": history.epochs,
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(path, buf.getvalue())
    if data_parallel:
        _dist.barrier()


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
