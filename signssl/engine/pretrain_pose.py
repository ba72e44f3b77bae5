"""The pose branch of :func:`~signssl.engine.pretraining.pretrain`: pose clips from one
manifest, a shard folder or several sources mixed by weight, an encoder checked against
the data's layout, coordinates and frames, and ``collate_poses`` batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback
from torch import nn

from signssl.data import collate_poses
from signssl.engine.config import PretrainConfig
from signssl.engine.datasets import MixedSources, build_dataset
from signssl.engine.run import PretrainResult, build_encoder, fit, validation_callbacks
from signssl.errors import ConfigError, DataError
from signssl.methods import create_method
from signssl.store.spec import describe_pretraining


def check_encoder_matches_data(encoder: nn.Module, cfg: PretrainConfig) -> None:
    """The encoder's joint layout, coordinates and frame budget must fit ``cfg.data``.

    ``data.layout`` follows ``model.kwargs.layout`` (:func:`~signssl.engine.config.layout_from_model`);
    they differ only for an encoder whose layout is not in its kwargs (``model.init``,
    a default), and ``model.kwargs.layout`` sets both.
    """
    d = cfg.data
    layout = getattr(getattr(encoder, "layout", None), "name", None)
    if layout is not None and layout != d.layout:
        raise ConfigError(
            f"model layout '{layout}' differs from data.layout '{d.layout}': "
            f"--set model.kwargs.layout={layout} (the data follow the encoder's layout)"
        )
    in_dims = getattr(encoder, "in_dims", None)
    if isinstance(in_dims, int) and in_dims != d.dims:
        raise ConfigError(
            f"model takes {in_dims}-D joints but data.dims={d.dims}: "
            f"--set model.kwargs.in_dims={d.dims} (or data.dims={in_dims})"
        )
    max_frames = getattr(encoder, "max_frames", None)
    if isinstance(max_frames, int) and max_frames < d.max_frames:
        raise ConfigError(
            f"model takes at most {max_frames} frames but data.max_frames={d.max_frames}: "
            f"--set model.kwargs.max_frames={d.max_frames} (or data.max_frames={max_frames})"
        )


def pretrain_pose(
    cfg: PretrainConfig,
    data: str | Path | Any,
    out: Path,
    *,
    mixed: MixedSources | None = None,
    resume: bool = False,
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
    show: bool = True,
) -> PretrainResult:
    """The pose branch of :func:`~signssl.engine.pretraining.pretrain` (every method whose
    ``modality`` is not ``video``); ``mixed``: the clips of ``data.sources``, already drawn."""
    dataset, skipped = (mixed.dataset, mixed.skipped) if mixed else build_dataset(cfg, data, progress=show)
    if len(dataset) == 0:
        report = dataset.report()  # type: ignore[attr-defined]
        raise DataError(f"no usable clips in the manifest ({report.summary()}; "
                        f"{report.explain_none_kept()})", str(data))
    encoder, name, kwargs = build_encoder(cfg)
    check_encoder_matches_data(encoder, cfg)
    method = create_method(cfg.method.name, encoder, **cfg.method.kwargs)
    seen = {} if mixed is None else {  # what data the encoder saw
        "data_sources": mixed.described, "samples_per_epoch": len(dataset)}  # fmt: skip
    description = describe_pretraining(cfg.to_dict(), name=name, kwargs=kwargs, **seen)
    return fit(
        method,
        dataset,
        cfg,
        out,
        collate_fn=_Collate(cfg.data.max_frames),
        resume=resume,
        export=description,
        callbacks=[*callbacks, *validation_callbacks(cfg, data, out, description)],
        progress=progress,
        skipped=skipped,
    )


class _Collate:
    """Picklable ``collate_poses`` with a fixed ``max_frames`` (for DataLoader workers)."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        return collate_poses(samples, max_frames=self.max_frames)
