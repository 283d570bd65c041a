"""Speed of SelfDistilledKernelRidge against refitting, measured side by side in one run.

For each n (default 1000, 2000, 4000) on the same RBF problem this times

* ``kernel``: one RBF Gram matrix (``sklearn.metrics.pairwise.rbf_kernel``),
* ``eigh``: one bare ``scipy.linalg.eigh(K, driver="evd")``,
* ``krr``: one ``sklearn.kernel_ridge.KernelRidge`` fit,
* ``naive``: refitting ``KernelRidge`` on its own training predictions, step by step
  (50 steps, with the time after 3 steps recorded on the way),
* the estimator for steps = 3 and 50: fixed lam with a fixed alpha and with alpha="optimal",
  and epsilon mode,

checks that all agree (predictions of the estimator against the naive loop; in epsilon mode the
training loss of a ``KernelRidge`` refit at the estimator's ridges against epsilon), and prints
the ratios the issue sets targets for::

    fixed lam, 50 steps / (kernel + eigh)   <= 0.4
    naive 50 steps / fixed lam 50 steps     >= 20
    fixed lam, 3 steps / one KernelRidge    <= 2
    epsilon, 50 steps / (kernel + eigh)     <= 1.2

Absolute times on a shared machine are noisy; the ratios come from timings taken in the same run,
each the minimum over ``--repeat`` interleaved runs (the naive loop runs once). ``kernel +
eigh`` is timed as one job (kernel evaluation followed by ``eigh``).

Usage: ``python benchmarks/kernel_steps.py [--sizes 1000,2000,4000] [--repeat 2] [--out F.json]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg
from sklearn.kernel_ridge import KernelRidge
from sklearn.metrics.pairwise import rbf_kernel

from selfdistill import SelfDistilledKernelRidge
from selfdistill._util.io import write_json
from selfdistill._util.validation import parse_int_list

LAM = 1e-2
ALPHA = 0.25
DIM = 10
GAMMA = 1.0 / DIM
TARGETS = {
    "fixed lam 50 / (kernel+eigh)": ("<=", 0.4),
    "naive 50 / fixed lam 50": (">=", 20.0),
    "fixed lam 3 / KernelRidge": ("<=", 2.0),
    "epsilon 50 / (kernel+eigh)": ("<=", 1.2),
}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, DIM))
    y = np.sin(X[:, 0] + X[:, 1]) + 0.3 * rng.normal(size=n)
    Xv = rng.normal(size=(n // 4, DIM))
    yv = np.sin(Xv[:, 0] + Xv[:, 1])
    Xt = rng.normal(size=(200, DIM))
    return X, y, Xv, yv, Xt


def naive_loop(X, y, Xt, steps: int, alpha: float) -> tuple[float, float, np.ndarray]:
    """Refit KernelRidge on alpha y + (1 - alpha) y^(t-1); returns t(3), t(steps), test preds."""
    start = time.perf_counter()
    targets, t3 = y, float("nan")
    for t in range(steps):
        krr = KernelRidge(kernel="rbf", gamma=GAMMA, alpha=LAM).fit(X, targets)
        targets = alpha * y + (1 - alpha) * krr.predict(X)
        if t == 2:
            t3 = time.perf_counter() - start
    return t3, time.perf_counter() - start, krr.predict(Xt)


def naive_optimal(X, y, Xv, yv, Xt, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Borup Algorithm 1 with KernelRidge refits (two fits per step); alphas and test preds."""
    fit = lambda tg: KernelRidge(kernel="rbf", gamma=GAMMA, alpha=LAM).fit(X, tg)  # noqa: E731
    first = fit(y)
    f1v, prev, alphas = first.predict(Xv), first.predict(X), [np.nan]
    model = first
    for _ in range(1, steps):
        g = fit(prev)
        diff = g.predict(Xv) - f1v
        a = 1 - float(diff @ (yv - f1v)) / float(diff @ diff)
        model = fit(a * y + (1 - a) * prev)
        prev = model.predict(X)
        alphas.append(a)
    return np.array(alphas), model.predict(Xt)


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def bench(n: int, repeat: int, log: Callable[[str], None]) -> dict[str, Any]:
    X, y, Xv, yv, Xt = problem(n)
    r: dict[str, Any] = {"n": n}

    def est(**kw) -> SelfDistilledKernelRidge:
        return SelfDistilledKernelRidge(kernel="rbf", gamma=GAMMA, **kw)

    def kernel_and_eigh() -> None:
        scipy.linalg.eigh(rbf_kernel(X, X, gamma=GAMMA), driver="evd")

    jobs: dict[str, Callable[[], Any]] = {
        "kernel": lambda: rbf_kernel(X, X, gamma=GAMMA),
        "kernel_eigh": kernel_and_eigh,
        "krr": lambda: KernelRidge(kernel="rbf", gamma=GAMMA, alpha=LAM).fit(X, y),
    }
    for steps in (3, 50):
        jobs[f"fixed_{steps}"] = lambda s=steps: est(lam=LAM, steps=s, alpha=ALPHA).fit(X, y)
        jobs[f"optimal_{steps}"] = lambda s=steps: est(lam=LAM, steps=s, alpha="optimal").fit(
            X, y, Xv, yv
        )
        jobs[f"epsilon_{steps}"] = lambda s=steps: est(
            lam=None, epsilon=0.05, steps=s, alpha=ALPHA
        ).fit(X, y)
    # interleaved repeats: contention that varies in time hits every job alike; min per job
    models: dict[str, Any] = {}
    for name in jobs:
        r[name] = float("inf")
    for _ in range(repeat):
        for name, job in jobs.items():
            seconds, models[name] = timed(job, 1)
            r[name] = min(r[name], seconds)
    r["eigh"] = r["kernel_eigh"] - r["kernel"]
    for steps in (3, 50):
        r[f"_models_{steps}"] = tuple(
            models[f"{k}_{steps}"] for k in ("fixed", "optimal", "epsilon")
        )
    log(
        f"n={n}: kernel {r['kernel']:.2f}s, kernel+eigh {r['kernel_eigh']:.2f}s, "
        f"KernelRidge {r['krr']:.2f}s"
    )
    log(
        f"n={n}: estimator fixed {r['fixed_3']:.2f}/{r['fixed_50']:.2f}s, optimal "
        f"{r['optimal_3']:.2f}/{r['optimal_50']:.2f}s, epsilon {r['epsilon_3']:.2f}/"
        f"{r['epsilon_50']:.2f}s (3/50 steps)"
    )
    t3, t50, naive_pred = naive_loop(X, y, Xt, 50, ALPHA)
    r["naive_3"], r["naive_50"] = t3, t50
    log(f"n={n}: naive loop {t3:.2f}s (3 steps), {t50:.2f}s (50 steps)")

    fixed, _, eps = r.pop("_models_50")
    _, opt3, eps3 = r.pop("_models_3")
    r["agree_fixed_vs_naive"] = rel(fixed.predict(Xt), naive_pred)
    alphas, naive_opt = naive_optimal(X, y, Xv, yv, Xt, 3)
    r["agree_optimal_alpha"] = float(np.nanmax(np.abs(opt3.alphas_ - alphas)))
    r["agree_optimal_vs_naive"] = rel(opt3.predict(Xt), naive_opt)
    # epsilon mode: refit KernelRidge at the estimator's ridges; the step loss must equal epsilon
    targets, worst = y, 0.0
    for t in range(3):
        a = 1.0 if t == 0 else ALPHA
        krr = KernelRidge(kernel="rbf", gamma=GAMMA, alpha=eps.lams_[t]).fit(
            X, a * y + (1 - a) * targets
        )
        f = krr.predict(X)
        loss = a * np.mean((f - y) ** 2) + (1 - a) * np.mean((f - targets) ** 2)
        worst = max(worst, abs(loss - 0.05) / 0.05)
        worst = max(worst, rel(eps.predict(Xt, step=t + 1), krr.predict(Xt)))
        targets = f
    r["agree_epsilon_vs_refit"] = worst
    r["agree_epsilon_3_vs_50"] = rel(eps3.predict(Xt), eps.predict(Xt, step=3))

    ke = r["kernel_eigh"]
    r["ratios"] = {
        "fixed lam 50 / (kernel+eigh)": r["fixed_50"] / ke,
        "naive 50 / fixed lam 50": r["naive_50"] / r["fixed_50"],
        "fixed lam 3 / KernelRidge": r["fixed_3"] / r["krr"],
        "epsilon 50 / (kernel+eigh)": r["epsilon_50"] / ke,
        "optimal 50 / (kernel+eigh)": r["optimal_50"] / ke,
        "naive 3 / fixed lam 3": r["naive_3"] / r["fixed_3"],
        "epsilon 3 / (kernel+eigh)": r["epsilon_3"] / ke,
    }
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000", help="comma list of n")
    parser.add_argument("--repeat", type=int, default=2, help="timing repeats (min is kept)")
    parser.add_argument("--out", default=None, help="optional JSON file for all numbers")
    args = parser.parse_args(argv)
    sizes = parse_int_list("--sizes", args.sizes)
    log = lambda s: print(s, flush=True)  # noqa: E731
    rows = [bench(n, max(1, args.repeat), log) for n in sizes]

    names = list(rows[0]["ratios"])
    print("\nratios (same run, side by side)")
    print(f"{'ratio':<32}" + "".join(f"{'n=' + str(r['n']):>10}" for r in rows) + "   target")
    for name in names:
        target = TARGETS.get(name)
        cells = "".join(f"{r['ratios'][name]:>10.3f}" for r in rows)
        tgt = f"   {target[0]} {target[1]:g}" if target else ""
        print(f"{name:<32}{cells}{tgt}")
    print("\nagreement (max relative difference)")
    for key in [k for k in rows[0] if k.startswith("agree_")]:
        print(f"{key:<32}" + "".join(f"{r[key]:>10.1e}" for r in rows))
    ok = all(r[k] < 1e-6 for r in rows for k in r if k.startswith("agree_"))
    print(f"\nall agree to 1e-6: {ok}")
    if args.out:
        write_json(args.out, {"lam": LAM, "alpha": ALPHA, "dim": DIM, "rows": rows})
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
