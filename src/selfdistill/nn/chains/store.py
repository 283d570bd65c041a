"""Persistence of chains of generations: per-generation records and weights in a folder.

The layout under a run's ``state_dir`` (written by :func:`selfdistill.nn.chains.run.run_chains`):

* ``chain-config.json`` — the chain's description; a rerun with another one is refused
  (:func:`check_state`);
* ``seed-S/KEY.json`` and ``seed-S/KEY.pt`` — one generation's record and weights (a
  :class:`ChainStore` rooted at ``seed-S``), ``KEY`` being ``gen-1`` for the shared first
  generation and ``NAME/gen-T`` for generation T of the chain ``NAME`` (:func:`safe_name`).

Every file is written atomically, the weights before the record, so a generation counts as finished
exactly when its record exists. The record keeps the SHA-256 and size of its weights file (under
``"_weights"``, not part of the record returned), so a damaged file is detected on resume rather
than loaded: a record that cannot be read counts as unfinished and weights that do not match (or
cannot be read) count as missing, each with a :class:`~selfdistill.exceptions.DamagedStateWarning`;
:mod:`selfdistill.nn.chains.run` then retrains what is needed, with the same seeds and hence the
same result.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..._util.io import atomic_write_bytes, read_json, to_jsonable, write_json
from ...exceptions import DamagedStateWarning

__all__ = ["STATE_CONFIG_NAME", "ChainStore", "check_state", "safe_name"]

STATE_CONFIG_NAME = "chain-config.json"
_WEIGHTS = "_weights"  # the record file's checksum entry


def _state_bytes(model: nn.Module) -> bytes:
    buf = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def _damaged(path: Path, why: str, then: str) -> None:
    warnings.warn(f"{path} is damaged ({why}); {then}", DamagedStateWarning, stacklevel=3)


def _read_record(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None (with a warning) when it cannot be read as one."""
    try:
        record = read_json(path)
    except (ValueError, OSError) as exc:  # JSONDecodeError, UnicodeDecodeError, unreadable
        _damaged(path, str(exc).splitlines()[0], "the generation is retrained")
        return None
    if not isinstance(record, dict) or "generation" not in record:
        _damaged(path, "not a generation record", "the generation is retrained")
        return None
    return record


class ChainStore:
    """Per-generation records and weights under ``root`` (atomic; ``root=None`` keeps nothing).

    A generation is finished when its record (``KEY.json``) exists and can be read; its weights
    (``KEY.pt``) are written before the record, and may be dropped once a later generation has
    finished.
    """

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def record(self, key: str) -> dict[str, Any] | None:
        """The finished generation's record, or None (not finished, nothing is kept, or the
        record is damaged: then a :class:`DamagedStateWarning` and the generation is redone)."""
        if self.root is None or not (self.root / f"{key}.json").exists():
            return None
        record = _read_record(self.root / f"{key}.json")
        if record is None:
            return None
        record.pop(_WEIGHTS, None)
        return record

    def has_weights(self, key: str) -> bool:
        """Whether the weights of ``key`` exist (they may still be damaged)."""
        return self.root is not None and (self.root / f"{key}.pt").exists()

    def load_into(self, key: str, model: nn.Module) -> nn.Module | None:
        """Load the weights saved under ``key`` into ``model`` (same architecture); return it in
        eval mode, or None when they are missing (dropped, or never written) or damaged (a
        :class:`DamagedStateWarning`; the caller retrains them)."""
        if not self.has_weights(key):
            return None
        assert self.root is not None
        path = self.root / f"{key}.pt"
        blob = path.read_bytes()
        expected = self._checksum(key)
        if expected is not None and expected != {"sha256": _sha256(blob), "bytes": len(blob)}:
            _damaged(path, "its checksum does not match its record", "it is retrained")
            return None
        try:
            state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except Exception as exc:  # a truncated or foreign file: any reader error
            _damaged(path, f"{type(exc).__name__}: {str(exc).splitlines()[0]}", "it is retrained")
            return None
        model.eval()
        return model

    def _checksum(self, key: str) -> dict[str, Any] | None:
        assert self.root is not None
        path = self.root / f"{key}.json"
        if not path.exists():
            return None
        try:
            saved = read_json(path)
        except (ValueError, OSError):
            return None
        return saved.get(_WEIGHTS) if isinstance(saved, dict) else None

    def save(self, key: str, model: nn.Module, record: Mapping[str, Any]) -> None:
        """Write the weights, then the record with their checksum (the record marks the
        generation finished)."""
        if self.root is None:
            return
        blob = _state_bytes(model)
        atomic_write_bytes(self.root / f"{key}.pt", blob)
        checksum = {"sha256": _sha256(blob), "bytes": len(blob)}
        write_json(self.root / f"{key}.json", {**record, _WEIGHTS: checksum})

    def drop_weights(self, key: str) -> None:
        """Delete the weights of ``key`` (its record stays)."""
        if self.root is not None:
            (self.root / f"{key}.pt").unlink(missing_ok=True)


def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def check_state(
    state_dir: Path, description: Mapping[str, Any], *, name: str = STATE_CONFIG_NAME
) -> None:
    """Write ``description`` to ``state_dir/name``, or check it against the one already there.

    Raises ValueError when ``state_dir`` holds a run with another configuration, or when its
    ``name`` file is damaged (the message names the file and what to do).
    """
    path = state_dir / name
    others = sorted(p.name for p in state_dir.glob("*-config.json") if p.name != name)
    if others:
        raise ValueError(
            f"state_dir {state_dir} holds the state of another kind of run ({others[0]}); "
            "use a new output folder"
        )
    if path.exists():
        try:
            saved = read_json(path)
        except (ValueError, OSError) as exc:
            raise ValueError(
                f"{path} is damaged ({str(exc).splitlines()[0]}), so the finished work in "
                f"{state_dir} cannot be matched to this configuration; delete {state_dir} to "
                "start over"
            ) from None
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
