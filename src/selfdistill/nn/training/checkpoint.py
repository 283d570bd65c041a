"""The training loop's checkpoint: what :func:`selfdistill.nn.training.loop.fit` writes and resumes
from.

One file, ``checkpoint.pt``, written atomically after every epoch: the model, optimizer and
scheduler state, every rank's random state and the per-epoch history, under a *fingerprint* of the
run (hyper-parameters, seed, data size, target shape, world size). A checkpoint is resumed only by
a run with the same fingerprint; restoring the random state makes the resumed run perform exactly
the operations of an uninterrupted one (bit-identical on the CPU).

* :func:`fingerprint` — the run's identity, compared on resume;
* :func:`write_checkpoint` — the atomic write (under DDP rank 0 writes every rank's random state);
* :func:`load_checkpoint` — restore model, optimizer and scheduler in place and return
  ``(history rows, this rank's random state)``;
* :func:`rng_state` / :func:`set_rng_state` — the global torch generators (CPU and the device's).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..._util.io import atomic_write_bytes
from . import distributed as _dist

__all__ = [
    "CHECKPOINT_NAME",
    "CHECKPOINT_VERSION",
    "fingerprint",
    "load_checkpoint",
    "rng_state",
    "set_rng_state",
    "write_checkpoint",
]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_VERSION = 1
_FINGERPRINT_KEYS = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "schedule",
    "seed",
)


def fingerprint(config: Any, x_train: Tensor, targets_train: Tensor, world_size: int) -> dict:
    """The run's identity: the optimisation settings of ``config`` (a ``TrainConfig``), its seed,
    the number of training samples, the target shape and the world size."""
    out: dict[str, Any] = {k: getattr(config, k) for k in _FINGERPRINT_KEYS}
    out["n_train"] = len(x_train)
    out["targets_shape"] = list(targets_train.shape)
    out["world_size"] = world_size
    return out


def rng_state(device: torch.device) -> dict[str, Tensor | None]:
    """The global CPU generator's state and, on a CUDA ``device``, that device's."""
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return {"cpu": torch.get_rng_state(), "cuda": cuda}


def set_rng_state(state: Mapping[str, Tensor | None], device: torch.device) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and state.get("cuda") is not None:
        torch.cuda.set_rng_state(state["cuda"], device)


def write_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    history: Sequence[Mapping[str, float]],
    run_fingerprint: dict[str, Any],
    device: torch.device,
) -> None:
    """Atomically write the full training state (rank 0 writes; every rank's RNG state is kept)."""
    data_parallel = run_fingerprint["world_size"] > 1
    rng = _dist.all_gather_objects(rng_state(device)) if data_parallel else [rng_state(device)]
    if not data_parallel or _dist.is_main_process():
        state = {
            "version": CHECKPOINT_VERSION,
            "fingerprint": run_fingerprint,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng,
            "history": history,
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write_bytes(path, buf.getvalue())
    if data_parallel:
        _dist.barrier()


def _damaged(path: Path, why: str) -> str:
    first_line = why.strip().splitlines()[0] if why.strip() else why
    return (
        f"the checkpoint {path} is damaged ({first_line}); delete it to restart this fit from "
        "the first epoch"
    )


def load_checkpoint(
    path: Path,
    run_fingerprint: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    rank: int = 0,
) -> tuple[list[dict[str, float]], dict[str, Tensor | None]]:
    """Restore model, optimizer and scheduler from ``path`` in place.

    Returns
    -------
    (history, rng)
        The per-epoch metric rows written so far and rank ``rank``'s random state (for
        :func:`set_rng_state`).

    Raises
    ------
    ValueError
        When the checkpoint has another version or fingerprint (it names the differing keys), or
        is damaged (truncated, or not a checkpoint): the message names the file and says to
        delete it, which restarts the fit from epoch 0 on the next run. It is not deleted here:
        under data parallelism every rank must take the same decision, and a damaged file may
        be a sign of a failing disk that the user should know about.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: any reader error
        raise ValueError(_damaged(path, f"{type(exc).__name__}: {exc}")) from None
    if not isinstance(state, dict) or not {"model", "optimizer", "scheduler"} <= state.keys():
        raise ValueError(_damaged(path, "not a training checkpoint"))
    saved = state.get("fingerprint", {})
    if state.get("version") != CHECKPOINT_VERSION or saved != run_fingerprint:
        diff = {k: (saved.get(k), v) for k, v in run_fingerprint.items() if saved.get(k) != v}
        raise ValueError(
            f"checkpoint_dir {path.parent} holds a checkpoint of a different run "
            f"(checkpoint vs now: {diff}); use another checkpoint_dir or delete {path}"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return [dict(row) for row in state["history"]], state["rng"][rank]
