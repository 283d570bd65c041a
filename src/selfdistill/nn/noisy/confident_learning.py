"""Confident Learning (Northcutt et al. 2021) as a data rule of the noisy-label comparison.

K-fold out-of-sample class probabilities from the comparison's own network and recipe,
``cleanlab.filter.find_label_issues`` on them (its default ``prune_by_noise_rate``), and the
samples it does not flag are the data the final model trains on: K + 1 trainings in all. cleanlab
is an optional dependency (``pip install 'selfdistill[cleanlab]'``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..._util.validation import check_int
from .base import DataChoice, MethodContext

__all__ = ["confident_learning", "out_of_sample_probabilities"]


def out_of_sample_probabilities(
    x: Tensor,
    y: Tensor,
    train: Callable[[Tensor, Tensor], Callable[[Tensor], Tensor]],
    folds: int,
    seed: int,
) -> np.ndarray:
    """``(N, C)`` probabilities, each row from the model trained on the other ``folds − 1``
    folds (a seeded random partition)."""
    folds = check_int("folds", folds, low=2)
    n = len(y)
    order = np.random.default_rng(seed).permutation(n)
    probs: np.ndarray | None = None
    for part in np.array_split(order, folds):
        held = np.zeros(n, dtype=bool)
        held[part] = True
        rest = torch.from_numpy(np.flatnonzero(~held))
        predict = train(x[rest], y[rest])
        p = predict(x[torch.from_numpy(part)]).double().numpy()
        if probs is None:
            probs = np.zeros((n, p.shape[1]))
        probs[part] = p
    assert probs is not None
    return probs


def confident_learning(
    ctx: MethodContext,
    x: Tensor,
    y: Tensor,
    train: Callable[[Tensor, Tensor], Callable[[Tensor], Tensor]],
) -> DataChoice:
    """The data rule: keep what ``find_label_issues`` does not flag (``ctx.hyper.cl_folds``
    folds); RuntimeError with the install line when cleanlab is missing."""
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        raise RuntimeError(
            "method confident-learning needs cleanlab: pip install 'selfdistill[cleanlab]'"
        ) from None
    probs = out_of_sample_probabilities(x, y, train, ctx.hyper.cl_folds, ctx.seed)
    # n_jobs=1: cleanlab's own process pool shares its data through module globals, which a
    # worker of the ``processes`` executor (spawn start method) does not pass on (NameError)
    issues = find_label_issues(y.numpy(), probs, n_jobs=1)
    flagged = torch.from_numpy(np.asarray(issues, dtype=bool))
    return DataChoice(index=torch.nonzero(~flagged).squeeze(1), flagged=flagged)
