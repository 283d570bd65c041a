"""Tests that kill surviving mutants of the α estimate, `selfdistill.alpha` (issue 17).

Each test names what it pins down (``scripts/mutation.py``, docs/testing.md); every value is
checked against an independent computation (explicit sums, the closed form written out).
"""

from __future__ import annotations

import numpy as np
import pytest

from selfdistill.alpha import (
    combined_prediction,
    one_hot,
    optimal_alpha,
    validation_sq_error,
)

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
