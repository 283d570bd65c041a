"""Speed of SelfDistilledKernelRidgeCV against GridSearchCV, measured side by side in one run.

On one RBF regression problem (``n`` points, 10 features, 5-fold ``KFold``) this times

1. **per-candidate cost**: ``SelfDistilledKernelRidgeCV`` with a 1-candidate grid
   (1 lam x 1 alpha x 1 step) and with 40 lam x 11 alpha x 20 steps = 8,800 candidates;
   ``(t_large - t_small) / 8,799`` is the cost of one more candidate (target <= 0.1 ms);
2. **against ``GridSearchCV(SelfDistilledKernelRidge)``** on a grid it finishes in about a minute
   (4 lam x 2 alpha x 5 steps = 40 candidates): the same ``best_params_``, every
   ``mean_test_score`` to 1e-8 relative, and the time ratio (goal >= 50x). Because the search
   time is dominated by the five eigendecompositions, the ratio grows with the grid; the script
   also prints GridSearchCV's time per fit, extrapolated to the 8,800-candidate grid (labelled as
   an extrapolation);
3. **against ``GridSearchCV(sklearn.kernel_ridge.KernelRidge)``** over (gamma, lam) only
   (3 gammas x 17 lams), while ours searches (gamma, lam, alpha, steps) on the same (gamma, lam)
   with 11 alphas and 10 steps (5,610 candidates): ours should cost no more.

Part 1 also reports process CPU time (less inflated than wall time when other jobs share the
cores; equal to wall time on an idle machine with one BLAS thread). Timings are minima over
``--repeat`` interleaved runs (GridSearchCV runs once: it takes minutes);
ratios come from the same run. On a shared machine set ``OMP_NUM_THREADS=1
OPENBLAS_NUM_THREADS=1`` (BLAS threads under load swing timings several-fold).

Usage: ``python benchmarks/kernel_cv.py [--n 2000] [--repeat 2] [--out F.json]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, KFold

from selfdistill import SelfDistilledKernelRidge, SelfDistilledKernelRidgeCV
from selfdistill._util.io import write_json
from selfdistill.kernel.cv import DEFAULT_LAMS

DIM = 10
GAMMA = 1.0 / DIM
SCORING = "neg_mean_squared_error"


def problem(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, DIM))
    y = np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2] + 0.3 * rng.normal(size=n)
    return X, y


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def bench(n: int, repeat: int, log: Callable[[str], None]) -> dict[str, Any]:
    X, y = problem(n)
    cv = KFold(5, shuffle=True, random_state=0)
    out: dict[str, Any] = {"n": n, "folds": 5, "dim": DIM}

    def ours(gammas, lams, alphas, steps) -> SelfDistilledKernelRidgeCV:
        return SelfDistilledKernelRidgeCV(
            gammas=gammas, lams=lams, alphas=alphas, max_steps=steps, cv=cv, refit=False
        ).fit(X, y)

    # 1. per-candidate cost -------------------------------------------------------------------
    large = (list(np.logspace(-4, 2, 40)), list(np.linspace(0, 1, 11)), 20)
    small = ([1e-2], [0.5], 1)
    ours([GAMMA], *small[:2], small[2])  # warm-up (imports, BLAS initialisation)
    t_small = t_large = c_small = c_large = float("inf")
    for _ in range(repeat):
        c0 = time.process_time()
        t_small = min(t_small, timed(lambda: ours([GAMMA], *small[:2], small[2]))[0])
        c1 = time.process_time()
        t_large = min(t_large, timed(lambda: ours([GAMMA], *large[:2], large[2]))[0])
        c2 = time.process_time()
        c_small, c_large = min(c_small, c1 - c0), min(c_large, c2 - c1)
    n_large = 40 * 11 * 20
    per_candidate = (t_large - t_small) / (n_large - 1)
    per_candidate_cpu = (c_large - c_small) / (n_large - 1)
    out["per_candidate"] = {
        "t_small_s": t_small,
        "t_large_s": t_large,
        "cpu_small_s": c_small,
        "cpu_large_s": c_large,
        "candidates_large": n_large,
        "ms_per_candidate": 1e3 * per_candidate,
        "cpu_ms_per_candidate": 1e3 * per_candidate_cpu,
        "target_ms": 0.1,
    }
    log(
        f"1. per candidate: small {t_small:.2f} s (1 candidate), large {t_large:.2f} s "
        f"({n_large} candidates): {1e3 * per_candidate:.4f} ms per candidate wall, "
        f"{1e3 * per_candidate_cpu:.4f} ms CPU time (target <= 0.1)"
    )

    # 2. against GridSearchCV(SelfDistilledKernelRidge) ---------------------------------------
    lams2, alphas2, steps2 = [1e-3, 1e-2, 1e-1, 1.0], [0.0, 0.5], 5
    grid = {"gamma": [GAMMA], "lam": lams2, "alpha": alphas2, "steps": list(range(1, 6))}
    t_ours = float("inf")
    for _ in range(repeat):
        t, search = timed(lambda: ours([GAMMA], lams2, alphas2, steps2))
        t_ours = min(t_ours, t)
    t_grid, ref = timed(
        lambda: GridSearchCV(
            SelfDistilledKernelRidge(), grid, cv=cv, scoring=SCORING, refit=False
        ).fit(X, y)
    )
    n_cand = len(ref.cv_results_["params"])
    rel = max_rel(search.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"])
    same = search.best_params_ == ref.best_params_
    per_fit = t_grid / (5 * n_cand)
    extrapolated = per_fit * 5 * n_large / t_large
    out["vs_gridsearch_sd"] = {
        "candidates": n_cand,
        "t_ours_s": t_ours,
        "t_gridsearch_s": t_grid,
        "ratio": t_grid / t_ours,
        "same_best_params": same,
        "best_params": search.best_params_,
        "max_rel_score_diff": rel,
        "gridsearch_s_per_fit": per_fit,
        "extrapolated_ratio_8800": extrapolated,
    }
    log(
        f"2. vs GridSearchCV(SelfDistilledKernelRidge), {n_cand} candidates: ours "
        f"{t_ours:.2f} s, GridSearchCV {t_grid:.1f} s, ratio {t_grid / t_ours:.1f}x; "
        f"same best_params_: {same}; max rel. score difference {rel:.1e}; "
        f"extrapolated to {n_large} candidates ({per_fit:.3f} s per fit): {extrapolated:.0f}x"
    )
    assert same and rel <= 1e-8, "the search disagrees with GridSearchCV"

    # 3. against GridSearchCV(KernelRidge) over (gamma, lam) ----------------------------------
    gammas3 = [GAMMA / 3, GAMMA, 3 * GAMMA]
    lams3 = list(DEFAULT_LAMS)
    alphas3 = list(np.linspace(0, 1, 11))
    t_sd = float("inf")
    for _ in range(repeat):
        t, sd = timed(lambda: ours(gammas3, lams3, alphas3, 10))
        t_sd = min(t_sd, t)
    t_krr, krr = timed(
        lambda: GridSearchCV(
            KernelRidge(kernel="rbf"),
            {"gamma": gammas3, "alpha": lams3},
            cv=cv,
            scoring=SCORING,
            refit=False,
        ).fit(X, y)
    )
    plain = sd.cv_results_["mean_test_score"][np.asarray(sd.cv_results_["param_steps"] == 1)]
    out["vs_gridsearch_krr"] = {
        "candidates_ours": len(sd.cv_results_["params"]),
        "candidates_krr": len(krr.cv_results_["params"]),
        "t_ours_s": t_sd,
        "t_krr_s": t_krr,
        "ratio_ours_over_krr": t_sd / t_krr,
        "best_score_ours": sd.best_score_,
        "best_score_krr": krr.best_score_,
        "best_params_ours": sd.best_params_,
        "plain_ridge_best_score_ours": float(plain.max()),
    }
    log(
        f"3. ours over (gamma, lam, alpha, steps) = {len(sd.cv_results_['params'])} candidates "
        f"{t_sd:.1f} s vs GridSearchCV(KernelRidge) over (gamma, lam) = "
        f"{len(krr.cv_results_['params'])} candidates {t_krr:.1f} s: ratio {t_sd / t_krr:.2f} "
        f"(target <= 1); best CV score ours {sd.best_score_:.5f} {sd.best_params_}, "
        f"KernelRidge {krr.best_score_:.5f}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of samples")
    parser.add_argument("--repeat", type=int, default=2, help="timing repeats (min is kept)")
    parser.add_argument("--out", default=None, help="optional JSON file for all numbers")
    args = parser.parse_args(argv)
    results = bench(args.n, args.repeat, print)
    if args.out:
        write_json(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
