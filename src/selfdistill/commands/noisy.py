"""Learn from noisy labels: self-distillation and its rivals.

Corrupts the training (and validation) labels, trains every method on the same data with the same
budget, and measures test accuracy on the CLEAN test labels after every epoch, the fraction of
corrupted training labels the model recovers and the precision/recall/F1 of the samples it flags
(prediction ≠ given label). Methods: sd-margin (the default: self-distillation from a temporal
ensemble of the model's own predictions with a per-sample margin weight and label smoothing,
switched on when the NOISY validation accuracy stops improving), sd (Dong et al. Algorithm 1,
1 − α_t = λ · batch accuracy), ce, early-stop (plain cross-entropy, selected on a NOISY
validation split), bootstrap-soft, bootstrap-hard (Reed et
al.), gce (Zhang & Sabuncu), elr (Liu et al. 2020), confident-learning (cleanlab; K + 1
trainings), and plug-ins installed under the entry-point group selfdistill.methods. A comma list
runs them side by side; the printed table then ends with the method each seed would choose on
the NOISY validation split (no clean labels or noise rate needed).

Writes OUT/results.json ({"command": "noisy", "config": {...}, "runs": [...]}), OUT/runs.csv,
OUT/curves.png and OUT/report.html (the page of the sweep: tables, figures, settings),
and per (seed, noise, method) run a folder OUT/runs/seed{S}-noise{R}-{method}/ with the model
(model.json card + model.pt weights: `selfdistill predict --model` reads them), labels.csv (every
training sample, the labels the model believes are wrong first) and metrics.csv (per epoch).
With --noise 0 on your own data, labels.csv is the list of your labels that are probably wrong;
--export-relabelled PATH writes the data with the model's labels (.npz or .csv).
Every finished (seed, noise, method) training is kept in OUT/state as it finishes: rerunning the
same command skips them (a different configuration into the same OUT is refused). The trainings
can run side by side: --jobs N local processes, or --executor ray (docs/scaling.md).

example:
  selfdistill noisy --data mnist1d --noise 0.4 --noise-kind symmetric --method ce,sd,sd-margin \\
      --epochs 100 --seeds 0,1,2 --out runs/noisy
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._util.io import write_json
from .._util.outdir import check_output_file, check_output_folder, output_folder
from .._util.validation import (
    MAX_SAMPLES,
    check_int,
    check_real,
    parse_seeds,
)
from ..catalog import (
    DATASETS,
    DEFAULT_NOISY_METHOD,
    MULTICLASS_LABEL_FUNCTIONS,
    NOISE_KINDS,
    NOISY_METHODS,
    SD_LOSSES,
    canonical_loss,
    parse_methods,
    parse_noises,
)
from ..config_file import add_config_option, resolved_options
from ..execution import EXECUTION_OPTIONS, execution_from_args
from ..training_flags import add_data_option, add_training_flags, file_options, training_settings
from ._dry_run import add_dry_run_option, print_dry_run
from .report import write_run_report

__all__ = ["add_arguments", "config_from_args", "main"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data and noise")
    add_data_option(g, DATASETS)
    g.add_argument(
        "--data-dir",
        default=None,
        help="folder of on-disk data sets (CIFAR, Fashion-MNIST) (default: $SELFDISTILL_DATA_DIR)",
    )
    g.add_argument("--n-train", type=int, default=None, help="training samples (default: all)")
    g.add_argument(
        "--num-samples", type=int, default=None,
        help="MNIST-1D samples generated in all (default: the loader's 40,000)",
    )  # fmt: skip
    g.add_argument(
        "--noise", default=None,
        help="noise rate injected, or a comma list (default: 0.4 on a built-in data set; 0 on "
        "your own data, said on stderr: `selfdistill clean` finds its wrong labels)",
    )  # fmt: skip
    g.add_argument(
        "--noise-kind", default="symmetric", choices=NOISE_KINDS, help="(default: %(default)s)",
    )  # fmt: skip
    g = parser.add_argument_group("methods")
    g.add_argument(
        "--method", default=DEFAULT_NOISY_METHOD,
        help="comma list of " + ", ".join(NOISY_METHODS) + " (or an installed plug-in), or "
        "'all' (default: %(default)s)",
    )  # fmt: skip
    g.add_argument(
        "--lam", type=float, default=0.0,
        help="λ of sd, 1 − α_t = λ·batch accuracy; 0 or less (default): Dong et al.'s rule, "
        "1 for noise ≤ 0.4 and 1.5 above (the rule dong-table1 uses)",
    )  # fmt: skip
    g.add_argument(
        "--label-function", default="hardmax", choices=MULTICLASS_LABEL_FUNCTIONS,
        help="label function h of self-distillation (default: %(default)s)",
    )  # fmt: skip
    g.add_argument(
        "--temperature", type=float, default=1.0,
        help="softmax h temperature (default: %(default)s)",
    )  # fmt: skip
    g.add_argument(
        "--sd-loss", default="ce", type=canonical_loss, choices=SD_LOSSES,
        help="loss of sd against its target: ce, or mse (the squared error of the softmax; "
        "'squared', its old name, is accepted) (default: %(default)s)",
    )  # fmt: skip
    g.add_argument(
        "--margin-lam", type=float, default=3.0, help="λ of sd-margin (default: %(default)s)"
    )
    g.add_argument(
        "--margin-smoothing", type=float, default=0.1,
        help="label smoothing ε of sd-margin, in [0, 1) (default: %(default)s)",
    )  # fmt: skip
    g.add_argument("--elr-lam", type=float, default=3.0, help="λ of elr (default: %(default)s)")
    g.add_argument(
        "--cl-folds", type=int, default=3, help="K of confident-learning (default: %(default)s)"
    )
    add_training_flags(
        parser, epochs=40, seeds="0", omit=("momentum",),
        title="model and budget (the same for every method)",
    )  # fmt: skip
    add_config_option(parser)
    parser.add_argument(
        "--out", type=Path, default=Path("runs") / "noisy",
        help="output folder; OUT/state keeps finished runs (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress lines"
    )
    g = parser.add_argument_group("outputs")
    g.add_argument(
        "--export-relabelled", type=Path, default=None, metavar="PATH",
        help="write the data set with the refined (predicted) training labels of the first "
        "seed's first noise rate's sd run (else its first method) to PATH (.npz or .csv; "
        "default: none written)",
    )  # fmt: skip
    g.add_argument(
        "--tensorboard", type=Path, default=None, metavar="DIR",
        help="also write TensorBoard event files, one folder per training, under DIR "
        "(needs: pip install 'selfdistill[tensorboard]'; default: none written)",
    )  # fmt: skip
    add_dry_run_option(parser)


def _optional(flag: str, value: int | None, low: int, high: int | None = None) -> int | None:
    return None if value is None else check_int(flag, value, low=low, high=high)


def config_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of :class:`selfdistill.nn.noisy.config.NoisyConfig`."""
    lam = check_real("--lam", args.lam)
    flags = training_settings(args)
    return {
        "data": args.data,
        "n_train": None if args.n_train is None else check_int("--n-train", args.n_train, low=1),
        "num_samples": _optional("--num-samples", args.num_samples, 20, MAX_SAMPLES),
        "data_dir": args.data_dir,
        **file_options(args),
        "noise_kind": args.noise_kind,
        **{k: flags[k] for k in _NOISY_FLAGS},
        "lam": lam if lam > 0 else None,
        "label_function": args.label_function,
        "temperature": check_real("--temperature", args.temperature, low=0.0, low_inclusive=False),
        "sd_loss": args.sd_loss,
        "margin_lam": check_real("--margin-lam", args.margin_lam, low=0.0),
        "margin_smoothing": check_real(
            "--margin-smoothing", args.margin_smoothing, low=0.0, high=1.0, high_inclusive=False
        ),
        "elr_lam": check_real("--elr-lam", args.elr_lam, low=0.0),
        "cl_folds": args.cl_folds,
    }


#: the training flags (:func:`~selfdistill.training_flags.training_settings`) NoisyConfig takes
_NOISY_FLAGS = (
    "model", "width", "depth", "epochs", "batch_size", "optimizer", "lr", "weight_decay",
    "schedule", "device",
)  # fmt: skip


def main(args: argparse.Namespace) -> int:
    methods = parse_methods(args.method)
    defaulted = args.noise is None
    noises = parse_noises(_noise_option(args))
    seeds = parse_seeds("--seeds", args.seeds)
    kwargs = config_from_args(args)
    execution = execution_from_args(args)
    try:
        from ..nn.noisy.config import NoisyConfig
        from ..nn.noisy.runner import load_noisy_data, run_noisy
    except ImportError as exc:
        raise RuntimeError(f"`selfdistill noisy` needs PyTorch: {exc}") from None

    from ..nn.noisy.outputs import RunOutputs

    config = NoisyConfig(**kwargs)
    sweep: dict[str, Any] = {"methods": methods, "noises": noises, "seeds": seeds}
    export = _check_export(args.export_relabelled)
    if args.dry_run:
        from ..nn.noisy.config import config_dict

        return print_dry_run(args, {"config": {**config_dict(config), **sweep}}, command="noisy")
    _check_outputs(args, config.dataset, export)  # every output path, before any work
    # the data of the first seed: a bad file or a size the data lack fails before --out is made
    first = load_noisy_data(config, seeds[0])
    if defaulted and args.noise == "0":  # said once every check has passed: errors stay one line
        print(
            "selfdistill noisy: --data is your own data: no noise injected (--noise 0); to find "
            "its wrong labels out of sample, use `selfdistill clean`",
            file=sys.stderr,
        )
    sweep["class_names"] = first.class_names if config.dataset.is_file() else None
    options = resolved_options(args, exclude=EXECUTION_OPTIONS)
    sweep["options"] = {**options, "device": config.budget.device}
    with output_folder(args.out, command="noisy") as out:
        outputs = RunOutputs(
            root=str(out / "runs"),
            tensorboard=None if args.tensorboard is None else str(args.tensorboard),
        )
        runs = run_noisy(
            config, methods, noises, seeds,
            execution=execution, store=out / "state", progress=args.progress, outputs=outputs,
        )  # fmt: skip
        _write_outputs(out, config, runs, sweep)
        if export is not None:
            from ..nn.noisy.outputs import run_folder
            from ..nn.noisy.relabel import export_relabelled

            run = next((r for r in runs if r["method"] == "sd"), runs[0])
            folder = run_folder(out / "runs", run["seed"], run["noise"], run["method"])
            export_relabelled(
                export, config.dataset.load(run["seed"]), folder / "labels.csv",
                label_column=config.dataset.label_column,
            )  # fmt: skip
            print(f"wrote {export} (the labels of {folder})", file=sys.stderr)
    return 0


def _check_outputs(args: argparse.Namespace, dataset: Any, export: Path | None) -> None:
    """``--out``, ``--tensorboard`` and ``--export-relabelled`` can be written, and replace
    neither the data nor another command's results (one-line ValueErrors)."""
    check_output_folder(args.out, command="noisy")
    if args.tensorboard is not None:
        from ..nn.training.metrics_log import check_tensorboard

        check_output_folder(args.tensorboard, name="--tensorboard")
        check_tensorboard()  # a missing package fails now, not after the training
    if export is not None:
        own = [args.out / name for name in ("results.json", "runs.csv", "curves.png")]
        data = {"--data": dataset.name if dataset.is_file() else None}
        check_output_file(export, name="--export-relabelled", inputs=data, outputs=own)


def _noise_option(args: argparse.Namespace) -> str:
    """``--noise``, defaulting to 0.4 on a built-in data set and to 0 on a user's file (``main``
    says so once every check has passed)."""
    if args.noise is None:
        args.noise = "0.4" if args.data in DATASETS else "0"  # recorded as the options that ran
    return str(args.noise)


def _check_export(path: Path | None) -> Path | None:
    """``--export-relabelled``'s path: a .npz or .csv file name (checked before training)."""
    if path is not None and path.suffix.lower() not in (".npz", ".csv"):
        raise ValueError(f"--export-relabelled must end in .npz or .csv, got {str(path)!r}")
    return path


def _write_outputs(out: Path, config: Any, runs: list[dict[str, Any]], sweep: dict) -> None:
    """``results.json``, ``runs.csv`` and ``curves.png`` of a finished sweep, and the table."""
    from ..nn.noisy.config import config_dict
    from ..nn.noisy.runner import RUN_KEYS
    from ..reports.noisy import plot_curves, selection_table, write_runs_csv

    cfg = {**config_dict(config), **sweep}
    write_json(
        out / "results.json",
        {"command": "noisy", "config": cfg, "runs": [{k: r[k] for k in RUN_KEYS} for r in runs]},
    )
    write_runs_csv(out / "runs.csv", runs)
    plot_curves(
        runs, out / "curves.png",
        title=f"{config.dataset.name}, {config.noise_kind} noise: clean test accuracy per epoch",
    )  # fmt: skip
    print(selection_table(runs), end="")
    write_run_report(out)
    print(f"wrote {out / 'results.json'}, runs.csv, curves.png and report.html", file=sys.stderr)
