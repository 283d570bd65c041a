"""Instructions per training step of self-distillation and of plain cross-entropy (callgrind).

Time on a shared virtual machine drifts by several percent between runs (see
``sd_overhead.py``); the number of executed instructions does not. This script runs one short
``fit`` per (loss, epochs) under ``valgrind --tool=callgrind`` — 1 and ``--epochs`` epochs of 20
steps each for plain cross-entropy and for the self-distillation loss (hardmax, accuracy
schedule), the 2 × 256 MLP on 2,560 MNIST-1D samples — and differences the long and the 1-epoch
totals, which cancels the interpreter's start-up and the imports (with ``PYTHONHASHSEED=0``, so
that the imports execute the same instructions in every run: they are 14 G instructions, and a
0.1 % wobble there would be 30 % of the rule's cost). Prints a JSON summary with the
instructions per step of each loss and their ratio. Needs ``valgrind``; about 15 minutes on 2
cores with the default 9 epochs.

    python benchmarks/sd_instructions.py
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

N_TRAIN, BATCH = 2560, 128
STEPS_PER_EPOCH = N_TRAIN // BATCH


def train(loss: str, epochs: int, width: int) -> None:
    """The measured program: ``epochs`` epochs of ``fit`` with the loss ``loss``."""
    from selfdistill.nn import TrainConfig, build_model, fit, load_dataset
    from selfdistill.nn.noisy.dong import SelfDistillationLoss, SelfDistillationTarget
    from selfdistill.nn.training.loop import cross_entropy_loss

    data = load_dataset("mnist1d", n_train=N_TRAIN, seed=0)
    config = TrainConfig(epochs=epochs, batch_size=BATCH, device="cpu", progress=False)
    loss_fn = (
        cross_entropy_loss
        if loss == "ce"
        else SelfDistillationLoss(SelfDistillationTarget("hardmax", "accuracy", lam=1.0))
    )
    model = build_model("mlp", data.input_shape, data.num_classes, width=width, seed=0)
    fit(model, data.x_train, data.y_train, config, loss_fn=loss_fn)


def instructions(loss: str, epochs: int, width: int) -> int:
    """Instructions executed by :func:`train` in a fresh interpreter under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={os.path.join(tmp, 'out')}",
            sys.executable,
            __file__,
            "--_train",
            loss,
            str(epochs),
            str(width),
        ]
        env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    match = re.search(r"Collected : (\d+)", proc.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{proc.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=256, help="MLP width (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=9, help="the long run's epochs (>= 2)")
    parser.add_argument("--jobs", type=int, default=2, help="valgrind runs at once")
    parser.add_argument("--out", default=None, help="optional JSON output path")
    parser.add_argument("--_train", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._train:
        loss, epochs, width = args._train
        train(loss, int(epochs), int(width))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is needed (apt install valgrind)")
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2, got {args.epochs}")
    runs = [(loss, epochs) for loss in ("ce", "sd") for epochs in (1, args.epochs)]
    with ThreadPoolExecutor(args.jobs) as pool:
        totals = pool.map(lambda run: instructions(*run, args.width), runs)
        counts = dict(zip(runs, totals, strict=True))
    steps = (args.epochs - 1) * STEPS_PER_EPOCH
    long_run = args.epochs
    per_step = {loss: (counts[loss, long_run] - counts[loss, 1]) / steps for loss in ("ce", "sd")}
    summary = {
        "model": f"mlp width {args.width}",
        "n_train": N_TRAIN,
        "batch_size": BATCH,
        "steps_differenced": steps,
        "instructions_total": {f"{loss}, {e} epochs": n for (loss, e), n in counts.items()},
        "instructions_per_step": per_step,
        "sd_over_ce": per_step["sd"] / per_step["ce"],
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        from selfdistill._util.io import write_json

        write_json(args.out, summary)


if __name__ == "__main__":
    main()
