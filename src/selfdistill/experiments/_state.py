"""Resume folders of the network reproductions, one per configuration."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["state_dir"]


def state_dir(out: Path, tag: str, settings: Mapping[str, Any]) -> Path:
    """``out/state/TAG-HASH``: an interrupted run with the same settings resumes from it, a run
    with other settings (say ``--quick`` after a full run) starts its own."""
    key = json.dumps(settings, sort_keys=True, default=str).encode()
    return Path(out) / "state" / f"{tag}-{hashlib.sha256(key).hexdigest()[:10]}"
