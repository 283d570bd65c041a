"""Seeded, stratified index splits and training-split standardisation, shared by every data set.

NumPy and scikit-learn only: importable without torch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["standardisation", "stratified_split"]


def stratified_split(
    y: np.ndarray, held_out: float | int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(len(y))`` into (kept, held out), stratified by label if possible.

    ``held_out`` is a fraction in (0, 1) or a count. Stratification needs every class at least
    twice and both parts at least as large as the number of classes; otherwise (tiny data) the
    split is a plain seeded permutation.
    """
    n = len(y)
    count = round(held_out * n) if isinstance(held_out, float) else int(held_out)
    if count <= 0:
        return rng.permutation(n), np.zeros(0, dtype=np.int64)
    from sklearn.model_selection import train_test_split  # on first use: keeps the import light

    state = int(rng.integers(0, 2**31 - 1))
    _, counts = np.unique(y, return_counts=True)
    stratify = y if counts.min() >= 2 and min(count, n - count) >= len(counts) else None
    kept, held = train_test_split(
        np.arange(n), test_size=count, random_state=state, stratify=stratify
    )
    return np.asarray(kept, dtype=np.int64), np.asarray(held, dtype=np.int64)


def standardisation(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the training inputs.

    Per feature for vectors ``(N, D)`` and sequences ``(N, L)``, per channel for images
    ``(N, C, H, W)``. A zero standard deviation (a constant feature) is replaced by 1. Two passes
    in float64 over chunks of samples: accurate, and no float64 copy of a large image set.
    """
    n = len(x_train)
    flat = x_train.reshape(n, x_train.shape[1], -1)  # (N, D, 1) or (N, C, H W)
    count = n * flat.shape[2]
    chunks = range(0, n, 2048)
    total = np.zeros(flat.shape[1])
    for i in chunks:
        total += flat[i : i + 2048].astype(np.float64).sum(axis=2).sum(axis=0)
    mean = total / count
    squares = np.zeros(flat.shape[1])
    for i in chunks:
        centred = flat[i : i + 2048].astype(np.float64) - mean[None, :, None]
        squares += np.einsum("ncp,ncp->c", centred, centred)
    std = np.sqrt(squares / count)
    std = np.where(std > 1e-12, std, 1.0)
    shape = (1, x_train.shape[1]) + (1,) * (x_train.ndim - 2)
    return mean.reshape(shape).astype(x_train.dtype), std.reshape(shape).astype(x_train.dtype)
