"""Train one model data-parallel from the command line (run it with ``torchrun``)::

    torchrun --nproc_per_node 2 -m selfdistill.nn.training.torchrun --data digits --model mlp \\
        --epochs 5 --out runs/ddp

Without ``torchrun`` (``python -m selfdistill.nn.training.torchrun ...``) the same job runs in one
process. Rank 0 writes ``OUT/history.json`` and ``OUT/model.pt``.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import torch

from ..._util.io import atomic_write_bytes, write_json
from ...catalog import DATASETS, MODELS, OPTIMIZERS, SCHEDULES
from ..data_splits import load_dataset, random_crop_flip
from ..models import build_model
from .distributed import barrier, cleanup, init_distributed, is_main_process
from .loop import TrainConfig, accuracy, fit

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="torchrun --nproc_per_node N -m selfdistill.nn.training.torchrun",
        description="Train one model data-parallel with DistributedDataParallel.",
    )
    p.add_argument("--data", default="digits", choices=DATASETS, help="data set (default digits)")
    p.add_argument("--data-dir", default=None, help="folder of on-disk data sets")
    p.add_argument("--n-train", type=int, default=None, help="training samples to keep")
    p.add_argument("--model", default="mlp", choices=MODELS, help="model (default mlp)")
    p.add_argument("--width", type=int, default=None, help="model width (default per model)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128, help="global batch size")
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--schedule", default="cosine", choices=SCHEDULES)
    p.add_argument("--seed", type=int, default=0, help="seed of data split, init and order")
    p.add_argument("--device", default=None, choices=("cpu", "cuda"))
    p.add_argument("--backend", default=None, choices=("gloo", "nccl"))
    p.add_argument("--checkpoint-dir", default=None, help="resume from / checkpoint to here")
    p.add_argument("--out", required=True, help="output folder (history.json, model.pt)")
    p.add_argument(
        "--augment", action="store_true", help="random crop (padding 4) and flip, for images"
    )
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Train a model on a data set, data-parallel under ``torchrun`` (or in one process).

    Rank 0 writes ``OUT/history.json`` (per-epoch metrics, all-reduced over ranks, plus the final
    test accuracy) and ``OUT/model.pt`` (the final state dict).
    """
    args = build_parser().parse_args(argv)
    info = init_distributed(backend=args.backend, device=args.device)
    try:
        splits = load_dataset(
            args.data, data_dir=args.data_dir, seed=args.seed, n_train=args.n_train
        )
        model = build_model(
            args.model, splits.input_shape, splits.num_classes, width=args.width, seed=args.seed
        )
        config = TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            lr=args.lr,
            weight_decay=args.weight_decay,
            schedule=args.schedule,
            seed=args.seed,
            device=info.device,
            progress=not args.no_progress and info.rank == 0,
        )
        history = fit(
            model,
            splits.x_train,
            splits.y_train,
            config,
            eval_sets={"val": (splits.x_val, splits.y_val)},
            checkpoint_dir=args.checkpoint_dir,
            augment=random_crop_flip if args.augment else None,
        )
        test_acc = accuracy(model, splits.x_test, splits.y_test, device=info.device)
        if is_main_process():
            out = Path(args.out)
            write_json(
                out / "history.json",
                {"world_size": info.world_size, "epochs": history.epochs, "test_acc": test_acc},
            )
            buf = io.BytesIO()
            torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buf)
            atomic_write_bytes(out / "model.pt", buf.getvalue())
            print(
                f"world size {info.world_size}: val acc {history.epochs[-1].get('val_acc'):.4f}, "
                f"test acc {test_acc:.4f}",
                file=sys.stderr,
            )
        barrier()
    finally:
        cleanup()
    return 0


if __name__ == "__main__":  # pragma: no cover - exercised through torchrun in the tests
    raise SystemExit(main())
