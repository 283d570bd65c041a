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
