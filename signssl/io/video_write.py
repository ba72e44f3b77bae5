"""Encoding RGB frames into a video file with PyAV (:func:`write_video`, atomic)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from signssl.errors import ConfigError, DataError
from signssl.io.video_frames import _check_fps
from signssl.io.video_probe import _av, _why
from signssl.utils import atomic_path

#: container format by file extension, and the default codec written into it
_WRITE_FORMATS: dict[str, tuple[str, str]] = {
    ".mp4": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".avi": ("avi", "mpeg4"),
    ".webm": ("webm", "libvpx"),
}


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
