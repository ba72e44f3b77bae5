"""Reading one manifest row into a :class:`PoseSequence`, with the checks every user needs.

Shared by :class:`~signssl.data.dataset.PoseDataset` and
:func:`~signssl.data.check.check_manifest`.  Failures raise :class:`SampleError`, a
:class:`~signssl.errors.DataError` naming the file and carrying a short ``reason``
(``unreadable``, ``empty``, ``all missing``, ``cannot normalise``, ``wrong layout``) that
bulk jobs count.
"""

from __future__ import annotations

from pathlib import Path

from signssl.data.manifest import ManifestRow
from signssl.errors import DataError, SignSSLError
from signssl.io import read_pose
from signssl.pose.layouts import Layout
from signssl.pose.sequence import PoseSequence

UNREADABLE, EMPTY, ALL_MISSING, NOT_NORMALISABLE, WRONG_LAYOUT = (
    "unreadable", "empty", "all missing", "cannot normalise", "wrong layout",
)


class SampleError(DataError):
    """A sample that cannot be used; ``reason`` says which check it failed."""

    def __init__(self, reason: str, message: str, path: str | Path | None) -> None:
        self.reason = reason
        super().__init__(message, path)


def read_sample(
    path: Path, layout: str | Path | Layout | None = None, fps: float | None = None
) -> PoseSequence:
    """``signssl.io.read_pose`` with every failure turned into a ``SampleError``.

    Args:
        path: the sample (pose file or sequence folder).
        layout: layout of flat formats (``read_pose``'s ``layout``), ``None`` = detect.
        fps: frame rate for formats that store none.
    """
    if not path.exists():
        raise SampleError(UNREADABLE, "file not found (fix the manifest path or remove the row)", path)
    try:
        return read_pose(path, layout=layout, fps=fps)
    except SignSSLError as e:
        raise SampleError(UNREADABLE, _strip_path(str(e), path), path) from e
    except Exception as e:  # a reader failing on a corrupt file must not stop a bulk job
        raise SampleError(UNREADABLE, f"cannot read: {type(e).__name__}: {e}", path) from e


def _strip_path(message: str, path: Path) -> str:
    """Drop a leading ``"<path>: "`` so the path is not repeated in the message."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def apply_frame_range(seq: PoseSequence, row: ManifestRow, path: Path) -> PoseSequence:
    """Frames ``[row.start, row.end)``; raises ``SampleError(EMPTY)`` when none is left."""
    total = seq.num_frames
    if total == 0:
        raise SampleError(EMPTY, "has no frames", path)
    if row.start is None and row.end is None:
        return seq
    out = seq.frames(row.start, row.end)
    if out.num_frames == 0:
        raise SampleError(
            EMPTY,
            f"frame range [{row.start or 0}, {row.end if row.end is not None else 'end'}) "
            f"selects no frame of the {total} in the file; fix start/end in the manifest",
            path,
        )
    return out


def require_present(seq: PoseSequence, path: Path) -> PoseSequence:
    """Raise ``SampleError(ALL_MISSING)`` when no joint is detected in any frame."""
    if not (seq.conf > 0).any():
        raise SampleError(
            ALL_MISSING,
            f"no joint of layout '{seq.layout.name}' is detected in any of its "
            f"{seq.num_frames} frames (all confidences 0)",
            path,
        )
    return seq
