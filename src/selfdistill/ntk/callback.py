"""A training callback that logs Anisotropic Information Retrieval as a network trains.

At chosen optimisation steps :class:`LabelEnergyCallback` recomputes the empirical NTK of the
network on a fixed probe batch and records the label energy (fraction of ‖y‖² in the top-k NTK
eigenspace, Dong et al. section 2.3) of named label sets — e.g. the noisy labels and the clean
labels — and of the self-distillation targets α_t y + (1 − α_t) h(f(x)) of the probe batch, with
their information gain over the reference labels (Dong et al. section 3.5, figure 5).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._util.validation import check_int
from ..nn.training.loop import Callback, StepContext
from .empirical import empirical_ntk
from .spectral import label_energy, ntk_eigh

__all__ = ["LabelEnergyCallback", "TargetRule"]

#: ``rule(outputs, labels, *, epoch, step) -> targets`` — the signature of
#: :class:`selfdistill.nn.noisy.dong.SelfDistillationTarget`.
TargetRule = Callable[..., Tensor]


def _label_matrix(labels: Tensor, num_outputs: int) -> Tensor:
    """One-hot rows for integer class labels with C ≥ 2 outputs; real values otherwise."""
    if labels.dtype.is_floating_point or num_outputs == 1:
        return labels.reshape(labels.shape[0], -1).double()
    return F.one_hot(labels.long(), num_outputs).double()


def _energy(decomposition: tuple[Tensor, Tensor], y: Tensor, k: int, centre: bool) -> float:
    if centre:
        y = y - y.mean(dim=0)
        if not torch.any(y != 0):  # a constant label vector has no centred part
            return float("nan")
    return label_energy(decomposition, y, k)


class LabelEnergyCallback(Callback):
    """Record label energies in the top-k NTK eigenspace of a probe batch during :func:`fit`.

    Parameters
    ----------
    x_probe
        The fixed probe inputs (n, ...); Dong et al. use one batch of 128.
    labels
        Named label sets of the probe batch, e.g. ``{"noisy": y_noisy, "clean": y_clean}``:
        integer class labels (one-hot encoded with the network's C outputs), ±1 labels for a
        scalar-output network, or float (n, C) targets.
    rule
        Optional self-distillation target rule, called as ``rule(outputs, labels[reference],
        epoch=, step=)`` on the probe batch's outputs (e.g. a
        :class:`~selfdistill.nn.noisy.dong.SelfDistillationTarget`); a deep copy is called, so the
        training rule's state (``last_alpha``) is not touched. Its targets are recorded as
        ``"targets"``, with ``information_gain`` = E_k(targets) − E_k(labels[reference]).
    reference
        Name of the label set the targets are built from and compared with (default: the first).
    steps
        Optimisation steps (0-based, as :class:`~selfdistill.nn.training.loop.StepContext.step`)
        after which to record; ``every`` adds every ``every``-th step. At least one must be given.
    k
        Number of leading eigenvectors (Dong: 5).
    mode, chunk_size, strategy
        Passed to :func:`~selfdistill.ntk.empirical_ntk`; ``mode`` must give an (n, n) kernel
        (``"trace"`` or an output index).

    Notes
    -----
    The NTK is that of the evaluation-mode network (batch norm with running statistics, no
    dropout): the callback switches the model to ``eval()`` for the measurement and back to its
    previous mode afterwards, so it works with any model :func:`fit` trains. Under data-parallel
    training every rank records the same values. ``records`` holds one dict per measurement:
    ``step``, ``epoch``, ``energy`` (name -> E_k, the targets as ``"targets"``),
    ``information_gain`` (when a rule is given), ``alpha`` (the rule's ``last_alpha`` if it has
    one), ``top_eigenvalues``, and ``energy_centred`` / ``information_gain_centred``: the same for
    the centred labels Y − mean(Y) (one-hot labels always contain the constant vector, which
    lies close to the top NTK eigenvector; centring removes that share, see ``docs/ntk.md``).
    """

    def __init__(
        self,
        x_probe: Tensor,
        labels: Mapping[str, Tensor],
        *,
        rule: TargetRule | None = None,
        reference: str | None = None,
        steps: Iterable[int] = (),
        every: int | None = None,
        k: int = 5,
        mode: str | int = "trace",
        chunk_size: int | None = None,
        strategy: str = "auto",
    ) -> None:
        if not isinstance(x_probe, Tensor) or x_probe.ndim < 1 or x_probe.shape[0] < 1:
            raise ValueError("x_probe must be a tensor of probe inputs with shape (n, ...)")
        n = x_probe.shape[0]
        if not labels:
            raise ValueError("labels must name at least one label set of the probe batch")
        for name, y in labels.items():
            if not isinstance(y, Tensor) or y.shape[0] != n:
                raise ValueError(
                    f"labels[{name!r}] must be a tensor with {n} rows like x_probe, "
                    f"got {getattr(y, 'shape', type(y).__name__)}"
                )
        if mode == "full":
            raise ValueError("mode must give an (n, n) kernel: 'trace' or an output index")
        self.x_probe = x_probe.detach()
        self.labels = {str(name): y.detach() for name, y in labels.items()}
        self.reference = next(iter(self.labels)) if reference is None else reference
        if self.reference not in self.labels:
            raise ValueError(
                f"reference must name one of the label sets {sorted(self.labels)}, "
                f"got {reference!r}"
            )
        self.rule = rule
        self.steps = {check_int("steps", s, low=0) for s in steps}
        self.every = None if every is None else check_int("every", every, low=1)
        if not self.steps and self.every is None:
            raise ValueError("steps or every must choose at least one step to record")
        self.k = check_int("k", k, low=1, high=n)
        self.mode = mode
        self.chunk_size = chunk_size
        self.strategy = strategy
        self.records: list[dict[str, Any]] = []

    def wants(self, step: int) -> bool:
        """Whether the callback records after optimisation step ``step``."""
        return step in self.steps or (self.every is not None and step % self.every == 0)

    def on_step_end(self, ctx: StepContext, loss: float) -> None:
        if self.wants(ctx.step):
            self.record(ctx.model, step=ctx.step, epoch=ctx.epoch)

    def record(self, model: nn.Module, *, step: int, epoch: int = 0) -> dict[str, Any]:
        """Measure now (e.g. at initialisation, ``step=-1``) and append to ``records``."""
        was_training = model.training
        model.eval()
        try:
            device = next(model.parameters()).device
            x = self.x_probe.to(device)
            with torch.no_grad():
                outputs = model(x)
            theta = empirical_ntk(
                model, x, mode=self.mode, chunk_size=self.chunk_size, strategy=self.strategy
            )
        finally:
            model.train(was_training)
        values, vectors = ntk_eigh(theta.double(), self.k)  # only the top-k eigenpairs
        decomposition = (values, vectors)
        num_outputs = outputs.reshape(outputs.shape[0], -1).shape[1]
        matrices = {name: _label_matrix(y, num_outputs) for name, y in self.labels.items()}
        entry: dict[str, Any] = {"step": int(step), "epoch": int(epoch)}
        if self.rule is not None:
            rule = copy.deepcopy(self.rule)
            reference = self.labels[self.reference].to(outputs.device)
            matrices["targets"] = _label_matrix(rule(outputs, reference, epoch=epoch, step=step), 1)
            alpha = getattr(rule, "last_alpha", None)
            entry["alpha"] = None if alpha is None else float(alpha)
        for key, centre in (("energy", False), ("energy_centred", True)):
            entry[key] = {
                name: _energy(decomposition, y, self.k, centre) for name, y in matrices.items()
            }
            if self.rule is not None:
                gain = entry[key]["targets"] - entry[key][self.reference]
                entry["information_gain" + key[len("energy") :]] = gain
        entry["top_eigenvalues"] = values[: self.k].tolist()
        self.records.append(entry)
        return entry
