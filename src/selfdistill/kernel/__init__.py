"""Kernel self-distillation in closed form (torch-free): the estimators and their spectral engine.

``functions``
    kernel evaluation (RBF, polynomial, ..., Mobahi's spline Green's function).
``spectral``
    the building blocks on the Gram spectrum: Borup's ``B^(t)`` recursion (eq. 12), the ridge of
    a step (Mobahi eq. 13), the closed-form α̂ (Borup eq. 16), the filter polynomials.
``ridge``
    :class:`SelfDistilledKernelRidge` (Borup eqs. 3-5, Mobahi eq. 1/13).
``classifier``
    :class:`SelfDistilledKernelClassifier`, one ±1 ridge output per class.
``cv``
    :class:`SelfDistilledKernelRidgeCV` / :class:`SelfDistilledKernelClassifierCV`: every
    (λ, α, steps) candidate from one eigendecomposition per fold and γ, or GCV.

The estimators are also the top-level names of :mod:`selfdistill`. Importing this package imports
none of its modules (so :mod:`selfdistill.theory`, which needs ``spectral`` only, does not pay
for scikit-learn); the names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .classifier import SelfDistilledKernelClassifier
    from .cv import SelfDistilledKernelClassifierCV, SelfDistilledKernelRidgeCV
    from .ridge import SelfDistilledKernelRidge

__all__ = [
    "SelfDistilledKernelClassifier",
    "SelfDistilledKernelClassifierCV",
    "SelfDistilledKernelRidge",
    "SelfDistilledKernelRidgeCV",
]

#: public name -> the module that defines it, imported by :func:`__getattr__` on first use
_LAZY = {
    "SelfDistilledKernelClassifier": "classifier",
    "SelfDistilledKernelClassifierCV": "cv",
    "SelfDistilledKernelRidge": "ridge",
    "SelfDistilledKernelRidgeCV": "cv",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first access (PEP 562) and cache the name here."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
