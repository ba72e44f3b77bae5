"""LSFB-ISOL (Fink et al. 2021, v2 release): ``instances.csv`` + split files -> manifest.

Official files read (from the dataset root):

* ``instances.csv``: header ``id,sign,signer,start,end``; ``id`` names the clip
  (``videos/<id>.mp4``, pose files ``<id>.*``), ``sign`` is the gloss, ``signer`` the
  signer id, ``start``/``end`` the times (ms) of the sign in its LSFB-CONT parent video.
  The isolated clips are already cut to the sign, so those times go to the extra columns
  ``start_ms``/``end_ms``, not to the frame range.
* ``metadata/splits/train.json`` and ``metadata/splits/test.json``: JSON lists of
  instance ids, the official train/test split (signer-independent: built from the
  LSFB-CONT split by parent video, whose signers do not overlap).
"""

from __future__ import annotations

from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.official import finish, media_folder, read_table, relative
from signssl.data.report import ItemReport
from signssl.errors import DataError
from signssl.utils import read_json_file

SPLITS: tuple[str, ...] = ("train", "test")
INSTANCE_COLUMNS: tuple[str, ...] = ("id", "sign", "signer", "start", "end")


def _split_of(root: Path, report: ItemReport) -> dict[str, str]:
    """Instance id -> split from ``metadata/splits/<split>.json``; ids in two files are
    counted under ``split conflict`` and mapped to ``""`` (left out, not counted again)."""
    split_of: dict[str, str] = {}
    conflicts: set[str] = set()
    for split in SPLITS:
        path = root / "metadata" / "splits" / f"{split}.json"
        if not path.is_file():
            raise DataError(f"split file does not exist; the LSFB-ISOL root holds "
                            f"metadata/splits/{{{','.join(SPLITS)}}}.json", path)
        ids = read_json_file(path)
        if not isinstance(ids, list):
            raise DataError(f"expected a JSON list of instance ids, got {type(ids).__name__}", path)
        for i in map(str, ids):
            if split_of.get(i, split) != split:
                conflicts.add(i)
            split_of[i] = split
    for i in sorted(conflicts):
        report.add("split conflict", i, "listed in both train.json and test.json")
        split_of[i] = ""
    return split_of


def manifest_from_lsfb_isol(
    root: str | Path,
    videos_dir: str | Path | None = None,
    poses_dir: str | Path | None = None,
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from LSFB-ISOL's ``instances.csv`` and official split files.

    Args:
        root: the dataset root (holding ``instances.csv`` and ``metadata/splits/``).
        videos_dir: folder of ``<id>.mp4``; default ``root/videos`` when ``poses_dir``
            is not given either.
        poses_dir: folder of pose samples named by instance id; takes precedence.
    Returns:
        ``(manifest, report)``: label = ``sign``, signer = ``signer``, split from the split
        files, extra columns ``start_ms``, ``end_ms``.  Counted, not used: ``bad row``
        (empty id or sign), ``duplicate`` (an id twice), ``no split`` (in neither split
        file), ``split conflict`` (in both), ``missing file``, and ``unknown id`` (a split
        file id absent from ``instances.csv``).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("LSFB-ISOL root does not exist", root)
    if videos_dir is None and poses_dir is None:
        videos_dir = root / "videos"
    csv_path = root / "instances.csv"
    records = read_table(csv_path, INSTANCE_COLUMNS[:3], "LSFB-ISOL instances.csv")
    folder, files = media_folder(videos_dir, poses_dir, csv_path)
    report = ItemReport()
    split_of = _split_of(root, report)
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    for line, rec in records:
        where = f"{csv_path}, line {line}"
        iid, sign = rec["id"], rec["sign"]
        if not iid or not sign:
            report.add("bad row", where, "empty 'id' or 'sign'")
            continue
        if iid in seen:
            report.add("duplicate", where, f"id {iid} listed before")
            continue
        seen.add(iid)
        split = split_of.get(iid)
        if split is None:
            report.add("no split", where, f"id {iid} is in no split file")
            continue
        if not split:
            continue  # counted under "split conflict"
        sample = files.get(iid)
        if sample is None:
            report.add("missing file", str(folder / iid), where)
            continue
        extra = {k + "_ms": rec[k] for k in ("start", "end") if rec.get(k)}
        rows.append(ManifestRow(relative(sample, folder), label=sign,
                                signer=rec["signer"] or None, split=split, extra=extra))
    for iid in sorted(i for i, s in split_of.items() if s and i not in seen):
        report.add("unknown id", iid, "in a split file but not in instances.csv")
    return finish(rows, report, folder, csv_path, "the files must be named <id>")
