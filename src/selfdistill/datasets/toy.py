"""Loader for the toy data that ships with the package (``selfdistill/data/*.json``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["BorupToy", "load_borup_toy"]


@dataclass(frozen=True)
class BorupToy:
    """Borup & Andersen (2021) section 4.5 toy example.

    Attributes
    ----------
    x, y : ndarray of shape (11,)
        Training inputs 0, 0.1, ..., 1 and the noisy targets hard-coded in the authors' code.
    gamma : float
        RBF kernel ``exp(-gamma (x - x')^2)`` with ``gamma = 80`` (the paper prints 1/80, a
        misprint: with 1/80 the Gram matrix is numerically rank 2).
    lam : float
        Ridge ``0.2``.
    grid : ndarray of shape (101,)
        Validation / evaluation inputs 0, 0.01, ..., 1 (targets: the noiseless ``sin(2 pi x)``).
    reference_mse_alpha0 : ndarray of shape (6,)
        Mean squared error against ``sin(2 pi x)`` on ``grid`` of steps 1-6 for ``alpha = 0``.
    reference_mse_alpha0_limit : float
        The same for the limit ``tau -> inf`` (the zero function).
    """

    x: np.ndarray
    y: np.ndarray
    gamma: float
    lam: float
    grid: np.ndarray
    reference_mse_alpha0: np.ndarray
    reference_mse_alpha0_limit: float

    @property
    def truth(self) -> np.ndarray:
        """``sin(2 pi x)`` on :attr:`grid`."""
        return np.sin(2 * np.pi * self.grid)


def load_borup_toy() -> BorupToy:
    """Read ``selfdistill/data/borup_toy.json`` (package data; no download)."""
    text = resources.files("selfdistill").joinpath("data", "borup_toy.json").read_text("utf-8")
    raw = json.loads(text)
    step = float(raw["eval_grid_step"])
    grid = np.round(np.arange(0.0, 1.0 + step / 2, step), 12)
    return BorupToy(
        x=np.asarray(raw["x"], dtype=float),
        y=np.asarray(raw["y"], dtype=float),
        gamma=float(raw["gamma"]),
        lam=float(raw["lam"]),
        grid=grid,
        reference_mse_alpha0=np.asarray(raw["reference_mse_alpha0"], dtype=float),
        reference_mse_alpha0_limit=float(raw["reference_mse_alpha0_limit"]),
    )
