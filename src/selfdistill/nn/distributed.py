"""Data-parallel training under ``torchrun`` (DistributedDataParallel, one process per device).

:func:`selfdistill.nn.train.fit` runs data-parallel by itself when a process group with more
than one process is initialised: it wraps the model in ``DistributedDataParallel``, gives each
rank its share of every global batch through a ``DistributedSampler``, all-reduces the epoch
metrics, and lets only rank 0 write checkpoints. A script therefore runs unchanged under
``python script.py`` and ``torchrun --nproc_per_node N script.py`` once it calls
:func:`init_distributed` first::

    info = init_distributed()                  # reads RANK / WORLD_SIZE / LOCAL_RANK
    config = TrainConfig(..., device=info.device)
    history = fit(model, x, y, config, eval_sets={"val": (x_val, y_val)})
    if is_main_process():
        ...                                    # write results
    cleanup()

Equivalence with a single process. With world size W and global batch B (``config.batch_size``),
each rank takes ``B / W`` samples per step. ``DistributedSampler`` permutes the indices with the
same generator as the single-process loop (``torch.randperm`` seeded by ``seed + epoch``) and
gives rank r the positions ``r, r + W, r + 2W, ...`` of the permutation, so rank r's k-th local
batch is exactly the r-strided part of the single process's k-th global batch. DDP averages the
ranks' gradients, and the average of W equal-size batch means is the global batch mean. Hence,
when ``n`` and ``B`` are multiples of ``W`` and the model has no batch-coupled layers
(BatchNorm), every step computes the same update as the single process up to floating-point
summation order (a few ulp per step). Otherwise ``DistributedSampler`` pads the last batch with
repeated samples and BatchNorm sees per-rank statistics: close, not equal.

This module also runs a small data-parallel training job from the command line::

    torchrun --nproc_per_node 2 -m selfdistill.nn.distributed --data digits --model mlp \\
        --epochs 5 --out runs/ddp
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor
from torch.utils.data.distributed import DistributedSampler

__all__ = [
    "DistInfo",
    "cleanup",
    "distributed_indices",
    "init_distributed",
    "is_active",
    "is_main_process",
    "main",
    "world",
]


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in a (possibly single-process) job."""

    rank: int
    world_size: int
    local_rank: int
    device: str


def is_active() -> bool:
    """True when a process group with more than one process is initialised."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the one process that writes files."""
    return world()[0] == 0


def init_distributed(backend: str | None = None, device: str | None = None) -> DistInfo:
    """Initialise the default process group from the ``torchrun`` environment.

    Parameters
    ----------
    backend
        ``"gloo"`` or ``"nccl"``; default ``"nccl"`` for CUDA, ``"gloo"`` otherwise.
    device
        ``"cpu"`` or ``"cuda"``; default ``"cuda"`` when available. With CUDA each process uses
        ``cuda:LOCAL_RANK`` (one process per device).

    Returns
    -------
    DistInfo
        Outside ``torchrun`` (no ``WORLD_SIZE`` in the environment) nothing is initialised and
        the result describes a single process.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if "WORLD_SIZE" not in os.environ:
        return DistInfo(0, 1, 0, device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if backend is None:
        backend = "nccl" if device.startswith("cuda") else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, device)


def cleanup() -> None:
    """Destroy the default process group if one was initialised."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def distributed_indices(n: int, seed: int, epoch: int, rank: int, world_size: int) -> Tensor:
    """This rank's sample indices for one epoch, from ``DistributedSampler``.

    The sampler permutes ``range(n)`` with ``torch.randperm`` seeded by ``seed + epoch``, pads the
    permutation to a multiple of ``world_size`` with its first entries, and returns every
    ``world_size``-th entry starting at ``rank``.
    """
    sampler = DistributedSampler(
        range(n), num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=False
    )
    sampler.set_epoch(epoch)
    return torch.tensor(list(sampler), dtype=torch.int64)


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over all ranks in place (a no-op in a single process)."""
    if is_active():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_objects(obj: object) -> list[object]:
    """Every rank's ``obj``, in rank order (``[obj]`` in a single process)."""
    if not is_active():
        return [obj]
    out: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    """Wait for every rank (a no-op in a single process)."""
    if is_active():
        dist.barrier()


# --------------------------------------------------------------------------------------------
# Command line: a small data-parallel job (also what the tests launch with torchrun)
# --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node N -m selfdistill.nn.distributed",
        description="Train one model data-parallel with DistributedDataParallel.",
    )
    p.add_argument("--data", default="digits", help="data set (default digits)")
    p.add_argument("--data-dir", default=None, help="folder of on-disk data sets")
    p.add_argument("--n-train", type=int, default=None, help="training samples to keep")
    p.add_argument("--model", default="mlp", help="mlp, cnn or resnet18 (default mlp)")
    p.add_argument("--width", type=int, default=None, help="model width (default per model)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128, help="global batch size")
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adam", "adamw"))
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--schedule", default="cosine", choices=("cosine", "constant"))
    p.add_argument("--seed", type=int, default=0, help="seed of data split, init and order")
    p.add_argument("--device", default=None, choices=("cpu", "cuda"))
    p.add_argument("--backend", default=None, choices=("gloo", "nccl"))
    p.add_argument("--checkpoint-dir", default=None, help="resume from / checkpoint to here")
    p.add_argument("--out", required=True, help="output folder (history.json, model.pt)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Train a model on a data set, data-parallel under ``torchrun`` (or in one process).

    Rank 0 writes ``OUT/history.json`` (per-epoch metrics, all-reduced over ranks, plus the final
    test accuracy) and ``OUT/model.pt`` (the final state dict).
    """
    from .._io import atomic_write_bytes, write_json
    from .data import load_dataset
    from .models import build_model
    from .train import TrainConfig, accuracy, fit

    args = _parser().parse_args(argv)
    info = init_distributed(backend=args.backend, device=args.device)
    try:
        splits = load_dataset(
            args.data, data_dir=args.data_dir, seed=args.seed, n_train=args.n_train
        )
        model = build_model(
            args.model, splits.input_shape, splits.num_classes, width=args.width, seed=args.seed
        )
        config = TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            lr=args.lr,
            weight_decay=args.weight_decay,
            schedule=args.schedule,
            seed=args.seed,
            device=info.device,
            progress=not args.no_progress and info.rank == 0,
        )
        history = fit(
            model,
            splits.x_train,
            splits.y_train,
            config,
            eval_sets={"val": (splits.x_val, splits.y_val)},
            checkpoint_dir=args.checkpoint_dir,
        )
        test_acc = accuracy(model, splits.x_test, splits.y_test, device=info.device)
        if is_main_process():
            out = Path(args.out)
            write_json(
                out / "history.json",
                {"world_size": info.world_size, "epochs": history.epochs, "test_acc": test_acc},
            )
            buf = io.BytesIO()
            torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buf)
            atomic_write_bytes(out / "model.pt", buf.getvalue())
            print(
                f"world size {info.world_size}: val acc {history.epochs[-1].get('val_acc'):.4f}, "
                f"test acc {test_acc:.4f}",
                file=sys.stderr,
            )
        barrier()
    finally:
        cleanup()
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through torchrun in the tests
    raise SystemExit(main())
