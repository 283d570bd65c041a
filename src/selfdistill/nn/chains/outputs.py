"""What a chain writes per generation: its model, its metrics and, last, its relabelling report.

:class:`ChainOutputs` is handed to :func:`selfdistill.nn.chains.run.run_chains` (pickled with the
run function, so every executor writes the same files). Generation ``t`` of chain ``key``
(``gen-1``, or ``<schedule>/gen-t``) of seed ``S`` writes, atomically and before the generation is
stored as finished, into ``root/seed-S/<key>/``:

* ``metrics.csv`` — per-epoch metrics with the generation's α (rewritten after every epoch);
* ``model.json`` + ``model.pt`` — the weights and their card (:mod:`selfdistill.nn.saved`), every
  generation, or only the last one with ``last_only``;
* ``labels.csv`` — the last generation's relabelling report of the training labels
  (:func:`selfdistill.label_report.label_rows`).

With ``tensorboard`` set, the scalars also go to ``tensorboard/seed-S/<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...label_report import label_rows, write_label_rows
from ..data_splits import DataSplits
from ..models import ModelSpec
from ..saved import model_card, save_model
from ..training.loop import Callback, predict_logits
from ..training.metrics_log import MetricsCSV, TensorBoardLog

__all__ = ["ChainOutputs"]


@dataclass(frozen=True)
class ChainOutputs:
    """Where the generations of a chain write their files (``None``: not written).

    Attributes
    ----------
    root
        Folder of the per-generation folders.
    last_only
        Save the weights of the last generation only (metrics are written for every one).
    tensorboard
        Folder of the TensorBoard event files.
    """

    root: str | None = None
    last_only: bool = False
    tensorboard: str | None = None

    def folder(self, base: str, seed: int, key: str) -> Path:
        """The folder of generation ``key`` of seed ``seed`` under ``base``."""
        return Path(base) / f"seed-{seed}" / key

    def callbacks(self, seed: int, key: str, alpha: float, epochs: int) -> list[Callback]:
        """The metric writers of one generation (``alpha``: its α, a constant column)."""
        out: list[Callback] = []
        extra = {"alpha": alpha}
        if self.root is not None:
            path = self.folder(self.root, seed, key) / "metrics.csv"
            out.append(MetricsCSV(path, extra=extra))
        if self.tensorboard is not None:
            folder = self.folder(self.tensorboard, seed, key)
            out.append(TensorBoardLog(folder, epochs=epochs, alpha=lambda: alpha))
        return out

    def keep(
        self,
        data: DataSplits,
        network: ModelSpec,
        params: dict[str, Any],
        seed: int,
        key: str,
        model: nn.Module,
        last: bool,
    ) -> None:
        """Save generation ``key``'s model (unless ``last_only`` and not ``last``) and, for the
        last generation, ``labels.csv``."""
        if self.root is None or (self.last_only and not last):
            return
        folder = self.folder(self.root, seed, key)
        if last:
            logits = predict_logits(model, data.x_train, device=params.get("device", "cpu"))
            proba = torch.softmax(logits.double(), dim=1).numpy()
            rows = label_rows(
                proba,
                data.y_train.numpy(),
                getattr(data, "class_names", None),
                getattr(data, "train_rows", None),
            )
            write_label_rows(folder / "labels.csv", rows)
        card = model_card(data, network, method="chain", params=params, seed=seed)
        save_model(folder, model, card)
