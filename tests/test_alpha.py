"""Closed-form α̂ (Borup & Andersen eq. 16, Frobenius version of section 5) against numerical
minimisation and against brute-force kernel ridge refits."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from selfdistill.alpha import (
    combined_prediction,
    one_hot,
    optimal_alpha,
    validation_sq_error,
)


def _numerical_alpha(y, first, alpha0):
    def objective(a):
        return validation_sq_error(y, combined_prediction(a, first, alpha0))

    # The objective is a parabola in α; bracket generously and polish to high precision.
    res = minimize_scalar(objective, bracket=(-10.0, 10.0), tol=1e-12)
    return res.x, objective


@given(
    seed=st.integers(0, 10_000),
    m=st.integers(1, 30),
    p=st.integers(1, 6),
    scale=st.floats(0.05, 20.0),
)
def test_closed_form_matches_numerical_minimisation(seed, m, p, scale):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(m, p))
    first = rng.normal(size=(m, p))
    alpha0 = first + scale * rng.normal(size=(m, p))
    closed = optimal_alpha(y, first, alpha0)
    numeric, objective = _numerical_alpha(y, first, alpha0)
    # Parabola: the closed form is the vertex, compare positions and objective values.
    assert closed == pytest.approx(numeric, rel=1e-5, abs=1e-5)
    assert objective(closed) <= objective(numeric) + 1e-9 * max(1.0, objective(numeric))
    for delta in (1e-3, -1e-3, 0.5, -0.5):
        assert objective(closed) <= objective(closed + delta) + 1e-12


def test_frobenius_equals_flattened_vector_version():
    rng = np.random.default_rng(3)
    y, first, alpha0 = (rng.normal(size=(12, 4)) for _ in range(3))
    assert optimal_alpha(y, first, alpha0) == pytest.approx(
        optimal_alpha(y.ravel(), first.ravel(), alpha0.ravel()), rel=1e-12
    )


def test_known_values():
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    first = np.zeros((2, 2))
    # Predictions equal to the targets at α = 0: α̂ = 0. Equal to targets at α = 1: α̂ = 1.
    assert optimal_alpha(y, first, y) == pytest.approx(0.0, abs=1e-15)
    assert optimal_alpha(y, y, first) == pytest.approx(1.0, abs=1e-15)
    # Target halfway between the two predictions: α̂ = 1/2.
    assert optimal_alpha(y / 2, first, y) == pytest.approx(0.5, abs=1e-15)
    # Coinciding predictions: α does not matter, keep the ground truth.
    assert optimal_alpha(y, first, first) == 1.0


def _krr_val_predictions(k_train, k_val, targets, lam):
    return k_val @ np.linalg.solve(k_train + lam * np.eye(len(k_train)), targets)


def test_exact_optimum_for_kernel_ridge_regression_by_refits():
    """Borup Thm 4.4: for KRR, α̂ is the exact minimiser of the validation error of the refit."""
    rng = np.random.default_rng(0)
    n, m, p, lam = 40, 25, 3, 0.3
    x, xv = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))

    def rbf(a, b):
        return np.exp(-0.5 * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    k, kv = rbf(x, x), rbf(xv, x)
    y = one_hot(rng.integers(0, p, n), p)
    yv = one_hot(rng.integers(0, p, m), p)
    solve = np.linalg.solve(k + lam * np.eye(n), np.eye(n))
    # Step 1 on the labels, then two steps with α = 0.4 to get a non-trivial teacher.
    teacher = k @ solve @ y
    first_val = kv @ solve @ y
    teacher = k @ solve @ (0.4 * y + 0.6 * teacher)

    def refit_val(alpha):  # brute force: solve the step's ridge problem again
        return _krr_val_predictions(k, kv, alpha * y + (1 - alpha) * teacher, lam)

    closed = optimal_alpha(yv, first_val, refit_val(0.0))
    numeric = minimize_scalar(
        lambda a: validation_sq_error(yv, refit_val(a)), bracket=(-5.0, 5.0), tol=1e-12
    ).x
    assert closed == pytest.approx(numeric, abs=1e-6)
    assert (
        abs(closed) > 0.05
    )  # a non-trivial value (-0.119 here), so the comparison means something


def test_one_hot_and_errors():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    with pytest.raises(ValueError, match="labels"):
        one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="same shape"):
        optimal_alpha(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        optimal_alpha(np.full((2, 2), np.nan), np.zeros((2, 2)), np.ones((2, 2)))


def test_the_old_path_nn_alpha_gives_the_torch_free_functions(monkeypatch):
    """``selfdistill.nn.alpha`` only re-exported this module; its old path now is this module."""
    pytest.importorskip("torch")
    import sys

    import selfdistill.alpha as core

    monkeypatch.delitem(sys.modules, "selfdistill.nn.alpha", raising=False)  # warn every time

    with pytest.warns(DeprecationWarning, match=r"selfdistill\.nn\.alpha has moved"):
        import selfdistill.nn.alpha as nn_alpha
    for name in core.__all__:
        assert getattr(nn_alpha, name) is getattr(core, name)


# ----------------------------------------------------------------------
# Tests that kill surviving mutants of the α estimate, `selfdistill.alpha` (issue 17).
# ---------------------------------------------------------------- the α estimate: input checks


@pytest.mark.parametrize(
    ("labels", "num_classes", "match"),
    [
        (np.array([-1, 0]), 2, r"\[0, 1\]"),  # negative label ('< 0' -> '<= 0' or deleted raise)
        (np.array([0, 2]), 2, r"\[0, 1\]"),  # label == num_classes ('>=' -> '>')
        (np.array([0, 1]), 0, r"\[0, -1\]"),  # num_classes < 1
        (np.array([0.0, 1.0]), 2, "integer"),  # 1-D float labels
        (np.array([[0, 1]]), 2, "1-D"),  # 2-D labels
    ],
)
def test_one_hot_rejects(labels, num_classes, match):
    with pytest.raises(ValueError, match=match):
        one_hot(labels, num_classes)


def test_one_hot_edges_accepted():
    # label 0 and label num_classes - 1 are the two ends of the allowed range
    np.testing.assert_array_equal(one_hot(np.array([0, 1]), 2), np.eye(2))
    assert one_hot(np.array([], dtype=np.int64), 3).shape == (0, 3)
    assert one_hot(np.array([0]), 1).tolist() == [[1.0]]


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 2, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros((2, 0))],
    ids=["3-D", "no rows", "empty 1-D", "no columns"],
)
def test_matrix_inputs_must_be_non_empty_2d(bad):
    with pytest.raises(ValueError, match="non-empty"):
        validation_sq_error(bad, bad)
    with pytest.raises(ValueError, match="non-empty"):
        combined_prediction(0.5, bad, bad)


def test_validation_sq_error_value_and_shape_check():
    rng = np.random.default_rng(0)
    t, p = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    expected = sum((t[i, j] - p[i, j]) ** 2 for i in range(5) for j in range(3))
    assert validation_sq_error(t, p) == pytest.approx(expected, rel=1e-14)
    # a vector is a one-column matrix: (5,) against (5, 1) is the same data
    assert validation_sq_error(t[:, 0], p[:, :1]) == pytest.approx(np.sum((t[:, 0] - p[:, 0]) ** 2))
    with pytest.raises(ValueError, match="differ in shape"):
        validation_sq_error(t, p[:4])
    with pytest.raises(ValueError, match="differ in shape"):
        validation_sq_error(t, p[:, :2])
    with pytest.raises(ValueError, match="finite"):
        validation_sq_error(t, np.full((5, 3), np.inf))
    one_nan = p.copy()
    one_nan[2, 1] = np.nan  # a single non-finite entry among finite ones is refused too
    with pytest.raises(ValueError, match="finite"):
        validation_sq_error(t, one_nan)


def test_combined_prediction_value_and_shape_check():
    first, zero = np.array([[1.0, 2.0]]), np.array([[5.0, -4.0]])
    np.testing.assert_allclose(combined_prediction(0.25, first, zero), [[4.0, -2.5]], rtol=1e-15)
    with pytest.raises(ValueError, match="differ in shape"):
        combined_prediction(0.5, first, np.zeros((2, 2)))


def test_optimal_alpha_vector_inputs_equal_column_matrices():
    rng = np.random.default_rng(3)
    y, first, zero = rng.normal(size=(3, 8))
    col = optimal_alpha(y[:, None], first[:, None], zero[:, None])
    assert optimal_alpha(y, first, zero) == pytest.approx(col, rel=1e-14)
    # the closed form by hand: 1 - <zero - first, y - first> / |zero - first|^2
    d = zero - first
    assert col == pytest.approx(1 - d @ (y - first) / (d @ d), rel=1e-12)


# Each message is checked whole, so that it names the argument at fault (issue 21).
_OK = np.array([[1.0, 2.0]])
_NAN = np.array([[1.0, np.nan]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: validation_sq_error(_NAN, _OK), "targets must contain only finite values"),
        (lambda: validation_sq_error(_OK, _NAN), "predictions must contain only finite values"),
        (lambda: combined_prediction(0.5, _NAN, _OK), "pred_first must contain only finite values"),
        (
            lambda: combined_prediction(0.5, _OK, _NAN),
            "pred_alpha0 must contain only finite values",
        ),
        (lambda: optimal_alpha(_NAN, _OK, _OK), "targets must contain only finite values"),
        (lambda: optimal_alpha(_OK, _NAN, _OK), "pred_first must contain only finite values"),
        (lambda: optimal_alpha(_OK, _OK, _NAN), "pred_alpha0 must contain only finite values"),
        (
            lambda: optimal_alpha(_OK, _OK, np.zeros((1, 3))),
            "targets (1, 2), pred_first (1, 2) and pred_alpha0 (1, 3) must have the same shape",
        ),
        (
            lambda: validation_sq_error(np.zeros((2, 2, 2)), _OK),
            "targets must be a non-empty (m, p) matrix, got shape (2, 2, 2)",
        ),
    ],
)
def test_bad_input_messages_name_the_argument(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


def test_integer_inputs_are_computed_in_floating_point():
    # 4e9 squared overflows int64: the inputs are converted to float64 first
    assert validation_sq_error([4_000_000_000], [0]) == 1.6e19
    assert validation_sq_error(np.array([True]), np.array([False])) == 1.0
