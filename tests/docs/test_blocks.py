"""Every python and bash block of README.md and docs/*.md runs as written (docs/testing.md,
"Executed documentation"; the convention is in tests/docs/blocks.py).

Each block (with its ``<!-- continue -->`` blocks) runs in a fresh temporary folder with a fresh
namespace; blocks marked ``not-run`` never run, ``reduced`` ones run in test_docs_reduced.py.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest

pytest.importorskip("sybil", reason="sybil (the dev extra) parses the documentation")

from tests.docs.blocks import (
    DOC_FILES,
    LANGUAGES,
    Group,
    all_groups,
    blocks,
    fences,
    needs_torch,
    run_python,
    run_shell,
)

HAS_TORCH = importlib.util.find_spec("torch") is not None
RUN = [g for g in all_groups() if g.head.directive not in ("not-run", "reduced")]


def test_every_fence_is_tagged() -> None:
    untagged = [
        f"{path.name}:{line} {info!r}"
        for path in DOC_FILES
        for line, info in fences(path)
        if info.split(" ")[0] not in LANGUAGES
    ]
    assert not untagged, f"tag each fence {LANGUAGES}: {untagged}"


def test_skipped_blocks_say_why() -> None:
    for path in DOC_FILES:
        for block in blocks(path):
            if block.directive in ("not-run", "reduced"):
                assert block.argument.strip(), f"{block.name}: {block.directive} needs a reason"
            if block.directive == "reduced":
                assert block.language == "bash", f"{block.name}: only bash blocks are reduced"


def test_the_doc_files_have_runnable_blocks() -> None:
    # guards the collector itself: if Sybil found nothing, every doc test would pass vacuously
    found = [block for path in DOC_FILES for block in blocks(path)]
    assert len(found) >= 20 and len(RUN) >= 10
    assert {block.language for block in found} == {"python", "bash"}


def _registries() -> list[dict]:
    """The registries a doc block may extend (data-set loaders, noisy-label methods; with torch)."""
    if not HAS_TORCH:
        return []
    from selfdistill.datasets import registry as loaders
    from selfdistill.nn.noisy import registry as methods

    return [loaders.LOADERS, methods._REGISTRY]


@pytest.mark.parametrize("group", RUN, ids=lambda g: g.head.name)
def test_doc_block_runs(group: Group, tmp_path: Path) -> None:
    if needs_torch(group) and not HAS_TORCH:
        pytest.skip("needs the torch extra")
    if group.head.language == "python":
        registries = _registries()
        saved = [dict(r) for r in registries]
        try:
            with warnings.catch_warnings():
                # an example may show a warning (CollapseWarning); the doc says so where it does
                warnings.simplefilter("ignore")
                run_python(group, tmp_path)
        finally:  # an example may register a data set or a method: later tests see the originals
            for registry, copy in zip(registries, saved, strict=True):
                registry.clear()
                registry.update(copy)
        return
    done = run_shell(group.head.source, tmp_path)
    assert done.returncode == 0, f"{group.head.name}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
