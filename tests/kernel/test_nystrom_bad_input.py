"""Bad input to the Nyström engine: one clear ValueError each, naming the argument (issue 25)."""

from __future__ import annotations

import numpy as np
import pytest

from selfdistill.kernel.nystrom import NystromAccumulator, check_n_components, select_centres

KA = {"kernel": "rbf", "gamma": 0.3, "degree": 3, "coef0": 1, "kernel_params": None}


def acc(**kw):
    C = np.random.default_rng(0).normal(size=(5, 3))
    return NystromAccumulator(C, kw.pop("ka", KA), **kw)


@pytest.mark.parametrize(
    ("value", "match"),
    [(0, "n_components must be"), (-3, "n_components must be"), (2.5, "n_components"),
     ("10", "n_components"), (True, "n_components")],
)  # fmt: skip
def test_n_components_must_be_an_int_of_at_least_one(value, match):
    with pytest.raises(ValueError, match=match):
        check_n_components(value)
    assert check_n_components(None) is None and check_n_components(7) == 7


@pytest.mark.parametrize("block_size", [0, -1, 1.5])
def test_block_size_must_be_a_positive_int(block_size):
    with pytest.raises(ValueError, match="block_size"):
        acc(block_size=block_size)


def test_dtype_must_be_float64_or_float32():
    with pytest.raises(ValueError, match="dtype"):
        acc(dtype="float16")


def test_partial_fit_blocks_of_another_width_are_refused():
    a = acc()
    a.partial_fit(np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"X_block must have shape \(rows, 3\).*got \(4, 2\)"):
        a.partial_fit(np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="y_block must have 4 rows"):
        a.partial_fit(np.ones((4, 3)), np.ones(5))
    with pytest.raises(ValueError, match="finite"):
        a.partial_fit(np.full((4, 3), np.nan), np.ones(4))


def test_fold_labels_must_be_in_range():
    a = acc(n_folds=2)
    with pytest.raises(ValueError, match="folds must be given"):
        a.partial_fit(np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"folds must hold one int in \[0, 2\)"):
        a.partial_fit(np.ones((4, 3)), np.ones(4), folds=[0, 1, 2, 0])


def test_merging_different_centres_gamma_kernel_or_folds_is_refused():
    a = acc()
    other_centres = NystromAccumulator(np.zeros((5, 3)), KA)
    with pytest.raises(ValueError, match="different centres"):
        a.merge(other_centres)
    with pytest.raises(ValueError, match=r"different kernel parameter 'gamma': 0\.3 vs 0\.5"):
        a.merge(acc(ka={**KA, "gamma": 0.5}))
    with pytest.raises(ValueError, match="different kernel parameter 'kernel'"):
        a.merge(acc(ka={**KA, "kernel": "laplacian"}))
    with pytest.raises(ValueError, match="dtype"):
        a.merge(acc(dtype="float32"))
    with pytest.raises(ValueError, match="numbers of folds or outputs"):
        a.merge(acc(n_folds=3))
    with pytest.raises(ValueError, match="NystromAccumulator"):
        a.merge("not an accumulator")


def test_centres_are_a_seeded_uniform_sample_of_rows():
    X = np.arange(40.0).reshape(20, 2)
    C = select_centres(X, 6, 3)
    assert np.array_equal(C, select_centres(X, 6, 3))
    assert C.shape == (6, 2) and len({tuple(r) for r in C}) == 6
    assert all(any(np.array_equal(r, x) for x in X) for r in C)
    assert select_centres(X, 50, 0).shape == (20, 2)
