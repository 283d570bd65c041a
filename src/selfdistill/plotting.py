"""Matplotlib helpers: headless backend, consistent style, atomic PNG output."""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or CI

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ._io import atomic_write_bytes

__all__ = ["plt", "save_figure"]


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 130) -> Path:
    """Save ``fig`` as PNG atomically and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
