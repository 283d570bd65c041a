"""Regression tests of issue 24, part A: no lost data, no traceback, clear interrupts.

Each case is a command a user could type (or a fault they could meet); each must end with one
line ``selfdistill CMD: error: ...`` and status 2 (an interrupt: one line and status 130 / 143),
and leave the user's files as they were. The signal tests with real processes are in
``tests/cli/test_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from selfdistill._util import outdir
from selfdistill._util.io import atomic_write_bytes, write_json
from selfdistill._util.outdir import (
    OWNER_NAME,
    check_output_file,
    folder_owner,
    output_folder,
    results_owner,
)
from selfdistill.cli import main
from selfdistill.exceptions import Interrupted
from selfdistill.execution import Execution, check_ray_address, run_sweep

CHAIN = ["chain", "--data", "digits", "--n-train", "60", "--generations", "2", "--epochs", "1"]
CHAIN += ["--width", "8", "--seeds", "0", "--no-progress"]
NOISY = ["noisy", "--data", "digits", "--n-train", "60", "--epochs", "1", "--width", "8"]
NOISY += ["--method", "ce", "--noise", "0.2", "--seeds", "0", "--no-progress"]

#: results.json of each command, as each writes it (the keys :func:`results_owner` reads)
RESULTS = {
    "noisy": {"config": {"methods": ["ce"], "noises": [0.2], "seeds": [0]}, "runs": []},
    "chain": {"config": {"chain": {}, "seeds": [0]}, "runs": [], "summary": {}},
    "reproduce borup-fig2": {"experiment": "borup-fig2", "config": {}, "results": {}},
}


def _error_line(capsys, argv: list[str], *needles: str, status: int = 2) -> str:
    """Run ``main(argv)``; assert the status and one stderr line naming every needle."""
    assert main(argv) == status
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"selfdistill {argv[0]}: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in captured.err
    return lines[0]


def _run_folder(path: Path, command: str, *, legacy: bool = False) -> bytes:
    """A finished run folder of ``command`` (without the owner file when ``legacy``: made
    before it existed); returns its results.json."""
    path.mkdir(parents=True)
    write_json(path / "results.json", RESULTS[command])
    if not legacy:
        write_json(path / OWNER_NAME, {"command": command})
    return (path / "results.json").read_bytes()


@pytest.fixture
def no_write_access(monkeypatch):
    """Folders named here count as read-only even for root (who may write anywhere)."""
    denied: list[Path] = []
    real = os.access

    def access(path, mode, *args, **kwargs):
        if mode & os.W_OK and any(Path(path) == d for d in denied):
            return False
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(outdir.os, "access", access)
    return denied


# ---- umask ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_files_honour_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = atomic_write_bytes(tmp_path / "f.json", b"{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_a_write_error_names_the_file(tmp_path):
    """A file-size limit (RLIMIT_FSIZE) gives EFBIG, "File too large", without a file name."""
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
        "from selfdistill._util.io import atomic_write_bytes\n"
        "try:\n"
        f"    atomic_write_bytes({str(tmp_path / 'big.bin')!r}, b'x' * 5000)\n"
        "except OSError as exc:\n"
        "    print(exc.strerror, '|', exc.filename)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == f"File too large | {tmp_path / 'big.bin'}", done
    assert not list(tmp_path.iterdir())  # the temporary file is removed


def test_the_cli_names_the_file_it_could_not_write(tmp_path):
    out = tmp_path / "o"
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))\n"
        "from selfdistill.cli import main\n"
        f"sys.exit(main(['reproduce', 'borup-fig2', '--quick', '--no-progress', '--out', {str(out)!r}]))\n"  # noqa: E501
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("selfdistill reproduce: error: File too large: "), done.stderr
    assert str(out) in last and "Traceback" not in done.stderr


# ---- an output never replaces an input ---------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    from selfdistill.nn.data_splits import load_dataset
    from selfdistill.nn.models import ModelSpec
    from selfdistill.nn.saved import model_card, save_model

    data = load_dataset("digits", seed=0, n_train=60)
    net = ModelSpec("mlp", width=8).build(data.input_shape, data.num_classes, seed=0)
    folder = tmp_path_factory.mktemp("model")
    save_model(
        folder, net, model_card(data, ModelSpec("mlp", width=8), method="ce", params={}, seed=0)
    )
    return folder


@pytest.fixture
def table(tmp_path) -> Path:
    path = tmp_path / "mine.csv"
    rng = np.random.default_rng(0)
    rows = [",".join(f"x{i}" for i in range(64)) + ",label"]
    rows += [",".join(map(str, rng.integers(0, 16, 64))) + f",{k % 10}" for k in range(5)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_predict_refuses_to_write_over_its_data(capsys, model, table, tmp_path):
    before = table.read_bytes()
    link = tmp_path / "link.csv"
    link.symlink_to(table)
    for out in (table, link, tmp_path / "." / "mine.csv"):
        argv = ["predict", "--model", str(model), "--data", str(table), "--out", str(out)]
        _error_line(capsys, argv, "--out", "is the --data file", "replace your input")
    argv = ["predict", "--model", str(model), "--data", str(link), "--out", str(table)]
    _error_line(capsys, argv, "is the --data file")
    assert table.read_bytes() == before


def test_predict_refuses_to_write_over_its_model(capsys, model, table):
    card = (model / "model.json").read_bytes()
    for name in ("model.json", "model.pt"):
        argv = ["predict", "--model", str(model), "--data", str(table), "--out", str(model / name)]
        _error_line(capsys, argv, "--out", f"--model {name}")
    assert (model / "model.json").read_bytes() == card


def test_predict_out_that_cannot_be_a_file(capsys, model, table, tmp_path, no_write_access):
    argv = ["predict", "--model", str(model), "--data", str(table), "--out"]
    _error_line(capsys, [*argv, str(tmp_path)], "--out must be a file", "is a folder")
    _error_line(capsys, [*argv, str(table / "p.csv")], "lies under the file")
    locked = tmp_path / "locked"
    locked.mkdir()
    no_write_access.append(locked)
    _error_line(capsys, [*argv, str(locked / "p.csv")], "not writable", str(locked))
    assert main([*argv, str(tmp_path / "new" / "p.csv")]) == 0
    capsys.readouterr()


def test_check_output_file_refuses_hard_links_and_own_outputs(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n")
    os.link(data, tmp_path / "hard.csv")
    with pytest.raises(ValueError, match="is the --data file"):
        check_output_file(tmp_path / "hard.csv", name="--x", inputs={"--data": data})
    with pytest.raises(ValueError, match="own output"):
        check_output_file(tmp_path / "r.json", name="--x", outputs=[tmp_path / "r.json"])
    assert check_output_file(tmp_path / "ok.csv", name="--x", inputs={"--data": data})


def test_export_relabelled_may_not_replace_the_data(capsys, table, tmp_path):
    before = table.read_bytes()
    argv = ["noisy", "--data", str(table), "--noise", "0.2", "--out", str(tmp_path / "o")]
    _error_line(capsys, [*argv, "--export-relabelled", str(table)], "is the --data file")
    own = tmp_path / "o" / "runs.csv"
    _error_line(capsys, [*argv, "--export-relabelled", str(own)], "own output")
    assert table.read_bytes() == before and not (tmp_path / "o").exists()


# ---- a folder belongs to the command that made it ----------------------------------------------


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize(
    ("owner", "argv"),
    [
        ("noisy", CHAIN),
        ("chain", NOISY),
        ("reproduce borup-fig2", CHAIN),
        ("noisy", ["reproduce", "mobahi-fig3", "--quick", "--no-progress"]),
        ("chain", ["reproduce", "borup-fig2", "--quick", "--no-progress"]),
        ("reproduce borup-fig2", ["reproduce", "mobahi-fig2", "--quick", "--no-progress"]),
    ],
)
def test_a_command_refuses_another_commands_folder(capsys, tmp_path, owner, argv, legacy):
    pytest.importorskip("torch")
    out = tmp_path / "out"
    before = _run_folder(out, owner, legacy=legacy)
    files = sorted(p.name for p in out.iterdir())
    for extra in ([], ["--dry-run"]):
        _error_line(capsys, [*argv, "--out", str(out), *extra], f"belongs to `selfdistill {owner}`")
    assert (out / "results.json").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == files  # nothing written, not even a lock


def test_clean_folders_are_owned_too(capsys, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "c"
    out.mkdir()
    write_json(out / "results.json", {"command": "clean", "settings": {}})
    assert results_owner({"command": "clean"}) == "clean"
    _error_line(capsys, [*NOISY, "--out", str(out)], "belongs to `selfdistill clean`")
    _run_folder(tmp_path / "n", "noisy")
    argv = ["clean", "--data", "digits", "--epochs", "1", "--out", str(tmp_path / "n")]
    _error_line(capsys, argv, "belongs to `selfdistill noisy`")


def test_state_files_name_the_owner_too(tmp_path):
    (tmp_path / "state").mkdir()
    write_json(tmp_path / "state" / "noisy-config.json", {})
    assert folder_owner(tmp_path) == "noisy"
    assert folder_owner(tmp_path / "missing") is None
    (tmp_path / "results.json").write_text("not json")
    assert folder_owner(tmp_path) == "unknown"
    assert results_owner({"runs": []}) is None


def test_a_results_json_no_command_wrote_is_not_replaced(capsys, tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "results.json").write_text('{"my": "numbers"}')
    _error_line(capsys, [*CHAIN, "--out", str(out)], "no selfdistill command wrote")
    assert (out / "results.json").read_text() == '{"my": "numbers"}'


def test_the_owner_is_recorded_and_the_same_command_may_resume(tmp_path):
    with output_folder(tmp_path / "o", command="noisy") as out:
        pass
    assert json.loads((out / OWNER_NAME).read_text()) == {"command": "noisy"}
    with output_folder(out, command="noisy"):
        pass
    with pytest.raises(ValueError, match="belongs to `selfdistill noisy`"):
        with output_folder(out, command="chain"):
            pass


def test_python_state_folders_of_another_kind_are_refused(tmp_path):
    pytest.importorskip("torch")
    from selfdistill.nn.chains.store import check_state

    check_state(tmp_path, {"a": 1}, name="noisy-config.json")
    with pytest.raises(ValueError, match=r"another kind of run \(noisy-config.json\)"):
        check_state(tmp_path, {"a": 1})


def test_demo_refuses_another_commands_folder(capsys, tmp_path):
    out = tmp_path / "demo"
    _run_folder(out, "chain")
    _error_line(capsys, ["demo", "--only", "borup-fig2", "--out", str(out)], "`selfdistill chain`")
    _run_folder(tmp_path / "d2" / "borup-fig2", "chain")
    argv = ["demo", "--only", "borup-fig2", "--out", str(tmp_path / "d2")]
    _error_line(capsys, argv, "borup-fig2 belongs to `selfdistill chain`")


# ---- every output path and every option, before the first file --------------------------------


@pytest.mark.parametrize("command", [CHAIN, NOISY])
def test_tensorboard_that_is_a_file(capsys, tmp_path, command):
    pytest.importorskip("torch")
    (tmp_path / "tb").write_text("x")
    argv = [*command, "--out", str(tmp_path / "o"), "--tensorboard", str(tmp_path / "tb")]
    _error_line(capsys, argv, "--tensorboard must be a folder")
    _error_line(capsys, [*argv, "--dry-run"], "--tensorboard must be a folder")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("sub", ["state", "runs", ""])
def test_read_only_output_folders(capsys, tmp_path, sub, no_write_access):
    pytest.importorskip("torch")
    out = tmp_path / "o"
    (out / sub).mkdir(parents=True, exist_ok=True)
    no_write_access.append(out / sub if sub else out)
    _error_line(capsys, [*NOISY, "--out", str(out)], "not writable", str(out / sub))
    assert [p.name for p in out.iterdir()] == ([sub] if sub else [])


@pytest.mark.parametrize("sub", ["state", "runs"])
def test_a_file_where_the_command_keeps_a_folder(capsys, tmp_path, sub):
    pytest.importorskip("torch")
    out = tmp_path / "o"
    out.mkdir()
    (out / sub).write_text("mine")
    _error_line(capsys, [*NOISY, "--out", str(out)], f"{out / sub} is a file")
    assert [p.name for p in out.iterdir()] == [sub] and (out / sub).read_text() == "mine"


def test_read_only_export_folder_fails_before_training(capsys, tmp_path, no_write_access):
    pytest.importorskip("torch")
    locked = tmp_path / "locked"
    locked.mkdir()
    no_write_access.append(locked)
    argv = [*NOISY, "--out", str(tmp_path / "o"), "--export-relabelled", str(locked / "x.csv")]
    _error_line(capsys, argv, "--export-relabelled", "not writable")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    "command",
    [NOISY, CHAIN, ["reproduce", "mobahi-fig3", "--quick", "--no-progress"]],
    ids=["noisy", "chain", "reproduce"],
)
def test_n_train_larger_than_the_data_fails_up_front(capsys, tmp_path, command):
    pytest.importorskip("torch")
    argv = [*command, "--out", str(tmp_path / "o"), "--n-train", "100000"]
    _error_line(capsys, argv, "n_train")
    assert not (tmp_path / "o").exists()


def test_noise_named_twice_is_short(capsys, tmp_path):
    pytest.importorskip("torch")
    argv = [*NOISY, "--noise", "0,0.2,0.2", "--out", str(tmp_path / "o")]
    line = _error_line(capsys, argv, "--noise names 0.2 more than once")
    assert len(line) < 120


def test_ray_address_where_nothing_listens(capsys, tmp_path, monkeypatch):
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"--ray-address 127\.0\.0\.1:1: no Ray cluster"):
        check_ray_address("127.0.0.1:1", timeout=5.0)
    with pytest.raises(RuntimeError, match=r"ray://127\.0\.0\.1:1"):
        check_ray_address("ray://127.0.0.1:1", timeout=5.0)
    assert check_ray_address("auto") == "auto"
    assert time.monotonic() - start < 15
    pytest.importorskip("ray")
    pytest.importorskip("torch")
    argv = [*NOISY, "--executor", "ray", "--ray-address", "127.0.0.1:1", "--out", str(tmp_path)]
    _error_line(capsys, argv, "127.0.0.1:1")


@pytest.mark.parametrize(("owner", "command"), [("chain", NOISY), ("noisy", CHAIN)])
def test_config_of_another_command(capsys, tmp_path, owner, command):
    pytest.importorskip("torch")
    path = tmp_path / "results.json"
    path.write_text(json.dumps({**RESULTS[owner], "config": {
        **RESULTS[owner]["config"], "options": {"epochs": 1}}}))  # fmt: skip
    argv = [*command, "--config", str(path), "--out", str(tmp_path / "o")]
    _error_line(
        capsys, argv, f"results.json of `selfdistill {owner}`", f"not of `selfdistill {command[0]}`"
    )


def test_replot_of_another_commands_folder(capsys, tmp_path):
    _run_folder(tmp_path / "c", "chain")
    argv = ["reproduce", "borup-fig2", "--replot", str(tmp_path / "c")]
    _error_line(capsys, argv, "the results of `selfdistill chain`", "reproduce borup-fig2")
    _run_folder(tmp_path / "r", "reproduce borup-fig2")
    argv = ["reproduce", "mobahi-fig2", "--replot", str(tmp_path / "r")]
    _error_line(capsys, argv, "`selfdistill reproduce borup-fig2`")


# ---- interrupts ---------------------------------------------------------------------------------


def _square(spec):
    if spec["i"] == 2:
        raise KeyboardInterrupt
    return {"y": spec["i"] ** 2}


def test_an_interrupted_sweep_counts_the_runs_it_kept(tmp_path):
    specs = [{"i": i} for i in range(5)]
    with pytest.raises(Interrupted) as info:
        run_sweep(_square, specs, store=tmp_path, progress=False)
    assert (info.value.kept, info.value.total, info.value.signum) == (2, 5, signal.SIGINT)
    assert info.value.message() == (
        "interrupted; 2 of 5 runs kept, rerun the same command to resume"
    )
    assert len(list(tmp_path.glob("*.json"))) == 2
    with pytest.raises(Interrupted) as info:  # without a store nothing is kept
        run_sweep(_square, specs, progress=False, execution=Execution())
    assert info.value.kept == 0


def test_the_cli_prints_one_line_and_exits_130_or_143(capsys, monkeypatch, tmp_path):
    import selfdistill.commands.demo as demo

    for raised, status, needle in [
        (KeyboardInterrupt(), 130, "interrupted; rerun the same command to resume"),
        (Interrupted(signal.SIGTERM, 3, 8), 143, "interrupted (SIGTERM); 3 of 8 runs kept"),
    ]:

        def stop(args, raised=raised):
            raise raised

        monkeypatch.setattr(demo, "main", stop)
        _error_line(capsys, ["demo", "--out", str(tmp_path)], needle, status=status)


def test_the_guarantees_page_names_tests_that_exist():
    """docs/guarantees.md, "Files and signals": every test it cites is one of these files'."""
    page = Path(__file__).parents[2] / "docs" / "guarantees.md"
    section = page.read_text(encoding="utf-8").split("## Files and signals")[1].split("\n## ")[0]
    cited = set(re.findall(r"`(test_\w+)`", section))
    here = Path(__file__).parent
    defined = set()
    for name in ("test_files_signals.py", "test_fuzz.py"):
        defined |= set(re.findall(r"^def (test_\w+)", (here / name).read_text(), re.M))
    assert len(cited) >= 15 and cited <= defined, sorted(cited - defined)


def test_noisy_on_a_users_file_injects_nothing_and_says_so(tmp_path: Path, capsys) -> None:
    # issue 22 item 5: without --noise, a user's file is trained as it is, said in one line
    # that comes only after every check has passed (the error lines above stay alone)
    x = np.random.default_rng(0).normal(size=(60, 3))
    table = tmp_path / "mine.csv"
    rows = [f"{a},{b},{c},{int(a > 0)}" for a, b, c in x]
    table.write_text("a,b,c,label\n" + "\n".join(rows) + "\n")
    argv = [a for a in NOISY if a not in ("--noise", "0.2")]
    argv[argv.index("digits")] = str(table)
    argv += ["--n-train", "30", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("no noise injected (--noise 0)") == 1
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["config"]["noises"] == [0.0]
