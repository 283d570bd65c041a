"""selfdistill: self-distillation in closed form for kernels and as recipes for networks.

The top-level package is torch-free: kernel self-distillation (:class:`SelfDistilledKernelRidge`,
:class:`SelfDistilledKernelClassifier` and their model selection
:class:`SelfDistilledKernelRidgeCV`, :class:`SelfDistilledKernelClassifierCV`),
the theory toolkit (:mod:`selfdistill.theory`) and label corruption (:func:`corrupt_labels`).
The PyTorch parts live in :mod:`selfdistill.nn` and :mod:`selfdistill.ntk` (``selfdistill[torch]``).
"""

from __future__ import annotations

from .exceptions import CollapseWarning
from .kernel_classifier import SelfDistilledKernelClassifier
from .kernel_cv import SelfDistilledKernelClassifierCV, SelfDistilledKernelRidgeCV
from .kernel_ridge import SelfDistilledKernelRidge
from .noise import corrupt_labels

__version__ = "0.1.0"

__all__ = [
    "CollapseWarning",
    "SelfDistilledKernelClassifier",
    "SelfDistilledKernelClassifierCV",
    "SelfDistilledKernelRidge",
    "SelfDistilledKernelRidgeCV",
    "__version__",
    "corrupt_labels",
]
