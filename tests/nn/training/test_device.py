"""``--device auto`` and a device this machine lacks: one helper, a one-line error, exit 2."""

from __future__ import annotations

import argparse

import pytest

from selfdistill.cli import build_parser, main
from selfdistill.experiments import EXPERIMENTS, add_experiment_arguments

torch = pytest.importorskip("torch")

from selfdistill.nn import TrainConfig, resolve_device  # noqa: E402

NO_CUDA = not torch.cuda.is_available()


def test_auto_is_cuda_when_available_else_cpu():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu" and resolve_device(torch.device("cpu")) == "cpu"
    assert TrainConfig(device="auto").device == resolve_device("auto")


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_cuda_without_cuda_is_a_value_error(name):
    with pytest.raises(ValueError, match=rf"device '{name}' is not available"):
        resolve_device(name)
    with pytest.raises(ValueError, match="not available"):
        TrainConfig(device=name)


@pytest.mark.skipif(NO_CUDA, reason="needs CUDA")
def test_a_gpu_index_past_the_last_is_a_value_error():
    count = torch.cuda.device_count()
    assert resolve_device("cuda:0") == "cuda:0"
    with pytest.raises(ValueError, match=f"{count} CUDA device"):
        resolve_device(f"cuda:{count}")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", ""])
def test_a_name_that_is_not_a_device(name):
    with pytest.raises(ValueError, match="device must be 'auto' or a torch device"):
        resolve_device(name)


def test_device_defaults_to_auto_everywhere():
    parser = build_parser()
    for command in ("chain", "noisy"):
        assert parser.parse_args([command]).device == "auto"
    with_device = []
    for name in EXPERIMENTS:
        p = argparse.ArgumentParser()
        add_experiment_arguments(p, name)
        if any(a.dest == "device" for a in p._actions):
            with_device.append(name)
            assert p.parse_args([]).device == "auto", name
    assert len(with_device) >= 8  # every network reproduction


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["chain", "noisy"])
def test_the_cli_refuses_a_missing_device_in_one_line(tmp_path, capsys, command):
    out = tmp_path / "out"
    assert main([command, "--device", "cuda", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"selfdistill {command}: error: device 'cuda' is not available")
    assert err.count("\n") == 1 and not out.exists()


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_a_reproduction_refuses_a_missing_device_before_writing(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["reproduce", "dong-theorem1", "--quick", "--device", "cuda:1", "--out", str(out)]
    assert main(argv) == 2
    assert "device 'cuda:1' is not available" in capsys.readouterr().err
    assert not out.exists()
