"""The bridge from a network to the kernel theory: self-distillation on its empirical NTK.

In the NTK regime a network trained by gradient descent on the squared loss behaves like kernel
regression with its Neural Tangent Kernel (Borup & Andersen appendix C; Mobahi et al. section 5;
Dong et al. section 2.3). :class:`NTKKernelRidge` takes a network as it is (at initialisation or
after training), computes its empirical NTK on the training inputs, and fits
:class:`selfdistill.SelfDistilledKernelRidge` with ``kernel="precomputed"`` on it, so that the
closed-form theory (steps, α, the optimal α of Borup Thm 4.4, collapse) can be read off *before*
training a chain of networks, and set beside that chain's measured behaviour.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..kernel.ridge import SelfDistilledKernelRidge
from .empirical import empirical_ntk

__all__ = ["NTKKernelRidge"]


class NTKKernelRidge:
    """:class:`~selfdistill.SelfDistilledKernelRidge` on a network's empirical NTK.

    Parameters
    ----------
    model
        The network; a copy in evaluation mode is taken at :meth:`fit`, so later training of
        ``model`` does not change the kernel. The Jacobian is taken with respect to the
        parameters with ``requires_grad=True`` (all of them if none is).
    mode
        Kernel of the network's outputs: ``"trace"`` (Σ_c Θ_cc, the default; a scalar kernel
        shared by all outputs) or an output index.
    chunk_size, device, strategy
        Passed to :func:`~selfdistill.ntk.empirical_ntk`.
    **params
        Parameters of :class:`~selfdistill.SelfDistilledKernelRidge` (``lam``, ``epsilon``,
        ``steps``, ``alpha``); ``kernel`` is always ``"precomputed"``.

    Attributes
    ----------
    estimator_
        The fitted :class:`~selfdistill.SelfDistilledKernelRidge` (its ``X_fit_`` is the Gram
        matrix of the training inputs).
    gram_
        The (n, n) training Gram matrix Θ(x_train, x_train), float64.
    num_classes_
        C when integer class labels were one-hot encoded, else None.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 2))
    >>> x, y = torch.randn(20, 3), torch.arange(20) % 2
    >>> ntk_krr = NTKKernelRidge(net, lam=1.0, steps=3).fit(x, y)
    >>> len(ntk_krr.staged_accuracy(x, y))
    3
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        mode: str | int = "trace",
        chunk_size: int | None = None,
        device: str | torch.device | None = None,
        strategy: str = "auto",
        **params: Any,
    ) -> None:
        if "kernel" in params:
            raise ValueError("kernel is always 'precomputed' in NTKKernelRidge; do not pass it")
        if mode == "full":
            raise ValueError("mode must give a scalar kernel: 'trace' or an output index")
        self.model = model
        self.mode = mode
        self.chunk_size = chunk_size
        self.device = device
        self.strategy = strategy
        self.params = params

    def _ntk(self, x1: Tensor, x2: Tensor | None = None) -> np.ndarray:
        theta = empirical_ntk(
            self.model_,
            x1,
            x2,
            mode=self.mode,
            chunk_size=self.chunk_size,
            device=self.device,
            strategy=self.strategy,
        )
        return theta.detach().cpu().double().numpy()

    def _targets(self, name: str, y: Tensor | np.ndarray, n: int) -> np.ndarray:
        y_arr = y.detach().cpu().numpy() if isinstance(y, Tensor) else np.asarray(y)
        if y_arr.shape[0] != n:
            raise ValueError(f"{name} must have one row per input ({n}), got {y_arr.shape}")
        if y_arr.ndim == 1 and np.issubdtype(y_arr.dtype, np.integer):
            if self.num_classes_ is None:
                return y_arr.astype(np.float64)
            if y_arr.min() < 0 or y_arr.max() >= self.num_classes_:
                raise ValueError(
                    f"{name} as class labels must lie in [0, {self.num_classes_ - 1}] "
                    f"(the network's outputs)"
                )
            return np.eye(self.num_classes_)[y_arr]
        return y_arr.astype(np.float64)

    def fit(
        self,
        x_train: Tensor,
        y_train: Tensor | np.ndarray,
        x_val: Tensor | None = None,
        y_val: Tensor | np.ndarray | None = None,
    ) -> NTKKernelRidge:
        """Compute Θ(x_train, x_train) (and Θ(x_val, x_train)) and fit the estimator.

        Integer class labels (n,) are one-hot encoded with the network's C ≥ 2 outputs (the
        multi-class setting of Borup section 3.6); float targets are used as they are.
        ``x_val, y_val`` are needed by ``alpha="optimal"`` (Borup Algorithm 1).
        """
        self.model_ = copy.deepcopy(self.model).eval()
        if not any(p.requires_grad for p in self.model_.parameters()):  # e.g. a frozen teacher
            self.model_.requires_grad_(True)
        with torch.no_grad():
            device = next(self.model_.parameters()).device
            outputs = self.model_(torch.as_tensor(x_train[:1]).to(device))
        c = outputs.reshape(outputs.shape[0], -1).shape[1]
        self.num_classes_ = c if c >= 2 else None
        n = len(x_train)
        y = self._targets("y_train", y_train, n)
        self.gram_ = self._ntk(x_train)
        val: tuple[np.ndarray, np.ndarray] | tuple[None, None] = (None, None)
        if x_val is not None or y_val is not None:
            if x_val is None or y_val is None:
                raise ValueError("x_val and y_val must be given together")
            val = (self._ntk(x_val, x_train), self._targets("y_val", y_val, len(x_val)))
        self.estimator_ = SelfDistilledKernelRidge(kernel="precomputed", **self.params)
        self.estimator_.fit(self.gram_, y, *val)
        self._x_train = x_train
        return self

    def kernel(self, x: Tensor) -> np.ndarray:
        """Θ(x, x_train): the (m, n) block that ``predict`` of a precomputed kernel takes."""
        if not hasattr(self, "estimator_"):
            raise ValueError("NTKKernelRidge is not fitted: call fit first")
        return self._ntk(x, self._x_train)

    def predict(self, x: Tensor, step: int | None = None) -> np.ndarray:
        """Predictions of step ``step`` (default the last) at inputs ``x``."""
        return self.estimator_.predict(self.kernel(x), step=step)

    def staged_predict(self, x: Tensor) -> Iterator[np.ndarray]:
        """Predictions of steps 1..steps at inputs ``x`` from one kernel block."""
        return self.estimator_.staged_predict(self.kernel(x))

    def staged_accuracy(self, x: Tensor, y: Tensor | np.ndarray) -> list[float]:
        """Classification accuracy of every step: argmax of the C outputs (sign for one)."""
        labels = y.detach().cpu().numpy() if isinstance(y, Tensor) else np.asarray(y)
        out = []
        for pred in self.staged_predict(x):
            guess = pred.argmax(axis=1) if pred.ndim == 2 else np.where(pred >= 0, 1, -1)
            truth = labels.argmax(axis=1) if labels.ndim == 2 else labels
            out.append(float(np.mean(guess == truth)))
        return out
