"""Empirical Neural Tangent Kernel and Anisotropic Information Retrieval (torch extra).

- :func:`empirical_ntk` — Θ(x1, x2) = J(x1) J(x2)ᵀ of any ``nn.Module`` (Dong et al. sec. 2.3).
- :func:`ntk_eigh`, :func:`label_energy`, :func:`information_gain` — the spectral lens of Dong et
  al. sections 2.3 and 3.5 (label energy in the top-k NTK eigenspaces, information gain).
- :class:`LabelEnergyCallback` — records those energies during :func:`selfdistill.nn.fit`.
- :class:`NTKKernelRidge` — self-distilled kernel ridge regression on a network's NTK.
"""

from __future__ import annotations

from .bridge import NTKKernelRidge
from .callback import LabelEnergyCallback
from .empirical import STRATEGIES, NTKCost, empirical_ntk, ntk_cost
from .spectral import information_gain, label_energy, ntk_eigh

__all__ = [
    "STRATEGIES",
    "LabelEnergyCallback",
    "NTKCost",
    "NTKKernelRidge",
    "empirical_ntk",
    "information_gain",
    "label_energy",
    "ntk_cost",
    "ntk_eigh",
]
