"""The Nyström fit of a ``dask.array`` through a 2-worker LocalCluster equals the in-memory fit.

Goal of issue 25: identical to 1e-10. The cluster binds 127.0.0.1 only (threads, ``processes=
False``, TCP on the loopback), as every test that listens must.
"""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")

from selfdistill.kernel.nystrom import kernel_block  # noqa: E402
from selfdistill.kernel.nystrom_fit import fit_nystrom  # noqa: E402

KA = {"kernel": "rbf", "gamma": 0.3, "degree": 3, "coef0": 1, "kernel_params": None}


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            host="127.0.0.1",
            protocol="tcp",
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def problem(n=1500, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.c_[np.sin(X[:, 0]), X[:, 1] ** 2] + 0.3 * rng.normal(size=(n, 2))
    return X, Y, rng.normal(size=(50, d))


@pytest.mark.parametrize("y_as_dask", [False, True])
def test_dask_fit_on_a_local_cluster_equals_the_in_memory_fit(client, y_as_dask):
    X, Y, Xt = problem()
    kw = dict(
        n_components=60, kernel_args=KA, lam=0.1, epsilon=None, steps=4,
        alphas=np.r_[np.nan, 0.2, 0.2, 0.2], mode="fixed", random_state=0, block_size=128,
    )  # fmt: skip
    ref = fit_nystrom(X, Y, **kw)
    Xd = da.from_array(X, chunks=(311, 2))  # uneven row chunks, columns split too
    Yd = da.from_array(Y, chunks=(500, 2)) if y_as_dask else Y
    fit = fit_nystrom(Xd, Yd, **kw)
    assert np.array_equal(fit.centres, ref.centres)
    Kt = kernel_block(Xt, ref.centres, KA)
    for a, b in zip(fit.coefs, ref.coefs, strict=True):
        assert np.abs(Kt @ a - Kt @ b).max() <= 1e-10 * np.abs(Kt @ b).max()
    assert fit.spectrum.n_samples == 1500


def test_unknown_chunk_sizes_are_refused():
    X, Y, _ = problem(n=200)
    Xd = da.from_array(X, chunks=(50, 5))
    Xu = Xd[Xd[:, 0] > 0]
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*compute_chunk_sizes"):
        fit_nystrom(
            Xu, Y, n_components=10, kernel_args=KA, lam=0.1, epsilon=None, steps=1,
            alphas=np.r_[np.nan], mode="fixed",
        )  # fmt: skip
