"""Chains of self-distilled network generations and teacher studies (torch extra).

``run``
    :func:`run_chains` / :func:`run_chain` / :func:`run_alpha_chains`: generation 1 on the labels,
    generation t on ``α·y + (1 − α)·teacher(x)`` (Mobahi et al. sec. 5; Borup & Andersen sec. 5),
    with α fixed, estimated in closed form (:func:`selfdistill.alpha.optimal_alpha`) or chosen on
    a validation grid.
``distill``
    one distillation step (:func:`distill_step`), its targets, losses and metrics.
``teacher``
    teacher snapshots per epoch and their students (Dong et al. sec. 2.1).
``store``, ``outputs``
    the chain's resumable state folder, and what each generation writes (model, metrics, labels).
"""

from __future__ import annotations

from .distill import distill_step, split_metrics
from .run import ChainConfig, run_alpha_chains, run_chain, run_chains

__all__ = [
    "ChainConfig",
    "distill_step",
    "run_alpha_chains",
    "run_chain",
    "run_chains",
    "split_metrics",
]
