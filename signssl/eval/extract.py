"""Window features of a manifest on disk: one window sequence per row.

:func:`extract_window_features` (``signssl extract-features``) writes one ``(N_windows,
D)`` float32 ``.npy`` per row, for downstream translation models, into ``OUT``::

    OUT/<row path without suffix>[_f<start>-<end>].npy   window i starts at frame i * stride
    OUT/index.csv        path, output, n_windows, fps, window, stride, start, end, label, signer
    OUT/report.json      counts (written, skipped as already done, failed by reason), speed
    OUT/extraction.json  encoder and window settings; a rerun with other settings is refused

Outputs are written atomically and an existing one is skipped, so an interrupted job is
resumed by running it again.  A row outside the manifest's folder is written under
``OUT/_external/<hash>_<name>``.  Unreadable rows are skipped and counted.

Rows are read as window batches by :class:`~signssl.eval.window_reader.WindowReader`;
one pooled vector per row is :mod:`signssl.eval.pooled`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.parts import WHOLE, part_path, select_part
from signssl.data.report import ItemReport
from signssl.errors import ConfigError, DataError
from signssl.eval.window_reader import ClipInput, WindowReader, default_window, error_reason
from signssl.eval.windows import DEFAULT_STRIDE, WindowEmbedder
from signssl.models.base import Encoder
from signssl.store.model import load_described_model
from signssl.utils import (
    LOCK_FILE,
    atomic_path,
    atomic_write_text,
    folder_lock,
    json_ready,
    progress_bar,
    save_json,
)

INDEX_FILE, REPORT_FILE, SETTINGS_FILE = "index.csv", "report.json", "extraction.json"
INDEX_COLUMNS = (
    "path",
    "output",
    "n_windows",
    "fps",
    "window",
    "stride",
    "start",
    "end",
    "label",
    "signer",
)
EXTERNAL_DIR = "_external"
DUPLICATE = "duplicate row"

# ----------------------------------------------------------------------------- extraction


@dataclass
class ExtractionReport:
    """What :func:`extract_window_features` did.

    Attributes:
        out_dir: the output folder.
        rows: manifest rows seen.
        written: outputs written by this run.
        skipped_existing: outputs already there (left untouched).
        windows_written: windows embedded by this run.
        seconds: wall time of this run.
        problems: rows that could not be used, by reason.
    """

    out_dir: Path
    rows: int = 0
    written: int = 0
    skipped_existing: int = 0
    windows_written: int = 0
    seconds: float = 0.0
    problems: ItemReport = field(default_factory=ItemReport)

    @property
    def failed(self) -> int:
        return self.problems.num_problems

    @property
    def windows_per_second(self) -> float:
        return self.windows_written / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "rows": self.rows,
            "written": self.written,
            "skipped_existing": self.skipped_existing,
            "failed": self.failed,
            "windows_written": self.windows_written,
            "seconds": round(self.seconds, 3),
            "windows_per_second": round(self.windows_per_second, 3),
            "problems": self.problems.to_dict(),
        }

    def summary(self) -> str:
        return (
            f"{self.rows} rows: {self.written} written, {self.skipped_existing} already "
            f"done, {self.failed} failed; {self.windows_written} windows in "
            f"{self.seconds:.1f} s ({self.windows_per_second:.1f} windows/s)"
        )


def output_name(manifest: Manifest, row: ManifestRow) -> str:
    """Output file of a row, relative to the output folder (module docstring).

    >>> output_name(Manifest([], "/data"), ManifestRow("a/b.mp4", start=3, end=40))
    'a/b_f3-40.npy'
    """
    p = Path(row.path)
    rel: Path | None = None
    if not p.is_absolute():
        rel = p
    elif manifest.root is not None:
        try:
            rel = p.relative_to(Path(manifest.root).resolve())
        except ValueError:
            rel = None
    if rel is None or ".." in rel.parts:
        digest = hashlib.sha1(str(p).encode("utf-8")).hexdigest()[:10]
        rel = Path(EXTERNAL_DIR) / f"{digest}_{p.name}"
    stem = rel.with_suffix("").as_posix()
    if row.start is not None or row.end is not None:
        stem += f"_f{'' if row.start is None else row.start}-{'' if row.end is None else row.end}"
    return stem + ".npy"


def _settings(
    checkpoint: str, model: str, encoder: Encoder, window: int, stride: int, clip_input: ClipInput
) -> dict[str, Any]:
    return {
        "checkpoint": checkpoint,
        "model": model,
        "out_dim": int(encoder.out_dim),
        "window": window,
        "stride": stride,
        "input": asdict(clip_input),
    }


def _check_settings(out_dir: Path, settings: dict[str, Any]) -> None:
    """Refuse to resume an output folder made with other settings."""
    import json

    path = out_dir / SETTINGS_FILE
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataError(
            "cannot read the settings of the previous extraction; delete the file to start over",
            path,
        ) from None
    keys = ("model", "out_dim", "window", "stride", "input", "checkpoint")
    changed = [k for k in keys if json.dumps(old.get(k)) != json.dumps(json_ready(settings.get(k)))]
    if changed:
        raise ConfigError(
            f"{path}: this folder holds features made with other settings ({', '.join(changed)} "
            "differ); choose another --out folder or delete it"
        )


def _read_index(path: Path) -> dict[str, dict[str, str]]:
    """Previous ``index.csv`` entries by output file (empty when there is none)."""
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {r["output"]: r for r in csv.DictReader(f) if r.get("output")}


def _write_index(path: Path, entries: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(INDEX_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({k: "" if e.get(k) is None else e[k] for k in INDEX_COLUMNS})
    atomic_write_text(path, buf.getvalue())


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def extract_window_features(
    embedder: WindowEmbedder,
    reader: WindowReader,
    out_dir: str | Path,
    settings: dict[str, Any] | None = None,
    progress: bool = True,
    part: tuple[int, int] = WHOLE,
) -> ExtractionReport:
    """Write one ``(N_windows, D)`` float32 ``.npy`` per row of ``reader`` (module docstring).

    Existing outputs are skipped (resume); ``index.csv`` and ``report.json`` are rewritten
    at the end, also when the job is interrupted.  ``settings`` are stored in
    ``extraction.json``; a folder made with different settings raises :class:`ConfigError`.
    One job writes a folder at a time (:func:`signssl.utils.folder_lock`); ``part`` names a
    ``--part I/N`` job part (``reader`` holds its rows), which writes ``index.partIofN.csv``
    and ``report.partIofN.json`` under a lock of its own, so the parts share the folder.
    """
    with folder_lock(out_dir, "feature extraction", part_path(LOCK_FILE, part).name):
        return _extract_window_features(embedder, reader, Path(out_dir), settings, progress, part)


def _extract_window_features(
    embedder: WindowEmbedder,
    reader: WindowReader,
    out: Path,
    settings: dict[str, Any] | None,
    progress: bool,
    part: tuple[int, int] = WHOLE,
) -> ExtractionReport:
    if settings is not None:
        _check_settings(out, settings)
        save_json(out / SETTINGS_FILE, settings)
    index, report_file = part_path(out / INDEX_FILE, part), part_path(out / REPORT_FILE, part)
    old_index = _read_index(index)
    rep = ExtractionReport(out)
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    t0 = time.perf_counter()
    bar = progress_bar(range(len(reader)), desc="extract features", unit="video", disable=not progress)
    try:
        for row_index in bar:
            rep.rows += 1
            entry = _extract_row(embedder, reader, row_index, out, old_index, seen, rep)
            if entry is not None:
                entries.append(entry)
            bar.set_postfix(windows=rep.windows_written, failed=rep.failed, refresh=False)
    finally:
        rep.seconds = time.perf_counter() - t0
        rep.problems.kept = rep.written + rep.skipped_existing
        # rows not reached (an interrupted job) keep their entries from the previous run
        done = {e["output"] for e in entries}
        kept = [e for name, e in old_index.items() if name not in done and (out / name).is_file()]
        _write_index(index, entries + kept)
        save_json(report_file, {**rep.to_dict(), "settings": settings or {}})
    return rep


def _extract_row(
    embedder: WindowEmbedder,
    reader: WindowReader,
    row_index: int,
    out: Path,
    old_index: dict[str, dict[str, str]],
    seen: set[str],
    rep: ExtractionReport,
) -> dict[str, Any] | None:
    """Extract (or skip) one row; returns its ``index.csv`` entry, ``None`` when it failed."""
    row, path = reader.row(row_index), reader.path(row_index)
    name = output_name(reader.manifest, row)
    entry: dict[str, Any] = {
        "path": str(path),
        "output": name,
        "window": reader.window,
        "stride": reader.stride,
        "start": row.start,
        "end": row.end,
        "label": row.label or "",
        "signer": row.signer or "",
    }
    if name in seen:
        rep.problems.add(DUPLICATE, str(path), f"a previous row already writes {name}")
        return None
    seen.add(name)
    target = out / name
    try:
        if target.is_file():
            entry["n_windows"] = _existing_windows(target)
            previous = old_index.get(name, {})
            entry["fps"] = previous.get("fps") or _fps_text(reader.fps(row_index))
            rep.skipped_existing += 1
            return entry
        z, _ = embedder.embed_batches(reader.batches(row_index))
        entry["fps"] = _fps_text(reader.fps(row_index))
    except DataError as e:  # a bad row; configuration errors (ConfigError) stop the job
        rep.problems.add(error_reason(e), str(path), str(e))
        return None
    _save_npy(target, z.numpy().astype(np.float32, copy=False))  # (N_windows, D)
    entry["n_windows"] = int(z.shape[0])
    rep.written += 1
    rep.windows_written += int(z.shape[0])
    return entry


def _existing_windows(target: Path) -> int:
    """Window count of a finished output (``DataError`` when it cannot be read)."""
    try:
        return int(np.load(target, mmap_mode="r").shape[0])
    except (OSError, ValueError) as e:
        raise DataError(
            f"existing output is damaged ({e}); delete it to redo the row", target
        ) from None


def _fps_text(fps: float) -> str:
    return f"{fps:g}"


def extract_run_features(
    checkpoint: str | Path,
    manifest: str | Path,
    out_dir: str | Path,
    window: int | None = None,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 64,
    split: str | None = None,
    device: str | None = None,
    progress: bool = True,
    part: tuple[int, int] = WHOLE,
) -> ExtractionReport:
    """``signssl extract-features``: a run's encoder over a manifest (module docstring);
    ``part``: only these rows of the manifest (``--part I/N``, :mod:`signssl.data.parts`)."""
    m = Manifest.read(manifest)
    rows = Manifest(select_part(m.rows, part), m.root, m.source)
    rows = rows.filter(split=split) if split is not None else rows
    if len(rows) == 0 and part == WHOLE:
        raise DataError(f"no row{f' of split {split!r}' if split else ''} to extract", manifest)
    encoder, description = load_described_model(checkpoint)
    clip_input = ClipInput.of_description(description, encoder)
    embedder = WindowEmbedder(
        encoder, default_window(encoder, window), stride, "avg", None, batch_size, device
    )
    reader = WindowReader(rows, clip_input, embedder.window, stride, batch_size, classes=m.labels())
    settings = _settings(
        str(Path(checkpoint).resolve()), description.name, encoder, embedder.window, stride,
        clip_input,
    )
    return extract_window_features(embedder, reader, out_dir, settings, progress, part)
