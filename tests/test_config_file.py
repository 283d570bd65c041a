"""``--config FILE`` for chain and noisy: TOML keys, precedence, errors, repeat from results.json.

The parser-level tests need no torch: they compare the namespace parsed with a config file
against the namespace parsed from the equivalent command line written out by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfdistill.cli import build_parser, main
from selfdistill.config_file import argv_with_config, config_argv, resolved_options

PARSER = build_parser()


def _sub(command: str):
    return PARSER.parse_args([command])._parser


def _parse(argv: list[str]):
    args = PARSER.parse_args(argv)
    if args.config is not None:
        args = PARSER.parse_args(argv_with_config(args._parser, argv, args.command, args.config))
    return {k: v for k, v in vars(args).items() if k not in ("_main", "_parser", "config")}


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text)
    return path


def test_toml_keys_are_long_option_names_and_the_command_line_wins(tmp_path):
    path = _toml(
        tmp_path,
        'data = "my.csv"\nlabel-column = "y"\nn_train = 50\nseeds = [0, 1, 2]\n'
        "lam = -1\nnoise = 0\nno-progress = true\nepochs = 5\n",
    )
    by_file = _parse(["noisy", "--config", str(path), "--epochs", "7"])
    by_hand = _parse(
        ["noisy", "--data", "my.csv", "--label-column", "y", "--n-train", "50", "--seeds",
         "0,1,2", "--lam=-1", "--noise", "0", "--no-progress", "--epochs", "7"]
    )  # fmt: skip
    assert by_file == by_hand
    assert by_file["epochs"] == 7 and by_file["n_train"] == 50 and by_file["lam"] == -1.0
    # an option given before --config on the command line still wins over the file
    assert _parse(["noisy", "--epochs", "3", "--config", str(path)])["epochs"] == 3


def test_flags_by_option_name_or_by_destination(tmp_path):
    chain = _sub("chain")
    assert config_argv(chain, {"no-clip-alpha": True, "same_init": True}) == [
        "--no-clip-alpha",
        "--same-init",
    ]
    assert config_argv(chain, {"clip_alpha": False, "progress": True}) == ["--no-clip-alpha"]
    assert config_argv(chain, {"same-init": False, "clip_alpha": True}) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus = 1\n", "unknown option(s) bogus"),
        ("epochs = 'many'\n", "epochs = 'many' is not a valid --epochs"),
        ("model = 'transformer'\n", "model must be one of mlp, cnn, resnet18"),
        ("same-init = 1\n", "same-init must be true or false"),
        ("epochs = true\n", "epochs takes a value"),
        ("config = 'other.toml'\n", "unknown option(s) config"),
        ("epochs = \n", "run.toml"),
    ],
)
def test_bad_config_files_are_one_line_errors(tmp_path, capsys, text, message):
    path = _toml(tmp_path, text)
    out = tmp_path / "out"
    assert main(["chain", "--config", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("selfdistill chain: error: --config") and message in err
    assert err.count("\n") == 1 and not out.exists()


def test_a_missing_config_file(tmp_path, capsys):
    assert main(["noisy", "--config", str(tmp_path / "none.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_resolved_options_read_back_give_the_same_namespace(tmp_path):
    argv = ["chain", "--data", "x.npz", "--width", "9", "--no-clip-alpha", "--seeds", "4,5"]
    args = PARSER.parse_args([*argv, "--out", str(tmp_path / "o"), "--lr", "0.3"])
    record = {"config": {"options": resolved_options(args)}}
    assert "config" not in record["config"]["options"]
    (tmp_path / "results.json").write_text(json.dumps(record))
    again = _parse(["chain", "--config", str(tmp_path / "results.json")])
    original = {k: v for k, v in vars(args).items() if k not in ("_main", "_parser", "config")}
    assert again == original


def test_chain_repeats_from_its_results_json(tmp_path):
    pytest.importorskip("torch")
    first, second = tmp_path / "a", tmp_path / "b"
    toml = _toml(
        tmp_path,
        "n-train = 60\ngenerations = 2\nepochs = 1\nwidth = 8\nseeds = [0]\nalpha = 0.3\n",
    )
    assert main(["chain", "--config", str(toml), "--out", str(first), "--no-progress"]) == 0
    results = json.loads((first / "results.json").read_text())
    options = results["config"]["options"]
    assert options["n_train"] == 60 and options["alpha"] == "0.3" and options["device"] == "cpu"
    again = ["chain", "--config", str(first / "results.json"), "--out", str(second)]
    assert main(again) == 0
    repeated = json.loads((second / "results.json").read_text())

    def strip(r):
        return [[{k: v for k, v in g.items() if k != "seconds"} for g in run["generations"]]
                for run in r["runs"]]  # fmt: skip

    assert strip(repeated) == strip(results)
