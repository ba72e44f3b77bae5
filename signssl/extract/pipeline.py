"""Videos -> ``.pose`` files: parallel, resumable, with a report of what failed.

:func:`extract_poses` takes a folder of videos (searched recursively), a video
manifest CSV (or :class:`~signssl.data.Manifest`), or one video file, and writes

* one ``.pose`` file per video under ``out_dir`` (the video's path relative to the
  folder or manifest, with ``.pose``; videos outside the manifest's folder go to
  ``out_dir/_external/<hash>_<name>.pose``).  Whole videos are extracted, so pose frame
  ``i`` is video frame ``i`` and a manifest's ``start`` / ``end`` apply unchanged;
* ``manifest.csv``: the input rows with ``path`` = the pose file, plus a ``video``
  column (rows of failed videos are left out);
* ``videos.csv``: the input rows with a ``pose_path`` column, for
  :class:`~signssl.data.video.VideoDataset` with ``with_pose=True``;
* ``extract_report.json``: counts, frames per second and every failure with its message.

Resuming
    Every ``.pose`` file is written atomically, so a file that exists is complete; a
    rerun skips those (``overwrite=False``) and does only what is missing, including
    the videos that failed before.  A killed job leaves at most hidden temporaries
    (``.<name>.*.tmp.pose``), removed by the next run.  A lock file
    (``out_dir/.extract.lock``) stops two jobs writing to one folder at once.

Parallelism
    ``workers > 1`` runs videos in worker processes (``forkserver`` where available,
    else ``spawn``; not ``fork``, which crashes once MediaPipe has run in the parent),
    each building its own estimator once.  Workers end within a fraction of a second
    when the main process dies, even by SIGKILL (:func:`~signssl.extract.worker.init_worker`).
    ``workers == 1`` runs in the calling process.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.parts import WHOLE, part_bounds, part_path
from signssl.data.samples import VIDEO_EXTENSIONS, is_hidden, natural_key
from signssl.errors import ConfigError, DataError, SignSSLError
from signssl.extract.estimator import EstimatorFactory, resolve_estimator
from signssl.extract.worker import (
    ExtractTask,
    TaskResult,
    init_worker,
    run_task,
    worker_task,
)
from signssl.utils import folder_lock, progress_bar, remove_stale_temporaries, save_json

if TYPE_CHECKING:  # the data package imports torch: worker processes must not need it
    from signssl.data.manifest import Manifest

REPORT_NAME = "extract_report.json"
MANIFEST_NAME = "manifest.csv"
VIDEO_MANIFEST_NAME = "videos.csv"
LOCK_NAME = ".extract.lock"
#: extra manifest columns written by extraction
VIDEO_COLUMN, POSE_COLUMN = "video", "pose_path"
_MAX_POOL_RESTARTS = 3


@dataclass
class ExtractReport:
    """Outcome of :func:`extract_poses` (also written to ``extract_report.json``).

    Attributes:
        extracted: videos extracted by this run.
        skipped_existing: videos whose ``.pose`` file already existed (not redone).
        errors: video -> message, for every video that failed in this run.
        frames: frames processed by this run.
        seconds: wall time of the extraction part of this run.
        manifest: the pose manifest written (``None`` when nothing succeeded).
    """

    extracted: int = 0
    skipped_existing: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    frames: int = 0
    seconds: float = 0.0
    manifest: str | None = None
    video_manifest: str | None = None

    @property
    def failed(self) -> int:
        return len(self.errors)

    @property
    def total(self) -> int:
        return self.extracted + self.skipped_existing + self.failed

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total, "extracted": self.extracted,
            "skipped_existing": self.skipped_existing, "failed": self.failed,
            "frames": self.frames, "seconds": round(self.seconds, 3),
            "frames_per_second": round(self.frames_per_second, 2),
            "manifest": self.manifest, "video_manifest": self.video_manifest,
            "errors": self.errors,
        }

    def summary(self) -> str:
        return (f"{self.total} videos: extracted {self.extracted}, kept existing "
                f"{self.skipped_existing}, failed {self.failed}; {self.frames} frames in "
                f"{self.seconds:.1f} s ({self.frames_per_second:.1f} frames/s)")


# ----------------------------------------------------------------------------- planning

@dataclass(frozen=True)
class ExtractPlan:
    """The rows to carry into the output manifests and one task per distinct video.

    ``outputs[i]`` is the ``.pose`` path of ``manifest.rows[i]``.
    """

    manifest: Manifest
    videos: list[str]
    outputs: list[str]
    tasks: list[ExtractTask]
    shared: frozenset[str] = frozenset()  # videos that rows of other --part parts name too


def _list_videos(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted((d for d in dirnames if not d.startswith((".", "_"))), key=natural_key)
        for name in sorted(filenames, key=natural_key):
            p = Path(dirpath) / name
            if p.suffix.lower() in VIDEO_EXTENSIONS and not is_hidden(p):
                found.append(p)
    return found


def _source_manifest(source: str | Path | Manifest) -> Manifest:
    if isinstance(source, Manifest):
        return source
    src = Path(source)
    if not src.exists():
        raise DataError("does not exist; give a folder of videos, a manifest CSV or a video", src)
    if src.is_dir():
        videos = _list_videos(src)
        if not videos:
            raise DataError(f"holds no video files ({', '.join(VIDEO_EXTENSIONS)}), "
                            "searched recursively", src)
        root = Path(os.path.abspath(src))
        return Manifest([ManifestRow(v.relative_to(src).as_posix()) for v in videos], root)
    if src.suffix.lower() == ".csv":
        return Manifest.read(src)
    if src.suffix.lower() in VIDEO_EXTENSIONS:
        return Manifest([ManifestRow(src.name)], Path(os.path.abspath(src.parent)))
    raise DataError(f"is neither a folder, a manifest .csv nor a video "
                    f"({', '.join(VIDEO_EXTENSIONS)})", src)


def _output_for(video: Path, root: Path, out_dir: Path) -> Path:
    if video.is_relative_to(root):
        return out_dir / video.relative_to(root).with_suffix(".pose")
    digest = hashlib.sha1(str(video).encode()).hexdigest()[:8]
    return out_dir / "_external" / f"{digest}_{video.stem}.pose"


def plan_extraction(source: str | Path | Manifest, out_dir: str | Path) -> ExtractPlan:
    """Map every video of ``source`` to its ``.pose`` file under ``out_dir``.

    Rows naming the same video share one task.  Two videos that would get the same
    output name (``a.mp4`` and ``a.mov``) keep their extension: ``a.mov.pose``.
    """
    manifest = _source_manifest(source)
    if len(manifest) == 0:
        raise DataError("the manifest has no rows; nothing to extract",
                        source if isinstance(source, (str, Path)) else None)
    out = Path(os.path.abspath(out_dir))
    root = manifest.root if manifest.root is not None else Path.cwd()
    by_video: dict[str, str] = {}
    taken: dict[str, str] = {}
    videos, outputs = [], []
    for row in manifest.rows:
        video = manifest.resolve(row)
        key = str(video)
        if key not in by_video:
            target = _output_for(video, Path(os.path.abspath(root)), out)
            if str(target) in taken:
                target = target.with_name(video.name + ".pose")
            taken[str(target)] = key
            by_video[key] = str(target)
        videos.append(key)
        outputs.append(by_video[key])
    tasks = [ExtractTask(v, o) for v, o in by_video.items()]
    return ExtractPlan(manifest, videos, outputs, tasks)


# ----------------------------------------------------------------------------- running

def _run_here(tasks: list[ExtractTask], factory: EstimatorFactory) -> Iterator[TaskResult]:
    try:
        estimator = factory()
    except SignSSLError:
        raise
    except Exception as e:
        raise ConfigError(f"the pose estimator could not be built: {type(e).__name__}: {e}") from e
    try:
        for task in tasks:
            yield run_task(task, estimator)
    finally:
        estimator.close()


def _run_pool(
    tasks: list[ExtractTask], factory: EstimatorFactory, workers: int, start_method: str
) -> Iterator[TaskResult]:
    """Results as they complete; at most ``2 * workers`` tasks are in flight, so a
    crashed worker loses only those (they are reported as failed)."""
    ctx = multiprocessing.get_context(start_method)
    todo = list(reversed(tasks))
    restarts = 0
    while todo:
        pool = cf.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=init_worker,
            initargs=(factory, os.getpid()),
        )
        pending: dict[cf.Future, ExtractTask] = {}
        broken = False
        try:
            while todo or pending:
                while todo and len(pending) < 2 * workers and not broken:
                    task = todo.pop()
                    pending[pool.submit(worker_task, task)] = task
                if not pending:
                    break
                done, _ = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in done:
                    task = pending.pop(fut)
                    try:
                        yield fut.result()
                    except cf.process.BrokenProcessPool:
                        broken = True
                        yield TaskResult(task, error="the worker process died while extracting "
                                                     "it (out of memory, or a crash in the pose "
                                                     "estimator)")
                if broken and not pending:
                    break
        except BaseException:  # interrupted, or the caller stopped: stop the workers too
            _terminate(pool)
            raise
        pool.shutdown(wait=True)
        if broken:
            restarts += 1
            if restarts > _MAX_POOL_RESTARTS:
                for task in reversed(todo):
                    yield TaskResult(task, error="not attempted: worker processes kept dying")
                return


def _terminate(pool: cf.ProcessPoolExecutor) -> None:
    """Cancel what is queued and kill the workers (their unfinished files are
    temporaries, removed by the next run)."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.kill()


def _default_start_method() -> str:
    # not "fork": a process that has run MediaPipe (or torch) cannot be forked safely
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def extract_poses(
    source: str | Path | Manifest,
    out_dir: str | Path,
    estimator: str | Callable[..., Any] = "holistic",
    estimator_kwargs: dict[str, Any] | None = None,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    start_method: str | None = None,
    part: tuple[int, int] = (1, 1),
) -> ExtractReport:
    """Extract poses from every video of ``source`` into ``out_dir`` (module docstring).

    Args:
        source: a folder of videos, a video manifest CSV / :class:`Manifest`, or a video.
        out_dir: output folder (created).
        estimator: ``"holistic"``, ``"package.module:attribute"`` or a callable returning
            a :class:`~signssl.extract.estimator.PoseEstimator` (picklable for
            ``workers > 1`` with ``spawn``).
        estimator_kwargs: constructor arguments (e.g. ``{"refine_face": True}``).
        workers: processes; 1 = in this process.
        overwrite: redo videos whose ``.pose`` file exists.
        progress: show a progress bar.
        start_method: multiprocessing start method (default ``forkserver``, else ``spawn``).
        part: only these rows of the source (``--part I/N``, :mod:`signssl.data.parts`),
            named as in the whole job; the part writes ``manifest.partIofN.csv``,
            ``videos.partIofN.csv`` and its report under a lock of its own, so the parts
            share ``out_dir`` (a video named by rows of two parts is extracted by both,
            each writing the same file atomically; neither removes its temporaries).
    Returns:
        the :class:`ExtractReport` (also saved as ``out_dir/extract_report.json``).
    Raises:
        MissingExtraError: ``holistic`` without the ``[mediapipe]`` extra.
        ConfigError / DataError: bad arguments, no videos, another job holds the folder,
            or the estimator cannot be built.
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    out = Path(os.path.abspath(out_dir))
    factory = resolve_estimator(estimator, **(estimator_kwargs or {}))

    plan = _plan_part(plan_extraction(source, out), part)
    report = ExtractReport()
    names = {n: part_path(out / n, part) for n in (REPORT_NAME, MANIFEST_NAME, VIDEO_MANIFEST_NAME)}
    with folder_lock(out, "pose extraction", part_path(LOCK_NAME, part).name):
        # temporaries a killed run left; not of videos another part may be writing now
        own = [t.output for t in plan.tasks if t.video not in plan.shared]
        remove_stale_temporaries([*own, *names.values()])
        todo = [t for t in plan.tasks if overwrite or not os.path.exists(t.output)]
        report.skipped_existing = len(plan.tasks) - len(todo)
        n_workers = max(1, min(workers, len(todo)))
        if not todo:
            results: Iterator[TaskResult] = iter(())
        elif n_workers == 1:
            results = _run_here(todo, factory)
        else:
            results = _run_pool(todo, factory, n_workers, start_method or _default_start_method())
        t0 = time.perf_counter()
        bar = progress_bar(total=len(todo), desc="extract poses", unit="video", disable=not progress)
        try:
            for res in results:
                if res.fatal:
                    raise ConfigError(res.error or "the pose estimator could not be built")
                if res.error is None:
                    report.extracted += 1
                    report.frames += res.frames
                else:
                    report.errors[res.task.video] = res.error
                report.seconds = time.perf_counter() - t0
                bar.update(1)
                bar.set_postfix(fps=f"{report.frames_per_second:.1f}", failed=report.failed)
        finally:
            bar.close()
            close = getattr(results, "close", None)
            if close is not None:
                close()
        report.seconds = time.perf_counter() - t0
        _write_manifests(plan, out, report, names, always=part != WHOLE)
        save_json(names[REPORT_NAME], report.to_dict())
    return report


def _plan_part(plan: ExtractPlan, part: tuple[int, int]) -> ExtractPlan:
    """The rows of ``part`` of ``plan`` and the tasks of their videos (names unchanged)."""
    if part == WHOLE:
        return plan
    start, stop = part_bounds(len(plan.manifest), part)
    videos = set(plan.videos[start:stop])
    others = set(plan.videos[:start]) | set(plan.videos[stop:])
    return ExtractPlan(plan.manifest[start:stop], plan.videos[start:stop],  # type: ignore[arg-type]
                       plan.outputs[start:stop], [t for t in plan.tasks if t.video in videos],
                       frozenset(videos & others))


def _write_manifests(plan: ExtractPlan, out: Path, report: ExtractReport,
                     names: dict[str, Path], always: bool = False) -> None:
    pose_rows, video_rows = [], []
    for row, video, output in zip(plan.manifest.rows, plan.videos, plan.outputs, strict=True):
        if not os.path.exists(output):
            continue
        base = {f.name: getattr(row, f.name) for f in fields(row) if f.name not in ("path", "extra")}
        extra = {k: v for k, v in row.extra.items() if k not in (VIDEO_COLUMN, POSE_COLUMN)}
        pose_rows.append(ManifestRow(path=output, **base,
                                     extra={**extra, VIDEO_COLUMN: _portable(video, out)}))
        video_rows.append(ManifestRow(path=video, **base,
                                      extra={**extra, POSE_COLUMN: _portable(output, out)}))
    if not pose_rows and not always:  # a job part writes its (empty) part manifests
        return
    Manifest(pose_rows).write(names[MANIFEST_NAME])
    Manifest(video_rows).write(names[VIDEO_MANIFEST_NAME])
    report.manifest = str(names[MANIFEST_NAME])
    report.video_manifest = str(names[VIDEO_MANIFEST_NAME])


def _portable(path: str, base: Path) -> str:
    p = Path(path)
    return p.relative_to(base).as_posix() if p.is_relative_to(base) else str(p)

