"""Shared pieces of the corpus adapters: reading a corpus's official metadata files and
finding the media files they name.

Every adapter (``signssl.data.msasl``, ``autsl`` …) builds ``(Manifest, ItemReport)``:
rows it cannot use are counted in the report under a reason, never dropped silently, and
an unusable metadata file raises a one-line :class:`DataError` naming it.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.report import ItemReport
from signssl.data.samples import POSE_EXTENSIONS, VIDEO_EXTENSIONS, index_by_stem
from signssl.errors import DataError

#: a table's records: ``(line number, {column: cell})``, cells stripped
Records = list[tuple[int, dict[str, str]]]


def media_folder(
    videos_dir: str | Path | None, poses_dir: str | Path | None, where: str | Path
) -> tuple[Path, dict[str, Path]]:
    """The folder holding the samples and its samples keyed by stem.

    Pose files (``poses_dir``, any of :data:`POSE_EXTENSIONS` or a sequence folder) take
    precedence over videos; ``where`` (the metadata file) is named when neither is given.
    """
    folder, is_pose = chosen_folder(videos_dir, poses_dir, where)
    files, _ = index_by_stem(folder, POSE_EXTENSIONS if is_pose else VIDEO_EXTENSIONS)
    return folder, files


def chosen_folder(
    videos_dir: str | Path | None, poses_dir: str | Path | None, where: str | Path,
    videos_option: str = "--videos",
) -> tuple[Path, bool]:
    """``(folder, is_pose)``: ``poses_dir`` when given, else ``videos_dir``; refuses a
    missing folder or neither (``where`` = the metadata, ``videos_option`` its flag)."""
    if videos_dir is None and poses_dir is None:
        raise DataError(f"give the folder of the videos ({videos_option}) or of the pose files (--poses)", where)
    folder = Path(poses_dir if poses_dir is not None else videos_dir)  # type: ignore[arg-type]
    if not folder.is_dir():
        raise DataError("folder does not exist", folder)
    return folder, poses_dir is not None


def split_files(folder: Path, names: dict[str, str], report: ItemReport) -> list[tuple[str, Path]]:
    """``(split, file)`` for the per-split metadata files ``names`` (split -> file name)
    that exist in ``folder``; absent ones are counted under ``missing split file``, and
    none at all is refused."""
    found = []
    for split, name in names.items():
        path = folder / name
        if path.is_file():
            found.append((split, path))
        else:
            report.add("missing split file", str(path))
    if not found:
        raise DataError(f"none of {list(names.values())} found", folder)
    return found


def read_text(path: Path, what: str) -> str:
    """The UTF-8 text of an official metadata file (``what`` names it in the error)."""
    if not path.is_file():
        raise DataError(f"{what} does not exist", path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read the {what} as UTF-8 text: {e}", path) from None


def read_table(
    path: Path, required: Sequence[str], what: str, header: Sequence[str] | None = None
) -> Records:
    """Rows of a CSV (comma) or TSV (tab, detected from the first line) metadata file.

    Args:
        required: columns every row needs (the file is refused when one is absent).
        header: column names of a file without a header line (e.g. AUTSL's labels);
            ``None`` = the first line is the header.
    Returns:
        ``(line, record)`` per non-blank row; a short row gets empty cells (the adapter
        reports it when a cell it needs is empty).
    """
    text = read_text(path, what)
    first = text.split("\n", 1)[0]
    tabs = "\t" in first
    try:  # tab-separated files are not quoted (a sentence may hold a lone '"')
        table = list(csv.reader(io.StringIO(text), delimiter="\t" if tabs else ",",
                                quoting=csv.QUOTE_NONE if tabs else csv.QUOTE_MINIMAL))
    except csv.Error as e:
        raise DataError(f"cannot parse the {what}: {e}", path) from None
    if header is None:
        names = [h.strip() for h in table[0]] if table else []
        body, first_line = table[1:], 2
    else:
        names, body, first_line = list(header), table, 1
    missing = [c for c in required if c not in names]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; the {what} has the columns {list(required)} "
            f"(found {names}); is this the right file?",
            path,
        )
    records: Records = []
    for line, cells in enumerate(body, start=first_line):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        cells += [""] * (len(names) - len(cells))
        records.append((line, dict(zip(names, cells, strict=False))))
    return records


def seconds_to_frames(start_s: object, end_s: object, fps: object) -> tuple[int | None, int]:
    """Times in seconds -> 0-based end-exclusive ``[start, end)`` frames at ``fps``.

    ``start = floor(start_s * fps)``, ``end = ceil(end_s * fps)`` (the clip covers every
    frame the interval touches); a start of 0 becomes ``None``.

    >>> seconds_to_frames(1.0, 2.5, 30), seconds_to_frames(0, 0.1, 25)
    ((30, 75), (None, 3))
    """
    s, e, f = float(start_s), float(end_s), float(fps)  # type: ignore[arg-type]
    if not all(math.isfinite(v) for v in (s, e, f)) or f <= 0 or s < 0:
        raise ValueError(f"times must be finite, start >= 0 and fps > 0 (got {s}, {e}, {f})")
    start = math.floor(s * f + 1e-6)
    end = math.ceil(e * f - 1e-6)
    if end <= start:
        raise ValueError(f"end time {e} s is not after start time {s} s")
    return start or None, end


def relative(path: Path, folder: Path) -> str:
    """``path`` as written in the manifest: relative to ``folder`` with ``/``, or absolute
    when it lies outside ``folder`` (a listed ``../x`` or ``/abs/x``)."""
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return Path(os.path.abspath(path)).as_posix()


def finish(rows: list[ManifestRow], report: ItemReport, folder: Path, source: Path,
           hint: str) -> tuple[Manifest, ItemReport]:
    """``(Manifest(rows, root=folder), report)``; refuses an empty result with the counts
    and ``hint`` (what the files must be named)."""
    report.kept = len(rows)
    if not rows:
        raise DataError(f"no usable row: {report.summary()}; {hint} ({folder})", source)
    return Manifest(rows, root=Path(os.path.abspath(folder))), report
