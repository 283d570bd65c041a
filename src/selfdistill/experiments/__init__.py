"""Registry of the papers' reproductions, run by ``selfdistill reproduce NAME`` and ``demo``.

Each experiment lives in its own module of this package and exposes

``add_arguments(parser)`` (optional)
    Adds the experiment's own options. Must not import torch (``--help`` works without it).
``run(args) -> dict``
    Runs the experiment: ``args.out`` (a :class:`pathlib.Path`) is the output folder, ``args.quick``
    asks for the short variant used by ``selfdistill demo`` and the tests, ``args.progress`` says
    whether to print progress. Writes its PNG figures into ``args.out`` and returns every plotted
    number as a JSON-able dict, which :func:`run_experiment` writes to ``args.out/results.json``.

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

from .._io import write_json

__all__ = ["EXPERIMENTS", "Experiment", "add_common_arguments", "run_experiment", "torch_available"]


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
        "selfdistill.experiments.borup_toy",
        "Borup & Andersen sec. 4.5 toy example: steps for alpha = 0, 0.25, optimal; "
        "B diagonals and ratios (figs 2-4)",
    ),
    Experiment(
        "mobahi-fig2",
        "selfdistill.experiments.mobahi_spline",
        "Mobahi et al. sec. 4 spline example: rounds until collapse, B_t per round",
    ),
    Experiment(
        "sparsity",
        "selfdistill.experiments.sparsity",
        "Mobahi et al. Thm 6 sparsity index and guaranteed rounds against epsilon; "
        "self-distillation versus early stopping (sec. 3.4)",
    ),
    # Neural networks (torch extra).
    Experiment(
        "mobahi-fig3",
        "selfdistill.experiments.mobahi_fig3",
        "Mobahi et al. sec. 5: accuracy over generations (alpha = 0, l2 and CE)",
        needs_torch=True,
    ),
    Experiment(
        "borup-fig5",
        "selfdistill.experiments.borup_fig5",
        "Borup & Andersen sec. 5: fixed alpha against the estimated alpha-hat",
        needs_torch=True,
    ),
    Experiment(
        "dong-fig1",
        "selfdistill.experiments.dong_fig1",
        "Dong et al. sec. 2.1: student accuracy against the teacher's epoch",
        needs_torch=True,
    ),
    Experiment(
        "dong-table1",
        "selfdistill.experiments.dong_table1",
        "Dong et al. Table 1 / fig. 4: noisy labels, all methods and noise levels",
        needs_torch=True,
    ),
    Experiment(
        "dong-theorem1",
        "selfdistill.experiments.dong_theorem1",
        "Dong et al. Theorem 1: self-distillation recovers clean labels on clusterable data",
        needs_torch=True,
    ),
    Experiment(
        "dong-fig2",
        "selfdistill.experiments.dong_fig2",
        "Dong et al. fig. 2: label energy in the top NTK eigenspaces against noise",
        needs_torch=True,
    ),
    Experiment(
        "dong-fig5",
        "selfdistill.experiments.dong_fig5",
        "Dong et al. fig. 5: information gain of the targets during training",
        needs_torch=True,
    ),
    Experiment(
        "ntk-kernel",
        "selfdistill.experiments.ntk_kernel",
        "Kernel self-distillation on a network's empirical NTK beside its generations",
        needs_torch=True,
    ),
)


def torch_available() -> bool:
    """Whether the torch extra is installed (checked without importing torch)."""
    return importlib.util.find_spec("torch") is not None


def available(experiment: Experiment) -> bool:
    """Whether the experiment's module exists (later issues add some of them)."""
    return importlib.util.find_spec(experiment.module) is not None


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


def run_experiment(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run a registered experiment and write ``args.out/results.json`` atomically."""
    experiment = EXPERIMENTS[name]
    if experiment.needs_torch and not torch_available():
        raise RuntimeError(f"experiment {name!r} needs PyTorch: pip install 'selfdistill[torch]'")
    module = experiment.load()
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    results = module.run(args)
    config = {k: v for k, v in vars(args).items() if not callable(v) and not k.startswith("_")}
    write_json(
        args.out / "results.json", {"experiment": name, "config": config, "results": results}
    )
    return results
