"""Data-parallel training under ``torchrun`` (DistributedDataParallel, one process per device).

:func:`selfdistill.nn.training.loop.fit` runs data-parallel by itself when a process group with more
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

:mod:`selfdistill.nn.training.torchrun` runs a small data-parallel training job from the command
line::

    torchrun --nproc_per_node 2 -m selfdistill.nn.training.torchrun --data digits --model mlp \\
        --epochs 5 --out runs/ddp
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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
