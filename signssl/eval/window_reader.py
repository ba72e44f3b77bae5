"""A manifest's rows read as window batches, the way an exported encoder reads clips.

:class:`WindowReader` reads every manifest row as a stream of window batches, windows as
in :mod:`signssl.eval.windows` (``window`` frames every ``stride`` frames,
docs/methods.md#signrep-retrieval):

* video rows are decoded incrementally with :func:`signssl.io.video.iter_windows`, at
  most one batch of windows in memory, never the whole video (from the row's file, or
  whatever :meth:`WindowReader.video_source` gives: a video shard's stored bytes,
  :mod:`signssl.eval.shard_data`); frames are plainly resized
  to the encoder's input size, resampled to the run's ``fps`` when it records one, and,
  with ``frame_step`` ``k > 1``, a window takes every ``k``-th frame of
  ``(window - 1) k + 1`` consecutive ones;
* pose rows are read whole (a pose file is small) the way the encoder was trained (its
  recorded layout, dims and normalisation) and cut into windows over pose frames.

:class:`ClipInput` says how an encoder reads clips: what its run's
:class:`~signssl.store.spec.ModelDescription` records (:meth:`ClipInput.of_description`),
the frame size resolved against the encoder, plus the layout of flat-vector files.  Both
:mod:`signssl.eval.pooled` (one vector per row) and :mod:`signssl.eval.extract` (one
window sequence per row on disk) read rows this way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from signssl.data import PoseDataset
from signssl.data.loading import UNREADABLE, SampleError
from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.signrep import require_video_manifest
from signssl.errors import ConfigError, DataError
from signssl.eval.windows import (
    DEFAULT_STRIDE,
    DEFAULT_WINDOW,
    iter_window_batches,
    video_window_batch,
)
from signssl.io import video as video_io
from signssl.io.video import VideoBytes, VideoSource, probe_video
from signssl.models.base import Encoder
from signssl.pose.layouts import DEFAULT_LAYOUT
from signssl.store.model import open_model
from signssl.store.spec import ModelDescription

# ----------------------------------------------------------------------------- input


@dataclass(frozen=True)
class ClipInput:
    """How an encoder reads clips (what a run's ``model/config.json`` records).

    ``modality="video"``: ``frame_size`` ``(H, W)``, ``frame_step``, ``fps`` (``None`` =
    the file's rate).  ``modality="pose"``: ``layout``, ``dims``, ``normalize``,
    ``source_layout`` (layout of flat-vector files) and ``trim_empty``.
    """

    modality: str = "pose"
    frame_size: tuple[int, int] | None = None
    frame_step: int = 1
    fps: float | None = None
    layout: str | None = DEFAULT_LAYOUT
    dims: int | None = 2
    normalize: str = "auto"  # shoulders, or per hand for a clip without them
    source_layout: str | None = None
    trim_empty: bool = True  # drop leading / trailing frames without any joint

    def __post_init__(self) -> None:
        if self.modality not in ("video", "pose"):
            raise ConfigError(f"modality must be 'video' or 'pose', got {self.modality!r}")
        if self.frame_step < 1:
            raise ConfigError(f"frame_step must be >= 1, got {self.frame_step}")

    @classmethod
    def of_run(cls, checkpoint: str | Path, encoder: Encoder) -> ClipInput:
        """The input recorded with an exported run."""
        return cls.of_description(open_model(checkpoint).description, encoder)

    @classmethod
    def of_description(
        cls, description: ModelDescription, encoder: Encoder, source_layout: str | None = None
    ) -> ClipInput:
        """The input a model's description records (``source_layout``: the layout of
        flat-vector pose files)."""
        spec = description.data_spec
        if spec.modality == "video":
            return cls.for_video(encoder, spec.frame_size, spec.frame_step, spec.fps)
        return cls("pose", layout=spec.layout, dims=spec.dims, normalize=spec.normalize,
                   source_layout=source_layout, trim_empty=spec.trim_empty)

    @classmethod
    def for_video(
        cls, encoder: Encoder, frame_size: Any = None, frame_step: int = 1, fps: float | None = None
    ) -> ClipInput:
        """Video input; ``frame_size`` defaults to the encoder's ``input_size[1:]``."""
        if frame_size is None:
            size = getattr(encoder, "input_size", None)
            if size is None:
                raise ConfigError(f"{type(encoder).__name__} has no input_size: give frame_size")
            frame_size = (int(size[1]), int(size[2]))
        return cls("video", (int(frame_size[0]), int(frame_size[1])), int(frame_step), fps)


def default_window(encoder: Encoder, window: int | None) -> int:
    """``window``, or the encoder's clip length (``input_size[0]``), or 16."""
    if window is not None:
        return int(window)
    size = getattr(encoder, "input_size", None)
    return int(size[0]) if size is not None else DEFAULT_WINDOW


# ----------------------------------------------------------------------------- reading

def error_reason(e: DataError) -> str:
    """The reason a row is counted under in a report (``"unreadable"`` when unsaid)."""
    return str(getattr(e, "reason", "unreadable"))


class WindowReader:
    """The window batches of every row of a manifest (module docstring).

    Args:
        manifest: the rows to read (a synthetic manifest naming poses in ``path`` and
            videos in ``video`` is read as a video manifest for video input).
        clip_input: how the encoder reads clips.
        window, stride: window length and stride (frames).
        batch_size: windows per batch.
        classes: class list of the pose dataset (default: the manifest's labels).
    """

    def __init__(
        self,
        manifest: Manifest,
        clip_input: ClipInput,
        window: int = DEFAULT_WINDOW,
        stride: int = DEFAULT_STRIDE,
        batch_size: int = 64,
        classes: list[str] | None = None,
    ) -> None:
        if window < 1 or stride < 1 or batch_size < 1:
            raise ConfigError(
                f"window, stride and batch size must be >= 1, got {window}, {stride}, {batch_size}"
            )
        self.input, self.window, self.stride, self.batch_size = (
            clip_input,
            window,
            stride,
            batch_size,
        )
        self.poses: Any = None
        self._last_pose: tuple[int, Any] | None = None  # (row, PoseSequence): read once per row
        if clip_input.modality == "video":
            self.manifest = require_video_manifest(manifest)
        else:
            self.manifest = manifest
            self.poses = PoseDataset(
                manifest,
                layout=clip_input.layout,
                dims=clip_input.dims,
                normalize=clip_input.normalize,  # type: ignore[arg-type]
                on_error="raise",
                source_layout=clip_input.source_layout,
                classes=classes,
                trim_empty=clip_input.trim_empty,
            )

    def __len__(self) -> int:
        return len(self.manifest)

    def row(self, row_index: int) -> ManifestRow:
        return self.manifest.rows[row_index]

    def path(self, row_index: int) -> Path:
        return self.manifest.resolve(self.manifest.rows[row_index])

    def video_source(self, row_index: int) -> VideoSource:
        """The video a row's windows are decoded from: its file (:meth:`path`).  The hook a
        shard-backed reader overrides to give the stored bytes (:class:`VideoBytes`)."""
        return self.path(row_index)

    def fps(self, row_index: int) -> float:
        """Frame rate of the frames the windows are cut from."""
        if self.input.modality == "video":
            return float(self.input.fps or probe_video(self.video_source(row_index)).fps)
        return float(self._pose(row_index).fps or 0.0)

    def _pose(self, row_index: int) -> Any:
        if self._last_pose is None or self._last_pose[0] != row_index:
            self._last_pose = (row_index, self.poses.load(row_index))
        return self._last_pose[1]

    def batches(self, row_index: int) -> Iterator[Any]:
        """Encoder-ready window batches of one row; a bad row raises a ``DataError``
        naming its file (before any batch for a missing or truncated video)."""
        if self.input.modality == "video":
            return self._video_batches(row_index)
        return self._pose_batches(row_index)

    def _pose_batches(self, row_index: int) -> Iterator[Any]:
        seq = self._pose(row_index)
        x = torch.tensor(seq.xyz, dtype=torch.float32)  # (T, J, C)
        conf = torch.tensor(seq.conf, dtype=torch.float32)  # (T, J)
        return iter_window_batches(x, self.window, self.stride, self.batch_size, conf)

    def _video_batches(self, row_index: int) -> Iterator[Any]:
        source, row = self.video_source(row_index), self.row(row_index)
        if not isinstance(source, VideoBytes) and not Path(source).is_file():
            raise SampleError(
                UNREADABLE, "file not found (fix the manifest path or remove the row)", source
            )
        video_io.count_frames(source)  # a truncated file fails here, before any window
        step = self.input.frame_step
        span = (self.window - 1) * step + 1
        windows = video_io.iter_windows(
            source, span, self.stride, row.start, row.end, self.input.fps, self.input.frame_size
        )
        return self._batched(windows, step)

    def _batched(self, windows: Iterator[Any], step: int) -> Iterator[Any]:
        held: list[np.ndarray] = []
        for clip in windows:
            held.append(clip.frames[::step])  # (window, H, W, 3)
            if len(held) == self.batch_size:
                yield _video_batch(held)
                held = []
        if held:
            yield _video_batch(held)


def _video_batch(frames: list[np.ndarray]) -> torch.Tensor:
    """``b`` windows ``(window, H, W, 3)`` uint8 -> ``(b, 3, window, H, W)`` uint8."""
    x = torch.from_numpy(np.stack(frames))  # (b, W, H, Wd, 3)
    return video_window_batch(x.permute(0, 1, 4, 2, 3))  # -> (b, W, 3, H, Wd) -> (b, 3, W, H, Wd)
