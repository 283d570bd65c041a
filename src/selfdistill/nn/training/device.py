"""The torch device of a run: ``auto`` resolved, and a device this machine lacks refused.

Every place that takes a device name (:class:`~selfdistill.nn.training.loop.TrainConfig`, the
commands, the reproductions) goes through :func:`resolve_device`, so ``--device cuda`` on a machine
without CUDA is one sentence saying so, not an assertion deep inside PyTorch.
"""

from __future__ import annotations

import torch

__all__ = ["resolve_device"]


def resolve_device(name: str | torch.device = "auto") -> str:
    """The device ``name`` as a string torch accepts, ``"auto"`` resolved.

    Parameters
    ----------
    name
        ``"auto"`` (``"cuda"`` when :func:`torch.cuda.is_available`, else ``"cpu"``), or any torch
        device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, a :class:`torch.device`).

    Raises
    ------
    ValueError
        For a name that is not a device, or a CUDA / MPS device this machine does not have
        (no CUDA in this PyTorch build, no GPU visible, or an index past the last GPU).
    """
    text = str(name).strip()
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"device must be 'auto' or a torch device such as 'cpu', 'cuda' or 'cuda:0', "
            f"got {text!r}"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = (
                f"this PyTorch build ({torch.__version__}) has no CUDA support"
                if torch.version.cuda is None
                else "no CUDA GPU is visible"
            )
            raise ValueError(f"device {text!r} is not available: {why}; use --device cpu or auto")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"device {text!r} is not available: this machine has {count} CUDA device(s), "
                f"cuda:0 to cuda:{count - 1}"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {text!r} is not available on this machine; use --device cpu")
    return text
