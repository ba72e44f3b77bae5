"""The video branch of :func:`~signssl.engine.pretraining.pretrain` (``signrep``, ``mae``):
a video encoder, pairs of crops from a video manifest or video shard folder (``signssl
shard``), SignRep's priors when the method needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import Dataset

from signssl.data import Manifest, select_split
from signssl.data.shards import ShardIndex, is_shard_dir
from signssl.data.signrep import PairClipDataset, collate_pairs, require_video_manifest
from signssl.data.video_shards import VideoShardDataset
from signssl.engine.config import PretrainConfig
from signssl.engine.datasets import read_manifest
from signssl.engine.run import PretrainResult, build_encoder, fit, validation_callbacks
from signssl.errors import ConfigError, DataError
from signssl.methods import create_method
from signssl.store.spec import describe_pretraining


def build_video_dataset(
    cfg: PretrainConfig,
    data: str | Path | Any,
    encoder: nn.Module,
    priors: bool,
    progress: bool = True,
) -> tuple[Dataset, int]:
    """:class:`~signssl.data.signrep.PairClipDataset` over a video manifest (or
    :class:`~signssl.data.video_shards.VideoShardDataset` over a video shard folder) and the
    number of videos skipped (``data.on_error: skip`` checks every row up front).

    Crops have the encoder's ``num_frames`` (``data.video.clip_len`` must agree) and are
    resized to ``data.video.size`` (square) or, by default, the encoder's input size.
    """
    d, v = cfg.data, cfg.data.video
    T, H, W = (int(n) for n in encoder.input_size)  # type: ignore[union-attr]
    if v.clip_len is not None and v.clip_len != T:
        raise ConfigError(
            f"data.video.clip_len={v.clip_len} but the encoder takes {T} frames: "
            f"--set data.video.clip_len={T} (or model.kwargs.num_frames={v.clip_len})"
        )
    options: dict[str, Any] = {
        "clip_len": T, "size": (H, W) if v.size is None else (v.size, v.size), "crops": v.crops,
        "priors": priors, "bone_lengths": v.bone_lengths, "frame_step": v.frame_step, "fps": v.fps,
        "on_error": d.on_error,
    }  # fmt: skip
    dataset: PairClipDataset
    if not isinstance(data, Manifest) and is_shard_dir(data):  # `signssl shard` of a video manifest
        dataset = VideoShardDataset(data, shard_split(data, d.split), stored_priors=v.priors_dir is not None,
                                    **options)  # fmt: skip
    else:
        manifest = data if isinstance(data, Manifest) else read_manifest(Path(data))
        manifest = require_video_manifest(manifest, data if not isinstance(data, Manifest) else None)
        split = select_split(manifest, d.split, "pretraining (data.split)")  # None: every row
        dataset = PairClipDataset(manifest, priors_dir=v.priors_dir, split=split, **options)
    skipped = 0
    if d.on_error == "skip":
        skipped = dataset.scan(progress=progress).num_problems
    return dataset, skipped


def shard_split(path: str | Path, split: str | None) -> str | None:
    """``data.split`` for a shard folder: ``None`` (every shard) when its shards carry no split."""
    return split if split and any(s.split for s in ShardIndex.read(path).shards) else None


def pretrain_video(
    cfg: PretrainConfig,
    data: str | Path | Any,
    out: Path,
    *,
    resume: bool = False,
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
    show: bool = True,
) -> PretrainResult:
    """The video branch of :func:`pretrain` (``signrep``, ``mae``).

    Builds the Hiera encoder first (the crops take its input size), the method, then the
    pair dataset (priors only when the method needs them).  ``out/model/config.json``
    records ``modality: video``, ``input_size`` ``[T, H, W]``, ``frame_step`` and ``fps``,
    so evaluation embeds video manifests with it (:mod:`signssl.eval.frozen`).
    """
    encoder, name, kwargs = build_encoder(cfg)
    if not hasattr(encoder, "input_size"):
        raise ConfigError(
            f"method '{cfg.method.name}' trains a video encoder; model '{name}' is not one "
            "(use hiera_base_16x224, hiera_tiny_16x64, cnn_tiny_16x64 or cnn_small_16x128)"
        )
    if cfg.trainer.val_every_n_steps > 0 and not isinstance(data, Manifest) and is_shard_dir(data):
        raise ConfigError(f"{data}: retrieval validation (trainer.val_every_n_steps) reads its held-out "
                          "videos from a manifest, not shards: --set trainer.val_every_n_steps=0")
    method = create_method(cfg.method.name, encoder, **cfg.method.kwargs)
    T, H, W = (int(n) for n in encoder.input_size)  # type: ignore[union-attr]
    v = cfg.data.video
    if v.size is not None and (v.size, v.size) != (H, W) and method.augmentation is None:
        raise ConfigError(
            f"data.video.size={v.size} differs from the encoder's {H}x{W} input and no "
            "augmentation crops it back: unset data.video.size or keep augment=true"
        )
    dataset, skipped = build_video_dataset(
        cfg, data, encoder, priors=bool(method.needs_priors), progress=show
    )
    if len(dataset) == 0:
        raise DataError(
            "no usable video in the manifest (check the video and pose paths, and "
            "--set data.split)",
            str(data),
        )
    description = describe_pretraining(cfg.to_dict(), name=name, kwargs=kwargs, input_size=(T, H, W))
    return fit(
        method,
        dataset,
        cfg,
        out,
        collate_fn=collate_pairs,
        resume=resume,
        export=description,
        callbacks=[*callbacks, *validation_callbacks(cfg, data, out, description)],
        progress=progress,
        skipped=skipped,
    )
