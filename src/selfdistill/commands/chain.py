"""Train a chain of self-distilled network generations.

Generation 1 trains on the labels; generation t >= 2 re-initialises the student and trains it on
alpha*y + (1 - alpha)*teacher(x), the teacher being the frozen generation t - 1 (Mobahi et al. 2020,
sec. 5; Borup & Andersen 2021, sec. 5). --alpha takes one value for every step, a comma list of
one value per step 2..T, `estimate` (closed-form alpha-hat from the validation predictions of an
extra alpha = 0 fit per step, Borup sec. 5: 2(T-1)+1 fits) or `grid` (best fixed alpha of --grid on
validation: g(T-1)+1 fits).

Writes OUT/results.json ({"command": "chain", "config", "runs": [{"seed", "generations": [...]}],
"summary"}), OUT/generations.csv, OUT/accuracy.png (accuracy against generation, mean +- std over
seeds) and OUT/report.html (the page of the study: summary table, figure, settings).
Finished generations are kept in OUT/state: rerunning the same command after an interruption
continues at the first unfinished generation, with the same result. Every generation writes
OUT/models/seed-S/<chain>/gen-T/: metrics.csv (per epoch), its model (model.json card + model.pt
weights, for `selfdistill predict`; --save-models last keeps the last generation's only) and, for
the last generation, labels.csv (the training labels the model disagrees with, first).
The training flags (--model ... --device, --executor) are the ones every command that trains shares
(selfdistill.training_flags); with --loss mse on mnist1d SGD trains better at --lr 0.5-1.0 than at
its default 0.05 (on digits 0.5 is too large).

example:
  selfdistill chain --data digits --model mlp --generations 8 --alpha 0 --loss mse \\
      --epochs 60 --seeds 0,1,2 --out runs/chain
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from .._util.outdir import check_output_folder, output_folder
from .._util.validation import (
    MAX_GENERATIONS,
    check_int,
    check_real,
    parse_float_list,
    parse_seeds,
)
from ..catalog import DATASETS, DISTILL_LOSSES, canonical_loss
from ..config_file import add_config_option, resolved_options
from ..exceptions import Interrupted
from ..execution import EXECUTION_OPTIONS, execution_from_args
from ..training_flags import add_data_option, add_training_flags, file_options, training_settings
from ._dry_run import add_dry_run_option, print_dry_run
from .report import write_run_report


def _optional_int(text: str) -> int | None:
    return None if text.lower() in ("none", "") else int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    add_data_option(data, DATASETS, default="digits")
    data.add_argument(
        "--data-dir",
        default=None,
        help="folder with the on-disk files of cifar10/cifar100/fashion-mnist "
        "(default: $SELFDISTILL_DATA_DIR); nothing is downloaded",
    )
    data.add_argument(
        "--n-train",
        type=_optional_int,
        default=None,
        help="keep only this many training samples (default: all)",
    )
    data.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="fraction of the training pool held out for validation (default: %(default)s)",
    )
    data.add_argument(
        "--data-seed",
        type=int,
        default=0,
        help="seed of the train/validation/test split, the same for every run seed "
        "(default: %(default)s)",
    )

    add_training_flags(parser, epochs=60, seeds="0,1,2", omit=("depth",))

    chain = parser.add_argument_group("chain")
    chain.add_argument(
        "--same-init",
        action="store_true",
        help="re-initialise every generation with the same weights (default: fresh weights)",
    )
    chain.add_argument(
        "--generations", type=int, default=8, help="generations T (default: %(default)s)"
    )
    chain.add_argument(
        "--alpha",
        default="0",
        help="weight of the labels in steps t >= 2: a number, a comma list of T-1 numbers, "
        "'estimate' or 'grid' (default: %(default)s, pure self-distillation)",
    )
    chain.add_argument(
        "--grid",
        default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9",
        help="alpha values searched by --alpha grid (default: %(default)s)",
    )
    chain.add_argument(
        "--no-clip-alpha",
        dest="clip_alpha",
        action="store_false",
        help="train with the estimated alpha-hat even outside [0, 1] (default: clip it)",
    )
    chain.add_argument(
        "--loss",
        default="mse",
        type=canonical_loss,
        choices=DISTILL_LOSSES,
        help="mse: squared error of the softmax output (the papers' l2 setting); "
        "ce: soft-target cross-entropy (default: %(default)s)",
    )
    chain.add_argument(
        "--temperature",
        type=float,
        default=1.0,
        help="softmax temperature of ce distillation steps (default: %(default)s)",
    )
    add_config_option(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs") / "chain",
        help="output folder (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-weights",
        action="store_true",
        help="keep every generation's weights in OUT/state "
        "(default: only generation 1 and the last finished one)",
    )
    parser.add_argument(
        "--save-models",
        choices=("all", "last"),
        default="all",
        help="save the model of every generation under OUT/models, or of the last one only "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--tensorboard",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write TensorBoard event files under DIR "
        "(needs: pip install 'selfdistill[tensorboard]'; default: none written)",
    )
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress lines or bars"
    )
    add_dry_run_option(parser)


def parse_alpha(text: str, generations: int, loss: str = "mse") -> float | tuple[float, ...] | str:
    """``--alpha``: ``estimate``, ``grid``, a number, or a comma list of ``generations - 1``
    (each in [0, 1] with ``--loss ce``, any real with ``mse``)."""
    text = text.strip()
    if text in ("estimate", "grid"):
        return text
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(
            f"--alpha must be a number, a comma list of numbers, 'estimate' or 'grid', got {text!r}"
        ) from None
    bounds = {"low": 0.0, "high": 1.0} if loss == "ce" else {}
    name = "--alpha (with --loss ce)" if loss == "ce" else "--alpha"
    if len(values) == 1:
        return check_real(name, values[0], **bounds)
    if len(values) != generations - 1:
        raise ValueError(
            f"--alpha lists {len(values)} values; a list needs one per generation 2..{generations} "
            f"({generations - 1} values)"
        )
    return tuple(check_real(name, v, **bounds) for v in values)


#: the flags of :func:`~selfdistill.training_flags.training_settings` that make chain's TrainConfig
_TRAIN_KEYS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule")


def build_config(args: argparse.Namespace) -> Any:
    """The :class:`~selfdistill.nn.chains.run.ChainConfig` of the parsed options (imports torch)."""
    from ..nn.chains.run import ChainConfig
    from ..nn.training.loop import TrainConfig

    generations = check_int("--generations", args.generations, low=1, high=MAX_GENERATIONS)
    loss = args.loss
    if loss == "ce" and args.alpha.strip() == "estimate" and not args.clip_alpha:
        raise ValueError(
            "--no-clip-alpha lets the estimated alpha leave [0, 1], which --loss ce does not "
            "allow (the targets would not be probabilities); drop it or use --loss mse"
        )
    grid_bounds = {"low": 0.0, "high": 1.0} if loss == "ce" else {}
    flags = training_settings(args)
    train = TrainConfig(
        **{k: flags[k] for k in _TRAIN_KEYS}, device=args.device, progress=args.progress
    )
    return ChainConfig(
        generations=generations,
        alpha=parse_alpha(args.alpha, generations, loss),
        grid=parse_float_list("--grid", args.grid, **grid_bounds),
        loss=args.loss,
        temperature=check_real("--temperature", args.temperature, low=0.0, low_inclusive=False),
        same_init=args.same_init,
        clip_alpha=args.clip_alpha,
        model=flags["model"],
        width=flags["width"],
        train=train,
    )


def main(args: argparse.Namespace) -> int:
    seeds = parse_seeds("--seeds", args.seeds)
    check_real("--val-fraction", args.val_fraction, low=0.0, high=1.0, high_inclusive=False)
    if args.n_train is not None:
        check_int("--n-train", args.n_train, low=1)
    check_int("--data-seed", args.data_seed, low=0)
    config = build_config(args)  # validates before any data is loaded
    execution = execution_from_args(args)
    if args.dry_run:
        return print_dry_run(args, {"chain": config.describe(), "seeds": seeds}, command="chain")
    check_output_folder(args.out, command="chain")  # every output path, before any work
    if args.tensorboard is not None:
        from ..nn.training.metrics_log import check_tensorboard

        check_output_folder(args.tensorboard, name="--tensorboard")
        check_tensorboard()  # a missing package fails now, not after the training
    data = _load(args)  # a bad data file fails before --out is created
    with output_folder(args.out, command="chain") as out:
        try:
            _run(args, out, data, config, seeds, execution)
        except KeyboardInterrupt as exc:  # count the generations kept, not the seeds' chains
            kept, total = _generations_kept(out / "state", config, seeds)
            signum = getattr(exc, "signum", signal.SIGINT)
            raise Interrupted(signum, kept, total, "generations") from None
    return 0


def _generations_kept(state: Path, config: Any, seeds: list) -> tuple[int, int]:
    """Finished generation records under ``state`` and the number a finished run has (the
    shared first generation and generations 2..T of each chain of every seed)."""
    chains = len(config.grid) if config.alpha == "grid" else 1
    per_seed = 1 + chains * (config.generations - 1)
    kept = sum(1 for s in seeds for _ in (state / f"seed-{s}").rglob("gen-*.json"))
    return min(kept, per_seed * len(seeds)), per_seed * len(seeds)


def _load(args: argparse.Namespace) -> Any:
    """The splits of ``--data`` (a data set or a data file), seeded with ``--data-seed``."""
    from ..nn.data_splits import DataSpec

    return DataSpec(
        name=args.data,
        data_dir=args.data_dir,
        seed=args.data_seed,
        n_train=args.n_train,
        val_fraction=args.val_fraction,
        **file_options(args),
    ).load()


def _run(
    args: argparse.Namespace, out: Path, data: Any, config: Any, seeds: list, execution: Any
) -> None:
    """Train every seed's chain on ``data`` and write the outputs (``out`` is held)."""
    from ..nn.chains.outputs import ChainOutputs
    from ..nn.chains.run import run_chains

    if args.progress:
        print(
            f"chain: {args.data} ({len(data.y_train)} train, {len(data.y_val)} val, "
            f"{len(data.y_test)} test), {args.model}, {config.generations} generations, "
            f"alpha={config.alpha}, loss={config.loss}, seeds={seeds}",
            file=sys.stderr,
        )
    runs = run_chains(
        data,
        config,
        seeds,
        state_dir=out / "state",
        progress=args.progress,
        keep_weights=args.keep_weights,
        execution=execution,
        outputs=ChainOutputs(
            root=str(out / "models"),
            last_only=args.save_models == "last",
            tensorboard=None if args.tensorboard is None else str(args.tensorboard),
        ),
    )
    _write(args, out, data, config, seeds, runs)


def _write(
    args: argparse.Namespace, out: Path, data: Any, config: Any, seeds: list, runs: list
) -> None:
    """results.json, the CSV and the figure of a finished chain study, and its summary."""
    from ..reports.chain import format_summary, summarise_chain, write_chain_outputs

    options = {
        k: v
        for k, v in vars(args).items()
        if not callable(v) and not k.startswith("_") and k not in EXECUTION_OPTIONS
    }
    record = {
        **options,
        "chain": config.describe(),
        "n_train": len(data.y_train),
        "n_val": len(data.y_val),
        "n_test": len(data.y_test),
        "seeds": seeds,
        "class_names": data.class_names,
        "options": {
            **resolved_options(args, exclude=EXECUTION_OPTIONS),
            "device": config.train.device,
        },
    }
    paths = write_chain_outputs(
        out, record, runs, title=f"{args.data} / {args.model}, loss {config.loss}"
    )
    print(format_summary(summarise_chain(runs)))
    write_run_report(out)
    print(f"wrote {paths['results']}, {paths['csv'].name}, {paths['png'].name} and report.html")
