"""Progress reporting: a line per stage of a long job, and tqdm bars for loops.

Lines go to stderr so that stdout stays clean for tables and machine-readable output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tqdm.auto import tqdm

__all__ = ["Stages", "progress_bar"]

T = TypeVar("T")


class Stages:
    """Print ``[i/n] what ... done (s)`` lines around the stages of a job.

    Examples
    --------
    >>> stages = Stages(2, name="borup-fig2", enabled=False)
    >>> with stages("fit alpha = 0"):
    ...     pass
    """

    def __init__(self, total: int, *, name: str = "", enabled: bool = True) -> None:
        self.total = total
        self.name = name
        self.enabled = enabled
        self.done = 0

    @contextmanager
    def __call__(self, what: str) -> Iterator[None]:
        self.done += 1
        prefix = (
            f"[{self.name} {self.done}/{self.total}]"
            if self.name
            else f"[{self.done}/{self.total}]"
        )
        start = time.perf_counter()
        if self.enabled:
            print(f"{prefix} {what} ...", file=sys.stderr, flush=True)
        yield
        if self.enabled:
            elapsed = time.perf_counter() - start
            print(f"{prefix} {what}: done in {elapsed:.1f} s", file=sys.stderr, flush=True)


def progress_bar(
    iterable: Iterable[T],
    *,
    desc: str = "",
    total: int | None = None,
    enabled: bool = True,
    leave: bool = False,
) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr (a no-op when ``enabled`` is false)."""
    if not enabled:
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=leave, file=sys.stderr, dynamic_ncols=True)
