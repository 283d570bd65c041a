"""Output folders of long runs: created with clear errors, and held by one command at a time.

:func:`output_folder` creates ``--out`` (refusing, with one sentence, a path that is a file, lies
under a file or cannot be written) and takes an exclusive advisory lock on ``OUT/.selfdistill.lock``
for the lifetime of the command, so that two identical commands started into the same folder do
not both do all the work: the second one fails at once with an error naming the folder and the
process that holds it. The lock is released when the command ends, however it ends (the operating
system drops ``flock`` locks of a killed process), so a stale lock file never blocks a rerun.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "LOCK_NAME",
    "OutputFolderBusy",
    "check_output_folder",
    "output_folder",
    "prepare_output_folder",
]

LOCK_NAME = ".selfdistill.lock"


class OutputFolderBusy(RuntimeError):
    """Another process holds the output folder's lock."""


def check_output_folder(out: str | os.PathLike[str], *, name: str = "--out") -> Path:
    """Check, without creating anything, that ``out`` could be created and written to
    (``--dry-run``); ValueError as :func:`prepare_output_folder`."""
    path = Path(out)
    _refuse_files(path, name)
    existing = next(p for p in (path, *path.parents, Path.cwd()) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: the folder {existing} is not writable")
    return path


def _refuse_files(path: Path, name: str) -> None:
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            where = "is a file" if part == path else f"lies under the file {part}"
            raise ValueError(f"{name} must be a folder, but {path} {where}")


def prepare_output_folder(out: str | os.PathLike[str], *, name: str = "--out") -> Path:
    """Create ``out`` (and its parents) or explain in one sentence why it cannot be.

    Raises
    ------
    ValueError
        When ``out`` or one of its parents is an existing file, or the folder is not writable.
    """
    path = Path(out)
    _refuse_files(path, name)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{name}: cannot create the folder {path} ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: the folder {path} is not writable")
    return path


@contextmanager
def output_folder(out: str | os.PathLike[str], *, name: str = "--out") -> Iterator[Path]:
    """Create ``out`` and hold its exclusive lock while the ``with`` block runs.

    Raises
    ------
    ValueError
        As :func:`prepare_output_folder`.
    OutputFolderBusy
        When another process holds the lock (the message names the folder and its PID).
    """
    path = prepare_output_folder(out, name=name)
    lock_path = path / LOCK_NAME
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _lock(fd, path, lock_path)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _lock(fd: int, path: Path, lock_path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no advisory lock, same behaviour otherwise
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        holder = lock_path.read_text(encoding="utf-8").strip() or "unknown"
        raise OutputFolderBusy(
            f"the output folder {path} is in use by process {holder} (another selfdistill "
            "command writing there); wait for it to finish or choose another --out"
        ) from None
