"""selfdistill: self-distillation in closed form for kernels and as recipes for networks.

The top-level package is torch-free: kernel self-distillation (:class:`SelfDistilledKernelRidge`,
:class:`SelfDistilledKernelClassifier` and their model selection
:class:`SelfDistilledKernelRidgeCV`, :class:`SelfDistilledKernelClassifierCV`),
the theory toolkit (:mod:`selfdistill.theory`) and label corruption (:func:`corrupt_labels`).
The PyTorch parts live in :mod:`selfdistill.nn` and :mod:`selfdistill.ntk` (``selfdistill[torch]``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._util import moved
from .exceptions import CollapseWarning

if TYPE_CHECKING:  # the names below are imported on first use (PEP 562): the CLI and process-pool
    # workers that never touch a kernel estimator do not pay for importing scikit-learn
    from .kernel.classifier import SelfDistilledKernelClassifier
    from .kernel.cv import SelfDistilledKernelClassifierCV, SelfDistilledKernelRidgeCV
    from .kernel.ridge import SelfDistilledKernelRidge
    from .noise import corrupt_labels

__version__ = "0.1.0"

moved.install()  # the old import paths of moved modules (selfdistill.kernel_ridge, ...) still work

__all__ = [
    "CollapseWarning",
    "SelfDistilledKernelClassifier",
    "SelfDistilledKernelClassifierCV",
    "SelfDistilledKernelRidge",
    "SelfDistilledKernelRidgeCV",
    "__version__",
    "corrupt_labels",
]

#: public name -> the submodule that defines it, imported by :func:`__getattr__` on first use
_LAZY = {
    "SelfDistilledKernelClassifier": "kernel.classifier",
    "SelfDistilledKernelClassifierCV": "kernel.cv",
    "SelfDistilledKernelRidge": "kernel.ridge",
    "SelfDistilledKernelRidgeCV": "kernel.cv",
    "corrupt_labels": "noise",
}


def __getattr__(name: str) -> Any:
    """Import a public name's submodule on first access (PEP 562) and cache the name here."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
