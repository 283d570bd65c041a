"""Public contract of SelfDistilledKernelRidge: bad input, scikit-learn conventions, laziness.

scikit-learn's ``check_estimator`` runs on three configurations (fixed lam, precomputed kernel,
epsilon mode). Two checks are skipped by scikit-learn itself, not by us:
``check_array_api_input`` (needs SCIPY_ARRAY_API=1 and an array-API namespace; the estimator is
NumPy/SciPy only) and ``check_regressor_data_not_an_array`` (pandas is not installed here).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from selfdistill import SelfDistilledKernelRidge
from tests.helpers import bad

rng = np.random.default_rng(0)
X = rng.normal(size=(12, 2))
y = rng.normal(size=12)
Xv = rng.normal(size=(5, 2))
yv = rng.normal(size=5)


@pytest.mark.filterwarnings("ignore::selfdistill.exceptions.ToleranceWarning")
@pytest.mark.filterwarnings("ignore::selfdistill.exceptions.CollapseWarning")
@parametrize_with_checks(
    [
        SelfDistilledKernelRidge(),
        SelfDistilledKernelRidge(kernel="precomputed", alpha=0.5),
        SelfDistilledKernelRidge(lam=None, epsilon=1e-3, alpha=0.25, steps=2),
    ]
)
def test_sklearn_estimator_checks(estimator, check) -> None:
    check(estimator)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        bad("lam must be in \\(0, inf\\)", lam=0.0),
        bad("lam must be in \\(0, inf\\)", lam=-1.0),
        bad("lam must be finite", lam=float("nan")),
        bad("epsilon must be in \\(0, inf\\)", lam=None, epsilon=0.0),
        bad("lam and epsilon are exclusive", lam=1.0, epsilon=0.1),
        bad("one of lam or epsilon must be set", lam=None, epsilon=None),
        bad("steps must be an integer in \\[1, inf\\]", steps=0),
        bad("steps must be an integer", steps=2.5),
        bad("alpha must be in \\[0, 1\\]", alpha=1.5),
        bad("alpha must be in \\[0, 1\\]", alpha=-0.1),
        bad("alpha\\[1\\] must be in \\[0, 1\\]", steps=3, alpha=[0.5, 2.0]),
        bad("alpha as a sequence must have length steps - 1 = 2, got 3", steps=3, alpha=[0.1] * 3),
        bad("alpha must be one of 'optimal', 'optimal-clipped'", alpha="best"),
        bad("alpha='optimal' needs a fixed lam", lam=None, epsilon=0.1, alpha="optimal"),
        bad("alpha='optimal' needs validation data", alpha="optimal"),
        bad("kernel must be a callable or one of", kernel="gaussian"),
    ],
)
def test_bad_hyperparameters_raise_value_error_naming_them(params, match) -> None:
    with pytest.raises(ValueError, match=match):
        SelfDistilledKernelRidge(**params).fit(X, y)


def test_bad_data_raise_value_error_naming_the_argument() -> None:
    est = SelfDistilledKernelRidge()
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.fit(Xn, y)
    with pytest.raises(ValueError, match="Input y contains infinity"):
        est.fit(X, np.r_[y[:-1], np.inf])
    with pytest.raises(ValueError, match="y must have one row per row of X"):
        est.fit(X, y[:-1])
    opt = SelfDistilledKernelRidge(alpha="optimal")
    with pytest.raises(ValueError, match="Input X_val contains NaN"):
        opt.fit(X, y, X_val=np.full((2, 2), np.nan), y_val=yv[:2])
    with pytest.raises(ValueError, match="X_val must have 2 features"):
        opt.fit(X, y, X_val=Xv[:, :1], y_val=yv)
    with pytest.raises(ValueError, match=r"y_val must have shape \(5, 1\)"):
        opt.fit(X, y, X_val=Xv, y_val=yv[:4])
    with pytest.raises(ValueError, match="X_val and y_val must be given together"):
        est.fit(X, y, X_val=Xv)


def test_predict_errors() -> None:
    est = SelfDistilledKernelRidge(steps=3).fit(X, y)
    with pytest.raises(ValueError, match=r"step must be an integer in \[1, 3\], got 4"):
        est.predict(X, step=4)
    with pytest.raises(ValueError, match=r"step must be an integer in \[1, 3\], got 0"):
        est.predict(X, step=0)
    with pytest.raises(ValueError, match="X has 3 features, but SelfDistilledKernelRidge is"):
        est.predict(rng.normal(size=(2, 3)))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        est.predict(np.full((1, 2), np.inf))


def test_precomputed_kernel_must_be_square_and_symmetric() -> None:
    K = X @ X.T
    est = SelfDistilledKernelRidge(kernel="precomputed")
    with pytest.raises(ValueError, match="X must be a symmetric kernel matrix"):
        est.fit(K + np.triu(np.ones_like(K), 1) * 1e-3, y)
    with pytest.raises(ValueError, match="X must be a square kernel matrix"):
        est.fit(K[:, :5], y)
    est.fit(K, y)  # rounding-level asymmetry is fine
    K_copy = K.copy()
    est.fit(K, y)
    np.testing.assert_array_equal(K, K_copy)  # the user's matrix is not overwritten
    assert est.predict(Xv @ X.T).shape == (5,)


def test_spline_inputs_must_be_one_feature_in_unit_interval() -> None:
    x = np.linspace(0, 1, 6)[:, None]
    est = SelfDistilledKernelRidge(kernel="spline", lam=0.01)
    with pytest.raises(ValueError, match=r"X values must be in \[0, 1\]"):
        est.fit(x + 0.5, y[:6])
    with pytest.raises(ValueError, match="X must have exactly one feature"):
        est.fit(X[:6], y[:6])
    est.fit(x, y[:6])
    with pytest.raises(ValueError, match=r"X values must be in \[0, 1\]"):
        est.predict(np.array([[1.5]]))
    opt = SelfDistilledKernelRidge(kernel="spline", lam=0.01, alpha="optimal")
    with pytest.raises(ValueError, match=r"X_val values must be in \[0, 1\]"):
        opt.fit(x, y[:6], X_val=np.array([[-1.0]]), y_val=[0.0])


def test_spectrum_is_lazy_in_fixed_lam_mode_and_eager_in_epsilon_mode() -> None:
    est = SelfDistilledKernelRidge(lam=0.5).fit(X, y)
    assert est._spectrum is None and est._B is None
    assert est.B_.shape == (3, 12) and est._spectrum is not None
    assert est.eigvecs_.shape == (12, 12)
    eps = SelfDistilledKernelRidge(lam=None, epsilon=0.01).fit(X, y)
    assert eps._spectrum is not None and eps._B is not None


def test_unfitted_attributes_raise_not_fitted() -> None:
    from sklearn.exceptions import NotFittedError

    est = SelfDistilledKernelRidge()
    for name in ("eigvals_", "eigvecs_", "B_"):
        with pytest.raises(NotFittedError):
            getattr(est, name)
        assert not hasattr(est, name)
    with pytest.raises(NotFittedError):
        est.predict(X)


def test_clone_pickle_and_refit_keep_results() -> None:
    from sklearn.kernel_ridge import KernelRidge

    def limit(Xf: np.ndarray, yf: np.ndarray) -> np.ndarray:
        """Borup sec. 4: tau -> infinity is plain kernel ridge with lam / alpha."""
        return KernelRidge(kernel="rbf", gamma=0.5, alpha=0.3 / 0.2).fit(Xf, yf).predict(Xv)

    est = SelfDistilledKernelRidge(gamma=0.5, lam=0.3, steps=4, alpha=0.2).fit(X, y)
    before = est.predict(Xv)
    np.testing.assert_allclose(est.predict_limit(Xv), limit(X, y), rtol=1e-10)  # fills the cache
    back = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(back.predict(Xv), before)
    np.testing.assert_allclose(back.predict_limit(Xv), limit(X, y), rtol=1e-10)
    refit = clone(est).fit(X, y)
    np.testing.assert_array_equal(refit.predict(Xv), before)
    # a refit with other data clears the cached spectrum and limit: every answer is the new data's
    est.fit(X[:8], y[:8])
    fresh = SelfDistilledKernelRidge(gamma=0.5, lam=0.3, steps=4, alpha=0.2).fit(X[:8], y[:8])
    assert est.eigvals_.shape == (8,)
    np.testing.assert_array_equal(est.predict(Xv), fresh.predict(Xv))
    np.testing.assert_allclose(est.predict_limit(Xv), limit(X[:8], y[:8]), rtol=1e-10)
    assert not np.allclose(est.predict_limit(Xv), limit(X, y))  # the data sets differ enough


def test_steps_one_is_kernel_ridge() -> None:
    from sklearn.kernel_ridge import KernelRidge

    est = SelfDistilledKernelRidge(kernel="rbf", gamma=0.5, lam=0.3, steps=1, alpha=[]).fit(X, y)
    ref = KernelRidge(kernel="rbf", gamma=0.5, alpha=0.3).fit(X, y)
    np.testing.assert_allclose(est.predict(Xv), ref.predict(Xv), rtol=1e-12)
    assert est.alphas_.shape == (1,) and np.isnan(est.alphas_[0])


def _kernels_list() -> str:
    from selfdistill.kernel.functions import KERNELS

    return ", ".join(map(repr, KERNELS))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            dict(lam=1.0, epsilon=0.1),
            "lam and epsilon are exclusive: set lam (fixed ridge) or lam=None with epsilon, "
            "got lam=1.0 and epsilon=0.1",
        ),
        (
            dict(lam=None, epsilon=None),
            "one of lam or epsilon must be set, got lam=None and epsilon=None",
        ),
        (dict(lam=0.0), "lam must be in (0, inf), got 0.0"),
        (dict(lam=None, epsilon=0.0), "epsilon must be in (0, inf), got 0.0"),
        (dict(steps=0), "steps must be an integer in [1, inf], got 0"),
        (dict(alpha=1.5), "alpha must be in [0, 1], got 1.5"),
        (dict(alpha=-0.5), "alpha must be in [0, 1], got -0.5"),
        (dict(steps=3, alpha=[-0.1, 0.5]), "alpha[0] must be in [0, 1], got -0.1"),
        (dict(steps=3, alpha=[0.5, 1.5]), "alpha[1] must be in [0, 1], got 1.5"),
        (
            dict(steps=3, alpha=[0.1] * 3),
            "alpha as a sequence must have length steps - 1 = 2, got 3",
        ),
        (
            dict(alpha=None),
            "alpha must be a float in [0, 1], a sequence of steps - 1 floats in [0, 1], "
            "'optimal' or 'optimal-clipped', got None",
        ),
        (dict(alpha="best"), "alpha must be one of 'optimal', 'optimal-clipped', got 'best'"),
        (
            dict(lam=None, epsilon=0.1, alpha="optimal-clipped"),
            "alpha='optimal-clipped' needs a fixed lam (Borup Thm 4.4 holds for a fixed ridge); "
            "in epsilon mode pass a float or a sequence",
        ),
        (dict(gamma=-1.0), "gamma (kernel='rbf') must be in (0, inf), got -1.0"),
        (dict(kernel="poly", degree=0.5), "degree (kernel='poly') must be in [1, inf), got 0.5"),
        (dict(kernel="poly", coef0=float("nan")), "coef0 (kernel='poly') must be finite, got nan"),
    ],
)
def test_bad_hyperparameters_raise_the_whole_message(params, message) -> None:
    with pytest.raises(ValueError) as info:
        SelfDistilledKernelRidge(**params).fit(X, y)
    assert str(info.value) == message


def test_unknown_kernel_lists_the_kernels() -> None:
    with pytest.raises(ValueError) as info:
        SelfDistilledKernelRidge(kernel="gaussian").fit(X, y)
    assert str(info.value) == (
        f"kernel must be a callable or one of {_kernels_list()}, got 'gaussian'"
    )


def test_bad_validation_data_raise_the_whole_message() -> None:
    opt = SelfDistilledKernelRidge(alpha="optimal")
    cases = [
        (opt, {}, "alpha='optimal' needs validation data: pass X_val and y_val"),
        (opt, {"X_val": Xv}, "alpha='optimal' needs validation data: pass X_val and y_val"),
        (SelfDistilledKernelRidge(), {"y_val": yv}, "X_val and y_val must be given together"),
        (opt, {"X_val": Xv[:, :1], "y_val": yv}, "X_val must have 2 features like X, got 1"),
        (
            opt,
            {"X_val": Xv, "y_val": yv[:4]},
            "y_val must have shape (5, 1) matching X_val and y, got (4,)",
        ),
    ]
    for est, kwargs, message in cases:
        with pytest.raises(ValueError) as info:
            est.fit(X, y, **kwargs)
        assert str(info.value) == message


def test_bad_kernel_inputs_name_the_argument_in_the_whole_message() -> None:
    K = X @ X.T
    pre = SelfDistilledKernelRidge(kernel="precomputed")
    with pytest.raises(ValueError) as info:
        pre.fit(K[:, :5], y)
    assert str(info.value) == (
        'X must be a square kernel matrix for kernel="precomputed", got shape (12, 5)'
    )
    with pytest.raises(ValueError) as info:
        pre.fit(K + np.triu(np.ones_like(K), 1) * 1e-3, y)
    assert str(info.value) == (
        'X must be a symmetric kernel matrix for kernel="precomputed" '
        "(max |K - K^T| / max |K| <= 1e-08)"
    )
    # k(X_val, X) of a precomputed kernel is rectangular: it is not checked as a Gram matrix
    opt = SelfDistilledKernelRidge(kernel="precomputed", alpha="optimal")
    opt.fit(K, y, X_val=Xv @ X.T, y_val=yv)
    assert opt.predict(Xv @ X.T).shape == (5,)
    x = np.linspace(0, 1, 6)[:, None]
    spline = 'values must be in [0, 1] for kernel="spline", got range [1.5, 1.5]'
    for extra in ({}, {"n_components": 3, "random_state": 0}):  # exact and Nyström engines
        est = SelfDistilledKernelRidge(kernel="spline", lam=0.01, **extra).fit(x, y[:6])
        with pytest.raises(ValueError) as info:
            est.predict(np.array([[1.5]]))
        assert str(info.value) == f"X {spline}"
    opt = SelfDistilledKernelRidge(kernel="spline", lam=0.01, alpha="optimal")
    with pytest.raises(ValueError) as info:
        opt.fit(x, y[:6], X_val=np.array([[1.5]]), y_val=[0.0])
    assert str(info.value) == f"X_val {spline}"


def test_default_parameters() -> None:
    assert SelfDistilledKernelRidge().get_params() == {
        "kernel": "rbf",
        "gamma": None,
        "degree": 3,
        "coef0": 1,
        "kernel_params": None,
        "lam": 1.0,
        "epsilon": None,
        "steps": 3,
        "alpha": 0.0,
        "n_components": None,
        "block_size": 4096,
        "dtype": "float64",
        "random_state": None,
    }


def test_tags_pairwise_for_precomputed_and_multi_output() -> None:
    tags = SelfDistilledKernelRidge().__sklearn_tags__()
    assert tags.input_tags.pairwise is False and tags.target_tags.multi_output is True
    tags = SelfDistilledKernelRidge(kernel="precomputed").__sklearn_tags__()
    assert tags.input_tags.pairwise is True


class _TextFrame:
    """The two attributes check_numeric_columns reads from a DataFrame: one text column."""

    columns = ("a", "b")
    dtypes = (np.dtype(float), np.dtype(object))
    shape = (12, 2)


def test_non_numeric_columns_are_named_with_the_argument() -> None:
    text = "must hold numbers only; column(s) 'b' (object) hold text, dates or categories: "
    text += "encode them as numbers or drop them"
    est = SelfDistilledKernelRidge()
    cases = [(lambda: est.fit(_TextFrame(), y), "X")]
    cases.append(
        (lambda: SelfDistilledKernelRidge(alpha="optimal").fit(X, y, _TextFrame(), yv), "X_val")
    )
    for extra in ({}, {"n_components": 4, "random_state": 0}):  # exact and Nyström engines
        fitted = SelfDistilledKernelRidge(**extra).fit(X, y)
        cases.append((lambda fitted=fitted: fitted.predict(_TextFrame()), "X"))
    for call, name in cases:
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == f"{name} {text}"


def test_non_finite_y_val_is_named() -> None:
    opt = SelfDistilledKernelRidge(alpha="optimal")
    with pytest.raises(ValueError) as info:
        opt.fit(X, y, X_val=Xv, y_val=np.r_[yv[:-1], np.nan])
    assert str(info.value) == "Input y_val contains NaN."


def test_inputs_are_cast_to_float64() -> None:
    # float32 X is fitted in float64: the same coefficients as the float64 copy, to rounding
    X32 = X.astype(np.float32)
    ref = SelfDistilledKernelRidge(lam=0.1).fit(X32.astype(np.float64), y)
    est = SelfDistilledKernelRidge(lam=0.1).fit(X32, y)
    assert est.X_fit_.dtype == np.float64
    np.testing.assert_allclose(est.dual_coefs_, ref.dual_coefs_, rtol=1e-12)


def test_symmetry_check_edges() -> None:
    from selfdistill.kernel.ridge import SYMMETRY_RTOL, check_kernel_input

    check_kernel_input("precomputed", "X", np.empty((0, 0)), fit=True)  # empty: symmetric
    # all zeros: asymmetry 0 is not above the threshold 0 (a valid, if useless, Gram matrix)
    est = SelfDistilledKernelRidge(kernel="precomputed", lam=0.5).fit(np.zeros((3, 3)), y[:3])
    np.testing.assert_allclose(est.dual_coefs_[0], y[:3] / 0.5, rtol=1e-15)
    # asymmetry exactly SYMMETRY_RTOL * max |K| is accepted (the bound is inclusive)
    K = np.array([[1.0, 0.0], [SYMMETRY_RTOL, 1.0]])
    assert float(np.abs(K - K.T).max()) == SYMMETRY_RTOL * 1.0
    check_kernel_input("precomputed", "X", K, fit=True)
    with pytest.raises(ValueError, match="symmetric"):
        check_kernel_input("precomputed", "X", K * [[1.0, 1.0], [1.5, 1.0]], fit=True)


def test_block_size_is_ignored_without_n_components_and_checked_with_it() -> None:
    exact = SelfDistilledKernelRidge(block_size=0).fit(X, y)  # never read by the exact engine
    np.testing.assert_array_equal(
        exact.predict(Xv), SelfDistilledKernelRidge().fit(X, y).predict(Xv)
    )
    ny = SelfDistilledKernelRidge(n_components=4, random_state=0, block_size=2).fit(X, y)
    with pytest.raises(ValueError) as info:
        ny.set_params(block_size=0).predict(Xv)
    assert str(info.value) == "block_size must be an integer in [1, inf], got 0"
    with pytest.raises(ValueError) as info:
        ny.set_params(block_size=2).predict(rng.normal(size=(2, 3)))
    assert str(info.value) == (
        "X has 3 features, but SelfDistilledKernelRidge is expecting 2 features as input."
    )
    np.testing.assert_allclose(ny.predict(Xv), ny.set_params(block_size=1).predict(Xv), rtol=1e-13)
