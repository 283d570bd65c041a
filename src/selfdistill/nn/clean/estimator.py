"""``SelfDistillationClassifier``: a torch network trained with a noisy-label method, as a
scikit-learn classifier.

It fits in ``cross_val_predict``, ``Pipeline``, ``GridSearchCV`` and cleanlab's
``CleanLearning`` like any scikit-learn classifier: ``fit(X, y)`` trains the network of
:class:`~selfdistill.nn.models.ModelSpec` with ``method`` (``sd-margin`` by default: Dong et
al.'s target with a temporal-ensemble teacher, :mod:`selfdistill.nn.noisy.margin`) on the
standardised inputs; ``predict_proba`` is the softmax of its logits. Every setting is an
``__init__`` parameter (``get_params`` / ``set_params`` / ``clone``), and a fit is seeded by
``random_state``, so refitting gives the same network.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..._util.validation import check_choice, check_int
from ..noisy.config import NoisyConfig
from ..training.loop import predict_logits
from .crossfit import clean_methods, scaled, train_network

__all__ = ["SelfDistillationClassifier"]

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
        return estimator._validate_data(*args, **kwargs)


class SelfDistillationClassifier(ClassifierMixin, BaseEstimator):
    """A network trained with a noisy-label method (default ``sd-margin``).

    Parameters
    ----------
    method
        A loss rule of :func:`selfdistill.nn.noisy.registry.method_names` (``sd-margin``,
        ``elr``, ``gce``, ``sd``, ``ce``, ``bootstrap-soft``, ``bootstrap-hard``, or a plug-in).
    model, width, depth
        The network (``mlp``; ``cnn`` / ``resnet18`` take images, ``X`` of shape
        ``(n, C·H·W)`` is then not enough: use :func:`find_label_issues`).
    epochs, batch_size, optimizer, lr, weight_decay, schedule
        The training budget (``lr=None``: the optimiser's default, SGD 0.05, Adam 0.001).
    device
        Torch device, ``"auto"`` (CUDA when available) by default.
    random_state
        Seed of the initial weights and the data order (an integer).
    margin_lam, margin_smoothing, elr_lam, gce_q
        The methods' hyper-parameters (λ and ε of ``sd-margin``, λ of ELR, q of GCE).

    Attributes
    ----------
    classes_
        The classes seen in ``fit`` (sorted).
    n_features_in_
        Number of features.
    model_
        The trained ``torch.nn.Module`` (CPU, eval mode).
    standardisation_
        ``(mean, std)`` of the training inputs.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import cross_val_predict
    >>> from selfdistill.nn import SelfDistillationClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SelfDistillationClassifier(epochs=20, width=32, device="cpu")
    >>> proba = cross_val_predict(clf, X, y, cv=3, method="predict_proba")
    >>> proba.shape
    (150, 3)
    """

    def __init__(
        self,
        method: str = "sd-margin",
        *,
        model: str = "mlp",
        width: int | None = None,
        depth: int | None = None,
        epochs: int = 40,
        batch_size: int = 128,
        optimizer: str = "sgd",
        lr: float | None = None,
        weight_decay: float = 5e-4,
        schedule: str = "cosine",
        device: str = "auto",
        random_state: int = 0,
        margin_lam: float = 3.0,
        margin_smoothing: float = 0.1,
        elr_lam: float = 3.0,
        gce_q: float = 0.7,
    ) -> None:
        self.method = method
        self.model = model
        self.width = width
        self.depth = depth
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.device = device
        self.random_state = random_state
        self.margin_lam = margin_lam
        self.margin_smoothing = margin_smoothing
        self.elr_lam = elr_lam
        self.gce_q = gce_q

    def _config(self) -> NoisyConfig:
        keys = ("model", "width", "depth", "epochs", "batch_size", "optimizer", "lr",
                "weight_decay", "schedule", "device", "margin_lam", "margin_smoothing",
                "elr_lam", "gce_q")  # fmt: skip
        return NoisyConfig(**{k: getattr(self, k) for k in keys})

    def fit(self, X: Any, y: Any) -> SelfDistillationClassifier:
        """Train the network on ``(X, y)``; returns ``self``."""
        X, y = _validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        check_choice("method", self.method, clean_methods())
        seed = check_int("random_state", self.random_state, low=0)
        config = self._config()
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y holds 1 class ({self.classes_[0]!r}); the classifier needs at least 2 classes"
            )
        model, stats, _ = train_network(self.method, X, codes, config, seed, len(self.classes_))
        self.model_, self.standardisation_ = model.cpu().eval(), stats
        self._device = config.budget.device
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, len(classes_))``: the softmax of the network's logits."""
        check_is_fitted(self, "model_")
        X = _validate_data(self, X, reset=False, dtype=np.float64)
        mean, std = self.standardisation_
        inputs = torch.from_numpy(np.ascontiguousarray((scaled(X) - mean) / std, np.float32))
        logits = predict_logits(self.model_, inputs, device=self._device)
        self.model_.cpu()
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample (one of ``classes_``)."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
