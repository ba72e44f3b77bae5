"""Pretraining datasets: one manifest or shard folder (``--data``), or several sources
mixed by weight (``data.sources``, parsed by :mod:`signssl.engine.sources`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from signssl.data import Manifest, PoseDataset, select_split
from signssl.data.mixed import MixedDataset
from signssl.data.shards import ShardDataset, ShardIndex, is_shard_dir
from signssl.engine.config import PretrainConfig
from signssl.engine.sources import SourceSpec, resolved_specs, source_probabilities
from signssl.errors import ConfigError, DataError
from signssl.synth.stream import SyntheticPoseDataset


def build_dataset(
    cfg: PretrainConfig, data: str | Path | Any, progress: bool = True
) -> tuple[Dataset, int]:
    """``PoseDataset`` over a manifest (path or ``Manifest``) and the number of clips skipped.

    With ``data.on_error: skip`` every clip is read once up front (``scan``): unreadable
    ones are left out and counted, so the epoch length is exact.
    """
    if not isinstance(data, Manifest) and is_shard_dir(data):  # `signssl shard` output
        return shard_dataset(cfg, data), 0
    manifest = data if isinstance(data, Manifest) else read_manifest(Path(data))
    d = cfg.data
    split = select_split(manifest, d.split, "pretraining (data.split)")  # None: every row
    dataset = PoseDataset(
        manifest,
        layout=d.layout,
        dims=d.dims,
        normalize=d.normalize,
        split=split,
        on_error=d.on_error,
        cache=d.cache,
        trim_empty=d.trim_empty,
    )
    skipped = 0
    if d.on_error == "skip":
        skipped = dataset.scan(progress=progress).num_problems
    return dataset, skipped


def read_manifest(path: Path) -> Any:
    """The manifest CSV at ``path``; a missing file is a one-line :class:`DataError`."""
    if not path.is_file():
        raise DataError("manifest not found: pass a CSV made by `signssl manifest` or `synth`", path)
    return Manifest.read(path)


@dataclass
class MixedSources:
    """What :func:`build_mixed_dataset` made: the dataset, skipped clips and a description."""

    dataset: Any
    skipped: int
    specs: list[SourceSpec]
    described: list[dict[str, Any]] = field(default_factory=list)

    def first_manifest(self) -> str | None:
        return next((s.path for s in self.specs if not s.is_synthetic), None)


def shard_dataset(cfg: Any, path: str | Path) -> Any:
    """A shard folder (``signssl shard``) as a pretraining source: its ``data.split``
    shards (every shard when they carry no split), checked against ``data.layout``,
    ``dims``, ``normalize`` and ``trim_empty``; read in the streaming order of
    :meth:`~signssl.data.shards.ShardDataset.epoch_order` seeded by ``trainer.seed``.

    Raises:
        ConfigError: shards written with other options.  DataError: no shard of the split.
    """
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
    """``(cfg with the resolved sources, MixedSources)`` for :func:`~signssl.engine.pretraining.pretrain`.

    Raises:
        ConfigError: a manifest passed besides ``data.sources``, a video method, or
            retrieval validation without a manifest source.
    """
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
