"""Helpers for tests: run Python where importing torch fails; replot an experiment's results."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

BLOCK_TORCH = """
import sys
class _BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
        return None
sys.meta_path.insert(0, _BlockTorch())
"""


def run_without_torch(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter in which ``import torch`` raises ImportError."""
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH + code], capture_output=True, text=True, timeout=300
    )


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_replots(name: str, out: Path, fresh: Path, pngs: Iterable[str]) -> None:
    """``selfdistill reproduce NAME --replot FRESH`` with only ``out/results.json`` copied into
    ``fresh`` draws every figure in ``pngs`` there (PNG files of a real size) and the page
    (report.html), and nothing else."""
    from selfdistill.cli import main

    fresh.mkdir(parents=True)
    shutil.copyfile(out / "results.json", fresh / "results.json")
    assert main(["reproduce", name, "--replot", str(fresh)]) == 0
    pngs = sorted(pngs)
    assert sorted(p.name for p in fresh.iterdir()) == sorted(["results.json", "report.html", *pngs])
    for png in pngs:
        data = (fresh / png).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 10_000, png


def cli_parsers() -> dict[str, Any]:
    """Every leaf parser of the ``selfdistill`` CLI by its command line: ``"chain"``,
    ``"noisy"``, ``"demo"``, ``"reproduce borup-fig2"``, ... -> its ``argparse`` parser."""
    import argparse

    from selfdistill.cli import build_parser

    out: dict[str, argparse.ArgumentParser] = {}

    def walk(prefix: str, parser: argparse.ArgumentParser) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            out[prefix] = parser
        for action in subs:
            for name, sub in action.choices.items():
                walk(f"{prefix} {name}".strip(), sub)

    walk("", build_parser())
    return out


def bad(match: str, **params):
    """A ``pytest.param`` of estimator parameters and the error ``match`` they must raise."""
    import pytest

    return pytest.param(params, match, id=match[:40])
