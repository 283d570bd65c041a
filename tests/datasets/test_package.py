"""``selfdistill.datasets`` is torch-free (issue 21): every module imports with torch blocked,
the built-in sets load as arrays, and ``reproduce sd-vs-ridge`` reads MNIST-1D without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import run_without_torch

DATASETS_DIR = Path(__file__).resolve().parents[2] / "src" / "selfdistill" / "datasets"


def test_every_module_imports_and_loads_digits_without_torch() -> None:
    modules = sorted(p.stem for p in DATASETS_DIR.glob("*.py") if p.stem != "__init__")
    assert {"builtin", "registry", "splits", "toy", "user_files"} <= set(modules)
    code = (
        "import importlib, sys, numpy as np\n"
        "import selfdistill.datasets as ds\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module('selfdistill.datasets.' + m)\n"
        "raw = ds.loader_for('digits')(data_dir=None, rng=np.random.default_rng(0))\n"
        "assert raw.num_classes == 10 and len(raw.y_pool) + len(raw.y_test) == 1797\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    proc = run_without_torch(code)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr


def test_imports_with_torch_set_to_none_in_sys_modules() -> None:
    """The issue's own check: ``sys.modules['torch'] = None`` (SciPy's array-API helpers fail on
    that entry, so importing the package must not import scipy.stats or scikit-learn)."""
    code = "import sys; sys.modules['torch'] = None; import selfdistill.datasets; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr


def test_mnist1d_is_generated_without_torch() -> None:
    pytest.importorskip("mnist1d")
    code = (
        "import sys\n"
        "from selfdistill.datasets import make_mnist1d_arrays\n"
        "a = make_mnist1d_arrays(200, cache_dir=None)\n"
        "assert a['x'].shape == (160, 40) and a['x_test'].shape == (40, 40)\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    proc = run_without_torch(code)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stderr


def test_sd_vs_ridge_reads_mnist1d_without_torch(tmp_path: Path) -> None:
    pytest.importorskip("mnist1d")
    code = (
        "import sys\n"
        "from selfdistill.cli import main\n"
        "argv = ['reproduce', 'sd-vs-ridge', '--quick', '--datasets', 'mnist1d', '--no-progress',"
        f" '--out', {str(tmp_path)!r}]\n"
        "assert main(argv) == 0\n"
        "assert 'torch' not in sys.modules\n"
    )
    proc = run_without_torch(code)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert results["skipped"] == {} and results["datasets"]["mnist1d"]["seeds"] == 2
