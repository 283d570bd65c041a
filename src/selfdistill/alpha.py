"""Closed-form estimate α̂ of the ground-truth weight of a self-distillation step.

Borup & Andersen (2021), Theorem 4.4 / eq. (16) and Algorithm 1, carried over to networks in their
section 5 (and appendix B) with the Euclidean norm replaced by the Frobenius norm. At step τ ≥ 2
the student is trained on ``α·Y + (1 − α)·Y^(τ−1)``. For a kernel ridge regression the validation
prediction is linear in the target, so

    Ỹ^(τ)(α) = α·Ỹ^(1) + (1 − α)·Ỹ^(τ)_{α=0},

where ``Ỹ^(1)`` are the validation predictions of the first model (trained on the labels) and
``Ỹ^(τ)_{α=0}`` those of a student trained with α = 0 (on the teacher alone). The α minimising
``‖Ỹ − Ỹ^(τ)(α)‖_F²`` over the reals is

    α̂ = 1 − ⟨Ỹ^(τ)_{α=0} − Ỹ^(1), Ỹ − Ỹ^(1)⟩_F / ‖Ỹ^(τ)_{α=0} − Ỹ^(1)‖_F².

For a network the linearity holds only approximately (wide networks, NTK regime); the estimate
then costs one extra fit per step, 2(τ − 1) + 1 fits for τ steps instead of the g(τ − 1) + 1 of a
grid search over g values.

This module is torch-free (NumPy only; the core package below :mod:`selfdistill.nn`): it accepts
NumPy arrays and anything ``numpy.asarray`` converts (CPU torch tensors included). Eq. (16) itself
is :func:`selfdistill.kernel.spectral.optimal_alpha`, shared with the kernel estimator; this module
adds the shape and finiteness checks and the helpers around it. :mod:`selfdistill.alpha` re-exports
these names.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .kernel import spectral

__all__ = ["combined_prediction", "one_hot", "optimal_alpha", "validation_sq_error"]


def _as_matrix(name: str, value: ArrayLike) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty (m, p) matrix, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must contain only finite values")
    return array


def one_hot(labels: ArrayLike, num_classes: int) -> np.ndarray:
    """One-hot encode integer labels in ``[0, num_classes)`` as a float64 (m, num_classes) matrix.

    Borup & Andersen, footnote 13: class labels are treated as p-dimensional one-hot vectors.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if num_classes < 1 or (labels.size and (labels.min() < 0 or labels.max() >= num_classes)):
        raise ValueError(f"labels must lie in [0, {num_classes - 1}]")
    out = np.zeros((labels.size, num_classes))
    out[np.arange(labels.size), labels] = 1.0
    return out


def combined_prediction(alpha: float, pred_first: ArrayLike, pred_alpha0: ArrayLike) -> np.ndarray:
    """``α·Ỹ^(1) + (1 − α)·Ỹ_{α=0}``: the step-τ prediction of a model linear in its targets.

    Borup & Andersen, Algorithm 1 (the expression minimised over α).
    """
    first = _as_matrix("pred_first", pred_first)
    alpha0 = _as_matrix("pred_alpha0", pred_alpha0)
    if first.shape != alpha0.shape:
        raise ValueError(f"pred_first {first.shape} and pred_alpha0 {alpha0.shape} differ in shape")
    return alpha * first + (1.0 - alpha) * alpha0


def validation_sq_error(targets: ArrayLike, predictions: ArrayLike) -> float:
    """Squared Frobenius error ``‖Ỹ − P‖_F²`` (the criterion α̂ minimises)."""
    t = _as_matrix("targets", targets)
    p = _as_matrix("predictions", predictions)
    if t.shape != p.shape:
        raise ValueError(f"targets {t.shape} and predictions {p.shape} differ in shape")
    return float(np.sum((t - p) ** 2))


def optimal_alpha(targets: ArrayLike, pred_first: ArrayLike, pred_alpha0: ArrayLike) -> float:
    """Closed-form α̂ of Borup & Andersen eq. (16), Frobenius-norm version of section 5.

    Parameters
    ----------
    targets
        Validation targets ``Ỹ`` (m, p): one-hot labels for classification (see :func:`one_hot`),
        or a vector (m,) for a scalar regression.
    pred_first
        Validation predictions ``Ỹ^(1)`` of the first-generation model (trained on the labels).
    pred_alpha0
        Validation predictions ``Ỹ^(τ)_{α=0}`` of the step-τ student trained with α = 0.

    Returns
    -------
    float
        ``α̂ = 1 − ⟨Ỹ_{α=0} − Ỹ^(1), Ỹ − Ỹ^(1)⟩_F / ‖Ỹ_{α=0} − Ỹ^(1)‖_F²``, the unconstrained
        minimiser over the reals of ``‖Ỹ − (α·Ỹ^(1) + (1 − α)·Ỹ_{α=0})‖_F²``; it may lie outside
        [0, 1] (callers that need a convex combination clip it). When the two predictions
        coincide the criterion does not depend on α and 1.0 is returned: keep the ground truth,
        since the teacher adds nothing the first model does not already predict.
    """
    y = _as_matrix("targets", targets)
    first = _as_matrix("pred_first", pred_first)
    alpha0 = _as_matrix("pred_alpha0", pred_alpha0)
    if not (y.shape == first.shape == alpha0.shape):
        raise ValueError(
            f"targets {y.shape}, pred_first {first.shape} and pred_alpha0 {alpha0.shape} "
            "must have the same shape"
        )
    return spectral.optimal_alpha(y, first, alpha0)
