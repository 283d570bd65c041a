"""Learning from noisy labels: self-distillation (Dong et al. Algorithm 1) against its rivals.

:func:`run_noisy` trains every method on the same data, with the same corrupted labels, the same
initial weights and the same budget (epochs, batch size, optimiser, learning-rate schedule), and
measures on the CLEAN test labels:

* ``test_acc_curve`` — test accuracy after every epoch;
* ``final_test_acc`` — the last epoch's, except for ``early-stop``, whose model is the epoch with
  the best accuracy on a NOISY validation split (what a user without clean labels can select on);
* ``best_test_acc`` — the maximum of the curve: an oracle number, for reference only (it selects
  on test data, which no method does);
* ``label_recovery`` — on the training set, the fraction of corrupted samples whose prediction
  equals the TRUE label (``None`` when nothing is corrupted).

Methods (:data:`METHODS`): ``ce`` (plain cross-entropy), ``early-stop`` (the same training as
``ce``, selected on the noisy validation split — trained once and reported twice when both are
asked for), ``bootstrap-soft`` / ``bootstrap-hard`` (Reed et al. 2015), ``gce`` (Zhang & Sabuncu
2018), ``sd`` (Dong et al. Algorithm 1 with ``1 − α_t = λ · batch accuracy``), ``elr`` (Liu et al.
2020), ``sd-margin`` (the default self-distillation, :mod:`selfdistill.nn.noisy.margin`) and
``confident-learning`` (cleanlab; K + 1 trainings) — and any method registered through
:mod:`selfdistill.nn.noisy.registry`. Every run also reports the flagged set (prediction ≠ given
label, or a data rule's own) scored against the corruption mask, the λ it used and its trainings.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..._util.validation import check_choice, check_int, check_real, check_seeds
from ...catalog import (
    NOISE_KINDS,
    NOISY_METHODS,
    NOISY_RUN_KEYS,
)
from ...exceptions import DamagedStateWarning
from ...execution import Execution, run_sweep, spec_key
from ...label_report import flag_scores
from ...noise import corrupt_labels
from ..chains.store import check_state
from ..data_splits import DataSpec, DataSplits, check_splits
from ..saved import CARD_NAME, weights_damage
from ..training.loop import Callback, LossFn, cross_entropy_loss, fit, predict_logits
from ..training.seeds import derive_seed
from .base import DataChoice, MethodContext
from .config import NoisyConfig, config_from_spec, config_spec
from .outputs import RunOutputs, run_folder
from .registry import get_method, method_names

__all__ = [
    "METHODS",
    "RUN_KEYS",
    "corrupt_splits",
    "label_recovery",
    "load_noisy_data",
    "make_method_loss",
    "method_context",
    "noisy_run",
    "noisy_specs",
    "run_noisy",
    "train_method",
]

METHODS = NOISY_METHODS
#: the keys of one run in ``results.json``
RUN_KEYS = NOISY_RUN_KEYS


def method_context(
    config: NoisyConfig, noise: float, labels: Tensor, num_classes: int, seed: int = 0
) -> MethodContext:
    """What a method is built from (:class:`~selfdistill.nn.noisy.registry.MethodContext`): the
    noise rate only resolves λ of Dong's ``sd`` (when ``config.hyper.lam`` is ``None``)."""
    return MethodContext(
        n_train=len(labels), num_classes=num_classes, labels=labels, hyper=config.hyper,
        lam=config.lam_for(noise), seed=seed,
    )  # fmt: skip


def make_method_loss(
    method: str, config: NoisyConfig, noise: float, context: MethodContext | None = None
) -> LossFn:
    """The training loss of a loss-rule method (``early-stop`` trains with cross-entropy);
    ``context`` (:func:`method_context`) is needed by the rules with per-sample state."""
    chosen = get_method(method)
    if chosen.kind != "loss":
        raise ValueError(f"method: {method!r} is a data rule, not a loss rule")
    if context is None:
        context = MethodContext(0, 0, torch.zeros(0, dtype=torch.long), config.hyper,
                                config.lam_for(noise))  # fmt: skip
    return chosen.build(context)


def corrupt_splits(
    data: DataSplits, noise: float, kind: str, seed: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Noisy training labels, their corruption mask and noisy validation labels (test: clean).

    The training and validation draws use independent seeds derived from ``seed``; the same
    ``(noise, kind, seed)`` gives the same labels for every method.
    """
    check_splits(data)
    noise = check_real("noise", noise, low=0.0, high=1.0)
    check_choice("kind", kind, NOISE_KINDS)
    seed = check_int("seed", seed, low=0)
    c = data.num_classes
    y_tr, mask = corrupt_labels(data.y_train.numpy(), noise, kind, c, seed=derive_seed(seed, 1))
    y_va, _ = corrupt_labels(data.y_val.numpy(), noise, kind, c, seed=derive_seed(seed, 2))
    return torch.from_numpy(y_tr), torch.from_numpy(mask), torch.from_numpy(y_va)


def label_recovery(predictions: Tensor, y_true: Tensor, mask: Tensor) -> float | None:
    """Fraction of corrupted samples (``mask``) whose prediction equals the TRUE label."""
    if not bool(mask.any()):
        return None
    return float((predictions[mask] == y_true[mask]).double().mean())


class _SelectOnNoisyVal(Callback):
    """Keep the weights of the epoch with the best accuracy on the noisy validation split."""

    def __init__(self) -> None:
        self.best_acc = -math.inf
        self.best_epoch = -1
        self.state: dict[str, Tensor] | None = None

    def on_epoch_end(self, epoch: int, metrics: dict[str, float], model: nn.Module) -> None:
        acc = metrics["noisyval_acc"]
        if acc > self.best_acc:  # ties keep the earlier epoch
            self.best_acc, self.best_epoch = acc, epoch
            self.state = copy.deepcopy(model.state_dict())


def _data_rule_choice(
    method: str, context: MethodContext, data: DataSplits, y_given: Tensor, config: NoisyConfig
) -> tuple[DataChoice, int]:
    """Apply a data rule; its choice and the number of trainings it ran."""
    count = [0]

    def train(x: Tensor, y: Tensor) -> Callable[[Tensor], Tensor]:
        count[0] += 1
        model = config.network.build(data.input_shape, data.num_classes, context.seed)
        fit(model, x, y, config.train_config(context.seed))
        return lambda inputs: torch.softmax(
            predict_logits(model, inputs, device=config.budget.device), dim=1
        )

    choice = get_method(method).build(context, data.x_train, y_given, train)
    if not isinstance(choice, DataChoice):
        raise TypeError(f"method {method!r}: a data rule must return a DataChoice")
    return choice, count[0]


def train_method(
    method: str,
    data: DataSplits,
    y_train_noisy: Tensor,
    y_val_noisy: Tensor,
    mask: Tensor,
    config: NoisyConfig,
    *,
    noise: float,
    seed: int,
    progress: bool = False,
    select: bool = False,
    loss_fn: LossFn | None = None,
    callbacks: Sequence[Callback] = (),
    keep: Callable[[str, nn.Module], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Train one method once; return its measures (and, with ``select``, early-stopping's too).

    Returns a dict ``{method: run}`` (plus ``"early-stop": run`` when ``select`` is true), each run
    holding :data:`RUN_KEYS` and the extras ``memorised`` (fraction of corrupted training samples
    predicted as their noisy label), ``selected_epoch`` and ``noisy_val_curve``. A data rule's
    final model trains with cross-entropy on its chosen samples; its own flagged set is scored.
    ``loss_fn`` (default :func:`make_method_loss`) and ``callbacks`` go to :func:`fit`;
    ``keep(name, model)`` is called with each reported model and its dict is added to that run (a
    data rule's own flagged set then overrides its scores).
    """
    context = method_context(config, noise, y_train_noisy, data.num_classes, seed)
    x_fit, y_fit, flagged, trainings = data.x_train, y_train_noisy, None, 1
    if get_method(method).kind == "data":
        choice, trainings = _data_rule_choice(method, context, data, y_train_noisy, config)
        x_fit = data.x_train[choice.index]
        y_fit = y_train_noisy[choice.index] if choice.labels is None else choice.labels
        loss_fn = cross_entropy_loss
        flagged, trainings = choice.flagged, trainings + 1
    elif loss_fn is None:
        loss_fn = make_method_loss(method, config, noise, context)
    model = config.network.build(data.input_shape, data.num_classes, seed)
    selector = _SelectOnNoisyVal() if select else None
    history = fit(
        model, x_fit, y_fit, config.train_config(seed, progress), loss_fn=loss_fn,
        eval_sets={"test": (data.x_test, data.y_test), "noisyval": (data.x_val, y_val_noisy)},
        callbacks=[*getattr(loss_fn, "callbacks", ()), *callbacks,
                   *([selector] if selector else [])],
    )  # fmt: skip
    curve = history.column("test_acc")
    common = {"seed": seed, "noise": noise, "best_test_acc": max(curve), "test_acc_curve": curve,
              "lam": getattr(loss_fn, "lam", None), "trainings": trainings,
              "noisy_val_curve": history.column("noisyval_acc")}  # fmt: skip

    def measures(net: nn.Module, name: str, epoch: int) -> dict[str, Any]:
        pred = predict_logits(net, data.x_train, device=config.budget.device).argmax(dim=1)
        own = pred != y_train_noisy if flagged is None else flagged
        return {
            **common,
            "method": name,
            "final_test_acc": curve[epoch],
            "noisy_val_acc": common["noisy_val_curve"][epoch],
            "label_recovery": label_recovery(pred, data.y_train, mask),
            **flag_scores(own.cpu().numpy(), mask.numpy()),
            "memorised": label_recovery(pred, y_train_noisy, mask),
            "selected_epoch": epoch,
            **(keep(name, net) if keep is not None else {}),
            **(flag_scores(flagged.cpu().numpy(), mask.numpy()) if flagged is not None else {}),
        }

    out = {method: measures(model, method, len(curve) - 1)}
    if selector is not None and selector.state is not None:
        model.load_state_dict(selector.state)
        out["early-stop"] = measures(model, "early-stop", selector.best_epoch)
    return out


@functools.lru_cache(maxsize=4)
def _load_data(dataset: str, seed: int) -> DataSplits:
    """The splits of a JSON-encoded :class:`DataSpec` at ``seed`` (kept per worker process)."""
    return DataSpec(**json.loads(dataset)).load(seed)


def load_noisy_data(config: NoisyConfig, seed: int) -> DataSplits:
    """The splits of ``config.dataset`` at ``seed``, as a run of the sweep loads them (and kept
    for the runs of this process): every check of the data and of its sizes, before any run."""
    dataset = json.dumps(config_spec(config)["dataset"], sort_keys=True)
    return _load_data(dataset, int(seed))


def noisy_run(
    spec: dict[str, Any], data: DataSplits | None = None, outputs: RunOutputs | None = None
) -> dict[str, Any]:
    """Execute one training of a :func:`run_noisy` sweep; its runs as ``{"runs": [...]}``.

    ``spec`` holds ``seed``, ``noise``, ``training`` (the method trained), ``methods`` (the methods
    reported from this training: ``ce`` and ``early-stop`` share one) and ``config``
    (:func:`config_spec`). The data are loaded from the config's data set, unless given (bind
    them with :func:`functools.partial`, which pickles for the process and Ray executors).
    ``outputs`` says where the run writes its model, ``labels.csv`` and ``metrics.csv``
    (:mod:`selfdistill.nn.noisy.outputs`); each run gains ``flagged_precision``,
    ``flagged_recall`` and ``flagged_f1`` either way.
    """
    config = config_from_spec(spec["config"])
    seed, noise, method = int(spec["seed"]), float(spec["noise"]), spec["training"]
    if data is None:
        data = _load_data(json.dumps(spec["config"]["dataset"], sort_keys=True), seed)
    y_tr, mask, y_va = corrupt_splits(data, noise, config.noise_kind, seed)
    outputs = RunOutputs() if outputs is None else outputs
    trained = "ce" if method == "early-stop" else method
    loss_fn = None
    if get_method(trained).kind == "loss":
        context = method_context(config, noise, y_tr, data.num_classes, seed)
        loss_fn = make_method_loss(trained, config, noise, context)
    out = train_method(
        trained, data, y_tr, y_va, mask, config,
        noise=noise, seed=seed, select="early-stop" in spec["methods"], loss_fn=loss_fn,
        callbacks=outputs.callbacks(spec, loss_fn, config.budget.epochs),
        keep=outputs.keeper(spec, data, y_tr, mask, config.budget.device),
    )  # fmt: skip
    return {"runs": [out[name] for name in spec["methods"] if name in out]}


def noisy_specs(
    config: NoisyConfig, methods: Sequence[str], noises: Sequence[float], seeds: Sequence[int]
) -> list[dict[str, Any]]:
    """The run specifications of a sweep, seed-major then noise then method (``ce`` and
    ``early-stop`` asked for together are one training)."""
    trainings = [m for m in methods if m != "early-stop" or "ce" not in methods]
    cfg = config_spec(config)
    specs = []
    for seed in seeds:
        for noise in noises:
            for method in trainings:
                shared = ("ce", "early-stop") if method == "ce" else (method,)
                reported = [m for m in methods if m in shared]
                specs.append(
                    {"seed": seed, "noise": noise, "training": method, "methods": reported,
                     "config": cfg}
                )  # fmt: skip
    return specs


def _fingerprint(data: DataSplits) -> str:
    """SHA-256 of the splits' tensors (a resumed sweep on given data must get the same data)."""
    digest = hashlib.sha256()
    for part in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        digest.update(getattr(data, part).numpy().tobytes())
    return digest.hexdigest()


def run_noisy(
    config: NoisyConfig,
    methods: Sequence[str],
    noises: Sequence[float],
    seeds: Sequence[int],
    *,
    data: DataSplits | None = None,
    execution: Execution | None = None,
    store: str | Path | None = None,
    progress: bool = False,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    outputs: RunOutputs | None = None,
) -> list[dict[str, Any]]:
    """Run every method at every noise rate and seed; return one dict per run.

    Per seed the data split, the initial weights and the data order are the same for every method
    and noise rate; per (seed, noise) the corrupted labels are the same for every method.

    Parameters
    ----------
    data
        The splits to use for every seed (e.g. ``DataSplits`` built from a user's arrays);
        ``None`` loads ``config.dataset`` with each seed.
    execution
        How the trainings are executed (serial, processes, Ray; :mod:`selfdistill.execution`).
    store
        A state folder: the resolved config is kept in it (a different one is refused with a
        ValueError) and every finished training under ``store/runs``, so that a rerun executes
        only the unfinished ones.
    on_run
        Called with each run, in order, once the sweep finished.
    outputs
        Where each run writes its model card and weights, ``labels.csv`` and ``metrics.csv``
        (and TensorBoard events): :class:`~selfdistill.nn.noisy.outputs.RunOutputs`; ``None``
        writes nothing. The runs write them themselves, before they are stored as finished.

    Raises
    ------
    selfdistill.execution.SweepError
        When some trainings failed (the others are stored, when ``store`` is given).
    """
    methods = [check_choice("method", m, method_names()) for m in methods]
    for method in methods:
        get_method(method).check_available()
    if not methods or len(set(methods)) != len(methods):
        raise ValueError(f"methods must be a non-empty list without repeats, got {methods}")
    noises = [check_real("noise", r, low=0.0, high=1.0) for r in noises]
    seeds = check_seeds("seeds", seeds)
    if not noises:
        raise ValueError("noises must be non-empty")
    if data is None and config.dataset.name is None:
        raise ValueError("data: the config names no data set, so run_noisy needs data=DataSplits")
    specs = noisy_specs(config, methods, noises, seeds)
    if data is None:  # a data set without the samples asked for fails once, before any file
        load_noisy_data(config, seeds[0])
    if store is not None:
        described = {"config": specs[0]["config"]}
        if data is not None:
            described["data_sha256"] = _fingerprint(data)
        check_state(Path(store), described, name="noisy-config.json")
    if store is not None and outputs is not None and outputs.root is not None:
        _redo_damaged(Path(store) / "runs", specs, outputs)
    fn = functools.partial(noisy_run, data=data, outputs=outputs)
    results = run_sweep(
        fn, specs, execution=execution, store=None if store is None else Path(store) / "runs",
        progress=progress, desc="noisy", name=_run_name,
    )  # fmt: skip
    runs = [run for result in results for run in result["runs"]]
    for run in runs:
        if on_run is not None:
            on_run(run)
    return runs


def _redo_damaged(runs: Path, specs: list[dict[str, Any]], outputs: RunOutputs) -> None:
    """Forget the stored runs whose saved models are damaged or missing (a truncated
    ``model.pt``: its SHA-256 differs from its card's), with a :class:`DamagedStateWarning`
    naming the file, so that the sweep trains them again and rewrites their files."""
    for spec in specs:
        record = runs / f"{spec_key(spec)}.json"
        if not record.is_file():
            continue
        for method in spec["methods"]:
            card = run_folder(outputs.root, spec["seed"], spec["noise"], method) / CARD_NAME
            why = weights_damage(card)
            if why is not None:
                warnings.warn(
                    f"{why}; the run {_run_name(spec)} is trained again",
                    DamagedStateWarning,
                    stacklevel=3,
                )
                record.unlink()
                break


def _run_name(spec: dict[str, Any]) -> str:
    return f"(seed {spec['seed']}, noise {spec['noise']:g}, {'+'.join(spec['methods'])})"
