"""Output folders of long runs: created with clear errors, and held by one command at a time.

:func:`output_folder` creates ``--out`` (refusing, with one sentence, a path that is a file, lies
under a file or cannot be written) and takes an exclusive advisory lock on ``OUT/.selfdistill.lock``
for the lifetime of the command, so that two identical commands started into the same folder do
not both do all the work: the second one fails at once with an error naming the folder and the
process that holds it. The lock is released when the command ends, however it ends (the operating
system drops ``flock`` locks of a killed process), so a stale lock file never blocks a rerun.

A folder belongs to the command that made it (``chain``, ``noisy``, ``reproduce NAME``, ``demo``):
the command is recorded in ``OUT/.selfdistill-owner.json`` (for a folder written before that file
existed, it is read from ``results.json`` or the state folder, :func:`folder_owner`), and another
command into it is refused with one line naming the owner, before anything is written.
:func:`check_output_file` checks an output *file* (``predict --out``, an export) the same way,
and refuses one that is an input of the command.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .io import write_json

__all__ = [
    "LOCK_NAME",
    "OWNER_NAME",
    "OutputFolderBusy",
    "check_output_file",
    "check_output_folder",
    "folder_owner",
    "output_folder",
    "prepare_output_folder",
    "results_owner",
    "same_file",
]

LOCK_NAME = ".selfdistill.lock"
OWNER_NAME = ".selfdistill-owner.json"
#: the state files of the resumable commands, and the command each belongs to
_STATE_OWNERS = {"noisy-config.json": "noisy", "chain-config.json": "chain"}


class OutputFolderBusy(RuntimeError):
    """Another process holds the output folder's lock."""


def results_owner(record: Any) -> str | None:
    """The command whose ``results.json`` ``record`` is (``reproduce NAME``, ``chain``,
    ``noisy``, ``clean``: its ``"command"``, or for a file written before that key, its shape),
    or None when no selfdistill command writes such a file."""
    if not isinstance(record, Mapping):
        return None
    if isinstance(record.get("experiment"), str):
        return f"reproduce {record['experiment']}"
    if isinstance(record.get("command"), str) and record["command"] != "reproduce":
        return record["command"]  # "clean", "noisy", "chain": what each writes now
    config = record.get("config")
    if not isinstance(config, Mapping) or "runs" not in record:
        return None
    if "chain" in config and "summary" in record:
        return "chain"
    if "methods" in config and "noises" in config:
        return "noisy"
    return None


def folder_owner(out: str | os.PathLike[str]) -> str | None:
    """The command that made the folder ``out``: the one its owner file records, else the one
    whose ``results.json`` or state files it holds; ``None`` for a folder no command wrote
    into (or a missing one). A ``results.json`` no command writes gives ``"unknown"``."""
    path = Path(out)
    try:
        recorded = json.loads((path / OWNER_NAME).read_text(encoding="utf-8"))
        if isinstance(recorded, dict) and isinstance(recorded.get("command"), str):
            return recorded["command"]
    except (OSError, ValueError):
        pass  # no owner file (a folder of an older version), or a damaged one: infer it
    results = path / "results.json"
    if results.is_file():
        try:
            return results_owner(json.loads(results.read_text(encoding="utf-8"))) or "unknown"
        except (OSError, ValueError):
            return "unknown"
    for state_name, command in _STATE_OWNERS.items():
        if (path / "state" / state_name).is_file():
            return command
    return None


def _refuse_other_owner(path: Path, command: str | None, name: str) -> None:
    if command is None or not path.is_dir():
        return
    owner = folder_owner(path)
    if owner is None or owner == command:
        return
    if owner == "unknown":
        raise ValueError(
            f"{name}: {path} holds a results.json that no selfdistill command wrote; "
            f"`selfdistill {command}` would replace it: choose another {name}"
        )
    raise ValueError(
        f"{name}: {path} belongs to `selfdistill {owner}` (its results are there); "
        f"`selfdistill {command}` would overwrite them: choose another {name}"
    )


def _refuse_read_only(path: Path, name: str) -> None:
    """The folder and the sub-folders a command writes into must all be writable folders."""
    for folder in (path, *(path / sub for sub in ("state", "runs", "models"))):
        if folder != path and folder.exists() and not folder.is_dir():
            raise ValueError(f"{name}: {folder} is a file, where the command keeps a folder")
        if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
            raise ValueError(f"{name}: the folder {folder} is not writable")


def check_output_folder(
    out: str | os.PathLike[str], *, name: str = "--out", command: str | None = None
) -> Path:
    """Check, without creating anything, that ``out`` could be created and written to
    (``--dry-run``, and every command before its first write); ValueError as
    :func:`prepare_output_folder`."""
    path = Path(out)
    _refuse_files(path, name)
    existing = next(p for p in (path, *path.parents, Path.cwd()) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: the folder {existing} is not writable")
    _refuse_read_only(path, name)
    _refuse_other_owner(path, command, name)
    return path


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether the paths ``a`` and ``b`` name the same file (symbolic links resolved; hard
    links too when both exist)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def check_output_file(
    path: str | os.PathLike[str],
    *,
    name: str,
    inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
    outputs: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Check, without creating anything, that the file ``path`` can be written, before any work.

    Parameters
    ----------
    path
        The output file (``predict --out``, ``--export-relabelled``).
    name
        Its option, for the messages.
    inputs
        ``option -> path`` of the command's input files: the output must not be one of them.
    outputs
        The command's other output files: the output must not replace one of them.

    Raises
    ------
    ValueError
        When ``path`` is a folder, lies under a file, lies in a folder that cannot be written,
        or is an input or another output of the command.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} must be a file, but {path} is a folder")
    for part in path.parents:
        if part.exists() and not part.is_dir():
            raise ValueError(f"{name}: {path} lies under the file {part}")
    existing = next(p for p in (*path.parents, Path.cwd()) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: the folder {existing} is not writable")
    for option, source in (inputs or {}).items():
        if source is not None and same_file(path, source):
            raise ValueError(
                f"{name} {path} is the {option} file: writing it would replace your input; "
                f"choose another {name}"
            )
    for other in outputs:
        if same_file(path, other):
            raise ValueError(f"{name} {path} would replace the command's own output {other}")
    return path


def _refuse_files(path: Path, name: str) -> None:
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            where = "is a file" if part == path else f"lies under the file {part}"
            raise ValueError(f"{name} must be a folder, but {path} {where}")


def prepare_output_folder(
    out: str | os.PathLike[str], *, name: str = "--out", command: str | None = None
) -> Path:
    """Create ``out`` (and its parents) or explain in one sentence why it cannot be.

    Raises
    ------
    ValueError
        When ``out`` or one of its parents is an existing file, the folder (or its ``state``,
        ``runs`` or ``models`` sub-folder) is not writable, or ``out`` belongs to another
        command than ``command`` (:func:`folder_owner`; None: not checked).
    """
    path = check_output_folder(out, name=name, command=command)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{name}: cannot create the folder {path} ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: the folder {path} is not writable")
    return path


@contextmanager
def output_folder(
    out: str | os.PathLike[str], *, name: str = "--out", command: str | None = None
) -> Iterator[Path]:
    """Create ``out`` and hold its exclusive lock while the ``with`` block runs; with
    ``command``, refuse a folder of another command and record ``command`` as its owner.

    Raises
    ------
    ValueError
        As :func:`prepare_output_folder`.
    OutputFolderBusy
        When another process holds the lock (the message names the folder and its PID).
    """
    created = not Path(out).exists()
    path = prepare_output_folder(out, name=name, command=command)
    lock_path = path / LOCK_NAME
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        _lock(fd, path, lock_path)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        if command is not None:  # checked again under the lock, then recorded
            _refuse_other_owner(path, command, name)
            if not (path / OWNER_NAME).is_file():
                write_json(path / OWNER_NAME, {"command": command})
        yield path
    except Exception:
        if created:  # a bad input found before any result: leave no folder behind
            _remove_if_unused(path)
        raise
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _remove_if_unused(path: Path) -> None:
    """Remove the folder this command created when it holds nothing but its lock and owner."""
    try:
        if {p.name for p in path.iterdir()} <= {LOCK_NAME, OWNER_NAME}:
            for name in (OWNER_NAME, LOCK_NAME):
                (path / name).unlink(missing_ok=True)
            path.rmdir()
    except OSError:
        pass  # best effort: the error being raised is what the user needs to see


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
