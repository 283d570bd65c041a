"""Learning from noisy labels: Dong et al.'s self-distillation, the library's ``sd-margin``, the
rivals, and the runner that trains them side by side (torch extra).

``base``
    the types a method is made of (:class:`MethodContext`, :class:`DataChoice`, :class:`Method`).
``registry``
    built-in and plug-in methods by name (:func:`register_method`, :func:`get_method`).
``dong``
    Dong et al. (2019), Algorithm 1: label functions, α schedules, the target rule
    :class:`SelfDistillationTarget` and its :class:`SelfDistillationLoss`.
``margin``
    ``sd-margin``, the default: :class:`MarginSelfDistillationLoss` and its
    :class:`NoisyValSwitch`.
``rivals``
    :class:`BootstrapLoss`, :class:`GCELoss`, :class:`ELRLoss` and its :class:`TemporalEnsemble`.
``confident_learning``
    Confident Learning (cleanlab) as a data rule.
``config``
    :class:`NoisyConfig` and :class:`MethodParams`, the settings of a comparison.
``runner``
    :func:`run_noisy` (the sweep) and :func:`noisy_run` (one training of it).
``outputs``, ``relabel``
    what each run writes (model, ``labels.csv``, ``metrics.csv``) and ``--export-relabelled``.
"""

from __future__ import annotations

from ...catalog import ALPHA_SCHEDULES, LABEL_FUNCTIONS, SD_LOSSES
from ...label_report import flag_scores
from ..data_splits import DataSpec
from ..training.loop import cross_entropy_loss
from .base import DataChoice, Method, MethodContext, TrainFn
from .confident_learning import confident_learning, out_of_sample_probabilities
from .config import FLAT_KEYS, MethodParams, NoisyConfig, config_dict, config_from_spec, config_spec
from .dong import (
    AlphaSchedule,
    SelfDistillationLoss,
    SelfDistillationTarget,
    batch_accuracy,
    hardmax,
    make_alpha_schedule,
    make_label_function,
    ramp,
    softmax_labels,
)
from .margin import MarginSelfDistillationLoss, NoisyValSwitch
from .outputs import RunOutputs, run_folder
from .registry import ENTRY_POINT_GROUP, get_method, method_names, register_method
from .relabel import export_relabelled, refined_labels
from .rivals import BootstrapLoss, ELRLoss, GCELoss, TemporalEnsemble
from .runner import (
    METHODS,
    RUN_KEYS,
    corrupt_splits,
    label_recovery,
    make_method_loss,
    method_context,
    noisy_run,
    noisy_specs,
    run_noisy,
    train_method,
)

__all__ = [
    "ALPHA_SCHEDULES",
    "ENTRY_POINT_GROUP",
    "FLAT_KEYS",
    "LABEL_FUNCTIONS",
    "METHODS",
    "RUN_KEYS",
    "SD_LOSSES",
    "AlphaSchedule",
    "BootstrapLoss",
    "DataChoice",
    "DataSpec",
    "ELRLoss",
    "GCELoss",
    "MarginSelfDistillationLoss",
    "Method",
    "MethodContext",
    "MethodParams",
    "NoisyConfig",
    "NoisyValSwitch",
    "RunOutputs",
    "SelfDistillationLoss",
    "SelfDistillationTarget",
    "TemporalEnsemble",
    "TrainFn",
    "batch_accuracy",
    "confident_learning",
    "config_dict",
    "config_from_spec",
    "config_spec",
    "corrupt_splits",
    "cross_entropy_loss",
    "export_relabelled",
    "flag_scores",
    "get_method",
    "hardmax",
    "label_recovery",
    "make_alpha_schedule",
    "make_label_function",
    "make_method_loss",
    "method_context",
    "method_names",
    "noisy_run",
    "noisy_specs",
    "out_of_sample_probabilities",
    "ramp",
    "refined_labels",
    "register_method",
    "run_folder",
    "run_noisy",
    "softmax_labels",
    "train_method",
]
