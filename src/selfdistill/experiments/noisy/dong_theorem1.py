"""Dong et al. Theorem 1: self-distillation recovers the clean labels on clusterable data.

The setting of the theorem, run as it is stated:

* an (ε, ρ)-clusterable data set (Definition 1): ``n`` unit-norm points in ``K`` clusters, each
  within distance ε of its unit-norm centre; the clean label (±1) is constant on a cluster, and in
  every cluster a fraction ρ < 1/2 of the observed labels is flipped;
* a two-layer network ``f(W, x) = vᵀ φ(W x)`` with ``W ∈ R^{k×d}``, ``W₀ ~ N(0, 1)``, a smooth
  activation (tanh: ``|φ(0)|, |φ'|, |φ''|`` bounded as the theorem asks) and the output layer fixed
  to ``±1/√k`` (half each);
* full-batch gradient descent on the squared loss ``½ mean_i (f(W, x_i) − ỹ_{t,i})²``.

Self-distillation uses Algorithm 1's target ``ỹ_t = α_t y + (1 − α_t) h(f(W_t, X))`` with the ramp
label function ``h(x) = clip(x / (1 − 2ρ), −1, 1)`` and ``α_t`` held at 1 for ``hold`` steps, then
decreasing linearly to 0 (monotone and slow, as the theorem's conditions require); plain training
is ``α_t = 1`` throughout. The learning rate is ``η = 1 / λ_max`` of the network's tangent kernel
``J Jᵀ / n`` at initialisation (gradient descent on the squared loss is stable below 2/λ_max).

The theorem's claim, ``‖f(W_t, X) − y_clean‖₂ → 0``, is checked by tracking the RMS distance of the
training outputs to the clean and to the noisy labels; plain training instead converges to the
noisy labels (it interpolates them). Figures: ``theorem1_distances.png`` (both distances over the
steps, both methods) and ``theorem1_outputs.png`` (final outputs per sample, corrupted ones marked).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from ... import training_flags as opt
from ..._util.validation import MAX_SEED, MAX_WIDTH, check_int, check_real

__all__ = ["add_arguments", "clusterable_data", "compute", "plot", "train_two_layer"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clusters", type=int, default=4, help="K clusters (default: %(default)s)")
    parser.add_argument(
        "--per-cluster", type=int, default=30, help="points per cluster (default: %(default)s)"
    )
    parser.add_argument(
        "--dim", type=int, default=10, help="input dimension d (default: %(default)s)"
    )
    parser.add_argument(
        "--epsilon", type=float, default=0.6, help="cluster radius ε (default: %(default)s)"
    )
    parser.add_argument(
        "--rho",
        type=float,
        default=0.2,
        help="flipped fraction per cluster ρ (default: %(default)s)",
    )
    parser.add_argument(
        "--width", type=int, default=256, help="hidden units k (default: %(default)s)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="gradient steps (default: 16000, quick 4000)"
    )
    parser.add_argument(
        "--hold", type=int, default=400, help="steps with α_t = 1 (default: %(default)s)"
    )
    parser.add_argument(
        "--decay", type=int, default=2000,
        help="steps of the linear decay of α_t to 0 after the hold (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    opt.add_device_option(parser)


def clusterable_data(
    clusters: int, per_cluster: int, dim: int, epsilon: float, rho: float, seed: int
) -> dict[str, np.ndarray]:
    """An (ε, ρ)-clusterable data set (Dong et al. Definition 1).

    Centres are random unit vectors; a point is ``(c + δ) / ‖c + δ‖`` with ``‖δ‖ = ε / 2`` in a
    random direction, so it has unit norm and lies within ε of its centre. Clean labels alternate
    ±1 over the clusters; in each cluster exactly ``floor(ρ · n_l)`` observed labels are flipped.

    Returns ``x`` (n, d), ``y_clean`` and ``y_noisy`` (n,) in {−1, +1}, ``cluster`` (n,) and
    ``corrupted`` (n,) booleans.
    """
    clusters = check_int("clusters", clusters, low=2)
    per_cluster = check_int("per_cluster", per_cluster, low=1)
    dim = check_int("dim", dim, low=2)
    epsilon = check_real("epsilon", epsilon, low=0.0, high=2.0)
    rho = check_real("rho", rho, low=0.0, high=0.5, high_inclusive=False)
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    cluster = np.repeat(np.arange(clusters), per_cluster)
    delta = rng.standard_normal((cluster.size, dim))
    delta *= (epsilon / 2) / np.linalg.norm(delta, axis=1, keepdims=True)
    x = centres[cluster] + delta
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y_clean = np.where(cluster % 2 == 0, 1.0, -1.0)
    corrupted = np.zeros(cluster.size, dtype=bool)
    n_flip = math.floor(rho * per_cluster)
    for c in range(clusters):
        members = np.flatnonzero(cluster == c)
        corrupted[rng.choice(members, size=n_flip, replace=False)] = True
    y_noisy = np.where(corrupted, -y_clean, y_clean)
    return {
        "x": x,
        "y_clean": y_clean,
        "y_noisy": y_noisy,
        "cluster": cluster,
        "corrupted": corrupted,
    }


def train_two_layer(
    x: np.ndarray,
    y_noisy: np.ndarray,
    y_clean: np.ndarray,
    *,
    width: int,
    steps: int,
    rho: float,
    hold: int | None,
    decay: int,
    seed: int,
    device: str = "cpu",
    log_every: int = 50,
) -> dict[str, Any]:
    """Full-batch gradient descent on ``f(W, x) = vᵀ tanh(W x)`` with the output layer fixed.

    ``hold=None`` is plain training (``α_t = 1``); otherwise self-distillation with the ramp label
    function, ``α_t = 1`` for ``t < hold`` then linear to 0 over ``decay`` steps.
    Returns the logged steps, α_t, RMS distances to the clean and noisy labels, sign accuracy
    against the clean labels, the final outputs and the learning rate used.
    """
    import torch

    from ...nn.noisy.dong import SelfDistillationTarget
    from ...nn.training.device import resolve_device

    dev = torch.device(resolve_device(device))
    dtype = torch.float64
    gen = torch.Generator().manual_seed(seed)
    n, d = x.shape
    xt = torch.as_tensor(x, dtype=dtype, device=dev)
    yn = torch.as_tensor(y_noisy, dtype=dtype, device=dev)
    yc = torch.as_tensor(y_clean, dtype=dtype, device=dev)
    w = torch.randn(width, d, generator=gen, dtype=dtype).to(dev).requires_grad_(True)
    v = torch.cat([torch.ones(width // 2), -torch.ones(width - width // 2)]).to(dtype).to(dev)
    v /= math.sqrt(width)

    def f(weights: torch.Tensor) -> torch.Tensor:
        return torch.tanh(xt @ weights.T) @ v

    # η = 1 / λ_max(J Jᵀ / n) at initialisation, J_ij = v_j φ'(w_j·x_i) x_i (per output).
    with torch.no_grad():
        dphi = 1.0 - torch.tanh(xt @ w.T) ** 2  # (n, k)
        gram = ((dphi * v) @ (dphi * v).T) * (xt @ xt.T)  # NTK of the first layer
        lr = float(1.0 / torch.linalg.eigvalsh(gram / n)[-1])

    def alpha(epoch: int, step: int, acc: float) -> float:
        if hold is None or step < hold:
            return 1.0
        return max(0.0, 1.0 - (step - hold) / decay)

    rule = SelfDistillationTarget("ramp", alpha, rho=rho)
    log: dict[str, list[float]] = {"step": [], "alpha": [], "dist_clean": [], "dist_noisy": []}
    log["clean_sign_acc"] = []
    for t in range(steps + 1):
        out = f(w)
        if t % log_every == 0 or t == steps:
            with torch.no_grad():
                log["step"].append(t)
                log["alpha"].append(alpha(0, t, 0.0))
                log["dist_clean"].append(float(torch.sqrt(torch.mean((out - yc) ** 2))))
                log["dist_noisy"].append(float(torch.sqrt(torch.mean((out - yn) ** 2))))
                log["clean_sign_acc"].append(float((torch.sign(out) == yc).double().mean()))
        if t == steps:
            break
        target = rule(out, yn, epoch=0, step=t)
        loss = 0.5 * torch.mean((out - target) ** 2)
        (grad,) = torch.autograd.grad(loss, w)
        with torch.no_grad():
            w -= lr * grad
    return {**log, "lr": lr, "outputs": out.detach().cpu().numpy().tolist()}


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The checked options, ``--steps`` resolved (``--dry-run`` calls this alone)."""
    steps = args.steps if args.steps is not None else (4000 if args.quick else 16000)
    return {
        "clusters": check_int("--clusters", args.clusters, low=2, high=1000),
        "per_cluster": check_int("--per-cluster", args.per_cluster, low=1, high=100_000),
        "dim": check_int("--dim", args.dim, low=2, high=100_000),
        "epsilon": check_real("--epsilon", args.epsilon, low=0.0, high=2.0),
        "rho": check_real("--rho", args.rho, low=0.0, high=0.5, high_inclusive=False),
        "steps": check_int("--steps", steps, low=10, high=10_000_000),
        "width": check_int("--width", args.width, low=2, high=MAX_WIDTH),
        "hold": check_int("--hold", args.hold, low=0),
        "decay": check_int("--decay", args.decay, low=1),
        "seed": check_int("--seed", args.seed, low=0, high=MAX_SEED),
    }


def compute(args: argparse.Namespace) -> dict[str, Any]:
    from ..._util.progress import Stages

    s = _settings(args)
    steps, width, hold, decay = s["steps"], s["width"], s["hold"], s["decay"]
    data = clusterable_data(
        args.clusters, args.per_cluster, args.dim, args.epsilon, args.rho, args.seed
    )
    stages = Stages(2, name="dong-theorem1", enabled=args.progress)
    common = dict(width=width, steps=steps, rho=args.rho, decay=decay, seed=args.seed)
    common["device"] = args.device
    common["log_every"] = max(1, steps // 400)
    with stages(f"self-distillation ({steps} full-batch steps)"):
        sd = train_two_layer(data["x"], data["y_noisy"], data["y_clean"], hold=hold, **common)
    with stages(f"plain training ({steps} full-batch steps)"):
        plain = train_two_layer(data["x"], data["y_noisy"], data["y_clean"], hold=None, **common)

    bad = data["corrupted"]

    def summary(res: dict[str, Any]) -> dict[str, float]:
        out = np.asarray(res["outputs"])
        return {
            "final_dist_clean": res["dist_clean"][-1],
            "final_dist_noisy": res["dist_noisy"][-1],
            "final_clean_sign_acc": res["clean_sign_acc"][-1],
            "corrupted_recovered": float(np.mean(np.sign(out[bad]) == data["y_clean"][bad])),
        }

    return {
        "settings": s,
        "n": len(data["y_clean"]),
        "steps": steps,
        "hold": hold,
        "decay": decay,
        "clusters": args.clusters,
        "epsilon": args.epsilon,
        "rho": args.rho,
        "width": width,
        "self_distillation": {**summary(sd), **sd},
        "plain": {**summary(plain), **plain},
        "y_clean": data["y_clean"],
        "corrupted": data["corrupted"],
    }


def plot(results: dict[str, Any], out: Path) -> None:
    """``theorem1_distances.png`` and ``theorem1_outputs.png`` from :func:`compute`."""
    from ...reports.plotting import plt, save_figure

    sd, plain = results["self_distillation"], results["plain"]
    n, steps, width = results["n"], results["steps"], results["width"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, res, title in ((axes[0], sd, "self-distillation (ramp h)"), (axes[1], plain, "plain")):
        ax.semilogy(res["step"], res["dist_clean"], label="to clean labels")
        ax.semilogy(res["step"], res["dist_noisy"], label="to noisy labels", linestyle="--")
        ax.set_xlabel("gradient step t")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("RMS distance ‖f(W_t, X) − y‖₂ / √n")
    ax2 = axes[0].twinx()
    ax2.plot(sd["step"], sd["alpha"], color="grey", linewidth=1, label="α_t")
    ax2.set_ylim(-0.05, 1.05)
    ax2.set_ylabel("α_t", color="grey")
    handles = axes[0].get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    axes[0].legend(handles, ["to clean labels", "to noisy labels", "α_t"], loc="center right")
    axes[1].legend(loc="upper right")
    title = (
        f"Dong et al. Theorem 1: n = {n}, K = {results['clusters']}, ε = {results['epsilon']}, "
        f"ρ = {results['rho']}, k = {width}"
    )
    save_figure(fig, out / "theorem1_distances.png", title=title)

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    idx = np.arange(n)
    bad = np.asarray(results["corrupted"], dtype=bool)
    y_clean = np.asarray(results["y_clean"], dtype=float)
    for ax, res, title in ((axes[0], sd, "self-distillation"), (axes[1], plain, "plain")):
        outputs = np.asarray(res["outputs"])
        ax.scatter(idx[~bad], outputs[~bad], s=8, label="clean label")
        ax.scatter(idx[bad], outputs[bad], s=14, marker="x", color="red", label="corrupted label")
        ax.step(idx, y_clean, where="mid", color="black", linewidth=0.8, label="true label")
        ax.set_xlabel("training sample (sorted by cluster)")
        ax.set_title(f"{title}: outputs after {steps} steps")
    axes[0].set_ylabel("f(W_T, x_i)")
    axes[0].legend(loc="center left", fontsize=8)
    save_figure(fig, out / "theorem1_outputs.png")
