"""Mobahi et al. (2020) sections 3.2-3.5: guaranteed rounds, sparsity index, early stopping.

The problem is Borup & Andersen's toy example, which ships with the package: eleven points
``x = 0, 0.1, ..., 1`` with their noisy ``sin(2 pi x)`` targets and the RBF kernel
``exp(-80 (x - x')^2)`` -- a strictly positive-definite Gram matrix (``kappa`` about 9.6), so every
bound of :mod:`selfdistill.theory` applies. Mobahi's constrained self-distillation (``alpha = 0``)
is run by :class:`~selfdistill.SelfDistilledKernelRidge` in epsilon mode.

Stage 1 sweeps the tolerance ``epsilon`` and shows, against it,

* the guaranteed number of rounds ``t_lower`` of Proposition 4 (eq. 18), its ``epsilon -> 0`` form,
  and the rounds the estimator actually runs before the collapse;
* the sparsity index ``S`` at ``t_lower`` (eq. 24) with its ``epsilon -> 0`` limit (Theorem 6: ``S``
  decreases in ``epsilon``), and the observed smallest neighbour ratio
  ``B_{t-1}[k, k] / B_{t-1}[k+1, k+1]`` at ``t = floor(t_lower)`` beside its bound (eq. 23).

Stage 2 compares self-distillation with early stopping (section 3.4): the rounds of
self-distillation at a small ``epsilon`` against single fits with looser tolerances. Early stopping
keeps ``B_0[k] / B_0[j] < d_k / d_j`` (at best the pattern of ``D``); self-distillation sparsifies
past it. The effective number of basis functions ``sum_k B[k, k] / max_k B[k, k]`` is plotted
against the training error on the original labels.

Figures: ``sparsity_vs_epsilon.png`` and ``sd_vs_early_stopping.png``. ``--quick`` uses 12
tolerances instead of 40.
"""

from __future__ import annotations

import argparse
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ... import theory
from ..._util.progress import Stages, progress_bar
from ..._util.validation import check_real
from ...datasets.toy import load_borup_toy
from ...exceptions import CollapseWarning
from ...kernel.ridge import SelfDistilledKernelRidge

__all__ = ["add_arguments", "compute", "plot"]

#: Most rounds tried per tolerance (the smallest tolerance of the sweep needs about 100).
MAX_STEPS = 2000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--epsilon-fraction",
        type=float,
        default=0.01,
        help="tolerance of the self-distillation run of stage 2, as a fraction of mean(y**2) "
        "(default: %(default)s)",
    )


def _fit(x: np.ndarray, y: np.ndarray, gamma: float, epsilon: float) -> SelfDistilledKernelRidge:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)
        return SelfDistilledKernelRidge(
            kernel="rbf", gamma=gamma, lam=None, epsilon=epsilon, steps=MAX_STEPS, alpha=0.0
        ).fit(x[:, None], y)


def _rounds(est: SelfDistilledKernelRidge) -> int:
    """Rounds before the collapse (``MAX_STEPS`` when none happened)."""
    return MAX_STEPS if est.collapsed_at_ is None else est.collapsed_at_ - 1


def _neighbour_sparsity(B: np.ndarray) -> float:
    """``min_k B[k] / B[k + 1]`` over neighbours in descending eigenvalue order."""
    return float(np.min(B[:-1] / B[1:]))


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The checked options (``--dry-run`` calls this alone)."""
    fraction = check_real(
        "--epsilon-fraction",
        getattr(args, "epsilon_fraction", 0.01),
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )
    return {"epsilon_fraction": fraction}


def compute(args: argparse.Namespace) -> dict[str, Any]:
    fraction = _settings(args)["epsilon_fraction"]
    stages = Stages(3, name="sparsity", enabled=args.progress)

    with stages("Borup toy data and the spectrum of its RBF Gram matrix"):
        toy = load_borup_toy()
        x, y, gamma = toy.x, toy.y, toy.gamma
        mean_sq = float(np.mean(y**2))
        spectrum_fit = SelfDistilledKernelRidge(kernel="rbf", gamma=gamma, lam=1.0, steps=1)
        spectrum_fit.fit(x[:, None], y)
        d, V = spectrum_fit.eigvals_, spectrum_fit.eigvecs_
        kappa = float(d[0] / d[-1])
        limit = theory.sparsity_index_limit(d)

    n_eps = 12 if args.quick else 40
    epsilons = mean_sq * np.geomspace(1e-4, 0.9, n_eps)
    sweep: dict[str, list[Any]] = {
        k: []
        for k in (
            "t_lower",
            "t_lower_small_epsilon",
            "observed_rounds",
            "max_sparsity_index",
            "t_floor",
            "sparsity_index_at_t_floor",
            "observed_neighbour_ratio_at_t_floor",
        )
    }
    with stages(f"epsilon sweep: {n_eps} tolerances, self-distillation until collapse"):
        for eps in progress_bar(epsilons, desc="epsilon", enabled=args.progress):
            t_lower = theory.guaranteed_rounds(d, y, eps)
            est = _fit(x, y, gamma, float(eps))
            t_floor = math.floor(t_lower)
            sweep["t_lower"].append(t_lower)
            sweep["t_lower_small_epsilon"].append(
                theory.guaranteed_rounds(d, y, eps, small_epsilon=True)
            )
            sweep["observed_rounds"].append(_rounds(est))
            sweep["max_sparsity_index"].append(theory.max_sparsity_index(d, y, eps))
            sweep["t_floor"].append(t_floor)
            if t_floor >= 1:
                sweep["sparsity_index_at_t_floor"].append(theory.sparsity_index(t_floor, d, y, eps))
                sweep["observed_neighbour_ratio_at_t_floor"].append(
                    _neighbour_sparsity(est.B_[t_floor - 1])
                )
            else:
                sweep["sparsity_index_at_t_floor"].append(None)
                sweep["observed_neighbour_ratio_at_t_floor"].append(None)

    eps_sd = fraction * mean_sq
    with stages(f"self-distillation at epsilon = {eps_sd:.4g} against early stopping"):
        est = _fit(x, y, gamma, eps_sd)
        rounds = _rounds(est)
        B_sd = est.B_[:rounds]
        train_sd = [
            float(np.mean((est.predict(x[:, None], step=t + 1) - y) ** 2)) for t in range(rounds)
        ]
        eps_es = mean_sq * np.geomspace(fraction, 0.9, 10)
        path = theory.early_stopping_path(d, y, eps_es, eigvecs=V)
        effective_sd = B_sd.sum(axis=1) / B_sd.max(axis=1)
        effective_es = path.B.sum(axis=1) / path.B.max(axis=1)
        effective_floor = float(np.sum(d / d[0]))

    return {
        "problem": "Borup toy data, RBF kernel exp(-gamma (x - x')^2)",
        "gamma": gamma,
        "x": x,
        "y": y,
        "mean_y_squared": mean_sq,
        "eigvals_K": d,
        "kappa": kappa,
        "max_steps": MAX_STEPS,
        "sweep": {"epsilon": epsilons, **sweep, "sparsity_index_limit": limit},
        "comparison": {
            "self_distillation_epsilon": eps_sd,
            "self_distillation_rounds": rounds,
            "self_distillation_B": B_sd,
            "self_distillation_lams": est.lams_[:rounds],
            "self_distillation_train_mse": train_sd,
            "self_distillation_effective_bases": effective_sd,
            "early_stopping_epsilon": eps_es,
            "early_stopping_lams": path.cs,
            "early_stopping_B": path.B,
            "early_stopping_train_mse": eps_es,
            "early_stopping_effective_bases": effective_es,
            "pattern_of_D_effective_bases": effective_floor,
            "pattern_of_D": d / d[0],
        },
    }


def plot(results: dict[str, Any], out: Path) -> None:
    """``sparsity_vs_epsilon.png`` and ``sd_vs_early_stopping.png`` from :func:`compute`."""
    from ...reports.plotting import save_figure

    sweep, cmp = results["sweep"], results["comparison"]
    d = np.asarray(results["eigvals_K"], dtype=float)
    save_figure(
        _sweep_figure(sweep["epsilon"], sweep, sweep["sparsity_index_limit"], results["kappa"]),
        out / "sparsity_vs_epsilon.png",
    )
    B_sd = np.asarray(cmp["self_distillation_B"], dtype=float)
    B_es = np.asarray(cmp["early_stopping_B"], dtype=float)
    fig = _comparison_figure(
        d,
        B_sd,
        B_es,
        cmp["early_stopping_epsilon"],
        cmp["self_distillation_train_mse"],
        cmp["self_distillation_effective_bases"],
        cmp["early_stopping_effective_bases"],
        cmp["pattern_of_D_effective_bases"],
    )
    save_figure(fig, out / "sd_vs_early_stopping.png")


def _sweep_figure(epsilons, sweep, limit, kappa):
    from ...reports.plotting import plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    ax1.plot(epsilons, sweep["t_lower"], "-", label="guaranteed t̲ (Prop. 4, eq. 18)")
    ax1.plot(epsilons, sweep["t_lower_small_epsilon"], "--", label="ε → 0 form ||y|| / (κ √(nε))")
    ax1.plot(epsilons, sweep["observed_rounds"], "o", ms=4, label="observed rounds before collapse")
    ax1.set(
        xscale="log",
        yscale="log",
        xlabel="tolerance ε (mean squared error)",
        ylabel="rounds",
        title=f"Rounds of self-distillation before collapse (κ = {kappa:.3g})",
    )
    ax1.legend(fontsize=8)

    s = np.asarray(sweep["max_sparsity_index"], dtype=float)
    ax2.plot(epsilons, s - 1.0, "-", label="S at t̲ (eq. 24)")
    ax2.axhline(limit - 1.0, color="black", ls="--", lw=1, label="ε → 0 limit (Thm 6)")
    bound = np.array([np.nan if v is None else v for v in sweep["sparsity_index_at_t_floor"]])
    observed = np.array(
        [np.nan if v is None else v for v in sweep["observed_neighbour_ratio_at_t_floor"]]
    )
    ax2.plot(epsilons, bound - 1.0, "s", ms=4, mfc="none", label="bound at ⌊t̲⌋ (eq. 23)")
    ax2.plot(epsilons, observed - 1.0, "o", ms=4, label="observed min B ratio at ⌊t̲⌋")
    ax2.set(
        xscale="log",
        yscale="log",
        xlabel="tolerance ε (mean squared error)",
        ylabel="sparsity index − 1",
        title="Sparsity index: lower ε, sparser (Theorem 6)",
    )
    ax2.legend(fontsize=8)
    fig.suptitle(
        "Mobahi et al. (2020) sec. 3.2-3.5 on Borup's toy data (RBF, γ = 80, n = 11)", fontsize=12
    )
    fig.tight_layout()
    return fig


def _comparison_figure(d, B_sd, B_es, eps_es, train_sd, effective_sd, effective_es, floor):
    from ...reports.plotting import plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    k = np.arange(d.size)
    blues = plt.get_cmap("Blues")(np.linspace(0.35, 1.0, max(len(B_sd), 1)))
    oranges = plt.get_cmap("Oranges")(np.linspace(0.35, 1.0, len(B_es)))
    for rows, style, colors, label in (
        (B_sd, "-", blues, "self-distillation"),
        (B_es, ":", oranges, "early stopping"),
    ):
        for i, row in enumerate(rows):
            ax1.plot(k, row / row[0], style, color=colors[i], label=label if i == 0 else None)
    ax1.plot(k, d / d[0], "k--", lw=2, label="pattern of D: d_k / d_0")
    ax1.set(
        yscale="log",
        xlabel="eigen-index k (largest eigenvalue first)",
        ylabel="B[k, k] / B[0, 0]",
        title="Normalised B: rounds (blue, darker = later) vs looser ε (orange)",
    )
    ax1.legend(fontsize=8)

    ax2.plot(train_sd, effective_sd, "o-", color="tab:blue", label="self-distillation rounds")
    ax2.plot(eps_es, effective_es, "s:", color="tab:orange", label="early stopping (looser ε)")
    ax2.axhline(floor, color="black", ls="--", lw=1, label="pattern of D (early-stopping floor)")
    ax2.set(
        xscale="log",
        xlabel="training MSE against the original labels",
        ylabel="effective bases  Σ_k B[k,k] / max_k B[k,k]",
        title="Self-distillation sparsifies, early stopping does not",
    )
    ax2.legend(fontsize=8)
    fig.suptitle("Mobahi et al. (2020) sec. 3.4: self-distillation versus early stopping")
    fig.tight_layout()
    return fig
