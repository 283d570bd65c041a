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
    np.testing.assert_array_equal(
        ours.cv_results_["rank_test_score"], ref.cv_results_["rank_test_score"]
    )
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
