"""The variants of ``sd-margin`` measured in docs/noisy.md (second and third rounds), as plug-in
loss rules of :mod:`selfdistill.nn.noisy.registry`, run by ``run_noisy`` on the Table-1 setting.

    python scripts/sd_margin_variants.py VARIANTS NOISES SEEDS [--store DIR] [--n-train N]
    python scripts/sd_margin_variants.py ls1l3,elr 0.2,0.4 0      # e.g.

``VARIANTS`` are names of :data:`VARIANTS` (or any registered method), comma-separated; each run
prints its final clean test accuracy, best test accuracy and flagged-set F1. Finished runs are
kept in ``--store`` (default ``runs/sd-margin-variants``), so a rerun only trains what is missing.
Every variant is :class:`Variant` with some of its knobs set: the teacher's momentum ``beta``, the
margin's ``lam``, the switch ``patience`` (all of ``MarginSelfDistillationLoss``), and

* ``eps`` — label smoothing of the target (the default ``sd-margin`` has 0.1);
* ``dead_zone`` — ``α_i = 1 − clip(λ (m_i − dead_zone), 0, 1)``;
* ``elr_warm`` / ``elr_after`` — an ELR term ``λ_e · mean log(1 − ⟨p, t⟩)`` before / after the
  switch, on ELR's own zero-start ensemble (``elr_zero=True``) or on the teacher
  (``elr_zero=False``), on every sample or only where the teacher agrees with the label
  (``elr_agree_only``);
* ``mean_teacher`` — the teacher is the softmax of an exponential moving average of the WEIGHTS
  (decay per step) applied to the batch, instead of the per-sample average of predictions.
"""

from __future__ import annotations

import argparse
import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from selfdistill.nn.noisy.config import NoisyConfig
from selfdistill.nn.noisy.margin import MarginSelfDistillationLoss
from selfdistill.nn.noisy.registry import register_method
from selfdistill.nn.noisy.rivals import EPS, TemporalEnsemble
from selfdistill.nn.noisy.runner import run_noisy


class Variant(MarginSelfDistillationLoss):
    """``sd-margin`` with the research knobs of the module docstring (defaults: the first
    ``sd-margin``, λ = 2 and no smoothing)."""

    def __init__(
        self,
        n_train: int,
        num_classes: int,
        *,
        lam: float = 2.0,
        eps: float = 0.0,
        dead_zone: float = 0.0,
        elr_warm: float = 0.0,
        elr_after: float = 0.0,
        elr_zero: bool = True,
        elr_agree_only: bool = False,
        mean_teacher: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(n_train, num_classes, lam=lam, smoothing=eps, **kwargs)
        self.dead_zone, self.elr_warm, self.elr_after = dead_zone, elr_warm, elr_after
        self.elr_zero, self.elr_agree_only = elr_zero, elr_agree_only
        self.zero = TemporalEnsemble(n_train, num_classes, 0.7, init="zeros")
        self.decay, self.ema, self.x = mean_teacher, None, None

    def _capture(self, module: torch.nn.Module, args: tuple[Tensor, ...]) -> None:
        self.x = args[0]

    def _teacher(self, probs: Tensor, ctx: Any) -> Tensor:
        if self.decay is None:
            return self.ensemble.update(ctx.index, probs)
        if self.ema is None:  # the first step: no captured batch yet
            self.ema = copy.deepcopy(ctx.model).eval().requires_grad_(False)
            ctx.model.register_forward_pre_hook(self._capture)
            return probs
        with torch.no_grad():
            for mean, param in zip(self.ema.parameters(), ctx.model.parameters(), strict=True):
                mean.mul_(self.decay).add_(param.detach(), alpha=1.0 - self.decay)
            return torch.softmax(self.ema(self.x), dim=1)

    def margin(self, t: Tensor, labels: Tensor) -> Tensor:
        """The package's margin less the dead zone (what the weight α_i is computed from)."""
        return super().margin(t, labels) - self.dead_zone

    def __call__(self, logits: Tensor, targets: Tensor, ctx: Any = None) -> Tensor:
        log_q = F.log_softmax(logits, dim=1)
        t = self._teacher(log_q.detach().exp(), ctx)
        p = log_q.exp().clamp(EPS, 1 - EPS)
        ensemble = self.zero.update(ctx.index, p) if self.elr_zero else t
        elr = torch.log(1.0 - (ensemble * p).sum(dim=1))
        labels = targets.long()
        if not self.distilling(getattr(ctx, "epoch", 0)):
            return self.smoothed_loss(log_q, labels) + self.elr_warm * elr.mean()
        loss = self.smoothed_loss(log_q, labels, self.target(t, labels))
        if self.elr_agree_only:  # where the teacher's favourite is the given label
            elr = elr * (super().margin(t, labels) <= 0).to(elr)
        return loss + self.elr_after * elr.mean()


#: name -> knobs of :class:`Variant`, as in docs/noisy.md's tables
VARIANTS: dict[str, dict[str, Any]] = {
    "first": {},
    "b9": {"beta": 0.9},
    "b95": {"beta": 0.95},
    "l15": {"lam": 1.5},
    "l3": {"lam": 3.0},
    "p2": {"patience": 2},
    "elr-warm-zero": {"elr_warm": 3.0},
    "elr-both-zero": {"elr_warm": 3.0, "elr_after": 3.0},
    "elr-warm-first": {"elr_warm": 3.0, "elr_zero": False},
    "elr-both-first": {"elr_warm": 3.0, "elr_after": 3.0, "elr_zero": False},
    "elr-both-first-1": {"elr_warm": 1.0, "elr_after": 1.0, "elr_zero": False},
    "elr-agree-3": {"elr_after": 3.0, "elr_agree_only": True},
    "elr-agree-1": {"elr_after": 1.0, "elr_agree_only": True},
    "elr-after-3": {"elr_after": 3.0},
    "mean-teacher-99": {"mean_teacher": 0.99},
    "mean-teacher-999": {"mean_teacher": 0.999},
    "dead-zone-1": {"dead_zone": 0.1},
    "dead-zone-2": {"dead_zone": 0.2},
    "ls1": {"eps": 0.1},
    "ls2": {"eps": 0.2},
    "ls1l25": {"eps": 0.1, "lam": 2.5},
    "ls1l3": {"eps": 0.1, "lam": 3.0},
}


def register_variants() -> list[str]:
    """Register every :data:`VARIANTS` entry as a method ``variant-NAME``; return the names."""
    for name, knobs in VARIANTS.items():
        register_method(
            f"variant-{name}",
            loss=lambda ctx, knobs=knobs: Variant(ctx.n_train, ctx.num_classes, **knobs),
            replace=True,
        )
    return [f"variant-{name}" for name in VARIANTS]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", help="comma list of VARIANTS names or registered methods")
    parser.add_argument("noises", help="comma list of noise rates")
    parser.add_argument("seeds", help="comma list of seeds")
    parser.add_argument("--store", default="runs/sd-margin-variants")
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--data", default="mnist1d")
    args = parser.parse_args(argv)
    register_variants()
    names = [f"variant-{v}" if v in VARIANTS else v for v in args.variants.split(",")]
    config = NoisyConfig(
        data=args.data, n_train=args.n_train, width=512, epochs=args.epochs, lr=0.05
    )
    for seed in (int(s) for s in args.seeds.split(",")):
        for noise in (float(r) for r in args.noises.split(",")):
            for run in run_noisy(config, names, [noise], [seed], store=args.store):
                f1 = run["flagged_f1"]
                print(
                    f"{run['method']:24s} noise={noise:g} seed={seed} "
                    f"final={100 * run['final_test_acc']:.1f} "
                    f"best={100 * run['best_test_acc']:.1f} "
                    f"F1={'-' if f1 is None else f'{100 * f1:.1f}'}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
