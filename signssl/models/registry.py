"""Model registry: named sizes as small entrypoints (timm-style).

>>> from signssl.models import create_model
>>> enc = create_model("pose_transformer_test")  # doctest: +SKIP

Entrypoints take only primitive keyword overrides, so a model is rebuilt from the JSON
config saved with its weights (``{"name": ..., "kwargs": {...}}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from signssl.errors import ConfigError
from signssl.utils import import_package

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register ``fn`` under its function name."""
    name = fn.__name__
    if name in _MODELS:
        raise ValueError(f"model '{name}' is registered twice")
    _MODELS[name] = fn
    return fn


def list_models(prefix: str = "") -> list[str]:
    _import_all()
    return sorted(n for n in _MODELS if n.startswith(prefix))


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build a registered model; unknown names raise with the list of known ones."""
    _import_all()
    if name not in _MODELS:
        raise ConfigError(f"unknown model '{name}'; known: {', '.join(sorted(_MODELS))}")
    return _MODELS[name](**overrides)


def _import_all() -> None:
    """Import every module of ``signssl.models`` (entrypoints register on import), so a
    new encoder file needs no list to join."""
    import_package("signssl.models")
