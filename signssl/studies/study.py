"""Repeated, seeded comparisons of methods and ablations (``signssl study``).

A *study* is a grid ``variants x seeds`` on synthetic vocabularies: for every seed a
fresh data set is generated (new signers, new signer-independent split), every
pretrained variant is trained on its training clips without labels, and every variant
(pretrained or training-free baseline) is scored with frozen features — retrieval
(training clips = dictionary, test signers = queries) and a linear probe.  The summary
gives the mean and the 95 % t-interval over seeds (:func:`signssl.eval.summarize_runs`).

A study is described in YAML::

    size: {classes: 20, signers: 10, reps: 5, frames: 48}   # synthetic data per seed
                          # (any generate_dataset argument, e.g. minimal_pair_rate: 0)
    video: false          # true: render videos too (video methods: signrep, mae)
    video_size: 64        # their frame size (pixels) when video is true
    probe: []             # manifest columns to decode with a linear probe (e.g. style_background)
    finetune: null        # {} or settings: also fine-tune (labels) every encoder, pose only
    data: null            # or a manifest path: real data, the same for every seed
    data_seed: null       # an int: one synthetic data set for every seed (training seeds only)
    config: tiny          # profile / YAML overlaid on each method's config
    epochs: 40
    seeds: [0, 1, 2]
    set: []               # --set items for every pretrained variant
    variants:
      - {name: SL-FPN, method: sl_fpn}
      - {name: SL-FPN no permutation, method: sl_fpn,
         set: [method.kwargs.boundary_permutation=false]}
      - {name: random init, baseline: random-init, method: sl_fpn}   # method's encoder
      - {name: raw keypoints, baseline: raw-keypoints}
      - {name: DTW, baseline: dtw}        # retrieval only: linear metrics shown as '-'

A variant with ``init: <another pretrained variant>`` starts its encoder from that
variant's encoder of the same seed (``model.init``), as SignRep starts from a pixel-MAE
Hiera (``{name: SignRep from MAE, method: signrep, init: pixel MAE}``): such variants
run after the ones they start from, and the two stages together cost the sum of both
rows' budgets.

With ``finetune`` set, every pretrained variant and every random-init baseline is also
fine-tuned with labels (encoder + linear head) on the training clips and scored on the
test clips (``finetune/*`` metrics; random init = training from scratch).  The recipe is
MASA's (:data:`signssl.recipes.MASA_FINETUNE`), at the encoder's frame budget; the dict overrides
arguments of :func:`signssl.eval.finetune.finetune_eval`.

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

import json
import multiprocessing as mp
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from signssl import synth
from signssl.data import Manifest
from signssl.engine.config import load_config
from signssl.errors import ConfigError, SignSSLError
from signssl.eval import linear_probe
from signssl.eval.dtw import dtw_retrieval_eval
from signssl.eval.features import Features
from signssl.eval.frozen import ensure_splits, frozen_eval, split_dataset, split_features
from signssl.eval.metrics import summarize_runs, wilson_interval
from signssl.eval.plots import plot_metric_bars
from signssl.models.baselines import get_baseline
from signssl.recipes import MASA_FINETUNE
from signssl.store.model import load_model
from signssl.store.spec import DataSpec, spec_from_config
from signssl.synth.dataset import generate_dataset
from signssl.utils import (
    atomic_path,
    atomic_write_text,
    die_with_parent,
    folder_lock,
    json_float,
    read_yaml_file,
    save_json,
)

#: columns of the summary table: (metric key, header)
TABLE_METRICS = (
    ("retrieval/top1_per_instance", "retrieval top-1"),
    ("retrieval/mrr", "retrieval MRR"),
    ("linear/top1_per_instance", "linear top-1"),
)

#: finetune_eval arguments the study sets itself
_FINETUNE_FIXED = {"encoder", "train_data", "test_data", "classes", "seed", "accelerator",
                   "progress", "max_frames"}


@dataclass
class Variant:
    """One row of the study: a pretrained method (+ overrides) or a baseline."""

    name: str
    method: str = "sl_fpn"
    set: list[str] = field(default_factory=list)
    baseline: str | None = None  # "random-init" | "raw-keypoints" | "dtw" | ... (no training)
    init: str | None = None  # name of the pretrained variant whose encoder it starts from

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-").lower() or "variant"


@dataclass
class StudySpec:
    variants: list[Variant]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    size: dict[str, Any] = field(
        default_factory=lambda: {"classes": 20, "signers": 10, "reps": 5, "frames": 48}
    )
    data: str | None = None
    data_seed: int | None = None
    config: str = "tiny"
    epochs: int = 40
    set: list[str] = field(default_factory=list)
    video: bool = False
    video_size: int = 64
    probe: list[str] = field(default_factory=list)
    finetune: dict[str, Any] | None = None


def load_spec(path: str | Path) -> StudySpec:
    """Read a study YAML (see the module docstring); unknown keys raise."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"study file {p} not found")
    raw = read_yaml_file(p, ConfigError) or {}
    return spec_from_dict(raw, where=str(p))


def spec_from_dict(raw: dict[str, Any], where: str = "study") -> StudySpec:
    known = set(StudySpec.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    if not raw.get("variants"):
        raise ConfigError(f"{where}: 'variants' must list at least one variant")
    variants = []
    for i, v in enumerate(raw["variants"]):
        if not isinstance(v, dict) or "name" not in v:
            raise ConfigError(f"{where}: variant #{i} needs a 'name'")
        bad = set(v) - set(Variant.__dataclass_fields__)
        if bad:
            raise ConfigError(f"{where}: variant '{v['name']}' has unknown keys {sorted(bad)}")
        variants.append(Variant(**{**v, "set": list(v.get("set") or [])}))
    slugs = [v.slug for v in variants]
    if len(set(slugs)) != len(slugs):
        raise ConfigError(f"{where}: variant names must differ (after slugging): {slugs}")
    _check_inits(variants, where)
    spec = StudySpec(variants=variants, **{k: v for k, v in raw.items() if k != "variants"})
    spec.seeds = [int(s) for s in spec.seeds]
    if not spec.seeds:
        raise ConfigError(f"{where}: 'seeds' must not be empty")
    _check_size(spec, where)
    _check_finetune(spec, where)
    return spec


#: generate_dataset arguments the study sets itself (or, for config, that YAML cannot give)
_SIZE_FIXED = {"out_dir", "video", "size", "seed", "progress", "config"}


def _check_inits(variants: Sequence[Variant], where: str) -> None:
    """``init`` names another pretrained variant of the spec (no baseline, no cycle)."""
    by_name = {v.name: v for v in variants}
    for v in variants:
        if v.init is None:
            continue
        if v.baseline is not None:
            raise ConfigError(f"{where}: variant '{v.name}' is a baseline and cannot take 'init'")
        source = by_name.get(v.init)
        if source is None or source.baseline is not None:
            known = [n for n, u in by_name.items() if u.baseline is None and n != v.name]
            raise ConfigError(f"{where}: variant '{v.name}' starts from '{v.init}', which is not "
                              f"a pretrained variant of the study (pretrained: {known})")
        _init_depth(v, by_name, where)


def _init_depth(variant: Variant, by_name: dict[str, Variant], where: str) -> int:
    """How many ``init`` links lead from ``variant`` to a variant trained from scratch."""
    depth, seen, v = 0, {variant.name}, variant
    while v.init is not None:
        v = by_name[v.init]
        if v.name in seen:
            raise ConfigError(f"{where}: the 'init' links of variant '{variant.name}' form a cycle")
        seen.add(v.name)
        depth += 1
    return depth


def _check_size(spec: StudySpec, where: str) -> None:
    """``size`` holds :func:`signssl.synth.generate_dataset` arguments."""
    if not isinstance(spec.size, dict):
        raise ConfigError(f"{where}: 'size' must be a mapping of synthetic-data settings")
    _check_arguments(generate_dataset, spec.size, _SIZE_FIXED, f"{where}: unknown 'size'",
                     " (frame size: video_size)")  # fmt: skip


def _check_arguments(fn: Any, given: dict[str, Any], fixed: set[str], what: str,
                     hint: str = "") -> None:  # fmt: skip
    """Raise when ``given`` names an argument of ``fn`` that is missing or in ``fixed``."""
    import inspect

    allowed = set(inspect.signature(fn).parameters) - fixed
    bad = set(given) - allowed
    if bad:
        raise ConfigError(f"{what} settings {sorted(bad)}; known: {sorted(allowed)}{hint}")


def _check_finetune(spec: StudySpec, where: str) -> None:
    """``finetune`` is a dict of :func:`finetune_eval` arguments, for pose data only."""
    from signssl.eval.finetune import finetune_eval  # lazy: Lightning

    if spec.finetune is None:
        return
    if not isinstance(spec.finetune, dict):
        raise ConfigError(f"{where}: 'finetune' must be a mapping of settings ({{}} = defaults)")
    if spec.video:
        raise ConfigError(f"{where}: 'finetune' fine-tunes pose encoders; for video use "
                          "`signssl finetune-video`")
    _check_arguments(finetune_eval, spec.finetune, _FINETUNE_FIXED, f"{where}: unknown 'finetune'")


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

    from signssl.engine.pretrain import pretrain, read_run_metrics, read_summary  # lazy: Lightning

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


def result_path(out: Path, variant: Variant, seed: int) -> Path:
    return out / "results" / f"{variant.slug}__s{seed}.json"


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
    depth = {name: _init_depth(v, by_name, "study") for name, v in by_name.items()}
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


def study_warnings(spec: StudySpec, out: Path) -> list[str]:
    """``"<variant>: <warning>"`` for every distinct warning of the variants' pretraining
    runs (seeds with the same warning give one line)."""
    found: dict[str, None] = {}
    for variant, records in load_records(spec, out).items():
        for record in records:
            for message in record.get("warnings", []):
                found.setdefault(f"{variant}: {message}")
    return list(found)


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


def load_records(spec: StudySpec, out: Path) -> dict[str, list[dict[str, Any]]]:
    """Finished records per variant name, in seed order."""
    records: dict[str, list[dict[str, Any]]] = {}
    for v in spec.variants:
        recs = []
        for s in spec.seeds:
            p = result_path(out, v, s)
            if p.is_file():
                recs.append(_read_record(p))
        records[v.name] = recs
    return records


def _read_record(path: Path) -> dict[str, Any]:
    """One run's record; the curves' ``null`` values (non-finite when written) come back
    as ``nan``."""
    rec = json.loads(path.read_text(encoding="utf-8"))
    for key in ("collapse", "feature_collapse", "loss"):
        if rec.get(key):
            rec[key] = [[step, json_float(value)] for step, value in rec[key]]
    return rec


def summarize_study(spec: StudySpec, out: Path) -> dict[str, Any]:
    """Mean ± 95 % CI over seeds of every metric, per variant."""
    rows = []
    for v in spec.variants:
        recs = load_records(spec, out)[v.name]
        final_collapse = [r["collapse"][-1][1] for r in recs if r.get("collapse")]
        final_features = [r["feature_collapse"][-1][1] for r in recs if r.get("feature_collapse")]
        rows.append({
            "variant": v.name,
            "kind": "baseline" if v.baseline else "pretrained",
            "seeds": [r["seed"] for r in recs],
            "metrics": summarize_runs([r["metrics"] for r in recs]),
            "final_collapse_ratio": final_collapse,
            "final_feature_collapse_ratio": final_features,
            "pretrain_seconds": [r.get("pretrain_seconds", 0.0) for r in recs],
        })
    return {"rows": rows, "seeds": spec.seeds, "size": spec.size, "data": spec.data,
            "epochs": spec.epochs, "config": spec.config}


def _fmt(stat: dict[str, Any] | None) -> str:
    if not stat:
        return "-"
    half = stat["ci95"]
    return f"{stat['mean']:.3f} ± {half:.3f}" if half == half else f"{stat['mean']:.3f}"


UNSEEN_SIGNERS = "from signers unseen in training"


def _query_signers(spec: StudySpec) -> str:
    """Whether the queries' signers are unseen in training (:data:`UNSEEN_SIGNERS`): a real
    manifest without signer ids gets a random split per seed, not signer-independent."""
    if spec.data is None:
        return UNSEEN_SIGNERS

    try:
        rows = Manifest.read(spec.data).rows
    except SignSSLError:
        return "(the manifest could not be read again to check its signer ids)"
    if any(row.signer for row in rows):
        return UNSEEN_SIGNERS
    return ("of a random split per seed: the manifest has no signer ids, so the split is NOT "
            "signer-independent")


def write_study_report(spec: StudySpec, out: Path, summary: dict[str, Any]) -> Path:
    """``study.md``: the table (mean ± 95 % CI over seeds) and the collapse figure."""
    columns = table_columns(spec)
    heads = " | ".join(h for _, h in columns)
    per_seed = (
        "a new vocabulary, signers and signer-independent split per seed"
        if spec.data_seed is None
        else f"one data set (data seed {spec.data_seed}) for every training seed"
    )
    data = spec.data or (
        f"synthetic: {spec.size.get('classes')} signs x {spec.size.get('signers')} signers x "
        f"{spec.size.get('reps')} repetitions, {per_seed}"
    )
    if spec.data is None and "minimal_pair_rate" in spec.size:
        data += f", minimal-pair rate {spec.size['minimal_pair_rate']}"
    queries, who = _queries(summary), _query_signers(spec)
    if queries:
        data += f"; {queries} test clips (queries) {who}"
    lines = [
        "# Study",
        "",
        f"Data: {data}. Pretraining: `{spec.config}` profile, {spec.epochs} epochs, no labels. "
        f"Seeds: {spec.seeds}. Cells: mean ± half-width of the 95 % t-interval over seeds.",
        "",
        f"| variant | kind | {heads} | collapse std·√D (end): head | encoder | pretrain s |",
        "|---|---|" + "---|" * len(columns) + "---|---|---|",
    ]
    for row in summary["rows"]:
        cells = " | ".join(_fmt(row["metrics"].get(k)) for k, _ in columns)
        head = _seed_values(row["final_collapse_ratio"])
        enc = _seed_values(row.get("final_feature_collapse_ratio", []))
        secs = [s for s in row["pretrain_seconds"] if s]
        secs_txt = f"{sum(secs) / len(secs):.0f}" if secs else "-"
        lines.append(f"| {row['variant']} | {row['kind']} | {cells} | {head} | {enc} | {secs_txt} |")
    bars, note = plot_metric_summary([row["variant"] for row in summary["rows"]],
                                     [row["metrics"] for row in summary["rows"]],
                                     len(spec.seeds), out / "metrics.png",
                                     independent=who == UNSEEN_SIGNERS)
    lines += ["", f"![metrics]({bars.name})", "", f"*{note}.*"]
    if summary.get("warnings"):
        lines += ["", "Warnings:", "", *(f"- {message}" for message in summary["warnings"])]
    fig = plot_collapse(spec, out)
    if fig is not None:
        lines += ["", f"![collapse monitor]({fig.name})"]
    path = out / "study.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


#: top-1 metric -> the number of test clips it is a proportion of
TOP1_TRIALS = {"retrieval/top1_per_instance": "retrieval/n_queries",
               "linear/top1_per_instance": "linear/n_test"}


def plot_metric_summary(names: Sequence[str], metrics: Sequence[dict[str, Any]], seeds: int,
                        path: Path, independent: bool = True) -> tuple[Path, str]:
    """Bars of the :data:`TABLE_METRICS` per encoder (``metrics``: one
    :func:`~signssl.eval.metrics.summarize_runs` result each) with error bars; returns the
    figure and the sentence saying what the error bars are (its x-axis label).
    ``independent``: the test clips are by signers unseen in training (the axis says so)."""
    values = {label: [json_float((m.get(key) or {}).get("mean")) for m in metrics]
              for key, label in TABLE_METRICS}
    intervals, note = metric_intervals(metrics, seeds)
    axis = "score (signer-independent test)" if independent else "score (test clips)"
    return plot_metric_bars(names, values, path, axis, intervals, note), note


def metric_intervals(metrics: Sequence[dict[str, Any]], seeds: int
                     ) -> tuple[dict[str, list[tuple[float, float] | None]], str]:  # fmt: skip
    """Error bars of :func:`plot_metric_summary`, by bar label: with several seeds the 95 %
    t-interval over seeds of every metric; with one, the 95 % Wilson interval of each top-1
    over the test clips (none for MRR).  Also the sentence saying which."""
    intervals: dict[str, list[tuple[float, float] | None]] = {}
    if seeds > 1:
        for key, label in TABLE_METRICS:
            stats = [m.get(key) or {} for m in metrics]
            intervals[label] = [(json_float(s.get("mean")) - json_float(s.get("ci95")),
                                 json_float(s.get("mean")) + json_float(s.get("ci95"))) for s in stats]
        return intervals, f"Error bars: 95 % t-interval over {seeds} seeds"
    clips: set[int] = set()
    for key, label in TABLE_METRICS:
        if key not in TOP1_TRIALS:
            continue
        spans: list[tuple[float, float] | None] = []
        for m in metrics:
            top1, n = (m.get(key) or {}).get("mean"), (m.get(TOP1_TRIALS[key]) or {}).get("mean")
            spans.append(None if top1 is None or n is None else wilson_interval(top1, int(n)))
            clips |= set() if n is None else {int(n)}
        intervals[label] = spans
    counted = " or ".join(str(c) for c in sorted(clips)) or "the"
    return intervals, (f"Error bars: 95 % Wilson interval of top-1 over the {counted} test "
                       "clips (one seed; none for MRR)")


def _seed_values(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values) if values else "-"


def _queries(summary: dict[str, Any]) -> int | None:
    """The number of retrieval queries of the study (``None`` if not recorded)."""
    for row in summary["rows"]:
        stat = row["metrics"].get("retrieval/n_queries")
        if stat is not None:
            return int(stat["mean"])
    return None


def plot_collapse(spec: StudySpec, out: Path) -> Path | None:
    """Collapse monitor (std of the L2-normalised embedding x sqrt(D)) against the step: the
    head output the loss sees (left) and, where logged, the encoder output (right)."""
    records = load_records(spec, out)
    panels = {}
    for key, title in (("collapse", "head output"), ("feature_collapse", "encoder output")):
        curves = {n: [r[key] for r in rs if r.get(key)] for n, rs in records.items()}
        curves = {n: c for n, c in curves.items() if c}
        if curves:
            panels[title] = curves
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = [v.name for v in spec.variants]  # one colour per variant in both panels
    for ax, (title, curves) in zip(axes[0], panels.items(), strict=True):
        for name, runs in curves.items():
            color = colors[names.index(name) % len(colors)]
            for j, run in enumerate(runs):
                steps, values = zip(*run, strict=True)
                ax.plot(steps, values, color=color, lw=1, alpha=0.8, label=name if j == 0 else None)
        ax.axhline(1.0, color="k", ls="--", lw=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("std x sqrt(D)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"collapse monitor, {title} (1 healthy, 0 collapsed), one line per seed",
                     fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "collapse.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def table_columns(spec: StudySpec) -> tuple[tuple[str, str], ...]:
    """The table's metric columns: the standard ones, then each probed column and the
    majority-class rate of its test clips (what a probe gets from no information)."""
    extra = []
    if spec.finetune is not None:
        extra.append(("finetune/top1_per_instance", "fine-tune top-1"))
    for c in spec.probe:
        extra += [(f"probe/{c}/top1", f"{c} probe top-1"), (f"probe/{c}/majority", f"{c} majority")]
    return (*TABLE_METRICS, *extra)


def format_table(summary: dict[str, Any], keys: Sequence[tuple[str, str]] = TABLE_METRICS) -> str:
    """Plain-text table for the terminal."""
    width = max(len(r["variant"]) for r in summary["rows"]) + 2
    head = "variant".ljust(width) + "".join(h.rjust(20) for _, h in keys)
    lines = [head]
    for row in summary["rows"]:
        lines.append(row["variant"].ljust(width) + "".join(
            _fmt(row["metrics"].get(k)).rjust(20) for k, _ in keys))
    return "\n".join(lines)
