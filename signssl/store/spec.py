"""How an encoder reads clips: the part of a model's ``config.json`` that evaluation needs.

:class:`DataSpec` is what pretraining records with its export (pose: layout, dims,
normalisation, frame budget; video: clip length, frame size, frame step, rate);
:func:`spec_of_config` reads it back from a model's ``config.json`` and
:func:`spec_from_config` from a pretraining configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class DataSpec:
    """How clips are read for an encoder (what ``model/config.json`` records).

    Pose encoders use ``layout`` ... ``max_frames``; video encoders (``modality="video"``)
    ``clip_len`` and ``frame_size`` (``None`` = the encoder's input), ``frame_step`` and
    ``fps`` (``None`` = the file's rate).
    """

    layout: str = "masa49"
    dims: int = 2
    normalize: str = "auto"  # shoulders, or per hand for a clip without them
    max_frames: int = 64
    modality: str = "pose"
    trim_empty: bool = True  # leading / trailing frames without any joint are dropped
    clip_len: int | None = None
    frame_size: tuple[int, int] | None = None
    frame_step: int = 1
    fps: float | None = None


def spec_of_config(config: dict[str, Any]) -> DataSpec:
    """The :class:`DataSpec` of a model's ``config.json`` (:func:`signssl.store.model.spec_of_run`
    reads it from an exported model)."""
    if config.get("modality") == "video":
        size = config.get("input_size") or [None, None, None]
        fps = config.get("fps")
        return DataSpec(
            modality="video",
            clip_len=None if size[0] is None else int(size[0]),
            frame_size=None if size[1] is None else (int(size[1]), int(size[2])),
            frame_step=int(config.get("frame_step", 1)),
            fps=None if fps is None else float(fps),
        )
    return DataSpec(
        layout=str(config.get("layout", "masa49")),
        dims=int(config.get("dims", 2)),
        normalize=str(config.get("normalize", "shoulders")),
        max_frames=int(config.get("max_frames", 64)),
        trim_empty=bool(config.get("trim_empty", True)),
    )


def spec_from_config(cfg: Any) -> DataSpec:
    """How the encoder of a pretraining configuration reads clips.

    Pose methods: ``data.layout``, ``dims``, ``normalize``, ``max_frames``; video methods:
    ``modality="video"`` with ``data.video.frame_step`` / ``fps`` (clip length and frame
    size come from the encoder).
    """
    from signssl.methods.registry import method_modality  # lazy: loading a model imports no recipe

    d = cfg.data
    if method_modality(cfg.method.name) == "video":
        return DataSpec(modality="video", frame_step=d.video.frame_step, fps=d.video.fps)
    return DataSpec(d.layout, d.dims, d.normalize, d.max_frames, trim_empty=d.trim_empty)
