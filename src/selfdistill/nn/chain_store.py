"""Persistence of chains of generations: per-generation records and weights in a folder.

The layout under a run's ``state_dir`` (written by :func:`selfdistill.nn.chain.run_chains`):

* ``chain-config.json`` — the chain's description; a rerun with another one is refused
  (:func:`check_state`);
* ``seed-S/KEY.json`` and ``seed-S/KEY.pt`` — one generation's record and weights (a
  :class:`ChainStore` rooted at ``seed-S``), ``KEY`` being ``gen-1`` for the shared first
  generation and ``NAME/gen-T`` for generation T of the chain ``NAME`` (:func:`safe_name`).

Every file is written atomically, the weights before the record, so a generation counts as finished
exactly when its record exists.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._io import atomic_write_bytes, read_json, to_jsonable, write_json

__all__ = ["STATE_CONFIG_NAME", "ChainStore", "check_state", "safe_name"]

STATE_CONFIG_NAME = "chain-config.json"


def _state_bytes(model: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


class ChainStore:
    """Per-generation records and weights under ``root`` (atomic; ``root=None`` keeps nothing).

    A generation is finished when its record (``KEY.json``) exists; its weights (``KEY.pt``) are
    written before the record, and may be dropped once a later generation has finished.
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def record(self, key: str) -> dict[str, Any] | None:
        """The finished generation's record, or None (not finished, or nothing is kept)."""
        if self.root is None or not (self.root / f"{key}.json").exists():
            return None
        return read_json(self.root / f"{key}.json")

    def load_into(self, key: str, model: nn.Module) -> nn.Module:
        """Load the weights saved under ``key`` into ``model`` (same architecture); return it in
        eval mode. FileNotFoundError when they are missing (dropped, or never written)."""
        path = None if self.root is None else self.root / f"{key}.pt"
        if path is None or not path.exists():
            raise FileNotFoundError(f"{path} is missing: cannot resume this chain")
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        model.eval()
        return model

    def save(self, key: str, model: nn.Module, record: Mapping[str, Any]) -> None:
        """Write the weights, then the record (the record marks the generation finished)."""
        if self.root is None:
            return
        atomic_write_bytes(self.root / f"{key}.pt", _state_bytes(model))
        write_json(self.root / f"{key}.json", record)

    def drop_weights(self, key: str) -> None:
        """Delete the weights of ``key`` (its record stays)."""
        if self.root is not None:
            (self.root / f"{key}.pt").unlink(missing_ok=True)


def check_state(
    state_dir: Path, description: Mapping[str, Any], *, name: str = STATE_CONFIG_NAME
) -> None:
    """Write ``description`` to ``state_dir/name``, or check it against the one already there.

    Raises ValueError when ``state_dir`` holds a run with another configuration.
    """
    path = state_dir / name
    if path.exists():
        saved = read_json(path)
        if saved != to_jsonable(description):
            raise ValueError(
                f"state_dir {state_dir} holds a run with another configuration; "
                "use a new output folder (or delete the old one) to start over"
            )
    else:
        write_json(path, description)


def safe_name(name: str) -> str:
    """``name`` as a folder name: every character but letters, digits and ``-_.=`` becomes ``_``."""
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in name)
