"""Output folders (issue 11, items 13 and 15): clear errors for bad paths, one command at a time."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from selfdistill._util.outdir import (
    LOCK_NAME,
    OutputFolderBusy,
    output_folder,
    prepare_output_folder,
)


def test_creates_nested_folders(tmp_path: Path) -> None:
    out = prepare_output_folder(tmp_path / "a" / "b")
    assert out.is_dir()


@pytest.mark.parametrize(("sub", "fragment"), [("", "is a file"), ("sub/deeper", "lies under")])
def test_a_file_in_the_way_is_one_sentence(tmp_path: Path, sub: str, fragment: str) -> None:
    file = tmp_path / "FILE"
    file.write_text("x")
    with pytest.raises(ValueError, match=f"--out must be a folder, but .* {fragment}"):
        prepare_output_folder(file / sub if sub else file)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder(tmp_path: Path) -> None:
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o500)
    with pytest.raises(ValueError, match=r"not writable|cannot create"):
        prepare_output_folder(locked / "out")


HOLDER = (
    "import sys, time; from selfdistill._util.outdir import output_folder\n"
    "with output_folder(sys.argv[1]):\n    print('held', flush=True); time.sleep(600)\n"
)


def test_second_command_into_the_same_folder_fails_naming_the_holder(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(
            OutputFolderBusy, match=rf"{re.escape(str(tmp_path))}.* in use by process {proc.pid}"
        ):
            with output_folder(tmp_path):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the killed holder leaves its lock file behind, but not its lock: a rerun proceeds
    assert (tmp_path / LOCK_NAME).exists()
    deadline = time.monotonic() + 10
    while True:
        try:
            with output_folder(tmp_path) as out:
                assert out == tmp_path
            break
        except OutputFolderBusy:  # the kernel releases the lock as the process is reaped
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_lock_is_released_after_the_block(tmp_path: Path) -> None:
    with output_folder(tmp_path):
        pass
    with output_folder(tmp_path):
        pass
