"""Bad-input matrix for the torch-free public API (issue 11).

Every public function or estimator, given a corrupted version of one of its array arguments
(NaN, inf, complex, strings, empty, wrong dimensionality, mismatched length) or of one of its
scalar arguments, must raise ``ValueError``/``TypeError`` whose message names that argument —
never return a number, warn and go on, or leak an error from NumPy's internals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from selfdistill import SelfDistilledKernelRidge, corrupt_labels, theory
from selfdistill.kernel.functions import kernel_matrix, spline_kernel

EIG = np.array([4.0, 2.0, 1.0, 0.5])
Y = np.array([1.0, -0.5, 0.8, 0.3])
EPS = 0.05


def _corrupt_vector(v: np.ndarray) -> dict[str, object]:
    """Corruptions of a valid 1-D float vector, by name."""
    nan = v.copy()
    nan[1] = np.nan
    inf = v.copy()
    inf[0] = np.inf
    return {
        "nan": nan,
        "inf": inf,
        "complex": v + 1j,
        "strings": np.array(["a"] * v.size),
        "empty": np.array([]),
        "2-d": np.vstack([v, v]),
        "short": v[:-1],
        "ragged": [list(v), [1.0]],
    }


#: name -> (function, valid keyword arguments); every array argument is corrupted in turn.
VECTOR_CALLS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "c_bounds": (theory.c_bounds, {"eigvals": EIG, "y": Y, "epsilon": EPS}),
    "norm_lower_bound": (
        theory.norm_lower_bound,
        {"t": 1.0, "eigvals": EIG, "y": Y, "epsilon": EPS},
    ),
    "guaranteed_rounds": (theory.guaranteed_rounds, {"eigvals": EIG, "y": Y, "epsilon": EPS}),
    "ratio_lower_bound": (
        theory.ratio_lower_bound,
        {"t": 1.0, "eigvals": EIG, "y": Y, "epsilon": EPS},
    ),
    "sparsity_index": (theory.sparsity_index, {"t": 1.0, "eigvals": EIG, "y": Y, "epsilon": EPS}),
    "max_sparsity_index": (theory.max_sparsity_index, {"eigvals": EIG, "y": Y, "epsilon": EPS}),
    "sparsity_index_limit": (theory.sparsity_index_limit, {"eigvals": EIG}),
    "equivalent_spectrum": (theory.equivalent_spectrum, {"eigvals": EIG, "cs": [0.5, 0.3]}),
    "rademacher_trace_term": (theory.rademacher_trace_term, {"d_dagger": EIG}),
    "local_rademacher_term": (theory.local_rademacher_term, {"d_dagger": EIG}),
    "early_stopping_path": (
        theory.early_stopping_path,
        {"eigvals": EIG, "y": Y, "epsilons": np.array([0.05, 0.1])},
    ),
    "limit_rate": (theory.limit_rate, {"eigvals": EIG, "lam": 0.5, "alpha": 0.3}),
    "collapse_regime": (theory.collapse_regime, {"y": Y, "epsilon": EPS, "alpha": 0.3}),
}


def _vector_cases() -> list[tuple[str, str, str]]:
    cases = []
    for fname, (_, kwargs) in VECTOR_CALLS.items():
        for arg, value in kwargs.items():
            if not isinstance(value, np.ndarray | list):
                continue
            for corruption in _corrupt_vector(np.asarray(value, dtype=float)):
                paired = {"eigvals", "y"} <= kwargs.keys() and arg in ("eigvals", "y")
                if corruption == "short" and not paired:
                    continue  # a length is only wrong against the vector it must match
                cases.append((fname, arg, corruption))
    return cases


def test_valid_calls_succeed() -> None:
    """The baseline: every call of the matrix works on its valid arguments."""
    for func, kwargs in VECTOR_CALLS.values():
        func(**kwargs)


@pytest.mark.parametrize(("fname", "arg", "corruption"), _vector_cases())
def test_theory_rejects_corrupted_arrays(fname: str, arg: str, corruption: str) -> None:
    func, kwargs = VECTOR_CALLS[fname]
    bad = _corrupt_vector(np.asarray(kwargs[arg], dtype=float))[corruption]
    with _no_warning():
        with pytest.raises((ValueError, TypeError)) as info:
            func(**{**kwargs, arg: bad})
    message = str(info.value)
    # the message names the argument (the length check names both vectors it compares)
    assert arg in message or (corruption == "short" and "same length" in message), message


class _no_warning:
    """Context manager failing the test if anything warns inside (e.g. a ComplexWarning)."""

    def __enter__(self) -> None:
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


SCALAR_BAD = {"nan": np.nan, "inf": np.inf, "complex": 1j, "string": "0.1", "none": None}


@pytest.mark.parametrize(
    ("fname", "arg"),
    [(f, a) for f, (_, kw) in VECTOR_CALLS.items() for a, v in kw.items() if isinstance(v, float)],
)
@pytest.mark.parametrize("corruption", list(SCALAR_BAD))
def test_theory_rejects_bad_scalars(fname: str, arg: str, corruption: str) -> None:
    func, kwargs = VECTOR_CALLS[fname]
    with pytest.raises((ValueError, TypeError), match=arg):
        func(**{**kwargs, arg: SCALAR_BAD[corruption]})


# --------------------------------------------------------------------- corrupt_labels


@pytest.mark.parametrize(
    ("y", "fragment"),
    [
        (np.array(["a", "b"]), "y must hold integer"),
        (np.array([0.0, 1.5]), "y must hold integer"),
        (np.array([0.0, np.nan]), "y must hold integer"),
        (np.array([0, 1]) + 0j, "y must hold integer"),
        (np.array([True, False]), "y must hold integer"),
        (np.array([[0, 1]]), "y must be a 1-D"),
        (np.array([0, -1, 2]), "y must hold labels in"),
        (np.array([], dtype=int), "num_classes must be given"),
    ],
)
def test_corrupt_labels_rejects_bad_labels(y: np.ndarray, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        corrupt_labels(y, 0.2)


def test_corrupt_labels_accepts_whole_float_labels() -> None:
    """Whole-number floats are labels: same result as the integers they equal."""
    y = np.array([0, 1, 2, 1, 0, 2, 2, 1])
    noisy_f, mask_f = corrupt_labels(y.astype(float), 0.5, seed=3)
    noisy_i, mask_i = corrupt_labels(y, 0.5, seed=3)
    np.testing.assert_array_equal(noisy_f, noisy_i)
    np.testing.assert_array_equal(mask_f, mask_i)
    assert noisy_f.dtype == np.int64


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"rate": np.nan}, "rate"),
        ({"rate": 1.5}, "rate"),
        ({"rate": 0.1j}, "rate"),
        ({"kind": "gaussian"}, "kind"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": 2.5}, "num_classes"),
        ({"seed": "zero"}, "seed"),
    ],
)
def test_corrupt_labels_rejects_bad_parameters(kwargs: dict[str, Any], name: str) -> None:
    call = {"y": np.array([0, 1, 2]), "rate": 0.2, **kwargs}
    with pytest.raises(ValueError, match=name):
        corrupt_labels(**call)


# --------------------------------------------------------------------- the estimator

RNG = np.random.default_rng(0)
X = RNG.random((12, 2))
YR = RNG.random(12)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"gamma": -1.0}, "gamma"),
        ({"gamma": 0.0}, "gamma"),
        ({"gamma": np.nan}, "gamma"),
        ({"kernel": "laplacian", "gamma": -2.0}, "gamma"),
        ({"kernel": "chi2", "gamma": -0.5}, "gamma"),
        ({"kernel": "poly", "gamma": -0.5}, "gamma"),
        ({"kernel": "poly", "degree": 0}, "degree"),
        ({"kernel": "poly", "coef0": np.inf}, "coef0"),
        ({"kernel": "sigmoid", "coef0": np.nan}, "coef0"),
        ({"lam": 0.0}, "lam"),
        ({"lam": -1.0}, "lam"),
        ({"lam": 1j}, "lam"),
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"alpha": 1.5}, "alpha"),
        ({"alpha": np.nan}, "alpha"),
        ({"alpha": [0.1, 0.2]}, "alpha"),
        ({"kernel": "nope"}, "kernel"),
        ({"lam": None, "epsilon": -0.1}, "epsilon"),
    ],
)
def test_estimator_rejects_bad_params(params: dict[str, Any], name: str) -> None:
    """Silent wrong answers before issue 11: gamma = -1 gave predictions of 1e37."""
    est = SelfDistilledKernelRidge(**{"lam": 0.1, "steps": 2, **params})
    with pytest.raises(ValueError, match=name):
        est.fit(X, YR)


def test_gamma_is_ignored_where_the_kernel_ignores_it() -> None:
    """As in scikit-learn: a linear kernel does not read gamma, so it is not checked."""
    SelfDistilledKernelRidge(kernel="linear", gamma=-1.0, lam=0.1).fit(X, YR)


@pytest.mark.parametrize(
    ("X_bad", "y_bad"),
    [
        (np.where(np.arange(24).reshape(12, 2) == 3, np.nan, X), YR),
        (np.where(np.arange(24).reshape(12, 2) == 3, np.inf, X), YR),
        (X + 1j, YR),
        (X, YR + 1j),
        (X, np.r_[YR[:-1], np.nan]),
        (X[:-1], YR),
        (np.array([["a", "b"]] * 12), YR),
        (X[:, :, None], YR),
        (np.empty((0, 2)), np.empty(0)),
    ],
)
def test_estimator_rejects_bad_data(X_bad: np.ndarray, y_bad: np.ndarray) -> None:
    with pytest.raises((ValueError, TypeError)):
        SelfDistilledKernelRidge(lam=0.1).fit(X_bad, y_bad)


def test_predict_rejects_wrong_feature_count() -> None:
    est = SelfDistilledKernelRidge(lam=0.1).fit(X, YR)
    with pytest.raises(ValueError, match="features"):
        est.predict(RNG.random((3, 5)))


# --------------------------------------------------------------------- kernels


@pytest.mark.parametrize(
    "bad", [np.array([[0.5], [1.5]]), np.array([[0.1, 0.2]]), np.array([[-0.1]])]
)
def test_spline_kernel_rejects_bad_points(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="X"):
        spline_kernel(bad)


def test_kernel_matrix_on_valid_input_matches_sklearn() -> None:
    from sklearn.metrics.pairwise import rbf_kernel

    np.testing.assert_allclose(kernel_matrix(X, kernel="rbf", gamma=0.7), rbf_kernel(X, gamma=0.7))
