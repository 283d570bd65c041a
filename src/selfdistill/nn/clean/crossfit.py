"""K-fold cross-fitting of the noisy-label methods: out-of-fold probabilities for every sample.

Every sample is judged by a model that never trained on its label: the samples are split into
``folds`` stratified folds, and for each (method, fold) a network trains with the method on the
other folds and predicts the held-out fold. Inside an ``sd-margin`` training a stratified 10 % of
the training folds is the NOISY validation split it switches on (given labels; the held-out fold
is never looked at). The (method, fold) trainings are one sweep of
:func:`selfdistill.execution.run_sweep`: serial, ``--jobs`` processes or Ray, each finished
training stored under ``store`` so that a rerun resumes; a training's specification holds the
SHA-256 of the inputs and of the labels, so a run with other labels (``--corrections``) never
reuses them.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...datasets.splits import standardisation, stratified_split
from ...execution import Execution, run_sweep
from ..noisy.config import NoisyConfig, config_from_spec, config_spec
from ..noisy.registry import get_method, method_names
from ..noisy.runner import make_method_loss, method_context
from ..training.loop import fit, predict_logits
from ..training.seeds import derive_seed

__all__ = [
    "VAL_FRACTION",
    "check_folds",
    "clean_methods",
    "crossfit",
    "fold_indices",
    "fold_run",
    "scaled",
    "train_network",
]

#: the fraction of a training's samples held out as its NOISY validation split
VAL_FRACTION = 0.1


def clean_methods() -> tuple[str, ...]:
    """The methods cross-fitting can train: the registered loss rules (``early-stop`` is ``ce``
    selected on a validation split, and a data rule runs trainings of its own)."""
    return tuple(m for m in method_names() if get_method(m).kind == "loss" and m != "early-stop")


def check_folds(y: np.ndarray, folds: int, class_names: Sequence[str], flag: str = "folds") -> None:
    """ValueError (one line) when ``folds`` is below 2 or a class has fewer samples than folds."""
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise ValueError(f"{flag} must be an integer >= 2, got {folds!r}")
    counts = np.bincount(np.asarray(y), minlength=len(class_names))
    small = [(class_names[j], int(c)) for j, c in enumerate(counts) if 0 < c < folds]
    if small:
        name, count = min(small, key=lambda p: p[1])
        fix = (
            f"use {flag} {count} or fewer, or add samples"
            if count >= 2
            else "add samples of that class (cross-fitting needs at least 2 per class)"
        )
        raise ValueError(
            f"class {name!r} has {count} sample{'s' if count != 1 else ''}, fewer than "
            f"{flag} {folds} (each fold needs one); {fix}"
        )


def fold_indices(y: np.ndarray, folds: int, seed: int) -> list[np.ndarray]:
    """The held-out indices of each of ``folds`` stratified folds (seeded)."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=derive_seed(seed, 7))
    return [held for _, held in splitter.split(np.zeros(len(y)), y)]


def scaled(x: np.ndarray) -> np.ndarray:
    """Inputs as float32, uint8 images scaled to [0, 1] (as the loaders do)."""
    x = np.asarray(x)
    return x.astype(np.float32) / np.float32(255.0 if x.dtype == np.uint8 else 1.0)


def train_network(
    method: str,
    x: np.ndarray,
    y: np.ndarray,
    config: NoisyConfig,
    seed: int,
    num_classes: int,
) -> tuple[nn.Module, tuple[np.ndarray, np.ndarray], dict[str, np.ndarray]]:
    """Train one network with ``method`` on ``(x, y)`` (raw inputs, class indices).

    For a method that switches on the noisy validation accuracy (its loss has ``callbacks``:
    ``sd-margin``), a stratified :data:`VAL_FRACTION` of the samples is that NOISY validation
    split (``noisyval`` of :func:`~selfdistill.nn.fit`'s metrics); every other method trains on
    every sample. The inputs are standardised with the training part's statistics. Returns the
    network, the ``(mean, std)`` of the [0, 1]-scaled inputs and the ``train`` / ``val``
    indices.
    """
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64))
    loss_fn = make_method_loss(method, config, 0.0, method_context(config, 0.0, yt, num_classes))
    train_idx, val_idx = np.arange(len(y)), np.zeros(0, dtype=np.int64)
    if getattr(loss_fn, "callbacks", ()):  # a switch on the noisy validation accuracy
        rng = np.random.default_rng(derive_seed(seed, 11))
        train_idx, val_idx = stratified_split(np.asarray(y), VAL_FRACTION, rng)
    xs = scaled(x)
    mean, std = standardisation(xs[train_idx])
    xs = torch.from_numpy(np.ascontiguousarray((xs - mean) / std, dtype=np.float32))
    x_tr, y_tr = xs[train_idx], yt[train_idx]
    context = method_context(config, 0.0, y_tr, num_classes, seed)
    loss_fn = make_method_loss(method, config, 0.0, context)
    model = config.network.build(tuple(xs.shape[1:]), num_classes, seed)
    eval_sets = {"noisyval": (xs[val_idx], yt[val_idx])} if len(val_idx) else {}
    fit(
        model, x_tr, y_tr, config.train_config(seed), loss_fn=loss_fn, eval_sets=eval_sets,
        callbacks=list(getattr(loss_fn, "callbacks", ())),
    )  # fmt: skip
    return model.eval(), (mean, std), {"train": train_idx, "val": val_idx}


def fold_run(spec: dict[str, Any], x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """One training of the sweep: ``spec["method"]`` on every fold but ``spec["fold"]``; the
    held-out fold's probabilities ``{"index": [...], "proba": [[...], ...]}``."""
    config = config_from_spec(spec["config"])
    folds = fold_indices(y, int(spec["folds"]), int(spec["seed"]))
    held = folds[int(spec["fold"])]
    keep = np.setdiff1d(np.arange(len(y)), held)
    seed = derive_seed(int(spec["seed"]), int(spec["fold"]))
    k = int(spec["num_classes"])
    model, (mean, std), _ = train_network(spec["method"], x[keep], y[keep], config, seed, k)
    inputs = torch.from_numpy(np.ascontiguousarray((scaled(x[held]) - mean) / std))
    logits = predict_logits(model, inputs, device=config.budget.device)
    proba = torch.softmax(logits.double(), dim=1).numpy()
    return {"index": held.tolist(), "proba": proba.tolist()}


def _sha256(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(str((a.dtype.str, a.shape)).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def crossfit(
    x: np.ndarray,
    y: np.ndarray,
    config: NoisyConfig,
    methods: Sequence[str],
    *,
    folds: int,
    seed: int,
    num_classes: int,
    execution: Execution | None = None,
    store: str | Path | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """The out-of-fold probabilities ``(n, num_classes)`` of each method (``len(methods) ×
    folds`` trainings, one sweep; see the module docstring)."""
    base = {
        "folds": folds, "seed": seed, "num_classes": num_classes, "config": config_spec(config),
        "inputs_sha256": _sha256(x), "labels_sha256": _sha256(np.asarray(y, dtype=np.int64)),
    }  # fmt: skip
    specs = [{**base, "method": m, "fold": f} for m in methods for f in range(folds)]
    fn = functools.partial(fold_run, x=x, y=np.asarray(y, dtype=np.int64))
    results = run_sweep(
        fn, specs, execution=execution, store=None if store is None else Path(store),
        progress=progress, desc="clean", name=lambda s: f"({s['method']}, fold {s['fold']})",
    )  # fmt: skip
    out = {m: np.zeros((len(y), num_classes)) for m in methods}
    for spec, result in zip(specs, results, strict=True):
        out[spec["method"]][np.asarray(result["index"], dtype=np.int64)] = result["proba"]
    return out
