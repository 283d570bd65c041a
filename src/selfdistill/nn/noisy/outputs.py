"""What each noisy-label run writes itself: its model, its relabelling report and its metrics.

:class:`RunOutputs` is handed to every run of :func:`selfdistill.nn.noisy.runner.run_noisy`
(pickled with the run function, so every executor writes the same files). For each reported
method of a (seed, noise) run, the folder ``root/seed{S}-noise{R}-{method}/`` receives, each file
atomically and before the run is stored as finished (so a resumed sweep has them all):

* ``model.json`` + ``model.pt`` — the final weights (early-stop: the selected epoch's) and their
  card (:mod:`selfdistill.nn.saved`);
* ``labels.csv`` — the relabelling report of the training split
  (:func:`selfdistill.label_report.label_rows`) against the labels the model was given;
* ``metrics.csv`` — per-epoch metrics, rewritten after every epoch
  (:class:`~selfdistill.nn.training.metrics_log.MetricsCSV`; α_t for ``sd``).

With ``tensorboard`` set, the scalars also go to ``tensorboard/seed{S}-noise{R}-{training}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ...label_report import flag_scores, label_rows, write_label_rows
from ..data_splits import DataSplits
from ..models import ModelSpec
from ..saved import model_card, save_model
from ..training.loop import Callback, LossFn, predict_logits
from ..training.metrics_log import MetricsCSV, TensorBoardLog, alpha_reader

__all__ = ["RunOutputs", "run_folder"]


def run_folder(root: str | Path, seed: int, noise: float, method: str) -> Path:
    """The folder of one reported run: ``root/seed{seed}-noise{noise:g}-{method}``."""
    return Path(root) / f"seed{seed}-noise{noise:g}-{method}"


@dataclass(frozen=True)
class RunOutputs:
    """Where the runs of a sweep write their files (``None``: that output is not written).

    Attributes
    ----------
    root
        Folder of the per-run folders (models, ``labels.csv``, ``metrics.csv``).
    tensorboard
        Folder of the TensorBoard event files, one sub-folder per training.
    """

    root: str | None = None
    tensorboard: str | None = None

    def callbacks(self, spec: dict[str, Any], loss_fn: LossFn, epochs: int) -> list[Callback]:
        """The metric writers of one training (``spec`` as :func:`noisy_run`'s)."""
        seed, noise, alpha = int(spec["seed"]), float(spec["noise"]), alpha_reader(loss_fn)
        out: list[Callback] = []
        if self.root is not None:
            out += [
                MetricsCSV(run_folder(self.root, seed, noise, m) / "metrics.csv", alpha=alpha)
                for m in spec["methods"]
            ]
        if self.tensorboard is not None:
            folder = run_folder(self.tensorboard, seed, noise, spec["training"])
            out.append(TensorBoardLog(folder, epochs=epochs, alpha=alpha))
        return out

    def keeper(
        self,
        spec: dict[str, Any],
        data: DataSplits,
        y_given: Tensor,
        mask: Tensor,
        device: str,
    ) -> Any:
        """``keep(name, model)`` for :func:`~selfdistill.nn.noisy.runner.train_method`: saves the
        model and ``labels.csv`` (when ``root`` is set) and returns the precision, recall and F1
        of the flagged labels against the corrupted ones (``None`` without injected noise)."""
        seed, noise = int(spec["seed"]), float(spec["noise"])
        config = spec["config"]

        def keep(name: str, model: nn.Module) -> dict[str, Any]:
            logits = predict_logits(model, data.x_train, device=device)
            proba = torch.softmax(logits.double(), dim=1).numpy()
            rows = label_rows(
                proba,
                y_given.numpy(),
                getattr(data, "class_names", None),
                getattr(data, "train_rows", None),
            )
            flagged = proba.argmax(axis=1) != y_given.numpy()
            scores = flag_scores(flagged, mask.numpy())
            if self.root is None:
                return scores
            folder = run_folder(self.root, seed, noise, name)
            params = {"noise": noise, "noise_kind": config["noise_kind"], **config["hyper"]}
            params.update({k: v for k, v in config["budget"].items() if k != "progress"})
            card = model_card(
                data, ModelSpec(**config["network"]), method=name, params=params, seed=seed,
                source=config["dataset"] if config["dataset"].get("name") else None,
            )  # fmt: skip
            write_label_rows(folder / "labels.csv", rows)
            save_model(folder, model, card)
            return scores

        return keep
