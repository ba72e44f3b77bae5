"""Folder-per-gloss datasets: ``ROOT/<gloss>/<sample>``.

A sample is a pose file (``.pose``, ``.npz``, ``.npy``, ``.parquet``; others with
``extensions``) or a sequence folder of per-frame files (MP_Data ``<frame>.npy``,
OpenPose ``*_keypoints.json``).  The gloss is the folder name; signers are unknown.
This is the layout of the widespread MediaPipe "MP_Data" tutorials.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.report import ItemReport
from signssl.data.samples import POSE_EXTENSIONS, is_hidden, natural_key, sample_kind
from signssl.errors import DataError


def _class_root(root: Path) -> Path:
    """``root``, or ``root/MP_Data`` when that is all ``root`` holds."""
    subdirs = [p for p in root.iterdir() if p.is_dir() and not is_hidden(p)]
    if len(subdirs) == 1 and subdirs[0].name == "MP_Data":
        return subdirs[0]
    return root


def manifest_from_folder(
    root: str | Path, extensions: Sequence[str] = POSE_EXTENSIONS
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from ``ROOT/<gloss>/<sample>``.

    Paths are relative to ``root`` (``Manifest.root = root``).  A root holding only an
    ``MP_Data`` folder is read through it.  Hidden entries (``.x``, ``_x``) are ignored.

    Args:
        root: the dataset folder.
        extensions: file extensions counted as samples (e.g. ``VIDEO_EXTENSIONS``).
    Returns:
        ``(manifest, report)``; the report counts, by reason, what was not used:
        ``empty class folder``, ``empty sample folder`` (a sample folder with no frame
        files), ``unrecognised file`` (a file with another extension, or a file directly
        in ``root``).
    Raises:
        DataError: ``root`` is not a folder, or no sample was found at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("dataset folder does not exist (expected ROOT/<gloss>/<sample>)", root)
    base = _class_root(root)
    report = ItemReport()
    rows: list[ManifestRow] = []
    for entry in sorted(base.iterdir(), key=lambda p: natural_key(p.name)):
        if is_hidden(entry):
            continue
        if not entry.is_dir():
            report.add("unrecognised file", str(entry), "a file outside any class folder")
            continue
        n_before = len(rows)
        for sample in sorted(entry.iterdir(), key=lambda p: natural_key(p.name)):
            if is_hidden(sample):
                continue
            kind = sample_kind(sample, extensions)
            if kind in ("file", "folder"):
                rows.append(ManifestRow(sample.relative_to(base).as_posix(), label=entry.name))
            elif kind == "empty":
                report.add("empty sample folder", str(sample), "no .npy/.json frame files")
            else:
                report.add("unrecognised file", str(sample), f"extension not in {list(extensions)}")
        if len(rows) == n_before:
            report.add("empty class folder", str(entry), "no samples")
    report.kept = len(rows)
    if not rows:
        raise DataError(
            f"no samples found (expected ROOT/<gloss>/<sample> with pose files "
            f"{list(extensions)} or per-frame sequence folders; {report.summary()})",
            root,
        )
    return Manifest(rows, root=Path(os.path.abspath(base))), report
