"""Exactness of SelfDistilledKernelRidgeCV / SelfDistilledKernelClassifierCV.

Every candidate's ``mean_test_score`` is compared with an independent computation: scikit-learn's
``GridSearchCV`` refitting :class:`SelfDistilledKernelRidge` (Cholesky path, no eigenbasis) on the
same splits with the same scorer, to 1e-8 relative. GCV is compared with the explicit smoother
matrix obtained by fitting the estimator on the identity matrix as targets.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joblib import parallel_config
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    LeaveOneOut,
    PredefinedSplit,
    ShuffleSplit,
    StratifiedKFold,
)

from selfdistill import (
    SelfDistilledKernelClassifier,
    SelfDistilledKernelClassifierCV,
    SelfDistilledKernelRidge,
    SelfDistilledKernelRidgeCV,
)
from selfdistill.kernel.spectral import b_recursion, filter_polynomials, shrink_factors

RTOL = 1e-8
rng = np.random.default_rng(7)
X = rng.normal(size=(30, 3))
y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.2 * rng.normal(size=30)
Y2 = np.c_[y, np.cos(X[:, 2]) + 0.1 * rng.normal(size=30)]
LAMS = [1e-3, 0.05, 1.0]
ALPHAS = [0.0, 0.4, 1.0]
STEPS = 4


def _grid(gammas) -> dict:
    return {"gamma": gammas, "lam": LAMS, "alpha": ALPHAS, "steps": list(range(1, STEPS + 1))}


def _compare(ours, ref) -> None:
    assert [dict(p) for p in ours.cv_results_["params"]] == [
        dict(p) for p in ref.cv_results_["params"]
    ]
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=RTOL
    )
    k = 0
    while f"split{k}_test_score" in ref.cv_results_:
        np.testing.assert_allclose(
            ours.cv_results_[f"split{k}_test_score"],
            ref.cv_results_[f"split{k}_test_score"],
            rtol=RTOL,
            atol=1e-14,
        )
        k += 1
    assert ours.n_splits_ == k
    np.testing.assert_allclose(
        ours.cv_results_["std_test_score"], ref.cv_results_["std_test_score"], rtol=1e-6, atol=1e-12
    )
    for key in ("param_gamma", "param_lam", "param_alpha", "param_steps"):
        mine, theirs = ours.cv_results_[key], ref.cv_results_[key]
        assert mine.dtype == theirs.dtype and mine.mask.shape == theirs.mask.shape
        assert not mine.mask.any()
    np.testing.assert_array_equal(
        ours.cv_results_["rank_test_score"], ref.cv_results_["rank_test_score"]
    )
    assert ours.cv_results_["rank_test_score"].dtype == np.int32  # as scikit-learn's
    assert ours.best_params_ == ref.best_params_
    assert ours.best_score_ == pytest.approx(ref.best_score_, rel=RTOL)


SPLITTERS = {
    "kfold-shuffled": KFold(4, shuffle=True, random_state=3),
    "shuffle-split": ShuffleSplit(3, test_size=0.3, random_state=0),
    "loo": LeaveOneOut(),
    "predefined": PredefinedSplit(np.arange(30) % 3),
    "iterable": [(np.arange(0, 20), np.arange(20, 30)), (np.arange(10, 30), np.arange(0, 10))],
}


@pytest.mark.parametrize("name", list(SPLITTERS))
def test_regressor_matches_grid_search_for_every_candidate(name) -> None:
    cv = SPLITTERS[name]
    scoring = "neg_mean_absolute_error" if name == "loo" else None  # r2 is undefined on 1 point
    n = 12 if name == "loo" else 30
    ours = SelfDistilledKernelRidgeCV(
        gammas=[0.2, 1.0], lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=cv, scoring=scoring
    ).fit(X[:n], y[:n])
    ref = GridSearchCV(
        SelfDistilledKernelRidge(),
        _grid([0.2, 1.0]),
        cv=cv,
        scoring=scoring or "neg_mean_squared_error",
    ).fit(X[:n], y[:n])
    _compare(ours, ref)


@pytest.mark.parametrize(
    "scoring",
    ["r2", "neg_root_mean_squared_error", "neg_mean_absolute_error", "explained_variance"],
)
def test_multi_output_and_every_scorer(scoring) -> None:
    cv = KFold(3, shuffle=True, random_state=0)
    ours = SelfDistilledKernelRidgeCV(
        gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=cv, scoring=scoring
    ).fit(X, Y2)
    ref = GridSearchCV(SelfDistilledKernelRidge(), _grid([0.5]), cv=cv, scoring=scoring).fit(X, Y2)
    _compare(ours, ref)
    assert ours.predict(X).shape == (30, 2)


def test_semi_definite_linear_kernel_n_greater_than_d() -> None:
    """Rank-3 Gram matrices on 20-point folds: the null space carries 1/lam exactly."""
    cv = KFold(3, shuffle=True, random_state=1)
    lams = [1e-6, 1e-2, 3.0]
    ours = SelfDistilledKernelRidgeCV(
        kernel="linear", lams=lams, alphas=ALPHAS, max_steps=STEPS, cv=cv
    ).fit(X, Y2)
    grid = {"lam": lams, "alpha": ALPHAS, "steps": list(range(1, STEPS + 1))}
    ref = GridSearchCV(
        SelfDistilledKernelRidge(kernel="linear"), grid, cv=cv, scoring="neg_mean_squared_error"
    ).fit(X, Y2)
    _compare_no_gamma(ours, ref)


def _compare_no_gamma(ours, ref) -> None:
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=RTOL
    )
    mine = ours.best_params_
    assert mine.pop("gamma") is None
    assert mine == ref.best_params_


def test_singular_fold_kernel_with_duplicate_rows_is_scored_never_nan() -> None:
    Xd = np.repeat(X[:10, :2], 3, axis=0)  # every point three times: rank <= 10 in 30
    yd = np.repeat(y[:10], 3) + 0.05 * rng.normal(size=30)
    cv = KFold(3, shuffle=True, random_state=2)
    for kernel in ("linear", "rbf"):
        lams = [1e-8, 1e-3, 1.0]
        ours = SelfDistilledKernelRidgeCV(
            kernel=kernel, lams=lams, alphas=ALPHAS, max_steps=STEPS, cv=cv
        ).fit(Xd, yd)
        assert np.isfinite(ours.cv_results_["mean_test_score"]).all()
        grid = {"lam": lams, "alpha": ALPHAS, "steps": list(range(1, STEPS + 1))}
        ref = GridSearchCV(
            SelfDistilledKernelRidge(kernel=kernel),
            grid,
            cv=cv,
            scoring="neg_mean_squared_error",
        ).fit(Xd, yd)
        np.testing.assert_allclose(
            ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=1e-7
        )


def test_precomputed_kernel_folds_slice_the_gram_matrix() -> None:
    K = np.exp(-0.5 * ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    cv = KFold(3)
    ours = SelfDistilledKernelRidgeCV(
        kernel="precomputed", lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=cv
    ).fit(K, y)
    rbf = SelfDistilledKernelRidgeCV(
        gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=cv
    ).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], rbf.cv_results_["mean_test_score"], rtol=1e-10
    )
    assert ours.predict(K[:5]).shape == (5,)


def test_steps_one_is_plain_kernel_ridge_and_never_beaten_by_selection() -> None:
    """tau = 1 is sklearn's KernelRidge (alpha irrelevant): best_score_ >= best plain ridge."""
    cv = KFold(5, shuffle=True, random_state=4)
    gammas = [0.1, 0.5, 2.0]
    ours = SelfDistilledKernelRidgeCV(
        gammas=gammas, lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=cv
    ).fit(X, y)
    plain = GridSearchCV(
        KernelRidge(kernel="rbf"),
        {"gamma": gammas, "alpha": LAMS},
        cv=cv,
        scoring="neg_mean_squared_error",
    ).fit(X, y)
    res = ours.cv_results_
    for g in gammas:
        for lam in LAMS:
            ref = plain.cv_results_["mean_test_score"][
                [p == {"gamma": g, "alpha": lam} for p in plain.cv_results_["params"]]
            ][0]
            mask = (res["param_gamma"] == g) & (res["param_lam"] == lam) & (res["param_steps"] == 1)
            scores = res["mean_test_score"][np.asarray(mask)]
            assert scores.size == len(ALPHAS)
            np.testing.assert_allclose(scores, ref, rtol=RTOL)  # the same for every alpha
    assert ours.best_score_ >= plain.best_score_ - 1e-12 * abs(plain.best_score_)
    # alpha = 1 with any tau is tau = 1 (the targets are y at every step)
    ones = np.asarray(res["param_alpha"] == 1.0)
    first = np.asarray(res["param_steps"] == 1)
    for g in gammas:
        for lam in LAMS:
            sel = ones & np.asarray((res["param_gamma"] == g) & (res["param_lam"] == lam))
            vals = res["mean_test_score"][sel]
            np.testing.assert_allclose(vals, vals[0], rtol=1e-12)
    assert first.sum() == len(gammas) * len(LAMS) * len(ALPHAS)


def test_int_cv_is_kfold_shuffled_with_random_state() -> None:
    ours = SelfDistilledKernelRidgeCV(
        gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=2, cv=3, random_state=11
    ).fit(X, y)
    grid = {"gamma": [0.5], "lam": LAMS, "alpha": ALPHAS, "steps": [1, 2]}
    ref = GridSearchCV(
        SelfDistilledKernelRidge(),
        grid,
        cv=KFold(3, shuffle=True, random_state=11),
        scoring="neg_mean_squared_error",
    ).fit(X, y)
    _compare(ours, ref)
    unshuffled = SelfDistilledKernelRidgeCV(
        gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=2, cv=3
    ).fit(X, y)
    ref = GridSearchCV(
        SelfDistilledKernelRidge(), grid, cv=KFold(3), scoring="neg_mean_squared_error"
    ).fit(X, y)
    _compare(unshuffled, ref)


def test_parallel_folds_give_identical_results() -> None:
    kwargs = dict(gammas=[0.3, 1.0], lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=4)
    a = SelfDistilledKernelRidgeCV(**kwargs).fit(X, y)
    with parallel_config(backend="threading"):  # loky works too; threads keep the test fast
        b = SelfDistilledKernelRidgeCV(**kwargs, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(
        a.cv_results_["mean_test_score"], b.cv_results_["mean_test_score"], rtol=1e-13
    )


def test_refit_is_the_estimator_with_best_params() -> None:
    search = SelfDistilledKernelRidgeCV(
        "poly", gammas=[0.3, 1.0], lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=4, degree=2
    ).fit(X, y)
    best = search.best_estimator_
    assert isinstance(best, SelfDistilledKernelRidge)
    p = search.best_params_
    assert (best.gamma, best.lam, best.alpha, best.steps) == (
        p["gamma"],
        p["lam"],
        p["alpha"],
        p["steps"],
    )
    assert (best.kernel, best.degree, best.coef0) == ("poly", 2, 1)
    ref = SelfDistilledKernelRidge("poly", degree=2, **p).fit(X, y)
    np.testing.assert_allclose(search.predict(X[:5]), ref.predict(X[:5]), rtol=1e-12)
    assert search.n_features_in_ == 3
    no_refit = SelfDistilledKernelRidgeCV(lams=LAMS, max_steps=2, refit=False).fit(X, y)
    assert not hasattr(no_refit, "best_estimator_")
    with pytest.raises(AttributeError, match="refit=False"):
        no_refit.predict(X)


# --------------------------------------------------------------------------- GCV
def _explicit_gcv(Xa, Ya, gamma, lam, alpha, steps) -> np.ndarray:
    """GCV of each step from the explicit n x n smoother (fit on the identity as targets)."""
    n = Xa.shape[0]
    est = SelfDistilledKernelRidge(gamma=gamma, lam=lam, alpha=alpha, steps=steps)
    est.fit(Xa, np.eye(n))
    out = []
    for S in est.staged_predict(Xa):  # S[:, j] = training predictions for targets e_j
        R = Ya - S @ Ya
        out.append(np.mean(R * R) / (1.0 - np.trace(S) / n) ** 2)
    return np.array(out)


def test_gcv_equals_the_explicit_smoother_formula() -> None:
    search = SelfDistilledKernelRidgeCV(
        gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv="gcv"
    ).fit(X, Y2)
    res = search.cv_results_
    for lam in LAMS:
        for alpha in ALPHAS:
            ref = _explicit_gcv(X, Y2, 0.5, lam, alpha, STEPS)
            sel = np.asarray((res["param_lam"] == lam) & (res["param_alpha"] == alpha))
            np.testing.assert_allclose(-res["mean_test_score"][sel], ref, rtol=1e-9)
    assert search.n_splits_ == 0 and "split0_test_score" not in res
    assert search.best_score_ == res["mean_test_score"].max()


def test_gcv_rejects_a_scorer() -> None:
    with pytest.raises(ValueError, match="scoring must be None with cv='gcv'"):
        SelfDistilledKernelRidgeCV(cv="gcv", scoring="r2", max_steps=2).fit(X, y)


# --------------------------------------------------------------------------- spectral identity
@settings(max_examples=40, deadline=None)
@given(
    d=st.lists(st.floats(0.0, 1e3), min_size=1, max_size=8),
    lam=st.floats(1e-6, 1e3),
    alpha=st.floats(0.0, 1.0),
    steps=st.integers(1, 12),
)
def test_filter_polynomials_reproduce_the_b_recursion(d, lam, alpha, steps) -> None:
    """B^(t) = A S^(t) with S^(t) = sum_j C[t, j] A^j (Borup eq. 12 unrolled)."""
    d = np.asarray(d)
    A = shrink_factors(d, lam)
    C = filter_polynomials(np.array([alpha]), steps)[0]
    powers = A[None, :] ** np.arange(steps)[:, None]  # (steps, n)
    B = A[None, :] * (C @ powers)
    ref = b_recursion(d, np.full(steps, lam), np.full(steps, alpha))
    np.testing.assert_allclose(B, ref, rtol=1e-12, atol=1e-300)


# --------------------------------------------------------------------------- classifier
Xc = rng.normal(size=(45, 2))
yc3 = np.where(Xc[:, 0] > 0.4, "c", np.where(Xc[:, 1] > 0, "a", "b"))
yc2 = (Xc[:, 0] + 0.3 * Xc[:, 1] > 0).astype(int)


@pytest.mark.parametrize("labels", ["binary", "three"])
def test_classifier_cv_matches_grid_search_accuracy(labels) -> None:
    yl = yc2 if labels == "binary" else yc3
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    ours = SelfDistilledKernelClassifierCV(
        gammas=[0.5, 2.0], lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=cv
    ).fit(Xc, yl)
    ref = GridSearchCV(
        SelfDistilledKernelClassifier(), _grid([0.5, 2.0]), cv=cv, scoring="accuracy"
    ).fit(Xc, yl)
    _compare(ours, ref)
    np.testing.assert_array_equal(ours.classes_, np.unique(yl))
    np.testing.assert_array_equal(ours.predict(Xc), ref.predict(Xc))
    np.testing.assert_allclose(
        ours.decision_function(Xc), ref.best_estimator_.decision_function(Xc), rtol=1e-12
    )


def test_classifier_cv_fallback_scorer_and_int_cv_is_stratified() -> None:
    ours = SelfDistilledKernelClassifierCV(
        gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=3, cv=3, scoring="balanced_accuracy"
    ).fit(Xc, yc3)
    grid = {"gamma": [0.5], "lam": LAMS, "alpha": ALPHAS, "steps": [1, 2, 3]}
    ref = GridSearchCV(
        SelfDistilledKernelClassifier(), grid, cv=StratifiedKFold(3), scoring="balanced_accuracy"
    ).fit(Xc, yc3)
    _compare(ours, ref)


def test_classifier_gcv_is_the_gcv_of_the_pm1_regression() -> None:
    clf = SelfDistilledKernelClassifierCV(
        gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=3, cv="gcv"
    ).fit(Xc, yc3)
    Y = np.where(yc3[:, None] == np.array(["a", "b", "c"])[None, :], 1.0, -1.0)
    reg = SelfDistilledKernelRidgeCV(
        gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=3, cv="gcv"
    ).fit(Xc, Y)
    np.testing.assert_allclose(
        clf.cv_results_["mean_test_score"], reg.cv_results_["mean_test_score"], rtol=1e-12
    )


def test_classifier_is_per_class_ridge_on_pm1_targets() -> None:
    clf = SelfDistilledKernelClassifier(gamma=0.7, lam=0.1, steps=1).fit(Xc, yc3)
    Y = np.where(yc3[:, None] == clf.classes_[None, :], 1.0, -1.0)
    ref = KernelRidge(kernel="rbf", gamma=0.7, alpha=0.1).fit(Xc, Y).predict(Xc)
    np.testing.assert_allclose(clf.decision_function(Xc), ref, rtol=1e-10)
    np.testing.assert_array_equal(clf.predict(Xc), clf.classes_[np.argmax(ref, axis=1)])
    binary = SelfDistilledKernelClassifier(gamma=0.7, lam=0.1, steps=3, alpha=0.2).fit(Xc, yc2)
    dec = binary.decision_function(Xc)
    assert dec.shape == (45,)
    ref2 = SelfDistilledKernelRidge(gamma=0.7, lam=0.1, steps=3, alpha=0.2).fit(
        Xc, np.where(yc2 == 1, 1.0, -1.0)
    )
    np.testing.assert_allclose(dec, ref2.predict(Xc), rtol=1e-12)
    np.testing.assert_array_equal(binary.predict(Xc), (dec > 0).astype(int))
    staged = list(binary.staged_predict(Xc))
    assert len(staged) == 3
    np.testing.assert_array_equal(staged[-1], binary.predict(Xc))


def test_classifier_optimal_alpha_uses_encoded_validation_labels() -> None:
    clf = SelfDistilledKernelClassifier(gamma=0.7, lam=0.1, steps=3, alpha="optimal")
    clf.fit(Xc[:30], yc3[:30], X_val=Xc[30:], y_val=yc3[30:])
    Y = np.where(yc3[:, None] == clf.classes_[None, :], 1.0, -1.0)
    ref = SelfDistilledKernelRidge(gamma=0.7, lam=0.1, steps=3, alpha="optimal")
    ref.fit(Xc[:30], Y[:30], X_val=Xc[30:], y_val=Y[30:])
    np.testing.assert_allclose(clf.ridge_.alphas_, ref.alphas_, rtol=1e-12)
    with pytest.raises(ValueError, match="y_val holds labels not seen in y"):
        clf.fit(Xc[:30], yc3[:30], X_val=Xc[30:32], y_val=["a", "z"])


def test_callable_scorer_goes_through_the_per_candidate_path() -> None:
    from sklearn.metrics import make_scorer, mean_squared_error

    kwargs = dict(gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=3, cv=3)
    fast = SelfDistilledKernelRidgeCV(**kwargs).fit(X, Y2)
    scorer = make_scorer(mean_squared_error, greater_is_better=False)
    slow = SelfDistilledKernelRidgeCV(**kwargs, scoring=scorer).fit(X, Y2)
    np.testing.assert_allclose(
        slow.cv_results_["mean_test_score"], fast.cv_results_["mean_test_score"], rtol=1e-12
    )


def test_leave_one_out_identity_holds_for_one_step_only() -> None:
    """Why GCV is an approximation for steps >= 2 (docs): the LOO shortcut
    ``(y_i - f_i) / (1 - S_ii)`` equals brute-force leave-one-out refits for plain ridge only."""
    Xs, ys = X[:15, :2], y[:15]
    gaps = []
    for steps in (1, 2):
        est = SelfDistilledKernelRidge(gamma=0.5, lam=0.3, steps=steps, alpha=0.2)
        S = est.fit(Xs, np.eye(15)).predict(Xs)
        shortcut = (ys - S @ ys) / (1.0 - np.diag(S))
        loo = [
            ys[i] - est.fit(np.delete(Xs, i, 0), np.delete(ys, i)).predict(Xs[i : i + 1])[0]
            for i in range(15)
        ]
        gaps.append(np.max(np.abs(shortcut - loo)))
    assert gaps[0] < 1e-12
    assert gaps[1] > 1e-2


# ----------------------------------------------------------------------
# Tests that kill surviving mutants of ``selfdistill.kernel.cv`` (docs/testing.md).
_rng3 = np.random.default_rng(3)
X3 = _rng3.normal(size=(40, 2))
y3 = X3[:, 0] + 0.1 * _rng3.normal(size=40)
yb3 = (X3[:, 0] + 0.4 * _rng3.normal(size=40) > 0).astype(int)


def test_default_cv_is_five_folds() -> None:
    """The documented default ``cv=5`` (mutant: 5 -> 6)."""
    est = SelfDistilledKernelRidgeCV(lams=[0.1], alphas=[0.5], max_steps=2).fit(X3, y3)
    assert est.cv == 5
    assert "split4_test_score" in est.cv_results_ and "split5_test_score" not in est.cv_results_


@pytest.mark.parametrize("cv", ["folds", 1.5, object()])
def test_a_bad_cv_is_a_value_error_naming_it(cv: object) -> None:
    """Mutant: the ``raise`` for an unusable ``cv`` deleted."""
    with pytest.raises(ValueError, match="cv must be"):
        SelfDistilledKernelRidgeCV(lams=[0.1], alphas=[0.5], max_steps=2, cv=cv).fit(X3, y3)


def test_binary_roc_auc_uses_the_single_decision_column() -> None:
    """A binary classifier's decision values are its one ±1 column (mutant: column 0 -> 1)."""
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    grid = {"gamma": [0.5], "lam": [0.05, 1.0], "alpha": [0.0, 0.5], "steps": [1, 2]}
    ours = SelfDistilledKernelClassifierCV(
        gammas=[0.5], lams=[0.05, 1.0], alphas=[0.0, 0.5], max_steps=2, cv=cv, scoring="roc_auc"
    ).fit(X3, yb3)
    ref = GridSearchCV(SelfDistilledKernelClassifier(), grid, cv=cv, scoring="roc_auc").fit(X3, yb3)
    got = {
        tuple(sorted(p.items())): s
        for p, s in zip(
            ours.cv_results_["params"], ours.cv_results_["mean_test_score"], strict=True
        )
    }
    for p, s in zip(ref.cv_results_["params"], ref.cv_results_["mean_test_score"], strict=True):
        assert got[tuple(sorted(p.items()))] == pytest.approx(s, rel=1e-8)


def test_r2_on_single_output_folds_of_two_points_and_nan_on_one_point() -> None:
    """r2 of one output column on 2-point test folds (defined) equals GridSearchCV's; on 1-point
    folds it is undefined (nan) for every candidate, as scikit-learn's r2_score says."""
    grid = {"gamma": [0.5], "lam": [0.05, 1.0], "alpha": [0.0, 0.5], "steps": [1, 2]}
    kw = dict(gammas=[0.5], lams=[0.05, 1.0], alphas=[0.0, 0.5], max_steps=2, scoring="r2")
    pairs = [(np.delete(np.arange(12), [i, i + 1]), np.array([i, i + 1])) for i in (0, 4, 8)]
    ours = SelfDistilledKernelRidgeCV(**kw, cv=pairs).fit(X[:12], y[:12])
    ref = GridSearchCV(SelfDistilledKernelRidge(), grid, cv=pairs, scoring="r2").fit(X[:12], y[:12])
    _compare(ours, ref)
    for targets in (y[:6], Y2[:6]):
        loo = SelfDistilledKernelRidgeCV(**kw, cv=LeaveOneOut()).fit(X[:6], targets)
        scores = loo.cv_results_["mean_test_score"]
        assert scores.dtype == np.float64 and np.isnan(scores).all()
        assert np.isnan(loo.cv_results_["split0_test_score"]).all()


def test_r2_of_an_all_zero_output_column_is_one_and_of_a_constant_one_zero() -> None:
    """scikit-learn's r2 with ``force_finite``: a constant test column scores 1 when predicted
    exactly (zero targets: the fit is exactly 0) and 0 otherwise, averaged over the columns."""
    cv = KFold(3)
    grid = {"gamma": [0.5], "lam": [0.05, 1.0], "alpha": [0.0, 0.5], "steps": [1, 2]}
    kw = dict(gammas=[0.5], lams=[0.05, 1.0], alphas=[0.0, 0.5], max_steps=2, cv=cv, scoring="r2")
    for col in (np.zeros(30), np.full(30, 2.0)):
        Yc = np.c_[y, col]
        ours = SelfDistilledKernelRidgeCV(**kw).fit(X, Yc)
        ref = GridSearchCV(SelfDistilledKernelRidge(), grid, cv=cv, scoring="r2").fit(X, Yc)
        _compare(ours, ref)


def test_lams_in_chunks_give_the_same_scores(monkeypatch) -> None:
    """The basis columns of many lams are formed a few lams at a time (``_CHUNK_ELEMENTS``): the
    chunking must not change any score (here one lam per chunk, and two)."""
    import selfdistill.kernel.cv as cv_module

    lams = [1e-3, 0.01, 0.05, 0.2, 1.0]
    kw = dict(gammas=[0.5], lams=lams, alphas=ALPHAS, max_steps=STEPS, cv=3)
    whole = SelfDistilledKernelRidgeCV(**kw).fit(X, Y2).cv_results_["mean_test_score"]
    n_train, q = 20, 2
    for per_chunk in (1, 2):
        monkeypatch.setattr(cv_module, "_CHUNK_ELEMENTS", per_chunk * n_train * STEPS * q)
        chunked = SelfDistilledKernelRidgeCV(**kw).fit(X, Y2).cv_results_["mean_test_score"]
        np.testing.assert_allclose(chunked, whole, rtol=1e-12)


def test_callable_scorer_is_given_each_test_fold_inputs() -> None:
    """``scorer(estimator, X, y)`` gets the test fold's rows of X (regressor and classifier)."""
    seen = []

    def scorer(est, X_test, y_test):
        seen.append((X_test.copy(), np.asarray(y_test).copy()))
        return float(np.sum(X_test[:, 0]))

    cv = KFold(3)
    kw = dict(gammas=[0.5], lams=[0.1], alphas=[0.5], max_steps=1, cv=cv, scoring=scorer)
    SelfDistilledKernelRidgeCV(**kw).fit(X, y)
    SelfDistilledKernelClassifierCV(**kw).fit(Xc[:30], yc2[:30])
    folds = [te for _, te in cv.split(X)]
    assert len(seen) == 6
    for (Xs, ys), te in zip(seen, folds + folds, strict=True):
        assert Xs.shape[0] == te.size and ys.shape[0] == te.size
    for (Xs, _), te in zip(seen[:3], folds, strict=True):
        np.testing.assert_array_equal(Xs, X[te])
    for (Xs, ys), te in zip(seen[3:], folds, strict=True):
        np.testing.assert_array_equal(Xs, Xc[te])
        np.testing.assert_array_equal(ys, yc2[te])


def test_multiclass_decision_function_scorer_matches_grid_search() -> None:
    """top-2 accuracy ranks the three classes by their decision values (all columns used)."""
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = {"gamma": [0.5], "lam": [0.05, 1.0], "alpha": [0.0, 0.5], "steps": [1, 2]}
    ours = SelfDistilledKernelClassifierCV(
        gammas=[0.5], lams=[0.05, 1.0], alphas=[0.0, 0.5], max_steps=2, cv=cv,
        scoring="top_k_accuracy",
    ).fit(Xc, yc3)  # fmt: skip
    ref = GridSearchCV(SelfDistilledKernelClassifier(), grid, cv=cv, scoring="top_k_accuracy")
    ref.fit(Xc, yc3)
    res = ours.cv_results_
    got = dict(zip(map(_key, res["params"]), res["mean_test_score"], strict=True))
    for p, s in zip(ref.cv_results_["params"], ref.cv_results_["mean_test_score"], strict=True):
        assert got[_key(p)] == pytest.approx(s, rel=1e-12)
    assert not np.all(ours.cv_results_["mean_test_score"] == 1.0)


def _key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def test_boolean_mask_splits_are_index_splits() -> None:
    """A splitter may yield boolean masks: they select the same rows as their indices."""
    idx = [(np.arange(10, 30), np.arange(0, 10)), (np.arange(0, 20), np.arange(20, 30))]
    masks = []
    for tr, te in idx:
        mtr, mte = np.zeros(30, bool), np.zeros(30, bool)
        mtr[tr], mte[te] = True, True
        masks.append((mtr, mte))
    kw = dict(gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=2)
    a = SelfDistilledKernelRidgeCV(**kw, cv=idx).fit(X, y)
    b = SelfDistilledKernelRidgeCV(**kw, cv=masks).fit(X, y)
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_array_equal(b.cv_results_[key], a.cv_results_[key])
    one_sided = [(masks[0][0], idx[0][1])]  # a mask for training, indices for testing
    c = SelfDistilledKernelRidgeCV(**kw, cv=one_sided).fit(X, y)
    np.testing.assert_array_equal(
        c.cv_results_["split0_test_score"], a.cv_results_["split0_test_score"]
    )
    d = SelfDistilledKernelRidgeCV(**kw, cv=[(idx[0][0], masks[0][1])]).fit(X, y)
    np.testing.assert_array_equal(
        d.cv_results_["split0_test_score"], a.cv_results_["split0_test_score"]
    )


def test_int_cv_may_equal_the_number_of_samples() -> None:
    """``cv=n`` is leave-one-out K-fold: allowed (only ``cv > n`` is refused)."""
    ours = SelfDistilledKernelRidgeCV(
        gammas=[0.5], lams=[0.1], alphas=[0.5], max_steps=2, cv=8, scoring="neg_mean_absolute_error"
    ).fit(X[:8], y[:8])
    ref = GridSearchCV(
        SelfDistilledKernelRidge(),
        {"gamma": [0.5], "lam": [0.1], "alpha": [0.5], "steps": [1, 2]},
        cv=LeaveOneOut(),
        scoring="neg_mean_absolute_error",
    ).fit(X[:8], y[:8])
    _compare(ours, ref)


def test_callable_kernel_takes_its_own_keyword_parameters() -> None:
    """A callable kernel accepts any keyword (passed through ``kernel_params``); scores equal the
    same kernel precomputed."""

    def scaled_rbf(a, b, scale=1.0):
        return scale * np.exp(-0.5 * np.sum((a - b) ** 2))

    kw = dict(lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=KFold(3))
    ours = SelfDistilledKernelRidgeCV(scaled_rbf, scale=3.0, **kw).fit(X, y)
    K = 3.0 * np.exp(-0.5 * ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    ref = SelfDistilledKernelRidgeCV("precomputed", **kw).fit(K, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=1e-10
    )
    assert ours.best_estimator_.kernel_params == {"scale": 3.0}
    np.testing.assert_allclose(ours.predict(X[:4]), ref.predict(K[:4]), rtol=1e-10)


def test_poly_kernel_defaults_are_degree_three_and_coef0_one() -> None:
    """Without ``degree``/``coef0`` the poly kernel is scikit-learn's (3, 1), in the search and
    in the refitted estimator."""
    kw = dict(gammas=[0.3], lams=LAMS, alphas=ALPHAS, max_steps=2, cv=KFold(3))
    ours = SelfDistilledKernelRidgeCV("poly", **kw).fit(X, y)
    ref = SelfDistilledKernelRidgeCV("poly", degree=3, coef0=1, **kw).fit(X, y)
    np.testing.assert_array_equal(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )
    params = ours.best_estimator_.get_params()
    assert (params["degree"], params["coef0"], params["kernel_params"]) == (3, 1, None)


def test_classifier_refit_is_the_classifier_with_best_params_and_kernel_args() -> None:
    search = SelfDistilledKernelClassifierCV(
        "poly", degree=2, coef0=0.5, gammas=[0.3], lams=[0.1], alphas=[0.3], max_steps=2, cv=3
    ).fit(Xc, yc3)
    best = search.best_estimator_
    assert isinstance(best, SelfDistilledKernelClassifier)
    params = best.get_params()
    assert {k: params[k] for k in ("gamma", "lam", "alpha", "steps")} == search.best_params_
    assert (params["kernel"], params["degree"], params["coef0"]) == ("poly", 2, 0.5)


# --------------------------------------------------------------------------- n_components
# With the poly kernel of degree 2 on 2 features (a 6-dimensional feature space) and 12 centres,
# the Nyström kernel K~ = K_nC K_CC^+ K_Cn IS the kernel: the one-pass search must then give
# the exact search's scores and refit.
NY_KW = dict(kernel="poly", degree=2, gammas=[0.5, 1.0], lams=[1e-2, 0.3], alphas=[0.0, 0.6])
Xp = X[:, :2]


@pytest.mark.parametrize("scoring", [None, "r2"])
def test_n_components_search_spanning_the_feature_space_is_the_exact_search(scoring) -> None:
    cv = KFold(3, shuffle=True, random_state=1)
    kw = dict(**NY_KW, max_steps=3, cv=cv, scoring=scoring)
    exact = SelfDistilledKernelRidgeCV(**kw).fit(Xp, Y2)
    ny = SelfDistilledKernelRidgeCV(**kw, n_components=12, random_state=0).fit(Xp, Y2)
    _compare(ny, exact)
    assert ny.best_estimator_.n_components_ == 12
    np.testing.assert_allclose(ny.predict(Xp), exact.predict(Xp), rtol=1e-9, atol=1e-12)
    assert ny.predict(Xp).shape == (30, 2)
    one = SelfDistilledKernelRidgeCV(**kw, n_components=12, random_state=0).fit(Xp, y)
    assert one.predict(Xp).shape == (30,)


def test_n_components_gcv_spanning_the_feature_space_is_the_exact_gcv() -> None:
    """GCV from the rank-6 spectrum plus the energy outside it equals the n x n GCV."""
    kw = dict(**NY_KW, max_steps=3, cv="gcv")
    exact = SelfDistilledKernelRidgeCV(**kw).fit(Xp, Y2)
    ny = SelfDistilledKernelRidgeCV(**kw, n_components=12, random_state=0).fit(Xp, Y2)
    np.testing.assert_allclose(
        ny.cv_results_["mean_test_score"], exact.cv_results_["mean_test_score"], rtol=1e-9
    )
    assert ny.n_splits_ == 0 and ny.best_params_ == exact.best_params_
    np.testing.assert_allclose(ny.predict(Xp), exact.predict(Xp), rtol=1e-9, atol=1e-12)


def test_n_components_classifier_refit_and_gcv_are_the_exact_ones() -> None:
    labels = np.digitize(y, [-0.3, 0.4])
    kw = dict(**NY_KW, max_steps=2, cv="gcv")
    exact = SelfDistilledKernelClassifierCV(**kw).fit(Xp, labels)
    ny = SelfDistilledKernelClassifierCV(**kw, n_components=12, random_state=0).fit(Xp, labels)
    np.testing.assert_allclose(
        ny.cv_results_["mean_test_score"], exact.cv_results_["mean_test_score"], rtol=1e-9
    )
    np.testing.assert_array_equal(ny.classes_, [0, 1, 2])
    best = ny.best_estimator_
    assert isinstance(best, SelfDistilledKernelClassifier)
    np.testing.assert_array_equal(best.classes_, [0, 1, 2])
    assert best.n_features_in_ == 2 and best.ridge_.n_components_ == 12
    np.testing.assert_allclose(
        ny.decision_function(Xp), exact.decision_function(Xp), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_array_equal(ny.predict(Xp), exact.predict(Xp))
    params = best.get_params()
    assert {k: params[k] for k in ("gamma", "lam", "alpha", "steps")} == ny.best_params_
    assert (params["degree"], params["n_components"], params["random_state"]) == (2, 12, 0)


def test_n_components_without_random_state_shares_one_draw_with_the_refit() -> None:
    """random_state=None: one seed is drawn and stored in the refit, whose centres it gives."""
    search = SelfDistilledKernelRidgeCV(
        gammas=[0.5], lams=[0.1], alphas=[0.5], max_steps=2, cv=3, n_components=10
    ).fit(X, y)
    best = search.best_estimator_
    seed = best.random_state
    assert isinstance(seed, int) and 0 <= seed < 2**32  # a valid seed of numpy's RandomState
    again = SelfDistilledKernelRidge(**best.get_params()).fit(X, y)
    np.testing.assert_array_equal(again.centres_, best.centres_)
    np.testing.assert_allclose(again.predict(X), search.predict(X), rtol=1e-9, atol=1e-12)


def test_gcv_scores_with_the_null_space_given_apart_is_the_full_spectrum_gcv() -> None:
    """``n_samples`` and ``null_sq``: zero eigenvalues left out of ``eigvals`` and their energy
    given as a sum are the same GCV as the full spectrum (B = 0 on them)."""
    from selfdistill.kernel.cv import gcv_scores

    d = np.array([5.0, 2.0, 0.5, 0.1, 0.0, 0.0, 0.0])
    Z = np.random.default_rng(1).normal(size=(7, 2))
    full = gcv_scores(d, Z, (0.05, 0.7), (0.0, 0.5), 3)
    part = gcv_scores(
        d[:4], Z[:4], (0.05, 0.7), (0.0, 0.5), 3, n_samples=7, null_sq=np.sum(Z[4:] ** 2, axis=0)
    )
    np.testing.assert_allclose(part, full, rtol=1e-13)
    # and the explicit formula for one candidate (t = 1, plain ridge: B = d / (d + lam))
    B = d / (d + 0.05)
    ref = np.mean(((1 - B)[:, None] ** 2 * Z**2).sum(axis=0) / 7) / (1 - B.sum() / 7) ** 2
    assert full[0, 0, 0] == pytest.approx(ref, rel=1e-13)


def test_gcv_scores_are_inf_where_the_smoother_has_trace_n_without_a_warning() -> None:
    """B = 1 in rounding on every eigenvalue: tr(S) = n, GCV = inf (0/0 and r/0 alike)."""
    import warnings

    from selfdistill.kernel.cv import gcv_scores

    d = np.full(3, 1e20)
    Z = np.ones((3, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zero = gcv_scores(d, Z, (1e-5,), (0.0,), 2)
        positive = gcv_scores(d, Z, (1e-5,), (0.0,), 2, n_samples=3, null_sq=np.ones(1))
    assert np.isposinf(zero).all() and np.isposinf(positive).all()


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite:UserWarning")
def test_nan_scores_rank_last() -> None:
    """A scorer may give nan (here for the smoothest fits, lam = 1: their predictions vary less
    than 0.58 times the targets on the first fold, the others more than 0.64): those rank below
    every number, as in GridSearchCV."""

    def scorer(est, X_test, y_test):
        pred = est.predict(X_test)
        if np.std(pred) < 0.58 * np.std(y_test):
            return np.nan
        return -float(np.mean((pred - y_test) ** 2))

    cv = KFold(3)
    kw = dict(gammas=[0.5], lams=LAMS, alphas=ALPHAS, max_steps=STEPS, cv=cv, scoring=scorer)
    ours = SelfDistilledKernelRidgeCV(**kw).fit(X, y)
    ref = GridSearchCV(SelfDistilledKernelRidge(), _grid([0.5]), cv=cv, scoring=scorer).fit(X, y)
    mean = ours.cv_results_["mean_test_score"]
    np.testing.assert_array_equal(np.isnan(mean), np.asarray(ours.cv_results_["param_lam"] == 1.0))
    np.testing.assert_array_equal(
        ours.cv_results_["rank_test_score"], ref.cv_results_["rank_test_score"]
    )
    assert ours.cv_results_["rank_test_score"][np.isnan(mean)].min() == np.sum(~np.isnan(mean)) + 1


def test_small_eigenvalues_are_kept_in_every_fold() -> None:
    """Only negative rounding noise is cut from a fold's spectrum: a direction of eigenvalue
    ~1e-11 * max carries the signal here, and with lam = 1e-13 the search is plain linear ridge,
    computed in the primal (2 x 2) for each fold and each lam (exact and gcv engines alike)."""
    r = np.random.default_rng(5)
    Xs = np.c_[r.normal(size=24), 3e-6 * r.normal(size=24)]
    ys = Xs[:, 1] / 3e-6 + 0.3 * r.normal(size=24)
    lams = [1e-13, 1e-3]
    cv = KFold(3)
    ours = SelfDistilledKernelRidgeCV("linear", lams=lams, alphas=[0.0], max_steps=1, cv=cv)
    scores = ours.fit(Xs, ys).cv_results_["mean_test_score"]
    ref = []
    for lam in lams:
        mse = []
        for tr, te in cv.split(Xs):
            A = Xs[tr].T @ Xs[tr] + lam * np.eye(2)
            w = np.linalg.solve(A, Xs[tr].T @ ys[tr])
            mse.append(np.mean((Xs[te] @ w - ys[te]) ** 2))
        ref.append(-np.mean(mse))
    np.testing.assert_allclose(scores, ref, rtol=1e-3)  # the small direction: ~1e-4 accuracy
    assert scores[0] > -0.2 and scores[1] < -0.5  # lam = 1e-13 fits the small direction
    gcv = SelfDistilledKernelRidgeCV("linear", lams=lams, alphas=[0.0], max_steps=1, cv="gcv")
    g = -gcv.fit(Xs, ys).cv_results_["mean_test_score"]
    H = [Xs @ np.linalg.solve(Xs.T @ Xs + lam * np.eye(2), Xs.T) for lam in lams]
    ref_g = [np.mean((ys - h @ ys) ** 2) / (1 - np.trace(h) / 24) ** 2 for h in H]
    np.testing.assert_allclose(g, ref_g, rtol=1e-3)


def test_callable_scorer_sees_one_decision_column_for_two_classes_and_one_per_class() -> None:
    """As scikit-learn's classifiers: shape (n,) for two classes, (n, n_classes) otherwise."""
    seen: list[tuple[int, ...]] = []

    def scorer(est, X_test, y_test) -> float:
        seen.append(np.shape(est.decision_function(X_test)))
        return 0.0

    three = np.digitize(X3[:, 1], [-0.5, 0.5])
    for labels, ndim in ((yb3, 1), (three, 2)):
        seen.clear()
        SelfDistilledKernelClassifierCV(
            gammas=[0.5], lams=[0.1], alphas=[0.5], max_steps=1, cv=2, scoring=scorer
        ).fit(X3, labels)
        assert len(seen) == 2 and all(len(s) == ndim for s in seen)
        assert ndim == 1 or all(s[1] == 3 for s in seen)


def test_n_components_classifier_takes_string_labels_as_the_exact_search() -> None:
    # object dtype, as a pandas column of strings gives (a numeric check would try float())
    names = np.array(["high", "low", "mid"], dtype=object)[np.digitize(y, [-0.3, 0.4])]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    kw = dict(**NY_KW, max_steps=2, cv=cv)
    exact = SelfDistilledKernelClassifierCV(**kw).fit(Xp, names)
    ny = SelfDistilledKernelClassifierCV(**kw, n_components=12, random_state=0).fit(Xp, names)
    np.testing.assert_array_equal(ny.classes_, ["high", "low", "mid"])
    np.testing.assert_allclose(
        ny.cv_results_["mean_test_score"], exact.cv_results_["mean_test_score"], rtol=1e-12
    )
    np.testing.assert_array_equal(ny.predict(Xp), exact.predict(Xp))


def test_n_components_block_size_and_dtype_reach_the_one_pass_search(monkeypatch) -> None:
    import selfdistill.kernel.cv as cv_module

    seen: dict[str, object] = {}
    real = cv_module.nystrom_cv_scores

    def spy(*args, **kwargs):
        seen.update(dtype=kwargs["dtype"], block_size=kwargs["block_size"])
        return real(*args, **kwargs)

    monkeypatch.setattr(cv_module, "nystrom_cv_scores", spy)
    search = SelfDistilledKernelRidgeCV(
        **NY_KW, max_steps=2, cv=3, n_components=12, random_state=0, block_size=7, dtype="float32"
    ).fit(Xp, y)
    assert seen == {"dtype": "float32", "block_size": 7}
    best = search.best_estimator_
    assert (best.block_size, best.dtype) == (7, "float32")


def test_n_components_refit_keeps_its_targets_for_the_limit() -> None:
    """The refit from the search's statistics is a whole estimator: with alpha = 0 its limit
    (Borup Thm 4.5) is the zero function, one column per target column."""
    kw = dict(kernel="poly", degree=2, gammas=[0.5], lams=[0.3], alphas=[0.0], max_steps=2, cv=3)
    ny = SelfDistilledKernelRidgeCV(**kw, n_components=12, random_state=0).fit(Xp, Y2)
    np.testing.assert_array_equal(ny.best_estimator_.predict_limit(Xp), np.zeros((30, 2)))
    labels = np.digitize(y, [-0.3, 0.4])
    cl = SelfDistilledKernelClassifierCV(**kw, n_components=12, random_state=0).fit(Xp, labels)
    np.testing.assert_array_equal(cl.best_estimator_.ridge_.predict_limit(Xp), np.zeros((30, 3)))


def test_one_gamma_given_as_a_kernel_parameter_is_the_grid_and_not_passed_twice() -> None:
    kw = dict(lams=[0.1], alphas=[0.5], max_steps=2, cv=3)
    one = SelfDistilledKernelRidgeCV(**kw, gamma=0.3).fit(X, y)
    grid = SelfDistilledKernelRidgeCV(**kw, gammas=[0.3]).fit(X, y)
    np.testing.assert_allclose(
        one.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"], rtol=1e-12
    )
    best = one.best_estimator_.get_params()
    assert best["gamma"] == 0.3 and best["kernel_params"] is None
    for refit in (True, False):  # checked before the search, not only by the refit
        with pytest.raises(ValueError) as info:
            SelfDistilledKernelRidgeCV(**kw, gamma=-1.0, refit=refit).fit(X, y)
        assert str(info.value) == "gamma (kernel='rbf') must be in (0, inf), got -1.0"


def test_fit_inputs_are_checked_and_cast_as_the_estimators_do() -> None:
    pd = pytest.importorskip("pandas")
    kw = dict(lams=[0.1], alphas=[0.5], max_steps=2, cv=3)
    frame = pd.DataFrame({"a": X[:, 0], "b": ["x"] * len(X)})
    with pytest.raises(ValueError) as info:
        SelfDistilledKernelRidgeCV(**kw).fit(frame, y)
    assert str(info.value) == (
        "X must hold numbers only; column(s) 'b' (str) hold text, dates or categories: "
        "encode them as numbers or drop them"
    )
    with pytest.raises(ValueError) as info:
        SelfDistilledKernelRidgeCV(**kw, kernel="precomputed").fit(X, y)
    assert str(info.value) == (
        'X must be a square kernel matrix for kernel="precomputed", got shape (30, 3)'
    )
    # float32 inputs and object-dtype numeric targets are cast to float64, as scikit-learn's
    # regressors do: the same scores and float64 predictions
    ref = SelfDistilledKernelRidgeCV(**kw).fit(X, y)
    for Xc, yc in ((X.astype(np.float32), y), (X, y.astype(object))):
        got = SelfDistilledKernelRidgeCV(**kw).fit(Xc, yc)
        expected = ref.cv_results_["mean_test_score"]
        if Xc.dtype == np.float32:  # the inputs themselves are rounded to float32
            expected = SelfDistilledKernelRidgeCV(**kw).fit(Xc.astype(np.float64), y)
            expected = expected.cv_results_["mean_test_score"]
        np.testing.assert_allclose(got.cv_results_["mean_test_score"], expected, rtol=1e-12)
        assert got.predict(X).dtype == np.float64


@pytest.mark.parametrize("n_components", [None, 12])
def test_a_string_cv_other_than_gcv_is_named_in_the_message(n_components) -> None:
    search = SelfDistilledKernelRidgeCV(
        kernel="poly", degree=2, cv="folds", n_components=n_components, random_state=0
    )
    with pytest.raises(ValueError) as info:
        search.fit(Xp, y)
    assert str(info.value) == "cv must be one of 'gcv', got 'folds'"


def test_n_jobs_reaches_joblib(monkeypatch) -> None:
    import selfdistill.kernel.cv as cv_module

    seen: list[object] = []
    real = cv_module.Parallel

    def spy(*args, **kwargs):
        seen.append(kwargs.get("n_jobs"))
        return real(*args, **kwargs)

    monkeypatch.setattr(cv_module, "Parallel", spy)
    with parallel_config(backend="threading"):
        SelfDistilledKernelRidgeCV(lams=[0.1], alphas=[0.5], max_steps=2, cv=3, n_jobs=2).fit(X, y)
    assert seen == [2]
