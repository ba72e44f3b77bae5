"""What a trained model is and how it reads clips: the one description behind ``config.json``.

:class:`ModelDescription` is a trained encoder's ``config.json`` as one typed object: the
registered model and its kwargs, the recipe that trained it, its modality and how it
reads clips (pose: layout, dims, normalisation, frame budget, empty edge frames; video:
input size, frame step, rate), the data it saw and any other recorded field.  It is built
by one function, :func:`describe_pretraining`, from a resolved pretraining configuration
(the pose branch, the video branch and a run's ``.ckpt`` alike), written once at export
(:meth:`ModelDescription.to_json`) and read once at load (:meth:`ModelDescription.from_json`,
which reads every ``config.json`` earlier versions wrote).

:class:`DataSpec` is the part evaluation needs (:attr:`ModelDescription.data_spec`);
:func:`spec_of_config` reads it from a ``config.json`` mapping and :func:`spec_from_config`
from a pretraining configuration.

>>> d = ModelDescription("pose_transformer_test", {"in_dims": 2}, method="sl_fpn",
...                      layout="masa49", dims=2, normalize="auto", max_frames=64)
>>> ModelDescription.from_json(d.to_json()) == d
True
>>> d.data_spec.layout, d.data_spec.max_frames
('masa49', 64)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signssl.errors import DataError
from signssl.pose.layouts import DEFAULT_LAYOUT

FORMAT = "signssl-model"
#: 1: pose keys at the top level, ``method`` and ``modality`` optional (a pose run's
#: ``.ckpt`` and hand-made exports lack them); 2: written from :class:`ModelDescription`,
#: ``modality`` always recorded.  Both are read.
FORMAT_VERSION = 2
POSE_KEYS = ("layout", "dims", "normalize", "trim_empty", "max_frames")
VIDEO_KEYS = ("input_size", "frame_step", "fps")
MODALITIES = ("pose", "video")


@dataclass
class DataSpec:
    """How clips are read for an encoder (what ``model/config.json`` records).

    Pose encoders use ``layout`` ... ``max_frames``; video encoders (``modality="video"``)
    ``clip_len`` and ``frame_size`` (``None`` = the encoder's input), ``frame_step`` and
    ``fps`` (``None`` = the file's rate).
    """

    layout: str = DEFAULT_LAYOUT
    dims: int = 2
    normalize: str = "auto"  # shoulders, or per hand for a clip without them
    max_frames: int = 64
    modality: str = "pose"
    trim_empty: bool = True  # leading / trailing frames without any joint are dropped
    clip_len: int | None = None
    frame_size: tuple[int, int] | None = None
    frame_step: int = 1
    fps: float | None = None


@dataclass(frozen=True)
class ModelDescription:
    """A trained encoder and how it reads clips (``config.json`` as one object).

    ``name`` / ``kwargs`` rebuild it (``create_model(name, **kwargs)``); ``method``: the
    recipe that trained it (``None`` when unrecorded).  Pose fields (``layout`` ...
    ``max_frames``) and video fields (``input_size`` ``(T, H, W)``, ``frame_step``,
    ``fps``) left ``None`` were not recorded: readers take their own defaults
    (:attr:`data_spec`: those of older exports).  ``data_sources`` / ``samples_per_epoch``:
    the mixed sources the encoder saw.  ``extra``: every other recorded field (``sha256``,
    ``source``, ``best_step``, ``classes`` ...), kept as written.
    """

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    method: str | None = None
    modality: str = "pose"
    layout: str | None = None
    dims: int | None = None
    normalize: str | None = None
    trim_empty: bool | None = None
    max_frames: int | None = None
    input_size: tuple[int, ...] | None = None
    frame_step: int | None = None
    fps: float | None = None
    out_dim: int | None = None
    data_sources: list[Any] | None = None
    samples_per_epoch: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, value: ModelDescription | Mapping[str, Any]) -> ModelDescription:
        """``value`` itself, or the description of a ``config.json``-like mapping."""
        return value if isinstance(value, ModelDescription) else cls.from_json(value)

    @property
    def reads_video(self) -> bool:
        """Whether the encoder takes RGB clips."""
        return self.modality == "video"

    @property
    def data_spec(self) -> DataSpec:
        """How the encoder reads clips; unrecorded pose fields take the defaults older
        exports meant (``normalize`` ``shoulders``)."""
        if self.reads_video:
            size = list(self.input_size or [None, None, None])
            return DataSpec(
                modality="video",
                clip_len=None if size[0] is None else int(size[0]),
                frame_size=None if size[1] is None else (int(size[1]), int(size[2])),
                frame_step=1 if self.frame_step is None else int(self.frame_step),
                fps=None if self.fps is None else float(self.fps),
            )
        return DataSpec(
            layout=str(_or(self.layout, DEFAULT_LAYOUT)),
            dims=int(_or(self.dims, 2)),
            normalize=str(_or(self.normalize, "shoulders")),
            max_frames=int(_or(self.max_frames, 64)),
            trim_empty=bool(_or(self.trim_empty, True)),
        )

    def with_extra(self, **fields: Any) -> ModelDescription:
        """A copy with ``fields`` added to :attr:`extra` (e.g. ``best_step``)."""
        return dataclasses.replace(self, extra={**self.extra, **fields})

    def to_json(self) -> dict[str, Any]:
        """The ``config.json`` mapping (format :data:`FORMAT_VERSION`): the modality's
        input fields as recorded (video: all three, ``fps`` ``null`` = the file's rate)."""
        out: dict[str, Any] = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "kwargs": dict(self.kwargs),
            "modality": self.modality,
        }
        if self.reads_video:
            size = self.input_size
            out |= {"input_size": None if size is None else list(size),
                    "frame_step": self.frame_step, "fps": self.fps}  # fmt: skip
        keys = (*POSE_KEYS, "method", "out_dim", "data_sources", "samples_per_epoch")
        out |= {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, config: Any, source: str | Path | None = None) -> ModelDescription:
        """The description of a ``config.json`` mapping of any version (format 1 keys are
        format 2's; missing ``modality`` = pose); a mapping that names no model or a newer
        format is a :class:`DataError` naming ``source``."""
        if not isinstance(config, Mapping) or not isinstance(config.get("name"), str):
            raise DataError('expected {"name": <registered model>, "kwargs": {...}, ...}', source)
        raw = dict(config)
        version = raw.pop("format_version", 1)
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise DataError(
                f"format_version {version} is newer than this signssl reads ({FORMAT_VERSION}); "
                "upgrade signssl",
                source,
            )
        raw.pop("format", None)
        kwargs = raw.pop("kwargs", {})
        if not isinstance(kwargs, dict):
            raise DataError("'kwargs' must be a mapping", source)
        modality = raw.pop("modality", None) or "pose"
        if modality not in MODALITIES:
            raise DataError(f"modality must be 'pose' or 'video', not {modality!r}", source)
        own = {f.name for f in dataclasses.fields(cls)} - {"name", "kwargs", "modality", "extra"}
        known = {k: raw.pop(k) for k in list(raw) if k in own}
        if known.get("input_size") is not None:
            known["input_size"] = tuple(known["input_size"])
        return cls(raw.pop("name"), dict(kwargs), modality=modality, **known, extra=raw)


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def describe_pretraining(
    tree: Mapping[str, Any],
    *,
    name: str | None = None,
    kwargs: Mapping[str, Any] | None = None,
    input_size: Any = None,
    data_sources: list[Any] | None = None,
    samples_per_epoch: int | None = None,
) -> ModelDescription:
    """The description of the encoder a resolved pretraining configuration trains.

    Args:
        tree: the configuration as ``RUN/config.yaml`` holds it
            (:meth:`~signssl.engine.config.PretrainConfig.to_dict`); a ``data`` key it
            lacks is the configuration's default.
        name, kwargs: the model built (``model.init`` replaces ``tree["model"]``'s).
        input_size: a video encoder's ``(T, H, W)`` (``None``: unknown, the encoder's).
        data_sources, samples_per_epoch: the mixed sources drawn (pose runs with
            ``data.sources``).
    """
    from signssl.methods.registry import method_modality  # lazy: loading a model imports no recipe

    method = str(tree["method"]["name"])
    model = tree.get("model") or {}
    name = str(model["name"]) if name is None else name
    kwargs = dict(model.get("kwargs") or {}) if kwargs is None else dict(kwargs)
    data = tree.get("data") or {}
    default = DataSpec()
    if method_modality(method) == "video":
        video = data.get("video") or {}
        return ModelDescription(
            name, kwargs, method=method, modality="video",
            input_size=None if input_size is None else tuple(int(n) for n in input_size),
            frame_step=video.get("frame_step", default.frame_step),
            fps=video.get("fps", default.fps),
        )  # fmt: skip
    return ModelDescription(
        name, kwargs, method=method,
        **{k: data.get(k, getattr(default, k)) for k in POSE_KEYS},
        data_sources=data_sources, samples_per_epoch=samples_per_epoch,
    )  # fmt: skip


def spec_of_config(config: dict[str, Any]) -> DataSpec:
    """The :class:`DataSpec` of a model's ``config.json`` mapping."""
    return ModelDescription.from_json(config).data_spec


def spec_from_config(cfg: Any) -> DataSpec:
    """How the encoder of a pretraining configuration reads clips.

    Pose methods: ``data.layout``, ``dims``, ``normalize``, ``max_frames``; video methods:
    ``modality="video"`` with ``data.video.frame_step`` / ``fps`` (clip length and frame
    size come from the encoder).
    """
    return describe_pretraining(cfg.to_dict()).data_spec
