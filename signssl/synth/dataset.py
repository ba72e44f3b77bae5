"""Writing a synthetic data set: pose files, optional videos, a manifest and a report.

Layout of ``out_dir``::

    manifest.csv          one row per clip (signssl.data.Manifest columns + extras below)
    vocabulary.json       the sign classes and their minimal pairs
    signers.json          body proportions and handedness of every signer
    config.json           the generation arguments and SynthConfig
    report.json           counts: written, kept (already there), failed (+ messages)
    poses/<label>/<signer>_r<rep>.pose        (continuous: poses/continuous/...)
    videos/<label>/<signer>_r<rep>.mp4        (with video=True; or .npy frames)

Manifest extra columns: ``sign_start``, ``sign_end`` (frames [start, end) in which a hand
is away from rest), ``core_start``/``core_end`` (the sign's own movement, without the
transitions from and to rest), ``left_handed``, the phonological parameters of the class
(``hands``, ``handshape``, ``location``, ``movement``, ``direction``, ``plane``,
``orientation``, ``repeat``, ``handshape2``, ``location2``, ``passive_handshape``,
``passive_orientation``), the style ids (``style_background``, ``style_clothing``,
``style_skin``, ``style_lighting``), ``video`` (path of the video, if any) and ``seed``.
The standard ``start``/``end`` columns stay empty: the whole clip is the sample.
Continuous rows have no label; ``glosses``, ``core_starts`` and ``core_ends`` list the
signs in order (space-separated).

The job is resumable: files already present are kept (and counted), everything else is
regenerated deterministically from the seed.  One job writes a folder at a time
(:func:`signssl.utils.folder_lock`), and a rerun deletes the hidden temporaries a killed
job left (:func:`signssl.utils.remove_stale_temporaries`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signssl.data import Manifest, ManifestRow, signer_independent_split
from signssl.errors import ConfigError, DataError, SignSSLError
from signssl.io import write_pose
from signssl.io.video_write import write_video
from signssl.synth.config import SynthConfig
from signssl.synth.generate import SynthSample, render, synthesize
from signssl.synth.phonology import SignSpec, Vocabulary
from signssl.synth.skeleton import Signer
from signssl.utils import (
    atomic_path,
    folder_lock,
    progress_bar,
    remove_stale_temporaries,
    save_json,
)

POSE_FORMATS = ("pose", "npz")
VIDEO_FORMATS = ("mp4", "npy")


def derive_seed(*parts: int) -> int:
    """A 64-bit seed from integers (hash via ``numpy.random.SeedSequence``)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0])


def sample_signers(
    n: int, seed: int = 0, variation: float = 1.0, left_handed_fraction: float = 0.2
) -> list[Signer]:
    """``n`` signers ``signer00``...; ``round(left_handed_fraction * n)`` are left-handed."""
    if n < 1:
        raise ConfigError(f"need at least one signer, got {n}")
    rng = np.random.default_rng(derive_seed(seed, 424242))
    lefties = set(rng.permutation(n)[: int(round(left_handed_fraction * n))].tolist())
    width = max(2, len(str(n - 1)))
    return [
        Signer.sample(
            np.random.default_rng(derive_seed(seed, 31337, i)),
            f"signer{i:0{width}d}",
            left_handed=i in lefties,
            variation=variation,
        )
        for i in range(n)
    ]


def save_video(frames: np.ndarray, path: str | Path, fps: float = 30.0) -> Path:
    """Write ``(T, H, W, 3)`` uint8 frames atomically: ``.npy`` (raw frames) or a video file
    (``.mp4`` etc., H.264 via :func:`signssl.io.video.write_video`)."""
    p = Path(path)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(
            f"video frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}", p
        )
    if p.suffix.lower() == ".npy":
        with atomic_path(p) as tmp:
            np.save(tmp, frames)
        return p

    return write_video(p, frames, fps)


# ----------------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class _Job:
    specs: tuple[SignSpec, ...]
    signer: Signer
    rep: int
    seed: int
    pose_rel: str
    video_rel: str | None
    frames: int


@dataclass
class _Result:
    row: dict | None
    wrote: int = 0
    kept: int = 0
    error: str | None = None


@dataclass
class _Settings:
    out_dir: Path
    config: SynthConfig
    size: int
    fps: float


def _row(job: _Job, sample: SynthSample) -> dict:
    perf = sample.performance
    extra: dict[str, str] = {
        "sign_start": str(perf.sign_start),
        "sign_end": str(perf.sign_end),
        "left_handed": str(int(job.signer.left_handed)),
    }
    if len(job.specs) == 1:
        extra["core_start"], extra["core_end"] = (str(x) for x in perf.cores[0])
        extra.update(job.specs[0].params())
    else:
        extra["glosses"] = " ".join(s.name for s in job.specs)
        extra["core_starts"] = " ".join(str(a) for a, _ in perf.cores)
        extra["core_ends"] = " ".join(str(b) for _, b in perf.cores)
    extra.update({f"style_{k}": str(v) for k, v in sample.style.to_dict().items()})
    extra["video"] = job.video_rel or ""
    extra["seed"] = str(job.seed)
    return {"path": job.pose_rel, "label": sample.label, "signer": job.signer.id, "extra": extra}


def _run_job(job: _Job, st: _Settings) -> _Result:
    pose_path = st.out_dir / job.pose_rel
    try:
        sample = synthesize(
            list(job.specs), job.signer, job.seed, job.frames, st.config, source=job.pose_rel
        )
        res = _Result(_row(job, sample))

        if pose_path.is_file() and pose_path.stat().st_size > 0:
            res.kept += 1
        else:
            write_pose(sample.pose, pose_path)
            res.wrote += 1
        if job.video_rel is not None:
            vpath = st.out_dir / job.video_rel
            if vpath.is_file() and vpath.stat().st_size > 0:
                res.kept += 1
            else:
                save_video(render(sample, st.size), vpath, st.fps)
                res.wrote += 1
        return res
    except (SignSSLError, OSError) as e:
        return _Result(None, error=f"{job.pose_rel}: {e}")


def _run_chunk(args: tuple[list[_Job], _Settings]) -> list[_Result]:
    jobs, st = args
    return [_run_job(j, st) for j in jobs]


def _jobs(
    vocab: Vocabulary,
    signers: list[Signer],
    reps: int,
    frames: int,
    seed: int,
    continuous: bool,
    signs_per_sequence: int,
    pose_ext: str,
    video_ext: str | None,
) -> list[_Job]:
    jobs: list[_Job] = []

    def vid(rel: str) -> str | None:
        return None if video_ext is None else "videos/" + rel + "." + video_ext

    if not continuous:
        for c, spec in enumerate(vocab.signs):
            for s, signer in enumerate(signers):
                for r in range(reps):
                    rel = f"{spec.name}/{signer.id}_r{r}"
                    jobs.append(
                        _Job(
                            (spec,),
                            signer,
                            r,
                            derive_seed(seed, 1, c, s, r),
                            f"poses/{rel}.{pose_ext}",
                            vid(rel),
                            frames,
                        )
                    )
        return jobs
    k = signs_per_sequence
    for s, signer in enumerate(signers):
        for r in range(reps):
            order = np.random.default_rng(derive_seed(seed, 2, s, r)).permutation(len(vocab))
            for j in range(0, len(order), k):
                chunk = tuple(vocab.signs[int(i)] for i in order[j : j + k])
                rel = f"continuous/{signer.id}_r{r}_{j // k:03d}"
                jobs.append(
                    _Job(
                        chunk,
                        signer,
                        r,
                        derive_seed(seed, 3, s, r, j),
                        f"poses/{rel}.{pose_ext}",
                        vid(rel),
                        frames,
                    )
                )
    return jobs


@dataclass
class SynthReport:
    """Counts of one :func:`generate_dataset` run (also written to ``report.json``)."""

    samples: int = 0
    written: int = 0
    kept: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    splits: dict[str, int] = field(default_factory=dict)


def _chunks(jobs: list[_Job], n: int) -> Iterator[list[_Job]]:
    for i in range(0, len(jobs), n):
        yield jobs[i : i + n]


def generate_dataset(
    out_dir: str | Path,
    classes: int = 50,
    signers: int = 12,
    reps: int = 4,
    frames: int = 64,
    video: bool = False,
    size: int = 112,
    continuous: bool = False,
    seed: int = 0,
    *,
    pose_format: str = "pose",
    video_format: str = "mp4",
    test_fraction: float = 0.25,
    val_fraction: float = 0.0,
    signs_per_sequence: int | None = None,
    minimal_pair_rate: float = 0.6,
    config: SynthConfig | None = None,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Generate a synthetic data set and return the path of its ``manifest.csv``.

    Args:
        out_dir: output folder (module docstring); existing files are kept (resume).
        classes, signers, reps: vocabulary size, number of signers, repetitions of each
            class by each signer (isolated mode: ``classes * signers * reps`` clips).
        frames: frames per clip.
        video: also render RGB videos of ``size`` x ``size`` pixels.
        continuous: clips of several signs in a row (unlabeled, for pretraining); each
            signer signs every class ``reps`` times, ``signs_per_sequence`` per clip
            (default ``max(2, frames // 30)``).
        seed: everything (vocabulary, signers, clips, split) follows from it.
        pose_format: ``pose`` or ``npz``; video_format: ``mp4`` or ``npy``.
        test_fraction, val_fraction: signer-independent split (whole signers per split).
        minimal_pair_rate: share of the classes that are an earlier class with one
            parameter changed (:meth:`Vocabulary.sample`); 0 draws every class afresh,
            which suits low-resolution video, where a handshape difference is a few pixels.
        config: variation/noise magnitudes (:class:`SynthConfig`).
        workers: processes (1 = in this process); the output does not depend on it.
    Raises:
        ConfigError: an invalid argument.
    """
    for name, v, lo in (
        ("classes", classes, 1),
        ("signers", signers, 1),
        ("reps", reps, 1),
        ("frames", frames, 8),
        ("workers", workers, 1),
    ):
        if v < lo:
            raise ConfigError(f"{name} must be >= {lo}, got {v}")
    if pose_format not in POSE_FORMATS:
        raise ConfigError(f"pose_format must be one of {POSE_FORMATS}, got {pose_format!r}")
    if video_format not in VIDEO_FORMATS:
        raise ConfigError(f"video_format must be one of {VIDEO_FORMATS}, got {video_format!r}")
    if not 0.0 <= minimal_pair_rate <= 1.0:
        raise ConfigError(f"minimal_pair_rate must be in [0, 1], got {minimal_pair_rate}")
    if video and not 16 <= size <= 1024:
        raise ConfigError(f"size must be in 16..1024 pixels, got {size}")
    if video and video_format == "mp4" and size % 2:
        raise ConfigError(f"mp4 videos need an even size, got {size}; use {size + 1}")
    k = signs_per_sequence if signs_per_sequence is not None else max(2, frames // 30)
    if continuous and k < 1:
        raise ConfigError(f"signs_per_sequence must be >= 1, got {k}")
    cfg = config or SynthConfig()
    out = Path(out_dir)
    with folder_lock(out, "synth job"):  # one job per output folder
        t0 = time.perf_counter()
        vocab = Vocabulary.sample(classes, seed, minimal_pair_rate=minimal_pair_rate)
        people = sample_signers(signers, seed, variation=cfg.signer_variation)
        vocab.save(out / "vocabulary.json")
        save_json(out / "signers.json", [p.to_dict() for p in people])
        save_json(
            out / "config.json",
            {
                "classes": classes,
                "signers": signers,
                "reps": reps,
                "frames": frames,
                "video": video,
                "size": size,
                "continuous": continuous,
                "seed": seed,
                "pose_format": pose_format,
                "video_format": video_format,
                "signs_per_sequence": k if continuous else None,
                "test_fraction": test_fraction,
                "val_fraction": val_fraction,
                "minimal_pair_rate": minimal_pair_rate,
                "config": cfg.to_dict(),
            },
        )
        jobs = _jobs(
            vocab,
            people,
            reps,
            frames,
            seed,
            continuous,
            k,
            pose_format,
            video_format if video else None,
        )
        # temporaries a killed run left (the lock is held: none is a live writer's)
        remove_stale_temporaries([
            *(out / rel for j in jobs for rel in (j.pose_rel, j.video_rel) if rel is not None),
            *(out / name for name in ("vocabulary.json", "signers.json", "config.json",
                                      "manifest.csv", "report.json")),
        ])
        st = _Settings(out, cfg, size, cfg.fps)
        report = SynthReport(samples=len(jobs))
        results: list[_Result] = []
        bar = progress_bar(total=len(jobs), desc="synth", unit="clip", disable=not progress)
        chunk = 4 if video else 32
        if workers == 1:
            batches: Iterator[list[_Result]] = (_run_chunk((c, st)) for c in _chunks(jobs, chunk))
            for batch in batches:
                results += batch
                bar.update(len(batch))
        else:
            with ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or 1)) as pool:
                for batch in pool.map(_run_chunk, ((c, st) for c in _chunks(jobs, chunk))):
                    results += batch
                    bar.update(len(batch))
        bar.close()
        rows = []
        for res in results:
            report.written += res.wrote
            report.kept += res.kept
            if res.error is not None:
                report.failed += 1
                report.errors.append(res.error)
            else:
                assert res.row is not None
                rows.append(
                    ManifestRow(
                        res.row["path"], res.row["label"], res.row["signer"], extra=res.row["extra"]
                    )
                )
        if not rows:
            raise DataError(
                f"no clip could be written ({report.failed} failed; first error: "
                f"{report.errors[0] if report.errors else '-'})",
                out,
            )
        manifest = Manifest(rows, root=out)
        if test_fraction > 0 or val_fraction > 0:
            manifest = signer_independent_split(manifest, test_fraction, val_fraction, seed)
        manifest_path = out / "manifest.csv"
        manifest.write(manifest_path)
        report.splits = manifest.splits()
        report.seconds = round(time.perf_counter() - t0, 3)
        save_json(out / "report.json", report.__dict__)
        return manifest_path


def read_report(out_dir: str | Path) -> SynthReport:
    """The :class:`SynthReport` a :func:`generate_dataset` run left in ``out_dir``."""
    import json

    p = Path(out_dir) / "report.json"
    if not p.is_file():
        raise DataError("no report.json: run generate_dataset on this folder first", p)
    return SynthReport(**json.loads(p.read_text()))
