"""selfdistill.catalog: the one list of names, torch-free, and the torch code agreeing with it."""

from __future__ import annotations

import pytest

from selfdistill import catalog
from selfdistill.catalog import NOISY_METHODS, parse_methods, parse_noises
from tests.helpers import run_without_torch


def test_catalog_imports_without_torch() -> None:
    proc = run_without_torch("import selfdistill.catalog as c\nprint(len(c.DATASETS))\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "5"


def test_parse_methods() -> None:
    assert parse_methods("ce, sd") == ["ce", "sd"]
    assert parse_methods(" all ") == list(NOISY_METHODS)
    assert parse_methods("gce,,early-stop,") == ["gce", "early-stop"]
    with pytest.raises(ValueError, match="--method must name at least one"):
        parse_methods(" , ")
    with pytest.raises(ValueError, match="--method must be one of"):
        parse_methods("ce,mixup")
    with pytest.raises(ValueError, match="--methods names a method twice"):
        parse_methods("sd,ce,sd", flag="--methods")


def test_parse_noises() -> None:
    assert parse_noises("0.4") == [0.4]
    assert parse_noises("0, 0.2,1") == [0.0, 0.2, 1.0]
    with pytest.raises(ValueError, match="--noise"):
        parse_noises("0.2,1.5")
    with pytest.raises(ValueError, match="--noises"):
        parse_noises("x", flag="--noises")


def test_tuples_are_unique_names() -> None:
    for name in catalog.__all__:
        value = getattr(catalog, name)
        if isinstance(value, tuple):
            assert value and len(set(value)) == len(value), name
            assert all(isinstance(v, str) for v in value), name
    assert set(catalog.GENERATED_DATASETS) <= set(catalog.DATASETS)
    assert catalog.MULTICLASS_LABEL_FUNCTIONS == ("hardmax", "softmax")


def test_torch_code_uses_the_same_names() -> None:
    torch = pytest.importorskip("torch")
    from selfdistill.datasets import registry as loaders
    from selfdistill.nn import data_splits as data
    from selfdistill.nn import models
    from selfdistill.nn.chains import distill
    from selfdistill.nn.noisy import dong as refinery
    from selfdistill.nn.noisy import runner as noisy_runner
    from selfdistill.nn.training import loop as train
    from selfdistill.noise import NOISE_KINDS

    assert tuple(loaders.LOADERS) == catalog.DATASETS == data.DATASETS
    assert models.MODELS == catalog.MODELS
    assert noisy_runner.METHODS == NOISY_METHODS
    assert train.OPTIMIZERS == catalog.OPTIMIZERS and train.SCHEDULES == catalog.SCHEDULES
    assert distill.LOSSES == catalog.DISTILL_LOSSES
    assert refinery.LABEL_FUNCTIONS == catalog.LABEL_FUNCTIONS
    assert refinery.ALPHA_SCHEDULES == catalog.ALPHA_SCHEDULES
    assert refinery.SD_LOSSES == catalog.SD_LOSSES
    assert NOISE_KINDS == catalog.NOISE_KINDS
    for name in catalog.MODELS:  # every listed model builds for an image input
        net = models.build_model(name, (3, 8, 8), 4, width=4, seed=0)
        assert net(torch.zeros(2, 3, 8, 8)).shape == (2, 4)
