"""The empirical NTK layer by layer: structured derivatives (Novak et al. 2022, section 4).

For a layer y = W h + b applied at S positions s (S = 1 for a dense layer, the output positions of
a convolution after im2col), the derivative of output c of input i is ∂f_c(x_i)/∂W = Σ_s g_cis h_isᵀ
with h_is the layer's input at position s and g_cis = ∂f_c(x_i)/∂y_is. Hence the layer's share of
Θ = J Jᵀ, without forming J:

    Θ_W(x_i, x_j)_ce = Σ_{s,t} (h_is · h_jt) (g_cis · g_ejt),    Θ_b(x_i, x_j)_ce = ḡ_ci · ḡ_ej,

ḡ_ci = Σ_s g_cis, and Θ is the sum over layers (the parameters of different layers are different
coordinates of θ). For S = 1 this is (H Hᵀ) ⊙ (G_c G_eᵀ), 2·(d_in + C·d_out) flops per input pair
in ``"trace"`` mode instead of 2·C·d_in·d_out for the Jacobian contraction. When S² is large the
per-sample gradient Σ_s g_cis h_isᵀ is formed instead (still without ``vmap(jacrev)``) and
contracted by one matrix product. The affine parameters of a normalisation layer y = γ ⊙ ẑ + β
contribute the per-sample gradients Σ g ⊙ ẑ and Σ g (summed over the positions sharing γ).

H comes from forward hooks (the layers' inputs), G from one backward pass per output through the
batch (each output's gradient with respect to the layers' outputs), which is exact because every
input's outputs depend on that input only (batch norm in evaluation mode; training-mode batch norm
and dropout are refused before). Modules that own parameters of another kind fall back, for their
own parameters only, to per-sample Jacobians by ``vmap(jacrev)``, so mixed models stay exact.

Assumption: the parameters of a supported module are used only by that module's ``forward``
(not read directly by a parent's code); parameters shared by several modules fall back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import jacrev, vmap

__all__ = ["Features", "Plan", "contract", "features", "make_plan"]

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)


@dataclass
class _Layer:
    """A supported module: its trainable own parameters and how each part is contracted."""

    module: nn.Module
    name: str
    train_weight: bool
    train_bias: bool
    positions: int = 0  # S, summed over the calls in one forward pass
    d_in: int = 0  # per group (im2col rows for convolutions)
    d_out: int = 0  # per group
    groups: int = 1
    pairs: bool = False  # weight by the position-pair formula (else per-sample gradients)
    jac_params: int = 0  # parameters contracted as per-sample gradients


@dataclass
class Plan:
    """What :func:`make_plan` decided for a model, a mode and an input shape."""

    layers: list[_Layer]
    fallback: list[str]  # parameter names contracted by per-sample Jacobians (vmap(jacrev))
    unsupported: list[str]  # "name (Type)" of the modules that fall back
    groups: list[range]  # outputs whose cotangents go back together (trace: summed over groups)
    full: bool
    blocker: str | None  # why the structured strategy cannot run on this model at all
    feature_numbers: int = 0  # numbers held per input (H, G, per-sample gradients)
    pair_numbers: int = 0  # temporaries per input pair
    input_flops: float = 0.0  # flops per input to compute its features
    pair_flops: float = 0.0  # flops per input pair of the contraction
    fallback_params: int = 0


def _own(module: nn.Module) -> dict[str, nn.Parameter]:
    return {k: p for k, p in module.named_parameters(recurse=False) if p.requires_grad}


def _kind(module: nn.Module) -> str | None:
    """'linear', 'conv', 'norm' or None (falls back) for a module that owns parameters."""
    names = {k for k, _ in module.named_parameters(recurse=False)}
    if not names <= {"weight", "bias"}:
        return None
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        return "conv"
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        uses_running = not module.training and module.running_mean is not None
        return "norm" if uses_running and module.running_var is not None else None
    if isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
        return "norm"
    return None


def _unfold(module: nn.Module, x: Tensor) -> Tensor:
    """im2col of a Conv1d/Conv2d input: (b, L, C_in·K) rows, channel-major as the weight.

    Strided windows (``Tensor.unfold``, a view) copied once; ``F.unfold`` is slower on the CPU.
    """
    mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
    x = F.pad(x, module._reversed_padding_repeated_twice, mode=mode)
    spatial = len(module.kernel_size)
    for axis in range(spatial):
        k, d, st = module.kernel_size[axis], module.dilation[axis], module.stride[axis]
        x = x.unfold(2 + axis, (k - 1) * d + 1, st)  # appends the window dimension
        if d > 1:
            x = x[..., ::d]
    # x: (b, C, L_1, ..., L_s, k_1, ..., k_s) -> (b, L_1·...·L_s, C·k_1·...·k_s)
    b, c = x.shape[:2]
    positions = list(range(2, 2 + spatial))
    kernel = list(range(2 + spatial, 2 + 2 * spatial))
    return x.permute(0, *positions, 1, *kernel).reshape(b, -1, c * math.prod(module.kernel_size))


def _batch_coupled(model: nn.Module) -> str | None:
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and not m.training:
            if m.running_mean is None or m.running_var is None:
                return (
                    f"{name or '<root>'} ({type(m).__name__}) normalises with batch statistics "
                    "in evaluation mode (track_running_stats=False)"
                )
    return None


def make_plan(
    net: object, x_one: Tensor, mode: str | int, c_out: int, group: int | None = None
) -> Plan:
    """Sort the model's parameters into layers and fallback; size them on one input ``x_one``.

    ``net`` is the ``_Net`` of :mod:`.empirical` (``model``, ``params``, ``batch``). In trace
    mode the outputs go back in groups of ``group`` (default all C at once): Θ = Σ_groups Θ_g,
    and only one group's factors are held at a time.
    """
    model: nn.Module = net.model
    if isinstance(mode, int):
        groups = [range(mode, mode + 1)]
    elif mode == "full" or group is None:
        groups = [range(c_out)]
    else:
        groups = [range(i, min(c_out, i + group)) for i in range(0, c_out, group)]
    c_k = len(groups[0])
    full = mode == "full"
    blocker = _batch_coupled(model)
    owners: dict[int, int] = {}
    for m in model.modules():
        for p in m._parameters.values():
            if p is not None:
                owners[id(p)] = owners.get(id(p), 0) + 1
    candidates: dict[nn.Module, _Layer] = {}
    for name, m in model.named_modules():
        own = _own(m)
        if not own or _kind(m) is None or any(owners[id(p)] > 1 for p in own.values()):
            continue
        candidates[m] = _Layer(m, name, "weight" in own, "bias" in own)
    shapes: dict[nn.Module, list[tuple[tuple[int, ...], tuple[int, ...]] | None]] = {
        m: [] for m in candidates
    }

    def record(module: nn.Module, args: tuple, out: object) -> None:
        ok = bool(args) and isinstance(args[0], Tensor) and isinstance(out, Tensor)
        if ok and _kind(module) == "conv":
            ok = args[0].ndim == (3 if isinstance(module, nn.Conv1d) else 4)
        if ok and args[0].ndim >= 1 and args[0].shape[0] != 1:
            ok = False  # the batch dimension must come first
        shapes[module].append((tuple(args[0].shape), tuple(out.shape)) if ok else None)

    hooks = [m.register_forward_hook(record) for m in candidates]
    try:
        with torch.no_grad():
            net.batch(net.params, x_one)
    finally:
        for hook in hooks:
            hook.remove()
    layers = []
    for m, layer in candidates.items():
        calls = shapes[m]
        if any(c is None for c in calls):
            continue
        kind = _kind(m)
        if kind == "linear":
            layer.positions = sum(math.prod(i[1:-1]) for i, _ in calls)
            layer.d_in, layer.d_out = m.in_features, m.out_features
        elif kind == "conv":
            layer.groups = m.groups
            layer.positions = sum(math.prod(o[2:]) for _, o in calls)
            layer.d_in = m.in_channels // m.groups * math.prod(m.kernel_size)
            layer.d_out = m.out_channels // m.groups
        else:  # normalisation: the calls (positions are summed into the per-sample gradient)
            layer.positions = len(calls)
        layers.append(layer)
    supported = {layer.module for layer in layers}
    prefix = {layer.name: layer for layer in layers}
    fallback = []
    for pname in net.params:
        owner, _, local = pname.rpartition(".")
        layer = prefix.get(owner)
        if layer is None or local not in ("weight", "bias"):
            fallback.append(pname)
    unsupported = sorted(
        {
            f"{name or '<root>'} ({type(m).__name__})"
            for name, m in model.named_modules()
            if _own(m) and m not in supported
        }
    )
    plan = Plan(layers, fallback, unsupported, groups, full, blocker)
    _size(plan, net, c_k)
    return plan


def _size(plan: Plan, net: object, c_k: int) -> None:
    """Choose per layer between the pair formula and per-sample gradients; count numbers, flops."""
    c_pair = c_k * c_k if plan.full else c_k
    feats = pair_numbers = 0
    input_flops = pair_flops = 0.0
    for layer in plan.layers:
        m, s = layer.module, layer.positions
        if s == 0:  # never called: no contribution
            continue
        jac = 0
        if _kind(m) == "norm":
            jac = sum(p.numel() for p in _own(m).values())
            input_flops += 4 * c_k * jac * max(1, s)
        else:
            if layer.train_bias:
                jac += layer.d_out * layer.groups
            if layer.train_weight:
                w = layer.d_in * layer.d_out
                pair_cost = s * s * (layer.d_in + c_pair * layer.d_out + 1)
                layer.pairs = (s == 1 or not plan.full) and pair_cost < c_pair * w
                if layer.pairs:
                    feats += layer.groups * s * (layer.d_in + c_k * layer.d_out)
                    pair_numbers = max(pair_numbers, 3 * s * s * (c_pair if plan.full else 1))
                    pair_flops += 2 * layer.groups * pair_cost
                else:
                    jac += layer.groups * w
                    input_flops += 2 * c_k * s * layer.groups * w
        layer.jac_params = jac
        feats += c_k * jac
        pair_flops += 2 * c_pair * jac
    plan.fallback_params = sum(net.params[k].numel() for k in plan.fallback)
    feats += c_k * plan.fallback_params
    pair_flops += 2 * c_pair * plan.fallback_params
    plan.feature_numbers = feats
    plan.pair_numbers = pair_numbers + c_pair
    plan.input_flops = input_flops
    plan.pair_flops = pair_flops


@dataclass
class Features:
    """Per-input factors of one block of b inputs for :func:`contract` (c_k outputs first)."""

    size: int
    c_k: int
    dtype: torch.dtype
    device: torch.device
    # (H, G, S): H (b·S, d_in); G (b·S, c_k·d_out) for a trace or one output, (c_k·b, d_out)
    # in full mode (S = 1)
    pairs: list[tuple[Tensor, Tensor, int]] = field(default_factory=list)
    # per-sample gradients of every other parameter: (b, c_k·P) for a trace or one output,
    # (c_k·b, P) in full mode; one matrix product contracts them
    jac: Tensor | None = None


def _cat(parts: list[Tensor], dim: int) -> Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=dim)


def _output_gradients(out: Tensor, captured: list[Tensor], outputs: range) -> tuple[Tensor, ...]:
    """(c_k, b, ...) gradients of each output's sum over the batch w.r.t. each captured tensor.

    One batched backward pass over the c_k one-hot cotangents (``is_grads_batched``); a loop of
    c_k passes where an operation of the model has no batching rule.
    """
    c_k, b = len(outputs), out.shape[0]
    basis = torch.zeros(c_k, b, out.shape[1], dtype=out.dtype, device=out.device)
    basis[torch.arange(c_k), :, torch.tensor(list(outputs))] = 1
    kwargs = {"allow_unused": True, "materialize_grads": True}
    try:
        return torch.autograd.grad(
            out, captured, basis, retain_graph=True, is_grads_batched=True, **kwargs
        )
    except RuntimeError:
        per_output = [
            torch.autograd.grad(out, captured, basis[i], retain_graph=True, **kwargs)
            for i in range(c_k)
        ]
        return tuple(torch.stack(gs) for gs in zip(*per_output, strict=True))


def features(plan: Plan, net: object, x: Tensor, outputs: range) -> Features:
    """H, G and per-sample gradients of a block of inputs ``x`` (b, ...) for some ``outputs``."""
    b = x.shape[0]
    c_k = len(outputs)
    active = [layer for layer in plan.layers if layer.positions]
    trainable = {
        f"{layer.name}.{part}" if layer.name else part
        for layer in active
        for part, on in (("weight", layer.train_weight), ("bias", layer.train_bias))
        if on
    }
    params = {
        k: v.detach().requires_grad_(True) if k in trainable else v for k, v in net.params.items()
    }
    calls: dict[nn.Module, list[tuple[Tensor, Tensor]]] = {layer.module: [] for layer in active}

    def capture(module: nn.Module, args: tuple, out: Tensor) -> Tensor:
        calls[module].append((args[0].detach(), out))
        return out.clone()  # later in-place operations must not change the captured output

    hooks = [layer.module.register_forward_hook(capture) for layer in active]
    try:
        with torch.enable_grad():
            out = net.batch(params, x)
    finally:
        for hook in hooks:
            hook.remove()
    captured = [y for layer in active for _, y in calls[layer.module]]
    grads = _output_gradients(out, captured, outputs) if captured else ()
    del out, captured
    feats = Features(b, c_k, net.dtype, x.device)
    jac_parts: list[Tensor] = []
    k = 0
    for layer in active:
        m = layer.module
        n_calls = len(calls[m])
        per_call = [g.detach() for g in grads[k : k + n_calls]]  # (c_k, b, ...) each
        k += n_calls
        inputs = [h for h, _ in calls[m]]
        kind = _kind(m)
        if kind == "norm":
            jac_parts += _norm_gradients(layer, inputs, per_call)
            continue
        if kind == "linear":
            h = _cat([i.reshape(b, -1, layer.d_in) for i in inputs], dim=1)
            g = _cat([gc.reshape(c_k, b, -1, layer.d_out) for gc in per_call], dim=2)
        else:
            h = _cat([_unfold(m, i) for i in inputs], dim=1)  # (b, S, C_in·K)
            g = _cat([gc.flatten(3).transpose(2, 3) for gc in per_call], dim=2)
        # h (b, S, groups·d_in), g (c_k, b, S, groups·d_out)
        if layer.train_bias:
            jac_parts.append(g[:, :, 0] if g.shape[2] == 1 else g.sum(2))
        if layer.train_weight:
            for grp in range(layer.groups):
                hg = h[..., grp * layer.d_in : (grp + 1) * layer.d_in]
                gg = g[..., grp * layer.d_out : (grp + 1) * layer.d_out]
                if layer.pairs:
                    s = layer.positions
                    hg = hg.reshape(b * s, -1)
                    if plan.full:
                        gg = gg.reshape(c_k * b, -1)
                    else:  # Σ_c g_cis · g_cjt as one product: outputs next to features
                        gg = gg.permute(1, 2, 0, 3).reshape(b * s, -1)
                    feats.pairs.append((hg, gg, s))
                else:  # per-sample gradient Σ_s g_cs h_sᵀ
                    jac_parts.append(torch.einsum("cbso,bsi->cboi", gg, hg).flatten(2))
    if plan.fallback:
        jac_parts.append(_fallback_jacobians(plan, net, x, outputs))
    if jac_parts:
        if plan.full:
            feats.jac = _cat(jac_parts, dim=2).reshape(c_k * b, -1)
        else:
            feats.jac = _cat([j.transpose(0, 1) for j in jac_parts], dim=2).reshape(b, -1)
    return feats


def _norm_gradients(layer: _Layer, inputs: list[Tensor], grads: list[Tensor]) -> list[Tensor]:
    """Per-sample gradients of γ (Σ g ⊙ ẑ) and β (Σ g) of a normalisation layer, (c_k, b, ·)."""
    m = layer.module
    parts: list[Tensor] = []
    gamma = beta = 0
    for x, g in zip(inputs, grads, strict=True):
        c_k, b = g.shape[:2]
        if isinstance(m, nn.LayerNorm):
            shape = tuple(m.normalized_shape)
            z = F.layer_norm(x, shape, None, None, m.eps)
            width = math.prod(shape)
            gz = (g * z).reshape(c_k, b, -1, width).sum(2)
            gb = g.reshape(c_k, b, -1, width).sum(2)
        else:
            if isinstance(m, nn.GroupNorm):
                z = F.group_norm(x, m.num_groups, None, None, m.eps)
            else:
                z = F.batch_norm(x, m.running_mean, m.running_var, None, None, False, 0.0, m.eps)
            channels = x.shape[1]
            gz = (g * z).reshape(c_k, b, channels, -1).sum(3)
            gb = g.reshape(c_k, b, channels, -1).sum(3)
        gamma, beta = gamma + gz, beta + gb
    if layer.train_weight:
        parts.append(gamma)
    if layer.train_bias:
        parts.append(beta)
    return parts


def _fallback_jacobians(plan: Plan, net: object, x: Tensor, outputs: range) -> Tensor:
    """(c_k, b, P_fallback) per-sample Jacobians of the fallback parameters by vmap(jacrev)."""
    fixed = {k: v for k, v in net.params.items() if k not in plan.fallback}
    sub = {k: net.params[k] for k in plan.fallback}

    def f(p: dict[str, Tensor], xi: Tensor) -> Tensor:
        return net.single({**fixed, **p}, xi)[outputs.start : outputs.stop]

    blocks = vmap(jacrev(f), in_dims=(None, 0))(sub, x)
    jac = torch.cat([v.reshape(v.shape[0], v.shape[1], -1) for v in blocks.values()], dim=2)
    return jac.transpose(0, 1)


def contract(plan: Plan, fa: Features, fb: Features) -> Tensor:
    """Θ block between two blocks: (a, b, C, C) in full mode, else (a, b) (trace or one output).

    One matrix product per factor (for all outputs, or all output pairs, at once).
    """
    a, b = fa.size, fb.size
    c_k = fa.c_k
    if plan.full:
        theta = torch.zeros(c_k, a, c_k, b, dtype=fa.dtype, device=fa.device)
        for (ha, ga, _), (hb, gb, _) in zip(fa.pairs, fb.pairs, strict=True):  # S = 1
            hh = ha @ hb.T  # (H Hᵀ)_ij (G_c G_eᵀ)_ij
            theta += (ga @ gb.T).reshape(c_k, a, c_k, b).mul_(hh.reshape(1, a, 1, b))
        if fa.jac is not None:
            theta.view(c_k * a, c_k * b).addmm_(fa.jac, fb.jac.T)
        return theta.permute(1, 3, 0, 2)
    theta = torch.zeros(a, b, dtype=fa.dtype, device=fa.device)
    for (ha, ga, s), (hb, gb, _) in zip(fa.pairs, fb.pairs, strict=True):
        hh = (ha @ hb.T).mul_(ga @ gb.T)  # (h_is · h_jt) Σ_c (g_cis · g_cjt)
        theta += hh.reshape(a, s, b, s).sum((1, 3)) if s > 1 else hh
    if fa.jac is not None:
        theta.addmm_(fa.jac, fb.jac.T)
    return theta
