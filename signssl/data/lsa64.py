"""LSA64 (Ronchetti et al. 2016): file names ``CCC_SSS_RRR`` -> manifest.

Every LSA64 clip is named ``<class>_<signer>_<repetition>`` with three digits each, e.g.
``001_002_003.mp4`` = sign 1 by signer 2, third repetition (64 signs, 10 signers,
5 repetitions).  Pose files or sequence folders with the same names work alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.report import ItemReport
from signssl.data.samples import (
    POSE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    index_by_stem,
    is_hidden,
    sample_kind,
)
from signssl.errors import DataError

LSA64_NAME = re.compile(r"^(\d{3})_(\d{3})_(\d{3})$")


def parse_lsa64_name(stem: str) -> tuple[str, str, str] | None:
    """``"001_002_003"`` -> ``("001", "002", "003")`` (class, signer, repetition); else None."""
    m = LSA64_NAME.match(stem)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def manifest_from_lsa64(
    root: str | Path,
    extensions: Sequence[str] = POSE_EXTENSIONS + VIDEO_EXTENSIONS,
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from a folder of LSA64 clips (not recursive).

    Args:
        root: folder of ``CCC_SSS_RRR.<ext>`` files or ``CCC_SSS_RRR/`` sequence folders.
        extensions: accepted extensions; when one name exists with several, the first
            in this order is used (pose formats before videos by default).
    Returns:
        ``(manifest, report)``: label = the 3-digit class (``"001"``), signer = the
        3-digit signer, extra column ``repetition``.  Counted, not used: ``bad name``
        (a sample not named ``CCC_SSS_RRR``), ``duplicate`` (same name, another format),
        ``unrecognised file``, ``empty sample folder``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("LSA64 folder does not exist", root)
    samples, duplicates = index_by_stem(root, extensions)
    report = ItemReport()
    for p in duplicates:
        report.add("duplicate", str(p), "the same clip in another format")
    for p in sorted(root.iterdir()):
        kind = None if is_hidden(p) else sample_kind(p, extensions)
        if kind == "empty":
            report.add("empty sample folder", str(p), "no .npy/.json frame files")
        elif kind is None and not is_hidden(p):
            report.add("unrecognised file", str(p), f"extension not in {list(extensions)}")
    rows: list[ManifestRow] = []
    for stem, path in samples.items():
        parsed = parse_lsa64_name(stem)
        if parsed is None:
            report.add("bad name", str(path), "expected CCC_SSS_RRR (class_signer_repetition)")
            continue
        cls, signer, rep = parsed
        rows.append(
            ManifestRow(path.name, label=cls, signer=signer, extra={"repetition": rep})
        )
    report.kept = len(rows)
    if not rows:
        raise DataError(
            f"no LSA64 clip found (names like 001_002_003.mp4); {report.summary()}", root
        )
    return Manifest(rows, root=Path(os.path.abspath(root))), report
