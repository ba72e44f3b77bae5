"""What an uploaded file is, from its first bytes (never from the name the client sent).

:func:`sniff` maps the leading bytes to the file suffix the readers of
:mod:`signssl.io` (pose files) or PyAV (videos) expect; the server then writes the upload
to a temporary file of its own naming with that suffix.

>>> sniff(b"\\x93NUMPY\\x01\\x00v\\x00")
'.npy'
>>> sniff(b"\\x00\\x00\\x00\\x18ftypisom")
'.mp4'
>>> sniff(b"hello") is None
True
>>> sniff(b"not a video, just text") is None  # b"not " is the float32 2e-19
True
"""

from __future__ import annotations

import struct

#: suffixes of pose files the server accepts, and of videos
POSE_SUFFIXES: tuple[str, ...] = (".pose", ".npy", ".npz", ".parquet", ".json")
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".webm", ".avi")
#: what the upload may be, for error messages
ACCEPTED = ".pose, .npy, .npz, parquet, OpenPose JSON, or a video (mp4, webm, mov, avi)"
#: bytes the sniffer reads
HEAD_BYTES = 64

_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def _is_pose_format(head: bytes) -> bool:
    """A pose-format ``.pose`` header: a little-endian float32 version in (0, 1) with one
    decimal (0.1, 0.2, ...) followed, within the header, by a printable component name."""
    if len(head) < 8:
        return False
    (version,) = struct.unpack("<f", head[:4])
    if not 0.05 < version < 1.0 or abs(version * 10 - round(version * 10)) > 1e-4:
        return False
    run = best = 0  # longest run of printable ASCII letters / underscores
    for b in head[4:]:
        run = run + 1 if (65 <= b <= 90 or 97 <= b <= 122 or b == 95 or 48 <= b <= 57) else 0
        best = max(best, run)
    return best >= 3


def sniff(head: bytes) -> str | None:
    """The suffix for a file starting with ``head`` (at least :data:`HEAD_BYTES` bytes when
    the file has them), or ``None`` when the content is not a known format."""
    if head.startswith(b"\x93NUMPY"):
        return ".npy"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return ".npz"  # numpy's .npz is a zip archive
    if head.startswith(b"PAR1"):
        return ".parquet"
    if head[4:8] == b"ftyp":
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head[4:8] in _QUICKTIME_ATOMS:
        return ".mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".webm"  # Matroska / WebM (what browsers record)
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return ".avi"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{"):
        return ".json"  # OpenPose keypoints
    if _is_pose_format(head):
        return ".pose"
    return None


def is_video(suffix: str) -> bool:
    """Whether a sniffed suffix is a video container."""
    return suffix in VIDEO_SUFFIXES
