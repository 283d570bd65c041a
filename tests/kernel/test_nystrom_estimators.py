"""``n_components`` on the four kernel estimators: scikit-learn's checks, equality with the engine
and the one-pass CV, streamed inputs (memmap, Dask), bad input (issue 25)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from selfdistill import (
    SelfDistilledKernelClassifier,
    SelfDistilledKernelClassifierCV,
    SelfDistilledKernelRidge,
    SelfDistilledKernelRidgeCV,
)
from selfdistill.kernel.functions import kernel_matrix
from selfdistill.kernel.nystrom import kernel_block, select_centres
from selfdistill.kernel.nystrom_cv import nystrom_cv_scores
from selfdistill.kernel.nystrom_fit import fit_nystrom

NY = dict(n_components=40, random_state=0, block_size=7)
SMALL = dict(lams=[0.01, 1.0], alphas=[0.0, 0.5], max_steps=3, cv=3)


@pytest.mark.filterwarnings("ignore::selfdistill.exceptions.ToleranceWarning")
@pytest.mark.filterwarnings("ignore::selfdistill.exceptions.CollapseWarning")
@pytest.mark.filterwarnings("ignore:n_components=.*> n_samples:UserWarning")
@parametrize_with_checks(
    [
        SelfDistilledKernelRidge(**NY),
        SelfDistilledKernelRidge(lam=None, epsilon=0.05, steps=2, dtype="float32", **NY),
        SelfDistilledKernelClassifier(**NY),
        SelfDistilledKernelRidgeCV(**SMALL, **NY),
        SelfDistilledKernelClassifierCV(**SMALL, **NY),
    ]
)
def test_sklearn_estimator_checks_with_n_components(estimator, check) -> None:
    check(estimator)


def problem(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] + 0.2 * rng.normal(size=n)
    return X, y, rng.normal(size=(40, 3))


def test_ridge_with_n_components_is_the_engine_and_the_explicit_nystrom_kernel():
    X, y, Xt = problem()
    est = SelfDistilledKernelRidge(gamma=0.4, lam=0.05, steps=4, alpha=0.3, n_components=30)
    est.set_params(random_state=2).fit(X, y)
    C = select_centres(X, 30, 2)
    assert np.array_equal(est.centres_, C) and est.n_components_ == 30
    pinv = np.linalg.pinv(kernel_matrix(C, gamma=0.4), hermitian=True)
    Knm = kernel_matrix(X, C, gamma=0.4)
    Kt, Kv = Knm @ pinv @ Knm.T, kernel_matrix(Xt, C, gamma=0.4) @ pinv @ Knm.T
    c = np.linalg.solve(Kt + 0.05 * np.eye(300), y)
    prev = Kt @ c
    preds = list(est.staged_predict(Xt))
    assert np.abs(preds[0] - Kv @ c).max() <= 1e-8 * np.abs(Kv @ c).max()
    for t in range(1, 4):
        c = np.linalg.solve(Kt + 0.05 * np.eye(300), 0.3 * y + 0.7 * prev)
        prev = Kt @ c
        assert np.abs(preds[t] - Kv @ c).max() <= 1e-8 * np.abs(Kv @ c).max()
    np.testing.assert_allclose(est.predict(Xt, step=2), preds[1])
    # the spectrum and B_ of the Nyström problem: eigvals_ are the non-zero eigenvalues of K~
    top = np.sort(np.linalg.eigvalsh(Kt))[::-1][:30]
    np.testing.assert_allclose(est.eigvals_, top, rtol=1e-8, atol=1e-8 * top[0])
    assert est.B_.shape == (4, 30)
    with pytest.raises(AttributeError, match="never formed"):
        _ = est.eigvecs_


def test_classifier_with_n_components_fits_the_pm1_codes():
    X, y, Xt = problem(seed=3)
    labels = np.digitize(y, [-0.5, 0.5])
    clf = SelfDistilledKernelClassifier(gamma=0.4, lam=0.05, steps=3, n_components=25)
    clf.set_params(random_state=0).fit(X, labels)
    assert clf.ridge_.n_components_ == 25 and list(clf.classes_) == [0, 1, 2]
    ridge = SelfDistilledKernelRidge(**clf.get_params()).fit(X, 2.0 * np.eye(3)[labels] - 1.0)
    np.testing.assert_allclose(clf.decision_function(Xt), ridge.predict(Xt), rtol=1e-12)


def test_ridge_cv_with_n_components_is_the_one_pass_search_and_refits_from_its_sums():
    X, y, Xt = problem()
    kw = dict(gammas=[0.2, 1.0], lams=[1e-3, 0.1, 1.0], alphas=[0.0, 0.5], max_steps=4)
    search = SelfDistilledKernelRidgeCV(**kw, cv=4, random_state=5, n_components=20).fit(X, y)
    splits = list(KFold(4, shuffle=True, random_state=5).split(X))
    C = select_centres(X, 20, 5)
    kas = [
        {"kernel": "rbf", "gamma": g, "degree": 3, "coef0": 1, "kernel_params": None}
        for g in (0.2, 1.0)
    ]
    ref, _ = nystrom_cv_scores(
        X, y[:, None], splits, centres=C, kernel_args=kas, lams=(1e-3, 0.1, 1.0),
        alphas=(0.0, 0.5), max_steps=4,
    )  # fmt: skip
    per_split = ref.transpose(0, 3, 1, 2, 4).reshape(4, -1)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], per_split.mean(axis=0))
    best = search.best_params_
    fresh = SelfDistilledKernelRidge(**best, n_components=20, random_state=5).fit(X, y)
    np.testing.assert_allclose(search.predict(Xt), fresh.predict(Xt), rtol=1e-9, atol=1e-12)


def test_classifier_cv_scores_accuracy_by_default_and_pm1_mse_on_request():
    X, y, Xt = problem(seed=4)
    labels = np.digitize(y, [0.0])
    kw = dict(gammas=[0.5], lams=[1e-2, 1.0], alphas=[0.0, 1.0], max_steps=2, cv=3)
    acc = SelfDistilledKernelClassifierCV(**kw, n_components=15, random_state=0).fit(X, labels)
    mse = SelfDistilledKernelClassifierCV(
        **kw, n_components=15, random_state=0, scoring="neg_mean_squared_error"
    ).fit(X, labels)
    assert np.all(acc.cv_results_["mean_test_score"] >= 0.3)
    assert np.all(mse.cv_results_["mean_test_score"] < 0)
    # accuracy of one candidate checked by hand on each fold
    i = int(np.argmax(acc.cv_results_["mean_test_score"]))
    p = acc.cv_results_["params"][i]
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, labels)
    C = select_centres(X, 15, 0)
    hits = []
    for tr, te in folds:
        ka = {"kernel": "rbf", "gamma": p["gamma"], "degree": 3, "coef0": 1, "kernel_params": None}
        pinv = np.linalg.pinv(kernel_matrix(C, gamma=p["gamma"]), hermitian=True)
        Ktr, Kte = kernel_block(X[tr], C, ka), kernel_block(X[te], C, ka)
        Kt, Kv = Ktr @ pinv @ Ktr.T, Kte @ pinv @ Ktr.T
        Y = np.where(labels[tr] == 1, 1.0, -1.0)
        c = np.linalg.solve(Kt + p["lam"] * np.eye(len(tr)), Y)
        for _ in range(p["steps"] - 1):
            c = np.linalg.solve(
                Kt + p["lam"] * np.eye(len(tr)), p["alpha"] * Y + (1 - p["alpha"]) * (Kt @ c)
            )
        hits.append(np.mean((Kv @ c > 0).astype(int) == labels[te]))
    assert acc.best_score_ == pytest.approx(np.mean(hits), abs=1e-12)
    assert acc.predict(Xt).shape == (40,)


def test_memmap_and_dask_inputs_fit_like_in_memory(tmp_path):
    da = pytest.importorskip("dask.array")
    X, y, Xt = problem(n=400)
    np.save(tmp_path / "X.npy", X)
    mm = np.load(tmp_path / "X.npy", mmap_mode="r")
    kw = dict(gamma=0.4, lam=0.1, steps=3, alpha=0.5, n_components=30, random_state=1)
    ref = SelfDistilledKernelRidge(**kw, block_size=64).fit(X, y).predict(Xt)
    from_mm = SelfDistilledKernelRidge(**kw, block_size=64).fit(mm, y).predict(Xt)
    np.testing.assert_allclose(from_mm, ref, rtol=1e-12)
    from_dask = SelfDistilledKernelRidge(**kw).fit(da.from_array(X, chunks=(97, 3)), y)
    assert np.abs(from_dask.predict(Xt) - ref).max() <= 1e-10 * np.abs(ref).max()
    clf = SelfDistilledKernelClassifier(**kw).fit(da.from_array(X, chunks=100), y > 0)
    assert clf.predict(Xt).dtype == bool


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_components": 0}, r"n_components must be"),
        ({"n_components": 2.5}, r"n_components"),
        ({"n_components": "10"}, r"n_components"),
        ({"n_components": 5, "block_size": 0}, r"block_size must be"),
        ({"n_components": 5, "dtype": "float16"}, r"dtype must be one of"),
    ],
)
@pytest.mark.parametrize("cls", [SelfDistilledKernelRidge, SelfDistilledKernelClassifier])
def test_bad_nystrom_parameters_are_one_clear_error(cls, params, match):
    X, y, _ = problem(n=30)
    with pytest.raises(ValueError, match=match):
        cls(**params).fit(X, y > 0)


def test_precomputed_kernels_run_the_exact_engine_with_a_warning():
    X, y, Xt = problem(n=80)
    K, Kt = kernel_matrix(X, gamma=0.4), kernel_matrix(Xt, X, gamma=0.4)
    exact = SelfDistilledKernelRidge(kernel="precomputed", lam=0.1).fit(K, y)
    with pytest.warns(UserWarning, match="n_components is ignored with kernel=.precomputed"):
        est = SelfDistilledKernelRidge(kernel="precomputed", lam=0.1, n_components=5).fit(K, y)
    np.testing.assert_array_equal(est.predict(Kt), exact.predict(Kt))
    assert not hasattr(est, "centres_")


def test_nystrom_gcv_equals_gcv_of_the_explicit_nystrom_gram():
    """GCV from the m x m spectrum (d plus the energy outside the range of K~) against the exact
    engine's GCV on K~ formed explicitly (n x n eigendecomposition)."""
    X, y, _ = problem(n=250)
    kw = dict(lams=[1e-3, 0.1, 2.0], alphas=[0.0, 0.5, 1.0], max_steps=4, cv="gcv")
    ours = SelfDistilledKernelRidgeCV(**kw, gamma=0.4, n_components=25, random_state=3).fit(X, y)
    C = select_centres(X, 25, 3)
    Knm = kernel_matrix(X, C, gamma=0.4)
    Kt = Knm @ np.linalg.pinv(kernel_matrix(C, gamma=0.4), hermitian=True) @ Knm.T
    ref = SelfDistilledKernelRidgeCV(**kw, kernel="precomputed").fit(0.5 * (Kt + Kt.T), y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"], rtol=1e-8
    )
    assert ours.best_params_["lam"] == ref.best_params_["lam"]
    assert ours.best_estimator_.n_components_ == 25


def test_bad_nystrom_input_to_the_searches():
    X, y, _ = problem(n=60)
    with pytest.raises(ValueError, match="scoring must be None with cv='gcv'"):
        SelfDistilledKernelRidgeCV(cv="gcv", scoring="r2", n_components=5).fit(X, y)
    with pytest.raises(ValueError, match="scoring must be None or one of"):
        SelfDistilledKernelRidgeCV(scoring="neg_mean_absolute_error", n_components=5).fit(X, y)
    with pytest.raises(ValueError, match="disjoint test parts"):
        from sklearn.model_selection import ShuffleSplit

        SelfDistilledKernelRidgeCV(cv=ShuffleSplit(3, random_state=0), n_components=5).fit(X, y)
    with pytest.warns(UserWarning, match="n_components=100 > n_samples=60"):
        SelfDistilledKernelRidgeCV(lams=[0.1], alphas=[0.5], n_components=100).fit(X, y)


def test_n_components_larger_than_n_warns_and_uses_every_row():
    X, y, Xt = problem(n=50)
    with pytest.warns(UserWarning, match="using all 50 training rows as centres"):
        est = SelfDistilledKernelRidge(gamma=0.4, lam=0.1, n_components=80).fit(X, y)
    exact = SelfDistilledKernelRidge(gamma=0.4, lam=0.1).fit(X, y)
    assert est.n_components_ == 50
    np.testing.assert_allclose(est.predict(Xt), exact.predict(Xt), rtol=1e-7)


def test_dask_with_unknown_chunks_is_refused_by_the_estimator():
    da = pytest.importorskip("dask.array")
    X, y, _ = problem(n=100)
    Xd = da.from_array(X, chunks=30)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        SelfDistilledKernelRidge(n_components=5).fit(Xd[Xd[:, 0] > 0], y)


def test_float32_blocks_change_predictions_by_little():
    X, y, Xt = problem(n=500)
    kw = dict(gamma=0.4, lam=0.1, steps=3, alpha=0.5, n_components=40, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p64 = SelfDistilledKernelRidge(**kw).fit(X, y).predict(Xt)
        p32 = SelfDistilledKernelRidge(**kw, dtype="float32").fit(X, y).predict(Xt)
    # measured 1.2e-3: the float32 rounding of G (~1e-7) times the conditioning d_max / lam
    assert 0 < np.abs(p32 - p64).max() <= 5e-3 * np.abs(p64).max()


def test_fit_nystrom_is_what_the_estimator_runs():
    X, y, _ = problem()
    est = SelfDistilledKernelRidge(gamma=0.4, lam=0.1, steps=2, n_components=10, random_state=0)
    est.fit(X, y)
    ka = {"kernel": "rbf", "gamma": 0.4, "degree": 3, "coef0": 1, "kernel_params": None}
    fit = fit_nystrom(
        X, y[:, None], n_components=10, kernel_args=ka, lam=0.1, epsilon=None, steps=2,
        alphas=np.r_[np.nan, 0.0], mode="fixed", random_state=0,
    )  # fmt: skip
    np.testing.assert_array_equal(est.dual_coefs_, fit.coefs[:, :, 0])


def test_predictions_run_in_blocks_and_equal_one_product():
    X, y, Xt = problem(n=200)
    est = SelfDistilledKernelRidge(gamma=0.4, lam=0.1, steps=3, alpha=0.5, n_components=20)
    est.set_params(random_state=0, block_size=7).fit(X, y)
    K = kernel_matrix(Xt, est.centres_, gamma=0.4)
    np.testing.assert_allclose(est.predict(Xt), K @ est.dual_coefs_[-1], rtol=1e-12)
    staged = list(est.staged_predict(Xt))
    np.testing.assert_allclose(staged[0], K @ est.dual_coefs_[0], rtol=1e-12)
    assert est.predict_limit(Xt).shape == (40,)
