"""Every option of every subcommand and reproduction states its default in ``--help``, and an
option with a fixed set of values lists them as argparse choices (issue 11)."""

from __future__ import annotations

import argparse

import pytest

from tests.helpers import cli_parsers

PARSERS = cli_parsers()
FLAG_ACTIONS = (
    argparse._HelpAction,
    argparse._VersionAction,
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
    argparse._StoreConstAction,
)


def _value_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, FLAG_ACTIONS)]


def test_every_command_and_reproduction_is_walked():
    assert {"chain", "noisy", "demo", "reproduce dong-table1", "reproduce borup-fig2"} <= set(
        PARSERS
    )


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_shows_its_default(command):
    parser = PARSERS[command]
    missing = []
    for action in _value_options(parser):
        text = action.help or ""
        if action.required or "%(default)" in text or "default" in text.lower():
            continue
        missing.append(action.option_strings[-1])
    assert not missing, f"{command}: options without a stated default in --help: {missing}"
    assert "(default: None)" not in parser.format_help(), command


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_flags_say_what_they_change(command):
    for action in PARSERS[command]._actions:
        if isinstance(action, FLAG_ACTIONS) and action.option_strings:
            assert action.help, (command, action.option_strings)


CHOICE_OPTIONS = ("--model", "--optimizer", "--schedule", "--noise-kind", "--loss")


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_named_values_are_choices(command):
    """A fixed set of names is argparse choices; ``--data`` (a name or the path of a data file)
    lists its names in the help text instead."""
    for action in _value_options(PARSERS[command]):
        flag = action.option_strings[-1]
        if action.required:
            continue  # a required path, not a name: `predict --model RUN_DIR --data FILE`
        if flag in CHOICE_OPTIONS:
            assert action.choices, (command, flag)
        if flag == "--data" and not action.choices:
            assert action.default in action.help % {"default": action.default}, command
            assert "(" in action.help and "digits" in action.help, (command, action.help)
