"""Pretraining on several data sources: manifests and the on-the-fly synthetic source.

Config form (``data.sources``, pose methods only)::

    data:
      sources:
        - {path: A.csv}                     # weight omitted: by size (below)
        - {path: B.csv, weight: 0.3}
        - {synthetic: {classes: 200, signers: 50, seed: 0}, weight: 0.5}
      samples_per_epoch: null               # null: the manifests' clips together

CLI form: ``--data A.csv --data B.csv:0.3 --data synth:classes=200,signers=50:0.5`` (a
number after the last ``:`` is the weight; ``synth`` alone takes the defaults).

Weights are relative (divided by their sum).  A manifest without a weight gets its share
of the clips of the unweighted manifests, ``n_k / sum(n)``, so those mix in proportion to
their size and together weigh 1; a synthetic source without one weighs 1.  An epoch is
``data.samples_per_epoch`` draws, by default the number of clips of all manifest sources
(required when every source is synthetic).  Each manifest is read as a single ``--data``
manifest is: its ``data.split`` rows (``train`` when it has split labels), the encoder's
layout, dims and normalisation.  Synthetic arguments: ``classes`` (50), ``signers`` (12),
``frames`` (``data.max_frames``), ``seed`` (0), ``minimal_pair_rate`` (0.6), ``noise`` (1.0)
(:class:`~signssl.synth.stream.SyntheticPoseDataset`).  Labels are ignored.

A path that is a shard folder (``signssl shard``, holding ``shards.json``) is read as
its manifest would be (:func:`signssl.engine.datasets.shard_dataset`), here and as the
one ``--data``.  This module parses sources; :mod:`signssl.engine.datasets` builds them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signssl.errors import ConfigError

SYNTH_PREFIX = "synth"
#: arguments of :class:`~signssl.synth.stream.SyntheticPoseDataset` a source may set, and
#: their types
SYNTH_ARGS: dict[str, type] = {
    "classes": int,
    "signers": int,
    "frames": int,
    "seed": int,
    "minimal_pair_rate": float,
    "noise": float,
}


@dataclass(frozen=True)
class SourceSpec:
    """One data source: a manifest ``path`` or ``synthetic`` generator arguments."""

    path: str | None = None
    synthetic: dict[str, Any] | None = None
    weight: float | None = None

    @property
    def is_synthetic(self) -> bool:
        return self.synthetic is not None

    def to_dict(self) -> dict[str, Any]:
        """The config form (``data.sources`` item)."""
        out: dict[str, Any] = (
            {"synthetic": dict(self.synthetic or {})} if self.is_synthetic else {"path": self.path}
        )
        if self.weight is not None:
            out["weight"] = self.weight
        return out

    def label(self) -> str:
        if self.is_synthetic:
            args = ",".join(f"{k}={v}" for k, v in sorted((self.synthetic or {}).items()))
            return f"{SYNTH_PREFIX}:{args}" if args else SYNTH_PREFIX
        return str(self.path)


def _check_weight(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{where}: weight must be a positive number, got {value!r}")
    return float(value)


def _check_synthetic(args: Any, where: str) -> dict[str, Any]:
    if not isinstance(args, Mapping):
        raise ConfigError(f"{where}: synthetic must be a mapping of generator arguments, got {args!r}")
    out: dict[str, Any] = {}
    for key, value in args.items():
        tp = SYNTH_ARGS.get(str(key))
        if tp is None:
            raise ConfigError(f"{where}: unknown synthetic argument {key!r}; known: {', '.join(SYNTH_ARGS)}")
        ok = not isinstance(value, bool) and isinstance(value, int if tp is int else int | float)
        if not ok or (tp is float and not math.isfinite(value)):
            raise ConfigError(f"{where}: synthetic {key} must be {'an integer' if tp is int else 'a number'}, "
                              f"got {value!r}")
        out[str(key)] = tp(value)
    return out


def parse_source_item(item: Any, where: str) -> SourceSpec:
    """A ``data.sources`` item (mapping with ``path`` or ``synthetic``, optional ``weight``)."""
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where} must be a mapping with 'path' or 'synthetic', got {item!r}")
    unknown = sorted(set(item) - {"path", "synthetic", "weight"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known: path, synthetic, weight")
    if ("path" in item) == ("synthetic" in item):
        raise ConfigError(f"{where} needs exactly one of 'path' (a manifest CSV) or 'synthetic', got {dict(item)!r}")
    weight = None if item.get("weight") is None else _check_weight(item["weight"], where)
    if "synthetic" in item:
        return SourceSpec(synthetic=_check_synthetic(item["synthetic"] or {}, where), weight=weight)
    path = item["path"]
    if not isinstance(path, str) or not path:
        raise ConfigError(f"{where}: path must be a manifest CSV path, got {path!r}")
    return SourceSpec(path=path, weight=weight)


def parse_sources(items: Sequence[Any], where: str = "data.sources") -> list[SourceSpec]:
    """Every ``data.sources`` item, checked (errors name the item, e.g. ``data.sources[1]``)."""
    return [parse_source_item(item, f"{where}[{i}]") for i, item in enumerate(items)]


def parse_source(text: str) -> SourceSpec:
    """A ``--data`` string: ``PATH``, ``PATH:WEIGHT``, ``synth``, ``synth:K=V,...[:WEIGHT]``."""
    where = f"--data {text!r}"
    body, weight = text, None
    head, sep, tail = text.rpartition(":")
    if sep and _is_number(tail):
        body, weight = head, _check_weight(float(tail), where)
    if body == SYNTH_PREFIX or body.startswith(SYNTH_PREFIX + ":"):
        args: dict[str, Any] = {}
        for part in filter(None, body[len(SYNTH_PREFIX) + 1 :].split(",")):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"{where}: {part!r} is not KEY=VALUE (e.g. synth:classes=200,signers=50:0.5)")
            args[key.strip()] = _number(value.strip(), where, key.strip())
        return SourceSpec(synthetic=_check_synthetic(args, where), weight=weight)
    if not body:
        raise ConfigError(f"{where}: no manifest path before the weight")
    if sep and weight is None and "/" not in tail and not Path(text).exists():
        raise ConfigError(f"{where}: {tail!r} after the last ':' is not a weight (a positive number)")
    return SourceSpec(path=body, weight=weight)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text: str, where: str, key: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{where}: synthetic {key}={text!r} is not a number") from None


def source_probabilities(specs: Sequence[SourceSpec], sizes: Sequence[int | None]) -> list[float]:
    """Draw probabilities from the weights (module docstring: the default rule)."""
    manifest_total = sum(n or 0 for s, n in zip(specs, sizes, strict=True)
                         if not s.is_synthetic and s.weight is None)  # unweighted manifests
    weights = []
    for spec, n in zip(specs, sizes, strict=True):
        if spec.weight is not None:
            weights.append(spec.weight)
        elif spec.is_synthetic:
            weights.append(1.0)
        else:
            weights.append((n or 0) / manifest_total if manifest_total else 0.0)
    total = sum(weights)
    if total <= 0:
        raise ConfigError("data.sources: no source has clips to draw (every manifest is empty)")
    return [w / total for w in weights]


def resolved_specs(cfg: Any) -> list[SourceSpec]:
    """``cfg.data.sources`` parsed, synthetic defaults filled in (``frames`` =
    ``data.max_frames``, ``seed`` = 0): what ``RUN/config.yaml`` records."""
    specs = parse_sources(cfg.data.sources)
    out = []
    for s in specs:
        if s.is_synthetic:
            args = {"frames": cfg.data.max_frames, "seed": 0, **(s.synthetic or {})}
            s = SourceSpec(synthetic=args, weight=s.weight)
        out.append(s)
    return out
