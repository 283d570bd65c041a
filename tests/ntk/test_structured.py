"""strategy="structured" against the Jacobian contraction (float64, relative error <= 1e-10).

The reference is ``strategy="jacobian"`` (per-sample Jacobians by ``vmap(jacrev)``), itself checked
against explicit ``autograd.grad`` Jacobians in ``test_ntk.py``. Every model is compared in the
three modes, for the symmetric kernel and a cross kernel, with automatic and small blocks.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from selfdistill.nn.models import BasicBlock, build_model  # noqa: E402
from selfdistill.ntk import empirical_ntk, ntk_cost  # noqa: E402

RTOL = 1e-10


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """|actual - expected| <= 1e-10 · max|expected| entrywise (kernels mix scales)."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    scale = expected.abs().max().item()
    assert scale > 0
    err = (actual - expected).abs().max().item()
    assert err <= RTOL * scale, f"max error {err:.3g} against scale {scale:.3g}"


def _check(model: nn.Module, x1: torch.Tensor, x2: torch.Tensor, chunks=(None, 2)) -> None:
    c_out = model(x1[:1]).reshape(-1).shape[0]
    for mode in ("trace", "full", c_out - 1):
        for x_b in (None, x2):
            ref = empirical_ntk(model, x1, x_b, mode=mode, strategy="jacobian")
            for chunk in chunks:
                got = empirical_ntk(
                    model, x1, x_b, mode=mode, strategy="structured", chunk_size=chunk
                )
                _close(got, ref)


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _with_running_stats(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """Train-mode forward passes give the batch norms non-trivial running statistics."""
    with torch.no_grad():
        for bn in model.modules():
            if isinstance(bn, nn.modules.batchnorm._BatchNorm):
                bn.momentum = 0.5
                if bn.affine:
                    bn.weight.uniform_(0.5, 1.5)
                    bn.bias.uniform_(-0.5, 0.5)
        model.train()
        for _ in range(2):
            model(x * 2 + 0.3)
    return model.eval()


def test_mlp_any_depth() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 6), nn.ReLU(inplace=True), nn.Linear(6, 3)
    ).double()
    _check(model, _randn(7, 5), _randn(4, 5, seed=1), chunks=(None, 1, 3))
    linear = nn.Linear(5, 2).double()  # depth 0
    _check(linear, _randn(6, 5), _randn(3, 5, seed=1))


def test_linear_on_sequences_and_layer_norm() -> None:
    # nn.Linear on (b, T, d): T positions share the weight, Θ_W = Σ_{s,t} (h_s·h'_t)(g_s·g'_t)
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Linear(4, 6),
        nn.LayerNorm(6),
        nn.GELU(),
        nn.Linear(6, 5, bias=False),
        nn.LayerNorm([3, 5]),
        nn.Flatten(),
        nn.Linear(15, 2),
    ).double()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    _check(model, _randn(6, 3, 4), _randn(3, 3, 4, seed=1))


@pytest.mark.parametrize(
    "conv",
    [
        {"stride": 2, "padding": 1},
        {"dilation": 2, "padding": 2, "groups": 2},
        {"padding": "same", "dilation": 3},
        {"padding": 1, "padding_mode": "reflect", "bias": False},
        {"stride": 3, "groups": 4},
    ],
)
def test_conv1d(conv: dict) -> None:
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Conv1d(4, 8, 3, **conv),
        nn.ReLU(),
        nn.Conv1d(8, 4, 2, stride=2),
        nn.Tanh(),
        nn.Flatten(),
        nn.LazyLinear(3),
    ).double()
    x1, x2 = _randn(5, 4, 13), _randn(3, 4, 13, seed=1)
    model(x1)  # materialise the lazy layer
    _check(model, x1, x2)


@pytest.mark.parametrize(
    "conv",
    [
        {"stride": 2, "padding": 1},
        {"stride": (2, 1), "padding": (0, 2), "dilation": (1, 2), "groups": 2},
        {"padding": "same", "bias": False},
        {"kernel_size": 1, "groups": 4},
    ],
)
def test_conv2d(conv: dict) -> None:
    torch.manual_seed(3)
    kernel = conv.pop("kernel_size", 3)
    model = nn.Sequential(
        nn.Conv2d(4, 8, kernel, **conv),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 6, 2, groups=2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(6, 3),
    ).double()
    _check(model, _randn(5, 4, 10, 10), _randn(3, 4, 10, 10, seed=1))


def test_batch_norm_and_group_norm_in_eval_mode() -> None:
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.GroupNorm(2, 4),
        nn.Flatten(),
        nn.Linear(4 * 25, 6),
        nn.BatchNorm1d(6),
        nn.Tanh(),
        nn.Linear(6, 3),
    ).double()
    with torch.no_grad():
        model[3].weight.uniform_(0.5, 1.5)
        model[3].bias.uniform_(-0.5, 0.5)
    x1, x2 = _randn(6, 3, 5, 5), _randn(3, 3, 5, 5, seed=1)
    _check(_with_running_stats(model, x1), x1, x2)


def test_residual_basic_block() -> None:
    torch.manual_seed(5)
    model = nn.Sequential(
        BasicBlock(3, 4, stride=2),  # projection shortcut
        BasicBlock(4, 4),  # identity shortcut
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 3),
    ).double()
    x1, x2 = _randn(5, 3, 6, 6), _randn(3, 3, 6, 6, seed=1)
    _check(_with_running_stats(model, x1), x1, x2)


class _Scale(nn.Module):
    """A module with a raw parameter: not supported, falls back to per-sample Jacobians."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class _Tied(nn.Module):
    """The same weight in two Linear layers (falls back) and a Linear called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(5, 5)
        self.b = nn.Linear(5, 5)
        self.b.weight = self.a.weight
        self.twice = nn.Linear(5, 5)
        self.head = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.b(torch.tanh(self.a(x))))
        x = torch.tanh(self.twice(torch.tanh(self.twice(x))))
        return self.head(x)


def test_unsupported_modules_fall_back_for_their_own_parameters() -> None:
    torch.manual_seed(6)
    model = nn.Sequential(
        nn.Linear(5, 6), _Scale(6), nn.Tanh(), nn.Linear(6, 4), nn.RMSNorm(4), nn.Linear(4, 3)
    ).double()
    with torch.no_grad():
        model[4].weight.uniform_(0.5, 1.5)
    cost = ntk_cost(model, _randn(4, 5))
    assert cost.fallback == ("1 (_Scale)", "4 (RMSNorm)")
    assert cost.choice in ("structured", "jacobian", "ntk_vp")
    _check(model, _randn(6, 5), _randn(3, 5, seed=1))
    tied = _Tied().double()
    assert ntk_cost(tied, _randn(4, 5)).fallback == ("a (Linear)", "b (Linear)")
    _check(tied, _randn(6, 5), _randn(3, 5, seed=1))


def test_frozen_parameters_are_not_part_of_theta() -> None:
    torch.manual_seed(7)
    model = nn.Sequential(
        nn.Conv1d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(15, 4), nn.Tanh(), nn.Linear(4, 2)
    ).double()
    model[0].bias.requires_grad_(False)
    model[3].weight.requires_grad_(False)
    assert ntk_cost(model, _randn(3, 2, 7)).fallback == ()
    _check(model, _randn(5, 2, 7), _randn(3, 2, 7, seed=1))


@pytest.mark.parametrize(
    ("name", "shape", "kwargs"),
    [
        ("mlp", (12,), {"width": 16}),
        ("cnn", (20,), {"width": 4}),
        ("cnn", (2, 8, 8), {"width": 3}),
        ("resnet18", (3, 8, 8), {"width": 2}),
    ],
)
def test_package_models(name: str, shape: tuple, kwargs: dict) -> None:
    model = build_model(name, shape, 3, seed=0, **kwargs).double()
    x1, x2 = _randn(5, *shape), _randn(2, *shape, seed=1)
    model = _with_running_stats(model, x1)
    cost = ntk_cost(model, x1)
    assert cost.choice == "structured" and cost.fallback == ()
    for mode in ("trace", "full", 2):
        for x_b in (None, x2):
            ref = empirical_ntk(model, x1, x_b, mode=mode, strategy="jacobian")
            _close(empirical_ntk(model, x1, x_b, mode=mode), ref)


def test_structured_refuses_batch_statistics_in_eval_mode() -> None:
    # per input (jacobian, ntk_vp) the statistics are those of the input's own pixels; in a batch
    # they would mix the inputs, which the structured strategy's batched passes cannot undo
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3),
        nn.BatchNorm2d(3, track_running_stats=False),
        nn.Flatten(),
        nn.Linear(27, 2),
    ).double()
    model.eval()
    x = _randn(6, 2, 5, 5)
    with pytest.raises(ValueError, match=r"strategy='structured'.*1 \(BatchNorm2d\).*batch stat"):
        empirical_ntk(model, x, strategy="structured")
    cost = ntk_cost(model, x)
    assert cost.choice in ("jacobian", "ntk_vp") and cost.structured_blocker is not None


def test_float32_and_symmetry() -> None:
    model = build_model("mlp", (6,), 4, width=32, seed=1)
    x = _randn(9, 6)
    theta = empirical_ntk(model, x, mode="full", strategy="structured", chunk_size=4)
    assert theta.dtype == torch.float32
    assert torch.equal(theta, theta.permute(1, 0, 3, 2))
    ref = empirical_ntk(model.double(), x, mode="full", strategy="jacobian")
    torch.testing.assert_close(theta.double(), ref, rtol=1e-5, atol=1e-5 * ref.abs().max())


def test_unused_module_and_loop_of_backward_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    # a parametrised module the forward never calls contributes zero, as in the Jacobian
    torch.manual_seed(8)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    model.unused = nn.Linear(2, 2).double()
    model.forward = lambda x: model[2](model[1](model[0](x)))  # type: ignore[method-assign]
    _check(model, _randn(5, 4), _randn(2, 4, seed=1))
    # without a batching rule the gradients are taken output by output, with the same result
    grad = torch.autograd.grad

    def no_batched_grad(*args: object, **kwargs: object) -> object:
        if kwargs.get("is_grads_batched"):
            raise RuntimeError("no batching rule")
        return grad(*args, **kwargs)

    x = _randn(5, 4)
    ref = empirical_ntk(model, x, mode="full", strategy="structured")
    monkeypatch.setattr(torch.autograd, "grad", no_batched_grad)
    _close(empirical_ntk(model, x, mode="full", strategy="structured"), ref)
    _close(empirical_ntk(model, x, mode=1, strategy="structured"), ref[:, :, 1, 1].contiguous())


@settings(max_examples=10, deadline=None)
@given(
    dims=st.sampled_from([1, 2]),
    kernel=st.integers(1, 3),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 2),
    groups=st.sampled_from([1, 2]),
    bias=st.booleans(),
    outputs=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_any_convolution_matches_the_jacobian(
    dims: int,
    kernel: int,
    stride: int,
    padding: int,
    dilation: int,
    groups: int,
    bias: bool,
    outputs: int,
    seed: int,
) -> None:
    # Θ = Σ_layers Θ_layer is an identity for every convolution geometry, not a fit to examples
    torch.manual_seed(seed)
    conv = (nn.Conv1d, nn.Conv2d)[dims - 1]
    model = nn.Sequential(
        conv(
            2,
            4,
            kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        ),
        nn.Tanh(),
        nn.Flatten(),
        nn.LazyLinear(outputs),
    ).double()
    shape = (2, 7) if dims == 1 else (2, 6, 5)
    x1 = _randn(4, *shape, seed=seed)
    model(x1)
    x2 = _randn(3, *shape, seed=seed + 1)
    for mode in ("trace", "full"):
        ref = empirical_ntk(model, x1, x2, mode=mode, strategy="jacobian")
        _close(empirical_ntk(model, x1, x2, mode=mode, strategy="structured"), ref)
