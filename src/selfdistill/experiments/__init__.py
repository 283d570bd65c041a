"""Registry of the papers' reproductions, run by ``selfdistill reproduce NAME`` and ``demo``.

Each experiment lives in its own module of this package and exposes

``add_arguments(parser)`` (optional)
    Adds the experiment's own options. Must not import torch (``--help`` works without it).
``compute(args) -> dict``
    Runs the experiment: ``args.out`` (a :class:`pathlib.Path`) is the output folder, ``args.quick``
    asks for the short variant used by ``selfdistill demo`` and the tests, ``args.progress`` says
    whether to print progress. Returns every plotted number, and every setting a figure needs, as
    a JSON-able dict, which :func:`run_experiment` writes to ``args.out/results.json``. It may
    write tables (CSV, Markdown) but never imports matplotlib.
``plot(results, out) -> None``
    Draws every figure of the experiment into the folder ``out`` from ``results`` alone: the dict
    as read back from ``results.json``, so ``selfdistill reproduce NAME --replot OUT`` redraws
    the figures of a finished run without training (:func:`replot_experiment`).

The registry stores module paths, not modules, so listing experiments imports nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from .._util.io import read_json, read_results, write_json
from .._util.outdir import output_folder, results_owner
from ..execution import EXECUTION_OPTIONS, execution_from_args

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "add_common_arguments",
    "add_experiment_arguments",
    "experiment_settings",
    "recorded_config",
    "replot_experiment",
    "run_experiment",
    "torch_available",
]


@dataclass(frozen=True)
class Experiment:
    """One reproducible figure or table of the papers."""

    name: str
    module: str
    summary: str
    needs_torch: bool = False
    in_demo: bool = True

    def load(self) -> ModuleType:
        """Import the experiment's module."""
        return importlib.import_module(self.module)


def _experiments(*items: Experiment) -> dict[str, Experiment]:
    return {e.name: e for e in items}


EXPERIMENTS: dict[str, Experiment] = _experiments(
    # Kernel theory (no torch).
    Experiment(
        "borup-fig2",
        "selfdistill.experiments.kernel.borup_toy",
        "Borup & Andersen sec. 4.5 toy example: steps for alpha = 0, 0.25, optimal; "
        "B diagonals and ratios (figs 2-4)",
    ),
    Experiment(
        "mobahi-fig2",
        "selfdistill.experiments.kernel.mobahi_spline",
        "Mobahi et al. sec. 4 spline example: rounds until collapse, B_t per round",
    ),
    Experiment(
        "sparsity",
        "selfdistill.experiments.kernel.sparsity",
        "Mobahi et al. Thm 6 sparsity index and guaranteed rounds against epsilon; "
        "self-distillation versus early stopping (sec. 3.4)",
    ),
    Experiment(
        "sd-vs-ridge",
        "selfdistill.experiments.kernel.sd_vs_ridge",
        "Does self-distillation help kernel ridge with tuned (gamma, lam)? 5-fold CV and GCV "
        "on diabetes, digits, MNIST-1D and the Borup toy function",
    ),
    Experiment(
        "sd-vs-ridge-large",
        "selfdistill.experiments.kernel.sd_vs_ridge_large",
        "The sd-vs-ridge question at 10^5-10^6 samples with Nyström kernels (synthetic data "
        "with a known target, generated MNIST-1D), and Nyström against the exact engine",
    ),
    # Neural networks (torch extra).
    Experiment(
        "mobahi-fig3",
        "selfdistill.experiments.chains.mobahi_fig3",
        "Mobahi et al. sec. 5: accuracy over generations (alpha = 0, l2 and CE)",
        needs_torch=True,
    ),
    Experiment(
        "borup-fig5",
        "selfdistill.experiments.chains.borup_fig5",
        "Borup & Andersen sec. 5: fixed alpha against the estimated alpha-hat",
        needs_torch=True,
    ),
    Experiment(
        "dong-fig1",
        "selfdistill.experiments.chains.dong_fig1",
        "Dong et al. sec. 2.1: student accuracy against the teacher's epoch",
        needs_torch=True,
    ),
    Experiment(
        "dong-table1",
        "selfdistill.experiments.noisy.dong_table1",
        "Dong et al. Table 1 / fig. 4: noisy labels, all methods and noise levels",
        needs_torch=True,
    ),
    Experiment(
        "dong-theorem1",
        "selfdistill.experiments.noisy.dong_theorem1",
        "Dong et al. Theorem 1: self-distillation recovers clean labels on clusterable data",
        needs_torch=True,
    ),
    Experiment(
        "dong-fig2",
        "selfdistill.experiments.ntk.dong_fig2",
        "Dong et al. fig. 2: label energy in the top NTK eigenspaces against noise",
        needs_torch=True,
    ),
    Experiment(
        "dong-fig5",
        "selfdistill.experiments.ntk.dong_fig5",
        "Dong et al. fig. 5: information gain of the targets during training",
        needs_torch=True,
    ),
    Experiment(
        "ntk-kernel",
        "selfdistill.experiments.ntk.ntk_kernel",
        "Kernel self-distillation on a network's empirical NTK beside its generations",
        needs_torch=True,
    ),
)


def torch_available() -> bool:
    """Whether the torch extra is installed (checked without importing torch)."""
    return importlib.util.find_spec("torch") is not None


def add_common_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """Options every experiment takes."""
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("runs") / name,
        help="output folder for results.json and figures (default: %(default)s)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short variant (smaller sizes, fewer seeds), as run by `demo`",
    )
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="do not print progress lines and bars",
    )


def add_experiment_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    """The common options and the experiment's own (:func:`add_common_arguments` and the
    module's ``add_arguments``, when it has one)."""
    add_common_arguments(parser, name)
    module = EXPERIMENTS[name].load()
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)


def run_experiment(name: str, args: argparse.Namespace, *, plot: bool = True) -> dict[str, Any]:
    """Run a registered experiment: ``compute``, write ``args.out/results.json`` atomically, then
    (unless ``plot`` is false, as in tests that check the numbers only) ``plot`` from the file.

    ``args.out`` is held (:func:`selfdistill._util.outdir.output_folder`) while the experiment runs:
    a second command into the same folder fails at once naming this one's process."""
    experiment = EXPERIMENTS[name]
    if experiment.needs_torch and not torch_available():
        raise RuntimeError(f"experiment {name!r} needs PyTorch: pip install 'selfdistill[torch]'")
    module = experiment.load()
    experiment_settings(name, args)  # bad options fail before the output folder is created
    if experiment.needs_torch and getattr(args, "device", None) is not None:
        from ..nn.training.device import resolve_device

        resolve_device(args.device)  # a device this machine lacks fails before OUT is made
    with output_folder(args.out, command=f"reproduce {name}") as out:
        args.out = out
        results = module.compute(args)
        config = recorded_config(args, results)
        path = write_json(
            out / "results.json",
            {"command": "reproduce", "experiment": name, "config": config, "results": results},
        )
        if plot:
            module.plot(read_json(path)["results"], out)
    return results


def experiment_settings(name: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """The settings experiment ``name`` would run with, checked and with the ``--quick``
    defaults resolved, without computing anything (``--dry-run``); None for an experiment that
    resolves its options inside ``compute`` only (its argparse checks have run)."""
    module = EXPERIMENTS[name].load()
    if hasattr(args, "executor"):  # the sweep's --executor / --jobs / --ray-* options
        execution_from_args(args)
    settings = getattr(module, "_settings", None)
    return None if settings is None else settings(args)


def recorded_config(args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """The options as ``results.json`` records them: what ran, not what was typed.

    An option left to its ``--quick``-dependent default is parsed as ``None``; it is recorded
    with the value the experiment resolved (``results["settings"]``, where it keeps one).
    """
    config = {
        k: v
        for k, v in vars(args).items()
        if not callable(v) and not k.startswith("_") and k not in EXECUTION_OPTIONS
    }
    settings = results.get("settings") if isinstance(results, dict) else None
    if isinstance(settings, dict):
        for key, value in settings.items():
            if key in config and config[key] is None:
                config[key] = value
    return config


def replot_experiment(name: str, out: str | Path) -> dict[str, Any]:
    """Redraw the figures of experiment ``name`` into ``out`` from ``out/results.json`` alone
    (no training); returns the results read. Raises ``FileNotFoundError`` when the file is
    missing and ``ValueError`` when it is not the results of ``name``."""
    out = Path(out)
    path = out / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"--replot: no results.json in {out} (run the experiment first)")
    try:
        saved = read_results(path)
    except ValueError as exc:
        raise ValueError(f"--replot: {exc}") from None
    owner = results_owner(saved)
    if owner != f"reproduce {name}":
        whose = (
            f"the results of `selfdistill {owner}`"
            if owner is not None
            else "no selfdistill command's results"
        )
        raise ValueError(
            f"--replot: {path} holds {whose}, not those of `selfdistill reproduce {name}`"
        )
    if not isinstance(saved.get("results"), dict):
        raise ValueError(f"--replot: {path} has no 'results' object (damaged)")
    EXPERIMENTS[name].load().plot(saved["results"], out)
    return saved["results"]
