"""Priors and bone lengths for every row of a pose manifest (``signssl priors`` /
``signssl bone-lengths``).

:func:`precompute_priors` writes, under ``out_dir``:

* one ``.npz`` per row (:meth:`Priors.save`), at the row's path with its pose suffix
  replaced by ``.npz`` (``poses/a/b.pose`` -> ``poses/a/b.npz``), plus ``.<start>-<end>``
  before the suffix when the row has a frame range; rows whose path is absolute or
  leaves the manifest folder go to ``_abs/<hash>_<name>.npz``;
* ``index.csv``: the manifest of the rows that have priors, with an extra column
  ``priors`` (the ``.npz`` path, relative to ``out_dir``);
* ``priors_config.json``: the settings and bone lengths used; a later run on the same
  folder must use the same ones (or ``overwrite``), so kept files never mix settings;
* ``priors_report.json``: counts (computed, kept, failed) and the failures' messages.

The job is resumable: existing outputs are kept, and the hidden temporaries a killed job
left are deleted (:func:`signssl.utils.remove_stale_temporaries`); one job writes a folder
at a time (:func:`signssl.utils.folder_lock`).  Bad rows (unreadable, empty frame range,
no detected joint, a layout without hands) are skipped and counted.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from signssl.data.loading import apply_frame_range, read_sample, require_present
from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.parts import WHOLE, part_path, select_part
from signssl.data.report import ItemReport
from signssl.errors import ConfigError, DataError, SignSSLError
from signssl.pose.sequence import PoseSequence
from signssl.priors.bones import BoneLengthAccumulator, BoneLengths, as_bone_lengths
from signssl.priors.compute import compute_priors, compute_priors_batch
from signssl.priors.families import ACTIVITY_THRESHOLD, ACTIVITY_WINDOW
from signssl.priors.joints import MIN_CONF
from signssl.utils import (
    LOCK_FILE,
    folder_lock,
    json_ready,
    progress_bar,
    remove_stale_temporaries,
    save_json,
)

REPORT_NAME = "priors_report.json"
INDEX_NAME = "index.csv"
CONFIG_NAME = "priors_config.json"
PRIORS_COLUMN = "priors"
_POSE_SUFFIXES = (".pose", ".npz", ".npy", ".parquet", ".json")


def priors_relpath(manifest: Manifest, row: ManifestRow) -> str:
    """Output path of a row's priors, relative to the output folder (module docstring)."""
    rel = PurePosixPath(Path(row.path).as_posix())
    if rel.is_absolute() or ".." in rel.parts:
        full = str(manifest.resolve(row))
        digest = hashlib.sha1(full.encode()).hexdigest()[:12]
        rel = PurePosixPath("_abs") / f"{digest}_{PurePosixPath(full).name}"
    if rel.suffix.lower() in _POSE_SUFFIXES:
        rel = rel.with_suffix("")
    span = ""
    if row.start is not None or row.end is not None:
        span = f".{row.start or 0}-{row.end if row.end is not None else 'end'}"
    return f"{rel}{span}.npz"


@dataclass(frozen=True)
class PriorSettings:
    """What a priors folder was computed with (``priors_config.json``)."""

    min_conf: float = MIN_CONF
    image_aspect: float = 1.0
    activity_window: int | None = ACTIVITY_WINDOW
    activity_threshold: float = ACTIVITY_THRESHOLD


@dataclass
class PriorsReport:
    """Outcome of :func:`precompute_priors`; ``errors`` maps a sample to its message."""

    total: int = 0
    computed: int = 0
    kept: int = 0
    failed: int = 0
    frames: int = 0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Job:
    path: str
    start: int | None
    end: int | None
    out: str


@dataclass(frozen=True)
class _Result:
    path: str
    status: str  # computed | kept | failed
    frames: int = 0
    error: str = ""


def _read(path: str | Path, start: int | None, end: int | None) -> PoseSequence:
    """Frames ``[start, end)`` of a sample; raises ``SampleError`` (unreadable, empty,
    all missing)."""
    p = Path(path)
    row = ManifestRow(str(p), start=start, end=end)
    return require_present(apply_frame_range(read_sample(p), row, p), p)


def _name(job: _Job) -> str:
    """How a sample is named in the report: its path, plus its frame range if any."""
    if job.start is None and job.end is None:
        return job.path
    return f"{job.path}[{job.start or 0}:{job.end if job.end is not None else ''}]"


def _run_chunk(args: tuple[list[_Job], BoneLengths, PriorSettings, bool]) -> list[_Result]:
    """Read the chunk's samples, compute their priors in one batch, save each."""
    jobs, lengths, settings, overwrite = args
    results: dict[int, _Result] = {}
    todo: list[tuple[int, PoseSequence]] = []
    for k, job in enumerate(jobs):
        if Path(job.out).exists() and not overwrite:
            results[k] = _Result(_name(job), "kept")
            continue
        try:
            todo.append((k, _read(job.path, job.start, job.end)))
        except SignSSLError as e:
            results[k] = _Result(_name(job), "failed", error=str(e))
    options = {
        "min_conf": settings.min_conf,
        "image_aspect": settings.image_aspect,
        "activity_window": settings.activity_window,
        "activity_threshold": settings.activity_threshold,
    }
    try:
        batch = compute_priors_batch([seq for _, seq in todo], lengths, **options)
    except Exception:  # one bad sample (e.g. a layout without hands): go one by one
        batch = []
    for n, (k, seq) in enumerate(todo):
        job = jobs[k]
        try:
            pri = batch[n] if batch else compute_priors(seq, lengths, **options)
            pri.save(job.out)
        except SignSSLError as e:
            results[k] = _Result(_name(job), "failed", error=str(e))
        except Exception as e:  # a corrupt sample must not stop a bulk job
            results[k] = _Result(_name(job), "failed", error=f"{type(e).__name__}: {e}")
        else:
            results[k] = _Result(_name(job), "computed", pri.num_frames)
    return [results[k] for k in range(len(jobs))]


def _chunks(items: list[_Job], n: int) -> Iterator[list[_Job]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _check_config(out: Path, config: dict, overwrite: bool) -> None:
    p = out / CONFIG_NAME
    if p.is_file() and not overwrite:
        try:
            old = json.loads(p.read_text())
        except json.JSONDecodeError:
            old = None
        if old != json.loads(json.dumps(json_ready(config))):
            raise ConfigError(
                f"{out} holds priors computed with other settings or bone lengths (see "
                f"{p}); use a new output folder, the same settings, or overwrite=True "
                "(--overwrite) to recompute every file"
            )
    save_json(p, config)


def precompute_priors(
    manifest: Manifest | str | Path,
    out_dir: str | Path,
    bone_lengths: BoneLengths | str | Path | None = None,
    *,
    settings: PriorSettings | None = None,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    part: tuple[int, int] = WHOLE,
) -> PriorsReport:
    """Compute and save the priors of every manifest row (module docstring).

    Args:
        manifest: a :class:`Manifest` or a manifest CSV path.
        out_dir: output folder (created).
        bone_lengths: standard lengths or their JSON path; ``None`` = built-in defaults.
        settings: :func:`compute_priors` options.
        workers: processes (1 = this one); the outputs do not depend on it.
        overwrite: recompute existing outputs (and accept new settings).
        progress: show a progress bar.
        part: only these rows (``--part I/N``, :mod:`signssl.data.parts`); the part writes
            ``index.partIofN.csv`` and its report, and holds a lock of its own, so the
            parts of one job share ``out_dir``.
    Raises:
        ConfigError: ``workers`` < 1, or the folder holds priors made with other settings.
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    man = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
    lengths = as_bone_lengths(bone_lengths)
    settings = settings or PriorSettings()
    out = Path(out_dir)
    index, report_file = part_path(out / INDEX_NAME, part), part_path(out / REPORT_NAME, part)
    lock = part_path(LOCK_FILE, part).name
    with folder_lock(out, "priors job", lock):  # one job (or job part) per output folder
        _check_config(out, {"settings": asdict(settings), "bone_lengths": lengths.to_dict()}, overwrite)
        t0 = time.perf_counter()
        rel = [priors_relpath(man, r) for r in man]
        jobs = [
            _Job(str(man.resolve(r)), r.start, r.end, str(out / p))
            for r, p in zip(man, rel, strict=True)
        ]
        unique = list({j.out: j for j in jobs}.values())  # rows repeating a sample share a file
        clash = len({(j.path, j.start, j.end) for j in jobs}) - len(unique)
        if clash:
            seen: dict[str, _Job] = {}
            for j in jobs:
                other = seen.setdefault(j.out, j)
                if (other.path, other.start, other.end) != (j.path, j.start, j.end):
                    raise DataError(
                        f"samples {_name(other)} and {_name(j)} would both write "
                        f"{j.out}; rename one of the files (the priors file name drops the "
                        "pose suffix)"
                    )
        picked = select_part(list(zip(man, rel, jobs, strict=True)), part)  # checked whole
        unique = list({j.out: j for _, _, j in picked}.values())
        shared = [out / CONFIG_NAME] if part == WHOLE else []  # other parts may be writing it
        # temporaries a killed run left (the lock is held: none is a live writer's)
        remove_stale_temporaries([*(j.out for j in unique), index, report_file, *shared])
        results: dict[str, _Result] = {}
        bar = progress_bar(total=len(unique), desc="priors", unit="seq", disable=not progress)
        chunk = max(1, min(64, len(unique) // (4 * workers) or 1))
        args = ((c, lengths, settings, overwrite) for c in _chunks(unique, chunk))
        if workers == 1:
            batches: Iterator[list[_Result]] = map(_run_chunk, args)
            for batch, c in zip(batches, _chunks(unique, chunk), strict=True):
                results.update({j.out: r for j, r in zip(c, batch, strict=True)})
                bar.update(len(batch))
        else:
            with ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or 1)) as pool:
                for batch, c in zip(pool.map(_run_chunk, args), _chunks(unique, chunk), strict=True):
                    results.update({j.out: r for j, r in zip(c, batch, strict=True)})
                    bar.update(len(batch))
        bar.close()
        report = PriorsReport(total=len(unique))
        for r in results.values():
            if r.status == "failed":
                report.failed += 1
                report.errors[r.path] = r.error
            elif r.status == "kept":
                report.kept += 1
            else:
                report.computed += 1
                report.frames += r.frames
        rows = []
        for row, p, job in picked:
            if results[job.out].status != "failed":
                extra = {**row.extra, PRIORS_COLUMN: p}
                rows.append(
                    ManifestRow(job.path, row.label, row.signer, row.split, row.start, row.end, extra)
                )
        Manifest(rows, root=man.root).write(index)
        report.seconds = round(time.perf_counter() - t0, 3)
        save_json(report_file, report.to_dict())
        return report


def dataset_bone_lengths(
    manifest: Manifest | str | Path,
    *,
    min_conf: float = MIN_CONF,
    image_aspect: float = 1.0,
    progress: bool = True,
) -> tuple[BoneLengths, ItemReport]:
    """Dataset medians of every bone over the rows of ``manifest`` (docs/methods.md#signrep-priors).

    Returns:
        the :class:`BoneLengths` (``source`` = the manifest) and an :class:`ItemReport`
        (``kept`` = sequences measured; problems by reason, e.g. ``unreadable``).
    Raises:
        DataError: no row could be measured.
    """
    man = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
    acc = BoneLengthAccumulator(min_conf, image_aspect)
    report = ItemReport()
    for row in progress_bar(man, desc="bone lengths", unit="seq", disable=not progress):
        try:
            acc.add(_read(man.resolve(row), row.start, row.end))
        except SignSSLError as e:
            report.add(getattr(e, "reason", "unusable"), str(man.resolve(row)), str(e))
            continue
        report.kept += 1
    if report.kept == 0:
        first = next(iter(report.problems.values()), [("-", "-")])[0][1]
        raise DataError(
            f"no row of the manifest could be measured ({report.num_problems} unusable; "
            f"first: {first})",
            manifest if not isinstance(manifest, Manifest) else None,
        )
    source = str(manifest) if not isinstance(manifest, Manifest) else str(man.root)
    return acc.result(source), report
