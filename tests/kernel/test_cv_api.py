"""Public contract of the classifier and the two CV estimators: sklearn checks, bad input, params.

``parametrize_with_checks`` runs scikit-learn's estimator checks on small grids (check time).
Skipped by scikit-learn itself: ``check_array_api_input`` (needs SCIPY_ARRAY_API=1) and the pandas
checks (pandas is not installed).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from selfdistill import (
    SelfDistilledKernelClassifier,
    SelfDistilledKernelClassifierCV,
    SelfDistilledKernelRidge,
    SelfDistilledKernelRidgeCV,
)
from selfdistill.kernel.cv import DEFAULT_ALPHAS, DEFAULT_LAMS
from tests.helpers import bad

rng = np.random.default_rng(0)
X = rng.normal(size=(20, 2))
y = rng.normal(size=20)
labels = np.array([0, 1] * 10)

SMALL = dict(lams=[0.01, 1.0], alphas=[0.0, 0.5], max_steps=3, cv=3)


@pytest.mark.filterwarnings("ignore::selfdistill.exceptions.ToleranceWarning")
@pytest.mark.filterwarnings("ignore::selfdistill.exceptions.CollapseWarning")
@parametrize_with_checks(
    [
        SelfDistilledKernelClassifier(),
        SelfDistilledKernelClassifier(lam=None, epsilon=0.05, steps=2),
        SelfDistilledKernelClassifierCV(**SMALL),
        SelfDistilledKernelRidgeCV(**SMALL),
        SelfDistilledKernelRidgeCV(lams=[0.1], alphas=[0.5], max_steps=2, cv="gcv"),
    ]
)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        bad("lams must be a non-empty 1-D sequence of numbers, got an empty one", lams=[]),
        bad("lams must be a non-empty 1-D sequence", lams=0.1),
        bad("lams must be a non-empty 1-D sequence", lams=[[0.1, 1.0]]),
        bad(r"lams\[1\] must be in \(0, inf\)", lams=[0.1, 0.0]),
        bad(r"lams\[0\] must be in \(0, inf\)", lams=[-1.0]),
        bad(r"lams\[0\] must be finite", lams=[np.nan]),
        bad(r"alphas\[0\] must be in \[0, 1\]", alphas=[1.5]),
        bad(r"alphas\[1\] must be in \[0, 1\]", alphas=[0.0, -0.1]),
        bad("alphas must be a non-empty 1-D sequence", alphas=[]),
        bad("gammas must be a non-empty 1-D sequence", gammas=[]),
        bad(r"gammas\[0\] must be in \(0, inf\)", gammas=[0.0]),
        bad("gammas must be None: kernel='linear' takes no gamma", kernel="linear", gammas=[1.0]),
        bad("give gammas .* or gamma .*, not both", gammas=[1.0], gamma=2.0),
        bad("kernel parameter 'degre' is not accepted by kernel='poly'", kernel="poly", degre=2),
        bad(r"max_steps must be an integer in \[1, inf\]", max_steps=0),
        bad(r"degree \(kernel='poly'\) must be in \[1, inf\)", kernel="poly", degree=0.5),
        bad(r"gamma \(kernel='rbf'\) must be in \(0, inf\)", gamma=-1.0),
        bad(r"cv must be an integer in \[2, inf\]", cv=1),
        bad("cv=30 folds need at least 30 samples, got n_samples=20", cv=30),
        bad("cv must be one of 'gcv'", cv="loo"),
        bad("cv must be an int >= 2, 'gcv', a splitter", cv=None),
        bad("scoring must be None, a callable or a scikit-learn scorer name", scoring="mse"),
        bad("refit must be True or False", refit="yes"),
        bad("kernel must be a callable or one of", kernel="gaussian"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(params, match) -> None:
    with pytest.raises(ValueError, match=match):
        SelfDistilledKernelRidgeCV(**{"max_steps": 2, **params}).fit(X, y)


def test_bad_splits_and_data() -> None:
    with pytest.raises(ValueError, match="cv yielded an empty test part in split 0"):
        SelfDistilledKernelRidgeCV(cv=[(np.arange(20), np.array([], dtype=int))]).fit(X, y)
    with pytest.raises(ValueError, match="cv yielded an empty training part in split 1"):
        splits = [(np.arange(10), np.arange(10, 20)), (np.array([], dtype=int), np.arange(20))]
        SelfDistilledKernelRidgeCV(cv=splits).fit(X, y)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        SelfDistilledKernelRidgeCV().fit(Xn, y)
    with pytest.raises(ValueError, match="Input y contains infinity"):
        SelfDistilledKernelRidgeCV().fit(X, np.r_[y[:-1], np.inf])
    with pytest.raises(ValueError, match="y must have one row per row of X"):
        SelfDistilledKernelRidgeCV().fit(X, y[:-1])
    with pytest.raises(ValueError, match="y must contain at least two classes, got one class: 3"):
        SelfDistilledKernelClassifierCV().fit(X, np.full(20, 3))
    with pytest.raises(ValueError, match="y must contain at least two classes"):
        SelfDistilledKernelClassifier().fit(X, np.full(20, 3))
    # a training fold with one class (the other class only in its test part)
    one = [(np.arange(10), np.arange(10, 20))]
    with pytest.raises(ValueError, match="y of a training fold \\(cv\\) must contain at least two"):
        SelfDistilledKernelClassifierCV(cv=one).fit(X, np.r_[np.zeros(10), np.ones(10)])
    with pytest.raises(ValueError, match="Unknown label type"):
        SelfDistilledKernelClassifierCV().fit(X, y)


def test_defaults_and_documented_grids() -> None:
    assert len(DEFAULT_LAMS) == 17
    assert DEFAULT_LAMS[0] == pytest.approx(1e-5) and DEFAULT_LAMS[-1] == pytest.approx(1e3)
    assert DEFAULT_ALPHAS == (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
    search = SelfDistilledKernelRidgeCV(max_steps=2, cv=3).fit(X, y)
    n_cand = len(DEFAULT_LAMS) * len(DEFAULT_ALPHAS) * 2
    assert len(search.cv_results_["params"]) == n_cand
    assert search.best_params_["gamma"] is None  # sklearn's own default 1 / n_features
    keys = {
        "params",
        "param_gamma",
        "param_lam",
        "param_alpha",
        "param_steps",
        "split0_test_score",
        "split1_test_score",
        "split2_test_score",
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
    }
    assert keys == set(search.cv_results_)


def test_kernel_params_are_parameters_clone_and_pickle() -> None:
    search = SelfDistilledKernelRidgeCV("poly", degree=2, coef0=0.5, max_steps=2, lams=[0.1])
    assert search.get_params()["degree"] == 2
    assert "degree=2" in repr(search)
    twin = clone(search)
    assert twin.get_params() == search.get_params()
    twin.set_params(degree=3, max_steps=3)
    assert (twin.get_params()["degree"], twin.max_steps) == (3, 3)
    assert search.get_params()["degree"] == 2
    search.fit(X, y)
    assert search.best_estimator_.degree == 2 and search.best_estimator_.coef0 == 0.5
    back = pickle.loads(pickle.dumps(search))
    np.testing.assert_allclose(back.predict(X), search.predict(X), rtol=1e-12)
    gamma_one = SelfDistilledKernelRidgeCV(gamma=0.25, max_steps=2, lams=[0.1], cv=KFold(3))
    assert gamma_one.fit(X, y).best_params_["gamma"] == 0.25


def test_pm_one_targets_old_name_encode_labels_warns() -> None:
    """``encode_labels`` meant two things (issue 21): the classifier's ±1 one-vs-rest targets are
    ``pm_one_targets`` now; the old name works for one release, with a warning."""
    import selfdistill.kernel.classifier as classifier

    classes, targets = classifier.pm_one_targets(np.array(["b", "a", "c", "a"]))
    assert classes.tolist() == ["a", "b", "c"]
    np.testing.assert_array_equal(targets, 2 * np.eye(3)[[1, 0, 2, 0]] - 1)
    with pytest.warns(DeprecationWarning, match="pm_one_targets"):
        old = classifier.encode_labels
    assert old is classifier.pm_one_targets
    with pytest.raises(AttributeError, match="no attribute 'decode_labels'"):
        classifier.decode_labels  # noqa: B018


def _message(exc_info) -> str:
    return str(exc_info.value)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            dict(kernel="poly", degre=2),
            "kernel parameter 'degre' is not accepted by kernel='poly' "
            "(accepted: degree, gamma, coef0)",
        ),
        (dict(X=1.0), "kernel parameter 'X' is not accepted by kernel='rbf' (accepted: gamma)"),
        (dict(Y=1.0), "kernel parameter 'Y' is not accepted by kernel='rbf' (accepted: gamma)"),
        (
            dict(kernel="precomputed", gamma=1.0),
            "kernel parameter 'gamma' is not accepted by kernel='precomputed' (accepted: none)",
        ),
        (dict(gammas=[1.0], gamma=2.0), "give gammas (a grid) or gamma (one value), not both"),
        (dict(n_jobs=1.5), "n_jobs must be an integer, got 1.5"),
        (dict(cv="gcv", scoring="mse"), "scoring must be None with cv='gcv' (the score is -GCV"),
    ],
)
def test_messages_whole(params, message) -> None:
    with pytest.raises(ValueError) as exc_info:
        SelfDistilledKernelRidgeCV(**{"max_steps": 2, **params}).fit(X, y)
    assert _message(exc_info).startswith(message)


def test_refit_false_message_whole() -> None:
    search = SelfDistilledKernelRidgeCV(lams=[0.1], max_steps=2, refit=False).fit(X, y)
    with pytest.raises(AttributeError) as exc_info:
        search.predict(X)
    assert _message(exc_info) == (
        "refit=False: this search has no best_estimator_; refit with refit=True"
    )


def test_poly_coef0_is_checked() -> None:
    with pytest.raises(ValueError, match=r"coef0 \(kernel='poly'\) must be finite"):
        SelfDistilledKernelRidgeCV("poly", coef0=np.nan, max_steps=2).fit(X, y)


def test_cv_yielding_no_split_is_refused() -> None:
    with pytest.raises(ValueError) as exc_info:
        SelfDistilledKernelRidgeCV(max_steps=2, cv=[]).fit(X, y)
    assert _message(exc_info) == "cv yielded no split"


def test_constructor_arguments_are_the_parameters() -> None:
    """Every argument is stored as given (scikit-learn's contract: get_params, clone)."""
    given = dict(
        kernel="laplacian",
        gammas=[0.5],
        lams=[0.1],
        alphas=[0.2],
        max_steps=4,
        cv=4,
        scoring="r2",
        refit=False,
        n_jobs=2,
        random_state=3,
        n_components=7,
        block_size=9,
        dtype="float32",
    )
    for cls in (SelfDistilledKernelRidgeCV, SelfDistilledKernelClassifierCV):
        params = cls(**given).get_params()
        assert {k: params[k] for k in given} == given
        assert clone(cls(**given)).get_params() == params


def test_defaults_agree_with_the_estimators() -> None:
    """The search's defaults are the estimator's (``n_components``, ``block_size``, ``dtype``),
    ``max_steps=10``, ``cv=5``, ``refit=True``, the rbf kernel."""
    search = SelfDistilledKernelRidgeCV()
    ridge = SelfDistilledKernelRidge().get_params()
    params = search.get_params()
    for key in ("kernel", "n_components", "block_size", "dtype"):
        assert params[key] == ridge[key]
    assert (params["max_steps"], params["cv"], params["refit"]) == (10, 5, True)
    fitted = SelfDistilledKernelRidgeCV(lams=[0.1], alphas=[0.5], cv=3).fit(X, y)
    assert sorted({p["steps"] for p in fitted.cv_results_["params"]}) == list(range(1, 11))


def test_set_params_refuses_nested_names() -> None:
    """A name with ``__`` is a nested parameter, never a kernel parameter: refused."""
    search = SelfDistilledKernelRidgeCV()
    with pytest.raises(ValueError, match="Invalid parameter 'scale' for estimator"):
        search.set_params(scale__value=1.0)
    assert "scale__value" not in search.get_params()


def test_tags_pairwise_for_precomputed_and_multi_output_regressor() -> None:
    """The tags scikit-learn reads: ``pairwise`` (cross_val_score slices a precomputed Gram
    matrix on both axes) and ``multi_output`` for the regressor."""
    from sklearn.model_selection import cross_val_score

    assert SelfDistilledKernelRidgeCV("precomputed").__sklearn_tags__().input_tags.pairwise
    assert not SelfDistilledKernelRidgeCV().__sklearn_tags__().input_tags.pairwise
    assert SelfDistilledKernelRidgeCV().__sklearn_tags__().target_tags.multi_output
    K = np.exp(-0.5 * ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    kw = dict(lams=[0.1], alphas=[0.5], max_steps=2, cv=3)
    outer = KFold(4)
    pre = cross_val_score(SelfDistilledKernelRidgeCV("precomputed", **kw), K, y, cv=outer)
    rbf = cross_val_score(SelfDistilledKernelRidgeCV(gammas=[0.5], **kw), X, y, cv=outer)
    np.testing.assert_allclose(pre, rbf, rtol=1e-10)


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (
            SelfDistilledKernelRidgeCV,
            dict(scoring="neg_mean_absolute_error"),
            "scoring must be None or one of 'neg_mean_squared_error', "
            "'neg_root_mean_squared_error', 'r2' with n_components (scored from accumulated "
            "sums), got 'neg_mean_absolute_error'",
        ),
        (
            SelfDistilledKernelClassifierCV,
            dict(scoring="balanced_accuracy"),
            "scoring must be None or one of 'accuracy', 'neg_mean_squared_error' with "
            "n_components (scored from accumulated sums), got 'balanced_accuracy'",
        ),
        (
            SelfDistilledKernelRidgeCV,
            dict(cv="gcv", scoring="r2"),
            "scoring must be None with cv='gcv', got 'r2'",
        ),
        (SelfDistilledKernelRidgeCV, dict(cv="loo"), "cv must be one of 'gcv', got 'loo'"),
    ],
)
def test_n_components_messages_whole(cls, params, message) -> None:
    with pytest.raises(ValueError) as exc_info:
        cls(**{"max_steps": 2, "n_components": 5, **params}).fit(X, labels)
    assert _message(exc_info) == message


def test_n_components_classifier_scorings_accepted() -> None:
    """Accuracy (the default, and by name) and the ±1 mean squared error are the classifier's
    sums-scorable scorings with n_components."""
    kw = dict(lams=[0.1], alphas=[0.5], max_steps=2, cv=3, n_components=8, random_state=0)
    default = SelfDistilledKernelClassifierCV(**kw).fit(X, labels)
    named = SelfDistilledKernelClassifierCV(**kw, scoring="accuracy").fit(X, labels)
    mse = SelfDistilledKernelClassifierCV(**kw, scoring="neg_mean_squared_error").fit(X, labels)
    np.testing.assert_array_equal(
        default.cv_results_["mean_test_score"], named.cv_results_["mean_test_score"]
    )
    assert np.all(default.cv_results_["mean_test_score"] >= 0)
    assert np.all(mse.cv_results_["mean_test_score"] < 0)
