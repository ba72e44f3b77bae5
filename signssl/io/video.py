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

This module decodes; the clip container, frame-number arithmetic and resizing are in
:mod:`signssl.io.video_frames`, opening and header reading in :mod:`signssl.io.video_probe`,
writing in :mod:`signssl.io.video_write`.  Their public names are re-exported here.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from signssl.errors import ConfigError, DataError
from signssl.io.video_frames import (  # noqa: F401  (public names re-exported)
    VideoClip,
    VideoSize,
    _check_fps,
    _FrameSink,
    _resample_positions,
    _stack,
    frames_to_tensor,
    output_size,
    resample_indices,
    resize_frames,
    uniform_indices,
    window_starts,
)
from signssl.io.video_probe import (  # noqa: F401  (public names re-exported)
    VideoBytes,
    VideoInfo,
    VideoSource,
    _av,
    _check_complete,
    _frames_estimate,
    _open_video,
    _stream_fps,
    _why,
    count_frames,
    probe_video,
    source_name,
)
from signssl.io.video_write import write_video  # noqa: F401  (re-exported)

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
    path: VideoSource,
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
    path: VideoSource,
    indices: Iterable[int] | np.ndarray,
    size: VideoSize = None,
    autorotate: bool = True,
    threads: bool = False,
    tolerance: int = 0,
) -> VideoClip:
    """The given frame numbers, in the given order (repeats allowed).

    Decoding stops after the largest one; only the wanted frames are converted.

    Args:
        path: the video file, or its bytes (:class:`VideoBytes`).
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
    src = source_name(path)
    order = np.argsort(idx, kind="stable")
    sink = _FrameSink(len(idx), size)
    read_sorted = []
    for i, frame in _iter_selected(path, idx[order].tolist(), 0, None, autorotate=autorotate,
                                   threads=threads, tolerance=tolerance):
        sink.add(frame)
        read_sorted.append(i)
    in_order = sink.result()
    frames = np.empty_like(in_order)
    frames[order] = in_order  # sorted order -> the order asked for
    read = np.empty(len(idx), np.int64)
    read[order] = read_sorted
    return VideoClip(frames, probe_video(path).fps, src, read)


def iter_windows(
    path: VideoSource,
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
    """Sliding windows over a video (a file, or its bytes: :class:`VideoBytes`), decoded in
    one pass without loading it whole.

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
    src = source_name(path)
    src_fps = probe_video(path).fps
    rate = float(fps) if fps is not None else src_fps
    positions = _resample_positions(src_fps, fps) if fps is not None else None
    frames: deque[np.ndarray] = deque(maxlen=window)
    numbers: deque[int] = deque(maxlen=window)
    pos, last_end = -1, -1
    for i, frame in _iter_selected(path, positions, start or 0, end, open_ended=True,
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
