"""Recognising samples on disk: pose files, videos and per-frame sequence folders."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

#: single-file pose formats read by ``signssl.io.read_pose``
POSE_EXTENSIONS: tuple[str, ...] = (".pose", ".npz", ".npy", ".parquet")
#: video containers (for the video pipeline)
VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".mov", ".avi", ".mkv", ".webm")
#: files that make a folder a sequence folder: MP_Data ``<frame>.npy``, OpenPose ``*.json``
FRAME_FILE_EXTENSIONS: tuple[str, ...] = (".npy", ".json")

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key putting ``"2"`` before ``"10"`` (numbers compared as numbers)."""
    return tuple(int(t) if t.isdigit() else t.lower() for t in _DIGITS.split(name))


def is_hidden(path: Path) -> bool:
    return path.name.startswith((".", "_"))


def is_sequence_folder(path: Path) -> bool:
    """A folder holding per-frame files (MP_Data ``0.npy, 1.npy …`` or OpenPose JSON)."""
    if not path.is_dir():
        return False
    return any(
        f.suffix.lower() in FRAME_FILE_EXTENSIONS and f.is_file() and not is_hidden(f)
        for f in path.iterdir()
    )


def sample_kind(path: Path, extensions: Sequence[str]) -> str | None:
    """``"file"``, ``"folder"`` (a sequence folder), ``"empty"`` (a folder with no frame
    files) or ``None`` (not a sample: unknown extension)."""
    if path.is_dir():
        return "folder" if is_sequence_folder(path) else "empty"
    if path.is_file() and path.suffix.lower() in {e.lower() for e in extensions}:
        return "file"
    return None


def index_by_stem(
    folder: Path, extensions: Sequence[str]
) -> tuple[dict[str, Path], list[Path]]:
    """Samples directly in ``folder`` keyed by stem (a sequence folder by its name).

    When several samples share a stem (``a.pose`` and ``a.npz``) the one whose extension
    comes first in ``extensions`` wins (sequence folders come last).

    Returns:
        ``({stem: path}, [the samples not chosen for a repeated stem])``.
    """
    rank = {e.lower(): i for i, e in enumerate(extensions)}
    found: dict[str, tuple[int, Path]] = {}
    losers: list[Path] = []
    for p in sorted(folder.iterdir(), key=lambda q: natural_key(q.name)):
        if is_hidden(p):
            continue
        kind = sample_kind(p, extensions)
        if kind == "file":
            key, order = p.stem, rank[p.suffix.lower()]
        elif kind == "folder":
            key, order = p.name, len(rank)
        else:
            continue
        if key in found:
            keep, drop = sorted([found[key], (order, p)], key=lambda t: t[0])
            found[key] = keep
            losers.append(drop[1])
        else:
            found[key] = (order, p)
    return {k: v[1] for k, v in found.items()}, losers
