"""Finding the wrong labels of a data set (``selfdistill clean``), each judged out of sample.

``flags``
    the flag rule: how many labels are wrong (a confident-joint count) and which (the highest
    ``1 − p_given``).
``crossfit``
    K-fold cross-fitting of the noisy-label methods over the sweep executor.
``issues``
    :func:`find_label_issues` and its result :class:`LabelIssues`.
``estimator``
    :class:`SelfDistillationClassifier`, a network trained with a noisy-label method as a
    scikit-learn classifier.
"""

from __future__ import annotations

from .estimator import SelfDistillationClassifier
from .issues import DEFAULT_FOLDS, DEFAULT_METHODS, LabelIssues, find_label_issues

__all__ = [
    "DEFAULT_FOLDS",
    "DEFAULT_METHODS",
    "LabelIssues",
    "SelfDistillationClassifier",
    "find_label_issues",
]
