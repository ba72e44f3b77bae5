"""WLASL (Li et al. 2020): ``WLASL_v0.3.json`` -> manifest.

The JSON file is a list of glosses::

    [{"gloss": "book",
      "instances": [{"video_id": "69241", "signer_id": 118, "split": "train",
                     "frame_start": 1, "frame_end": -1, "fps": 25, ...}, ...]}, ...]

Frame numbers in the JSON are 1-based and inclusive, with ``frame_end = -1`` meaning
"to the end" (WLASL's ``preprocess.py`` cuts ``frames[frame_start - 1 : frame_end]``).
The manifest stores 0-based, end-exclusive ranges: ``start = frame_start - 1``,
``end = frame_end`` (empty for -1).

WLASL's own ``preprocess.py`` writes clips that are *already cut* to that range into
``videos/``; for those (and for poses extracted from them) pass ``trimmed=True`` so the
range is not applied a second time.  Ranges of clips that start at frame 1 and run to the
end are left empty either way.

WLASL100/300/1000/2000 are the first 100/300/1000/2000 glosses of the JSON list (the file
is ordered so that these are the subsets of the paper); ``subset=N`` keeps those glosses
with each instance's official ``split`` and counts the other instances in the report's
notes.
"""

from __future__ import annotations

import os
from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.report import ItemReport
from signssl.data.samples import POSE_EXTENSIONS, VIDEO_EXTENSIONS, index_by_stem
from signssl.errors import DataError
from signssl.utils import read_json_file

#: instance fields copied to extra manifest columns when present
WLASL_EXTRA_FIELDS: tuple[str, ...] = ("video_id", "instance_id", "variation_id", "source", "fps")
#: the subsets of the WLASL paper: the first N glosses of ``WLASL_v0.3.json``
WLASL_SUBSETS: tuple[int, ...] = (100, 300, 1000, 2000)


def _load_entries(json_path: Path) -> list:
    if not json_path.exists():
        raise DataError("WLASL JSON file does not exist", json_path)
    data = read_json_file(json_path)
    if not isinstance(data, list):
        raise DataError(
            f"expected a JSON list of {{gloss, instances}} entries (WLASL_v0.3.json), got "
            f"{type(data).__name__}",
            json_path,
        )
    return data


def wlasl_frame_range(frame_start: object, frame_end: object) -> tuple[int | None, int | None]:
    """WLASL 1-based inclusive ``(frame_start, frame_end)`` -> 0-based ``[start, end)``.

    ``frame_end <= 0`` (WLASL writes -1) means to the end; ``start`` 0 becomes ``None``.

    >>> wlasl_frame_range(1, -1), wlasl_frame_range(12, 60)
    ((None, None), (11, 60))
    """
    fs = int(frame_start) if frame_start is not None else 1  # type: ignore[call-overload]
    fe = int(frame_end) if frame_end is not None else -1  # type: ignore[call-overload]
    if fs < 1:
        raise ValueError(f"frame_start must be >= 1 (1-based), got {fs}")
    start = fs - 1 or None
    end = fe if fe > 0 else None
    if end is not None and end <= (start or 0):
        raise ValueError(f"frame_end {fe} is before frame_start {fs}")
    return start, end


def manifest_from_wlasl(
    json_path: str | Path,
    videos_dir: str | Path | None = None,
    poses_dir: str | Path | None = None,
    trimmed: bool = False,
    subset: int | None = None,
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from ``WLASL_v0.3.json`` (or a subset such as WLASL100's).

    Args:
        json_path: the WLASL JSON file.
        videos_dir: folder of ``<video_id>.mp4`` (or another video container); used when
            ``poses_dir`` is not given.
        poses_dir: folder of pose samples named by video id (``<video_id>.pose``,
            ``.npz``…, or an MP_Data sequence folder ``<video_id>/``); takes precedence.
        trimmed: the files are already cut to each instance's frame range (WLASL's
            ``preprocess.py`` output); leave ``start``/``end`` empty.
        subset: 100, 300, 1000 or 2000: keep the first N glosses (WLASL-N); ``None`` =
            every gloss of the file.
    Returns:
        ``(manifest, report)``: label = gloss, signer = ``signer_id``, split = the JSON's
        split, extra columns :data:`WLASL_EXTRA_FIELDS`.  Instances whose file is absent
        are counted under ``missing file`` (WLASL videos disappear from the web, so a
        partial download is normal), malformed entries under ``bad entry``.
    """
    json_path = Path(json_path)
    if videos_dir is None and poses_dir is None:
        raise DataError("give the folder of the videos or of the pose files", json_path)
    entries = _load_entries(json_path)
    outside = 0
    if subset is not None:
        entries, outside = _subset(entries, subset, json_path)
    if poses_dir is not None:
        folder = Path(poses_dir)
        if not folder.is_dir():
            raise DataError("pose folder does not exist", folder)
        files, _ = index_by_stem(folder, POSE_EXTENSIONS)
    else:
        folder = Path(videos_dir)  # type: ignore[arg-type]
        if not folder.is_dir():
            raise DataError("video folder does not exist", folder)
        files, _ = index_by_stem(folder, VIDEO_EXTENSIONS)
    report = ItemReport()
    rows: list[ManifestRow] = []
    for i, entry in enumerate(entries):
        gloss = entry.get("gloss") if isinstance(entry, dict) else None
        instances = entry.get("instances") if isinstance(entry, dict) else None
        if not isinstance(gloss, str) or not isinstance(instances, list):
            report.add("bad entry", f"entry #{i}", "needs 'gloss' (text) and 'instances' (list)")
            continue
        for inst in instances:
            row = _instance_row(inst, gloss, files, folder, trimmed, report)
            if row is not None:
                rows.append(row)
    report.kept = len(rows)
    if outside:
        report.note(f"instances of glosses outside WLASL{subset} (not read)", outside)
    if not rows:
        raise DataError(
            f"no usable instance: {report.summary()}; check that the folder holds files "
            f"named <video_id> ({folder})",
            json_path,
        )
    return Manifest(rows, root=Path(os.path.abspath(folder))), report


def _subset(entries: list, n: int, json_path: Path) -> tuple[list, int]:
    """The first ``n`` gloss entries and the number of instances of the others."""
    if n not in WLASL_SUBSETS:
        raise DataError(f"WLASL subset must be one of {list(WLASL_SUBSETS)}, got {n}", json_path)
    if len(entries) < n:
        raise DataError(
            f"holds {len(entries)} glosses, fewer than WLASL{n} needs; give the full "
            "WLASL_v0.3.json",
            json_path,
        )
    rest = entries[n:]
    outside = sum(len(e["instances"]) for e in rest
                  if isinstance(e, dict) and isinstance(e.get("instances"), list))
    return entries[:n], outside


def _instance_row(
    inst: object,
    gloss: str,
    files: dict[str, Path],
    folder: Path,
    trimmed: bool,
    report: ItemReport,
) -> ManifestRow | None:
    if not isinstance(inst, dict) or "video_id" not in inst:
        report.add("bad entry", f"gloss '{gloss}'", "an instance without 'video_id'")
        return None
    vid = str(inst["video_id"])
    path = files.get(vid)
    if path is None:
        report.add("missing file", str(folder / vid), f"gloss '{gloss}'")
        return None
    start = end = None
    if not trimmed:
        try:
            start, end = wlasl_frame_range(inst.get("frame_start"), inst.get("frame_end"))
        except (TypeError, ValueError) as e:
            report.add("bad entry", vid, f"bad frame range: {e}")
            return None
    signer = inst.get("signer_id")
    return ManifestRow(
        path=path.relative_to(folder).as_posix(),
        label=gloss,
        signer=None if signer is None else str(signer),
        split=inst.get("split") or None,
        start=start,
        end=end,
        extra={k: str(inst[k]) for k in WLASL_EXTRA_FIELDS if inst.get(k) is not None},
    )
