"""Repeated, seeded comparisons of methods and ablations (``signssl study``).

A *study* is a grid ``variants x seeds`` on synthetic vocabularies: for every seed a
fresh data set is generated (new signers, new signer-independent split), every
pretrained variant is trained on its training clips without labels, and every variant
(pretrained or training-free baseline) is scored with frozen features — retrieval
(training clips = dictionary, test signers = queries) and a linear probe.  The summary
gives the mean and the 95 % t-interval over seeds (:func:`signssl.eval.summarize_runs`).

The study is described in YAML (:mod:`signssl.studies.study_spec`), its records and
report written by :mod:`signssl.studies.study_report`.

Every (variant, seed) writes ``OUT/results/<variant>__s<seed>.json`` atomically when it
finishes: a killed study rerun with the same arguments redoes only what is missing
(pretraining runs resume from their last checkpoint).  Jobs run in parallel processes
(``jobs``), each with ``threads`` torch threads; with ``progress`` and one job at a time,
the data generation and each pretraining run show their progress.  Outputs: ``study.json``,
``study.md`` (table, mean ± 95 % CI, and the pretraining warnings, e.g. a run too short to
leave the learning-rate warmup) and ``collapse.png`` (the collapse monitor of every
pretrained variant, one line per seed).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any

from signssl import synth
from signssl.data import Manifest
from signssl.engine.config import load_config
from signssl.errors import ConfigError
from signssl.eval import linear_probe
from signssl.eval.dtw import dtw_retrieval_eval
from signssl.eval.features import Features
from signssl.eval.frozen import ensure_splits, frozen_eval, split_dataset, split_features
from signssl.models.baselines import get_baseline
from signssl.recipes import MASA_FINETUNE
from signssl.store.model import load_model
from signssl.store.spec import DataSpec, spec_from_config
from signssl.studies.study_report import (
    result_path,
    study_warnings,
    summarize_study,
    write_study_report,
)
from signssl.studies.study_spec import StudySpec, Variant, init_depth
from signssl.utils import die_with_parent, folder_lock, save_json

# ----------------------------------------------------------------------------- one job


def _data_manifest(spec: StudySpec, out: Path, seed: int, generate: bool = True,
                   progress: bool = False) -> Path:  # fmt: skip
    """The manifest of seed ``seed`` (real data is shared by every seed); ``generate``
    writes (or completes) the synthetic set, which :func:`run_study` does once before the
    parallel jobs, so that they only read it (a set's folder has one writer at a time)."""
    if spec.data is not None:
        return Path(spec.data)
    if spec.data_seed is not None:
        seed = spec.data_seed
    folder = out / "data" / f"s{seed}"
    if not generate:
        return folder / "manifest.csv"
    video = {"video": True, "size": spec.video_size} if spec.video else {"video": False}
    # the package's attribute, looked up at call time
    return synth.generate_dataset(folder, **spec.size, **video, seed=seed, progress=progress)


def _run_job(spec: StudySpec, variant: Variant, seed: int, out: Path, threads: int,
             progress: bool = False) -> dict[str, Any]:  # fmt: skip
    """Pretrain (if needed) and evaluate one (variant, seed); returns the result record."""
    import torch

    from signssl.engine.pretraining import (  # lazy: Lightning
        pretrain,
        read_run_metrics,
        read_summary,
    )

    torch.set_num_threads(max(1, threads))
    start = time.perf_counter()
    manifest_path = _data_manifest(spec, out, seed, generate=False)  # written by run_study
    manifest = ensure_splits(Manifest.read(manifest_path), seed=seed)
    overrides = [
        f"trainer.max_epochs={spec.epochs}", f"trainer.seed={seed}",
        f"trainer.progress_bar={str(progress).lower()}", "trainer.checkpoint_every_n_steps=200",
        *spec.set, *variant.set,
    ]
    if variant.init is not None:
        source = next(v for v in spec.variants if v.name == variant.init)
        init_dir = _run_dir(out, source, seed)
        if not (init_dir / "model").is_dir():
            raise ConfigError(f"variant '{variant.name}' starts from '{source.name}', whose run "
                              f"{init_dir} has not finished; run the study again")
        overrides.append(f"model.init={init_dir}")
    cfg = load_config(variant.method, spec.config, overrides)
    data_spec = spec_from_config(cfg)  # pose: layout/dims/...; video: centre clip, resized
    record: dict[str, Any] = {"variant": variant.name, "seed": seed, "kind": "baseline"}
    if variant.baseline == "dtw":  # sequences compared: retrieval only, no probe or fine-tuning
        record["metrics"] = dtw_metrics(manifest, data_spec)
        record["seconds"] = time.perf_counter() - start
        return record
    if variant.baseline is None:
        run_dir = _run_dir(out, variant, seed)
        if not (run_dir / "model").exists():
            # pretraining sees the training split only (no test signer, even unlabelled)
            has_split = {"train", "test"} <= {row.split for row in Manifest.read(manifest_path).rows}
            manifest_for_training = manifest_path if has_split else _split_manifest(manifest, out, seed)
            resume = (run_dir / "checkpoints" / "last.ckpt").is_file()
            pretrain(cfg, manifest_for_training, run_dir, resume=resume, progress=progress)
        encoder = load_model(run_dir)
        series = read_run_metrics(run_dir)
        summary = read_summary(run_dir)
        record.update(
            kind="pretrained", run_dir=str(run_dir), init=variant.init,
            pretrain_seconds=float(summary.get("seconds", 0.0)),
            warnings=list(summary.get("warnings", [])),
            collapse=[list(p) for p in series.get("train/collapse_ratio", [])],
            feature_collapse=[list(p) for p in series.get("train/feature_collapse_ratio", [])],
            loss=[list(p) for p in series.get("train/loss", [])],
        )
    elif variant.baseline == "random-init":
        encoder = get_baseline("random-init", model=cfg.model.name, seed=seed, **cfg.model.kwargs)
    else:
        encoder = get_baseline(variant.baseline, layout=data_spec.layout, dims=data_spec.dims)
    train, test = split_features(encoder, manifest, data_spec)
    record["metrics"] = frozen_eval(train, test, seed=seed)
    for column in spec.probe:
        record["metrics"].update(probe_column(train, test, manifest, column, seed))
    if spec.finetune is not None and variant.baseline in (None, "random-init"):
        record["metrics"].update(finetune_metrics(
            encoder, manifest, data_spec, spec.finetune, seed, cfg.trainer.accelerator))
    record["seconds"] = time.perf_counter() - start
    return record


def dtw_metrics(manifest: Any, data_spec: Any) -> dict[str, float]:
    """``retrieval/<metric>`` of the DTW baseline (:func:`signssl.eval.dtw.dtw_retrieval_eval`):
    the train clips are the dictionary, the test clips the queries, read as pose clips
    (a video study's pose files with the default pose reading)."""
    pose = data_spec if data_spec.modality == "pose" else DataSpec()
    classes = manifest.labels()
    train, test = (split_dataset(manifest, pose, split, classes) for split in ("train", "test"))
    result = dtw_retrieval_eval(train, test, max_frames=pose.max_frames)
    return {f"retrieval/{k}": float(v) for k, v in result.metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def finetune_metrics(
    encoder: Any, manifest: Any, data_spec: Any, settings: dict[str, Any], seed: int,
    accelerator: str = "auto",
) -> dict[str, float]:
    """``finetune/<metric>``: ``encoder`` (changed in place) + a linear head trained with the
    labels of the training split (``MASA_FINETUNE`` updated by ``settings``),
    scored on the test split."""
    from signssl.eval.finetune import finetune_eval  # lazy: Lightning

    classes = manifest.labels()
    train, test = (split_dataset(manifest, data_spec, split, classes, cache=True)
                   for split in ("train", "test"))
    kwargs = {**MASA_FINETUNE, **settings}
    result = finetune_eval(encoder, train, test, classes=classes, seed=seed, accelerator=accelerator,
                           max_frames=data_spec.max_frames, **kwargs)
    return {f"finetune/{k}": float(v) for k, v in result.metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def probe_column(train: Any, test: Any, manifest: Any, column: str, seed: int = 0) -> dict[str, float]:
    """How well a linear probe on the frozen features predicts a manifest column (e.g. a
    video's background style) for unseen signers: ``probe/<column>/top1`` and the
    majority-class rate ``probe/<column>/majority`` of the test clips (the floor)."""
    from collections import Counter

    import numpy as np

    values: dict[str, str] = {}  # resolved sample path (pose file or video) -> value
    for row in manifest.rows:
        value = row.signer if column == "signer" else row.extra.get(column)
        if value is None:
            raise ConfigError(f"probe column '{column}' is not in the manifest")
        values[str(manifest.resolve(row).resolve())] = str(value)
        video = row.extra.get("video")
        if video:
            values[str((Path(manifest.root) / video).resolve())] = str(value)

    def relabel(f: Any) -> Any:
        labels = []
        for p in f.paths:
            hit = values.get(str(Path(p).resolve()))
            if hit is None:
                raise ConfigError(f"no manifest row for feature path {p} (probe '{column}')")
            labels.append(hit)
        return Features(f.features, np.asarray(labels), f.paths, f.signers)

    tr, te = relabel(train), relabel(test)
    result = linear_probe(tr, te, seed=seed)
    majority = Counter(te.labels.tolist()).most_common(1)[0][1] / max(len(te.labels), 1)
    return {
        f"probe/{column}/top1": float(result.metrics["top1_per_instance"]),
        f"probe/{column}/majority": float(majority),
    }


def _split_manifest(manifest: Any, out: Path, seed: int) -> Path:
    """A real-data manifest with its train/test split written next to the study."""
    path = out / "data" / f"split_s{seed}.csv"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        manifest.write(path)
    return path


def _job_entry(args: tuple[StudySpec, Variant, int, str, int, bool]) -> dict[str, Any]:
    spec, variant, seed, out, threads, progress = args
    out_path = Path(out)
    record = _run_job(spec, variant, seed, out_path, threads, progress)
    save_json(result_path(out_path, variant, seed), record)
    return record


def _run_dir(out: Path, variant: Variant, seed: int) -> Path:
    return out / "runs" / f"{variant.slug}__s{seed}"


# ----------------------------------------------------------------------------- the grid


def run_study(
    spec: StudySpec,
    out_dir: str | Path,
    jobs: int = 1,
    threads: int = 1,
    log: Callable[[str], None] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every missing (variant, seed) and write the summary (see the module docstring).

    ``progress`` shows the data generation and, with ``jobs=1``, each pretraining run's
    progress (parallel runs only log a line when they finish).  One study writes a folder
    at a time (:func:`signssl.utils.folder_lock`)."""
    out = Path(out_dir)
    with folder_lock(out, "study"):
        return _run_study(spec, out, jobs, threads, log or (lambda _m: None), progress)


def _run_study(spec: StudySpec, out: Path, jobs: int, threads: int,
               say: Callable[[str], None], progress: bool) -> dict[str, Any]:  # fmt: skip
    save_json(out / "spec.json", asdict(spec))
    for seed in spec.seeds:  # data first, before the parallel jobs
        _data_manifest(spec, out, seed, progress=progress)
    todo = [
        (spec, v, s, str(out), threads, progress and jobs <= 1)
        for s in spec.seeds for v in spec.variants if not result_path(out, v, s).is_file()
    ]
    say(f"{len(todo)} of {len(spec.seeds) * len(spec.variants)} runs to do, {jobs} at a time")
    start = time.perf_counter()
    by_name = {v.name: v for v in spec.variants}
    depth = {name: init_depth(v, by_name, "study") for name, v in by_name.items()}
    for level in sorted({depth[a[1].name] for a in todo}):  # a variant runs after its init
        _run_wave([a for a in todo if depth[a[1].name] == level], jobs, say)
    summary = summarize_study(spec, out)
    summary["wall_seconds"] = time.perf_counter() - start
    summary["warnings"] = study_warnings(spec, out)
    for message in summary["warnings"]:
        say(f"warning: {message}")
    save_json(out / "study.json", summary)
    write_study_report(spec, out, summary)
    return summary


def _run_wave(todo: list[tuple[StudySpec, Variant, int, str, int, bool]], jobs: int,
              say: Callable[[str], None]) -> None:  # fmt: skip
    """Run independent jobs, ``jobs`` processes at a time."""
    if jobs <= 1:
        for args in todo:
            say(_line(_job_entry(args)))
        return
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=die_with_parent,
                             initargs=(os.getpid(),)) as pool:  # a killed study stops its jobs
        futures = [pool.submit(_job_entry, a) for a in todo]
        for f in as_completed(futures):
            say(_line(f.result()))


def _line(rec: dict[str, Any]) -> str:
    m = rec["metrics"]
    def value(key: str) -> str:
        return "-" if key not in m else f"{m[key]:.3f}"

    return (
        f"{rec['variant']} seed {rec['seed']}: retrieval top-1 "
        f"{value('retrieval/top1_per_instance')}, linear top-1 "
        f"{value('linear/top1_per_instance')} ({rec['seconds']:.0f} s)"
    )
