"""The shell blocks of README.md and docs/*.md marked ``<!-- reduced: ... -->`` (too long for CI
as written) run with the comment's options appended to each ``selfdistill`` command, so that
every command, option and file name the reader copies is exercised, at a small size.

The convention is in tests/docs/blocks.py and docs/testing.md ("Executed documentation").
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sybil", reason="sybil (the dev extra) parses the documentation")

from tests.docs.blocks import Block, all_groups, needs_torch, reduce_block, run_shell

REDUCED = [g.head for g in all_groups() if g.head.directive == "reduced"]


def test_reduced_options_are_appended_to_each_command() -> None:
    block = Block(
        Path(__file__),
        1,
        "bash",
        "selfdistill chain --epochs 60 \\\n    --out a  # note\necho done\n"
        "selfdistill reproduce x --out b\n",
        "reduced",
        "chain: --epochs 1\nreproduce x: --quick --seeds 0",
    )
    assert reduce_block(block) == (
        "selfdistill chain --epochs 60 --out a --epochs 1\necho done\n"
        "selfdistill reproduce x --out b --quick --seeds 0\n"
    )
    block.argument = "chain: --epochs 1"
    with pytest.raises(ValueError, match="no reduced options for `selfdistill reproduce x`"):
        reduce_block(block)


def test_there_are_reduced_blocks() -> None:
    assert len(REDUCED) >= 3


@pytest.mark.parametrize("block", REDUCED, ids=lambda b: b.name)
def test_reduced_doc_block_runs(block: Block, tmp_path: Path) -> None:
    group = next(g for g in all_groups() if g.head.name == block.name)
    if needs_torch(group) and importlib.util.find_spec("torch") is None:
        pytest.skip("needs the torch extra")
    done = run_shell(reduce_block(block), tmp_path)
    assert done.returncode == 0, f"{block.name}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    # every --out folder the block names was written
    for out in {t.split()[0] for t in block.source.split("--out ")[1:]}:
        assert (tmp_path / out / "results.json").is_file(), f"{block.name}: {out}/results.json"
