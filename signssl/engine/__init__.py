"""Training engine: configs, the Lightning module and the pretrain entry point.

>>> from signssl.engine import load_config, pretrain   # doctest: +SKIP
>>> from signssl.store import load_model
>>> cfg = load_config("sl_fpn", "tiny", ["trainer.max_epochs=2"])
>>> result = pretrain(cfg, "data/manifest.csv", "runs/slfpn")
>>> encoder = load_model("runs/slfpn")

Configuration imports neither Lightning nor the training code; the names that need
Lightning (``pretrain``, ``fit``, ``PretrainModule`` ...) load on first use.  Trained
models are written and read by :mod:`signssl.store`, below the engine.
"""

from typing import Any

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
    "PretrainResult": "signssl.engine.run",
    "fit": "signssl.engine.run",
    "pretrain": "signssl.engine.pretraining",
}

__all__ = [
    "PretrainConfig",
    "apply_overrides",
    "list_configs",
    "load_config",
    "load_run_config",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'signssl.engine' has no attribute {name!r}")
