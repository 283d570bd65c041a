"""selfdistill.nn.models: shapes, seed-controlled initialisation, the ResNet-18 architecture."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from selfdistill.nn.models import MLP, MODELS, BasicBlock, ResNet18, build_model  # noqa: E402


def _params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("name", "shape", "width"),
    [
        ("mlp", (64,), None),
        ("mlp", (1, 28, 28), 16),
        ("cnn", (40,), None),
        ("cnn", (2, 40), 8),
        ("cnn", (1, 28, 28), 8),
        ("cnn", (3, 32, 32), 8),
        ("resnet18", (3, 32, 32), 4),
        ("resnet18", (1, 28, 28), 4),
    ],
)
def test_output_shape(name: str, shape: tuple[int, ...], width: int | None) -> None:
    model = build_model(name, shape, 7, width=width, seed=0)
    assert model.training
    out = model(torch.randn(3, *shape))
    assert out.shape == (3, 7)


def test_resnet18_is_the_standard_cifar_network() -> None:
    # 11,173,962 parameters: the published count of the CIFAR ResNet-18 (3x3 stem, no max-pool)
    # with 10 classes, e.g. kuangliu/pytorch-cifar.
    model = build_model("resnet18", (3, 32, 32), 10)
    assert _params(model) == 11_173_962
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 8
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(convs) == 17  # 1 stem + 16 in blocks: with the final linear layer, 18 layers
    assert isinstance(model, ResNet18)
    # spatial size 32 -> 4 after the three stride-2 stages
    feats = model.stages(model.stem(torch.randn(1, 3, 32, 32)))
    assert feats.shape == (1, 512, 4, 4)


def test_mlp_width_and_depth_give_the_expected_parameter_count() -> None:
    d, w, c = 64, 32, 10
    for depth in range(4):
        model = build_model("mlp", (d,), c, width=w, depth=depth)
        assert isinstance(model, MLP)
        if depth == 0:
            expected = (d + 1) * c
        else:
            expected = (d + 1) * w + (depth - 1) * (w + 1) * w + (w + 1) * c
        assert _params(model) == expected


def test_mlp_depth_zero_is_a_linear_model() -> None:
    model = build_model("mlp", (5,), 3, depth=0, seed=1)
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linear) == 1
    x = torch.randn(4, 5)
    torch.testing.assert_close(model(x), x @ linear[0].weight.T + linear[0].bias)


@pytest.mark.parametrize("name", MODELS)
def test_seed_controls_the_initialisation_without_touching_global_state(name: str) -> None:
    shape = (40,) if name != "resnet18" else (3, 8, 8)
    torch.manual_seed(999)
    before = torch.get_rng_state()
    a = build_model(name, shape, 4, width=4, seed=5)
    assert torch.equal(torch.get_rng_state(), before)
    b = build_model(name, shape, 4, width=4, seed=5)
    c = build_model(name, shape, 4, width=4, seed=6)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    weights = [k for k in sa if k.endswith("weight") and sa[k].dim() > 1]
    assert weights and all(not torch.equal(sa[k], sc[k]) for k in weights)


def test_without_seed_the_global_generator_is_used() -> None:
    torch.manual_seed(3)
    a = build_model("mlp", (4,), 2, width=3)
    torch.manual_seed(3)
    b = build_model("mlp", (4,), 2, width=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_user_factory() -> None:
    calls = []

    def factory(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
        calls.append((input_shape, num_classes))
        return nn.Sequential(nn.Flatten(), nn.Linear(input_shape[0], num_classes))

    a = build_model(factory, (6,), 3, seed=2)
    b = build_model(factory, (6,), 3, seed=2)
    assert calls == [((6,), 3), ((6,), 3)]
    assert torch.equal(a[1].weight, b[1].weight)
    with pytest.raises(ValueError, match=r"nn\.Module"):
        build_model(lambda s, c: "not a module", (6,), 3)


@pytest.mark.parametrize(
    ("args", "kwargs", "needle"),
    [
        (("vgg", (3, 32, 32), 10), {}, "model must be one of"),
        (("resnet18", (64,), 10), {}, "input_shape"),
        (("cnn", (1, 2, 3, 4), 10), {}, "input_shape"),
        (("mlp", (0,), 10), {}, "input_shape"),
        (("mlp", (4,), 1), {}, "num_classes"),
        (("mlp", (4,), 3), {"width": 0}, "width"),
        (("mlp", (4,), 3), {"seed": -2}, "seed"),
        (("cnn", (40,), 3), {"depth": 2}, "depth"),
    ],
)
def test_bad_arguments(args: tuple, kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        build_model(*args, **kwargs)
