"""Helpers shared by the readers: path checks, layout application, fps handling."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from signssl.errors import DataError, LayoutError
from signssl.pose.layouts import Layout, get_layout
from signssl.pose.sequence import PoseSequence

#: a layout argument as accepted everywhere in :mod:`signssl.io`
LayoutArg = str | Path | Layout | None


def existing_path(path: str | Path) -> Path:
    """``path`` as a :class:`Path`; :class:`DataError` when nothing is there."""
    p = Path(path)
    if not p.exists():
        raise DataError("does not exist; check the path (and the current directory)", p)
    return p


def resolve_layout(layout: LayoutArg) -> Layout | None:
    """A :class:`Layout` from a name, a YAML path or a layout (``None`` stays ``None``)."""
    return None if layout is None else get_layout(layout)


def apply_layout(seq: PoseSequence, layout: LayoutArg) -> PoseSequence:
    """Put a sequence read in its file's own layout into ``layout``.

    With the same joint names in the same order the layout is only relabelled (so a custom
    layout's name and flat ``values`` are kept); otherwise joints are converted by qualified
    name and joints the file lacks get confidence 0.  ``None`` keeps the file's layout.
    """
    target = resolve_layout(layout)
    if target is None or target is seq.layout:
        return seq
    if target.joint_names == seq.layout.joint_names:
        return replace(seq, layout=target)
    try:
        return seq.to_layout(target)
    except LayoutError as e:
        raise LayoutError(
            f"{e}; the file's joints are {seq.layout.summary()} - pick a layout that shares "
            "joint names with it (signssl layouts lists them)"
        ) from None


def clean_fps(value: float | None, stored_as_float32: bool = False) -> float | None:
    """``None`` for an unknown or invalid rate (missing, NaN, <= 0), else a float.

    With ``stored_as_float32`` (``.pose`` files) the rate is given its shortest decimal
    form: a rate written as 29.97 reads back from float32 as 29.969999313, and the
    shortest decimal mapping to that same float32 is 29.97 again.
    """
    if value is None:
        return None
    v = float(value)
    if not np.isfinite(v) or v <= 0:
        return None
    return float(str(np.float32(v))) if stored_as_float32 else v


def pick_fps(file_fps: float | None, override: float | None, path: str | Path) -> float | None:
    """The caller's ``fps`` when given (must be positive), else the file's (already clean)."""
    if override is None:
        return file_fps
    if not np.isfinite(override) or override <= 0:
        raise DataError(f"fps must be a positive number, got {override}", path)
    return float(override)


def require_frames(num_frames: int, path: str | Path) -> None:
    """:class:`DataError` for a zero-length sequence."""
    if num_frames == 0:
        raise DataError(
            "has no frames (zero-length sequence); re-export it or drop it from the manifest",
            path,
        )
