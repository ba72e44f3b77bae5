"""Training engine: configs, the Lightning module, checkpoints and the pretrain entry point.

>>> from signssl.engine import load_config, pretrain, load_model   # doctest: +SKIP
>>> cfg = load_config("sl_fpn", "tiny", ["trainer.max_epochs=2"])
>>> result = pretrain(cfg, "data/manifest.csv", "runs/slfpn")
>>> encoder = load_model("runs/slfpn")

Configuration and checkpoint loading import neither Lightning nor the training code
(``load_model`` rebuilds an encoder from ``model.safetensors`` + ``config.json``); the
names that need Lightning (``pretrain``, ``fit``, ``PretrainModule`` ...) load on first use.
"""

from typing import Any

from signssl.engine.checkpoint import export_model, load_model, load_model_config
from signssl.engine.config import (
    PretrainConfig,
    apply_overrides,
    list_configs,
    load_config,
    load_run_config,
)

_LAZY = {
    "PretrainModule": "signssl.engine.module",
    "collapse_std": "signssl.engine.module",
    "PretrainResult": "signssl.engine.pretrain",
    "fit": "signssl.engine.pretrain",
    "pretrain": "signssl.engine.pretrain",
    "run_demo": "signssl.engine.demo",
}

__all__ = [
    "PretrainConfig",
    "apply_overrides",
    "export_model",
    "list_configs",
    "load_config",
    "load_model",
    "load_model_config",
    "load_run_config",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'signssl.engine' has no attribute {name!r}")
