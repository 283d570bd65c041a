"""Nyström CV from one pass against brute-force per-fold fits with explicit solves (issue 25).

Reference per split and candidate: the explicit Nyström Gram matrix of the training rows
(shared centres), a loop of explicit solves, validation predictions, and the score computed on
them with scikit-learn's metric. The one-pass scores (sums, never the validation rows) must
agree to 1e-8 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mean_squared_error, r2_score, root_mean_squared_error
from sklearn.model_selection import KFold, PredefinedSplit, ShuffleSplit

from selfdistill.kernel.functions import kernel_matrix
from selfdistill.kernel.nystrom import select_centres
from selfdistill.kernel.nystrom_cv import fold_labels, nystrom_cv_scores
from selfdistill.kernel.nystrom_fit import fit_from_statistics, fit_nystrom

METRICS = {
    None: lambda y, f: -mean_squared_error(y, f),
    "neg_root_mean_squared_error": lambda y, f: -root_mean_squared_error(y, f),
    "r2": r2_score,
}


def problem(n=240, q=2, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Y = np.c_[np.sin(X[:, 0]), np.cos(X[:, 1])][:, :q] + 0.3 * rng.normal(size=(n, q))
    return X, Y


def brute_fold_predictions(X, Y, tr, te, C, ka, lams, alphas, T):
    """Yield (lam index, alpha index, step index, validation predictions) by explicit solves."""
    pinv = np.linalg.pinv(kernel_matrix(C, **ka), hermitian=True)
    Ktr, Kte = kernel_matrix(X[tr], C, **ka), kernel_matrix(X[te], C, **ka)
    Kt, Kv = Ktr @ pinv @ Ktr.T, Kte @ pinv @ Ktr.T
    for li, lam in enumerate(lams):
        for ai, a0 in enumerate(alphas):
            prev = Y[tr]
            for t in range(T):
                a = 1.0 if t == 0 else a0
                c = np.linalg.solve(Kt + lam * np.eye(len(tr)), a * Y[tr] + (1 - a) * prev)
                prev = Kt @ c
                yield li, ai, t, Kv @ c


def brute_scores(X, Y, splits, C, kas, lams, alphas, T, scoring):
    out = np.empty((len(splits), len(kas), len(lams), len(alphas), T))
    for f, (tr, te) in enumerate(splits):
        for g, ka in enumerate(kas):
            for li, ai, t, F in brute_fold_predictions(X, Y, tr, te, C, ka, lams, alphas, T):
                out[f, g, li, ai, t] = METRICS[scoring](Y[te], F)
    return out


@pytest.mark.parametrize("scoring", [None, "neg_root_mean_squared_error", "r2"])
@pytest.mark.parametrize(
    "cv",
    [
        KFold(4, shuffle=True, random_state=0),
        PredefinedSplit(np.r_[np.full(40, -1), np.arange(200) % 3]),  # 40 rows always train
    ],
    ids=["kfold", "predefined"],
)
def test_one_pass_scores_equal_brute_force_fits(scoring, cv):
    X, Y = problem()
    splits = list(cv.split(X))
    C = select_centres(X, 30, 0)
    kas = [
        {"kernel": "rbf", "gamma": g, "degree": 3, "coef0": 1, "kernel_params": None}
        for g in (0.2, 1.0)
    ]
    lams, alphas, T = (1e-3, 0.1, 3.0), (0.0, 0.4, 1.0), 4
    ours, _ = nystrom_cv_scores(
        X, Y, splits, centres=C, kernel_args=kas, lams=lams, alphas=alphas, max_steps=T,
        scoring=scoring, block_size=33,
    )  # fmt: skip
    ref = brute_scores(X, Y, splits, C, kas, lams, alphas, T, scoring)
    np.testing.assert_allclose(ours, ref, rtol=1e-8)


def test_the_cv_pass_totals_refit_without_another_pass():
    """The accumulators a CV returns hold all rows: the refit from them equals a fresh fit."""
    X, Y = problem(q=1)
    C = select_centres(X, 30, 0)
    ka = {"kernel": "rbf", "gamma": 0.5, "degree": 3, "coef0": 1, "kernel_params": None}
    splits = list(KFold(3).split(X))
    _, accs = nystrom_cv_scores(
        X, Y, splits, centres=C, kernel_args=[ka], lams=(0.1,), alphas=(0.5,), max_steps=3
    )
    kw = {"lam": 0.1, "epsilon": None, "steps": 3, "alphas": np.r_[np.nan, 0.5, 0.5]}
    refit = fit_from_statistics(accs[0], mode="fixed", **kw)
    fresh = fit_nystrom(X, Y, n_components=30, kernel_args=ka, mode="fixed", random_state=0, **kw)
    np.testing.assert_allclose(refit.coefs, fresh.coefs, rtol=1e-9, atol=1e-12)


def test_fold_labels_need_disjoint_tests_and_complementary_training():
    X, _ = problem(n=50)
    labels, groups = fold_labels(list(KFold(5).split(X)), 50)
    assert groups == 5 and np.array_equal(np.bincount(labels), [10] * 5)
    with pytest.raises(ValueError, match="disjoint test parts"):
        fold_labels(list(ShuffleSplit(3, test_size=0.5, random_state=0).split(X)), 50)
    shrunk = [(tr[:-1], te) for tr, te in KFold(5).split(X)]
    with pytest.raises(ValueError, match="all rows outside its test part"):
        fold_labels(shrunk, 50)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_accuracy_from_a_second_pass_equals_brute_force_fits(n_classes):
    """Accuracy cannot come from sums: the second pass scores each row with its fold's fit."""
    from sklearn.model_selection import StratifiedKFold

    from selfdistill.kernel.classifier import encode_labels, scores_to_labels

    rng = np.random.default_rng(5)
    X = rng.normal(size=(210, 3))
    y = np.digitize(
        X[:, 0] + 0.5 * X[:, 1] + 0.4 * rng.normal(size=210), [-0.5, 0.5][: n_classes - 1]
    )
    classes, Y = encode_labels(y)
    splits = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    C = select_centres(X, 25, 0)
    ka = {"kernel": "rbf", "gamma": 0.5, "degree": 3, "coef0": 1, "kernel_params": None}
    lams, alphas, T = (1e-2, 1.0), (0.0, 0.5), 3
    ours, _ = nystrom_cv_scores(
        X, Y, splits, centres=C, kernel_args=[ka], lams=lams, alphas=alphas, max_steps=T,
        scoring="accuracy", y_labels=y, classes=classes, block_size=40,
    )  # fmt: skip
    for f, (tr, te) in enumerate(splits):
        for li, ai, t, F in brute_fold_predictions(X, Y, tr, te, C, ka, lams, alphas, T):
            acc = np.mean(scores_to_labels(F, classes) == y[te])
            assert ours[f, 0, li, ai, t] == pytest.approx(acc, abs=1e-12)
