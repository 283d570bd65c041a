"""The package's one convention for spreads over runs: the sample standard deviation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from selfdistill._util.stats import sample_std

finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=30))
def test_sample_std_is_the_unbiased_variance_root(values):
    # Against the textbook formula in plain Python (math.fsum), relative 1e-9 (absolute 1e-6 for
    # the cancellation when all values are nearly equal).
    n = len(values)
    mean = math.fsum(values) / n
    expected = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    assert sample_std(values) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_axis_single_run_and_errors():
    runs = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 7.0]])  # 2 seeds x 3 epochs
    np.testing.assert_allclose(sample_std(runs, axis=0), [np.sqrt(2), 0.0, np.sqrt(8)], rtol=1e-15)
    np.testing.assert_array_equal(sample_std(runs[:1], axis=0), [0.0, 0.0, 0.0])
    assert sample_std([0.7]) == 0.0
    with pytest.raises(ValueError, match="at least one"):
        sample_std([])
