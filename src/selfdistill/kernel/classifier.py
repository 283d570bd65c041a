"""Self-distilled kernel classification: per-class kernel ridge on ±1 targets (Mobahi sec. 3.6).

Mobahi et al. (2020) section 3.6 extend self-distillation to ``K`` classes by fitting one
regression per output column of one-hot targets; Borup & Andersen (2021) section 5 share ``alpha``
over the columns. :class:`SelfDistilledKernelClassifier` encodes the labels with
:class:`sklearn.preprocessing.LabelBinarizer` ``(neg_label=-1, pos_label=1)``: one column per class
holding ``+1`` for the class and ``-1`` otherwise, and a single ``±1`` column for two classes
(``+1`` = ``classes_[1]``). Symmetric ``±1`` codes suit a model without intercept better than
``0/1`` (the ridge shrinks every score towards 0, the decision boundary). The columns are fitted by
one :class:`~selfdistill.SelfDistilledKernelRidge`, and the predicted class is the column of
largest score (the sign of the one score for two classes). There is no ``predict_proba``: the
scores are regression outputs, not probabilities.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._util.validation import check_numeric_columns
from .nystrom_estimator import check_nystrom_params, validate_nystrom_input
from .ridge import SelfDistilledKernelParams, SelfDistilledKernelRidge

__all__ = ["SelfDistilledKernelClassifier", "pm_one_targets", "scores_to_labels"]


def pm_one_targets(y: np.ndarray, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Classes and the ``±1`` one-vs-rest targets of labels ``y`` (one column per class; one for
    two classes): what each ridge output of the classifier fits (Mobahi sec. 3.6).

    Not to be confused with :func:`selfdistill.datasets.user_files.encode_labels`, which maps a
    data file's labels to class indices ``0 .. K-1``.

    Raises
    ------
    ValueError
        Naming ``name`` when ``y`` holds fewer than two classes.
    """
    binarizer = LabelBinarizer(neg_label=-1, pos_label=1).fit(y)
    classes = binarizer.classes_
    if classes.shape[0] < 2:
        raise ValueError(
            f"{name} must contain at least two classes, got one class: {classes.tolist()[0]!r}"
        )
    return classes, binarizer.transform(y).astype(np.float64)


def scores_to_labels(scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Labels from scores of shape ``(..., q)``: argmax, or ``score > 0`` when ``q = 1``."""
    if scores.shape[-1] == 1:
        return classes[(scores[..., 0] > 0).astype(np.intp)]
    return classes[np.argmax(scores, axis=-1)]


class SelfDistilledKernelClassifier(ClassifierMixin, SelfDistilledKernelParams):
    """Kernel classifier self-distilled for ``steps`` steps, in closed form.

    One :class:`~selfdistill.SelfDistilledKernelRidge` fitted on ``±1`` one-vs-rest targets
    (module docstring). Parameters are those of the regressor.

    Parameters
    ----------
    kernel, gamma, degree, coef0, kernel_params, lam, epsilon, steps, alpha
    n_components, block_size, dtype, random_state
        As in :class:`~selfdistill.SelfDistilledKernelRidge` (``n_components``: the Nyström
        kernel of that many centres, streamed ``X`` accepted). With ``alpha="optimal"`` the
        validation labels ``y_val`` are encoded like ``y`` and one alpha is shared by all columns
        (Borup section 5). In epsilon mode every column has its own ridge (Mobahi sec. 3.6).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``fit``, sorted.
    ridge_ : SelfDistilledKernelRidge
        The fitted regressor on the ``±1`` targets (``dual_coefs_``, ``B_``, ... live there).
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from selfdistill import SelfDistilledKernelClassifier
    >>> X = np.array([[0.0], [0.1], [0.9], [1.0]])
    >>> clf = SelfDistilledKernelClassifier(gamma=5.0, lam=0.1, steps=2)
    >>> clf = clf.fit(X, ["a", "a", "b", "b"])
    >>> clf.predict([[0.05], [0.95]]).tolist()
    ['a', 'b']
    """

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> SelfDistilledKernelClassifier:
        """Fit all ``steps`` steps on the ``±1`` encoding of ``y``.

        Parameters
        ----------
        X : array-like of shape (n, d)
            Training inputs (``(n, n)`` Gram matrix for ``kernel="precomputed"``).
        y : array-like of shape (n,)
            Class labels, at least two classes.
        X_val, y_val : array-like, optional
            Validation data for ``alpha="optimal"`` / ``"optimal-clipped"``; the labels of
            ``y_val`` must occur in ``y``.

        Returns
        -------
        self
        """
        if check_nystrom_params(self, warn=False) is None:
            check_numeric_columns(X)
            X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=1)
        else:
            X, y = validate_nystrom_input(self, X, y, classifier=True)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, Y = pm_one_targets(y)
        Yv = None
        if y_val is not None:
            yv = column_or_1d(np.asarray(y_val), warn=True)
            unseen = np.setdiff1d(yv, self.classes_)
            if unseen.size:
                raise ValueError(f"y_val holds labels not seen in y: {unseen.tolist()!r}")
            Yv = LabelBinarizer(neg_label=-1, pos_label=1).fit(self.classes_).transform(yv)
            Yv = Yv.astype(np.float64)
        params = self.get_params(deep=False)
        self.ridge_ = SelfDistilledKernelRidge(**params).fit(X, Y, X_val, Yv)
        return self

    def _scores(self, P: np.ndarray) -> np.ndarray:
        return P[:, 0] if self.classes_.shape[0] == 2 else P

    def decision_function(self, X: np.ndarray, step: int | None = None) -> np.ndarray:
        """Scores of step ``step`` (``None`` = the last): ``(n,)`` for two classes, else ``(n, k)``.

        For two classes a positive score means ``classes_[1]``.
        """
        check_is_fitted(self)
        check_numeric_columns(X)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._scores(self.ridge_.predict(X, step=step))

    def predict(self, X: np.ndarray, step: int | None = None) -> np.ndarray:
        """Class of largest score at step ``step`` (``None`` = the last)."""
        check_is_fitted(self)
        check_numeric_columns(X)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return scores_to_labels(self.ridge_.predict(X, step=step), self.classes_)

    def staged_predict(self, X: np.ndarray) -> Iterator[np.ndarray]:
        """Predicted classes of steps ``1..steps`` in order, from one kernel product."""
        check_is_fitted(self)
        check_numeric_columns(X)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        for P in self.ridge_.staged_predict(X):
            yield scores_to_labels(P, self.classes_)


def __getattr__(name: str) -> Any:
    """``encode_labels``, the old name of :func:`pm_one_targets`, for one release."""
    if name == "encode_labels":
        warnings.warn(
            "selfdistill.kernel.classifier.encode_labels is now pm_one_targets (encode_labels is "
            "the data readers' mapping of labels to 0 .. K-1); the old name works until the "
            "next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return pm_one_targets
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
