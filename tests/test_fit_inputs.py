"""fit checks its data against the model (issue 11, items 8-10): no torch internals leak out."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from selfdistill.nn import TrainConfig, build_model, fit  # noqa: E402

CONFIG = TrainConfig(epochs=1, batch_size=16, progress=False)


def data(dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    return torch.randn(32, 6, generator=gen, dtype=dtype), torch.randint(0, 4, (32,), generator=gen)


def test_float64_inputs_train_like_their_float32_cast() -> None:
    """Before issue 11: 'mat1 and mat2 must have the same dtype'. Now the inputs are cast."""
    x, y = data(torch.float64)
    a, b = build_model("mlp", (6,), 4, seed=0), build_model("mlp", (6,), 4, seed=0)
    fit(a, x, y, CONFIG, eval_sets={"val": (x, y)})
    fit(b, x.float(), y, CONFIG, eval_sets={"val": (x.float(), y)})
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [(4, r"\[0, 3\].*4 outputs.*\[0, 4\]"), (-5, r"\[0, 3\].*got values in \[-5,")],
)
def test_labels_outside_the_models_outputs(change: int, fragment: str) -> None:
    x, y = data()
    y = y.clone()
    y[3] = change
    with pytest.raises(ValueError, match=f"targets_train must hold class labels in {fragment}"):
        fit(build_model("mlp", (6,), 4, seed=0), x, y, CONFIG)


def test_eval_labels_checked_too() -> None:
    x, y = data()
    with pytest.raises(ValueError, match=r"eval_sets\['val'\] labels"):
        fit(build_model("mlp", (6,), 4, seed=0), x, y, CONFIG, eval_sets={"val": (x, y + 4)})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_inputs_are_blamed_not_the_learning_rate(value: float) -> None:
    x, y = data()
    x[7, 2] = value
    with pytest.raises(ValueError, match=r"x_train contains NaN or infinite values .*sample 7"):
        fit(build_model("mlp", (6,), 4, seed=0), x, y, CONFIG)
    x2, _ = data()
    x2[1, 0] = value
    with pytest.raises(ValueError, match=r"eval_sets\['test'\] inputs contains NaN"):
        fit(build_model("mlp", (6,), 4, seed=0), data()[0], y, CONFIG, eval_sets={"test": (x2, y)})


def test_checks_leave_training_mode_and_rng_untouched() -> None:
    """The probe forward pass runs in eval mode and draws no random numbers."""
    x, y = data()
    model = build_model("mlp", (6,), 4, seed=0)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    from selfdistill.nn.train import _fit_to_model

    model.train()
    _fit_to_model(model, x, y, y, {})
    assert model.training
    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("value", [float("nan"), float("-inf")])
@pytest.mark.parametrize("which", ["x1", "x2"])
def test_empirical_ntk_refuses_non_finite_inputs(value: float, which: str) -> None:
    """Issue 11 item 3: NaN inputs gave an all-NaN kernel without a word."""
    from selfdistill.ntk import empirical_ntk

    model = build_model("mlp", (6,), 4, seed=0).eval()
    x1, x2 = data()[0][:5], data()[0][5:9]
    bad = (x1 if which == "x1" else x2).clone()
    bad[2, 1] = value
    args = (bad, x2) if which == "x1" else (x1, bad)
    with pytest.raises(
        ValueError, match=rf"{which} contains NaN or infinite values \(first in input 2\)"
    ):
        empirical_ntk(model, *args)
    with pytest.raises(ValueError, match=f"{which} must be real"):
        empirical_ntk(model, *((x1 + 0j, x2) if which == "x1" else (x1, x2 + 0j)))
