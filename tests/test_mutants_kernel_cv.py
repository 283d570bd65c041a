"""Tests that kill surviving mutants of ``selfdistill.kernel_cv`` (scripts/mutation.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from selfdistill import (
    SelfDistilledKernelClassifier,
    SelfDistilledKernelClassifierCV,
    SelfDistilledKernelRidgeCV,
)

rng = np.random.default_rng(3)
X = rng.normal(size=(40, 2))
y = X[:, 0] + 0.1 * rng.normal(size=40)
yb = (X[:, 0] + 0.4 * rng.normal(size=40) > 0).astype(int)


def test_default_cv_is_five_folds() -> None:
    """The documented default ``cv=5`` (mutant: 5 -> 6)."""
    est = SelfDistilledKernelRidgeCV(lams=[0.1], alphas=[0.5], max_steps=2).fit(X, y)
    assert est.cv == 5
    assert "split4_test_score" in est.cv_results_ and "split5_test_score" not in est.cv_results_


@pytest.mark.parametrize("cv", ["folds", 1.5, object()])
def test_a_bad_cv_is_a_value_error_naming_it(cv: object) -> None:
    """Mutant: the ``raise`` for an unusable ``cv`` deleted."""
    with pytest.raises(ValueError, match="cv must be"):
        SelfDistilledKernelRidgeCV(lams=[0.1], alphas=[0.5], max_steps=2, cv=cv).fit(X, y)


def test_binary_roc_auc_uses_the_single_decision_column() -> None:
    """A binary classifier's decision values are its one ±1 column (mutant: column 0 -> 1)."""
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    grid = {"gamma": [0.5], "lam": [0.05, 1.0], "alpha": [0.0, 0.5], "steps": [1, 2]}
    ours = SelfDistilledKernelClassifierCV(
        gammas=[0.5], lams=[0.05, 1.0], alphas=[0.0, 0.5], max_steps=2, cv=cv, scoring="roc_auc"
    ).fit(X, yb)
    ref = GridSearchCV(SelfDistilledKernelClassifier(), grid, cv=cv, scoring="roc_auc").fit(X, yb)
    got = {
        tuple(sorted(p.items())): s
        for p, s in zip(
            ours.cv_results_["params"], ours.cv_results_["mean_test_score"], strict=True
        )
    }
    for p, s in zip(ref.cv_results_["params"], ref.cv_results_["mean_test_score"], strict=True):
        assert got[tuple(sorted(p.items()))] == pytest.approx(s, rel=1e-8)
