"""Tests of label corruption (torch-free).

Realised fractions are compared with the definitions under a binomial tolerance: for n draws with
success probability p the count's standard deviation is sqrt(n p (1 - p)); we allow 5 standard
deviations (a false alarm has probability < 1e-6 per check), and the seeds are fixed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from selfdistill import corrupt_labels
from selfdistill.noise import NOISE_KINDS, expected_wrong_fraction
from tests.helpers import run_without_torch


def _binomial_ok(count: int, n: int, p: float, sigmas: float = 5.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1.0


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("rate", [0.2, 0.4, 0.8])
@pytest.mark.parametrize("num_classes", [2, 10])
def test_realised_wrong_fraction_matches_definition(kind, rate, num_classes):
    n = 50_000
    y = np.arange(n) % num_classes
    noisy, mask = corrupt_labels(y, rate, kind, num_classes, seed=3)
    p = expected_wrong_fraction(rate, kind, num_classes)
    assert p == pytest.approx(
        rate * (num_classes - 1) / num_classes if kind == "symmetric" else rate
    )
    assert _binomial_ok(int(mask.sum()), n, p), (mask.mean(), p)
    np.testing.assert_array_equal(mask, noisy != y)


def test_symmetric_resamples_over_all_classes():
    # The resampled labels are uniform over ALL classes, so the observed label equals class j != y
    # with probability rate / C each, and equals y with probability 1 - rate + rate / C.
    n, c, rate = 60_000, 5, 0.6
    y = np.zeros(n, dtype=np.int64)
    noisy, _ = corrupt_labels(y, rate, "symmetric", c, seed=1)
    counts = np.bincount(noisy, minlength=c)
    expected = n * np.array([1 - rate + rate / c] + [rate / c] * (c - 1))
    assert stats.chisquare(counts, expected).pvalue > 1e-4


def test_exclusive_wrong_labels_uniform_over_other_classes():
    n, c = 60_000, 6
    y = np.full(n, 2, dtype=np.int64)
    noisy, mask = corrupt_labels(y, 0.5, "symmetric-exclusive", c, seed=2)
    wrong = noisy[mask]
    assert not np.any(wrong == 2)
    counts = np.bincount(wrong, minlength=c)[[0, 1, 3, 4, 5]]
    assert stats.chisquare(counts).pvalue > 1e-4


@given(
    y=st.lists(st.integers(0, 6), min_size=1, max_size=200),
    rate=st.floats(0.0, 1.0),
    kind=st.sampled_from(NOISE_KINDS),
    seed=st.integers(0, 2**31 - 1),
)
def test_properties(y, rate, kind, seed):
    y = np.asarray(y)
    c = 7
    noisy, mask = corrupt_labels(y, rate, kind, c, seed=seed)
    assert noisy.dtype == np.int64 and mask.dtype == bool and noisy.shape == y.shape
    assert noisy.min() >= 0 and noisy.max() < c
    np.testing.assert_array_equal(mask, noisy != y)
    if kind == "pair":
        np.testing.assert_array_equal(noisy[mask], (y[mask] + 1) % c)
    again, mask2 = corrupt_labels(y, rate, kind, c, seed=seed)
    np.testing.assert_array_equal(noisy, again)
    np.testing.assert_array_equal(mask, mask2)


@given(y=st.lists(st.integers(0, 3), min_size=1, max_size=100), kind=st.sampled_from(NOISE_KINDS))
def test_extreme_rates(y, kind):
    y = np.asarray(y)
    noisy, mask = corrupt_labels(y, 0.0, kind, 4, seed=0)
    np.testing.assert_array_equal(noisy, y)
    assert not mask.any()
    if kind != "symmetric":
        _, mask = corrupt_labels(y, 1.0, kind, 4, seed=0)
        assert mask.all()


def test_seed_changes_draws_and_default_num_classes():
    y = np.arange(1000) % 10
    a, _ = corrupt_labels(y, 0.5, "symmetric", seed=0)
    b, _ = corrupt_labels(y, 0.5, "symmetric", seed=1)
    assert np.mean(a != b) > 0.2
    assert a.max() <= 9  # num_classes defaults to max(y) + 1 = 10
    with pytest.raises(ValueError, match="num_classes"):
        corrupt_labels([], 0.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rate": -0.1}, "rate"),
        ({"rate": 1.5}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"kind": "asymmetric"}, "kind"),
        ({"num_classes": 1}, "num_classes"),
        ({"num_classes": 3}, r"y must hold labels in \[0, 2\]"),
        ({"y": [0, -1, 2]}, "y must hold labels"),
        ({"y": [0.5, 1.0]}, "integer class labels"),
        ({"y": [[0, 1]]}, "1-D"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = {"y": [0, 1, 2, 3], "rate": 0.2, "kind": "symmetric", "num_classes": 4, "seed": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        corrupt_labels(**args)


def test_importable_without_torch():
    result = run_without_torch(
        "from selfdistill import corrupt_labels\n"
        "n, m = corrupt_labels([0, 1, 2], 1.0, 'pair', 3, 0)\n"
        "print(n.tolist(), m.tolist())\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[1, 2, 0] [True, True, True]"


# ----------------------------------------------------------------------
# Tests that kill surviving mutants of `selfdistill.noise` (issue 17; mutmut, docs/testing.md).
@pytest.mark.parametrize("rate", [-0.1, 1.5, 2.0])
def test_expected_wrong_fraction_rejects_rates_outside_unit_interval(rate):
    with pytest.raises(ValueError, match="rate"):
        expected_wrong_fraction(rate, "symmetric", 10)


def test_default_seed_is_zero():
    y = np.arange(40) % 5
    default = corrupt_labels(y, 0.5)
    for a, b in zip(default, corrupt_labels(y, 0.5, seed=0), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(default[0], corrupt_labels(y, 0.5, seed=1)[0])


@pytest.mark.parametrize("kind", ["symmetric", "symmetric-exclusive", "pair"])
def test_draws_follow_the_documented_recipe(kind):
    # The recipe, written out with NumPy: one uniform per label decides the flip, then one
    # integer draw per label gives the candidate (all classes; an offset in 1..C-1 added to the
    # true class; the next class). The same seed must give these labels in every version, since
    # saved experiments quote them.
    y = np.arange(200) % 7
    rng = np.random.default_rng(11)
    flip = rng.random(200) < 0.6
    if kind == "symmetric":
        candidates = rng.integers(0, 7, size=200)
    elif kind == "symmetric-exclusive":
        candidates = (y + rng.integers(1, 7, size=200)) % 7
    else:
        candidates = (y + 1) % 7
    expected = np.where(flip, candidates, y)
    noisy, mask = corrupt_labels(y, 0.6, kind, 7, seed=11)
    np.testing.assert_array_equal(noisy, expected)
    np.testing.assert_array_equal(mask, expected != y)


# Each message is checked whole: it names the argument and its allowed values (issue 21).
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: expected_wrong_fraction(1.5, "pair", 10), "rate must be in [0, 1], got 1.5"),
        (
            lambda: expected_wrong_fraction(0.5, "bogus", 10),
            "kind must be one of 'symmetric', 'symmetric-exclusive', 'pair', got 'bogus'",
        ),
        (
            lambda: expected_wrong_fraction(0.5, "pair", 1),
            "num_classes must be an integer in [2, inf], got 1",
        ),
        (
            lambda: expected_wrong_fraction(0.5, "symmetric", -3),
            "num_classes must be an integer in [2, inf], got -3",
        ),
        (lambda: corrupt_labels([0, 1], 1.5), "rate must be in [0, 1], got 1.5"),
        (
            lambda: corrupt_labels([0, 1], 0.5, "bogus"),
            "kind must be one of 'symmetric', 'symmetric-exclusive', 'pair', got 'bogus'",
        ),
        (lambda: corrupt_labels([], 0.5), "num_classes must be given when y is empty"),
        (lambda: corrupt_labels([0, 0], 0.5), "num_classes must be an integer in [2, inf], got 1"),
        (
            lambda: corrupt_labels([0, 0], 0.5, num_classes=1),
            "num_classes must be an integer in [2, inf], got 1",
        ),
        (
            lambda: corrupt_labels(np.array([True, False]), 0.5),
            "y must hold integer class labels, got dtype bool",
        ),
        (
            lambda: corrupt_labels(np.array(["0", "1"]), 0.5),
            "y must hold integer class labels, got dtype <U1",
        ),
        (
            lambda: corrupt_labels(np.array([0.0, 1.5]), 0.5, num_classes=3),
            "y must hold integer class labels, got non-integer or non-finite floats",
        ),
        (
            lambda: corrupt_labels(np.array([0.0, np.nan]), 0.5, num_classes=3),
            "y must hold integer class labels, got non-integer or non-finite floats",
        ),
    ],
)
def test_bad_input_messages_are_exact(call, message):
    with pytest.raises(ValueError) as caught:
        call()
    assert str(caught.value) == message


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int64, np.float32, np.float64])
def test_whole_number_labels_of_every_numeric_dtype_are_accepted(dtype):
    y = np.array([0, 1, 2, 3, 3, 1], dtype=dtype)  # odd values: a wrong `mod` test refuses them
    noisy, mask = corrupt_labels(y, 1.0, "pair")
    assert noisy.dtype == np.int64
    np.testing.assert_array_equal(noisy, [1, 2, 3, 0, 0, 2])
    assert mask.all()
