"""The old import paths of moved modules (``selfdistill._util.moved``): each imports, warns with
the new path, and is the very same module object as the new one; pickles, ``mock.patch`` targets
and ``python -m`` that name an old path keep working."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from unittest import mock

import pytest

from selfdistill._util.moved import MOVED

#: the public names of the modules that were split in two, as they were before the move
SPLIT = {
    "selfdistill.nn.refinery": [
        "ALPHA_SCHEDULES", "LABEL_FUNCTIONS", "SD_LOSSES", "AlphaSchedule", "BootstrapLoss",
        "GCELoss", "SelfDistillationLoss", "SelfDistillationTarget", "batch_accuracy",
        "cross_entropy_loss", "hardmax", "make_alpha_schedule", "make_label_function", "ramp",
        "softmax_labels",
    ],
    "selfdistill.nn.early_learning": [
        "ELRLoss", "MarginSelfDistillationLoss", "NoisyValSwitch", "TemporalEnsemble",
    ],
    "selfdistill.nn.noisy_runner": [
        "FLAT_KEYS", "METHODS", "RUN_KEYS", "DataSpec", "MethodParams", "NoisyConfig",
        "config_dict", "config_from_spec", "config_spec", "corrupt_splits", "flag_scores",
        "label_recovery", "make_method_loss", "method_context", "noisy_run", "noisy_specs",
        "run_noisy", "train_method",
    ],
    "selfdistill.nn.methods": [
        "ENTRY_POINT_GROUP", "DataChoice", "Method", "MethodContext", "get_method",
        "method_names", "register_method",
    ],
}  # fmt: skip

CHECK_ALL = """
import importlib, json, sys, warnings
moved = json.loads(sys.argv[1])
split = json.loads(sys.argv[2])
problems = []
for old, new in moved.items():
    if old.startswith("selfdistill.nn.") and not HAS_TORCH:
        continue
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
    if not any(old in m and new in m for m in messages):
        problems.append(f"{old}: no DeprecationWarning naming {new}: {messages}")
    if module is not importlib.import_module(new) or sys.modules[old] is not sys.modules[new]:
        problems.append(f"{old} is not the module object of {new}")
    if module.__spec__.name != new or module.__name__ != new:
        problems.append(f"{old}: the new module's spec or name was overwritten")
for old, names in split.items() if HAS_TORCH else ():
    module = sys.modules[old]
    problems += [f"{old}.{n} is missing" for n in names if not hasattr(module, n)]
print(json.dumps(problems))
"""


def _check_all(prelude: str = "HAS_TORCH = True\n") -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", prelude + CHECK_ALL, json.dumps(MOVED), json.dumps(SPLIT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_every_old_path_imports_warns_and_is_the_new_module() -> None:
    pytest.importorskip("torch")
    assert _check_all() == []


def test_the_torch_free_old_paths_work_without_torch() -> None:
    from tests.helpers import BLOCK_TORCH

    assert _check_all(BLOCK_TORCH + "HAS_TORCH = False\n") == []


def test_every_new_path_exists_and_no_old_path_is_a_file() -> None:
    import importlib.util

    for old, new in MOVED.items():
        assert importlib.util.find_spec(new) is not None, new
        parent, _, leaf = old.rpartition(".")
        folder = importlib.util.find_spec(parent).submodule_search_locations[0]
        assert not (__import__("pathlib").Path(folder, leaf + ".py").exists()), (
            f"{old} is still a file: a shim would shadow the table"
        )


def test_from_import_of_an_old_path_gives_the_new_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torch")
    for old in ("selfdistill.nn.refinery", "selfdistill.nn.chain"):  # warn every time
        monkeypatch.delitem(sys.modules, old, raising=False)
    from selfdistill.nn.chains.run import ChainConfig
    from selfdistill.nn.noisy.rivals import BootstrapLoss

    with pytest.warns(DeprecationWarning, match=r"selfdistill\.nn\.noisy\b"):
        from selfdistill.nn.refinery import BootstrapLoss as OldBootstrap
    assert OldBootstrap is BootstrapLoss
    with pytest.warns(DeprecationWarning, match=r"selfdistill\.nn\.chains\.run"):
        from selfdistill.nn.chain import ChainConfig as OldChainConfig
    assert OldChainConfig is ChainConfig


def test_mock_patch_of_an_old_path_patches_the_new_module() -> None:
    pytest.importorskip("torch")
    import selfdistill.nn.chains.run as run

    with mock.patch("selfdistill.nn.chain.run_chains", "patched"):
        assert run.run_chains == "patched"
    assert callable(run.run_chains)


def test_a_pickle_that_names_an_old_path_loads() -> None:
    """Process-pool workers receive configs by pickle; a pickle written before the move names
    ``selfdistill.nn.chain.ChainConfig`` (protocol 0 spells module paths out in text)."""
    pytest.importorskip("torch")
    from selfdistill.nn.chains.run import ChainConfig

    config = ChainConfig(generations=3, alpha=0.25)
    blob = pickle.dumps(config, protocol=0)
    assert b"selfdistill.nn.chains.run" in blob
    old = blob.replace(b"selfdistill.nn.chains.run", b"selfdistill.nn.chain")
    assert pickle.loads(old) == config


def test_python_dash_m_runs_an_old_path() -> None:
    pytest.importorskip("torch")
    proc = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", "-m", "selfdistill.nn.ddp_train",
         "--help"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "torchrun" in proc.stdout and "selfdistill.nn.training.torchrun" in proc.stderr
