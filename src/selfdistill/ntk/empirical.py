"""The empirical Neural Tangent Kernel of any ``nn.Module``, built on :mod:`torch.func`.

For a network f(θ, x) ∈ R^C at its current parameters θ, the empirical NTK is

    Θ(x, x') = J(x) J(x')ᵀ ∈ R^{C×C},   J(x) = ∂f(θ, x)/∂θ ∈ R^{C×P}

(Jacot et al. 2018; Dong et al. section 2.3, where H_t = (⟨∂f(θ_t, x_i)/∂θ, ∂f(θ_t, x_j)/∂θ⟩)_ij;
Borup & Andersen appendix C, κ(x_i, x_j) = ⟨φ(x_i), φ(x_j)⟩ with φ(x) = ∇_θ f(x, θ)).

Three strategies compute the same kernel (Novak, Sohl-Dickstein & Schoenholz 2022, "Fast finite
width neural tangent kernel"):

``"structured"`` (structured derivatives, :mod:`.structured`)
    layer by layer: for y = W h + b, Θ_W = (H Hᵀ) ⊙ (G Gᵀ) summed over the positions that share
    W, Θ_b = G Gᵀ, with H the layer's inputs and G the outputs' gradients w.r.t. the layer's
    outputs (one batched backward pass per block). ``nn.Linear``, ``nn.Conv1d``/``nn.Conv2d``
    and the affine parameters of batch norm (evaluation mode), layer norm and group norm; the
    parameters of any other module fall back to per-sample Jacobians. Cost ≈ 2·n·m·(d_in +
    C·d_out) per dense layer in trace mode, against 2·n·m·C·d_in·d_out for the contraction.

``"jacobian"`` (Jacobian contraction)
    per-sample Jacobians J(x) of a chunk of inputs by ``vmap(jacrev)``, then one matrix product
    per pair of chunks. Cost ≈ 2·n·m·C²·P flops for ``mode="full"``, 2·n·m·C·P for ``"trace"``
    and 2·n·m·P for an output index, plus the Jacobians (≈ 3·C·F per input, F = forward flops).
``"ntk_vp"`` (NTK-vector products)
    one vector-Jacobian product per (input of x1, output) gives a row of J(x1); a forward-mode
    Jacobian-vector product of that row through the network on a chunk of x2 gives C entries of
    Θ at once, without forming J(x2). Cost ≈ n·m·C·2F flops for ``"full"`` and ``"trace"``,
    n·m·2F for an output index. It wins when C²·P is large against C·F (many outputs, few
    weight-shared parameters: dense networks in ``mode="full"``).

``strategy="auto"`` picks ``"structured"`` whenever every module holding parameters has its
structured formula; otherwise it evaluates the three costs with the forward flops F counted by
:class:`torch.utils.flop_counter.FlopCounterMode` on one input and picks the cheapest, scaled by
efficiency factors measured with ``benchmarks/ntk.py``.

Training mode: batch normalisation in training mode normalises with the statistics of the whole
batch (so f(θ, x_i) depends on the other inputs, and a per-sample Jacobian is not defined) and
updates running statistics; dropout in training mode makes f random. :func:`empirical_ntk`
refuses such a model with a ``ValueError`` that names the modules: call ``model.eval()`` first
(the kernel is then the NTK of the evaluation-mode network, whose batch norms are affine maps with
their running statistics). Models whose modules behave the same in both modes are accepted in
either mode.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, jvp, vjp, vmap

from .._util.validation import check_choice, check_int
from . import structured

__all__ = ["STRATEGIES", "NTKCost", "empirical_ntk", "ntk_cost"]

#: the implementation strategies of :func:`empirical_ntk` ("auto" chooses between them)
STRATEGIES = ("jacobian", "ntk_vp", "structured")

#: working memory (bytes) that the automatic chunk size aims at, besides the result itself
_MEMORY_BUDGET = 512 * 2**20

#: working memory (bytes) of the structured strategy's blocks and cached per-input factors
_STRUCTURED_BUDGET = 192 * 2**20

#: seconds per counted flop relative to the Jacobian contraction, measured with benchmarks/ntk.py
#: (MLPs 40-512-10 and 40-512-512-10, CPU): the vmapped forward-mode products of "ntk_vp" run as
#: many small batched products, 1.6 to 5 times slower per flop than the contraction's products.
_EFFICIENCY = {"jacobian": 1.0, "ntk_vp": 4.0, "structured": 1.0}

_STATEFUL_IN_TRAINING = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.dropout._DropoutNd,
)


@dataclass(frozen=True)
class NTKCost:
    """What :func:`ntk_cost` knows about one NTK computation (flops are estimates)."""

    num_outputs: int  # C
    num_params: int  # P, trainable parameters
    forward_flops: int  # F, matrix-product flops of one input's forward pass
    activations: int  # A, numbers output by the leaf modules in one input's forward pass
    flops: dict[str, float]  # estimated flops per strategy
    memory: dict[str, float]  # estimated working bytes per strategy at its chunk sizes
    chunk_size: dict[str, tuple[int, int]]  # (inputs of x1, inputs of x2) per block, per strategy
    choice: str  # the strategy "auto" picks
    fallback: tuple[str, ...] = ()  # modules whose parameters "structured" contracts by Jacobians
    structured_blocker: str | None = None  # why "structured" cannot run on this model, if so


def _check_model(model: nn.Module) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    offending = [
        f"{name or '<root>'} ({type(m).__name__})"
        for name, m in model.named_modules()
        if m.training
        and (
            isinstance(m, _STATEFUL_IN_TRAINING)
            or (isinstance(m, nn.modules.instancenorm._InstanceNorm) and m.track_running_stats)
        )
    ]
    if offending:
        raise ValueError(
            "model is in training mode and contains modules whose training-mode output depends "
            "on the other inputs of the batch or on randomness (batch norm, dropout): "
            + ", ".join(offending)
            + ". A per-sample Jacobian, and so the empirical NTK, is not defined for them; call "
            "model.eval() first to get the NTK of the evaluation-mode network."
        )


def _as_input(name: str, x: object, device: torch.device, dtype: torch.dtype) -> Tensor:
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError):
            raise ValueError(f"{name} must be a tensor or array, got {type(x).__name__}") from None
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(
            f"{name} must have a leading batch dimension with at least one input, "
            f"got shape {tuple(x.shape)}"
        )
    if x.is_complex():
        raise ValueError(f"{name} must be real, got dtype {x.dtype}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x.reshape(len(x), -1))).any(dim=1).nonzero()[0, 0])
        raise ValueError(
            f"{name} contains NaN or infinite values (first in input {bad}): the NTK of such an "
            "input is not defined"
        )
    x = x.detach().to(device)
    if x.is_floating_point():
        x = x.to(dtype)
    return x


def _parse_mode(mode: object, num_outputs: int) -> str | int:
    if isinstance(mode, str):
        return check_choice("mode", mode, ("full", "trace"))
    if isinstance(mode, numbers.Integral) and not isinstance(mode, bool):
        return check_int("mode", mode, low=0, high=num_outputs - 1)
    raise ValueError(
        f"mode must be 'full', 'trace' or an output index in [0, {num_outputs - 1}], got {mode!r}"
    )


class _Net:
    """The model as a pure function of (parameters, one input) -> (C,) outputs."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        self.model = model
        self.params = {
            k: p.detach().to(device) for k, p in model.named_parameters() if p.requires_grad
        }
        if not self.params:
            raise ValueError("model must have at least one parameter with requires_grad=True")
        self.buffers = {k: b.detach().to(device) for k, b in model.named_buffers()}
        dtypes = {p.dtype for p in self.params.values() if p.is_floating_point()}
        if len(dtypes) != 1:
            raise ValueError(
                f"model parameters must share one floating dtype, got {sorted(map(str, dtypes))}"
            )
        self.dtype = dtypes.pop()
        self.num_params = sum(p.numel() for p in self.params.values())

    def batch(self, params: dict[str, Tensor], x: Tensor) -> Tensor:
        """Outputs of a batch, flattened to (b, C)."""
        out = functional_call(self.model, (params, self.buffers), (x,))
        return out.reshape(x.shape[0], -1)

    def single(self, params: dict[str, Tensor], x: Tensor) -> Tensor:
        """Outputs of one input (no batch dimension), flattened to (C,)."""
        return self.batch(params, x.unsqueeze(0))[0]


def _probe(net: _Net, x: Tensor) -> tuple[int, int, int]:
    """(outputs C, matrix-product flops F, activations A) of one forward pass on ``x[:1]``."""
    from torch.utils.flop_counter import FlopCounterMode

    sizes: list[int] = []

    def count(module: nn.Module, args: object, out: object) -> None:
        if isinstance(out, Tensor):
            sizes.append(out.numel())

    hooks = [m.register_forward_hook(count) for m in net.model.modules() if not list(m.children())]
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            out = net.batch(net.params, x[:1])
    finally:
        for hook in hooks:
            hook.remove()
    return out.shape[1], int(counter.get_total_flops()), max(sum(sizes), out.shape[1])


def _auto_chunks(
    strategy: str, c_k: int, p: int, a: int, itemsize: int, n: int, m: int
) -> tuple[int, int]:
    """(rows of x1, rows of x2) per block that keep the working memory near the budget."""
    if strategy == "jacobian":  # the Jacobians of a block's rows and columns, c_k outputs each
        rows = _MEMORY_BUDGET // (2 * c_k * p * itemsize)
        return max(1, min(n, rows)), max(1, min(m, rows))
    # NTK-VP: square blocks of a rows and a columns hold a·c_k tangents of P numbers and the
    # vmapped forward-mode activations (primal, tangent, temporary: 3A per row, output, column):
    # a·c_k·P + 3·a²·c_k·A <= budget, solved for a.
    budget = _MEMORY_BUDGET / itemsize / c_k
    side = (-p + math.sqrt(p * p + 12 * a * budget)) / (6 * a)
    side = max(1, int(side))
    return max(1, min(n, side)), max(1, min(m, side))


def _structured_chunks(
    plan: structured.Plan, c_k: int, a: int, itemsize: int, n: int, m: int, symmetric: bool
) -> tuple[tuple[int, int], bool]:
    """(rows, cols) per block and whether every block's factors stay cached (computed once).

    Per input the factors hold ``plan.feature_numbers`` numbers, and computing them takes the
    activations and their c_k gradients (≈ (c_k + 3)·A); per input pair the contraction holds
    ``plan.pair_numbers`` temporaries. Square blocks of side s: 2·s·f + s²·q <= budget.
    """
    persist = plan.feature_numbers * itemsize
    f = persist + (c_k + 3) * a * itemsize
    q = plan.pair_numbers * itemsize
    budget = _STRUCTURED_BUDGET
    side = int((-2 * f + math.sqrt(4 * f * f + 4 * q * budget)) / (2 * q))
    side = max(1, side)
    cached = (n + (0 if symmetric else m)) * persist <= budget
    return (max(1, min(n, side)), max(1, min(m, side))), cached


def _structured_setup(
    net: _Net,
    x1: Tensor,
    mode: str | int,
    c_out: int,
    sizes: tuple[int, int, int, int, int],
    symmetric: bool,
    chunk_size: int | None,
) -> tuple[structured.Plan, tuple[int, int], bool, float]:
    """(plan, chunks, factors cached, estimated flops) of the structured strategy.

    In trace mode the outputs may go back in groups (Θ = Σ_groups Θ_g): the largest group whose
    factors of all inputs stay cached, else the group with the fewest estimated flops.
    Per input and group of c_g outputs: a forward and c_g backward passes (≈ F each; the
    fallback's per-sample Jacobians ≈ 3F per output) and the per-sample gradients; per pair
    ``plan.pair_flops``. Uncached factors of the column blocks are recomputed per row block.
    """
    n, m, f, activations, itemsize = sizes
    if mode == "trace":
        groups = sorted({math.ceil(c_out / k) for k in range(1, c_out + 1)}, reverse=True)
    else:
        groups = [c_out]
    best: tuple[structured.Plan, tuple[int, int], bool, float] | None = None
    for group in groups:
        plan = structured.make_plan(net, x1[:1], mode, c_out, group)
        c_g = len(plan.groups[0])
        chunks, cached = _structured_chunks(plan, c_g, activations, itemsize, n, m, symmetric)
        if chunk_size is not None:
            chunks = (min(n, chunk_size), min(m, chunk_size))
        if symmetric:
            chunks = (min(chunks),) * 2
        per_input = (1 + c_g) * f + plan.input_flops + (3 * c_g * f if plan.fallback else 0)
        blocks = _blocks(n, m, chunks, symmetric)
        inputs = (n if symmetric else n + m) if cached else blocks * sum(chunks)
        pairs = n * (m + 1) / 2 if symmetric else n * m
        flops = len(plan.groups) * (inputs * per_input + pairs * plan.pair_flops)
        flops *= _EFFICIENCY["structured"]
        if best is None or flops < best[3]:
            best = (plan, chunks, cached, flops)
        if cached:  # smaller groups would only repeat the forward passes and H products
            break
    assert best is not None
    return best


def _blocks(n: int, m: int, chunks: tuple[int, int], symmetric: bool) -> float:
    """Number of blocks evaluated (the upper triangle of blocks when symmetric)."""
    rows, cols = math.ceil(n / chunks[0]), math.ceil(m / chunks[1])
    return (rows * cols + min(rows, cols)) / 2 if symmetric else rows * cols


def _costs(
    n: int,
    m: int,
    symmetric: bool,
    mode: str | int,
    c_out: int,
    p: int,
    f: int,
    chunks: dict[str, tuple[int, int]],
) -> dict[str, float]:
    """Estimated flops per strategy (Novak et al. 2022, table 1, for a generic network)."""
    pairs = n * (m + 1) / 2 if symmetric else n * m
    f = max(f, 2 * p)  # a network reads every parameter at least once per input
    c_k = 1 if isinstance(mode, int) else c_out
    # Jacobian contraction: per block, C_jac reverse passes (≈ 3F each) for rows and columns, then
    # the products: C² P per pair in full mode, C P for the trace (output by output), P for one.
    c_jac = c_out if mode == "full" else 1
    passes = c_out if mode == "trace" else 1
    b_jac = _blocks(n, m, chunks["jacobian"], symmetric)
    jac = passes * b_jac * sum(chunks["jacobian"]) * c_jac * 3 * f
    contraction = 2 * pairs * (c_out * c_out if mode == "full" else c_k) * p
    # NTK-VP: a vjp per block row and output (≈ 3F), a jvp per pair and output (≈ 2F).
    b_vp = _blocks(n, m, chunks["ntk_vp"], symmetric)
    vp = b_vp * chunks["ntk_vp"][0] * c_k * 3 * f + pairs * c_k * 2 * f
    costs = {
        "jacobian": (jac + contraction) * _EFFICIENCY["jacobian"],
        "ntk_vp": vp * _EFFICIENCY["ntk_vp"],
    }
    return costs


def _prepare(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None,
    mode: str | int,
    chunk_size: int | None,
    device: str | torch.device | None,
    strategy: str,
) -> tuple[_Net, Tensor, Tensor, bool, str | int, structured.Plan, bool, NTKCost]:
    _check_model(model)
    check_choice("strategy", strategy, ("auto", *STRATEGIES))
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else "cpu"
    device = torch.device(device)
    net = _Net(model, device)
    symmetric = x2 is None or x2 is x1
    x1 = _as_input("x1", x1, device, net.dtype)
    if symmetric:
        x2 = x1
    else:
        x2 = _as_input("x2", x2, device, net.dtype)
        if x2.shape[1:] != x1.shape[1:]:
            raise ValueError(
                f"x2 must hold inputs of the same shape as x1's {tuple(x1.shape[1:])}, "
                f"got {tuple(x2.shape[1:])}"
            )
    try:
        c_out, flops, activations = _probe(net, x1)
    except RuntimeError as exc:
        raise ValueError(f"x1 cannot be fed to the model: {exc}") from exc
    mode = _parse_mode(mode, c_out)
    n, m = x1.shape[0], x2.shape[0]
    itemsize = torch.empty((), dtype=net.dtype).element_size()
    p = net.num_params
    c_jac = c_out if mode == "full" else 1  # outputs per Jacobian (the trace goes one by one)
    c_vp = 1 if isinstance(mode, int) else c_out  # cotangents per row of x1
    if chunk_size is not None:
        chunk_size = check_int("chunk_size", chunk_size, low=1)
    plan, st_chunks, cached, st_flops = _structured_setup(
        net, x1, mode, c_out, (n, m, flops, activations, itemsize), symmetric, chunk_size
    )
    if chunk_size is not None:
        chunks = dict.fromkeys(STRATEGIES, (min(n, chunk_size), min(m, chunk_size)))
    else:
        chunks = {
            "jacobian": _auto_chunks("jacobian", c_jac, p, activations, itemsize, n, m),
            "ntk_vp": _auto_chunks("ntk_vp", c_vp, p, activations, itemsize, n, m),
            "structured": st_chunks,
        }
    if symmetric:  # square blocks, so that the upper triangle of blocks covers the kernel
        chunks = {s: (min(c),) * 2 for s, c in chunks.items()}
    chunks["structured"] = st_chunks
    costs = _costs(n, m, symmetric, mode, c_out, p, flops, chunks)
    costs["structured"] = st_flops
    memory = {
        "jacobian": sum(chunks["jacobian"]) * c_jac * p * itemsize,
        "ntk_vp": chunks["ntk_vp"][0]
        * c_vp
        * (p + 3 * chunks["ntk_vp"][1] * activations)
        * itemsize,
        "structured": (
            (n + (0 if symmetric else m) if cached else sum(chunks["structured"]))
            * plan.feature_numbers
            + math.prod(chunks["structured"]) * plan.pair_numbers
        )
        * itemsize,
    }
    if plan.blocker is not None:
        if strategy == "structured":
            raise ValueError(
                f"strategy='structured' needs each input's outputs to depend on that input only: "
                f"{plan.blocker}; use strategy='jacobian' or 'ntk_vp'"
            )
        choice = min(("jacobian", "ntk_vp"), key=costs.__getitem__)
    elif not plan.fallback:  # every module with parameters has its structured formula
        choice = "structured"
    else:
        choice = min(STRATEGIES, key=costs.__getitem__)
    info = NTKCost(
        c_out,
        p,
        flops,
        activations,
        costs,
        memory,
        chunks,
        choice,
        tuple(plan.unsupported),
        plan.blocker,
    )
    return net, x1, x2, symmetric, mode, plan, cached, info


def ntk_cost(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    mode: str | int = "trace",
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
) -> NTKCost:
    """Estimated cost of :func:`empirical_ntk` per strategy, and the one ``"auto"`` picks.

    Arguments as in :func:`empirical_ntk`. Runs one forward pass on ``x1[:1]`` to count flops.
    """
    return _prepare(model, x1, x2, mode, chunk_size, device, "auto")[-1]


def _jacobian_fn(net: _Net, output: int | None) -> Callable[[Tensor], Tensor]:
    """x (b, ...) -> per-sample Jacobians (b, C, P), or (b, 1, P) for one ``output``."""
    if output is not None:

        def f(params: dict[str, Tensor], x: Tensor) -> Tensor:
            return net.single(params, x)[output : output + 1]

    else:
        f = net.single
    jac = vmap(jacrev(f), in_dims=(None, 0))

    def jacobians(x: Tensor) -> Tensor:
        blocks = jac(net.params, x)
        return torch.cat([b.reshape(b.shape[0], b.shape[1], -1) for b in blocks.values()], dim=2)

    return jacobians


def _contract(ja: Tensor, jb: Tensor, full: bool) -> Tensor:
    """Θ block (a, b, C, C) from Jacobians ja (a, C, P), jb (b, C, P); (a, b) for one output."""
    a, c, p = ja.shape
    b = jb.shape[0]
    if not full:
        return ja[:, 0] @ jb[:, 0].T
    theta = ja.reshape(a * c, p) @ jb.reshape(b * c, p).T
    return theta.reshape(a, c, b, c).permute(0, 2, 1, 3)


def _ntk_vp_fn(net: _Net, mode: str | int, c_out: int) -> Callable[[Tensor, Tensor], Tensor]:
    """(xa (a, ...), xb (b, ...)) -> Θ block by vector-Jacobian then Jacobian-vector products."""

    def block(xa: Tensor, xb: Tensor) -> Tensor:
        a, b = xa.shape[0], xb.shape[0]
        _, vjp_fn = vjp(lambda p: net.batch(p, xa), net.params)

        def column(cotangent: Tensor) -> Tensor:
            (tangent,) = vjp_fn(cotangent)
            return jvp(lambda p: net.batch(p, xb), (net.params,), (tangent,))[1]

        eye = torch.eye(a, dtype=net.dtype, device=xa.device)
        if isinstance(mode, int):  # cotangents e_(s, k): rows of J_k(xa)
            basis = torch.zeros(a, a, c_out, dtype=net.dtype, device=xa.device)
            basis[:, :, mode] = eye
            return vmap(column)(basis)[:, :, mode]  # (a, b)
        basis = torch.eye(a * c_out, dtype=net.dtype, device=xa.device)  # e_(s, i), row s*C + i
        theta = vmap(column)(basis.reshape(a * c_out, a, c_out))  # (a*C, b, C)
        theta = theta.reshape(a, c_out, b, c_out).permute(0, 2, 1, 3)
        if mode == "trace":
            return theta.diagonal(dim1=2, dim2=3).sum(-1)
        return theta

    return block


class _FactorCache:
    """Per-input factors of the structured strategy, computed once per block when they fit."""

    def __init__(
        self,
        plan: structured.Plan,
        net: _Net,
        x1: Tensor,
        x2: Tensor,
        symmetric: bool,
        keep_all: bool,
        outputs: range,
    ) -> None:
        self.plan, self.net, self.keep_all, self.outputs = plan, net, keep_all, outputs
        self.inputs = (x1, x1 if symmetric else x2)
        self.side = (0, 0 if symmetric else 1)  # the symmetric kernel shares one cache
        self.store: dict[tuple[int, int, int], structured.Features] = {}
        self.row = (-1, -1, -1)

    def get(self, which: int, start: int, size: int) -> structured.Features:
        key = (self.side[which], start, size)
        if key not in self.store:
            if not self.keep_all:  # keep only the current row block (rows are reused the most)
                self.store = {k: v for k, v in self.store.items() if which == 1 and k == self.row}
            x = self.inputs[which][start : start + size]
            self.store[key] = structured.features(self.plan, self.net, x, self.outputs)
        if which == 0:
            self.row = key
        return self.store[key]


def empirical_ntk(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    mode: str | int = "trace",
    chunk_size: int | None = None,
    device: str | torch.device | None = None,
    strategy: str = "auto",
) -> Tensor:
    """Empirical Neural Tangent Kernel Θ(x1, x2) = J(x1) J(x2)ᵀ of ``model`` at its parameters.

    Dong et al. section 2.3 (the Gram matrix H_t of the network's parameter gradients), Jacot et
    al. 2018; Borup & Andersen appendix C. The Jacobian is taken with respect to every parameter
    with ``requires_grad=True``; buffers (batch-norm running statistics) enter as constants.

    Parameters
    ----------
    model
        Any ``nn.Module`` mapping a batch (b, ...) to outputs (b, ...); the outputs of one input
        are flattened to C values. Not modified (its parameters are read, never moved).
    x1, x2
        Inputs with a leading batch dimension, (n, ...) and (m, ...). ``x2=None`` (or ``x2 is
        x1``) computes the symmetric kernel of x1 with itself, evaluating only the blocks on and
        above the diagonal. Floating inputs are cast to the parameters' dtype.
    mode
        ``"full"``: the (n, m, C, C) kernel (layout of neural-tangents), ``"trace"``: the (n, m)
        sum of the diagonal blocks Σ_c Θ_cc, an int ``k`` in [0, C): the (n, m) kernel of output k.
    chunk_size
        Inputs per block; memory grows with it linearly (about 2·chunk·C·P numbers of working
        memory for the contraction). ``None`` chooses it to keep the working memory near
        512 MiB (192 MiB for ``"structured"``, whose per-input factors stay cached besides when
        they fit in another 192 MiB).
    device
        Where to compute and return the kernel; default the device of the model's parameters.
    strategy
        ``"structured"`` (per-layer formula, see :mod:`selfdistill.ntk.structured`),
        ``"jacobian"`` (Jacobian contraction), ``"ntk_vp"`` (NTK-vector products) or ``"auto"``
        (``"structured"`` when every parametrised module is supported, else the cheapest by the
        cost model of :func:`ntk_cost`). All give the same kernel.

    Returns
    -------
    Tensor
        The kernel, in the dtype of the model's parameters (float64 models give float64
        kernels), on ``device``.

    Raises
    ------
    ValueError
        For a bad ``mode``, ``strategy`` or ``chunk_size``, inputs the model cannot take, a
        model in training mode with batch norm or dropout (see the module docstring), or
        ``strategy="structured"`` for a model whose batch norm uses batch statistics in
        evaluation mode (``track_running_stats=False``).
    """
    net, x1, x2, symmetric, mode, plan, cached, info = _prepare(
        model, x1, x2, mode, chunk_size, device, strategy
    )
    if strategy == "auto":
        strategy = info.choice
    n, m, c_out = x1.shape[0], x2.shape[0], info.num_outputs
    shape = (n, m, c_out, c_out) if mode == "full" else (n, m)
    theta = torch.empty(shape, dtype=net.dtype, device=x1.device)
    rows, cols = info.chunk_size[strategy]
    if strategy == "jacobian":
        # the trace output by output: C products of (a, P) and (P, b) Jacobians of one output,
        # which keeps blocks C times larger than whole (a, C, P) Jacobians in the same memory.
        outputs = range(c_out) if mode == "trace" else [None if mode == "full" else mode]
        jacobians = [_jacobian_fn(net, k) for k in outputs]
    elif strategy != "structured":
        vp_block = _ntk_vp_fn(net, mode, c_out)
    # structured: the groups of outputs one after the other (their kernels add up), so that only
    # one group's factors are held at a time; the other strategies take one pass
    for group, outputs in enumerate(plan.groups if strategy == "structured" else [None]):
        if strategy == "structured":
            factors = _FactorCache(plan, net, x1, x2, symmetric, cached, outputs)
        for i in range(0, n, rows):
            for j in range(0, m, cols):
                if symmetric and j < i:
                    continue
                if strategy == "jacobian":
                    blk = 0
                    for jac in jacobians:
                        ja = jac(x1[i : i + rows])
                        jb = ja if symmetric and j == i else jac(x2[j : j + cols])
                        blk = blk + _contract(ja, jb, mode == "full")
                elif strategy == "structured":
                    fa, fb = factors.get(0, i, rows), factors.get(1, j, cols)
                    blk = structured.contract(plan, fa, fb)
                    if group:
                        blk += theta[i : i + rows, j : j + cols]
                else:
                    blk = vp_block(x1[i : i + rows], x2[j : j + cols])
                _store(theta, blk, (i, j), (rows, cols), symmetric, mode == "full")
    return theta


def _store(
    theta: Tensor,
    blk: Tensor,
    at: tuple[int, int],
    size: tuple[int, int],
    symmetric: bool,
    full: bool,
) -> None:
    """Write a block at rows ``at[0]``, columns ``at[1]``, and its mirror for a symmetric kernel."""
    (i, j), (rows, cols) = at, size
    if symmetric:  # Θ(x', x) = Θ(x, x')ᵀ below the diagonal, exact symmetry
        blk_t = blk.transpose(0, 1)
        if full:
            blk_t = blk_t.transpose(2, 3)
        if j == i:
            blk = (blk + blk_t) / 2
        else:
            theta[j : j + cols, i : i + rows] = blk_t
    theta[i : i + rows, j : j + cols] = blk
