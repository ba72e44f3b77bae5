"""Kaggle "Google - Isolated Sign Language Recognition" (GISLR, 2023): ``train.csv`` ->
manifest of the landmark parquet files.

Official files read (from the competition's data folder):

* ``train.csv``: header ``path,participant_id,sequence_id,sign``; ``path`` is the
  landmark file relative to the data folder (``train_landmark_files/<participant>/
  <sequence>.parquet``), ``participant_id`` the signer, ``sign`` the gloss.
* ``sign_to_prediction_index_map.json`` (optional): ``{sign: class index}`` of the 250
  signs; with it a row's sign must be in the map, and the index goes to ``class_id``.

The parquet files are keypoints (one row per frame and landmark: ``frame, row_id, type,
landmark_index, x, y, z``), read by ``signssl.io.read_pose`` (``signssl.io.parquet``).
The competition's test set is hidden, so the release has no split: the participant ids
are kept so that a signer-independent split can be made (``--split-seed``).
"""

from __future__ import annotations

from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.official import finish, read_table
from signssl.data.report import ItemReport
from signssl.errors import DataError
from signssl.utils import read_json_file

COLUMNS: tuple[str, ...] = ("path", "participant_id", "sequence_id", "sign")
SIGN_MAP = "sign_to_prediction_index_map.json"


def _sign_map(root: Path) -> dict[str, str] | None:
    path = root / SIGN_MAP
    if not path.is_file():
        return None
    data = read_json_file(path)
    if not isinstance(data, dict):
        raise DataError(f"expected a JSON object {{sign: index}}, got {type(data).__name__}", path)
    return {str(k): str(v) for k, v in data.items()}


def manifest_from_gislr(
    root: str | Path, csv_path: str | Path | None = None
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from the GISLR ``train.csv``.

    Args:
        root: the competition data folder (paths in the CSV are relative to it).
        csv_path: the CSV; default ``root/train.csv``.
    Returns:
        ``(manifest, report)``: path as in the CSV (relative to ``root``), label =
        ``sign``, signer = ``participant_id``, no split, extra columns ``sequence_id``
        and ``class_id`` (with the sign map).  Counted, not used: ``bad row`` (an empty
        cell), ``duplicate`` (a ``sequence_id`` twice), ``unknown sign`` (not in the sign
        map), ``missing file``.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("GISLR data folder does not exist", root)
    csv_path = Path(csv_path) if csv_path is not None else root / "train.csv"
    records = read_table(csv_path, COLUMNS, "GISLR train.csv")
    signs = _sign_map(root)
    report = ItemReport()
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    for line, rec in records:
        where = f"{csv_path}, line {line}"
        if not all(rec[c] for c in COLUMNS):
            report.add("bad row", where, f"empty cell in {[c for c in COLUMNS if not rec[c]]}")
            continue
        seq = rec["sequence_id"]
        if seq in seen:
            report.add("duplicate", where, f"sequence_id {seq} listed before")
            continue
        seen.add(seq)
        if signs is not None and rec["sign"] not in signs:
            report.add("unknown sign", where, f"{rec['sign']!r} is not in {SIGN_MAP}")
            continue
        if not (root / rec["path"]).is_file():
            report.add("missing file", str(root / rec["path"]), where)
            continue
        extra = {"sequence_id": seq}
        if signs is not None:
            extra["class_id"] = signs[rec["sign"]]
        rows.append(ManifestRow(rec["path"], label=rec["sign"], signer=rec["participant_id"],
                                extra=extra))
    return finish(rows, report, root, csv_path,
                  "the CSV's paths must exist under the data folder")
