"""Damaged state files of resumable runs (issue 11, item 14).

A chain's generation record or weights that were truncated or altered are detected on resume
(the record keeps the weights' SHA-256 and size) and the generation is retrained with a
:class:`DamagedStateWarning`, giving the same records as an undamaged run; a damaged
``chain-config.json`` or ``fit`` checkpoint is a ValueError naming the file and what to do.
"""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from selfdistill.exceptions import DamagedStateWarning  # noqa: E402
from selfdistill.nn.chains.run import ChainConfig, run_chain  # noqa: E402
from selfdistill.nn.data_splits import load_dataset  # noqa: E402
from selfdistill.nn.training.checkpoint import CHECKPOINT_NAME  # noqa: E402
from selfdistill.nn.training.loop import Callback, TrainConfig, fit  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return load_dataset("digits", seed=0, n_train=120, n_val=40, n_test=40)


CONFIG = ChainConfig(
    generations=3,
    alpha=0.3,
    loss="mse",
    width=8,
    train=TrainConfig(epochs=1, batch_size=32, lr=0.2, progress=False),
)


def strip(records):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    return strip(run_chain(data, CONFIG, 0, state_dir=tmp_path_factory.mktemp("ref")))


class Count(Callback):
    def __init__(self):
        self.epochs = 0

    def on_epoch_end(self, epoch, metrics, model):
        self.epochs += 1


def _truncate(path, keep=0.5):
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * keep)])


def _rerun(data, state, **kw):
    counter = Count()
    with pytest.warns(DamagedStateWarning) as caught:
        records = run_chain(data, CONFIG, 0, state_dir=state, callbacks=[counter], **kw)
    return strip(records), counter.epochs, [str(w.message) for w in caught]


def test_records_keep_the_weights_checksum_but_results_do_not(data, tmp_path, reference):
    run_chain(data, CONFIG, 0, state_dir=tmp_path)
    saved = json.loads((tmp_path / "seed-0" / "fixed" / "gen-3.json").read_text())
    assert set(saved["_weights"]) == {"sha256", "bytes"}
    assert saved["_weights"]["bytes"] == (tmp_path / "seed-0" / "fixed" / "gen-3.pt").stat().st_size
    assert all("_weights" not in r for r in reference)


@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_a_truncated_record_is_retrained_with_a_warning(data, tmp_path, reference, keep):
    run_chain(data, CONFIG, 0, state_dir=tmp_path)
    damaged = tmp_path / "seed-0" / "fixed" / "gen-2.json"
    _truncate(damaged, keep)
    # gen-2's weights were dropped once gen 3 finished: its teacher gen 1 is kept, so only
    # generation 2 is trained again; generation 3's record is intact and read as it is.
    records, epochs, messages = _rerun(data, tmp_path)
    assert records == reference
    assert epochs == 1
    assert any(str(damaged) in m and "retrained" in m for m in messages)
    assert json.loads(damaged.read_text())["generation"] == 2  # written anew


def test_damaged_teacher_weights_are_rebuilt_from_the_last_intact_generation(
    data, tmp_path, reference
):
    # A chain interrupted after generation 2 whose gen-2 weights were then truncated.
    run_chain(data, CONFIG, 0, state_dir=tmp_path, keep_weights=True)
    fixed = tmp_path / "seed-0" / "fixed"
    for suffix in (".json", ".pt"):
        (fixed / f"gen-3{suffix}").unlink()
    _truncate(fixed / "gen-2.pt")
    records, epochs, messages = _rerun(data, tmp_path)
    assert records == reference  # the same seeds give the same weights
    assert epochs == 2  # generation 2 rebuilt from generation 1, then generation 3
    assert any(str(fixed / "gen-2.pt") in m for m in messages)
    assert not (fixed / "gen-2.pt").exists()  # dropped again once generation 3 finished


def test_altered_weights_of_the_right_size_are_caught_by_the_checksum(data, tmp_path, reference):
    run_chain(data, CONFIG, 0, state_dir=tmp_path, keep_weights=True)
    fixed = tmp_path / "seed-0" / "fixed"
    for suffix in (".json", ".pt"):
        (fixed / f"gen-3{suffix}").unlink()
    blob = bytearray((fixed / "gen-2.pt").read_bytes())
    blob[-200] ^= 0xFF  # inside the tensor data: torch would load it without complaint
    (fixed / "gen-2.pt").write_bytes(bytes(blob))
    records, epochs, messages = _rerun(data, tmp_path)
    assert records == reference
    assert epochs == 2
    assert any("checksum" in m for m in messages)


def test_damaged_first_generation_weights_are_retrained(data, tmp_path, reference):
    run_chain(data, CONFIG, 0, state_dir=tmp_path, keep_weights=True)
    fixed = tmp_path / "seed-0" / "fixed"
    for suffix in (".json", ".pt"):
        (fixed / f"gen-3{suffix}").unlink()
    (fixed / "gen-2.pt").unlink()
    _truncate(tmp_path / "seed-0" / "gen-1.pt", 0.1)
    records, epochs, _ = _rerun(data, tmp_path)
    assert records == reference
    assert epochs == 3


def test_a_damaged_chain_config_names_the_file(data, tmp_path):
    run_chain(data, CONFIG, 0, state_dir=tmp_path)
    _truncate(tmp_path / "chain-config.json")
    with pytest.raises(ValueError, match=r"chain-config\.json is damaged .*delete"):
        run_chain(data, CONFIG, 0, state_dir=tmp_path)


def test_chain_command_survives_a_truncated_record(tmp_path, capsys):
    from selfdistill.cli import main

    out = tmp_path / "run"
    argv = ["chain", "--data", "digits", "--n-train", "100", "--generations", "3", "--epochs", "1"]
    argv += ["--seeds", "0", "--width", "8", "--alpha", "0.2", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    first = json.loads((out / "results.json").read_text())["runs"]
    _truncate(out / "state" / "seed-0" / "fixed" / "gen-2.json")
    with pytest.warns(DamagedStateWarning, match="gen-2.json is damaged"):
        assert main(argv) == 0
    again = json.loads((out / "results.json").read_text())["runs"]
    assert [strip(r["generations"]) for r in again] == [strip(r["generations"]) for r in first]


@pytest.mark.parametrize("damage", ["truncate", "empty", "foreign"])
def test_a_damaged_fit_checkpoint_names_the_file_and_says_to_delete_it(tmp_path, damage):
    x = torch.randn(40, 5)
    y = torch.arange(40) % 3
    config = TrainConfig(epochs=2, batch_size=16, progress=False)
    fit(torch.nn.Linear(5, 3), x, y, config, checkpoint_dir=tmp_path)
    path = tmp_path / CHECKPOINT_NAME
    if damage == "truncate":
        _truncate(path)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match=rf"checkpoint {path} is damaged .*delete it"):
        fit(torch.nn.Linear(5, 3), x, y, config, checkpoint_dir=tmp_path)
    path.unlink()  # what the message says: the fit restarts from the first epoch
    fit(torch.nn.Linear(5, 3), x, y, config, checkpoint_dir=tmp_path)
