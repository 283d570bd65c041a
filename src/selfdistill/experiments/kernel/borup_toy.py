"""Borup & Andersen (2021) section 4.5 toy example: figures 2, 3 and 4.

Eleven noisy samples of ``sin(2 pi x)`` on ``x = 0, 0.1, ..., 1`` (the targets the authors' code
hard-codes, shipped in ``selfdistill/data/borup_toy.json``), RBF kernel ``exp(-80 (x - x')^2)``
(the paper's "gamma = 1/80" is a misprint for 80) and ``lam = 0.2``. Three cases of
:class:`~selfdistill.SelfDistilledKernelRidge`: (a) ``alpha = 0``, (b) ``alpha = 0.25`` and
(c) the step-wise optimal ``alpha*`` (Borup Thm 4.4 / Algorithm 1) with validation data the
noiseless ``sin(2 pi x)`` on ``x = 0, 0.01, ..., 1``; the clipped variant is tabulated too.

Outputs: ``fig2_steps.png`` (steps 1..steps and the limit, dashed), ``fig3_B_diagonal.png``
(diagonal of ``B^(t)`` against the eigenvalue index), ``fig4_ratios.png`` (``R_k^(t) =
B_{k+1,k+1} / B_{k,k}`` with eigenvalues ascending, as in the paper), and the table of the mean
squared error against ``sin(2 pi x)`` per step on stdout. The example is tiny: ``--quick`` runs
the same computation (it is what ``selfdistill demo`` shows).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..._util.progress import Stages
from ..._util.validation import check_int
from ...datasets.toy import BorupToy, load_borup_toy
from ...kernel.ridge import SelfDistilledKernelRidge

__all__ = ["CASES", "add_arguments", "compute", "fit_cases", "format_table", "plot", "ratios"]

#: (key, label, alpha) of the three cases of Borup figure 2 plus the clipped optimum.
CASES: tuple[tuple[str, str, float | str], ...] = (
    ("alpha_0", "(a) α = 0", 0.0),
    ("alpha_0.25", "(b) α = 0.25", 0.25),
    ("optimal", "(c) step-wise optimal α*", "optimal"),
    ("optimal_clipped", "α* clipped to [0, 1]", "optimal-clipped"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--steps", type=int, default=6, help="self-distillation steps (default: %(default)s)"
    )


def fit_cases(data: BorupToy, steps: int) -> dict[str, SelfDistilledKernelRidge]:
    """Fit the estimator for every case of :data:`CASES` on the toy data."""
    X = data.x[:, None]
    grid = data.grid[:, None]
    fitted = {}
    for key, _, alpha in CASES:
        est = SelfDistilledKernelRidge(
            kernel="rbf", gamma=data.gamma, lam=data.lam, steps=steps, alpha=alpha
        )
        fitted[key] = est.fit(X, data.y, X_val=grid, y_val=data.truth)
    return fitted


def ratios(B: np.ndarray) -> np.ndarray:
    """Borup fig. 4: ``R_k^(t) = B_{k+1,k+1} / B_{k,k}`` with eigenvalues ascending (k = 1..n-1)."""
    asc = B[:, ::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return asc[:, 1:] / asc[:, :-1]


def format_table(mse: dict[str, list[float]], limit: dict[str, float | None], alphas) -> str:
    """Plain-text table: MSE against sin(2 pi x) per step and case, and alpha* per step."""
    keys = [k for k, _, _ in CASES]
    head = f"{'step':>5} | " + " | ".join(f"{k:>15}" for k in keys) + " | " + "α*".rjust(8)
    head += " | " + "α* clipped".rjust(10)
    lines = ["MSE against sin(2πx) on x = 0, 0.01, ..., 1", head, "-" * len(head)]
    for t in range(len(mse[keys[0]])):
        row = f"{t + 1:>5} | " + " | ".join(f"{mse[k][t]:>15.5f}" for k in keys)
        a, ac = alphas["optimal"][t], alphas["optimal_clipped"][t]
        row += " | " + ("" if np.isnan(a) else f"{a:.4f}").rjust(8)
        row += " | " + ("" if np.isnan(ac) else f"{ac:.4f}").rjust(10)
        lines.append(row)
    lim = " | ".join(("-" if limit[k] is None else f"{limit[k]:.5f}").rjust(15) for k in keys)
    lines.append(f"{'∞':>5} | {lim}")
    return "\n".join(lines)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The checked options (``--dry-run`` calls this alone)."""
    return {"steps": check_int("--steps", getattr(args, "steps", 6), low=1, high=1000)}


def compute(args: argparse.Namespace) -> dict[str, Any]:
    steps = _settings(args)["steps"]
    stages = Stages(1, name="borup-fig2", enabled=args.progress)
    data = load_borup_toy()
    grid = data.grid[:, None]
    truth = data.truth
    with stages("fit the three cases"):
        fitted = fit_cases(data, steps)
    curves: dict[str, list[list[float]]] = {}
    mse: dict[str, list[float]] = {}
    limit: dict[str, list[float] | None] = {}
    limit_mse: dict[str, float | None] = {}
    for key, est in fitted.items():
        preds = list(est.staged_predict(grid))
        curves[key] = [p.tolist() for p in preds]
        mse[key] = [float(np.mean((p - truth) ** 2)) for p in preds]
        if isinstance(est.alpha, str):
            limit[key] = None
            limit_mse[key] = None
        else:
            lim = est.predict_limit(grid)
            limit[key] = lim.tolist()
            limit_mse[key] = float(np.mean((lim - truth) ** 2))
    alphas = {key: est.alphas_ for key, est in fitted.items()}
    table = format_table(mse, limit_mse, alphas)
    print(table, flush=True)
    ref = data.reference_mse_alpha0
    k = min(len(ref), steps)
    deviation = float(np.max(np.abs(np.round(mse["alpha_0"][:k], 5) - ref[:k])))
    eig = fitted["alpha_0"].eigvals_
    return {
        "x": data.x,
        "y": data.y,
        "gamma": data.gamma,
        "lam": data.lam,
        "grid": data.grid,
        "truth": truth,
        "steps": steps,
        "predictions": curves,
        "limit": limit,
        "mse": mse,
        "limit_mse": limit_mse,
        "alphas": {k: v.tolist() for k, v in alphas.items()},
        "eigvals": eig,
        "B": {k: est.B_.tolist() for k, est in fitted.items()},
        "ratios": {k: ratios(est.B_).tolist() for k, est in fitted.items()},
        "reference_mse_alpha0": ref,
        "reference_mse_alpha0_limit": data.reference_mse_alpha0_limit,
        "max_abs_deviation_from_reference": deviation,
        "table": table,
    }


def plot(results: dict[str, Any], out: Path) -> None:
    """Figures 2, 3 and 4 from the results of :func:`compute`."""
    from ...reports.plotting import plt, save_figure

    shown = CASES[:3]
    steps = results["steps"]
    grid = results["grid"]
    colors = plt.cm.viridis(np.linspace(0.0, 0.9, steps))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    for ax, (key, label, _) in zip(axes, shown, strict=True):
        for t in range(steps):
            curve = results["predictions"][key][t]
            ax.plot(grid, curve, color=colors[t], lw=1.6, label=f"$f_{{{t + 1}}}$")
        if results["limit"][key] is not None:
            ax.plot(grid, results["limit"][key], "k--", lw=1.4, label=r"$f_\infty$")
        ax.plot(grid, results["truth"], color="0.6", ls=":", lw=1.2, label=r"$\sin(2\pi x)$")
        ax.plot(
            results["x"], results["y"], "x", color="crimson", ms=7, mew=2, label="training data"
        )
        ax.set_title(label)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("f(x)")
    axes[-1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9)
    title = "Borup & Andersen fig. 2: self-distillation steps, RBF exp(−80(x−x′)²), λ = 0.2"
    save_figure(fig, out / "fig2_steps.png", title=title)

    # Figures 3 and 4: one curve per step against the index k, eigenvalues ascending as in the
    # paper (ratios() orders them so itself; the NaN of a 0/0 ratio is null in the JSON).
    for values_of, ylabel, title, name, sharey in (
        (
            lambda key: np.asarray(results["B"][key], dtype=float)[:, ::-1],
            r"$[B^{(\tau)}]_{k,k}$",
            "Borup & Andersen fig. 3: diagonal of B^(τ)",
            "fig3_B_diagonal.png",
            True,
        ),
        (
            lambda key: np.asarray(results["ratios"][key], dtype=float),
            r"$R_k^{(\tau)} = [B^{(\tau)}]_{k+1,k+1} / [B^{(\tau)}]_{k,k}$",
            "Borup & Andersen fig. 4: ratios of consecutive diagonal entries of B^(τ)",
            "fig4_ratios.png",
            False,
        ),
    ):
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=sharey)
        for ax, (key, label, _) in zip(axes, shown, strict=True):
            values = values_of(key)
            k = np.arange(1, values.shape[1] + 1)
            for t in range(steps):
                ax.plot(k, values[t], "o-", color=colors[t], ms=4, label=f"τ = {t + 1}")
            ax.set_title(label)
            ax.set_xlabel("index k (eigenvalues ascending)")
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(ylabel)
        axes[-1].legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=9)
        save_figure(fig, out / name, title=title)
