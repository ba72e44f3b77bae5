"""Method registry: ``create_method(name, encoder, **kwargs)``.

A recipe registers itself with ``@register_method("name")``; every module of the
``signssl.methods`` package is imported on first use
(:func:`signssl.utils.import_package`), so a new recipe file needs no list to join.
Keyword arguments are primitive (numbers, strings, booleans), so a YAML config maps
straight onto them; unknown names raise with the known ones.  A recipe may group its
options into frozen dataclasses (a parameter whose default is a dataclass instance, as
MASA's :mod:`~signssl.methods.masa_options`): the config still gives each field flat, and
:func:`create_method` gathers the fields of each group into it.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator
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


def _parameters(cls: type[Method]) -> Iterator[inspect.Parameter]:
    """Keyword parameters of every ``__init__`` from the base :class:`Method` to ``cls``
    (e.g. VideoMethod's options), without ``self``, ``encoder`` and ``**kwargs``."""
    chain = [k for k in reversed(cls.__mro__) if issubclass(k, Method)]
    for fn in (klass.__init__ for klass in chain if "__init__" in vars(klass)):
        for p in inspect.signature(fn).parameters.values():
            if p.name in ("self", "encoder") or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            yield p


def _is_group(p: inspect.Parameter) -> bool:
    return dataclasses.is_dataclass(p.default) and not isinstance(p.default, type)


def method_options(name: str) -> dict[str, Any]:
    """Keyword options of a method and their defaults (recipe, its base classes' and the
    shared view options), the fields of grouped options given flat."""
    opts: dict[str, Any] = {}
    for p in _parameters(_method_class(name)):
        if _is_group(p):
            opts.update({f.name: getattr(p.default, f.name) for f in dataclasses.fields(p.default)})
        else:
            opts[p.name] = p.default
    return opts


def _grouped(cls: type[Method], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Flat options -> the constructor's arguments: each group's fields into its dataclass
    (its checks run there), the other options as they are."""
    rest = dict(kwargs)
    for p in filter(_is_group, _parameters(cls)):
        fields = [f.name for f in dataclasses.fields(p.default)]
        mine = {k: rest.pop(k) for k in fields if k in rest}
        rest[p.name] = dataclasses.replace(p.default, **mine)
    return rest


def _method_class(name: str) -> type[Method]:
    _import_all()
    if name not in _METHODS:
        raise ConfigError(f"unknown method '{name}'; known: {', '.join(sorted(_METHODS))}")
    return _METHODS[name]


def method_modality(name: str) -> str:
    """``"video"`` for recipes trained on video clips (class attribute ``modality``), else
    ``"pose"``; unknown names raise :class:`ConfigError`."""
    return str(getattr(_method_class(name), "modality", "pose"))


def create_method(name: str, encoder: Encoder, **kwargs: Any) -> Method:
    """Build the recipe ``name`` around ``encoder``; unknown names/options raise
    :class:`ConfigError` listing the known ones."""
    known = method_options(name)
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ConfigError(f"method '{name}' has no option(s) {unknown}; known: {sorted(known)}")
    cls = _METHODS[name]
    return cls(encoder, **_grouped(cls, kwargs))
