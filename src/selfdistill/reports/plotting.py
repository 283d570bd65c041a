"""Matplotlib helpers: headless backend, consistent style, atomic PNG output, shared pieces."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or CI

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .._util.io import atomic_write_bytes

__all__ = ["band", "plt", "save_figure"]


def save_figure(
    fig: Figure, path: str | os.PathLike[str], *, title: str | None = None, dpi: int = 130
) -> Path:
    """Give ``fig`` its ``title`` (when one is given), save it as PNG atomically and close it."""
    if title is not None:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def band(
    ax: Axes,
    x: Sequence[float] | np.ndarray,
    mean: Sequence[float] | np.ndarray,
    std: Sequence[float] | np.ndarray | None,
    *,
    scale: float = 1.0,
    alpha: float = 0.15,
    **line: Any,
) -> Any:
    """Plot ``scale * mean`` against ``x`` with a shaded ``± scale * std`` band (none when
    ``std`` is None) in the line's colour; ``line`` goes to ``ax.plot``. Returns the line."""
    mean = scale * np.asarray(mean, dtype=float)
    (handle,) = ax.plot(x, mean, **line)
    if std is not None:
        std = scale * np.asarray(std, dtype=float)
        ax.fill_between(x, mean - std, mean + std, color=handle.get_color(), alpha=alpha)
    return handle
