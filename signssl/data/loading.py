"""Reading one manifest row into a :class:`PoseSequence`, with the checks every user needs.

:func:`load_pose` is the one reading pipeline shared by
:class:`~signssl.data.dataset.PoseDataset` and :func:`~signssl.data.check.check_manifest`,
so a clip the check calls usable is one the dataset can read.  Failures raise
:class:`SampleError`, a :class:`~signssl.errors.DataError` naming the file and carrying a
short ``reason`` (``unreadable``, ``empty``, ``all missing``, ``cannot normalise``,
``wrong layout``) that bulk jobs count; what happened to a usable clip (invalid
coordinates set missing, the normalisation ``auto`` fell back to) is returned as notes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signssl.data.manifest import ManifestRow
from signssl.errors import DataError, SignSSLError
from signssl.io import read_pose
from signssl.pose.layouts import Layout
from signssl.pose.normalize import AUTO, AUTO_FALLBACK, normalize_sequence
from signssl.pose.sequence import MAX_ABS_COORD, PoseSequence

UNREADABLE, EMPTY, ALL_MISSING, NOT_NORMALISABLE, WRONG_LAYOUT = (
    "unreadable", "empty", "all missing", "cannot normalise", "wrong layout",
)
#: notes on usable clips (``ItemReport.notes``)
INVALID_NOTE = "clips with inf or |coordinate| > 1e6 (set missing)"
FALLBACK_NOTE = f"normalised by {AUTO_FALLBACK} (no frame with both shoulders)"


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


def trim_empty_frames(seq: PoseSequence) -> PoseSequence:
    """Drop the leading and trailing frames in which no joint is detected (inner empty
    frames are kept, so timing is preserved); an all-missing sequence is returned as is."""
    detected = np.flatnonzero((seq.conf > 0).any(axis=1))  # (T,) -> frames with a joint
    if detected.size == 0:
        return seq
    return seq.frames(int(detected[0]), int(detected[-1]) + 1)


def _invalid_detail(invalid: int) -> str:
    return (f" ({invalid} joint-frame(s) had an infinite coordinate or one beyond "
            f"±{MAX_ABS_COORD:g} and were treated as missing)") if invalid else ""


def load_pose(
    path: Path,
    row: ManifestRow,
    source_layout: str | Path | Layout | None = None,
    fps: float | None = None,
    layout: Layout | None = None,
    dims: int | None = None,
    trim_empty: bool = True,
    normalize: str = AUTO,
) -> tuple[PoseSequence, list[str]]:
    """One manifest row as a model-ready sequence, and the notes on it.

    Reads the file (invalid coordinates become missing joints, counted), keeps the row's
    frame range, converts to ``layout`` and ``dims``, rejects a clip with no detected
    joint, trims empty edge frames (``trim_empty``) and normalises
    (:func:`~signssl.pose.normalize.normalize_sequence`; ``"auto"`` falls back to per-hand
    normalisation per clip).

    Raises:
        SampleError: the reason and a message naming the file.
    """
    seq = read_sample(path, source_layout, fps)
    invalid = seq.invalid
    notes = [INVALID_NOTE] if invalid else []
    seq = apply_frame_range(seq, row, path)
    if layout is not None:
        try:
            seq = seq.to_layout(layout)
        except SignSSLError as e:
            raise SampleError(WRONG_LAYOUT, str(e).removeprefix(f"{path}: "), path) from e
    if dims is not None:
        seq = seq.with_dims(dims)
    try:
        seq = require_present(seq, path)
    except SampleError as e:
        raise SampleError(e.reason, _strip_path(str(e), path) + _invalid_detail(invalid), path) from e
    if trim_empty:
        seq = trim_empty_frames(seq)
    try:
        seq, used = normalize_sequence(seq, normalize)
    except SignSSLError as e:
        message = str(e).removeprefix(f"{path}: ").removeprefix(f"{seq.source}: ")
        raise SampleError(NOT_NORMALISABLE, message + _invalid_detail(invalid), path) from e
    if normalize == AUTO and used != "shoulders":
        notes.append(FALLBACK_NOTE)
    return seq, notes
