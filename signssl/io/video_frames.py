"""Decoded frames as arrays: the clip container, frame-number arithmetic, resizing, and
the collector that gathers decoded frames into one array.  No PyAV here.

Frames are RGB ``uint8`` arrays: one frame ``(H, W, 3)``, a clip ``(T, H, W, 3)``.  The
rules (frame numbers, resampling, resizing) are stated in :mod:`signssl.io.video`, which
re-exports these names.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from signssl.errors import ConfigError, DataError

#: ``(height, width)``, or an int = the shorter side (aspect ratio kept), or ``None``
VideoSize = int | tuple[int, int] | None


_EPS = 1e-6  # tolerance of the resampling arithmetic, in frames


# ----------------------------------------------------------------------------- data classes

@dataclass
class VideoClip:
    """Decoded frames of one video (or one range or window of it).

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB.
        fps: frame rate of ``frames`` (after resampling).
        source: the file it was read from, for messages.
        frame_indices: ``(T,)`` int64 source frame number of every frame (``None`` when
            not read from a file).
    """

    frames: np.ndarray
    fps: float
    source: str | None = None
    frame_indices: np.ndarray | None = None

    def __post_init__(self) -> None:
        f = self.frames
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3:
            shape = getattr(f, "shape", None)
            dtype = getattr(f, "dtype", type(f).__name__)
            raise DataError(f"frames must be a (T, H, W, 3) uint8 array, got {shape} {dtype}",
                            self.source)
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise DataError(f"fps must be a positive number, got {self.fps}", self.source)
        if self.frame_indices is not None:
            self.frame_indices = np.asarray(self.frame_indices, dtype=np.int64)
            if self.frame_indices.shape != (f.shape[0],):
                raise DataError(
                    f"frame_indices must have shape ({f.shape[0]},), got "
                    f"{self.frame_indices.shape}", self.source)

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def duration(self) -> float:
        """Seconds covered (``num_frames / fps``)."""
        return self.num_frames / self.fps

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        return (f"VideoClip(T={self.num_frames}, H={self.height}, W={self.width}, "
                f"fps={self.fps:g}, source={self.source!r})")

    def to_tensor(self, dtype: Literal["uint8", "float32"] = "uint8") -> Any:
        """``(T, 3, H, W)`` torch tensor: uint8, or float32 scaled to ``[0, 1]``."""
        return frames_to_tensor(self.frames, dtype)


# ----------------------------------------------------------------------------- index helpers

def uniform_indices(num_frames: int, count: int) -> np.ndarray:
    """``count`` evenly spaced positions from ``0`` to ``num_frames - 1`` (rounded; a
    position repeats when ``count > num_frames``).

    >>> uniform_indices(10, 4).tolist(), uniform_indices(3, 5).tolist()
    ([0, 3, 6, 9], [0, 0, 1, 2, 2])
    """
    if num_frames < 1:
        raise ConfigError(f"cannot pick frames from a clip of {num_frames} frames")
    if count < 1:
        raise ConfigError(f"the number of frames to keep must be >= 1, got {count}")
    return np.round(np.linspace(0, num_frames - 1, count)).astype(np.int64)


def resample_indices(num_frames: int, src_fps: float, fps: float) -> np.ndarray:
    """Source positions of a clip of ``num_frames`` frames at ``src_fps`` resampled to
    ``fps``: ``floor(k * src_fps / fps)`` for every ``k`` whose position is in the clip.

    >>> resample_indices(7, 30, 15).tolist(), resample_indices(3, 10, 20).tolist()
    ([0, 2, 4, 6], [0, 0, 1, 1, 2, 2])
    """
    _check_fps(src_fps, "source fps")
    _check_fps(fps, "fps")
    if num_frames <= 0:
        return np.zeros(0, np.int64)
    step = src_fps / fps
    count = math.ceil(num_frames / step - _EPS)
    idx = np.floor(np.arange(count) * step + _EPS).astype(np.int64)
    return idx[idx < num_frames]


def _resample_positions(src_fps: float, fps: float) -> Iterator[int]:
    """The unbounded sequence of :func:`resample_indices` (for streaming)."""
    step, k = src_fps / fps, 0
    while True:
        yield int(math.floor(k * step + _EPS))
        k += 1


def window_starts(
    num_frames: int, window: int, stride: int, cover_end: bool = False, pad_short: bool = True
) -> list[int]:
    """First positions of the sliding windows :func:`iter_windows` yields.

    Windows start at ``0, stride, 2 * stride, ...`` while they fit.  With
    ``cover_end`` a last window ending on the last frame is added when the regular
    ones stop short of it.  A clip shorter than ``window`` gives one window at 0
    (padded by repeating its last frame) with ``pad_short``, none without.

    >>> window_starts(10, 4, 3), window_starts(10, 4, 3, cover_end=True)
    ([0, 3, 6], [0, 3, 6])
    >>> window_starts(11, 4, 3), window_starts(11, 4, 3, cover_end=True)
    ([0, 3, 6], [0, 3, 6, 7])
    """
    if window < 1 or stride < 1:
        raise ConfigError(f"window and stride must be >= 1, got window={window}, stride={stride}")
    if num_frames <= 0:
        return []
    if num_frames < window:
        return [0] if pad_short else []
    starts = list(range(0, num_frames - window + 1, stride))
    if cover_end and starts[-1] + window < num_frames:
        starts.append(num_frames - window)
    return starts


# ----------------------------------------------------------------------------- resizing

def output_size(height: int, width: int, size: VideoSize) -> tuple[int, int]:
    """``(height, width)`` after resizing a ``height x width`` frame to ``size``.

    >>> output_size(480, 640, 240), output_size(480, 640, (224, 224))
    ((240, 320), (224, 224))
    """
    if size is None:
        return height, width
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size < 1:
            raise ConfigError(f"size must be >= 1, got {size}")
        short = min(height, width)
        scale = int(size) / short
        if height <= width:
            return int(size), max(1, round(width * scale))
        return max(1, round(height * scale)), int(size)
    try:
        h, w = (int(v) for v in size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ConfigError(f"size must be an int (shorter side) or (height, width), got {size!r}") from None
    if h < 1 or w < 1:
        raise ConfigError(f"size must be positive, got {size!r}")
    return h, w


def resize_frames(
    frames: np.ndarray, size: VideoSize, antialias: bool = True, chunk: int = 32
) -> np.ndarray:
    """Plain resize of ``(T, H, W, 3)`` uint8 frames (bilinear, torch).

    Args:
        frames: ``(T, H, W, 3)`` uint8.
        size: ``(height, width)`` or the shorter side (see :func:`output_size`).
        antialias: low-pass filter when shrinking (like PIL's bilinear resize).
        chunk: frames converted to float at a time (bounds memory).
    Returns:
        ``(T, h, w, 3)`` uint8 (the input itself when the size does not change).
    """
    import torch
    import torch.nn.functional as F  # noqa: N812

    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(f"frames must be a (T, H, W, 3) uint8 array, got {frames.shape} {frames.dtype}")
    T, H, W, _ = frames.shape
    h, w = output_size(H, W, size)
    if (h, w) == (H, W):
        return frames
    smooth = antialias and (h < H or w < W)
    out = np.empty((T, h, w, 3), np.uint8)
    for s in range(0, T, chunk):
        # (t, H, W, 3) -> (t, 3, H, W)
        x = torch.from_numpy(np.ascontiguousarray(frames[s:s + chunk])).permute(0, 3, 1, 2).float()
        y = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=smooth)
        # (t, 3, h, w) -> (t, h, w, 3)
        out[s:s + chunk] = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out


def frames_to_tensor(frames: np.ndarray, dtype: Literal["uint8", "float32"] = "uint8") -> Any:
    """``(T, H, W, 3)`` uint8 -> ``(T, 3, H, W)`` torch tensor (uint8, or float32 in [0, 1])."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # (T, 3, H, W)
    if dtype == "uint8":
        return t.contiguous()
    if dtype == "float32":
        return t.float().div_(255.0)
    raise ConfigError(f"dtype must be 'uint8' or 'float32', got {dtype!r}")


def _check_fps(value: float, what: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{what} must be a positive number, got {value!r}")


# ----------------------------------------------------------------------------- collecting

def _stack(frames: list[np.ndarray]) -> np.ndarray:
    """``(T, H, W, 3)`` from frames of one size (a size change mid-stream is an error)."""
    if len({f.shape for f in frames}) > 1:
        raise DataError(f"frame size changes within the video ({sorted({f.shape for f in frames})[:3]}); "
                        "re-encode it at one size")
    return np.stack(frames)


class _FrameSink:
    """Collects decoded frames into one ``(T, h, w, 3)`` array as they come.

    Each frame is copied into the output while it is still in cache, so the decoder's
    buffer is reused at once (stacking a list afterwards holds every decoded buffer and
    copies them all a second time).  The output is sized from ``expected`` and grown if
    the file holds more.  With ``size``, frames are resized in chunks on the way in, so
    only ``chunk`` full-size frames are held at a time.
    """

    def __init__(self, expected: int, size: VideoSize = None, chunk: int = 32) -> None:
        self.expected, self.size, self.chunk = max(1, expected), size, chunk
        self.out: np.ndarray | None = None
        self.count = 0
        self.pending: list[np.ndarray] = []

    def add(self, frame: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` frame (copied at once when no resize is pending)."""
        if self.size is None:
            out = self.out
            if out is not None and self.count < out.shape[0] and frame.shape == out.shape[1:]:
                out[self.count] = frame  # the common case: one copy into the preallocated array
                self.count += 1
            else:
                self._put(frame[None])
            return
        self.pending.append(frame)
        if len(self.pending) == self.chunk:
            self._flush()

    def _flush(self) -> None:
        if self.pending:
            self._put(resize_frames(_stack(self.pending), self.size))
            self.pending = []

    def _put(self, block: np.ndarray) -> None:
        """Append ``block`` ``(n, h, w, 3)``."""
        n = block.shape[0]
        if self.out is None:
            self.out = np.empty((max(self.expected, n),) + block.shape[1:], np.uint8)
        elif block.shape[1:] != self.out.shape[1:]:
            raise DataError(f"frame size changes within the video ({self.out.shape[1:3]} then "
                            f"{block.shape[1:3]}); re-encode it at one size")
        if self.count + n > self.out.shape[0]:
            grown = np.empty((max(2 * self.out.shape[0], self.count + n),) + self.out.shape[1:],
                             np.uint8)
            grown[:self.count] = self.out[:self.count]
            self.out = grown
        self.out[self.count:self.count + n] = block
        self.count += n

    def result(self) -> np.ndarray:
        """The frames collected, ``(T, h, w, 3)``."""
        self._flush()
        if self.out is None:
            raise DataError("no frames were decoded")
        if self.count < 0.75 * self.out.shape[0]:  # the header promised many more frames
            self.out = self.out[:self.count].copy()
        return self.out[:self.count]
