"""Video files: decoding, resampling, resizing, windows and writing, with PyAV.

Frames are RGB ``uint8`` arrays: one frame ``(H, W, 3)``, a clip ``(T, H, W, 3)``
(channels last, as decoded).  Datasets turn them into ``(T, 3, H, W)`` tensors
(:meth:`VideoClip.to_tensor`).

Frame numbers
    A frame number is the 0-based position of a frame in the decoded stream, the
    numbering manifests' ``start`` / ``end`` use (``end`` exclusive, like a slice).
    Ranges are decoded from the start of the file (frames before ``start`` are
    decoded but not converted), so a range gives the same frames as slicing the
    whole clip.  Long videos are read in one pass with :func:`iter_windows`, which
    never holds more than one window.

Resampling
    ``fps``: output frame ``k`` is the source frame shown at time ``k / fps`` from the
    start of the range, i.e. source position ``floor(k * src_fps / fps)`` (frames are
    dropped when slowing down, repeated when speeding up).  The source is taken as
    constant-rate (its average rate; timestamps are not used).
    ``num_frames``: ``num_frames`` evenly spaced frames from the first to the last of
    the range (:func:`uniform_indices`).

Resizing
    A plain resize (no crop) with bilinear interpolation in torch, antialiased when
    shrinking (:func:`resize_frames`).  ``size`` is ``(height, width)``, or an int for
    the shorter side (aspect ratio kept).

Errors
    A missing, corrupt or truncated file raises :class:`~signssl.errors.DataError`
    naming it.  A file is reported as truncated when decoding stops more than one frame
    short of the frame count in its header.  Bulk jobs catch ``DataError``, skip the
    file and count it.

Display rotation (phone videos) is applied by default (``autorotate``).  Decoding uses
FFmpeg's default threading; ``threads=True`` adds frame threading.  The frames of a file
go through one RGB converter (PyAV's ``to_ndarray`` would make one per frame).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

from signssl.errors import ConfigError, DataError
from signssl.utils import atomic_path, regular_file_error


def _av() -> Any:
    """PyAV, imported on first use (importing it costs ~50 ms and loads FFmpeg)."""
    import av

    return av

#: ``(height, width)``, or an int = the shorter side (aspect ratio kept), or ``None``
VideoSize = int | tuple[int, int] | None

#: container format by file extension, and the default codec written into it
_WRITE_FORMATS: dict[str, tuple[str, str]] = {
    ".mp4": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".avi": ("avi", "mpeg4"),
    ".webm": ("webm", "libvpx"),
}
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


@dataclass(frozen=True)
class VideoInfo:
    """What the header of a video file says (see :func:`probe_video`).

    ``num_frames`` is the header's frame count, or the number of packets when the
    header has none or ``count=True`` was asked (``frames_counted``); ``header_frames``
    is the header's count (0 = none).
    """

    path: str
    num_frames: int
    header_frames: int
    fps: float
    width: int
    height: int
    codec: str
    duration: float | None
    frames_counted: bool

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


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


# ----------------------------------------------------------------------------- opening

def _check_fps(value: float, what: str) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{what} must be a positive number, got {value!r}")


def _why(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text if len(text) < 200 else text[:200] + "..."


def _bad_video(src: str, e: BaseException) -> DataError:
    return DataError(
        f"is not a readable video ({_why(e)}); it is corrupt, truncated or not a video file - "
        "re-encode or re-download it, or remove it from the list", src)


@contextlib.contextmanager
def _open_video(path: str | Path, threads: bool = False) -> Iterator[tuple[Any, Any, str]]:
    """``(container, video stream, path string)``; every failure is a :class:`DataError`."""
    src = os.fspath(path)
    problem = regular_file_error(src)  # missing, a folder, or a named pipe FFmpeg blocks on
    if problem is not None:
        raise problem
    try:
        container = _av().open(src, mode="r")
    except (_av().error.FFmpegError, OSError, ValueError, EOFError, IndexError) as e:
        raise _bad_video(src, e) from None
    try:
        if not container.streams.video:
            raise DataError("has no video stream (an audio file, not a video, or a corrupt or "
                            "truncated one)", src)
        stream = container.streams.video[0]
        _check_decodable(stream, src)
        if threads:
            stream.thread_type = "AUTO"
        yield container, stream, src
    finally:
        container.close()


def _check_decodable(stream: Any, src: str) -> None:
    """:class:`DataError` unless ``stream`` has a decoder and a frame size in its header.

    A damaged header can name a codec FFmpeg has no decoder for (PyAV then gives the
    stream no codec context) or a zero frame size; both are reported here, before any
    reader touches the stream.
    """
    ctx = stream.codec_context
    if ctx is None:
        raise DataError(
            "has a video stream no decoder can read (an unknown or damaged codec entry in "
            "its header); it is corrupt or in an unsupported codec - re-encode it to H.264 "
            "(ffmpeg -i IN -c:v libx264 OUT.mp4) or remove it from the list", src)
    if not (ctx.width > 0 and ctx.height > 0):
        raise DataError(
            f"its header gives a {ctx.width}x{ctx.height} frame size; the file is corrupt - "
            "re-encode or re-download it, or remove it from the list", src)


def _stream_fps(stream: Any, src: str) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and float(rate) > 0:
            return float(rate)
    raise DataError("has no frame rate in its header; re-encode it (e.g. with ffmpeg -r 25)", src)


def probe_video(path: str | Path, count: bool = False) -> VideoInfo:
    """Frame count, frame rate, size and codec of a video, from its header.

    Args:
        path: the video file.
        count: count the packets of the video stream (demuxing only, no decoding)
            instead of trusting the header; done anyway when the header has no count.
    Raises:
        DataError: unreadable file; with ``count``, fewer packets than the header
            announces (a truncated file).
    """
    with _open_video(path) as (container, stream, src):
        header = int(stream.frames or 0)
        n, counted = header, False
        if count or n <= 0:
            n, counted = _count_packets(container, stream, src), True
            _check_complete(n, header, src)
        return VideoInfo(
            path=src, num_frames=n, header_frames=header, fps=_stream_fps(stream, src),
            width=int(stream.codec_context.width), height=int(stream.codec_context.height),
            codec=str(stream.codec_context.name), duration=_duration(container, stream),
            frames_counted=counted,
        )


def _duration(container: Any, stream: Any) -> float | None:
    """Seconds the header gives for the stream (else for the file); ``None`` if neither."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _frames_estimate(container: Any, stream: Any, fps: float) -> int:
    """The header's frame count, else duration x fps (0 = unknown); sizes buffers only."""
    header = int(stream.frames or 0)
    if header > 0:
        return header
    duration = _duration(container, stream)
    return 0 if duration is None else max(0, round(duration * fps))


def count_frames(path: str | Path) -> int:
    """Number of frames, counted by demuxing (no decoding; exact for ordinary files).

    Raises :class:`DataError` for an unreadable or truncated file (fewer packets than
    the header announces), so a file can be checked before it is streamed.
    """
    return probe_video(path, count=True).num_frames


def _count_packets(container: Any, stream: Any, src: str) -> int:
    n = 0
    try:
        for packet in container.demux(stream):
            if packet.size:
                n += 1
    except _av().error.FFmpegError as e:
        raise _bad_video(src, e) from None
    return n


# ----------------------------------------------------------------------------- decoding

def _quarter_turns(frame: Any) -> int:
    """Counter-clockwise quarter turns the file's display matrix asks for (0 to 3)."""
    rotation = frame.rotation or 0
    return int(round(rotation / 90)) % 4


@dataclass(frozen=True)
class _RgbOut:
    """How the frames of one stream become RGB arrays: the display rotation
    (counter-clockwise quarter turns) and one colour converter for all of them.

    ``frame.to_ndarray(format="rgb24")`` gives each frame a converter of its own, i.e. a
    new SwsContext (and its threads) per frame; reusing one gives the same pixels in
    about half the time.
    """

    quarter: int
    converter: Any

    @classmethod
    def of(cls, first_frame: Any, autorotate: bool) -> _RgbOut:
        from av.video.reformatter import VideoReformatter

        return cls(_quarter_turns(first_frame) if autorotate else 0, VideoReformatter())


def _to_rgb(frame: Any, out: _RgbOut) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of a decoded frame, turned by the display rotation."""
    arr = out.converter.reformat(frame, format="rgb24").to_ndarray()  # (H, W, 3)
    return np.ascontiguousarray(np.rot90(arr, k=out.quarter)) if out.quarter else arr


def _iter_selected(
    path: str | Path,
    positions: Iterable[int] | None,
    start: int = 0,
    end: int | None = None,
    open_ended: bool = False,
    autorotate: bool = True,
    threads: bool = False,
    tolerance: int = 0,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame number, (H, W, 3) frame)`` for the wanted frames, in order.

    Args:
        positions: non-decreasing frame numbers relative to ``start`` (a repeated number
            is yielded again, the same array); ``None`` = every frame of the range.
        start, end: the range of frame numbers (``end`` exclusive, ``None`` = to the end).
        open_ended: ``positions`` is unbounded; running out of frames ends it quietly.
        tolerance: wanted frames up to this many past the last frame are replaced by
            the last frame (decoders may disagree by a frame on a file's length).
    Raises:
        DataError: unreadable or truncated file; a wanted frame beyond the video.
    """
    start = _check_range(start, end)
    with _open_video(path, threads=threads) as (container, stream, src):
        yield from _select(container, stream, src, positions, start, end, open_ended,
                           autorotate, tolerance)


def _check_range(start: int | None, end: int | None) -> int:
    """``start`` as an int (``None`` = 0); :class:`ConfigError` for an empty or negative range."""
    start = 0 if start is None else int(start)
    if start < 0 or (end is not None and end <= start):
        raise ConfigError(f"frame range [{start}, {end}) is empty or negative (end is exclusive)")
    return start


def _select(
    container: Any,
    stream: Any,
    src: str,
    positions: Iterable[int] | None,
    start: int,
    end: int | None,
    open_ended: bool,
    autorotate: bool,
    tolerance: int,
) -> Iterator[tuple[int, np.ndarray]]:
    """:func:`_iter_selected` on an open container (``start`` already checked)."""
    wanted = iter(positions) if positions is not None else None
    nxt = _next_wanted(wanted, start, -1)
    header_frames = int(stream.frames or 0)
    i, last, rgb = -1, None, None
    try:
        for frame in container.decode(stream):
            i += 1
            if rgb is None:  # the display matrix of the stream, read once
                rgb = _RgbOut.of(frame, autorotate)
            if i < start:
                continue
            if end is not None and i >= end:
                break
            if wanted is None:
                yield i, _to_rgb(frame, rgb)
                continue
            if nxt is None:
                break
            if nxt == i:
                last = _to_rgb(frame, rgb)
                while nxt == i:
                    yield i, last
                    nxt = _next_wanted(wanted, start, i)
            elif nxt - i <= tolerance:  # kept in case the video ends before `nxt`
                last = _to_rgb(frame, rgb)
        else:
            _check_complete(i + 1, header_frames, src)
    except _av().error.FFmpegError as e:
        raise DataError(
            f"decoding failed after {i + 1} frames ({_why(e)}); the file is corrupt or "
            "truncated - re-encode or re-download it", src) from None
    decoded = i + 1
    if wanted is None or nxt is None or open_ended:
        if decoded <= start:
            raise DataError(_range_message(start, end, decoded), src)
        return
    # wanted frames past the end of the video
    if last is not None and nxt - (decoded - 1) <= tolerance:
        while nxt is not None and nxt - (decoded - 1) <= tolerance:
            yield decoded - 1, last
            nxt = _next_wanted(wanted, start, decoded - 1)
        if nxt is None:
            return
    raise DataError(
        f"frame {nxt} is wanted but the video has {decoded} frames"
        + (f" ({_range_message(start, end, decoded)})" if end is not None else "")
        + "; fix the frame range or the requested frames", src)


def _next_wanted(wanted: Iterator[int] | None, start: int, previous: int) -> int | None:
    if wanted is None:
        return None
    try:
        n = start + int(next(wanted))
    except StopIteration:
        return None
    if n < previous or n < start:
        raise ConfigError("frame positions must be non-decreasing and >= 0")
    return n


def _check_complete(found: int, header_frames: int, src: str) -> None:
    if header_frames > 0 and found < header_frames - 1:
        raise DataError(
            f"is truncated: its header announces {header_frames} frames but only {found} "
            "are in the file - re-encode or re-download it", src)


def _range_message(start: int, end: int | None, decoded: int) -> str:
    stop = "end" if end is None else str(end)
    return (f"frame range [{start}, {stop}) selects no frame of the {decoded} in the video; "
            "fix start/end")


# ----------------------------------------------------------------------------- public readers

def iter_frames(
    path: str | Path,
    start: int | None = None,
    end: int | None = None,
    fps: float | None = None,
    size: VideoSize = None,
    autorotate: bool = True,
    threads: bool = False,
) -> Iterator[np.ndarray]:
    """Decode frames one at a time (constant memory): ``(H, W, 3)`` uint8 RGB each.

    Args:
        path: the video file.
        start, end: frame range (``end`` exclusive; ``None`` = from the first / to the
            last frame).
        fps: resample to this rate (module docstring); ``None`` keeps every frame.
        size: resize every frame (module docstring).
        autorotate: apply the file's display rotation.
        threads: FFmpeg frame threading (decodes several frames at once: faster for
            one long stream on an idle multi-core machine; keep it off in DataLoader
            workers and on busy machines, where it slows decoding down).
    """
    src_fps = probe_video(path).fps if fps is not None else None
    positions = _resample_positions(src_fps, fps) if fps is not None else None
    for _, frame in _iter_selected(path, positions, start or 0, end, open_ended=True,
                                   autorotate=autorotate, threads=threads):
        yield frame if size is None else resize_frames(frame[None], size)[0]


def read_video(
    path: str | Path,
    start: int | None = None,
    end: int | None = None,
    fps: float | None = None,
    num_frames: int | None = None,
    size: VideoSize = None,
    autorotate: bool = True,
    threads: bool = False,
) -> VideoClip:
    """Read a clip, or the frame range ``[start, end)`` of it.

    Args:
        path: the video file (any container/codec FFmpeg reads).
        start, end: frame range as in manifests (``end`` exclusive, ``None`` = open).
        fps: resample to this rate; exclusive with ``num_frames``.
        num_frames: keep this many evenly spaced frames of the range.
        size: plain resize, ``(height, width)`` or the shorter side.
        autorotate: apply the file's display rotation.
        threads: FFmpeg frame threading (decodes several frames at once: faster for
            one long stream on an idle multi-core machine; keep it off in DataLoader
            workers and on busy machines, where it slows decoding down).
    Returns:
        a :class:`VideoClip`: frames ``(T, H, W, 3)`` uint8, its fps (``fps``, the
        source's, or for ``num_frames`` the rate that spreads them over the range's
        duration) and the source frame number of every frame.
    Raises:
        DataError: missing, corrupt or truncated file; a range beyond the video.
        ConfigError: bad arguments.
    """
    if fps is not None and num_frames is not None:
        raise ConfigError("give fps or num_frames, not both")
    if fps is not None:
        _check_fps(fps, "fps")
    with _open_video(path, threads=threads) as (container, stream, src):  # opened once
        src_fps = _stream_fps(stream, src)
        first = _check_range(start, end)
        positions = _resample_positions(src_fps, fps) if fps is not None else None
        # frames expected (from the header; only sizes the output buffer)
        total = _frames_estimate(container, stream, src_fps)
        expected = max(0, min(end or total, total) - first)
        if fps is not None:
            expected = math.ceil(expected * fps / src_fps)
        sink = _FrameSink(expected, size if num_frames is None else None)
        numbers = []
        for i, frame in _select(container, stream, src, positions, first, end, open_ended=True,
                                autorotate=autorotate, tolerance=0):
            sink.add(frame)
            numbers.append(i)
    if not numbers:
        raise DataError(_range_message(first, end, 0), src)
    frames, indices = sink.result(), np.array(numbers, np.int64)
    rate = fps if fps is not None else src_fps
    if num_frames is not None:
        keep = uniform_indices(len(numbers), num_frames)
        frames, indices = frames[keep], indices[keep]
        rate = src_fps * num_frames / len(numbers)
        if size is not None:
            frames = resize_frames(frames, size)
    return VideoClip(frames, float(rate), src, indices)


def read_frames(
    path: str | Path,
    indices: Iterable[int] | np.ndarray,
    size: VideoSize = None,
    autorotate: bool = True,
    threads: bool = False,
    tolerance: int = 0,
) -> VideoClip:
    """The given frame numbers, in the given order (repeats allowed).

    Decoding stops after the largest one; only the wanted frames are converted.

    Args:
        indices: frame numbers (0-based).
        size: plain resize (see :func:`read_video`).
        tolerance: frames wanted up to this many past the end are replaced by the last
            frame (containers and decoders may disagree by a frame on the length).
    Returns:
        a :class:`VideoClip` with ``frame_indices`` = the numbers actually read and the
        source frame rate.
    """
    idx = np.asarray(list(indices) if not isinstance(indices, np.ndarray) else indices, np.int64)
    if idx.ndim != 1 or idx.size == 0:
        raise ConfigError(f"indices must be a non-empty list of frame numbers, got shape {idx.shape}")
    if idx.min() < 0:
        raise ConfigError(f"frame numbers must be >= 0, got {int(idx.min())}")
    src = os.fspath(path)
    order = np.argsort(idx, kind="stable")
    sink = _FrameSink(len(idx), size)
    read_sorted = []
    for i, frame in _iter_selected(src, idx[order].tolist(), 0, None, autorotate=autorotate,
                                   threads=threads, tolerance=tolerance):
        sink.add(frame)
        read_sorted.append(i)
    in_order = sink.result()
    frames = np.empty_like(in_order)
    frames[order] = in_order  # sorted order -> the order asked for
    read = np.empty(len(idx), np.int64)
    read[order] = read_sorted
    return VideoClip(frames, probe_video(src).fps, src, read)


def iter_windows(
    path: str | Path,
    window: int = 16,
    stride: int = 1,
    start: int | None = None,
    end: int | None = None,
    fps: float | None = None,
    size: VideoSize = None,
    cover_end: bool = False,
    pad_short: bool = True,
    autorotate: bool = True,
    threads: bool = False,
) -> Iterator[VideoClip]:
    """Sliding windows over a video, decoded in one pass without loading it whole.

    Windows of ``window`` frames start every ``stride`` frames (positions counted after
    ``fps`` resampling, within ``[start, end)``); :func:`window_starts` gives the starts
    (``cover_end``: add a window ending on the last frame; ``pad_short``: a clip shorter
    than ``window`` gives one window padded with its last frame).  At most ``window``
    frames are held at a time.

    Yields:
        :class:`VideoClip` per window: frames ``(window, H, W, 3)`` uint8 (resized when
        ``size`` is given) and the source frame number of each frame.
    Raises:
        DataError: missing, corrupt or truncated file, or an empty range.  Windows
            before a damaged part of a file have already been yielded by then; check a
            file first with :func:`count_frames` (cheap) when that matters.
    """
    if window < 1 or stride < 1:
        raise ConfigError(f"window and stride must be >= 1, got window={window}, stride={stride}")
    src = os.fspath(path)
    src_fps = probe_video(src).fps
    rate = float(fps) if fps is not None else src_fps
    positions = _resample_positions(src_fps, fps) if fps is not None else None
    frames: deque[np.ndarray] = deque(maxlen=window)
    numbers: deque[int] = deque(maxlen=window)
    pos, last_end = -1, -1
    for i, frame in _iter_selected(src, positions, start or 0, end, open_ended=True,
                                   autorotate=autorotate, threads=threads):
        pos += 1
        frames.append(frame if size is None else resize_frames(frame[None], size)[0])
        numbers.append(i)
        first = pos - window + 1
        if first >= 0 and first % stride == 0:
            last_end = pos
            yield VideoClip(_stack(list(frames)), rate, src, np.array(numbers, np.int64))
    n = pos + 1
    if n == 0:
        raise DataError(_range_message(start or 0, end, 0), src)
    if n < window:
        if pad_short:
            pad = window - n
            yield VideoClip(_stack(list(frames) + [frames[-1]] * pad), rate, src,
                            np.array(list(numbers) + [numbers[-1]] * pad, np.int64))
    elif cover_end and last_end != n - 1:
        yield VideoClip(_stack(list(frames)), rate, src, np.array(numbers, np.int64))


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


# ----------------------------------------------------------------------------- writing

def write_video(
    path: str | Path,
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    codec: str | None = None,
    crf: int | None = 18,
    pix_fmt: str = "yuv420p",
) -> Path:
    """Encode RGB frames into a video file, atomically (a killed job leaves no partial file).

    Args:
        path: output file; the container follows its extension (``.mp4``, ``.mov``,
            ``.mkv``, ``.avi``, ``.webm``).
        frames: ``(T, H, W, 3)`` uint8 array, or an iterable of ``(H, W, 3)`` frames.
        fps: frame rate.
        codec: FFmpeg encoder; default H.264 (``libx264``; ``mpeg4`` for ``.avi``,
            ``libvpx`` for ``.webm``).
        crf: quality for H.264 (0 = lossless, 18 = visually lossless, 23 = FFmpeg's
            default); ``None`` = the encoder's default.
        pix_fmt: pixel format written (``yuv420p`` plays everywhere and needs even
            width and height).
    Returns:
        the path written.
    """
    p = Path(path)
    fmt = _WRITE_FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ConfigError(f"{p}: cannot write '{p.suffix}' videos; use one of {sorted(_WRITE_FORMATS)}")
    _check_fps(fps, "fps")
    container_format, default_codec = fmt
    codec = codec or default_codec
    rate = Fraction(str(fps)).limit_denominator(100_000)
    stream_iter = iter(frames)
    with atomic_path(p) as tmp:
        with _av().open(str(tmp), mode="w", format=container_format) as out:
            stream = None
            n = 0
            for frame in stream_iter:
                arr = np.asarray(frame)
                if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[-1] != 3:
                    raise DataError(f"frame {n} must be (H, W, 3) uint8, got {arr.shape} {arr.dtype}", p)
                if stream is None:
                    stream = _add_stream(out, codec, rate, arr.shape[0], arr.shape[1], crf,
                                         pix_fmt, p)
                elif (arr.shape[0], arr.shape[1]) != (stream.height, stream.width):
                    raise DataError(f"frame {n} is {arr.shape[:2]} but the first was "
                                    f"{(stream.height, stream.width)}", p)
                for packet in stream.encode(_av().VideoFrame.from_ndarray(arr, format="rgb24")):
                    out.mux(packet)
                n += 1
            if stream is None:
                raise DataError("no frames to write", p)
            for packet in stream.encode():
                out.mux(packet)
    return p


def _add_stream(out: Any, codec: str, rate: Fraction, height: int, width: int,
                crf: int | None, pix_fmt: str, p: Path) -> Any:
    if pix_fmt == "yuv420p" and (height % 2 or width % 2):
        raise ConfigError(f"{p}: yuv420p video needs an even width and height, got {width}x{height}; "
                          "resize the frames (e.g. resize_frames) or pass pix_fmt='yuv444p'")
    options = {"crf": str(crf)} if crf is not None and codec in ("libx264", "h264", "libx265") else {}
    try:
        stream = out.add_stream(codec, rate=rate, options=options)
    except (_av().error.FFmpegError, ValueError) as e:
        raise ConfigError(f"{p}: cannot encode with codec '{codec}': {_why(e)}") from None
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    return stream
