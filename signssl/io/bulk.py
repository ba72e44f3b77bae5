"""Convert many pose files at once: skip bad items, count them, resume where left off."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signssl.errors import DataError, SignSSLError
from signssl.io._common import LayoutArg, existing_path, resolve_layout
from signssl.io.dispatch import WRITE_SUFFIXES, read_pose, write_pose
from signssl.io.mp_data import is_mp_data_root, iter_mp_data
from signssl.utils import progress_bar, save_json

#: file types picked up when converting a folder of files
FILE_SUFFIXES = (".pose", ".npy", ".npz", ".parquet")
REPORT_NAME = "convert_report.json"


@dataclass
class ConvertReport:
    """Outcome of :func:`convert_tree`; ``errors`` maps a source to its error message."""

    converted: int = 0
    skipped_existing: int = 0
    failed: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.converted + self.skipped_existing + self.failed

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "converted": self.converted,
                "skipped_existing": self.skipped_existing, "failed": self.failed,
                "errors": self.errors}


def plan_tree(src_root: str | Path, dst_dir: str | Path, suffix: str = ".pose") -> list[tuple[Path, Path]]:
    """``(source, output)`` pairs for a folder.

    An MP_Data root maps ``<gloss>/<seq>/`` to ``<dst>/<gloss>/<seq><suffix>``; any other
    folder maps each file ending in one of :data:`FILE_SUFFIXES` (searched recursively)
    to the same relative path under ``dst`` with ``suffix``.
    """
    src, dst = existing_path(src_root), Path(dst_dir)
    if suffix not in WRITE_SUFFIXES:
        raise DataError(f"output type must be one of {list(WRITE_SUFFIXES)}, got '{suffix}'", dst)
    if not src.is_dir():
        raise DataError("is not a folder; convert single files with an output file name", src)
    if is_mp_data_root(src):
        return [(seq, dst / gloss / f"{seq.name}{suffix}") for gloss, seq in iter_mp_data(src)]
    # every entry with a pose suffix but a folder: a named pipe or device among them is
    # refused by the reader and counted as failed, not skipped silently or read forever
    files = sorted(p for p in src.rglob("*") if p.suffix.lower() in FILE_SUFFIXES and not p.is_dir())
    if not files:
        raise DataError(f"holds no MP_Data sequences and no {list(FILE_SUFFIXES)} files", src)
    return [(f, (dst / f.relative_to(src)).with_suffix(suffix)) for f in files]


def convert_tree(
    src_root: str | Path,
    dst_dir: str | Path,
    suffix: str = ".pose",
    layout: LayoutArg = None,
    fps: float | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> ConvertReport:
    """Convert every item of a folder (see :func:`plan_tree`) to ``.pose`` or ``.npz``.

    Items that cannot be read are skipped and counted, with their messages, in the report
    (also written to ``<dst>/convert_report.json``).  Existing outputs are kept unless
    ``overwrite``, so an interrupted run resumes; every output is written atomically.
    """
    plan = plan_tree(src_root, dst_dir, suffix)
    lay = resolve_layout(layout)  # resolve once: a bad layout fails before any work
    report = ConvertReport()
    for src, out in progress_bar(plan, desc="convert", unit="seq", disable=not progress):
        if out.exists() and not overwrite:
            report.skipped_existing += 1
            continue
        try:
            write_pose(read_pose(src, layout=lay, fps=fps), out)
        except SignSSLError as e:
            report.failed += 1
            report.errors[str(src)] = str(e)
            continue
        report.converted += 1
    save_json(Path(dst_dir) / REPORT_NAME, report.to_dict())
    return report
