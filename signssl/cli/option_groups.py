"""Options that several commands share, written once as a builder.

A builder is a function whose parameters are Typer options and which returns one library
object (an :class:`~signssl.eval.pipeline.EncoderSpec`, an
:class:`~signssl.eval.run_options.EvalData`, ...).  :func:`with_options` gives a command
a parameter per builder: Typer sees the builder's options in its place, and the command
is called with the object the builder made of them.

>>> import typer
>>> def span(start: int = typer.Option(0, "--start"), stop: int = typer.Option(9, "--stop")):
...     return range(start, stop)
>>> @with_options(frames=span)
... def show(frames: range, step: int = 1) -> list[int]:
...     return list(frames)[::step]
>>> list(inspect.signature(show).parameters)
['start', 'stop', 'step']
>>> show(start=2, stop=7, step=2)
[2, 4, 6]
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any


def with_options(**builders: Callable[..., Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: each parameter of the command named in ``builders`` is replaced, in its
    place, by that builder's parameters, and receives what the builder returns."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        params: list[inspect.Parameter] = []
        groups: dict[str, tuple[Callable[..., Any], list[str]]] = {}
        for p in inspect.signature(command, eval_str=True).parameters.values():
            if p.name not in builders:
                params.append(p)
                continue
            own = list(inspect.signature(builders[p.name], eval_str=True).parameters.values())
            groups[p.name] = (builders[p.name], [q.name for q in own])
            params += [q.replace(kind=inspect.Parameter.KEYWORD_ONLY) for q in own]
        names = [p.name for p in params]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice or set(builders) - set(groups):
            raise TypeError(f"{command.__name__}: options named twice {twice}, or builders "
                            f"without a parameter {sorted(set(builders) - set(groups))}")

        @functools.wraps(command)
        def run(**kwargs: Any) -> Any:
            for name, (build, own_names) in groups.items():
                kwargs[name] = build(**{n: kwargs.pop(n) for n in own_names})
            return command(**kwargs)

        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params])
        run.__annotations__ = {p.name: p.annotation for p in params
                               if p.annotation is not inspect.Parameter.empty}
        return run

    return decorate


def with_defaults(builder: Callable[..., Any], **options: Any) -> Callable[..., Any]:
    """``builder`` with some of its options replaced (another help text or default)."""
    sig = inspect.signature(builder, eval_str=True)

    @functools.wraps(builder)
    def build(**kwargs: Any) -> Any:
        return builder(**kwargs)

    build.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(default=options.pop(p.name, p.default)) for p in sig.parameters.values()])
    if options:
        raise TypeError(f"{builder.__name__} has no option {sorted(options)}")
    return build
