"""Bad-input matrix for the torch public API (issue 11): ``selfdistill.nn``.

Each case gives one public function or class a corrupted version of ONE argument (NaN, inf,
complex, a string, empty, mismatched lengths, wrong dimensionality, a negative or zero size, a
huge size) with every other argument valid, and expects ``ValueError`` or ``TypeError`` whose
message names that argument — never a number, a warning, a torch/NumPy internal error or a
``MemoryError``. (The empirical NTK, ``selfdistill.ntk``, has its own checks.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from selfdistill.nn import TrainConfig, build_model, distill_step, fit, load_dataset  # noqa: E402
from selfdistill.nn.chains.run import ChainConfig, run_chains  # noqa: E402
from selfdistill.nn.data_splits import DataSplits  # noqa: E402
from selfdistill.nn.noisy.config import NoisyConfig  # noqa: E402
from selfdistill.nn.noisy.dong import SelfDistillationLoss, SelfDistillationTarget  # noqa: E402
from selfdistill.nn.noisy.rivals import BootstrapLoss, GCELoss  # noqa: E402
from selfdistill.nn.noisy.runner import corrupt_splits  # noqa: E402

NAN, INF = math.nan, math.inf
X = torch.randn(12, 4)
Y = torch.arange(12) % 3
DATA = DataSplits("toy", X, Y, X[:6], Y[:6], X[:6], Y[:6], num_classes=3, input_shape=(4,))
QUIET = {"progress": False}


def _model(seed: int = 0) -> Any:
    return build_model("mlp", (4,), 3, width=4, seed=seed)


def _fit(**kw: Any) -> Any:
    args = {"model": _model(), "x_train": X, "targets_train": Y, "config": TrainConfig(epochs=1)}
    args.update(kw)
    return fit(args.pop("model"), args.pop("x_train"), args.pop("targets_train"), **args)


def _distill(**kw: Any) -> Any:
    args = {"student": _model(1), "teacher": _model(0), "data": DATA,
            "config": TrainConfig(epochs=1, **QUIET)}  # fmt: skip
    args.update(kw)
    return distill_step(
        args.pop("student"), args.pop("teacher"), args.pop("data"), args.pop("config"), **args
    )


def _corrupt(**kw: Any) -> Any:
    args = {"data": DATA, "noise": 0.2, "kind": "symmetric", "seed": 0, **kw}
    return corrupt_splits(args["data"], args["noise"], args["kind"], args["seed"])


def _loss_call(loss: Callable[..., Any], **kw: Any) -> Any:
    args = {"logits": torch.randn(5, 3), "targets": torch.arange(5) % 3, **kw}
    return loss(args["logits"], args["targets"])


#: (case id, callable, the argument whose name the error must contain)
CASES: list[tuple[str, Callable[[], Any], str]] = []


def case(name: str, arg: str, fn: Callable[[], Any]) -> None:
    CASES.append((name, fn, arg))


# load_dataset
for bad in ("nope", 3, None):
    case(f"load_dataset-name-{bad}", "name", lambda b=bad: load_dataset(b))
for arg, bads in {
    "seed": (-1, 1.5, "0", NAN),
    "n_train": (0, -5, 1.5, "10", NAN),
    "n_val": (-1, 1.5),  # 0 is allowed: no validation split
    "n_test": (0, -1),
    "val_fraction": (NAN, INF, -0.1, 1.0, "0.1", 1j),
}.items():
    for bad in bads:
        case(
            f"load_dataset-{arg}-{bad!r}",
            arg,
            lambda a=arg, b=bad: load_dataset("digits", **{a: b}),
        )

# build_model
case("build_model-name", "model", lambda: build_model("nope", (4,), 3))
for bad in ((), (0,), (-1,), ("a",), (NAN,)):
    case(f"build_model-input_shape-{bad!r}", "input_shape", lambda b=bad: build_model("mlp", b, 3))
for bad in (1, 0, 2.5, "3", NAN):
    case(f"build_model-num_classes-{bad!r}", "num_classes",
         lambda b=bad: build_model("mlp", (4,), b))  # fmt: skip
for arg, bads in {"width": (0, -1, 2.5, NAN, 10**10), "depth": (-1, 1.5, 10**9),
                  "seed": (-1, 1.5, "1")}.items():  # fmt: skip
    for bad in bads:
        case(f"build_model-{arg}-{bad!r}", arg,
             lambda a=arg, b=bad: build_model("mlp", (4,), 3, **{a: b}))  # fmt: skip

# TrainConfig
for arg, bads in {
    "epochs": (0, -1, 2.5, NAN, "5", 10**10),
    "batch_size": (0, -3, 1.5),
    "lr": (0.0, -1.0, NAN, INF, 1j, "0.1"),
    "momentum": (1.0, -0.1, NAN),
    "weight_decay": (-1.0, NAN, INF),
    "optimizer": ("nope", 3),
    "schedule": ("nope",),
    "seed": (-1, 0.5),
    "eval_batch_size": (0,),
}.items():
    for bad in bads:
        case(f"TrainConfig-{arg}-{bad!r}", arg, lambda a=arg, b=bad: TrainConfig(**{a: b}))

# fit
bad_x = {
    "nan": X.clone().index_fill_(0, torch.tensor([1]), NAN),
    "inf": X.clone().index_fill_(0, torch.tensor([2]), INF),
    "complex": X.to(torch.complex64),
    "numpy": X.numpy(),
    "empty": X[:0],
    "short": X[:-1],
    "1-d": X[:, 0],
}
for label, bad in bad_x.items():
    case(f"fit-x_train-{label}", "x_train", lambda b=bad: _fit(x_train=b))
for label, bad in {
    "strings": ["a"] * 12,
    "2-d labels": Y[:, None],
    "negative": Y - 1,
    "outside": Y + 3,
    "nan soft": torch.full((12, 3), NAN),
    "short": Y[:-2],
}.items():
    case(f"fit-targets_train-{label}", "targets_train", lambda b=bad: _fit(targets_train=b))
case("fit-config", "config", lambda: _fit(config={"epochs": 1}))

# ChainConfig
for arg, bads in {
    "generations": (0, -1, 2.5, NAN, 10**11),
    "alpha": ("nope", NAN, INF, 1j, (0.1,), ("a", "b")),
    "grid": ((), (NAN,), ("a",)),
    "loss": ("nope",),
    "temperature": (0.0, -1.0, NAN),
    "width": (0, 10**10),
}.items():
    for bad in bads:
        case(f"ChainConfig-{arg}-{bad!r}", arg,
             lambda a=arg, b=bad: ChainConfig(generations=3, **{a: b}))  # fmt: skip
case("ChainConfig-model", "model", lambda: ChainConfig(model="nope"))
case("ChainConfig-train", "train", lambda: ChainConfig(train={"epochs": 1}))

# run_chains
for bad in ([], [0, 0], [-1], "0", [0.5], 3, [2**40]):
    case(f"run_chains-seeds-{bad!r}", "seeds",
         lambda b=bad: run_chains(DATA, ChainConfig(generations=1), b))  # fmt: skip
case("run_chains-config", "config", lambda: run_chains(DATA, {"generations": 1}, [0]))
case("run_chains-data", "data", lambda: run_chains(X, ChainConfig(generations=1), [0]))

# NoisyConfig
for arg, bads in {
    "data": ("nope",),
    "epochs": (0, NAN),
    "lr": (NAN, -1.0),
    "width": (0, 10**10),
    "noise_kind": ("nope",),
    "temperature": (0.0,),
    "sd_loss": ("nope",),
    "n_train": (0, -1),
}.items():
    for bad in bads:
        case(f"NoisyConfig-{arg}-{bad!r}", arg, lambda a=arg, b=bad: NoisyConfig(**{a: b}))
case("NoisyConfig-unknown", "nope", lambda: NoisyConfig(nope=1))

# the losses of the noisy-label methods
case("SelfDistillationTarget-label_function", "label_function",
     lambda: SelfDistillationTarget("nope"))  # fmt: skip
case("SelfDistillationTarget-schedule", "schedule",
     lambda: SelfDistillationTarget("hardmax", "nope"))  # fmt: skip
case("SelfDistillationTarget-temperature", "temperature",
     lambda: SelfDistillationTarget("softmax", temperature=0.0))  # fmt: skip
case("SelfDistillationTarget-lam", "lam",
     lambda: SelfDistillationTarget("hardmax", "accuracy", lam=NAN))  # fmt: skip
case("SelfDistillationLoss-loss", "loss", lambda: SelfDistillationLoss(None, "nope"))
for bad in (0.0, 1.5, NAN, "0.7", 1j):
    case(f"GCELoss-q-{bad!r}", "q", lambda b=bad: GCELoss(b))
case("BootstrapLoss-kind", "kind", lambda: BootstrapLoss("nope"))
for bad in (1.5, -0.1, NAN):
    case(f"BootstrapLoss-beta-{bad!r}", "beta", lambda b=bad: BootstrapLoss("soft", b))
for loss in (GCELoss(), BootstrapLoss("soft"), BootstrapLoss("hard")):
    name = type(loss).__name__
    case(f"{name}-targets-short", "targets",
         lambda f=loss: _loss_call(f, targets=torch.arange(4) % 3))  # fmt: skip
    case(f"{name}-logits-1-d", "logits", lambda f=loss: _loss_call(f, logits=torch.randn(5)))

# corrupt_splits
for arg, bads in {"noise": (1.5, -0.1, NAN, "0.2"), "kind": ("nope",), "seed": (-1, 0.5)}.items():
    for bad in bads:
        case(f"corrupt_splits-{arg}-{bad!r}", arg, lambda a=arg, b=bad: _corrupt(**{a: b}))

# distill_step
for arg, bads in {
    "alpha": (NAN, INF, "0.5", 1j),
    "loss": ("nope",),
    "temperature": (0.0, NAN),
}.items():
    for bad in bads:
        case(f"distill_step-{arg}-{bad!r}", arg, lambda a=arg, b=bad: _distill(**{a: b}))
case("distill_step-config", "config", lambda: _distill(config={"epochs": 1}))
case("distill_step-student", "student", lambda: _distill(student="mlp"))
case("distill_step-teacher", "teacher", lambda: _distill(teacher="mlp"))
case("distill_step-data", "data", lambda: _distill(data=X))


@pytest.mark.parametrize(("fn", "arg"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_argument_is_a_clear_error_naming_it(fn, arg):
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    message = str(info.value)
    assert arg in message, message
    assert "Traceback" not in message


def test_the_valid_calls_of_the_matrix_run():
    """The baseline of every case: with nothing corrupted, each call succeeds."""
    _fit(config=TrainConfig(epochs=1, **QUIET))
    _distill()
    assert len(_corrupt()) == 3
    for loss in (GCELoss(), BootstrapLoss("soft"), BootstrapLoss("hard")):
        assert torch.isfinite(_loss_call(loss))
    ChainConfig(generations=3)
    NoisyConfig()
