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
its manifest would be (:func:`shard_dataset`), here and as the one ``--data``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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


@dataclass
class MixedSources:
    """What :func:`build_mixed_dataset` made: the dataset, skipped clips and a description."""

    dataset: Any
    skipped: int
    specs: list[SourceSpec]
    described: list[dict[str, Any]] = field(default_factory=list)

    def first_manifest(self) -> str | None:
        return next((s.path for s in self.specs if not s.is_synthetic), None)


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


def shard_dataset(cfg: Any, path: str | Path) -> Any:
    """A shard folder (``signssl shard``) as a pretraining source: its ``data.split``
    shards (every shard when they carry no split), checked against ``data.layout``,
    ``dims``, ``normalize`` and ``trim_empty``; read in the streaming order of
    :meth:`~signssl.data.shards.ShardDataset.epoch_order` seeded by ``trainer.seed``.

    Raises:
        ConfigError: shards written with other options.  DataError: no shard of the split.
    """
    from signssl.data.shards import ShardDataset, ShardIndex

    d = cfg.data
    splits = {s.split for s in ShardIndex.read(path).shards if s.split}
    dataset = ShardDataset(path, split=d.split if d.split and splits else None, seed=cfg.trainer.seed)
    dataset.check_options(d.layout, d.dims, d.normalize, d.trim_empty)
    return dataset


def build_mixed_dataset(cfg: Any, progress: bool = True) -> MixedSources:
    """A :class:`~signssl.data.mixed.MixedDataset` over ``cfg.data.sources``.

    Raises:
        ConfigError: a bad item, or only synthetic sources and no ``data.samples_per_epoch``.
        DataError: a missing manifest, or one without usable clips.
    """
    from signssl.data.mixed import MixedDataset
    from signssl.engine.pretrain import build_dataset
    from signssl.errors import DataError
    from signssl.synth.stream import SyntheticPoseDataset

    d = cfg.data
    specs = resolved_specs(cfg)
    datasets: list[Any] = []
    sizes: list[int | None] = []
    skipped = 0
    for spec in specs:
        if spec.is_synthetic:
            datasets.append(SyntheticPoseDataset(**(spec.synthetic or {}), layout=d.layout, dims=d.dims,
                                                 normalize=d.normalize))
            sizes.append(None)
            continue
        dataset, bad = build_dataset(cfg, spec.path, progress=progress)
        if len(dataset) == 0:
            raise DataError(f"no usable clips in this data source ({dataset.report().summary()})", spec.path)
        datasets.append(dataset)
        sizes.append(len(dataset))
        skipped += bad
    per_epoch = d.samples_per_epoch or sum(n for n in sizes if n is not None)
    if per_epoch < 1:
        raise ConfigError("every data source is synthetic: set data.samples_per_epoch (draws per epoch)")
    probs = source_probabilities(specs, sizes)
    described = [
        {**spec.to_dict(), "probability": round(p, 6), **({} if n is None else {"clips": n})}
        for spec, n, p in zip(specs, sizes, probs, strict=True)
    ]
    mixed = MixedDataset(datasets, probs, per_epoch, seed=cfg.trainer.seed)
    return MixedSources(mixed, skipped, specs, described)


def sources_for_pretraining(
    cfg: Any, data: Any, video: bool, progress: bool = True
) -> tuple[Any, MixedSources]:
    """``(cfg with the resolved sources, MixedSources)`` for :func:`~signssl.engine.pretrain.pretrain`.

    Raises:
        ConfigError: a manifest passed besides ``data.sources``, a video method, or
            retrieval validation without a manifest source.
    """
    from dataclasses import replace

    if data is not None:
        raise ConfigError("give the data once: either data.sources or one manifest, not both")
    if video:
        raise ConfigError(f"data.sources mixes pose sources; method '{cfg.method.name}' reads video: "
                          "pass one video manifest instead")
    specs = resolved_specs(cfg)
    if cfg.trainer.val_every_n_steps > 0 and all(s.is_synthetic for s in specs):
        raise ConfigError("trainer.val_every_n_steps needs a manifest among data.sources (its held-out "
                          "clips are the queries); set it to 0")
    cfg = replace(cfg, data=replace(cfg.data, sources=[s.to_dict() for s in specs]))
    return cfg, build_mixed_dataset(cfg, progress=progress)
