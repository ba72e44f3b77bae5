"""How2Sign (Duarte et al. 2021): ``how2sign_realigned_{train,val,test}.csv`` -> manifest of
unlabeled sentence segments (a pretraining source).

Official files read (from one folder): ``how2sign_realigned_train.csv``,
``how2sign_realigned_val.csv``, ``how2sign_realigned_test.csv``, tab-separated with the
header ``VIDEO_ID, VIDEO_NAME, SENTENCE_ID, SENTENCE_NAME, START_REALIGNED,
END_REALIGNED, SENTENCE``; the times are seconds in the raw video ``VIDEO_NAME``.
The file a row is in gives its split.

The media are either the released sentence clips, named ``SENTENCE_NAME`` and already
cut (no frame range), or the raw videos named ``VIDEO_NAME`` cut by the realigned times
at ``fps`` frames per second.  A clip is looked for first.  Rows carry no gloss: label
empty, the English sentence in the ``text`` column.
"""

from __future__ import annotations

from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.official import (
    finish,
    media_folder,
    read_table,
    relative,
    seconds_to_frames,
    split_files,
)
from signssl.data.report import ItemReport
from signssl.errors import DataError

SPLITS: tuple[str, ...] = ("train", "val", "test")
COLUMNS: tuple[str, ...] = ("VIDEO_ID", "VIDEO_NAME", "SENTENCE_ID", "SENTENCE_NAME",
                            "START_REALIGNED", "END_REALIGNED", "SENTENCE")


def manifest_from_how2sign(
    csv_dir: str | Path,
    videos_dir: str | Path | None = None,
    poses_dir: str | Path | None = None,
    fps: float | None = None,
) -> tuple[Manifest, ItemReport]:
    """Build an unlabeled manifest of How2Sign's sentence segments.

    Args:
        csv_dir: folder holding the ``how2sign_realigned_<split>.csv`` files.
        videos_dir: folder of sentence clips (``<SENTENCE_NAME>.mp4``) or raw videos
            (``<VIDEO_NAME>.mp4``).
        poses_dir: the same for pose files; takes precedence.
        fps: frame rate of the raw videos, to turn the times into frames; needed only
            for rows found as raw videos.
    Returns:
        ``(manifest, report)``: label and signer empty, split = the file's, extra columns
        ``text``, ``sentence_name``, ``video_name``, ``start_s``, ``end_s``.  Counted, not
        used: ``missing split file``, ``bad row`` (empty names, bad times), ``duplicate``
        (a SENTENCE_NAME twice), ``missing file``, ``needs fps`` (a raw video without
        ``fps``).
    """
    csv_dir = Path(csv_dir)
    if not csv_dir.is_dir():
        raise DataError("How2Sign CSV folder does not exist", csv_dir)
    folder, files = media_folder(videos_dir, poses_dir, csv_dir)
    report = ItemReport()
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    names = {s: f"how2sign_realigned_{s}.csv" for s in SPLITS}
    for split, path in split_files(csv_dir, names, report):
        for line, rec in read_table(path, COLUMNS, "How2Sign realigned CSV"):
            row = _row(rec, split, files, folder, fps, seen, report, f"{path}, line {line}")
            if row is not None:
                rows.append(row)
    return finish(rows, report, folder, csv_dir,
                  "the files must be named <SENTENCE_NAME> (clips) or <VIDEO_NAME> (raw videos)")


def _row(rec: dict[str, str], split: str, files: dict[str, Path], folder: Path,
         fps: float | None, seen: set[str], report: ItemReport, where: str) -> ManifestRow | None:
    name, video = rec["SENTENCE_NAME"], rec["VIDEO_NAME"]
    if not name or not video:
        report.add("bad row", where, "empty SENTENCE_NAME or VIDEO_NAME")
        return None
    try:
        start_s, end_s = float(rec["START_REALIGNED"]), float(rec["END_REALIGNED"])
        seconds_to_frames(start_s, end_s, 1000.0)  # checks order and sign at 1 ms
    except ValueError as e:
        report.add("bad row", where, f"bad START_REALIGNED/END_REALIGNED: {e}")
        return None
    if name in seen:
        report.add("duplicate", where, f"SENTENCE_NAME {name} listed before")
        return None
    seen.add(name)
    start = end = None
    sample = files.get(name)
    if sample is None:
        sample = files.get(video)
        if sample is None:
            report.add("missing file", str(folder / name), f"{where} (nor raw video {video})")
            return None
        if fps is None:
            report.add("needs fps", where, f"raw video {video}: give --fps to cut it")
            return None
        start, end = seconds_to_frames(start_s, end_s, fps)
    return ManifestRow(
        relative(sample, folder), split=split, start=start, end=end,
        extra={"text": rec["SENTENCE"], "sentence_name": name, "video_name": video,
               "start_s": rec["START_REALIGNED"], "end_s": rec["END_REALIGNED"]},
    )
