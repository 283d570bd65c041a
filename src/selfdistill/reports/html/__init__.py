"""``OUT/report.html``: one self-contained page per run, made from ``OUT/results.json``.

:func:`write_report` reads the run's ``results.json``, picks the page by its ``"command"``
(``clean``: the review page of the suspect labels, :mod:`.review`; ``noisy``, ``chain``,
``reproduce``: :mod:`.runs`) and writes ``OUT/report.html`` atomically. The page needs no network
and no other file: CSS and scripts are inline, figures and thumbnails ``data:`` URIs.

``selfdistill report OUT`` calls it; so do ``clean``, ``noisy``, ``chain`` and ``reproduce`` at
their end. Torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..._util.io import atomic_write_text, read_results

__all__ = ["COMMANDS", "REPORT_NAME", "command_of", "render_report", "write_report"]

REPORT_NAME = "report.html"
#: the commands whose results have a page
COMMANDS = ("clean", "noisy", "chain", "reproduce")


def command_of(results: Mapping[str, Any]) -> str | None:
    """The command that wrote ``results``: its ``"command"`` key, or for files written before
    that key, the shape (``experiment`` -> reproduce; runs of generations -> chain; runs of
    methods -> noisy)."""
    command = results.get("command")
    if isinstance(command, str):
        return command
    if "experiment" in results and "results" in results:
        return "reproduce"
    runs = results.get("runs")
    if isinstance(runs, list) and runs and isinstance(runs[0], Mapping):
        if "generations" in runs[0]:
            return "chain"
        if "method" in runs[0]:
            return "noisy"
    return None


def _pages() -> dict[str, Callable[[Path, Mapping[str, Any]], str]]:
    from .review import clean_page
    from .runs import chain_page, noisy_page, reproduce_page

    return {
        "clean": clean_page,
        "noisy": noisy_page,
        "chain": chain_page,
        "reproduce": reproduce_page,
    }


def _results(out: Path) -> dict[str, Any]:
    if not out.is_dir():
        raise FileNotFoundError(f"no such output folder: {out}")
    path = out / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{out} holds no results.json (not the output folder of a run)")
    return read_results(path)


def render_report(out: str | os.PathLike[str]) -> str:
    """The HTML of ``OUT/report.html`` for the run in ``out`` (nothing is written).

    Raises
    ------
    FileNotFoundError
        When ``out`` or ``out/results.json`` does not exist.
    ValueError
        When ``results.json`` is not valid JSON, or comes from a command without a page (one of
        :data:`COMMANDS`), or a file the page needs is missing or malformed.
    """
    out = Path(out)
    results = _results(out)
    command = command_of(results)
    if command not in COMMANDS:
        raise ValueError(
            f"{out / 'results.json'}: results of {command or 'an unknown command'!s}; a report "
            f"is made for {', '.join(COMMANDS)}"
        )
    try:
        return _pages()[command](out, results)
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(
            f"{out}: the files of this {command} run are not as expected ({type(exc).__name__}: "
            f"{exc})"
        ) from None


def write_report(out: Path) -> Path:
    """Write ``OUT/report.html`` for the run in ``out`` (atomically) and return its path.

    See :func:`render_report` for the errors; on any of them nothing is written."""
    out = Path(out)
    return atomic_write_text(out / REPORT_NAME, render_report(out))
