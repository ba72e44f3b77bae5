"""Writing a manifest's pose clips as tar shards (``signssl shard``; the format is in
:mod:`signssl.data.shards`).

Every row is read by :class:`~signssl.data.PoseDataset` (``load``: read, frame range,
layout, dims, edge trim, normalisation), so a shard holds exactly the arrays the folder
reader gives.  A clip that cannot be used is skipped and counted by reason in the
returned :class:`~signssl.data.report.ItemReport` (also saved in the index as
``report``).  Rows are grouped by split (stable, so each split keeps the manifest order)
and a shard never spans two splits.

Output is atomic: the shards and ``shards.json`` are written in a temporary folder next
to ``out`` that is renamed to ``out`` (or, when ``out`` exists, e.g. holding other
parts, moved into it file by file with the index last): a killed job leaves no index, so
no reader sees half a corpus.  With ``part=(I, N)`` only the ``I``-th block of rows is
written, as ``shard.partIofN-*.tar`` and ``shards.partIofN.json``;
:func:`merge_shard_parts` joins the parts' indexes into ``shards.json``.

A video manifest's videos are written by :mod:`signssl.data.video_shards` through the same
:func:`write_clips` (staging, splits, parts, index).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from signssl.data.dataset import PoseDataset
from signssl.data.loading import SampleError
from signssl.data.manifest import Manifest
from signssl.data.parts import WHOLE, order_parts, part_path, part_suffix, select_part
from signssl.data.report import ItemReport
from signssl.data.shards import (
    CONF,
    INDEX_NAME,
    META,
    XYZ,
    ShardIndex,
    ShardInfo,
    file_sha256,
)
from signssl.errors import ConfigError, DataError
from signssl.pose.layouts import DEFAULT_LAYOUT
from signssl.utils import progress_bar, save_json


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def clip_record(key: str, seq: Any, meta: dict[str, Any]) -> dict[str, Any]:
    """The tar members of one clip (a WebDataset sample dict of bytes)."""
    return {
        "__key__": key,
        XYZ: _npy_bytes(seq.xyz.astype(np.float32, copy=False)),  # (T, J, C)
        CONF: _npy_bytes(seq.conf.astype(np.float32, copy=False)),  # (T, J)
        META: json.dumps(meta, sort_keys=True).encode("utf-8"),
    }


def rows_within_split(manifest: Manifest) -> list[int]:
    """Per row, its index among the rows of its split (the ``index`` a split's reader gives)."""
    seen: dict[str | None, int] = {}
    out = []
    for row in manifest.rows:
        out.append(seen.get(row.split, 0))
        seen[row.split] = out[-1] + 1
    return out


class ShardSink:
    """Tar shards of at most ``shard_size`` clips in ``folder``, split by split name."""

    def __init__(self, folder: Path, shard_size: int, prefix: str) -> None:
        self.folder, self.shard_size, self.prefix = folder, shard_size, prefix
        self.infos: list[ShardInfo] = []
        self._writer: Any = None
        self._file: Any = None
        self._count, self._split, self._name = 0, None, ""

    def write(self, record: dict[str, Any], split: str | None) -> None:
        if self._writer is None or self._count >= self.shard_size or split != self._split:
            self._close()
            import webdataset as wds

            self._name = f"{self.prefix}-{len(self.infos):06d}.tar"
            self._file = open(self.folder / self._name, "wb")  # noqa: SIM115 (closed in _close)
            self._writer = wds.TarWriter(self._file, encoder=False, mtime=0)  # int: no PAX headers
            self._count, self._split = 0, split
        self._writer.write(record)
        self._count += 1

    def _close(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._file.close()
        path = self.folder / self._name
        self.infos.append(ShardInfo(self._name, self._count, path.stat().st_size, file_sha256(path),
                                    self._split))
        self._writer = None

    def close(self) -> list[ShardInfo]:
        self._close()
        return self.infos


def _commit(tmp: Path, out: Path, index_name: str) -> None:
    """Move ``tmp``'s files to ``out`` (a rename when ``out`` does not exist), index last."""
    if not out.exists():
        os.replace(tmp, out)
        return
    for p in sorted(tmp.iterdir()):
        if p.name != index_name:
            os.replace(p, out / p.name)
    os.replace(tmp / index_name, out / index_name)
    tmp.rmdir()


def write_shards(
    manifest: Manifest | str | Path,
    out: str | Path,
    *,
    layout: str | None = DEFAULT_LAYOUT,
    dims: int | None = 2,
    normalize: str | None = "auto",
    trim_empty: bool = True,
    split: str | None = None,
    shard_size: int = 1000,
    source_layout: str | None = None,
    fps: float | None = None,
    part: tuple[int, int] = WHOLE,
    progress: bool = True,
) -> tuple[ShardIndex, ItemReport]:
    """Write the clips of ``manifest`` (rows of ``split``; ``None`` = all) to ``out``.

    Args:
        layout, dims, normalize, trim_empty, source_layout, fps: as
            :class:`~signssl.data.PoseDataset` (the reader must ask for the same).
        shard_size: clips per shard (the last of a split may hold fewer).
        part: ``(I, N)`` writes only the ``I``-th of ``N`` row blocks (module docstring).
    Returns:
        ``(index, report)``: the written index and the kept / skipped clips by reason.
    Raises:
        ConfigError: ``shard_size < 1``; ``out`` already holds this index.
        DataError: a missing manifest; no usable clip.
    """
    check_new_shards(out, shard_size, part)
    ds = PoseDataset(manifest, layout=layout, dims=dims, normalize=normalize, split=split,
                     source_layout=source_layout, fps=fps, trim_empty=trim_empty)  # fmt: skip
    rows = part_rows(ds.manifest, part)
    split_row = rows_within_split(ds.manifest)
    report = ItemReport()

    def clips() -> Iterable[tuple[dict[str, Any], str | None]]:
        for r in progress_bar(rows, desc="sharding", unit="clip", disable=not progress):
            row = ds.manifest.rows[r]
            try:
                seq = ds.load(r)
            except SampleError as e:
                report.add(e.reason, str(ds.manifest.resolve(row)), str(e))
                continue
            meta = {"row": r, "split_row": split_row[r], "label": row.label, "signer": row.signer, "split": row.split,
                    "start": row.start, "end": row.end,
                    "fps": None if seq.fps is None else float(seq.fps), "path": seq.source,
                    "layout": seq.layout.name, "extra": row.extra}  # fmt: skip
            report.kept += 1
            yield clip_record(f"{r:09d}", seq, meta), row.split

    def index_of(infos: list[ShardInfo]) -> ShardIndex:
        source = check_kept(infos, part, report, ds.manifest, manifest)
        return ShardIndex(Path(out), infos, layout if layout is None else str(layout), dims, normalize,
                          trim_empty, ds.classes, manifest=source, report=report.to_dict())  # fmt: skip

    return write_clips(out, shard_size, part, clips(), index_of), report


def check_new_shards(out: str | Path, shard_size: int, part: tuple[int, int]) -> None:
    """Raise ``ConfigError`` for ``shard_size < 1`` or an ``out`` already holding this index."""
    if shard_size < 1:
        raise ConfigError(f"--shard-size must be >= 1, got {shard_size}")
    index = Path(out) / part_path(INDEX_NAME, part).name
    if index.exists():
        raise ConfigError(f"{index} exists: shard into a new --out folder or delete it")


def part_rows(manifest: Manifest, part: tuple[int, int]) -> list[int]:
    """The rows of block ``part``, grouped by split (stable: manifest order per split)."""
    rows = select_part(range(len(manifest)), part)
    rows.sort(key=lambda r: manifest.rows[r].split or "")
    return rows


def check_kept(infos: list[ShardInfo], part: tuple[int, int], report: ItemReport, manifest: Manifest,
               given: Any) -> str | None:
    """Raise ``DataError`` when a whole manifest gave no clip; the manifest path for the index."""
    if not infos and part == WHOLE:
        raise DataError(f"no usable clip to shard ({report.summary()}; {report.explain_none_kept()})",
                        str(getattr(manifest, "source", None) or given))
    source = manifest.source if manifest.source is not None else given
    return str(source) if isinstance(source, str | Path) else None


def write_clips(
    out: str | Path,
    shard_size: int,
    part: tuple[int, int],
    clips: Iterable[tuple[dict[str, Any], str | None]],
    index_of: Callable[[list[ShardInfo]], ShardIndex],
) -> ShardIndex:
    """Write ``clips`` (``(tar record, split)``) as shards, then the index ``index_of(shards)``,
    atomically into ``out`` (module docstring)."""
    out = Path(out)
    index_name = part_path(INDEX_NAME, part).name
    tmp = out.parent / f".{out.name}{part_suffix(part)}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        sink = ShardSink(tmp, shard_size, f"shard{part_suffix(part)}")
        for record, split in clips:
            sink.write(record, split)
        index = index_of(sink.close())
        save_json(tmp / index_name, index.to_dict())
        _commit(tmp, out, index_name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return index


def merge_shard_parts(out: str | Path, parts: Sequence[str | Path] | None = None) -> ShardIndex:
    """Join the part indexes in ``out`` (``shards.partIofN.json``, parts ``1..N`` all
    there) into ``out/shards.json``; the shards stay where they are.

    Raises:
        DataError: a missing or repeated part, or parts written with other options.
    """
    out = Path(out)
    paths = order_parts(parts if parts is not None else sorted(out.glob("shards.part*of*.json")))
    first = _read_part(paths[0])
    merged = dict(first, shards=[], report={})
    counts: dict[str, int] = {}
    for path in paths:
        d = _read_part(path)
        for key in ("layout", "dims", "normalize", "trim_empty", "classes", "kind", "video"):
            if d.get(key) != first.get(key):
                raise DataError(f"{key} differs from part 1's ({d[key]!r} vs {first[key]!r}): "
                                "shard every part with the same options", path)
        merged["shards"].extend(d["shards"])
        for k, n in d.get("report", {}).get("counts", {}).items():
            counts[k] = counts.get(k, 0) + n
    merged["report"] = {"counts": counts}
    merged["count"] = sum(s["count"] for s in merged["shards"])
    save_json(out / INDEX_NAME, merged)
    return ShardIndex.read(out)


def _read_part(path: str | Path) -> dict[str, Any]:
    try:
        d = json.loads(Path(path).read_text())
        for key in ("layout", "dims", "normalize", "trim_empty", "classes", "shards"):
            d[key]  # noqa: B018 (present)
        return d
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(f"unreadable part index ({type(e).__name__}: {e}); re-run its `signssl shard "
                        "--part`", path) from None
