"""Fixtures of the documentation-site tests: the site built once per test run (shared by the
pytest-xdist workers), and the headless browser of tests/browser.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 600


@dataclass(frozen=True)
class BuiltSite:
    """The output of ``mkdocs build --strict``: its folder, exit status and log."""

    path: Path
    returncode: int
    log: str

    def pages(self) -> list[Path]:
        """Every HTML page of the site."""
        return sorted(self.path.rglob("*.html"))


def _build(out: Path) -> BuiltSite:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    return BuiltSite(out, done.returncode, done.stdout + done.stderr)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The site, built once: under pytest-xdist the first worker builds it into the run's shared
    temporary folder while the others wait on a file lock."""
    pytest.importorskip("mkdocs", reason="mkdocs (the dev extra) builds the site")
    pytest.importorskip("material", reason="mkdocs-material (the dev extra) is the theme")
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        return _build(tmp_path_factory.mktemp("site") / "site")
    filelock = pytest.importorskip("filelock", reason="filelock (the dev extra)")
    shared = tmp_path_factory.getbasetemp().parent  # one folder per run, shared by the workers
    record = shared / "site.json"
    with filelock.FileLock(str(shared / "site.lock")):
        if not record.is_file():
            built = _build(shared / "site")
            record.write_text(json.dumps([built.returncode, built.log]), encoding="utf-8")
        returncode, log = json.loads(record.read_text(encoding="utf-8"))
    return BuiltSite(shared / "site", returncode, log)


@pytest.fixture(scope="session")
def built(site: BuiltSite) -> BuiltSite:
    """The site, failing the test at once if the strict build failed."""
    assert site.returncode == 0, site.log[-5000:]
    return site
