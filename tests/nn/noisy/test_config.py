"""NoisyConfig (issue 21): one name per setting on the built config, the flat keywords of the
command line still accepted when building it, and the optimiser's own learning rate."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from selfdistill.nn.data_splits import DataSpec
from selfdistill.nn.noisy.config import (
    FLAT_KEYS,
    NoisyConfig,
    config_dict,
    flat_value,
)
from selfdistill.nn.training.loop import TrainConfig


def test_each_setting_has_one_name_on_the_built_config() -> None:
    config = NoisyConfig(data="digits", n_train=300, lr=0.02, lam=1.5, width=32)
    assert config.budget.lr == 0.02 and config.hyper.lam == 1.5 and config.network.width == 32
    assert config.dataset == DataSpec(name="digits", n_train=300)
    for flat in ("lr", "data", "lam", "width", "epochs"):
        with pytest.raises(AttributeError, match=flat):
            getattr(config, flat)


def test_flat_keywords_set_their_parts_field_and_read_back_by_name() -> None:
    values = {
        "data": "digits", "n_train": 300, "width": 32, "depth": 1, "epochs": 3,
        "optimizer": "adam", "lr": 0.01, "lam": 1.0, "margin_lam": 2.0, "cl_folds": 4,
    }  # fmt: skip
    config = NoisyConfig(**values)
    for key, value in values.items():
        part, field = FLAT_KEYS[key]
        assert getattr(getattr(config, part), field) == value == flat_value(config, key)
    flat = config_dict(config)
    assert all(flat[key] == value for key, value in values.items())
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*lrate"):
        NoisyConfig(lrate=0.1)


@pytest.mark.parametrize(("optimizer", "lr"), [("sgd", 0.05), ("adam", 1e-3), ("adamw", 1e-3)])
def test_an_optimiser_without_lr_trains_at_its_own(optimizer: str, lr: float) -> None:
    assert NoisyConfig(optimizer=optimizer).budget.lr == lr
    assert TrainConfig(optimizer=optimizer).lr == lr
    assert NoisyConfig(optimizer=optimizer, lr=0.3).budget.lr == 0.3
    given = TrainConfig(epochs=2, lr=0.2)  # a budget of one's own keeps its learning rate
    assert NoisyConfig(budget=given, optimizer=optimizer).budget.lr == 0.2
