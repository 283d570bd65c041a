"""The flag rule against a brute-force count, and its properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selfdistill.nn.clean.flags import anchor_count, class_thresholds, flag_top


def _brute_count(p: np.ndarray, y: np.ndarray, q: float) -> int:
    k = p.shape[1]
    mine = [[p[i, j] for i in range(len(y)) if y[i] == j] for j in range(k)]
    t = [np.quantile(m, q) if m else np.inf for m in mine]
    count = 0
    for i in range(len(y)):
        best, best_p = None, -1.0
        for j in range(k):
            if p[i, j] >= t[j] and p[i, j] > best_p:
                best, best_p = j, p[i, j]
        count += best is not None and best != y[i]
    return count


@st.composite
def _problem(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n, k = draw(st.integers(3, 40)), draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(k) * 0.5, size=n)
    y = np.concatenate([np.arange(k), rng.integers(0, k, n - k)]) if n >= k else None
    if y is None:
        y = np.arange(n) % k
    trusted = rng.random(n) < draw(st.floats(0.0, 0.5))
    return p, y, trusted


@settings(max_examples=60, deadline=None)
@given(_problem(), st.sampled_from([0.0, 0.25, 0.5, 1.0]))
def test_count_and_flags_match_brute_force(problem, q) -> None:
    p, y, trusted = problem
    assert anchor_count(p, y, q) == _brute_count(p, y, q)
    flagged, score, threshold = flag_top(p, y, q=q, trusted=trusted)
    free = ~trusted
    assert not flagged[trusted].any()
    expected = _brute_count(p[free], y[free], q) if free.any() else 0
    assert flagged.sum() == expected
    np.testing.assert_allclose(score, 1.0 - p[np.arange(len(y)), y], rtol=0, atol=0)
    if expected:
        assert threshold == score[flagged].min()
        assert (score[free & ~flagged] <= threshold).all()
    else:
        assert threshold is None


def test_thresholds_are_the_quantile_among_the_class() -> None:
    p = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]])
    y = np.array([0, 0, 1, 1])
    np.testing.assert_allclose(class_thresholds(p, y, 0.5), [0.75, 0.75])
    # sample 1 is labelled 0 but reaches neither class-0's nor class-1's threshold: no count
    assert anchor_count(p, y, 0.5) == 0
    y_bad = np.array([1, 0, 1, 1])  # sample 0 is surely class 0
    assert flag_top(p, y_bad, q=0.5)[0].tolist() == [True, False, False, False]


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="proba must be"):
        flag_top(np.ones((3, 2)) / 2, np.array([0, 1]))
    with pytest.raises(ValueError, match="class indices"):
        flag_top(np.ones((2, 2)) / 2, np.array([0, 2]))
