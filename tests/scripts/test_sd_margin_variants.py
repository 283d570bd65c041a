"""scripts/sd_margin_variants.py: every variant of docs/noisy.md trains, and the two that are
package defaults (the first ``sd-margin`` and the current one) equal the package's runs exactly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")

from selfdistill.nn.noisy.config import NoisyConfig
from selfdistill.nn.noisy.runner import run_noisy

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "sd_margin_variants.py"
TINY = {"data": "digits", "n_train": 200, "epochs": 8, "width": 32, "lr": 0.05}


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("sd_margin_variants", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.register_variants()
    return module


def _curves(config, methods):
    runs = run_noisy(config, methods, [0.4], [0])
    return {r["method"]: r["test_acc_curve"] for r in runs}


def test_the_default_pairs_equal_the_package(script):
    first = NoisyConfig(**TINY, margin_lam=2.0, margin_smoothing=0.0)
    curves = _curves(first, ["sd-margin", "variant-first", "variant-l3"])
    assert curves["variant-first"] == curves["sd-margin"]
    assert curves["variant-l3"] != curves["sd-margin"]  # λ acts only after the switch: it happened
    curves = _curves(NoisyConfig(**TINY), ["sd-margin", "variant-ls1l3", "variant-first"])
    assert curves["variant-ls1l3"] == curves["sd-margin"]  # λ = 3, ε = 0.1: the default
    assert curves["variant-first"] != curves["sd-margin"]


def test_every_variant_trains(script):
    names = [f"variant-{name}" for name in script.VARIANTS]
    runs = run_noisy(NoisyConfig(**{**TINY, "epochs": 3}), names, [0.4], [0])
    assert [r["method"] for r in runs] == names
    for run in runs:
        assert 0.0 <= run["final_test_acc"] <= 1.0 and len(run["test_acc_curve"]) == 3
