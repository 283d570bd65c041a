"""Tests that kill surviving mutants of `selfdistill.kernel_ridge` (issue 17, scripts/mutation.py).

Multi-output targets against explicit solves, the clipped optimal alpha on a problem built to
need clipping, the relative symmetry check of precomputed kernels, where the warnings point, and
the errors of an unfitted estimator and of predict_limit in epsilon mode.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from selfdistill import SelfDistilledKernelRidge
from selfdistill.exceptions import CollapseWarning, ToleranceWarning


def _data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, rng.normal(size=(n, 3))


def _explicit_steps(K, Y, lam, alphas):
    """Borup eq. 4-7 by explicit solves: c_t = (K + lam I)^-1 (a_t Y + (1 - a_t) K c_{t-1})."""
    A = K + lam * np.eye(K.shape[0])
    coefs, prev = [], Y
    for t, a in enumerate(alphas):
        target = Y if t == 0 else a * Y + (1 - a) * prev
        c = np.linalg.solve(A, target)
        coefs.append(c)
        prev = K @ c
    return coefs


def test_multi_output_targets_match_explicit_solves():
    X, Y = _data()
    K = np.exp(-0.5 * ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    est = SelfDistilledKernelRidge(kernel="rbf", gamma=0.5, lam=0.3, steps=3, alpha=0.25).fit(X, Y)
    expected = _explicit_steps(K, Y, 0.3, [None, 0.25, 0.25])
    for t in range(3):
        np.testing.assert_allclose(est.dual_coefs_[t], expected[t], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(est.predict(X), K @ expected[2], rtol=1e-9, atol=1e-12)
    for j in range(3):  # column by column, as three single-output fits
        single = SelfDistilledKernelRidge(kernel="rbf", gamma=0.5, lam=0.3, steps=3, alpha=0.25)
        np.testing.assert_allclose(
            single.fit(X, Y[:, j]).predict(X), est.predict(X)[:, j], rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("overshoot", [0.5, 3.0])
def test_optimal_clipped_alpha_clips_above_one(overshoot):
    # Validation targets placed beyond the first model, away from the alpha = 0 student:
    # y_val = f1 - overshoot (g - f1) gives alpha* = 1 + overshoot (Borup eq. 16), clipped to 1.
    X, Y = _data(seed=1)
    y = Y[:, 0]
    Xv = np.random.default_rng(2).normal(size=(8, 2))
    base = dict(kernel="rbf", gamma=0.5, lam=0.3, steps=2)
    f1 = SelfDistilledKernelRidge(**base, alpha=0.0).fit(X, y).predict(Xv, step=1)
    g = SelfDistilledKernelRidge(**base, alpha=0.0).fit(X, y).predict(Xv, step=2)
    yv = f1 - overshoot * (g - f1)
    free = SelfDistilledKernelRidge(**base, alpha="optimal").fit(X, y, Xv, yv)
    assert free.alphas_[1] == pytest.approx(1.0 + overshoot, rel=1e-9)
    clipped = SelfDistilledKernelRidge(**base, alpha="optimal-clipped").fit(X, y, Xv, yv)
    assert clipped.alphas_[1] == 1.0
    np.testing.assert_allclose(clipped.predict(X), clipped.predict(X, step=1), rtol=1e-12)


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_precomputed_symmetry_tolerance_is_relative(scale):
    X, Y = _data()
    K = scale * np.exp(-0.5 * ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    nearly = K.copy()
    nearly[0, 1] += 1e-12 * scale  # 1e-12 relative: rounding, accepted at every scale
    SelfDistilledKernelRidge(kernel="precomputed", lam=0.3).fit(nearly, Y[:, 0])
    skewed = K.copy()
    skewed[0, 1] += 1e-5 * scale  # 1e-5 relative: not a symmetric kernel
    with pytest.raises(ValueError, match="symmetric"):
        SelfDistilledKernelRidge(kernel="precomputed", lam=0.3).fit(skewed, Y[:, 0])


def test_epsilon_mode_warnings_point_at_the_callers_line():
    X, Y = _data()
    y = Y[:, 0]
    with pytest.warns(CollapseWarning) as caught:
        SelfDistilledKernelRidge(lam=None, epsilon=10.0 * float(np.mean(y**2)), steps=2).fit(X, y)
    assert caught[0].filename == __file__
    # a null space (the linear kernel in 2-D has rank 2 on 12 points) and a tiny epsilon: no
    # ridge reaches it, the lam -> 0+ limit is taken
    with pytest.warns(ToleranceWarning) as caught:
        SelfDistilledKernelRidge(kernel="linear", lam=None, epsilon=1e-6, steps=2).fit(X, y)
    assert caught[0].filename == __file__


def test_unfitted_estimator_raises_not_fitted_before_checking_alpha():
    X, _ = _data()
    with pytest.raises(NotFittedError):
        SelfDistilledKernelRidge(alpha="optimal").predict_limit(X)


def test_predict_limit_refused_in_epsilon_mode_with_positive_alpha():
    X, Y = _data()
    y = Y[:, 0]
    est = SelfDistilledKernelRidge(
        lam=None, epsilon=0.05 * float(np.mean(y**2)), steps=2, alpha=0.5
    ).fit(X, y)
    with pytest.raises(ValueError, match="fixed lam"):
        est.predict_limit(X)
