"""CLI fuzz test (issue 11): random argument lists for every subcommand and reproduction, built
from its own argparse definition, exit 0 or 2 and never print a Python traceback.

Each list mixes valid and invalid values (choices and words that are none, integers far out of
range, NaN and infinities, comma lists with repeats, paths that are files, lie under a file or
are missing), options left without their value, repeated options and unknown ones, and always
ends with ``--dry-run``: the commands run in-process (``selfdistill.cli.main``) and stop after
validating, before any data is loaded or anything is trained or written — which the test checks
by replacing the training entry points with ones that fail the test, and by checking that the
``--out`` folder was never created. ``demo`` (no options that take bad values but ``--out``;
it trains everything) is covered by its own tests instead.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfdistill.cli import main
from tests.helpers import cli_parsers

pytest.importorskip("torch")  # the dry runs check the torch-side configurations too

PARSERS = {k: v for k, v in cli_parsers().items() if k != "demo"}
FLAGS = (
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse._StoreConstAction,
)
SKIP = {"--help", "--version", "--dry-run", "--out", "--replot"}  # --replot: its own tests


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzz")
    (root / "a-file").write_text("not a folder\n")
    read_only = root / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    return {
        "missing": root / "missing" / "deeper",
        "file": root / "a-file",
        "under-file": root / "a-file" / "sub",
        "read-only": read_only / "out",
        "existing": root,
    }


WORDS = st.sampled_from(
    ["", " ", "x", "none", "all", "estimate", "grid", "cuda:9", "1e400", "0x10", "é", "a,b"]
)
NUMBERS = st.one_of(
    st.integers(-(10**12), 10**12),
    st.sampled_from([0, 1, 2, -1, 10**11, 2**32, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
).map(lambda v: repr(v) if isinstance(v, float) and not math.isfinite(v) else str(v))
INT_LISTS = st.lists(st.integers(-3, 5), min_size=0, max_size=5).map(
    lambda xs: ",".join(map(str, xs))
)
FLOAT_LISTS = st.lists(st.floats(-2, 2, allow_nan=False, width=16), min_size=1, max_size=4).map(
    lambda xs: ",".join(f"{x:g}" for x in xs)
)


INTS = st.one_of(st.integers(-3, 300), st.sampled_from([0, -1, 10**11, 2**32, 2**63])).map(str)
FLOATS = st.one_of(
    st.floats(-2, 2, width=16), st.sampled_from([0.0, -1.0, 1e300, math.nan, math.inf])
).map(repr)


def _value(action: argparse.Action, path_names: list[str]) -> st.SearchStrategy[str]:
    """Mostly values of the option's own kind (a choice, an integer, a number, a path, a list),
    sometimes anything."""
    junk = st.one_of(WORDS, NUMBERS, INT_LISTS, FLOAT_LISTS, st.sampled_from(path_names))
    if action.choices:
        own = st.sampled_from(list(action.choices))
    elif action.type is int or getattr(action.type, "__name__", "") == "_optional_int":
        own = INTS
    elif action.type is float:
        own = FLOATS
    elif action.type is Path:
        own = st.sampled_from(path_names)
    else:
        own = st.one_of(INT_LISTS, FLOAT_LISTS, WORDS)
    return st.one_of(own, own, own, junk)


@st.composite
def argument_lists(draw, command: str, path_names: list[str]) -> list[str]:
    parser = PARSERS[command]
    actions = [a for a in parser._actions if a.option_strings and a.option_strings[-1] not in SKIP]
    chosen = draw(st.lists(st.sampled_from(actions), max_size=6)) if actions else []
    argv: list[str] = []
    for action in chosen:
        flag = draw(st.sampled_from(action.option_strings))
        if isinstance(action, FLAGS):
            argv.append(flag)
            continue
        shape = draw(st.sampled_from(["value", "value", "value", "missing", "twice"]))
        if shape == "missing":
            argv.append(flag)
            continue
        for _ in range(2 if shape == "twice" else 1):
            argv.append(f"{flag}={draw(_value(action, path_names))}")
    if draw(st.integers(0, 9)) == 9:
        argv.append("--no-such-option")
    out = draw(st.sampled_from(["missing"] * 6 + ["file", "under-file", "read-only"]))
    return [*command.split(), *argv, "--out", f"@{out}", "--dry-run"]


def _training_started(*args, **kwargs):
    raise AssertionError("a --dry-run command started to train")


@pytest.mark.parametrize("command", sorted(PARSERS))
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_arguments_exit_0_or_2_without_a_traceback(command, paths, data):
    raw = data.draw(argument_lists(command, [f"@{name}" for name in paths]))
    argv = []
    for token in raw:  # "@name" stands for one of the prepared paths
        head, sep, tail = token.partition("=@")
        if sep:
            token = f"{head}={paths[tail]}"
        elif token.startswith("@"):
            token = str(paths[token[1:]])
        argv.append(token)
    stdout, stderr = io.StringIO(), io.StringIO()
    with (
        mock.patch("selfdistill.commands.reproduce.run_experiment", _training_started),
        mock.patch("selfdistill.nn.chains.run.run_chains", _training_started),
        mock.patch("selfdistill.nn.noisy.runner.run_noisy", _training_started),
        mock.patch("selfdistill.nn.data_splits.load_dataset", _training_started),
        contextlib.redirect_stdout(stdout),
        contextlib.redirect_stderr(stderr),
    ):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: 2 on a parse error
            code = exc.code
    err = stderr.getvalue()
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        last = err.strip().splitlines()[-1]
        assert "error:" in last, (argv, err)
    else:  # the resolved configuration, as JSON
        assert json.loads(stdout.getvalue())["dry_run"] is True, argv
    assert not paths["missing"].exists(), argv  # a dry run creates nothing


# ---- signals at random moments (issue 24) ------------------------------------------------------
#
# A command is started as its own process (session), then Ctrl-C (SIGINT to the whole process
# group, as a terminal sends it) or SIGTERM (to the command alone, as `timeout` and schedulers
# send it) comes at a moment drawn from a seeded generator: once the command holds its folder and
# k more runs were stored, plus a random delay. The command must end with one line and status
# 130 / 143 (or 0 when it finished first), no process it started may outlive it, and the same
# command run again must give the results of an uninterrupted run. The executor is not part of
# a run's configuration, so a folder interrupted with --jobs 2 is resumed serially: `noisy` gets
# SIGTERM with --jobs 2, then Ctrl-C serially; `chain` gets Ctrl-C with --jobs 2 (few processes
# to start, each path covered).

SIGNAL_DATA = ["--data", "digits", "--n-train", "120", "--width", "8", "--no-progress"]
SIGNAL_NOISY = ["noisy", *SIGNAL_DATA, "--epochs", "2", "--method", "ce,gce,sd", "--seeds", "0,1"]
SIGNAL_NOISY += ["--noise", "0.3"]
SIGNAL_CHAIN = ["chain", *SIGNAL_DATA, "--epochs", "2", "--generations", "3", "--seeds", "0,1"]
JOBS2 = ["--jobs", "2"]
INTERRUPTED = re.compile(
    r"^selfdistill (noisy|chain): interrupted( \(SIGTERM\))?; ((\d+) of (\d+) "
    r"(runs|generations) kept, )?rerun the same command to resume$"
)


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc; zombies count as gone)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if state[state.rindex(")") + 2] != "Z":
            alive.add(pid)
    return alive


def _cli(argv: list[str]) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-m", "selfdistill.cli", *argv], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True, env=env,
    )  # fmt: skip


def _stored(out: Path) -> int:
    return sum(1 for _ in (out / "state").rglob("*.json")) if (out / "state").is_dir() else 0


def _interrupt(argv: list[str], out: Path, how: str, rng: random.Random) -> tuple[int, str]:
    """Run ``argv`` into ``out`` and send ``how`` (``int``: SIGINT to the process group,
    ``term``: SIGTERM to the command) at a seeded moment; return (status, stderr) after checking
    that no descendant of the command outlived it."""
    (out / ".selfdistill.lock").unlink(missing_ok=True)  # it reappears once the command holds out
    first, more, delay = _stored(out), rng.randint(0, 2), rng.uniform(0.0, 0.5)
    process = _cli([*argv, "--out", str(out)])
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while (
        process.poll() is None
        and time.monotonic() < deadline
        and (not (out / ".selfdistill.lock").exists() or _stored(out) < first + more)
    ):
        seen |= _children(process.pid)
        time.sleep(0.05)
    end = time.monotonic() + delay
    while process.poll() is None and time.monotonic() < end:
        seen |= _children(process.pid)
        time.sleep(0.02)
    if process.poll() is None:
        seen |= _children(process.pid)
        if how == "int":
            os.killpg(process.pid, signal.SIGINT)
        else:
            os.kill(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    grace = time.monotonic() + 3  # the resource tracker leaves when its pipe closes
    while _alive(seen) and time.monotonic() < grace:
        time.sleep(0.05)
    assert not _alive(seen), (argv, how, _alive(seen), err)
    return process.returncode, err


def _results(out: Path) -> list:
    runs = json.loads((out / "results.json").read_text())["runs"]
    for run in runs:  # the wall-clock seconds of each generation differ, of course
        for record in run.get("generations", []):
            record.pop("seconds", None)
    return runs


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize(
    ("argv", "steps", "seed"),
    [
        (SIGNAL_NOISY, [(JOBS2, "term"), ([], "int")], 0),
        (SIGNAL_CHAIN, [(JOBS2, "int")], 1),
    ],
    ids=["noisy", "chain"],
)
def test_signals_at_random_moments_keep_what_finished(tmp_path, argv, steps, seed):
    torch = pytest.importorskip("torch")
    rng = random.Random(seed)
    out = tmp_path / "interrupted"
    for extra, how in steps:
        status, err = _interrupt([*argv, *extra], out, how, rng)
        assert "Traceback" not in err, err
        if status != 0:
            assert status == (130 if how == "int" else 143), (status, err)
            line = err.strip().splitlines()[-1]
            match = INTERRUPTED.match(line)
            assert match, line
            assert match[3] is None or int(match[4]) <= int(match[5])
    rerun = _cli([*argv, "--out", str(out)])
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the processes above (the results do not depend on it here)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main([*argv, "--out", str(tmp_path / "reference")]) == 0
    finally:
        torch.set_num_threads(threads)
    assert _results(out) == _results(tmp_path / "reference")
