"""Opening a video file and reading its header, with PyAV: :func:`probe_video`
(:class:`VideoInfo`), :func:`count_frames`, and the checks every reader of
:mod:`signssl.io.video` shares.  A missing, unreadable, undecodable or truncated file is a
:class:`~signssl.errors.DataError` naming it.  PyAV is imported on first use.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from signssl.errors import DataError
from signssl.utils import regular_file_error


def _av() -> Any:
    """PyAV, imported on first use (importing it costs ~50 ms and loads FFmpeg)."""
    import av

    return av


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


# ----------------------------------------------------------------------------- opening

def _why(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text if len(text) < 200 else text[:200] + "..."


def _bad_video(src: str, e: BaseException) -> DataError:
    return DataError(
        f"is not a readable video ({_why(e)}); it is corrupt, truncated or not a video file - "
        "re-encode or re-download it, or remove it from the list", src)


@dataclass(frozen=True)
class VideoBytes:
    """An encoded video file held in memory (e.g. a shard member, :mod:`signssl.data.video_shards`);
    ``name`` (its original path) stands for it in messages and in :attr:`VideoClip.source`."""

    data: bytes
    name: str


#: what the readers open: a file path, or a file's bytes
VideoSource = str | os.PathLike[str] | VideoBytes


def source_name(path: VideoSource) -> str:
    """The path string of a video source (``name`` of in-memory bytes)."""
    return path.name if isinstance(path, VideoBytes) else os.fspath(path)


@contextlib.contextmanager
def _open_video(path: VideoSource, threads: bool = False) -> Iterator[tuple[Any, Any, str]]:
    """``(container, video stream, path string)``; every failure is a :class:`DataError`."""
    src = source_name(path)
    target: str | io.BytesIO = src
    if isinstance(path, VideoBytes):
        target = io.BytesIO(path.data)  # FFmpeg finds the container format from the bytes
    else:
        problem = regular_file_error(src)  # missing, a folder, or a named pipe FFmpeg blocks on
        if problem is not None:
            raise problem
    try:
        container = _av().open(target, mode="r")
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


def probe_video(path: VideoSource, count: bool = False) -> VideoInfo:
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


def count_frames(path: VideoSource) -> int:
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


def _check_complete(found: int, header_frames: int, src: str) -> None:
    if header_frames > 0 and found < header_frames - 1:
        raise DataError(
            f"is truncated: its header announces {header_frames} frames but only {found} "
            "are in the file - re-encode or re-download it", src)
