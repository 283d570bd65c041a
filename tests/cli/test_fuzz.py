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
