"""MS-ASL (Vaezi Joze & Koller 2019): ``MSASL_{train,val,test}.json`` -> manifest.

Official files read (from one folder):

* ``MSASL_train.json``, ``MSASL_val.json``, ``MSASL_test.json``: JSON lists, one object
  per sample; the fields used are ``url`` (the YouTube video), ``start_time`` and
  ``end_time`` (seconds in that video), ``fps``, ``label`` (class index 0..999),
  ``clean_text`` (the gloss), ``signer_id``; ``org_text``, ``box``, ``width``,
  ``height`` are not used.  The file a sample is in gives its split.
* ``MSASL_classes.json`` (optional): the list of the 1000 class names, indexed by
  ``label``; without it the label is the sample's ``clean_text``.

MS-ASL is distributed as YouTube links, so the media are whole downloaded videos named by
their YouTube id (``<id>.mp4``, or pose files ``<id>.pose`` extracted from them); a row's
frame range is ``[floor(start_time * fps), ceil(end_time * fps))``.  MSASL100/200/500/1000
are the samples with ``label < N`` (the classes are ordered by frequency), as in the paper.
"""

from __future__ import annotations

import re
from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.official import finish, media_folder, relative, seconds_to_frames, split_files
from signssl.data.report import ItemReport
from signssl.errors import DataError
from signssl.utils import read_json_file

SPLITS: tuple[str, ...] = ("train", "val", "test")
#: the subsets of the MS-ASL paper: classes ``label < N``
MSASL_SUBSETS: tuple[int, ...] = (100, 200, 500, 1000)
_YOUTUBE_ID = re.compile(r"(?:[?&]v=|youtu\.be/|/embed/|/shorts/)([A-Za-z0-9_-]{6,})")


def youtube_id(url: str) -> str | None:
    """The video id of a YouTube link (``watch?v=``, ``youtu.be/``, ``embed/``); else None.

    >>> youtube_id("https://www.youtube.com/watch?v=Abc-123_x"), youtube_id("www.youtu.be/q1w2e3r4")
    ('Abc-123_x', 'q1w2e3r4')
    """
    m = _YOUTUBE_ID.search(url)
    return m.group(1) if m else None


def _load_list(path: Path, what: str) -> list:
    data = read_json_file(path)
    if not isinstance(data, list):
        raise DataError(f"expected a JSON list ({what}), got {type(data).__name__}", path)
    return data


def manifest_from_msasl(
    json_dir: str | Path,
    videos_dir: str | Path | None = None,
    poses_dir: str | Path | None = None,
    subset: int = 1000,
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from the MS-ASL JSON files.

    Args:
        json_dir: folder holding ``MSASL_{train,val,test}.json`` (and ``MSASL_classes.json``).
        videos_dir: folder of the downloaded YouTube videos ``<youtube id>.<ext>``.
        poses_dir: folder of pose samples named by YouTube id; takes precedence.
        subset: 100, 200, 500 or 1000: keep the samples with ``label < subset``.
    Returns:
        ``(manifest, report)``: label = class name, signer = ``signer_id``, split = the
        file's, ``start``/``end`` from the times, extra columns ``class_id``, ``youtube_id``,
        ``fps``.  Counted, not used: ``missing split file``, ``missing file`` (video not
        downloaded), ``bad entry`` (a field missing or malformed), ``duplicate`` (same
        video and range as an earlier sample); samples of classes >= ``subset`` are
        counted in the notes.
    """
    json_dir = Path(json_dir)
    if subset not in MSASL_SUBSETS:
        raise DataError(f"MS-ASL subset must be one of {list(MSASL_SUBSETS)}, got {subset}", json_dir)
    if not json_dir.is_dir():
        raise DataError("MS-ASL JSON folder does not exist", json_dir)
    folder, files = media_folder(videos_dir, poses_dir, json_dir)
    classes_path = json_dir / "MSASL_classes.json"
    classes = _load_list(classes_path, "MSASL_classes.json: class names") if classes_path.is_file() else None
    report = ItemReport()
    rows: list[ManifestRow] = []
    seen: set[tuple[str, int | None, int]] = set()
    outside = 0
    for split, path in split_files(json_dir, {s: f"MSASL_{s}.json" for s in SPLITS}, report):
        for i, entry in enumerate(_load_list(path, f"MSASL_{split}.json: samples")):
            where = f"{path.name} #{i}"
            parsed = _parse_entry(entry, classes, report, where)
            if parsed is None:
                continue
            vid, label_id, name, start, end = parsed
            if label_id >= subset:
                outside += 1
                continue
            if (vid, start, end) in seen:
                report.add("duplicate", where, f"video {vid} frames [{start}, {end}) listed before")
                continue
            sample = files.get(vid)
            if sample is None:
                report.add("missing file", str(folder / vid), where)
                continue
            seen.add((vid, start, end))
            signer = entry.get("signer_id")
            rows.append(ManifestRow(
                relative(sample, folder), label=name,
                signer=None if signer is None else str(signer), split=split, start=start,
                end=end, extra={"class_id": str(label_id), "youtube_id": vid,
                                "fps": str(entry["fps"])},
            ))
    if outside:
        report.note(f"samples of classes outside MSASL{subset} (not read)", outside)
    return finish(rows, report, folder, json_dir, "the files must be named <youtube id>")


def _parse_entry(
    entry: object, classes: list | None, report: ItemReport, where: str
) -> tuple[str, int, str, int | None, int] | None:
    """``(youtube id, class id, class name, start, end)`` or None (counted)."""
    if not isinstance(entry, dict):
        report.add("bad entry", where, "not a JSON object")
        return None
    vid = youtube_id(str(entry.get("url", "")))
    if vid is None:
        report.add("bad entry", where, f"'url' is not a YouTube link: {entry.get('url')!r}")
        return None
    label = entry.get("label")
    if not isinstance(label, int) or label < 0:
        report.add("bad entry", where, f"'label' must be a class index >= 0, got {label!r}")
        return None
    if classes is not None:
        if label >= len(classes):
            report.add("bad entry", where, f"label {label} is not in MSASL_classes.json")
            return None
        name = str(classes[label])
    else:
        name = str(entry.get("clean_text") or "").strip()
        if not name:
            report.add("bad entry", where, "empty 'clean_text'")
            return None
    try:
        start, end = seconds_to_frames(entry.get("start_time"), entry.get("end_time"), entry.get("fps"))
    except (TypeError, ValueError) as e:
        report.add("bad entry", where, f"bad start_time/end_time/fps: {e}")
        return None
    return vid, label, name, start, end
