"""A summary of one pose file, as printed by ``signssl info``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signssl.io._common import LayoutArg
from signssl.io.dispatch import detect_format, read_pose
from signssl.pose.sequence import PoseSequence


def summarize(seq: PoseSequence) -> dict[str, Any]:
    """Layout, shape, fps and missing-data shares of a sequence.

    ``missing_fraction`` is the share of joint-frames with confidence 0;
    ``part_missing_fractions`` the same per part.
    """
    return {
        "layout": seq.layout.name,
        "frames": seq.num_frames,
        "joints": seq.num_joints,
        "dims": seq.num_dims,
        "fps": seq.fps,
        "missing_fraction": seq.missing_fraction(),
        "part_missing_fractions": seq.part_missing_fractions(),
    }


def pose_info(path: str | Path, layout: LayoutArg = None) -> dict[str, Any]:
    """Read ``path`` and summarise it: ``{path, format, layout, frames, joints, dims, fps,
    missing_fraction, part_missing_fractions}``."""
    fmt = detect_format(path)
    seq = read_pose(path, layout=layout)
    return {"path": str(path), "format": fmt, **summarize(seq)}
