"""Training engine: configs, the Lightning module, checkpoints and the pretrain entry point.

>>> from signssl.engine import load_config, pretrain       # doctest: +SKIP
>>> cfg = load_config("sl_fpn", "tiny", ["trainer.max_epochs=2"])
>>> result = pretrain(cfg, "data/manifest.csv", "runs/slfpn")
>>> encoder = load_model("runs/slfpn")
"""

from signssl.engine.checkpoint import export_model, load_model, load_model_config
from signssl.engine.config import (
    PretrainConfig,
    apply_overrides,
    list_configs,
    load_config,
    load_run_config,
)
from signssl.engine.module import PretrainModule, collapse_std
from signssl.engine.optim import WarmupSchedule, param_groups
from signssl.engine.pretrain import PretrainResult, fit, pretrain

__all__ = [
    "PretrainConfig",
    "PretrainModule",
    "PretrainResult",
    "WarmupSchedule",
    "apply_overrides",
    "collapse_std",
    "export_model",
    "fit",
    "list_configs",
    "load_config",
    "load_model",
    "load_model_config",
    "load_run_config",
    "param_groups",
    "pretrain",
]
