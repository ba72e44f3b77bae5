"""Video datasets: the rows of a video manifest as ``(T, 3, H, W)`` clips.

:class:`VideoDataset` gives one clip per row, sampled by
:func:`clip_positions` (``random`` / ``center`` windows of ``clip_len`` frames, every
``frame_step``-th frame; ``uniform`` = ``clip_len`` frames spread over the whole clip;
``all`` = every frame).  :class:`SlidingWindowDataset` streams every sliding window
of every video (``window`` frames every ``stride`` frames; SignRep's dictionary
retrieval and feature extraction use 16 and 2, docs/methods.md#signrep-retrieval),
decoding each video once.

A row's clip is its frame range ``[start, end)``, resampled to ``fps`` when given
(see :mod:`signssl.io.video`).  A sample is a dict::

    video          (T, 3, H, W)  uint8 (0-255), or float32: /255, then (x - mean) / std
                                 when ``normalize="imagenet"``
    frame_indices  (T,) int64    source frame number of every frame
    label          int           class index, -1 = unlabeled
    path, signer   str           absolute video path, signer ("" = unknown)
    index          int           row of ``dataset.manifest`` (:meth:`~_VideoRows.sample_index`)
    pose           PoseSequence  (``with_pose``) the same T frames of the row's pose file

``uint8`` is the default: four times smaller, and augmentation code converts anyway.
The pose file is named by the extra manifest column ``pose_path`` (relative to the
manifest's folder or absolute), as written by ``signssl extract-poses`` in
``videos.csv``; pose frame ``i`` is video frame ``i`` (scaled by the two frame rates
when they differ).  Batch samples with :func:`collate_videos`.

Errors: ``on_error="raise"`` raises :class:`~signssl.data.loading.SampleError` (a
``DataError`` naming the file); ``"skip"`` records bad rows (:meth:`report`) and serves
the next good one instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from signssl.constants import IMAGENET_MEAN, IMAGENET_STD
from signssl.data.loading import EMPTY, UNREADABLE, SampleError, read_sample
from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.report import ItemReport
from signssl.errors import ConfigError, DataError, SignSSLError
from signssl.io.video import VideoBytes, iter_windows, read_frames
from signssl.io.video_frames import (
    VideoClip,
    VideoSize,
    frames_to_tensor,
    output_size,
    resample_indices,
    uniform_indices,
)
from signssl.io.video_probe import count_frames, probe_video
from signssl.pose.layouts import Layout, get_layout
from signssl.pose.sequence import PoseSequence
from signssl.utils import progress_bar

Sampling = Literal["random", "center", "uniform", "all"]
OnError = Literal["raise", "skip"]
SAMPLINGS: tuple[str, ...] = ("random", "center", "uniform", "all")
POSE_COLUMN = "pose_path"
NO_POSE, POSE_MISMATCH = "no pose file", "pose does not match video"
NOT_FOUND = "file not found (fix the manifest path or remove the row)"
_POSE_TOLERANCE = 2  # frames a pose file may be shorter than its video


# ----------------------------------------------------------------------------- sampling

def clip_positions(
    num_frames: int,
    clip_len: int,
    sampling: Sampling = "center",
    frame_step: int = 1,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Positions (``0 .. num_frames - 1``) of the frames a clip keeps.

    ``random`` / ``center``: a window of ``clip_len`` frames taken every
    ``frame_step``-th frame (span ``(clip_len - 1) * frame_step + 1``) at a random /
    the central start; a clip shorter than the span repeats its last frame.
    ``uniform``: ``clip_len`` frames evenly spread from the first to the last.
    ``all``: every ``frame_step``-th frame (the length varies).

    >>> clip_positions(10, 4, "center").tolist(), clip_positions(10, 3, "center", 2).tolist()
    ([3, 4, 5, 6], [2, 4, 6])
    >>> clip_positions(3, 5, "center").tolist(), clip_positions(10, 4, "uniform").tolist()
    ([0, 1, 2, 2, 2], [0, 3, 6, 9])
    """
    if num_frames < 1:
        raise ConfigError(f"cannot sample from a clip of {num_frames} frames")
    if clip_len < 1 or frame_step < 1:
        raise ConfigError(f"clip_len and frame_step must be >= 1, got {clip_len}, {frame_step}")
    if sampling == "uniform":
        return uniform_indices(num_frames, clip_len)
    if sampling == "all":
        return np.arange(0, num_frames, frame_step, dtype=np.int64)
    span = (clip_len - 1) * frame_step + 1
    room = num_frames - span
    if sampling == "center":
        first = max(room, 0) // 2
    elif sampling == "random":
        gen = rng if rng is not None else np.random.default_rng()
        first = int(gen.integers(0, room + 1)) if room > 0 else 0
    else:
        raise ConfigError(f"sampling must be one of {list(SAMPLINGS)}, got {sampling!r}")
    return np.minimum(first + np.arange(clip_len, dtype=np.int64) * frame_step, num_frames - 1)


def align_pose_frames(
    frame_indices: np.ndarray, video_fps: float | None, pose: PoseSequence, path: Path | str
) -> PoseSequence:
    """The frames of ``pose`` shown with video frames ``frame_indices``.

    Pose frame ``round(i * pose.fps / video_fps)`` (``i`` when either rate is unknown or
    they agree within 1 %); a pose up to two frames shorter than needed repeats its last
    frame, a shorter one raises ``SampleError`` (re-extract it).
    """
    idx = np.asarray(frame_indices, dtype=np.int64)
    if video_fps and pose.fps and abs(pose.fps / video_fps - 1) > 0.01:
        idx = np.round(idx * (pose.fps / video_fps)).astype(np.int64)
    last = pose.num_frames - 1
    if idx.size and int(idx.max()) > last + _POSE_TOLERANCE:
        raise SampleError(
            POSE_MISMATCH,
            f"has {pose.num_frames} frames but video frame {int(idx.max())} needs one; the pose "
            "file does not belong to this video or is cut short - extract it again", path)
    idx = np.minimum(idx, last)
    return replace(pose, xyz=pose.xyz[idx], conf=pose.conf[idx])


def _normalizer(normalize: str | None, dtype: str) -> tuple[torch.Tensor, torch.Tensor] | None:
    if normalize in (None, "none"):
        return None
    if normalize != "imagenet":
        raise ConfigError(f"normalize must be 'imagenet' or None, got {normalize!r}")
    if dtype != "float32":
        raise ConfigError("normalize='imagenet' needs dtype='float32'")
    # (3,) -> (1, 3, 1, 1) to broadcast over (T, 3, H, W)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return mean, std


def _to_video_tensor(
    frames: np.ndarray, dtype: str, norm: tuple[torch.Tensor, torch.Tensor] | None
) -> torch.Tensor:
    t = frames_to_tensor(frames, dtype)  # (T, H, W, 3) -> (T, 3, H, W)
    return (t - norm[0]) / norm[1] if norm is not None else t


class _VideoRows:
    """What both datasets share: manifest, labels, options, pose reading, error records."""

    def __init__(
        self,
        manifest: Manifest | str | Path,
        size: VideoSize,
        dtype: str,
        normalize: str | None,
        fps: float | None,
        with_pose: bool,
        pose_column: str,
        pose_layout: str | Path | Layout | None,
        split: str | None,
        classes: Sequence[str] | None,
        on_error: str,
    ) -> None:
        full = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
        if dtype not in ("uint8", "float32"):
            raise ConfigError(f"dtype must be 'uint8' or 'float32', got {dtype!r}")
        if on_error not in ("raise", "skip"):
            raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if fps is not None and not fps > 0:
            raise ConfigError(f"fps must be a positive number, got {fps!r}")
        output_size(1, 1, size)  # a bad size fails here, not in every sample
        self.norm = _normalizer(normalize, dtype)
        self.classes: list[str] = list(classes) if classes is not None else full.labels()
        self.manifest = full.filter(split=split) if split is not None else full
        self.labels: list[int] = self.manifest.label_indices(self.classes)
        self.size, self.dtype, self.fps = size, dtype, fps
        self.with_pose, self.pose_column = with_pose, pose_column
        self.pose_layout = get_layout(pose_layout) if pose_layout is not None else None
        self.on_error = on_error
        self._bad: dict[int, SampleError] = {}
        self._ok: set[int] = set()

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def video_path(self, row_index: int) -> Path:
        return self.manifest.resolve(self.manifest.rows[row_index])

    # hooks a shard reader (signssl.data.video_shards) overrides to serve stored rows

    def check_source(self, row_index: int) -> None:
        """Raise ``SampleError`` when the row's video file is missing."""
        path = self.video_path(row_index)
        if not path.exists():
            raise SampleError(UNREADABLE, NOT_FOUND, path)

    def video_source(self, row_index: int) -> Path | VideoBytes:
        """What :func:`~signssl.io.video.read_frames` decodes for a row: its video file
        (a shard reader gives the stored bytes); ``SampleError`` when it is missing."""
        self.check_source(row_index)
        return self.video_path(row_index)

    def sample_index(self, row_index: int) -> int:
        """The sample's ``index``: its manifest row (among its split's rows)."""
        return row_index

    def read_pose(self, row_index: int) -> tuple[PoseSequence, Path]:
        row: ManifestRow = self.manifest.rows[row_index]
        cell = row.extra.get(self.pose_column, "").strip()
        video = self.video_path(row_index)
        if not cell:
            raise SampleError(
                NO_POSE, f"has no '{self.pose_column}' column value naming its pose file; run "
                "signssl extract-poses and use its videos.csv", video)
        path = Path(cell).expanduser()
        if not path.is_absolute():
            path = (self.manifest.root or Path.cwd()) / path
        seq = read_sample(Path(os.path.abspath(path)), None)
        if self.pose_layout is not None:
            try:
                seq = seq.to_layout(self.pose_layout)
            except SignSSLError as e:
                raise SampleError(POSE_MISMATCH, str(e), path) from e
        return seq, path

    def sample_dict(
        self, row_index: int, clip: VideoClip, pose: tuple[PoseSequence, Path] | None = None
    ) -> dict[str, Any]:
        """The sample of a decoded clip; ``pose`` = the row's pose already read, if any."""
        row = self.manifest.rows[row_index]
        assert clip.frame_indices is not None
        out: dict[str, Any] = {
            "video": _to_video_tensor(clip.frames, self.dtype, self.norm),
            "frame_indices": torch.from_numpy(clip.frame_indices.copy()),
            "label": self.labels[row_index],
            "path": str(self.video_path(row_index)),
            "signer": row.signer or "",
            "index": self.sample_index(row_index),
        }
        if self.with_pose:
            seq, path = pose if pose is not None else self.read_pose(row_index)
            out["pose"] = align_pose_frames(clip.frame_indices, self.source_fps(row_index),
                                            seq, path)
        return out

    def source_fps(self, row_index: int) -> float | None:
        return None

    def record(self, row_index: int, error: SampleError) -> None:
        self._bad[row_index] = error
        if self.on_error == "raise":
            raise error

    def report(self) -> ItemReport:
        """Rows read so far in this process: ``kept`` and the bad ones by reason."""
        rep = ItemReport(kept=len(self._ok))
        for row_index in sorted(self._bad):
            e = self._bad[row_index]
            rep.add(e.reason, str(self.video_path(row_index)), str(e))
        return rep


def _as_sample_error(e: SignSSLError, path: Path) -> SampleError:
    if isinstance(e, SampleError):
        return e
    message = str(e).removeprefix(f"{path}: ")
    return SampleError(UNREADABLE, message, path)


# ----------------------------------------------------------------------------- one clip per row

class VideoDataset(_VideoRows, Dataset):
    """One clip per manifest row (module docstring for the sample and the errors).

    Args:
        manifest: a :class:`Manifest` or a manifest CSV whose paths are videos.
        clip_len: frames per clip (SignRep: 16 in pretraining, 64 for recognition).
        sampling: ``"random"``, ``"center"``, ``"uniform"`` or ``"all"``
            (:func:`clip_positions`).
        frame_step: take every n-th frame inside a window.
        fps: resample every clip to this rate first; ``None`` keeps the file's.
        size: plain resize, ``(height, width)`` or the shorter side; ``None`` keeps it.
        dtype: ``"uint8"`` or ``"float32"`` (scaled to [0, 1]).
        normalize: ``"imagenet"`` (float32 only) or ``None``.
        with_pose: add the row's aligned pose (column ``pose_column``).
        pose_layout: convert poses to this layout by joint name; ``None`` keeps theirs.
        transform: applied to the ``(T, 3, H, W)`` tensor (augmentations).
        split: keep the rows of this split only.
        classes: the class list for label indices (default: the manifest's labels).
        on_error: ``"raise"`` or ``"skip"``.
        seed: seed of the ``random`` sampling (``None``: drawn from torch's generator,
            so DataLoader workers differ and ``torch.manual_seed`` reproduces a run).
    """

    def __init__(
        self,
        manifest: Manifest | str | Path,
        clip_len: int = 16,
        sampling: Sampling = "random",
        frame_step: int = 1,
        fps: float | None = None,
        size: VideoSize = 224,
        dtype: Literal["uint8", "float32"] = "uint8",
        normalize: Literal["imagenet"] | None = None,
        with_pose: bool = False,
        pose_column: str = POSE_COLUMN,
        pose_layout: str | Path | Layout | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        split: str | None = None,
        classes: Sequence[str] | None = None,
        on_error: OnError = "raise",
        seed: int | None = None,
    ) -> None:
        super().__init__(manifest, size, dtype, normalize, fps, with_pose, pose_column,
                         pose_layout, split, classes, on_error)
        if sampling not in SAMPLINGS:
            raise ConfigError(f"sampling must be one of {list(SAMPLINGS)}, got {sampling!r}")
        clip_positions(1, clip_len, "center", frame_step)  # validates clip_len, frame_step
        self.clip_len, self.sampling, self.frame_step = clip_len, sampling, frame_step
        self.transform = transform
        self._rng = np.random.default_rng(seed) if seed is not None else None
        self._meta: dict[int, tuple[int, float]] = {}  # row -> (frames, fps)
        self._indices: list[int] = list(range(len(self.manifest)))

    def __len__(self) -> int:
        return len(self._indices)

    def source_fps(self, row_index: int) -> float | None:
        return self._meta[row_index][1] if row_index in self._meta else None

    def frames_of(self, row_index: int) -> np.ndarray:
        """Source frame numbers a sample of row ``row_index`` reads (drawn anew for
        ``random`` sampling)."""
        path = self.video_path(row_index)
        if row_index not in self._meta:
            self._meta[row_index] = (count_frames(path), probe_video(path).fps)
        total, src_fps = self._meta[row_index]
        row = self.manifest.rows[row_index]
        first = row.start or 0
        stop = total if row.end is None else min(row.end, total)
        if stop <= first:
            raise SampleError(
                EMPTY, f"frame range [{first}, {row.end if row.end is not None else 'end'}) "
                f"selects no frame of the {total} in the video; fix start/end", path)
        base = np.arange(stop - first, dtype=np.int64)
        if self.fps is not None:
            base = resample_indices(stop - first, src_fps, self.fps)
        rng = self._rng if self._rng is not None else np.random.default_rng(
            int(torch.randint(0, 2**31 - 1, (1,)).item()))
        pos = clip_positions(len(base), self.clip_len, self.sampling, self.frame_step, rng)
        return first + base[pos]

    def load(self, row_index: int) -> dict[str, Any]:
        """The sample of row ``row_index``; raises ``SampleError`` for a bad row."""
        path = self.video_path(row_index)
        try:
            source = self.video_source(row_index)
            idx = self.frames_of(row_index)
            clip = read_frames(source, idx, size=self.size, tolerance=1)
            sample = self.sample_dict(row_index, clip)
        except SignSSLError as e:
            raise _as_sample_error(e, path) from e
        if self.transform is not None:
            sample["video"] = self.transform(sample["video"])
        return sample

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self._indices)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a dataset of {n} samples")
        i %= n
        for k in range(n):  # skip mode: the next good row replaces a bad one
            row_index = self._indices[(i + k) % n]
            if row_index in self._bad:
                if self.on_error == "raise":
                    raise self._bad[row_index]
                continue
            try:
                sample = self.load(row_index)
            except SampleError as e:
                self.record(row_index, e)
                continue
            self._ok.add(row_index)
            return sample
        raise DataError(f"none of the {n} videos could be used ({self.report().summary()})")

    def scan(self, progress: bool = True) -> ItemReport:
        """Check every row once (frame count, range and pose file, no decoding) and keep
        only the good ones; returns :meth:`report`."""
        for row_index in progress_bar(list(self._indices), desc="checking videos", unit="video",
                              disable=not progress):
            path = self.video_path(row_index)
            try:
                self.check_source(row_index)
                self.frames_of(row_index)
                if self.with_pose:
                    self.read_pose(row_index)
            except SignSSLError as e:
                self.record(row_index, _as_sample_error(e, path))
                continue
            self._ok.add(row_index)
        self._indices = [i for i in self._indices if i not in self._bad]
        return self.report()

    def __repr__(self) -> str:
        return (f"VideoDataset({len(self)} videos, {self.num_classes} classes, "
                f"clip_len={self.clip_len}, sampling={self.sampling}, size={self.size}, "
                f"dtype={self.dtype}, with_pose={self.with_pose})")


# ----------------------------------------------------------------------------- sliding windows

class SlidingWindowDataset(_VideoRows, IterableDataset):
    """Every sliding window of every video, each video decoded once, in one pass.

    Yields the samples of the module docstring for windows of ``window`` frames every
    ``stride`` frames (:func:`~signssl.io.video.window_starts`), plus
    ``window_index`` (0, 1, ... within the video); ``index`` groups the windows of one
    video (e.g. for SignRep's activity-weighted average, docs/methods.md#signrep-retrieval).  With
    DataLoader workers each worker takes every ``num_workers``-th video.  A video is
    checked for truncation before it is streamed; a bad one is skipped and counted
    (``on_error="skip"``, the default) or raises.
    """

    def __init__(
        self,
        manifest: Manifest | str | Path,
        window: int = 16,
        stride: int = 2,
        fps: float | None = None,
        size: VideoSize = 224,
        dtype: Literal["uint8", "float32"] = "uint8",
        normalize: Literal["imagenet"] | None = None,
        cover_end: bool = False,
        with_pose: bool = False,
        pose_column: str = POSE_COLUMN,
        pose_layout: str | Path | Layout | None = None,
        split: str | None = None,
        classes: Sequence[str] | None = None,
        on_error: OnError = "skip",
    ) -> None:
        super().__init__(manifest, size, dtype, normalize, fps, with_pose, pose_column,
                         pose_layout, split, classes, on_error)
        if window < 1 or stride < 1:
            raise ConfigError(f"window and stride must be >= 1, got {window}, {stride}")
        self.window, self.stride, self.cover_end = window, stride, cover_end
        self._fps: dict[int, float] = {}

    def source_fps(self, row_index: int) -> float | None:
        return self._fps.get(row_index)

    def _rows_for_this_worker(self) -> range:
        info = get_worker_info()
        if info is None:
            return range(len(self.manifest))
        return range(info.id, len(self.manifest), info.num_workers)

    def iter_video(self, row_index: int) -> Iterator[dict[str, Any]]:
        """The window samples of one row (raises ``SampleError`` for a bad video)."""
        row = self.manifest.rows[row_index]
        path = self.video_path(row_index)
        try:
            self.check_source(row_index)
            count_frames(path)  # a truncated file fails here, before any window is served
            self._fps[row_index] = probe_video(path).fps
            pose = self.read_pose(row_index) if self.with_pose else None
            windows = iter_windows(path, self.window, self.stride, row.start, row.end,
                                   self.fps, self.size, cover_end=self.cover_end)
            for k, clip in enumerate(windows):
                sample = self.sample_dict(row_index, clip, pose)
                sample["window_index"] = k
                yield sample
        except SignSSLError as e:
            raise _as_sample_error(e, path) from e

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row_index in self._rows_for_this_worker():
            try:
                yield from self.iter_video(row_index)
            except SampleError as e:
                self.record(row_index, e)
                continue
            self._ok.add(row_index)

    def __repr__(self) -> str:
        return (f"SlidingWindowDataset({len(self.manifest)} videos, window={self.window}, "
                f"stride={self.stride}, size={self.size}, dtype={self.dtype})")


# ----------------------------------------------------------------------------- batching

def collate_videos(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack video samples into a batch.

    Returns:
        ``video (B, T, 3, H, W)``, ``frame_indices (B, T)`` int64, ``label (B,)`` int64,
        ``index (B,)`` int64, ``path`` / ``signer`` lists; ``window_index (B,)`` for
        sliding windows; with poses ``pose_x (B, T, J, C)`` float32 and
        ``pose_conf (B, T, J)`` float32.
    Raises:
        ValueError: an empty batch, or clips of different shapes (``sampling="all"``
            gives clips of different lengths: use batch_size=1).
    """
    if not samples:
        raise ValueError("collate_videos got an empty list of samples")
    shapes = {tuple(s["video"].shape) for s in samples}
    if len(shapes) > 1:
        raise ValueError(f"clips have different shapes {sorted(shapes)}; use one clip_len and "
                         "size (sampling='all' needs batch_size=1)")
    batch: dict[str, Any] = {
        "video": torch.stack([s["video"] for s in samples]),  # (B, T, 3, H, W)
        "frame_indices": torch.stack([s["frame_indices"] for s in samples]),  # (B, T)
        "label": torch.tensor([s["label"] for s in samples], dtype=torch.long),
        "index": torch.tensor([s["index"] for s in samples], dtype=torch.long),
        "path": [s["path"] for s in samples],
        "signer": [s["signer"] for s in samples],
    }
    if "window_index" in samples[0]:
        batch["window_index"] = torch.tensor([s["window_index"] for s in samples], dtype=torch.long)
    if "pose" in samples[0]:
        poses: list[PoseSequence] = [s["pose"] for s in samples]
        if len({p.xyz.shape for p in poses}) > 1:
            raise ValueError("poses have different shapes; give pose_layout so all share one layout")
        batch["pose_x"] = torch.from_numpy(np.stack([p.xyz for p in poses]))  # (B, T, J, C)
        batch["pose_conf"] = torch.from_numpy(np.stack([p.conf for p in poses]))  # (B, T, J)
    return batch
