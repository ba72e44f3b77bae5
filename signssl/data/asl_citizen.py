"""ASL Citizen (Desai et al. 2023): split CSVs -> manifest.

The dataset ships ``splits/train.csv``, ``splits/val.csv`` and ``splits/test.csv`` with
the columns ``Participant ID, Video file, Gloss, ASL-LEX Code``; the file a row is in
gives its split.  Its splits are already signer-independent (no participant in two).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.report import ItemReport
from signssl.data.samples import POSE_EXTENSIONS, index_by_stem
from signssl.errors import DataError

SPLIT_FILES: tuple[str, ...] = ("train", "val", "test")
ASL_CITIZEN_COLUMNS: tuple[str, ...] = ("Participant ID", "Video file", "Gloss", "ASL-LEX Code")


def _read_split_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """``(line, record)`` of one split CSV; keys = column names, values stripped."""
    try:
        table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"cannot read the split CSV: {e}", path) from None
    header = [h.strip() for h in table[0]] if table else []
    missing = [c for c in ASL_CITIZEN_COLUMNS[:3] if c not in header]
    if missing:
        raise DataError(
            f"missing column(s) {missing}; an ASL Citizen split CSV has the columns "
            f"{list(ASL_CITIZEN_COLUMNS)} (found {header})",
            path,
        )
    records = []
    for line, cells in enumerate(table[1:], start=2):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue  # blank line
        # a short row gets empty cells (reported as a bad row when a required one is empty)
        cells += [""] * (len(header) - len(cells))
        records.append((line, dict(zip(header, cells, strict=False))))
    return records


def manifest_from_asl_citizen(
    splits_dir: str | Path,
    videos_dir: str | Path | None = None,
    poses_dir: str | Path | None = None,
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from the ASL Citizen split CSVs.

    Args:
        splits_dir: folder holding ``train.csv``, ``val.csv``, ``test.csv`` (any present).
        videos_dir: folder of the videos named in ``Video file``.
        poses_dir: folder of pose samples named by the video's stem; takes precedence.
    Returns:
        ``(manifest, report)``: label = ``Gloss``, signer = ``Participant ID``, split = the
        CSV's name, extra column ``asl_lex_code``.  Rows whose file is absent are counted
        under ``missing file``, rows without a video name or gloss under ``bad row``,
        absent split files under ``missing split file``.
    """
    splits_dir = Path(splits_dir)
    if not splits_dir.is_dir():
        raise DataError("ASL Citizen splits folder does not exist", splits_dir)
    if videos_dir is None and poses_dir is None:
        raise DataError("give the folder of the videos or of the pose files", splits_dir)
    folder = Path(poses_dir if poses_dir is not None else videos_dir)  # type: ignore[arg-type]
    if not folder.is_dir():
        raise DataError("folder does not exist", folder)
    poses = index_by_stem(folder, POSE_EXTENSIONS)[0] if poses_dir is not None else None
    report = ItemReport()
    rows: list[ManifestRow] = []
    found_any = False
    for split in SPLIT_FILES:
        csv_path = splits_dir / f"{split}.csv"
        if not csv_path.is_file():
            report.add("missing split file", str(csv_path))
            continue
        found_any = True
        for line, rec in _read_split_csv(csv_path):
            row = _row(rec, split, folder, poses, report, f"{csv_path}, line {line}")
            if row is not None:
                rows.append(row)
    if not found_any:
        raise DataError(f"none of {[s + '.csv' for s in SPLIT_FILES]} found", splits_dir)
    report.kept = len(rows)
    if not rows:
        raise DataError(f"no usable row: {report.summary()}", splits_dir)
    return Manifest(rows, root=Path(os.path.abspath(folder))), report


def _row(
    rec: dict[str, str],
    split: str,
    folder: Path,
    poses: dict[str, Path] | None,
    report: ItemReport,
    where: str,
) -> ManifestRow | None:
    video, gloss = rec.get("Video file", ""), rec.get("Gloss", "")
    if not video or not gloss:
        report.add("bad row", where, "empty 'Video file' or 'Gloss'")
        return None
    if poses is not None:
        path = poses.get(Path(video).stem)
        if path is None:
            report.add("missing file", str(folder / Path(video).stem), where)
            return None
    else:
        path = folder / video
        if not path.is_file():
            report.add("missing file", str(path), where)
            return None
    code = rec.get("ASL-LEX Code", "")
    return ManifestRow(
        path=path.relative_to(folder).as_posix(),
        label=gloss,
        signer=rec.get("Participant ID") or None,
        split=split,
        extra={"asl_lex_code": code} if code else {},
    )
