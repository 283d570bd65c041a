"""SelfDistillationClassifier: scikit-learn's estimator checks, pipelines, CleanLearning."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from selfdistill.nn import SelfDistillationClassifier

FAST = {"epochs": 5, "width": 16, "batch_size": 32, "device": "cpu"}


def test_scikit_learn_estimator_checks() -> None:
    """Every check passes; none is listed as an expected failure."""
    results = check_estimator(SelfDistillationClassifier(**FAST), on_fail=None)
    bad = [r for r in results if r["status"] not in ("passed", "skipped")]
    assert not bad, [(r["check_name"], str(r["exception"])[:200]) for r in bad]
    assert sum(r["status"] == "passed" for r in results) > 40


def _data(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.array(["a", "b", "c"])[np.arange(n) % 3]
    centres = {"a": [0, 0], "b": [4, 0], "c": [0, 4]}
    x = np.array([centres[v] for v in y]) + rng.normal(0, 0.6, (n, 2))
    return x, y


def test_fits_predicts_and_is_deterministic() -> None:
    x, y = _data()
    for method in ("sd-margin", "elr", "gce", "ce", "sd"):
        clf = SelfDistillationClassifier(method, **{**FAST, "epochs": 20}).fit(x, y)
        assert list(clf.classes_) == ["a", "b", "c"] and clf.score(x, y) > 0.9, method
    again = clone(clf).fit(x, y)
    np.testing.assert_array_equal(again.predict_proba(x), clf.predict_proba(x))


def test_in_cross_val_predict_pipeline_and_grid_search() -> None:
    x, y = _data()
    proba = cross_val_predict(SelfDistillationClassifier(**FAST), x, y, cv=3,
                              method="predict_proba")  # fmt: skip
    assert proba.shape == (120, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    pipe = make_pipeline(StandardScaler(), SelfDistillationClassifier(**FAST)).fit(x, y)
    assert pipe.score(x, y) > 0.8
    grid = GridSearchCV(SelfDistillationClassifier(**FAST), {"method": ["ce", "gce"]}, cv=2)
    assert grid.fit(x, y).best_params_["method"] in ("ce", "gce")


def test_bad_method_and_one_class() -> None:
    x, y = _data(30)
    with pytest.raises(ValueError, match="method"):
        SelfDistillationClassifier("confident-learning", **FAST).fit(x, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SelfDistillationClassifier(**FAST).fit(x, np.zeros(30))


def test_cleanlab_clean_learning() -> None:
    cleanlab = pytest.importorskip("cleanlab.classification")
    x, y = _data(150, seed=3)
    y_noisy = y.copy()
    y_noisy[:10] = np.where(y[:10] == "a", "b", "a")
    codes = np.searchsorted(np.array(["a", "b", "c"]), y_noisy)
    clf = SelfDistillationClassifier(**{**FAST, "epochs": 20})
    learner = cleanlab.CleanLearning(clf, cv_n_folds=3)
    learner.fit(x, codes)
    issues = learner.get_label_issues()
    assert len(issues) == 150 and issues["is_label_issue"][:10].mean() > 0.5
