"""selfdistill.nn.training.distributed: the training loop under torchrun (gloo, 2 CPU processes)
matches a single-process run.

Why they agree: both see the same global batches (DistributedSampler permutes with the same
generator as the single-process loop and gives rank r the r-strided half of each global batch),
DDP averages the two ranks' equal-size batch-mean gradients, which is the global batch mean, and
the MLP has no batch-coupled layers. What differs is only the floating-point order of the
gradient sum (two half sums added by the all-reduce), a few ulp per step. Over 32 SGD steps the
parameters agree to 1e-6 (measured: 4.5e-8, for weights up to 0.43); predictions, hence
accuracies, agree exactly.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from selfdistill.nn.data_splits import load_dataset  # noqa: E402
from selfdistill.nn.models import build_model  # noqa: E402
from selfdistill.nn.training.distributed import (  # noqa: E402
    distributed_indices,
    init_distributed,
    is_active,
    is_main_process,
    world,
)
from selfdistill.nn.training.loop import TrainConfig, accuracy, data_seed, epoch_order, fit  # noqa: E402


@given(
    world_size=st.integers(1, 4),
    local_batch=st.integers(1, 6),
    batches=st.integers(1, 5),
    extra=st.integers(0, 5),
    seed=st.integers(0, 1000),
    epoch=st.integers(0, 50),
)
def test_rank_batches_together_are_the_single_process_batch(
    world_size: int, local_batch: int, batches: int, extra: int, seed: int, epoch: int
) -> None:
    """When n and the global batch are multiples of the world size, rank r's k-th local batch is
    the r-strided part of the single process's k-th global batch."""
    batch = local_batch * world_size
    n = batches * batch + extra * world_size  # a partial last batch, still a multiple of W
    order = epoch_order(n, seed, epoch)
    shards = [
        distributed_indices(n, data_seed(seed), epoch, r, world_size) for r in range(world_size)
    ]
    assert all(len(s) == n // world_size for s in shards)
    for k in range(math.ceil(n / batch)):
        glob = order[k * batch : (k + 1) * batch]
        for r in range(world_size):
            local = shards[r][k * local_batch : (k + 1) * local_batch]
            assert local.tolist() == glob[r::world_size].tolist()


def test_padding_when_n_is_not_a_multiple_of_the_world_size() -> None:
    shards = [distributed_indices(7, 0, 0, r, 2) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 4
    assert sorted(set(shards[0].tolist()) | set(shards[1].tolist())) == list(range(7))


def test_single_process_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    info = init_distributed(device="cpu")
    assert (info.rank, info.world_size, info.device) == (0, 1, "cpu")
    assert world() == (0, 1) and is_main_process() and not is_active()
    with pytest.raises(ValueError, match="device"):
        init_distributed(device="tpu")


def test_torchrun_two_processes_match_a_single_process(tmp_path: Path) -> None:
    args = dict(
        data="digits", n_train=256, model="mlp", width=32, epochs=4, batch_size=32, lr=0.1, seed=0
    )
    cli = [f"--{k.replace('_', '-')}={v}" for k, v in args.items()]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "selfdistill.nn.training.torchrun", *cli, "--device=cpu", "--backend=gloo",
        "--no-progress", f"--out={tmp_path / 'out'}", f"--checkpoint-dir={tmp_path / 'ckpt'}",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ddp = json.loads((tmp_path / "out" / "history.json").read_text())
    ddp_state = torch.load(tmp_path / "out" / "model.pt", weights_only=True)
    assert ddp["world_size"] == 2
    # rank 0 alone wrote one checkpoint, which holds both ranks' random states
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["checkpoint.pt"]
    ckpt = torch.load(tmp_path / "ckpt" / "checkpoint.pt", weights_only=True)
    assert len(ckpt["rng"]) == 2 and ckpt["fingerprint"]["world_size"] == 2

    splits = load_dataset("digits", seed=0, n_train=256)
    model = build_model("mlp", splits.input_shape, splits.num_classes, width=32, seed=0)
    cfg = TrainConfig(epochs=4, batch_size=32, lr=0.1, seed=0, progress=False)
    single = fit(
        model, splits.x_train, splits.y_train, cfg, eval_sets={"val": (splits.x_val, splits.y_val)}
    )
    for key, value in model.state_dict().items():
        torch.testing.assert_close(ddp_state[key], value, atol=1e-6, rtol=0)
    assert len(ddp["epochs"]) == 4
    for a, b in zip(ddp["epochs"], single.epochs, strict=True):
        assert a["train_acc"] == b["train_acc"] and a["val_acc"] == b["val_acc"]
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-6)
        assert a["lr"] == pytest.approx(b["lr"], rel=1e-12)
    assert ddp["test_acc"] == accuracy(model, splits.x_test, splits.y_test)
    assert single.last["val_acc"] > 0.5  # it learned something, so agreement is not trivial
