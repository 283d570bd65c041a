"""The settings of a noisy-label comparison: :class:`NoisyConfig` and :class:`MethodParams`.

A comparison (:func:`selfdistill.nn.noisy.runner.run_noisy`) is defined by its data, its network,
its training budget (the same for every method), the methods' hyper-parameters and the noise model;
:class:`NoisyConfig` holds the four parts and the noise kind. :func:`config_spec` /
:func:`config_from_spec` turn it into plain JSON and back (what each run of a sweep carries), and
:func:`config_dict` is the flat ``config`` of ``results.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from ..._util.io import to_jsonable
from ..._util.validation import check_choice, check_int, check_real
from ...catalog import MULTICLASS_LABEL_FUNCTIONS, NOISE_KINDS, SD_LOSSES
from ..data_splits import DataSpec
from ..models import ModelSpec
from ..training.loop import TrainConfig

__all__ = [
    "FLAT_KEYS",
    "MethodParams",
    "NoisyConfig",
    "config_dict",
    "config_from_spec",
    "config_spec",
]


@dataclass(frozen=True)
class MethodParams:
    """The hyper-parameters of the methods (each method reads its own).

    Attributes
    ----------
    lam
        λ of self-distillation's ``1 − α_t = λ · batch accuracy``; ``None`` (default) takes Dong
        et al.'s CIFAR-10 choice: 1 for noise ≤ 0.4, 1.5 above.
    label_function, temperature, sd_loss
        Label function ``h`` and loss of self-distillation (:mod:`selfdistill.nn.noisy.dong`).
    beta_soft, beta_hard, gce_q
        Reed et al.'s β (0.95 soft, 0.8 hard) and GCE's q (0.7).
    elr_beta, elr_lam
        ELR's temporal-ensemble momentum β and regulariser weight λ (Liu et al.: 0.7, 3).
    margin_lam, margin_smoothing, ema_beta, switch_patience
        ``sd-margin``'s λ of the margin weight (3), its label smoothing ε (0.1), its teacher's
        momentum (0.7) and the noisy validation patience that ends its cross-entropy warm-up (1).
    cl_folds
        Confident Learning's K (3 folds).
    """

    lam: float | None = None
    label_function: str = "hardmax"
    temperature: float = 1.0
    sd_loss: str = "ce"
    beta_soft: float = 0.95
    beta_hard: float = 0.8
    gce_q: float = 0.7
    elr_beta: float = 0.7
    elr_lam: float = 3.0
    margin_lam: float = 3.0
    margin_smoothing: float = 0.1
    ema_beta: float = 0.7
    switch_patience: int = 1
    cl_folds: int = 3

    def __post_init__(self) -> None:
        check_choice("label_function", self.label_function, MULTICLASS_LABEL_FUNCTIONS)
        check_choice("sd_loss", self.sd_loss, SD_LOSSES)
        if self.lam is not None:
            check_real("lam", self.lam, low=0.0)
        check_real("temperature", self.temperature, low=0.0, low_inclusive=False)
        check_real("beta_soft", self.beta_soft, low=0.0, high=1.0)
        check_real("beta_hard", self.beta_hard, low=0.0, high=1.0)
        check_real("gce_q", self.gce_q, low=0.0, high=1.0, low_inclusive=False)
        for name in ("elr_beta", "ema_beta"):
            check_real(name, getattr(self, name), low=0.0, high=1.0, high_inclusive=False)
        check_real("elr_lam", self.elr_lam, low=0.0)
        check_real("margin_lam", self.margin_lam, low=0.0)
        check_real(
            "margin_smoothing", self.margin_smoothing, low=0.0, high=1.0, high_inclusive=False
        )
        check_int("switch_patience", self.switch_patience, low=1)
        check_int("cl_folds", self.cl_folds, low=2)

    def lam_for(self, noise: float) -> float:
        """λ used at noise rate ``noise``."""
        if self.lam is not None:
            return float(self.lam)
        return 1.0 if noise <= 0.4 else 1.5


#: flat keyword of :class:`NoisyConfig` -> (its part, the part's field), in the order of
#: ``results.json``'s config; ``noise_kind`` is NoisyConfig's own field
FLAT_KEYS: dict[str, tuple[str | None, str]] = {
    "data": ("dataset", "name"),
    "n_train": ("dataset", "n_train"),
    "num_samples": ("dataset", "num_samples"),
    "data_dir": ("dataset", "data_dir"),
    "noise_kind": (None, "noise_kind"),
    "model": ("network", "name"),
    "width": ("network", "width"),
    "depth": ("network", "depth"),
    "epochs": ("budget", "epochs"),
    "batch_size": ("budget", "batch_size"),
    "optimizer": ("budget", "optimizer"),
    "lr": ("budget", "lr"),
    "momentum": ("budget", "momentum"),
    "weight_decay": ("budget", "weight_decay"),
    "schedule": ("budget", "schedule"),
    "device": ("budget", "device"),
    "lam": ("hyper", "lam"),
    "label_function": ("hyper", "label_function"),
    "temperature": ("hyper", "temperature"),
    "sd_loss": ("hyper", "sd_loss"),
    "beta_soft": ("hyper", "beta_soft"),
    "beta_hard": ("hyper", "beta_hard"),
    "gce_q": ("hyper", "gce_q"),
    "elr_beta": ("hyper", "elr_beta"),
    "elr_lam": ("hyper", "elr_lam"),
    "margin_lam": ("hyper", "margin_lam"),
    "margin_smoothing": ("hyper", "margin_smoothing"),
    "ema_beta": ("hyper", "ema_beta"),
    "switch_patience": ("hyper", "switch_patience"),
    "cl_folds": ("hyper", "cl_folds"),
    "n_test": ("dataset", "n_test"),
    "n_val": ("dataset", "n_val"),
    "label_column": ("dataset", "label_column"),
    "image_size": ("dataset", "image_size"),
}


#: the flat keywords that ``results.json`` keeps under ``extra`` (only when set)
_EXTRA = ("n_test", "n_val", "label_column", "image_size")


_DEFAULTS: dict[str, Callable[[], Any]] = {
    "dataset": DataSpec,
    "network": ModelSpec,
    "budget": lambda: TrainConfig(epochs=40, progress=False),
    "hyper": MethodParams,
}


@dataclass(frozen=True, init=False)
class NoisyConfig:
    """Everything that defines a noisy-label comparison except the methods, noise rates and seeds.

    Built from its four parts, or from the flat keywords of :data:`FLAT_KEYS` (``data=``,
    ``n_train=``, ``lr=``, ``lam=``, ...), each of which sets that field of its part; the two can
    be mixed (a keyword overrides the part's field). The flat names also read through:
    ``config.lr`` is ``config.budget.lr``.

    Attributes
    ----------
    dataset
        The data (:class:`DataSpec`; flat ``data``, ``n_train``, ``num_samples``, ``data_dir``,
        ``n_val``, ``n_test``, ``label_column``, ``image_size``).
    network
        The network (:class:`~selfdistill.nn.models.ModelSpec`; flat ``model``, ``width``,
        ``depth``).
    budget
        The training budget, the same for every method (:class:`TrainConfig`, its ``seed`` and
        ``progress`` replaced per run; flat ``epochs``, ``batch_size``, ``optimizer``, ``lr``,
        ``momentum``, ``weight_decay``, ``schedule``, ``device``; default 40 epochs, otherwise
        TrainConfig's defaults).
    hyper
        The methods' hyper-parameters (:class:`MethodParams`; flat ``lam``, ``label_function``,
        ``temperature``, ``sd_loss``, ``beta_soft``, ``beta_hard``, ``gce_q``).
    noise_kind
        ``symmetric``, ``symmetric-exclusive`` or ``pair`` (:func:`selfdistill.corrupt_labels`).
        Training and validation labels are corrupted; test labels stay clean.
    """

    dataset: DataSpec
    network: ModelSpec
    budget: TrainConfig
    hyper: MethodParams
    noise_kind: str

    def __init__(
        self,
        *,
        dataset: DataSpec | None = None,
        network: ModelSpec | None = None,
        budget: TrainConfig | None = None,
        hyper: MethodParams | None = None,
        noise_kind: str = "symmetric",
        **flat: Any,
    ) -> None:
        unknown = sorted(k for k in flat if FLAT_KEYS.get(k, (None,))[0] is None)
        if unknown:
            raise TypeError(f"NoisyConfig got unexpected keyword argument(s): {', '.join(unknown)}")
        given = {"dataset": dataset, "network": network, "budget": budget, "hyper": hyper}
        for group, part in given.items():
            part = _DEFAULTS[group]() if part is None else part
            fields = {FLAT_KEYS[k][1]: v for k, v in flat.items() if FLAT_KEYS[k][0] == group}
            object.__setattr__(self, group, replace(part, **fields) if fields else part)
        object.__setattr__(self, "noise_kind", check_choice("noise_kind", noise_kind, NOISE_KINDS))

    def __getattr__(self, name: str) -> Any:
        """The flat names read through to their part: ``config.data`` is ``config.dataset.name``."""
        part, field = FLAT_KEYS.get(name, (None, name))
        if part is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(object.__getattribute__(self, part), field)

    def train_config(self, seed: int, progress: bool = False) -> TrainConfig:
        """The training-loop settings shared by every method of one seed (same budget)."""
        return replace(self.budget, seed=seed, progress=progress)

    def lam_for(self, noise: float) -> float:
        """λ used at noise rate ``noise`` (:meth:`MethodParams.lam_for`)."""
        return self.hyper.lam_for(noise)


def config_spec(config: NoisyConfig) -> dict[str, Any]:
    """``config`` as plain JSON (every field of its four parts), the form a run's spec holds."""
    return to_jsonable(
        {
            "dataset": asdict(config.dataset),
            "network": asdict(config.network),
            "budget": asdict(replace(config.budget, progress=False)),
            "hyper": asdict(config.hyper),
            "noise_kind": config.noise_kind,
        }
    )


def config_from_spec(spec: dict[str, Any]) -> NoisyConfig:
    """The :class:`NoisyConfig` of :func:`config_spec`'s dict."""
    return NoisyConfig(
        dataset=DataSpec(**spec["dataset"]),
        network=ModelSpec(**spec["network"]),
        budget=TrainConfig(**spec["budget"]),
        hyper=MethodParams(**spec["hyper"]),
        noise_kind=spec["noise_kind"],
    )


def config_dict(config: NoisyConfig) -> dict[str, Any]:
    """The config as the flat JSON-able dict of ``results.json``: the keywords of
    :data:`FLAT_KEYS` in order, with ``n_test`` / ``n_val`` (when set) and a data file's reader
    options ``label_column`` / ``image_size`` under ``extra``."""
    out = {key: getattr(config, key) for key in FLAT_KEYS if key not in _EXTRA}
    extra = {key: getattr(config, key) for key in ("n_test", "n_val")}
    if config.dataset.is_file():
        extra |= {key: getattr(config, key) for key in ("label_column", "image_size")}
    if config.dataset.val_fraction != DataSpec.val_fraction or config.dataset.seed is not None:
        extra |= {"val_fraction": config.dataset.val_fraction, "data_seed": config.dataset.seed}
    return {**out, "extra": {key: value for key, value in extra.items() if value is not None}}
