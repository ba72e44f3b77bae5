"""NMFs-CSL (Hu et al. 2021): ``train.txt`` / ``test.txt`` list files -> manifest.

Official files read (from one folder): ``train.txt`` and ``test.txt``, one sample per
line, ``<sample path> <class id>`` separated by blanks, the path relative to the data
folder (a video, or a folder of frames); the file a line is in gives its split.  Optional
``classes.txt`` / ``class_list.txt``: one line per class, ``<class id> <word>``.  The
signer is read from the sample's file name when it starts with ``P<n>_`` (as in the
other USTC releases), else left empty.

Pose files extracted from the samples are matched by the stem of the listed path.  This
is the layout published with the release; a line that does not fit it is counted as a
``bad line``, never guessed at.
"""

from __future__ import annotations

from pathlib import Path

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.official import chosen_folder, finish, read_text, relative, split_files
from signssl.data.report import ItemReport
from signssl.data.samples import POSE_EXTENSIONS, index_by_stem
from signssl.data.slr500 import slr500_signer
from signssl.errors import DataError

SPLITS: tuple[str, ...] = ("train", "test")
CLASS_FILES: tuple[str, ...] = ("classes.txt", "class_list.txt")


def _class_words(lists_dir: Path) -> dict[str, str]:
    for name in CLASS_FILES:
        path = lists_dir / name
        if path.is_file():
            pairs = (ln.strip().split(None, 1) for ln in read_text(path, "class list").splitlines())
            return {p[0]: p[1] for p in pairs if len(p) == 2 and p[0].isdigit()}
    return {}


def manifest_from_nmfs_csl(
    lists_dir: str | Path,
    data_dir: str | Path | None = None,
    poses_dir: str | Path | None = None,
) -> tuple[Manifest, ItemReport]:
    """Build a manifest from the NMFs-CSL list files.

    Args:
        lists_dir: folder holding ``train.txt`` and ``test.txt`` (and a class list).
        data_dir: the folder the listed paths are relative to.
        poses_dir: folder of pose samples named by the stem of the listed path; takes
            precedence.
    Returns:
        ``(manifest, report)``: label = the class id as written, signer = ``P<n>`` number
        when the name has one, split = the list's, extra columns ``word`` (with a class
        list).  Counted, not used: ``missing split file``, ``bad line`` (not ``<path>
        <integer id>``), ``duplicate`` (a path listed twice), ``missing file``.
    """
    lists_dir = Path(lists_dir)
    if not lists_dir.is_dir():
        raise DataError("NMFs-CSL list folder does not exist", lists_dir)
    folder, is_pose = chosen_folder(data_dir, poses_dir, lists_dir, videos_option="--data")
    poses = index_by_stem(folder, POSE_EXTENSIONS)[0] if is_pose else None
    words = _class_words(lists_dir)
    report = ItemReport()
    rows: list[ManifestRow] = []
    seen: set[str] = set()
    for split, path in split_files(lists_dir, {s: f"{s}.txt" for s in SPLITS}, report):
        for line, text in enumerate(read_text(path, "NMFs-CSL list file").splitlines(), start=1):
            where = f"{path}, line {line}"
            parts = text.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].isdigit():
                report.add("bad line", where, f"expected '<path> <class id>', got {text.strip()!r}")
                continue
            listed, class_id = parts
            if listed in seen:
                report.add("duplicate", where, f"{listed} listed before")
                continue
            seen.add(listed)
            name = Path(listed).stem
            sample = poses.get(name) if poses is not None else folder / listed
            if sample is None or not sample.exists():
                report.add("missing file", str(folder / (name if poses is not None else listed)), where)
                continue
            signer = slr500_signer(name)
            rows.append(ManifestRow(
                relative(sample, folder), label=class_id,
                signer=None if signer is None else f"{signer:02d}", split=split,
                extra={"word": words[class_id]} if class_id in words else {},
            ))
    return finish(rows, report, folder, lists_dir, "the listed paths must exist under the data folder")
