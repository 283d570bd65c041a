"""Models: an MLP, a small 1-D / 2-D CNN, a CIFAR-style ResNet-18, or any user factory.

:func:`build_model` creates a network for a given input shape and number of classes. With a
``seed`` the initial weights depend on that seed only: the model is built inside
``torch.random.fork_rng`` after ``torch.manual_seed(seed)``, so the caller's global random state
is left untouched and two calls with the same seed give identical weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .._util.validation import MAX_DEPTH, MAX_WIDTH, check_int
from ..catalog import MODELS

__all__ = [
    "MLP",
    "MODELS",
    "BasicBlock",
    "CNN1d",
    "CNN2d",
    "ModelSpec",
    "ResNet18",
    "build_model",
]

ModelFactory = Callable[[tuple[int, ...], int], nn.Module]


class MLP(nn.Module):
    """Fully connected ReLU network on flattened inputs.

    Parameters
    ----------
    in_features, num_classes
        Input size (the product of the input shape) and number of output logits.
    width
        Units per hidden layer.
    depth
        Number of hidden layers (0 gives a linear model).
    """

    def __init__(self, in_features: int, num_classes: int, *, width: int = 256, depth: int = 2):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        last = in_features
        for _ in range(depth):
            layers += [nn.Linear(last, width), nn.ReLU()]
            last = width
        layers.append(nn.Linear(last, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class CNN1d(nn.Module):
    """Small 1-D CNN for sequences (MNIST-1D): three stride-2 convolutions, then a linear layer.

    This is the shape of the reference CNN of the MNIST-1D paper (Greydanus 2020): kernel 5,
    stride 2, padding 1, ReLU, with ``width`` channels per layer. Inputs are ``(B, L)`` or
    ``(B, C, L)``.
    """

    def __init__(self, in_channels: int, length: int, num_classes: int, *, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(in_channels, width, 5, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv1d(width, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            out = self.features(torch.zeros(1, in_channels, length)).shape[1]
        self.head = nn.Linear(out, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        return self.head(self.features(x))


class CNN2d(nn.Module):
    """Small 2-D CNN for images: three conv–BN–ReLU blocks (×2 pooling after the first two),
    global average pooling and a linear layer. Channels ``width``, ``2 width``, ``4 width``."""

    def __init__(self, in_channels: int, num_classes: int, *, width: int = 32):
        super().__init__()

        def block(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

        self.features = nn.Sequential(
            *block(in_channels, width),
            nn.MaxPool2d(2),
            *block(width, 2 * width),
            nn.MaxPool2d(2),
            *block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(4 * width, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class BasicBlock(nn.Module):
    """Residual block of ResNet-18/34 (He et al. 2016): two 3×3 conv–BN layers and a shortcut
    (a 1×1 conv–BN projection when the stride or the number of channels changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """CIFAR-style ResNet-18: a 3×3 stem without max-pooling, four stages of two
    :class:`BasicBlock` each (channels ``w, 2w, 4w, 8w``, strides 1, 2, 2, 2; ``w = 64`` is the
    standard network with 11.2 M parameters for 10 classes), global average pooling, linear."""

    def __init__(self, in_channels: int, num_classes: int, *, width: int = 64):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        stages: list[nn.Module] = []
        cin = width
        for i, stride in enumerate((1, 2, 2, 2)):
            cout = width * 2**i
            stages += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.pool(self.stages(self.stem(x))))


def _numel(shape: Sequence[int]) -> int:
    out = 1
    for s in shape:
        out *= int(s)
    return out


def _construct(
    name: str | ModelFactory,
    input_shape: tuple[int, ...],
    num_classes: int,
    width: int | None,
    depth: int | None,
) -> nn.Module:
    if callable(name):
        model = name(input_shape, num_classes)
        if not isinstance(model, nn.Module):
            raise ValueError(
                f"model factory must return a torch.nn.Module, got {type(model).__name__}"
            )
        return model
    if name == "mlp":
        return MLP(
            _numel(input_shape),
            num_classes,
            width=256 if width is None else width,
            depth=2 if depth is None else depth,
        )
    if depth is not None:
        raise ValueError(f"depth applies to the 'mlp' model only, got depth={depth} for {name!r}")
    if name == "cnn":
        if len(input_shape) == 1:
            return CNN1d(1, input_shape[0], num_classes, width=32 if width is None else width)
        if len(input_shape) == 2:
            return CNN1d(
                input_shape[0], input_shape[1], num_classes, width=32 if width is None else width
            )
        if len(input_shape) == 3:
            return CNN2d(input_shape[0], num_classes, width=32 if width is None else width)
    if name == "resnet18" and len(input_shape) == 3:
        return ResNet18(input_shape[0], num_classes, width=64 if width is None else width)
    allowed = "(L,), (C, L) or (C, H, W)" if name == "cnn" else "(C, H, W)"
    raise ValueError(f"input_shape for model {name!r} must be {allowed}, got {input_shape}")


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    if isinstance(input_shape, str) or not isinstance(input_shape, Sequence):
        raise TypeError(f"input_shape must be a tuple of sizes, got {input_shape!r}")
    return tuple(check_int("input_shape", s, low=1) for s in input_shape)


def build_model(
    name: str | ModelFactory,
    input_shape: tuple[int, ...],
    num_classes: int,
    *,
    width: int | None = None,
    seed: int | None = None,
    depth: int | None = None,
) -> nn.Module:
    """Build a classifier for inputs of ``input_shape`` with ``num_classes`` logits.

    Parameters
    ----------
    name
        ``"mlp"`` (:class:`MLP`, width 256, depth 2), ``"cnn"`` (:class:`CNN1d` for ``(L,)`` and
        ``(C, L)`` inputs, :class:`CNN2d` for ``(C, H, W)``; width 32), ``"resnet18"``
        (:class:`ResNet18`, width 64), or a callable ``factory(input_shape, num_classes)`` that
        returns an ``nn.Module``.
    input_shape
        Shape of one input, e.g. ``(64,)``, ``(40,)``, ``(1, 28, 28)``, ``(3, 32, 32)``.
    num_classes
        Number of output logits (at least 2).
    width
        Hidden units (MLP) or base channels (CNN, ResNet); ``None`` for the default.
    seed
        Seed of the initial weights; ``None`` draws them from the global torch generator.
    depth
        Hidden layers of the MLP (default 2).

    Returns
    -------
    torch.nn.Module
        On the CPU, in training mode.
    """
    if not callable(name) and name not in MODELS:
        raise ValueError(
            f"model must be one of {', '.join(map(repr, MODELS))} or a callable, got {name!r}"
        )
    input_shape = _check_shape(input_shape)
    if not input_shape or min(input_shape) < 1:
        raise ValueError(
            f"input_shape must be a non-empty tuple of positive sizes, got {input_shape}"
        )
    num_classes = check_int("num_classes", num_classes, low=2)
    if width is not None:
        width = check_int("width", width, low=1, high=MAX_WIDTH)
    if depth is not None:
        depth = check_int("depth", depth, low=0, high=MAX_DEPTH)
    if seed is None:
        return _construct(name, input_shape, num_classes, width, depth).train()
    seed = check_int("seed", seed, low=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _construct(name, input_shape, num_classes, width, depth)
    return model.train()


@dataclass(frozen=True)
class ModelSpec:
    """A network by name and size, built for any data set by :meth:`build`.

    Attributes
    ----------
    name
        One of :data:`MODELS` (checked on construction; ValueError names ``model``).
    width, depth
        As :func:`build_model` (``None``: the model's default).
    """

    name: str = "mlp"
    width: int | None = None
    depth: int | None = None

    def __post_init__(self) -> None:
        if self.name not in MODELS:
            raise ValueError(
                f"model must be one of {', '.join(map(repr, MODELS))}, got {self.name!r}"
            )
        if self.width is not None:
            check_int("width", self.width, low=1, high=MAX_WIDTH)
        if self.depth is not None:
            check_int("depth", self.depth, low=0, high=MAX_DEPTH)

    def build(self, input_shape: tuple[int, ...], num_classes: int, seed: int) -> nn.Module:
        """:func:`build_model` with this name and size, initial weights from ``seed``."""
        return build_model(
            self.name, input_shape, num_classes, width=self.width, depth=self.depth, seed=seed
        )
