"""Method registry: ``create_method(name, encoder, **kwargs)``.

A recipe registers itself with ``@register_method("name")``; every module of the
``signssl.methods`` package is imported on first use
(:func:`signssl.utils.import_package`), so a new recipe file needs no list to join.
Keyword arguments are primitive (numbers, strings, booleans), so a YAML config maps
straight onto them; unknown names raise with the known ones.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from signssl.errors import ConfigError
from signssl.methods.base import Method
from signssl.models.base import Encoder
from signssl.utils import import_package

_METHODS: dict[str, type[Method]] = {}


def register_method(name: str) -> Callable[[type[Method]], type[Method]]:
    """Class decorator: register a :class:`Method` subclass under ``name``."""

    def deco(cls: type[Method]) -> type[Method]:
        if name in _METHODS and _METHODS[name] is not cls:
            raise ValueError(f"method '{name}' is registered twice")
        _METHODS[name] = cls
        return cls

    return deco


def _import_all() -> None:
    import_package("signssl.methods")


def list_methods() -> list[str]:
    """Names of the registered methods."""
    _import_all()
    return sorted(_METHODS)


def method_options(name: str) -> dict[str, Any]:
    """Keyword options of a method and their defaults (recipe, its base classes' and the
    shared view options)."""
    _import_all()
    if name not in _METHODS:
        raise ConfigError(f"unknown method '{name}'; known: {', '.join(sorted(_METHODS))}")
    opts: dict[str, Any] = {}
    # every Method class on the way from the base to the recipe (e.g. VideoMethod's options)
    chain = [k for k in reversed(_METHODS[name].__mro__) if issubclass(k, Method)]
    for fn in (klass.__init__ for klass in chain if "__init__" in vars(klass)):
        for p in inspect.signature(fn).parameters.values():
            if p.name in ("self", "encoder") or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            opts[p.name] = p.default
    return opts


def method_modality(name: str) -> str:
    """``"video"`` for recipes trained on video clips (class attribute ``modality``), else
    ``"pose"``; unknown names raise :class:`ConfigError`."""
    _import_all()
    if name not in _METHODS:
        raise ConfigError(f"unknown method '{name}'; known: {', '.join(sorted(_METHODS))}")
    return str(getattr(_METHODS[name], "modality", "pose"))


def create_method(name: str, encoder: Encoder, **kwargs: Any) -> Method:
    """Build the recipe ``name`` around ``encoder``; unknown names/options raise
    :class:`ConfigError` listing the known ones."""
    known = method_options(name)
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ConfigError(f"method '{name}' has no option(s) {unknown}; known: {sorted(known)}")
    return _METHODS[name](encoder, **kwargs)
