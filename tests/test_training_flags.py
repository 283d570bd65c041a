"""Options shared by the network reproductions: help text and resolved defaults agree."""

from __future__ import annotations

import argparse
import re

import pytest

from selfdistill.experiments import EXPERIMENTS, add_common_arguments
from selfdistill.training_flags import (
    QuickDefault,
    add_int_list_option,
    add_quick_int_option,
    resolve_int,
    resolve_int_list,
)

USERS = ("mobahi-fig3", "borup-fig5", "dong-fig1", "dong-fig2", "dong-fig5", "ntk-kernel")
STATED = re.compile(r"\(default: ([0-9,]+); quick ([0-9,]+)\)$")


def _parser(name: str) -> tuple[argparse.ArgumentParser, object]:
    parser = argparse.ArgumentParser()
    add_common_arguments(parser, name)
    module = EXPERIMENTS[name].load()
    module.add_arguments(parser)
    return parser, module


@pytest.mark.parametrize("name", USERS)
def test_help_states_the_defaults_the_run_uses(name: str) -> None:
    parser, module = _parser(name)
    stated = {
        a.dest: STATED.search(a.help).groups()
        for a in parser._actions
        if a.help and STATED.search(a.help)
    }
    assert "seeds" in stated and len(stated) >= 3
    for quick, column in (([], 0), (["--quick"], 1)):
        settings = module._settings(parser.parse_args(["--out", "x", *quick]))
        for dest, texts in stated.items():
            expected = [int(v) for v in texts[column].split(",")]
            value = settings[dest]
            assert (value if isinstance(value, list) else [value]) == expected, (dest, quick)


def test_given_values_override_the_defaults() -> None:
    parser = argparse.ArgumentParser()
    steps = QuickDefault(full=10, quick=2)
    seeds = QuickDefault(full=(0, 1, 2), quick=(0,))
    add_quick_int_option(parser, "--steps", steps, "steps")
    add_int_list_option(parser, "--seeds", seeds)
    assert "steps (default: 10; quick 2)" in parser.format_help()
    assert "comma list (default: 0,1,2; quick 0)" in parser.format_help()
    args = parser.parse_args(["--steps", "7", "--seeds", "4,5"])
    assert resolve_int(args.steps, steps, quick=True) == 7
    assert resolve_int_list("--seeds", args.seeds, seeds, quick=True) == [4, 5]
    args = parser.parse_args([])
    assert resolve_int(args.steps, steps, quick=True) == 2
    assert resolve_int(args.steps, steps, quick=False) == 10
    resolved = resolve_int_list("--seeds", args.seeds, seeds, quick=False)
    assert resolved == [0, 1, 2] and isinstance(resolved, list)
    with pytest.raises(ValueError, match="--seeds"):
        resolve_int_list("--seeds", "0,x", seeds, quick=False)


# ---------------------------------------------------------------------------------------------
# The training flags of every command that trains (issue 21): one declaration, one default each
# ---------------------------------------------------------------------------------------------

TRAINING_COMMANDS = ("chain", "noisy")


def _command_parser(name: str) -> argparse.ArgumentParser:
    from tests.helpers import cli_parsers

    return cli_parsers()[name]


def _flag(parser: argparse.ArgumentParser, dest: str) -> argparse.Action:
    return next(a for a in parser._actions if a.dest == dest)


def test_every_optimiser_has_its_one_default_lr() -> None:
    from selfdistill.catalog import DEFAULT_LR, OPTIMIZERS
    from selfdistill.training_flags import default_lr

    assert set(DEFAULT_LR) == set(OPTIMIZERS)
    assert default_lr("sgd") == 0.05 and default_lr("adam") == 1e-3 and default_lr("adamw") == 1e-3
    with pytest.raises(ValueError, match="--optimizer"):
        default_lr("rmsprop")


SHARED = ("model", "width", "batch_size", "optimizer", "lr", "weight_decay", "schedule", "device",
          "executor", "jobs")  # fmt: skip


@pytest.mark.parametrize("dest", SHARED)
def test_the_commands_declare_a_shared_flag_alike(dest: str) -> None:
    """Same default, choices, type and help in every command that trains (the budget, epochs
    and seeds, is each command's own)."""
    seen = {
        (repr(a.default), a.choices and tuple(a.choices), a.type, a.help)
        for a in (_flag(_command_parser(c), dest) for c in TRAINING_COMMANDS)
    }
    assert len(seen) == 1, seen


def test_lr_help_states_the_default_of_every_optimiser() -> None:
    for command in TRAINING_COMMANDS:
        text = _flag(_command_parser(command), "lr").help
        assert "0.05 with sgd" in text and "0.001 with adam and adamw" in text, text


@pytest.mark.parametrize("command", TRAINING_COMMANDS)
@pytest.mark.parametrize(
    ("argv", "lr"),
    [([], 0.05), (["--optimizer", "adam"], 1e-3), (["--optimizer", "adamw"], 1e-3),
     (["--optimizer", "adam", "--lr", "0.02"], 0.02), (["--lr", "0.5"], 0.5)],
)  # fmt: skip
def test_dry_run_resolves_the_learning_rate_alike(
    command: str, argv: list[str], lr: float, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``noisy --optimizer adam --dry-run`` resolves lr 0.001, as ``chain`` does."""
    import json

    from selfdistill.cli import main

    assert main([command, *argv, "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["options"]["lr"] == lr
    resolved = report["chain"]["train"]["lr"] if command == "chain" else report["config"]["lr"]
    assert resolved == lr


def test_training_settings_checks_each_flag_by_name() -> None:
    from selfdistill.training_flags import add_training_flags, training_settings

    parser = argparse.ArgumentParser()
    add_training_flags(parser, epochs=7, seeds="0,1")
    args = parser.parse_args([])
    settings = training_settings(args)
    assert settings["epochs"] == 7 and settings["seeds"] == [0, 1] and args.lr == 0.05
    assert settings["width"] is None and settings["depth"] is None
    for argv, flag in (
        (["--epochs", "0"], "--epochs"), (["--lr", "-1"], "--lr"), (["--width", "0"], "--width"),
        (["--momentum", "1"], "--momentum"), (["--seeds", "1,1"], "--seeds"),
        (["--batch-size", "0"], "--batch-size"), (["--depth", "-1"], "--depth"),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(flag)):
            training_settings(parser.parse_args(argv))


def test_a_command_may_omit_flags_by_name_only() -> None:
    from selfdistill.training_flags import TRAINING_FLAGS, add_training_flags

    parser = argparse.ArgumentParser()
    add_training_flags(parser, epochs=3, seeds="0", omit=("depth", "executor"))
    dests = {a.dest for a in parser._actions}
    assert "depth" not in dests and "executor" not in dests and "momentum" in dests
    assert set(TRAINING_FLAGS) - {"depth", "executor"} <= dests
    with pytest.raises(ValueError, match="omit: not training flags: dept"):
        add_training_flags(argparse.ArgumentParser(), epochs=3, seeds="0", omit=("dept",))


def test_no_command_declares_a_training_flag_itself() -> None:
    """The training flags come from the one declaration: a command module that spells one of
    them out would let the defaults drift apart again."""
    from pathlib import Path

    commands = Path(__file__).resolve().parents[1] / "src" / "selfdistill" / "commands"
    spelled = re.compile(
        r'add_argument\(\s*"--(model|width|depth|epochs|batch-size|optimizer|lr|momentum|'
        r'weight-decay|schedule|seeds|device)"'
    )
    for command in TRAINING_COMMANDS:
        path = commands / f"{command}.py"
        assert not spelled.search(path.read_text(encoding="utf-8")), path.name
