"""Mobahi et al. (2020) section 4, figure 2: the spline example, rounds until collapse.

The regulariser ``R(f) = int_0^1 f''(x)^2 dx`` with ``f(0) = f(1) = f''(0) = f''(1) = 0`` has the
Green's function ``g(x, x') = max((x - x')^3, 0) / 6 - x (1 - x') (x^2 - 2x' + x'^2) / 6``
(``kernel="spline"``). Eleven training points ``x = 0, 0.1, ..., 1`` carry noisy samples
``sin(2 pi x) + N(0, sigma^2)`` with ``sigma = 0.5`` (the paper's text says ``x_k + eta``; its
figure shows ``sin``: see docs/misprints.md). Self-distillation with Mobahi's constrained problem
(``epsilon = 0.04``, ``alpha = 0``) runs until the solution collapses to zero.

Since ``g(0, .) = g(1, .) = 0`` the Gram matrix on these points is only positive *semi*-definite:
two eigenvalues are zero, their ``B_t`` entries are zero from round 0 on, and the fit is pinned to
0 at both ends. The condition number is infinite, so the kappa-based bounds (Propositions 3-4,
Theorem 5) say nothing here; eq. 12's upper bound on ``c_t`` still holds and is reported.

Figure ``mobahi_fig2.png``: (a) the Green's function, (b) the samples, the truth and the
unregularised (interpolating, ``c -> 0+``) fit, (c) the rounds of self-distillation before the
collapse, (d) the diagonal of ``B_t`` per round (Mobahi eq. 19). ``--quick`` changes nothing but
the plotting resolution: the example is tiny.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ... import theory
from ..._util.progress import Stages
from ..._util.validation import check_int, check_real
from ...exceptions import CollapseWarning, ToleranceWarning
from ...kernel.functions import spline_kernel
from ...kernel.ridge import SelfDistilledKernelRidge

__all__ = ["add_arguments", "compute", "plot", "spline_samples"]

#: Number of rounds tried; the example collapses long before.
MAX_STEPS = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the label noise (default: %(default)s)"
    )
    parser.add_argument(
        "--epsilon",
        type=float,
        default=0.04,
        help="loss tolerance epsilon of every round (default: %(default)s)",
    )
    parser.add_argument(
        "--sigma", type=float, default=0.5, help="noise standard deviation (default: %(default)s)"
    )


def spline_samples(seed: int, sigma: float, n: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """``x = 0, 1/(n-1), ..., 1`` and ``y = sin(2 pi x) + N(0, sigma^2)`` (Mobahi section 4)."""
    x = np.linspace(0.0, 1.0, n)
    rng = np.random.default_rng(seed)
    return x, np.sin(2 * np.pi * x) + sigma * rng.standard_normal(n)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The checked options (``--dry-run`` calls this alone)."""
    return {
        "seed": check_int("--seed", getattr(args, "seed", 0), low=0),
        "epsilon": check_real(
            "--epsilon", getattr(args, "epsilon", 0.04), low=0.0, low_inclusive=False
        ),
        "sigma": check_real("--sigma", getattr(args, "sigma", 0.5), low=0.0),
    }


def compute(args: argparse.Namespace) -> dict[str, Any]:
    s = _settings(args)
    seed, epsilon, sigma = s["seed"], s["epsilon"], s["sigma"]
    stages = Stages(3, name="mobahi-fig2", enabled=args.progress)
    resolution = 101 if args.quick else 401

    with stages("data and Green's function"):
        x, y = spline_samples(seed, sigma)
        n = x.size
        grid = np.linspace(0.0, 1.0, resolution)
        truth = np.sin(2 * np.pi * grid)
        x_dagger = np.array([0.25, 0.5, 0.75])
        green = spline_kernel(grid[:, None], x_dagger[:, None]).T  # (3, resolution)

    with stages(f"self-distillation rounds at epsilon = {epsilon:g} until collapse"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = SelfDistilledKernelRidge(
                kernel="spline", lam=None, epsilon=epsilon, steps=MAX_STEPS, alpha=0.0
            ).fit(x[:, None], y)
        notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        if not any(issubclass(w.category, CollapseWarning) for w in caught):
            notes.append(f"no collapse within {MAX_STEPS} rounds")
        rounds = MAX_STEPS if est.collapsed_at_ is None else est.collapsed_at_ - 1
        preds = np.array([est.predict(grid[:, None], step=t + 1) for t in range(rounds)])
        train = np.array([est.predict(x[:, None], step=t + 1) for t in range(rounds)])
        # Unregularised fit: the c -> 0+ limit (interpolation on the range of the Gram matrix).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ToleranceWarning)
            interp = SelfDistilledKernelRidge(
                kernel="spline", lam=None, epsilon=1e-12 * float(np.mean(y**2)), steps=1
            ).fit(x[:, None], y)
        unregularised = interp.predict(grid[:, None])

    with stages("theory: multipliers against eq. 12"):
        eigvals = est.eigvals_  # K units; Mobahi's G = K / n, c = lam / n
        targets = [y, *train[:-1]] if rounds else []
        c_t = est.lams_[:rounds] / n
        bounds = [theory.c_bounds(eigvals / n, yt, epsilon) for yt in targets]
        train_mse_targets = [
            float(np.mean((f - yt) ** 2)) for f, yt in zip(train, targets, strict=True)
        ]
        test_mse = np.mean((preds - truth) ** 2, axis=1) if rounds else np.array([])

    return {
        "seed": seed,
        "sigma": sigma,
        "epsilon": epsilon,
        "x_train": x,
        "y_train": y,
        "grid": grid,
        "truth": truth,
        "green_x_dagger": x_dagger,
        "green": green,
        "unregularised_fit": unregularised,
        "rounds_before_collapse": rounds,
        "collapsed_at_step": est.collapsed_at_,
        "round_predictions": preds,
        "eigvals_G": eigvals / n,
        "B": est.B_[:rounds],
        "c": c_t,
        "c_bounds_eq12": bounds,
        "c_within_bounds": [
            lo <= c <= hi * (1 + 1e-9) for c, (lo, hi) in zip(c_t, bounds, strict=True)
        ],
        "train_mse_against_round_targets": train_mse_targets,
        "test_mse_against_sin": test_mse,
        "unregularised_test_mse": float(np.mean((unregularised - truth) ** 2)),
        "warnings": notes,
    }


def plot(results: dict[str, Any], out: Path) -> None:
    """Figure ``mobahi_fig2.png`` (panels a-d) from the results of :func:`compute`."""
    from ...reports.plotting import plt, save_figure

    grid, truth, x, y = (results[k] for k in ("grid", "truth", "x_train", "y_train"))
    preds, epsilon = results["round_predictions"], results["epsilon"]
    B = np.asarray(results["B"], dtype=float)
    null = np.asarray(results["eigvals_G"]) == 0.0
    colors = plt.get_cmap("tab10").colors
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    ax = axes[0, 0]
    for row, xd in zip(results["green"], results["green_x_dagger"], strict=True):
        ax.plot(grid, row, label=f"x' = {xd:g}")
    ax.set(title="(a) Green's function g(x, x') of R(f) = ∫ f''²", xlabel="x", ylabel="g(x, x')")
    ax.legend()

    ax = axes[0, 1]
    ax.plot(grid, truth, color="tab:orange", label="sin(2πx)")
    ax.plot(
        grid, results["unregularised_fit"], color="tab:blue", label="unregularised fit (c → 0+)"
    )
    ax.scatter(x, y, color="tab:blue", zorder=3, label="noisy samples")
    ax.set(title="(b) Training data and the fit without regularisation", xlabel="x", ylabel="y")
    ax.legend(fontsize=8)

    ax = axes[1, 0]
    ax.plot(grid, truth, color="black", ls="--", lw=1, label="sin(2πx)")
    ax.scatter(x, y, color="gray", zorder=3, s=15, label="samples")
    for t, p in enumerate(preds):
        ax.plot(grid, p, color=colors[t % 10], label=f"round t = {t}")
    ax.set(
        title=f"(c) Self-distillation rounds, ε = {epsilon:g} (then collapse to 0)",
        xlabel="x",
        ylabel="f_t(x)",
    )
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    rounds, n = B.shape if B.size else (0, len(x))
    width = 0.8 / max(rounds, 1)
    k = np.arange(n)
    for t in range(rounds):
        ax.bar(
            k + (t - (rounds - 1) / 2) * width, B[t], width, color=colors[t % 10], label=f"t = {t}"
        )
    for kk in k[null]:
        ax.text(kk, 0.02, "null space: B = 0", rotation=90, ha="center", va="bottom", fontsize=8)
    ax.set(
        title="(d) Diagonal of B_t per round (eigenvalues descending)",
        xlabel="eigen-index k (largest eigenvalue first)",
        ylabel="B_t[k, k]",
        xticks=k,
    )
    ax.legend(fontsize=8)
    fig.suptitle(
        "Mobahi et al. (2020) fig. 2: spline regulariser, self-distillation sparsifies B_t",
        fontsize=12,
    )
    fig.tight_layout()
    save_figure(fig, out / "mobahi_fig2.png")
