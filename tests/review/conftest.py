"""Fixtures of the review-page tests: the headless browser of tests/browser.py, and one real
``reproduce`` run shared by the tests of its page."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def reproduce_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of ``selfdistill reproduce mobahi-fig2 --quick`` (torch-free, ~15 s)."""
    from selfdistill.cli import main

    out = tmp_path_factory.mktemp("reproduce") / "mobahi-fig2"
    assert main(["reproduce", "mobahi-fig2", "--quick", "--no-progress", "--out", str(out)]) == 0
    return out
