"""The old import paths of moved modules, served for one release with a DeprecationWarning.

Release 0.2 put the package in rooms by job (issue 21, docs/architecture.md has the map):
``selfdistill.kernel_ridge`` is now :mod:`selfdistill.kernel.ridge`, ``selfdistill.nn.chain`` is
:mod:`selfdistill.nn.chains.run`, and so on. Code and documents that still import an old path keep
working: :data:`MOVED` maps each old dotted name to its new home, and a finder on
``sys.meta_path`` (installed by ``import selfdistill``) answers an import of an old name with the
module object of the new one, after a :class:`DeprecationWarning` naming the new path. The two
names then give the very same module (``sys.modules[old] is sys.modules[new]``), so classes,
functions, ``isinstance`` checks, ``mock.patch("old.path.name")`` and pickles that refer to the
old path all see the objects of the new one. A module that was split in two maps to the package
that re-exports both halves (``selfdistill.nn.refinery`` -> :mod:`selfdistill.nn.noisy`).

One mechanism instead of a shim file per old module: no file is left to drift, and the old names
do not count against the "at most 12 modules per folder" rule of ``tests/test_house.py``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import CodeType, ModuleType

__all__ = ["MOVED", "MovedModuleFinder", "install"]

#: old dotted module name -> the module (or package) that holds its names now
MOVED: dict[str, str] = {
    # the torch-free core: the kernel engine in one package, private helpers in another
    "selfdistill.kernels": "selfdistill.kernel.functions",
    "selfdistill.spectral": "selfdistill.kernel.spectral",
    "selfdistill.kernel_ridge": "selfdistill.kernel.ridge",
    "selfdistill.kernel_classifier": "selfdistill.kernel.classifier",
    "selfdistill.kernel_cv": "selfdistill.kernel.cv",
    "selfdistill.toy_data": "selfdistill.datasets.toy",
    "selfdistill._io": "selfdistill._util.io",
    "selfdistill._outdir": "selfdistill._util.outdir",
    "selfdistill._validation": "selfdistill._util.validation",
    "selfdistill._stats": "selfdistill._util.stats",
    "selfdistill.progress": "selfdistill._util.progress",
    # torch-free readers of data files and built-in sets
    "selfdistill.nn.formats": "selfdistill.datasets.builtin",
    "selfdistill.nn.files": "selfdistill.datasets.user_files",
    "selfdistill.nn.loaders": "selfdistill.datasets.registry",
    "selfdistill.nn.splits": "selfdistill.datasets.splits",
    # the torch side: training, chains, noisy labels
    "selfdistill.nn.data": "selfdistill.nn.data_splits",
    "selfdistill.nn.train": "selfdistill.nn.training.loop",
    "selfdistill.nn.checkpoint": "selfdistill.nn.training.checkpoint",
    "selfdistill.nn.distributed": "selfdistill.nn.training.distributed",
    "selfdistill.nn.ddp_train": "selfdistill.nn.training.torchrun",
    "selfdistill.nn.device": "selfdistill.nn.training.device",
    "selfdistill.nn.metrics_log": "selfdistill.nn.training.metrics_log",
    "selfdistill.nn.chain": "selfdistill.nn.chains.run",
    "selfdistill.nn.chain_store": "selfdistill.nn.chains.store",
    "selfdistill.nn.chain_outputs": "selfdistill.nn.chains.outputs",
    "selfdistill.nn.distill": "selfdistill.nn.chains.distill",
    "selfdistill.nn.teacher": "selfdistill.nn.chains.teacher",
    "selfdistill.nn.alpha": "selfdistill.alpha",
    "selfdistill.nn.methods": "selfdistill.nn.noisy.registry",
    "selfdistill.nn.confident_learning": "selfdistill.nn.noisy.confident_learning",
    "selfdistill.nn.refinery": "selfdistill.nn.noisy",
    "selfdistill.nn.early_learning": "selfdistill.nn.noisy",
    "selfdistill.nn.noisy_runner": "selfdistill.nn.noisy",
    "selfdistill.nn.noisy_outputs": "selfdistill.nn.noisy.outputs",
    "selfdistill.nn.relabel": "selfdistill.nn.noisy.relabel",
    # the command-line building blocks and the reproductions
    "selfdistill.experiments._nn_options": "selfdistill.training_flags",
    "selfdistill.experiments.borup_toy": "selfdistill.experiments.kernel.borup_toy",
    "selfdistill.experiments.mobahi_spline": "selfdistill.experiments.kernel.mobahi_spline",
    "selfdistill.experiments.sparsity": "selfdistill.experiments.kernel.sparsity",
    "selfdistill.experiments.sd_vs_ridge": "selfdistill.experiments.kernel.sd_vs_ridge",
    "selfdistill.experiments.mobahi_fig3": "selfdistill.experiments.chains.mobahi_fig3",
    "selfdistill.experiments.borup_fig5": "selfdistill.experiments.chains.borup_fig5",
    "selfdistill.experiments.dong_fig1": "selfdistill.experiments.chains.dong_fig1",
    "selfdistill.experiments.dong_table1": "selfdistill.experiments.noisy.dong_table1",
    "selfdistill.experiments.dong_theorem1": "selfdistill.experiments.noisy.dong_theorem1",
    "selfdistill.experiments.dong_fig2": "selfdistill.experiments.ntk.dong_fig2",
    "selfdistill.experiments.dong_fig5": "selfdistill.experiments.ntk.dong_fig5",
    "selfdistill.experiments.ntk_kernel": "selfdistill.experiments.ntk.ntk_kernel",
}


def _warn(old: str, new: str) -> None:
    warnings.warn(
        f"{old} has moved to {new}; the old path works until the next release",
        DeprecationWarning,
        stacklevel=3,
    )


class _AliasLoader(importlib.abc.Loader):
    """Loads an old name as the module object of its new home (no code runs twice)."""

    def __init__(self, new: str) -> None:
        self.new = new
        self.spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        _warn(spec.name, self.new)
        module = importlib.import_module(self.new)
        self.spec = module.__spec__  # the import system overwrites it with the alias's spec
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.spec  # the module keeps its own spec (reload, pickle, runpy)

    def get_code(self, fullname: str) -> CodeType | None:
        """The new module's code, for ``python -m OLD.NAME`` (runpy)."""
        _warn(fullname, self.new)
        spec = importlib.util.find_spec(self.new)
        loader = getattr(spec, "loader", None)
        return loader.get_code(self.new) if loader is not None else None  # type: ignore[union-attr]


class _AliasSpec(importlib.machinery.ModuleSpec):
    """The spec of an old name; its ``parent`` is the new module's, so that code run under the
    old name by ``python -m`` (runpy sets ``__package__`` from it) resolves its relative imports
    where the code lives."""

    def __init__(self, name: str, new: str) -> None:
        super().__init__(name, _AliasLoader(new))
        self.new_parent = new.rpartition(".")[0]

    @property
    def parent(self) -> str:  # type: ignore[override]
        return self.new_parent


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the old names of :data:`MOVED` (and nothing else)."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return _AliasSpec(fullname, new)


def install() -> None:
    """Put one :class:`MovedModuleFinder` on ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
