"""Nyström kernel self-distillation at scale: everything the goals of issue 25 need, in one run.

On synthetic RBF regression data with a known target (``X ~ N(0, I_d)``,
``y = sin(2 x.u) + 0.5 cos(x.v) + 0.5 noise``, ``u, v`` random unit vectors) this measures,
side by side in one process:

1. **the bare BLAS rate**: ``syrk`` (``K^T K``, the data pass's kernel) on blocks of the pass's
   size and precision, and the same product as a numpy GEMM; rates in GFLOP/s (``n m^2`` flops per
   ``syrk`` of ``n`` rows, ``2 n m^2`` per GEMM);
2. **the data pass** (:func:`selfdistill.kernel.nystrom_fit.accumulate`: kernel blocks + ``syrk``)
   and its rate as a fraction of the bare ``syrk`` rate (goal >= 70 %);
3. **fit**: ``fit_nystrom`` at one ``(lam, alpha, steps)`` (pass + ``m x m`` work);
4. **fit + k-fold CV** over ``n_lams x n_alphas x steps`` candidates from ONE pass (per-fold
   statistics) plus the refit of the best candidate from the same statistics; goal at
   ``n = 10^6, d = 50, m = 2048``: <= 3 min wall, <= 2 GB beyond ``X``; ``m = 4096``: <= 10 min;
5. **peak memory beyond X**: peak RSS (``resource.getrusage``) minus the RSS once ``X`` and ``y``
   exist, and the ``tracemalloc`` peak of each phase (numpy's buffers included);
6. **accuracy against the exact engine** at ``--exact-n`` (default 20,000) training points:
   test MSE (against the noiseless target) of ``SelfDistilledKernelRidge`` and of the Nyström fit
   with the same ``(gamma, lam, alpha, steps)`` (goal: within 2 % relative), and the float32 pass
   against the float64 one (prediction difference).

BLAS threads are the library's default (reported). Usage::

    python benchmarks/kernel_scale.py                      # the goal sizes (minutes)
    python benchmarks/kernel_scale.py --n 100000 --exact-n 4000 --m 1024   # a quick look
    python benchmarks/kernel_scale.py --m 4096 --skip-exact --out m4096.json
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.linalg.blas import dsyrk, ssyrk
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_info

from selfdistill._util.io import write_json
from selfdistill.kernel.nystrom import select_centres
from selfdistill.kernel.nystrom_cv import nystrom_cv_scores
from selfdistill.kernel.nystrom_fit import accumulate, fit_from_statistics, fit_nystrom


def problem(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``X`` (n, d), noisy ``y`` and the noiseless target, generated in chunks (float64)."""
    rng = np.random.default_rng(seed)
    u, v = rng.normal(size=(2, d))
    u /= np.linalg.norm(u)
    v /= np.linalg.norm(v)
    X = np.empty((n, d))
    for start in range(0, n, 100_000):
        X[start : start + 100_000] = rng.normal(size=(min(100_000, n - start), d))
    f = np.sin(2.0 * X @ u) + 0.5 * np.cos(X @ v)
    return X, f + 0.5 * rng.normal(size=n), f


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measured(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, tracemalloc peak in bytes, result)."""
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak, out


def blas_rates(m: int, block: int, dtype: str, seconds: float = 3.0) -> dict[str, float]:
    """GFLOP/s of syrk (n m^2 flops per n rows) and of the GEMM K^T K (2 n m^2) on one block."""
    rng = np.random.default_rng(1)
    K = rng.uniform(size=(block, m)).astype(dtype)
    syrk = dsyrk if dtype == "float64" else ssyrk
    out = {}
    for name, fn, flops in (
        ("syrk", lambda: syrk(1.0, K.T, trans=0), block * m * m),
        ("gemm", lambda: K.T @ K, 2 * block * m * m),
    ):
        fn()
        reps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fn()
            reps += 1
        out[f"{name}_gflops"] = reps * flops / (time.perf_counter() - start) / 1e9
    return out


def scale_run(args: argparse.Namespace, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Parts 2-4: the pass, one fit, fit + CV, with time and memory."""
    n, d = X.shape
    ka = {"kernel": "rbf", "gamma": 1.0 / d, "degree": 3, "coef0": 1, "kernel_params": None}
    Y = y[:, None]
    res: dict[str, Any] = {}
    centres = select_centres(X, args.m, 0)
    t, peak, _ = measured(
        lambda: accumulate(X, Y, centres, ka, dtype=args.dtype, block_size=args.block_size)
    )
    res["pass_s"], res["pass_tracemalloc_mb"] = t, peak / 2**20
    res["pass_gflops"] = n * args.m**2 / t / 1e9
    alphas = np.r_[np.nan, np.full(2, 0.5)]
    t, peak, _ = measured(
        lambda: fit_nystrom(
            X, Y, n_components=args.m, kernel_args=ka, lam=1.0, epsilon=None, steps=3,
            alphas=alphas, mode="fixed", block_size=args.block_size, dtype=args.dtype,
            random_state=0,
        )
    )  # fmt: skip
    res["fit_s"], res["fit_tracemalloc_mb"] = t, peak / 2**20
    lams = tuple(float(v) for v in np.logspace(-3, 3, args.n_lams))
    alpha_grid = tuple(float(v) for v in np.linspace(0.0, 1.0, args.n_alphas))
    splits = list(KFold(args.folds, shuffle=True, random_state=0).split(np.empty((n, 1))))

    def cv_and_refit() -> dict[str, Any]:
        scores, accs = nystrom_cv_scores(
            X, Y, splits, centres=centres, kernel_args=[ka], lams=lams, alphas=alpha_grid,
            max_steps=args.steps, dtype=args.dtype, block_size=args.block_size,
        )  # fmt: skip
        mean = scores.mean(axis=0)[0]  # (lam, alpha, steps)
        li, ai, ti = np.unravel_index(int(np.argmax(mean)), mean.shape)
        steps = int(ti) + 1
        fit = fit_from_statistics(
            accs[0], lam=lams[li], epsilon=None, steps=steps,
            alphas=np.r_[np.nan, np.full(steps - 1, alpha_grid[ai])], mode="fixed",
        )  # fmt: skip
        return {
            "best": {"lam": lams[li], "alpha": alpha_grid[ai], "steps": steps},
            "best_cv_mse": float(-mean[li, ai, ti]),
            "coef_norm": float(np.linalg.norm(fit.coefs[-1])),
        }

    t, peak, out = measured(cv_and_refit)
    res["cv_refit_s"], res["cv_tracemalloc_mb"] = t, peak / 2**20
    res["cv_candidates"] = len(lams) * len(alpha_grid) * args.steps
    res.update(out)
    return res


def exact_comparison(args: argparse.Namespace) -> dict[str, Any]:
    """Part 6: test MSE of the exact engine and of Nyström (float64 and float32) at exact-n."""
    from selfdistill import SelfDistilledKernelRidge

    X, y, _ = problem(args.exact_n, args.d, seed=2)
    Xt, _, ft = problem(5000, args.d, seed=3)
    gamma, steps, out = 1.0 / args.d, 5, {}
    for lam in args.exact_lams:
        for alpha in args.exact_alphas:
            key = f"lam={lam:g},alpha={alpha:g}"
            est = SelfDistilledKernelRidge(gamma=gamma, lam=lam, steps=steps, alpha=alpha)
            t_exact, _, est = measured(lambda est=est: est.fit(X, y))
            exact = [float(np.mean((p - ft) ** 2)) for p in est.staged_predict(Xt)]
            row: dict[str, Any] = {"exact_mse": exact, "exact_fit_s": t_exact}
            for dtype in ("float64", "float32"):
                ny = SelfDistilledNystrom(args.m, gamma, lam, steps, alpha, dtype, args.block_size)
                t_ny, _, preds = measured(lambda ny=ny: ny.staged(X, y, Xt))
                mse = [float(np.mean((p - ft) ** 2)) for p in preds]
                row[f"nystrom_{dtype}_mse"] = mse
                row[f"nystrom_{dtype}_fit_s"] = t_ny
                row[f"nystrom_{dtype}_rel_diff"] = [
                    abs(a - b) / b for a, b in zip(mse, exact, strict=True)
                ]
                row[f"_{dtype}_preds"] = preds
            p64, p32 = row.pop("_float64_preds"), row.pop("_float32_preds")
            row["float32_vs_float64_pred_rel"] = max(
                float(np.abs(a - b).max() / np.abs(a).max()) for a, b in zip(p64, p32, strict=True)
            )
            out[key] = row
    return out


class SelfDistilledNystrom:
    """The Nyström engine at one setting, staged test predictions (for part 6)."""

    def __init__(self, m, gamma, lam, steps, alpha, dtype, block_size) -> None:
        self.m, self.lam, self.steps, self.alpha = m, lam, steps, alpha
        self.dtype, self.block_size = dtype, block_size
        self.ka = {"kernel": "rbf", "gamma": gamma, "degree": 3, "coef0": 1, "kernel_params": None}

    def staged(self, X: np.ndarray, y: np.ndarray, Xt: np.ndarray) -> list[np.ndarray]:
        from selfdistill.kernel.nystrom import kernel_block

        alphas = np.r_[np.nan, np.full(self.steps - 1, self.alpha)]
        fit = fit_nystrom(
            X, y[:, None], n_components=self.m, kernel_args=self.ka, lam=self.lam, epsilon=None,
            steps=self.steps, alphas=alphas, mode="fixed", block_size=self.block_size,
            dtype=self.dtype, random_state=0,
        )  # fmt: skip
        Kt = kernel_block(Xt, fit.centres, self.ka, "float64")
        return [Kt @ c[:, 0] for c in fit.coefs]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=50)
    p.add_argument("--m", type=int, default=2048)
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    p.add_argument("--block-size", type=int, default=4096)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--n-lams", type=int, default=20)
    p.add_argument("--n-alphas", type=int, default=5)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--exact-n", type=int, default=20_000)
    p.add_argument("--exact-lams", type=float, nargs="+", default=[1.0])
    p.add_argument("--exact-alphas", type=float, nargs="+", default=[0.0, 0.5])
    p.add_argument("--skip-exact", action="store_true")
    p.add_argument("--out", help="write every number as JSON")
    args = p.parse_args(argv)

    blas = [
        {k: i.get(k) for k in ("internal_api", "num_threads", "version")} for i in threadpool_info()
    ]
    report: dict[str, Any] = {"args": vars(args), "blas": blas, "cpus": os.cpu_count()}
    report["load_average"] = os.getloadavg()
    print(f"BLAS: {blas}; cpus {os.cpu_count()}; load average {report['load_average']}")
    X, y, _ = problem(args.n, args.d)
    base = rss_bytes()
    report["x_mb"] = X.nbytes / 2**20
    report.update(blas_rates(args.m, args.block_size, args.dtype))
    print(
        f"bare {args.dtype} syrk {report['syrk_gflops']:.1f} GFLOP/s, "
        f"gemm {report['gemm_gflops']:.1f} GFLOP/s ({args.block_size} x {args.m} blocks)"
    )
    report.update(scale_run(args, X, y))
    report["peak_rss_beyond_x_mb"] = (peak_rss_bytes() - base) / 2**20
    ratio = report["pass_gflops"] / report["syrk_gflops"]
    report["pass_vs_syrk"] = ratio
    print(
        f"n={args.n} d={args.d} m={args.m} {args.dtype}: pass {report['pass_s']:.1f} s "
        f"({report['pass_gflops']:.1f} GFLOP/s = {100 * ratio:.0f} % of bare syrk); "
        f"fit {report['fit_s']:.1f} s; fit + {args.folds}-fold CV over "
        f"{report['cv_candidates']} candidates + refit {report['cv_refit_s']:.1f} s; "
        f"peak RSS beyond X {report['peak_rss_beyond_x_mb']:.0f} MB (tracemalloc peaks: pass "
        f"{report['pass_tracemalloc_mb']:.0f}, fit {report['fit_tracemalloc_mb']:.0f}, CV "
        f"{report['cv_tracemalloc_mb']:.0f} MB); best {report['best']}"
    )
    del X, y
    if not args.skip_exact:
        report["exact"] = exact_comparison(args)
        for key, row in report["exact"].items():
            print(
                f"exact n={args.exact_n} {key}: exact MSE per step "
                f"{np.round(row['exact_mse'], 5).tolist()} ({row['exact_fit_s']:.1f} s); "
                f"Nyström m={args.m} rel. diff float64 "
                f"{np.round(row['nystrom_float64_rel_diff'], 4).tolist()} "
                f"({row['nystrom_float64_fit_s']:.1f} s), float32 "
                f"{np.round(row['nystrom_float32_rel_diff'], 4).tolist()}; float32 vs float64 "
                f"predictions {row['float32_vs_float64_pred_rel']:.1e}"
            )
    if args.out:
        write_json(args.out, report)
    return report


if __name__ == "__main__":
    main()
