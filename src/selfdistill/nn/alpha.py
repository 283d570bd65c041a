"""Closed-form α̂ of a self-distillation step, for networks (Borup & Andersen eq. 16, sec. 5).

The functions are torch-free and live in :mod:`selfdistill.alpha`; this module re-exports them
under their historical path ``selfdistill.nn.alpha``.
"""

from __future__ import annotations

from ..alpha import combined_prediction, one_hot, optimal_alpha, validation_sq_error

__all__ = ["combined_prediction", "one_hot", "optimal_alpha", "validation_sq_error"]
