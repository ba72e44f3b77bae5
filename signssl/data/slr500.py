"""SLR500 / isolated CSL (Huang et al. 2018): class folders of ``P<signer>_…`` clips -> manifest.

Official layout read: a root folder with one folder per class, named by the 6-digit class
id (``000000`` … ``000499``), each holding that class's clips; a clip's file name starts
with the signer, ``P<nn>_`` (e.g. ``P01_…_color.avi``); pose files or sequence folders
with the same names work alike.  Optional ``dictionary.txt``: one line per class,
``<class id><tab or space><word>``, giving the Chinese word (extra column ``word``).

The benchmark split of the papers is by signer: signers 1-36 train, 37-50 test (90,000
and 35,000 clips of the 50 signers x 500 words x 5 repetitions).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.official import finish, read_text, relative
from signssl.data.report import ItemReport
from signssl.data.samples import POSE_EXTENSIONS, VIDEO_EXTENSIONS, index_by_stem, is_hidden
from signssl.errors import DataError

_CLASS = re.compile(r"^\d{6}$")
_SIGNER = re.compile(r"^P(\d+)_", re.IGNORECASE)
NUM_SIGNERS = 50
TRAIN_SIGNERS = 36


def slr500_signer(name: str) -> int | None:
    """``"P07_s3_00_1._color"`` -> 7; None when the name does not start with ``P<n>_``."""
    m = _SIGNER.match(name)
    return int(m.group(1)) if m else None


def _dictionary(path: Path) -> dict[str, str]:
    """``dictionary.txt``: class id -> word (lines that do not start with an id are skipped)."""
    words = {}
    for line in read_text(path, "SLR500 dictionary").splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and _CLASS.match(parts[0]):
            words[parts[0]] = parts[1].strip()
    return words


def manifest_from_slr500(
    root: str | Path,
    dictionary: str | Path | None = None,
    train_signers: int = TRAIN_SIGNERS,
    extensions: Sequence[str] = POSE_EXTENSIONS + VIDEO_EXTENSIONS,
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from an SLR500 folder with the signer split of the papers.

    Args:
        root: folder of the class folders ``000000/`` … ``000499/``.
        dictionary: ``dictionary.txt`` (optional); adds the column ``word``.
        train_signers: signers ``1..train_signers`` are ``train``, the rest ``test``.
        extensions: accepted sample extensions, the first preferred for a repeated name.
    Returns:
        ``(manifest, report)``: label = the 6-digit class id, signer = the ``P<n>`` number
        (two digits), split by signer.  Counted, not used: ``bad class folder`` (not 6
        digits), ``bad name`` (not ``P<n>_…`` or a signer outside 1..50), ``duplicate``
        (the same clip in another format), ``unrecognised file``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("SLR500 folder does not exist", root)
    words = _dictionary(Path(dictionary)) if dictionary is not None else {}
    report = ItemReport()
    rows: list[ManifestRow] = []
    for cls_dir in sorted(p for p in root.iterdir() if not is_hidden(p)):
        if not cls_dir.is_dir() or not _CLASS.match(cls_dir.name):
            report.add("bad class folder", str(cls_dir), "expected a 6-digit class folder")
            continue
        samples, duplicates = index_by_stem(cls_dir, extensions)
        for p in duplicates:
            report.add("duplicate", str(p), "the same clip in another format")
        chosen = {p.name for p in samples.values()}
        for p in sorted(cls_dir.iterdir()):
            if p.name not in chosen and p not in duplicates and not is_hidden(p):
                report.add("unrecognised file", str(p), f"extension not in {list(extensions)}")
        for stem, path in samples.items():
            signer = slr500_signer(stem)
            if signer is None or not 1 <= signer <= NUM_SIGNERS:
                report.add("bad name", str(path), f"expected P<signer 1..{NUM_SIGNERS}>_… as the name's start")
                continue
            extra = {"word": words[cls_dir.name]} if cls_dir.name in words else {}
            rows.append(ManifestRow(
                relative(path, root), label=cls_dir.name, signer=f"{signer:02d}",
                split="train" if signer <= train_signers else "test", extra=extra,
            ))
    return finish(rows, report, root, root, "expected <class id>/P<signer>_….<ext>")
