"""AUTSL (Sincan & Keles 2020): ``{train,val,test}_labels.csv`` -> manifest.

Official files read (from one folder):

* ``train_labels.csv``, ``val_labels.csv``, ``test_labels.csv``: no header, one line
  ``<sample>,<class id>`` per clip, e.g. ``signer0_sample1,118``; the sample name carries
  the signer (``signer<N>_sample<M>``).  The validation and test labels were released as
  ``ground_truth.csv`` files after the challenge; save them under these names.  The file
  a line is in gives its split.
* ``SignList_ClassId_TR_EN.csv`` (optional): header ``ClassId,TR,EN``; the label is the
  English name (``EN``) when it is there, else the class id.

The clips are ``<sample>_color.mp4`` and ``<sample>_depth.mp4`` in ``train/``, ``val/``,
``test/`` folders; the RGB clip (``_color``) is used.  Pose files may be named by the
sample or by the clip.  The official splits are signer-independent (31 / 6 / 6 signers).
"""

from __future__ import annotations

import re
from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.official import chosen_folder, finish, read_table, relative, split_files
from signssl.data.report import ItemReport
from signssl.data.samples import POSE_EXTENSIONS, VIDEO_EXTENSIONS, index_by_stem
from signssl.errors import DataError

SPLITS: tuple[str, ...] = ("train", "val", "test")
SIGN_LIST = "SignList_ClassId_TR_EN.csv"
_SAMPLE = re.compile(r"^signer(\d+)_sample(\d+)$")


def parse_autsl_sample(name: str) -> tuple[str, str] | None:
    """``"signer12_sample345"`` -> ``("12", "345")`` (signer, sample); else None."""
    m = _SAMPLE.match(name)
    return (m.group(1), m.group(2)) if m else None


def _index_media(folder: Path, poses: bool) -> dict[str, Path]:
    """Samples in ``folder`` and its ``train/``, ``val/``, ``test/`` folders, by stem."""
    exts = POSE_EXTENSIONS if poses else VIDEO_EXTENSIONS
    found: dict[str, Path] = {}
    for sub in (folder, *(folder / s for s in SPLITS)):
        if sub.is_dir():
            for stem, path in index_by_stem(sub, exts)[0].items():
                found.setdefault(stem, path)
    return found


def _sign_names(labels_dir: Path) -> dict[str, str]:
    path = labels_dir / SIGN_LIST
    if not path.is_file():
        return {}
    return {rec["ClassId"]: rec.get("EN") or rec["ClassId"]
            for _, rec in read_table(path, ("ClassId",), "AUTSL sign list") if rec["ClassId"]}


def manifest_from_autsl(
    labels_dir: str | Path,
    videos_dir: str | Path | None = None,
    poses_dir: str | Path | None = None,
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from the AUTSL label files.

    Args:
        labels_dir: folder holding ``{train,val,test}_labels.csv`` (and the sign list).
        videos_dir: folder of the clips (directly or in ``train/``, ``val/``, ``test/``).
        poses_dir: the same for pose files; takes precedence.
    Returns:
        ``(manifest, report)``: label = English sign name (or class id), signer = the
        number in ``signer<N>``, split = the file's, extra columns ``class_id``, ``sample``.
        Counted, not used: ``missing split file``, ``bad row`` (not ``signerN_sampleM,id``),
        ``duplicate`` (a sample listed twice), ``missing file``.
    """
    labels_dir = Path(labels_dir)
    if not labels_dir.is_dir():
        raise DataError("AUTSL labels folder does not exist", labels_dir)
    folder, is_pose = chosen_folder(videos_dir, poses_dir, labels_dir)
    files = _index_media(folder, is_pose)
    names = _sign_names(labels_dir)
    report = ItemReport()
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    for split, path in split_files(labels_dir, {s: f"{s}_labels.csv" for s in SPLITS}, report):
        for line, rec in read_table(path, ("sample", "class_id"), "AUTSL labels file",
                                    header=("sample", "class_id")):
            where = f"{path}, line {line}"
            sample, class_id = rec["sample"], rec["class_id"]
            parsed = parse_autsl_sample(sample)
            if parsed is None or not class_id.isdigit():
                report.add("bad row", where, f"expected signerN_sampleM,<class id>, got {sample!r},{class_id!r}")
                continue
            if sample in seen:
                report.add("duplicate", where, f"sample {sample} listed before")
                continue
            seen.add(sample)
            clip = files.get(f"{sample}_color") or files.get(sample)
            if clip is None:
                report.add("missing file", str(folder / f"{sample}_color"), where)
                continue
            rows.append(ManifestRow(
                relative(clip, folder), label=names.get(class_id, class_id), signer=parsed[0],
                split=split, extra={"class_id": class_id, "sample": sample},
            ))
    return finish(rows, report, folder, labels_dir,
                  "the clips must be named <sample>_color.mp4 or <sample>.<pose ext>")
