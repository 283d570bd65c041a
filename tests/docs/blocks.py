"""The code blocks of README.md and docs/*.md, found by Sybil and grouped for the doc tests.

Convention (docs/testing.md, "Executed documentation"):

- A fenced block tagged ``python`` or ``bash`` is run by ``tests/docs/test_blocks.py``, each in a
  fresh temporary working folder with a fresh namespace; ``text`` blocks (output, synopses, trees)
  and file contents (``json``, ``csv``, ``yaml``, ``toml``) are not code. Every fence must carry one
  of these tags.
- ``<!-- continue -->`` right before a ``python`` block: it continues the previous ``python``
  block of the same file (same namespace, same folder) and runs in the same test, after it.
- ``<!-- not-run: REASON -->`` right before a block: never run (REASON says why, e.g. it installs
  the environment or needs GPUs).
- ``<!-- reduced: ... -->`` right before a ``bash`` block that is too long for CI: it is run by
  ``tests/docs/test_reduced.py`` instead, with the comment's options appended to each
  ``selfdistill`` command (argparse keeps the last value, so they override the block's sizes),
  one line per command: ``COMMAND WORDS: OPTIONS`` (``chain: --epochs 1``,
  ``reproduce dong-table1: --seeds 0``).

Sybil parses the files (fenced blocks, HTML-comment directives) and evaluates Python with the
file's line numbers in tracebacks; the grouping, folders and shell runs are ours, so that every
test is independent (pytest-xdist may run them on different workers, in any order).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sybil import Document, Region
from sybil.evaluators.python import PythonEvaluator
from sybil.parsers.markdown import CodeBlockParser
from sybil.parsers.markdown.lexers import DirectiveInHTMLCommentLexer, RawFencedCodeBlockLexer

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: run: python, bash; shown only (output, synopses, file trees, file contents): the others
LANGUAGES = ("python", "bash", "text", "json", "csv", "yaml", "toml")
DIRECTIVES = ("continue", "not-run", "reduced")
SHELL_TIMEOUT_S = 300


def _directive_parser(document: Document):
    lexer = DirectiveInHTMLCommentLexer(directive="|".join(DIRECTIVES), arguments=".*?")
    for region in lexer(document):
        region.parsed = (region.lexemes["directive"], _directive_text(region))
        region.evaluator = None
        yield region


def _directive_text(region: Region) -> str:
    return (region.lexemes["arguments"] + "\n" + str(region.lexemes.get("source", ""))).strip()


PARSERS = [
    CodeBlockParser("python", PythonEvaluator()),
    CodeBlockParser("bash", lambda example: None),
    _directive_parser,
]


@dataclass
class Block:
    """One fenced block: its file, first line, language, source and directive (if any)."""

    path: Path
    line: int
    language: str
    source: str
    directive: str = ""
    argument: str = ""

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


@dataclass
class Group:
    """Blocks run together: one block, or a python block and its ``continue`` blocks."""

    blocks: list[Block] = field(default_factory=list)

    @property
    def head(self) -> Block:
        return self.blocks[0]


def blocks(path: Path) -> list[Block]:
    """The python and bash blocks of ``path`` in order, each with the directive right before it."""
    document = Document.parse(str(path), *PARSERS)
    found: list[Block] = []
    pending: tuple[str, str, int] | None = None
    for example in document.examples():
        if isinstance(example.parsed, tuple):
            directive, argument = example.parsed
            end_line = document.text.count("\n", 0, example.end) + 1
            pending = (directive, argument, end_line)
            continue
        block = Block(path, example.line, example.region.lexemes["arguments"], str(example.parsed))
        if pending is not None and pending[2] >= example.line - 1:
            block.directive, block.argument = pending[0], pending[1]
        pending = None
        found.append(block)
    return found


def fences(path: Path) -> list[tuple[int, str]]:
    """(line, info string) of every fenced block of ``path``, whatever its language."""
    document = Document(path.read_text(encoding="utf-8"), str(path))
    lexer = RawFencedCodeBlockLexer(
        info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE), mapping={"info": "info"}
    )
    return [
        (document.text.count("\n", 0, region.start) + 1, region.lexemes["info"].strip())
        for region in lexer(document)
    ]


def groups(path: Path) -> list[Group]:
    """The blocks of ``path`` grouped: a ``continue`` block joins the group before it."""
    result: list[Group] = []
    for block in blocks(path):
        if block.directive == "continue":
            previous = [g for g in result if g.head.language == "python"]
            if not previous or block.language != "python":
                raise ValueError(f"{block.name}: <!-- continue --> must follow a python block")
            previous[-1].blocks.append(block)
        else:
            result.append(Group([block]))
    return result


def all_groups() -> list[Group]:
    return [group for path in DOC_FILES for group in groups(path)]


def needs_torch(group: Group) -> bool:
    """Whether a group uses the torch extra (then it is skipped where torch is missing)."""
    pattern = re.compile(
        r"selfdistill\.(nn|ntk)\b|\bimport torch\b|\bselfdistill (chain|noisy|clean)\b"
        r"|\bselfdistill reproduce (mobahi-fig3|borup-fig5|dong-|ntk-kernel)"
    )
    return any(pattern.search(block.source) for block in group.blocks)


def run_python(group: Group, folder: Path) -> None:
    """Run the python blocks of ``group`` in one namespace, with ``folder`` as working folder."""
    document = Document.parse(str(group.head.path), *PARSERS)
    lines = {block.line for block in group.blocks}
    examples = [e for e in document.examples() if e.line in lines and e.region.evaluator]
    assert len(examples) == len(group.blocks), group.head.name
    previous = Path.cwd()
    os.chdir(folder)
    try:
        for example in examples:
            example.evaluate()
    finally:
        os.chdir(previous)


def shell_env(folder: Path) -> dict[str, str]:
    """The environment of a shell block: ``selfdistill`` and ``python`` are this interpreter's,
    running this checkout's code (``python -m selfdistill.cli``)."""
    bin_dir = folder / ".doc-bin"
    bin_dir.mkdir(exist_ok=True)
    # scripts, not symlinks: a symlinked venv interpreter outside the venv's bin/ finds no
    # pyvenv.cfg and runs as the base interpreter, without the venv's packages
    for name, command in (("selfdistill", "-m selfdistill.cli "), ("python", "")):
        shim = bin_dir / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {command}"$@"\n')
        shim.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(ROOT / "src"), env.get("PYTHONPATH", "")] if p
    )
    env.setdefault("OMP_NUM_THREADS", "1")
    env["MPLBACKEND"] = "Agg"
    return env


def run_shell(source: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run a bash block with ``set -euo pipefail`` in ``folder``."""
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + source],
        cwd=folder,
        env=shell_env(folder),
        capture_output=True,
        text=True,
        timeout=SHELL_TIMEOUT_S,
    )


def logical_lines(source: str) -> list[str]:
    """The lines of a shell block with backslash continuations joined."""
    return source.replace("\\\n", " ").splitlines()


def reductions(argument: str) -> dict[tuple[str, ...], list[str]]:
    """Parse a ``reduced`` directive: ``COMMAND WORDS: OPTIONS`` per line."""
    table: dict[tuple[str, ...], list[str]] = {}
    for line in argument.splitlines():
        if line.strip():
            command, _, options = line.partition(":")
            table[tuple(command.split())] = shlex.split(options)
    return table


def command_words(tokens: list[str]) -> tuple[str, ...]:
    """``selfdistill reproduce x --out y`` -> ("reproduce", "x"): the words before the options."""
    words = []
    for token in tokens[1:]:
        if token.startswith("-"):
            break
        words.append(token)
    return tuple(words)


def reduce_block(block: Block) -> str:
    """The bash source of a ``reduced`` block with each command's options appended."""
    table = reductions(block.argument)
    out = []
    for line in logical_lines(block.source):
        tokens = shlex.split(line, comments=True)
        if tokens and tokens[0] == "selfdistill":
            words = command_words(tokens)
            if words not in table:
                command = " ".join(("selfdistill", *words))
                raise ValueError(f"{block.name}: no reduced options for `{command}`")
            tokens = tokens + table[words]
            out.append(shlex.join(tokens))
        else:
            out.append(line)
    return "\n".join(out) + "\n"
