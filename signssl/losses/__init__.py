"""Losses, one per file: pure functions per term plus a module class (docs/methods.md).

Every loss file is found by name (:func:`signssl.utils.import_package`) and its public
classes and functions (those defined in it, or its ``__all__``) are exported here, so a
new loss file needs no import list: ``from signssl.losses import NTXentLoss``.
"""

from __future__ import annotations

import inspect
import sys

from signssl.utils import import_package


def _public(module_name: str) -> list[str]:
    """The names a loss file exports: its ``__all__``, else the classes and functions
    defined in it whose names do not start with ``_``."""
    module = sys.modules[module_name]
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module_name
    ]


def _export_all() -> list[str]:
    where: dict[str, str] = {}
    for module_name in import_package(__name__):
        for name in _public(module_name):
            if name in where:
                raise ImportError(
                    f"signssl.losses: {name!r} is defined in both {where[name]} and "
                    f"{module_name}; rename one of them"
                )
            where[name] = module_name
            globals()[name] = getattr(sys.modules[module_name], name)
    return sorted(where)


__all__ = _export_all()
