"""From files to evaluation: which encoder, which data, which split — used by the CLI.

* :class:`EncoderSpec` names where the encoder comes from (an exported checkpoint, or a
  training-free baseline) and the input it is given (the checkpoint's
  :class:`~signssl.store.spec.ModelDescription`, read once, unless overridden); it is
  stored in dictionaries and feature files so queries are embedded the same way;
* :func:`open_dataset` reads a manifest as a :class:`~signssl.data.PoseDataset` with bad
  samples skipped and counted, or a shard folder (``signssl shard``) as the same clips
  (:mod:`signssl.eval.shard_data`: written with the encoder's reading options, else a
  one-line error);
* :func:`embed_manifest` returns :class:`~signssl.eval.features.Features` plus that count;
* :func:`run_evaluation` runs a protocol over seeds and writes the report folder, given
  the settings of :mod:`signssl.eval.run_options`.

Video encoders (a run recorded as ``modality: video``, or ``random-init`` of a Hiera)
always embed a video by pooled sliding windows (:func:`windowed_features`: ``weighted``
when the run has an activity head, else ``avg``, unless ``pooling`` says which), so the
whole video counts; pose encoders embed whole clips unless ``pooling`` is given.

Splits: :func:`~signssl.eval.data_splits.choose_splits` (the manifest's or the shard
folder's train / test rows, transfer with ``--test-data``, leave-one-out or hold-out without
splits, see :mod:`signssl.eval.runner`).  Video encoders read video shards (``--kind video``);
``pooling`` of a pose encoder needs the manifest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from signssl.data import PoseDataset
from signssl.data.samples import POSE_EXTENSIONS, VIDEO_EXTENSIONS
from signssl.errors import ConfigError, DataError
from signssl.eval.data_splits import choose_splits, read_data
from signssl.eval.dtw import DEFAULT_STREAMS, clip_sequences, dtw_retrieval_eval
from signssl.eval.features import Features, extract_features
from signssl.eval.fusion import ClassScores
from signssl.eval.metrics import summarize_runs
from signssl.eval.plots import PoseLookup
from signssl.eval.pooled import make_embedder, pooled_features
from signssl.eval.report import write_report
from signssl.eval.run_options import (
    PROTOCOL_OPTIONS,
    Embedding,
    EvalData,
    EvalOutput,
    Finetune,
    ProtocolOptions,
    Retrieval,
)
from signssl.eval.runner import PROTOCOLS, EvalRuns, evaluate_features, evaluate_finetune
from signssl.eval.shard_data import (
    ShardClips,
    check_window_data,
    data_labels,
    is_shards,
    open_shards,
    open_window_reader,
)
from signssl.eval.window_reader import ClipInput
from signssl.models.base import Encoder
from signssl.models.baselines import get_baseline, list_baselines
from signssl.pose.layouts import DEFAULT_LAYOUT
from signssl.store.model import StoredModel, load_encoder, open_model
from signssl.store.spec import ModelDescription

BASELINE_INPUT = {"layout": DEFAULT_LAYOUT, "dims": 2, "normalize": "auto", "max_frames": 64,
                  "trim_empty": True}


@dataclass
class EncoderSpec:
    """Where the encoder comes from and how its input is prepared.

    Exactly one of ``checkpoint`` / ``baseline``.  ``layout``, ``dims``, ``normalize``,
    ``max_frames`` and ``trim_empty`` left ``None`` come from the checkpoint's
    :class:`~signssl.store.spec.ModelDescription` (its ``config.json``, read once here and
    kept for :meth:`build`), or for a baseline and unrecorded fields ``BASELINE_INPUT``.
    """

    checkpoint: str | None = None
    baseline: str | None = None
    model: str | None = None  # for baseline random-init
    seed: int = 0
    layout: str | None = None
    dims: int | None = None
    normalize: str | None = None
    max_frames: int | None = None
    trim_empty: bool | None = None  # drop leading / trailing frames without any joint
    source_layout: str | None = None  # layout of flat-vector files (MP_Data, arrays)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.checkpoint is None) == (self.baseline is None):
            raise ConfigError("give exactly one of --checkpoint CKPT or --baseline NAME")
        if self.checkpoint is not None:
            self.checkpoint = str(Path(self.checkpoint).expanduser().resolve())
        if self.baseline is not None:
            key = self.baseline.strip().lower().replace("_", "-")
            if key not in list_baselines():
                raise ConfigError(f"unknown baseline '{self.baseline}'; known: {', '.join(list_baselines())}")
            if key == "random-init" and not self.model:
                raise ConfigError("baseline 'random-init' needs a model name (--model NAME)")
            self.baseline = key
        if self.source_layout is not None and Path(self.source_layout).is_file():
            self.source_layout = str(Path(self.source_layout).resolve())
        self._fill_input_defaults()

    def _fill_input_defaults(self) -> None:
        self._stored: StoredModel | None = None
        recorded: dict[str, Any] = {}
        if self.checkpoint is not None:
            self._stored = open_model(self.checkpoint)
            recorded = {k: getattr(self._stored.description, k) for k in BASELINE_INPUT}
        for key, default in BASELINE_INPUT.items():
            if getattr(self, key) is None:
                value = recorded.get(key)
                setattr(self, key, default if value is None else value)

    @property
    def description(self) -> ModelDescription | None:
        """The checkpoint's description (``None`` for a baseline)."""
        return None if self._stored is None else self._stored.description

    @property
    def name(self) -> str:
        """Short description for reports: the baseline name or the checkpoint path."""
        if self.baseline is not None:
            return f"{self.baseline}({self.model})" if self.model else self.baseline
        return str(self.checkpoint)

    def build(self, seed: int | None = None) -> Encoder:
        """A fresh encoder (random-init uses ``seed``, default ``self.seed``)."""
        if self._stored is not None:
            return load_encoder(self._stored)

        assert self.baseline is not None
        if self.baseline == "random-init":
            return get_baseline(self.baseline, model=self.model,
                                seed=self.seed if seed is None else seed, **self.extra)
        return get_baseline(self.baseline, layout=self.layout, dims=self.dims, **self.extra)

    def to_info(self) -> dict[str, Any]:
        """JSON-able form (stored in dictionary and feature files)."""
        return {"encoder": asdict(self)}

    @classmethod
    def from_info(cls, info: dict[str, Any], source_layout: str | None = None) -> EncoderSpec:
        """Inverse of :meth:`to_info`; ``source_layout`` overrides the stored one."""
        raw = dict(info.get("encoder") or {})
        if not raw:
            raise DataError("this file does not say which encoder made it (no 'encoder' info); "
                            "rebuild it with `signssl dictionary build`")
        if source_layout is not None:
            raw["source_layout"] = source_layout
        return cls(**raw)


# ----------------------------------------------------------------------------- data

def open_dataset(manifest: Any, spec: EncoderSpec, split: str | None = None,
                 progress: bool = True) -> tuple[Any, Any]:
    """``(PoseDataset, ItemReport)``: every sample read once, bad ones skipped and counted.

    A shard folder (its path or :class:`ShardIndex`) gives ``(ShardClips, ItemReport)``
    (:func:`~signssl.eval.shard_data.open_shards`)."""
    if is_shards(manifest):
        return open_shards(read_data(manifest), spec, split, progress)
    ds = PoseDataset(
        manifest, layout=spec.layout, dims=spec.dims, normalize=spec.normalize,  # type: ignore[arg-type]
        split=split, on_error="skip", cache=True, source_layout=spec.source_layout,
        trim_empty=bool(spec.trim_empty),
    )
    if len(ds) == 0:
        raise DataError(f"no sample{f' in split {split!r}' if split else ''} of the manifest")
    report = ds.scan(progress=progress)
    if len(ds) == 0:
        raise DataError(f"none of the samples could be read ({report.summary()}); "
                        f"{report.explain_none_kept()}; check --layout and --normalize, and "
                        "run `signssl manifest check`")
    return ds, report


def embed_dataset(encoder: Encoder, dataset: Any, spec: EncoderSpec, batch_size: int = 64,
                  progress: bool = True) -> Features:
    feats = extract_features(encoder, dataset, batch_size=batch_size, progress=progress,
                             max_frames=spec.max_frames)
    feats.info.update(spec.to_info())
    return feats


def reads_video(spec: EncoderSpec, encoder: Encoder) -> bool:
    """Whether the encoder takes RGB clips: a run recorded as video, or a training-free
    encoder with an ``input_size`` (random-init Hiera)."""
    if spec.description is not None:
        return spec.description.reads_video
    return getattr(encoder, "input_size", None) is not None


def check_query(query: Path, video: bool) -> None:
    """:class:`DataError` naming ``query`` when it cannot be embedded for a dictionary built
    from videos (``video``) or from poses: missing, a manifest instead of one query, a video
    for a pose dictionary (with the command that extracts its poses), or poses for a video
    dictionary.  Features files are checked by their loader, not here."""
    if not query.exists():
        raise DataError("query does not exist; check the path (and the current directory)", query)
    suffix = query.suffix.lower()
    if suffix == ".csv":
        raise DataError(
            "is a manifest, not one query: embed its rows with  signssl embed --checkpoint RUN "
            f"--data {query} --out QUERIES.npz  and pass --query QUERIES.npz",
            query,
        )
    if suffix in VIDEO_EXTENSIONS and not video:
        raise DataError(
            "is a video but the dictionary was built from poses: extract its poses first with  "
            f"signssl extract-poses {query} POSES  then retrieve with --query "
            f"POSES/{query.stem}.pose",
            query,
        )
    if video and (query.is_dir() or suffix in POSE_EXTENSIONS):
        raise DataError(
            "is a pose file but the dictionary was built from videos: query with the video "
            "itself (or a features .npz made with the same run)",
            query,
        )


def embed_manifest(spec: EncoderSpec, manifest: Any, split: str | None = None,
                   batch_size: int = 64, progress: bool = True, pooling: str | None = None,
                   window: int | None = None, stride: int = 2) -> tuple[Features, Any]:
    """Features of a manifest's samples (manifest order, bad samples skipped) + report.

    Video encoders, or ``pooling`` given: pooled sliding windows (module docstring).
    ``manifest`` may be a shard folder (pose shards: whole clips of pose encoders; video
    shards: video encoders)."""
    encoder = spec.build()
    if pooling is not None or reads_video(spec, encoder):
        check_window_data(reads_video(spec, encoder), spec.name, manifest)
        feats, report, _ = windowed_features(spec, encoder, manifest, split, pooling, window,
                                             stride, batch_size, progress)  # fmt: skip
        return feats, report
    ds, report = open_dataset(manifest, spec, split, progress)
    return embed_dataset(encoder, ds, spec, batch_size, progress), report


def _sample_paths(ds: Any) -> list[str]:
    """Path of each of a pose dataset's samples, by the index its ``load`` takes."""
    if isinstance(ds, ShardClips):
        return ds.paths()
    return [str(ds.manifest.resolve(row)) for row in range(len(ds.manifest))]


def pose_lookup(*datasets: Any) -> PoseLookup:
    """``path -> (xyz, conf, bones)`` over the samples of the given pose datasets
    (:class:`PoseDataset` or :class:`ShardClips`)."""
    index: dict[str, tuple[Any, int]] = {}
    for ds in datasets:
        for row, path in enumerate(_sample_paths(ds)):
            index.setdefault(path, (ds, row))

    def lookup(path: str) -> tuple[np.ndarray, np.ndarray, Any] | None:
        hit = index.get(path)
        if hit is None:
            return None
        ds, row = hit
        try:
            seq = ds.load(row)
        except DataError:
            return None
        return np.asarray(seq.xyz), np.asarray(seq.conf), seq.layout.bones

    return lookup


# ----------------------------------------------------------------------------- protocol

@dataclass
class EvaluationOutput:
    """What :func:`run_evaluation` produced (``warnings`` are in ``metrics.json`` too)."""

    runs: Any  # EvalRuns
    written: dict[str, Path]
    skipped: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def unlabeled_counts(train: Features, test: Features | None) -> dict[str, int]:
    """Rows without a label, which every protocol leaves out, per role."""
    out = {"train": int((train.labels == "").sum())}
    if test is not None:
        out["test"] = int((test.labels == "").sum())
    return out


def signer_warnings(train: Features, test: Features | None) -> list[str]:
    """Why the scores may not be signer-independent: test rows whose signer also signed
    training / dictionary rows (with ``test=None``, leave-one-out or hold-out within one
    set: queries whose signer has other labelled clips)."""
    tr = train.labeled()
    if test is None:
        signers, counts = np.unique(tr.signers[tr.signers != ""], return_counts=True)
        n = int(counts[counts > 1].sum())
        if not n:
            return []
        return [f"{n} of {len(tr)} labelled rows share their signer with other rows, and the "
                "test queries are drawn from the same rows (leave-one-out / hold-out): scores "
                "are not signer-independent and are inflated; give a signer-independent split "
                "(signssl manifest split)"]
    te = test.labeled()
    seen = set(tr.signers[tr.signers != ""].tolist())
    shared = [s for s in te.signers.tolist() if s and s in seen]
    if not shared:
        return []
    names = sorted(set(shared))
    return [f"{len(shared)} of {len(te)} test rows are by signers who also sign training / "
            f"dictionary rows ({len(names)} signer(s): {', '.join(names[:5])}"
            f"{' …' if len(names) > 5 else ''}): the scores are not signer-independent and "
            "are inflated; use a signer-independent split (signssl manifest split)"]


def data_warnings(train: Features, test: Features | None) -> tuple[list[str], dict[str, int]]:
    """Warnings for the report (unlabeled rows left out, shared signers) and the
    unlabeled-row counts."""
    unlabeled = unlabeled_counts(train, test)
    warnings = []
    if sum(unlabeled.values()):
        where = ", ".join(f"{k} {v}" for k, v in unlabeled.items())
        warnings.append(f"{sum(unlabeled.values())} rows without a label skipped ({where})")
    return warnings + signer_warnings(train, test), unlabeled


def save_class_scores(out_dir: str | Path, protocol: str, runs: Any, written: dict[str, Path]) -> None:
    """``OUT/scores.npz``: the first seed's class scores of a classifier protocol (linear,
    knn, finetune), the input of late fusion (``signssl fuse``)."""
    if protocol not in ("linear", "knn", "finetune"):
        return

    written["scores"] = ClassScores.from_result(runs.result).save(Path(out_dir) / "scores.npz")


def run_evaluation(protocol: ProtocolOptions, spec: EncoderSpec, data: EvalData,
                   output: EvalOutput, embedding: Embedding = Embedding()) -> EvaluationOutput:
    """Run ``protocol`` (:class:`Retrieval`, :class:`Knn`, :class:`LinearProbe`,
    :class:`Finetune` with its settings) on ``data`` and write ``output.out_dir``.

    The report records the encoder, the split mode and the skipped samples.
    ``embedding.pooling`` (``"avg"`` / ``"weighted"``) replaces the whole-clip embedding by
    pooled sliding-window vectors (:func:`windowed_features`); video encoders always use
    them (``pooling=None``: weighted with an activity head, else avg) and are fine-tuned by
    ``signssl finetune-video``, not here.
    """
    if not isinstance(protocol, PROTOCOL_OPTIONS):
        raise ConfigError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if data.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {data.seeds}")
    if output.projection not in ("pca", "tsne"):
        raise ConfigError(f"--projection must be pca or tsne, got {output.projection!r}")
    splits = choose_splits(data.data, data.test_data, data.train_split, data.test_split)
    if spec.baseline == "dtw":  # sequences compared, no encoder
        return _run_dtw(protocol, spec, data, output, embedding, splits)
    encoder = spec.build()
    video = reads_video(spec, encoder)
    if isinstance(protocol, Finetune) and video:
        raise ConfigError("video encoders are fine-tuned with `signssl finetune-video "
                          "--checkpoint RUN` (clips, inflated patch embedding); `finetune` "
                          "and `evaluate finetune` train pose encoders")  # fmt: skip
    if embedding.pooling is not None or video:
        if isinstance(protocol, Finetune):
            raise ConfigError("--pooling gives frozen video vectors; it does not apply to "
                              "fine-tuning: drop --pooling or use retrieval, knn or linear")
        check_window_data(video, spec.name, data.data, data.test_data)
        return _run_windowed(protocol, spec, encoder, data, output, embedding, splits)
    train_m, tr_split, test_m, te_split, split_desc = splits
    progress, batch_size = output.progress, embedding.batch_size
    train_ds, train_rep = open_dataset(train_m, spec, tr_split, progress)
    test_ds, test_rep = (None, None) if test_m is None else open_dataset(test_m, spec, te_split, progress)
    skipped = {"train": train_rep.num_problems, "test": 0 if test_rep is None else test_rep.num_problems}
    seed_list = list(range(data.seeds))
    # frozen embeddings: the protocol's input (retrieval, knn, linear) and the report's map
    train_f = embed_dataset(encoder, train_ds, spec, batch_size, progress)
    test_f = None if test_ds is None else embed_dataset(encoder, test_ds, spec, batch_size, progress)
    options = protocol.kwargs()
    if isinstance(protocol, Finetune):
        options.setdefault("max_frames", spec.max_frames)
        runs = evaluate_finetune(lambda s: spec.build(seed=s), train_ds, test_ds, seed_list,
                                 data.label_fraction, data.holdout, progress=False, **options)
    else:
        runs = evaluate_features(protocol.protocol, train_f, test_f, seed_list,
                                 data.label_fraction, data.holdout, **options)
    runs.config["data"] = split_desc
    warnings, extra = pose_report_extra(spec, train_f, test_f, train_rep, test_rep, data.data,
                                        data.test_data)
    shown = test_f if test_f is not None else train_f
    written = write_report(
        output.out_dir, runs, shown, title=f"{protocol.protocol} evaluation of {spec.name}",
        lookup=pose_lookup(*(d for d in (train_ds, test_ds) if d is not None)),
        extra=extra, plots_on=output.plots, projection=output.projection,
    )
    save_class_scores(output.out_dir, protocol.protocol, runs, written)
    return EvaluationOutput(runs, written, skipped, warnings)


def _run_dtw(protocol: ProtocolOptions, spec: EncoderSpec, data: EvalData, output: EvalOutput,
             embedding: Embedding, splits: tuple) -> EvaluationOutput:
    """:func:`run_evaluation` of the DTW baseline (:mod:`signssl.eval.dtw`): dictionary =
    train clips, queries = test clips (leave-one-out without a split), read as the other
    pose baselines read them.  Deterministic, so one run whatever ``--seeds``."""
    use = "use `signssl evaluate retrieval --baseline dtw`"
    if not isinstance(protocol, Retrieval):
        raise ConfigError(f"the dtw baseline compares sequences and has no embedding for "
                          f"{protocol.protocol}: {use}")
    if protocol.aggregate != "nearest":
        raise ConfigError("dtw scores a label by its nearest entry: drop --aggregate")
    if data.holdout or data.label_fraction is not None or embedding.pooling is not None:
        raise ConfigError("dtw takes the manifest's splits (or leave-one-out without them): drop "
                          "--holdout, --label-fraction and --pooling")
    train_m, tr_split, test_m, te_split, split_desc = splits
    progress = output.progress
    train_ds, train_rep = open_dataset(train_m, spec, tr_split, progress)
    test_ds, test_rep = (None, None) if test_m is None else open_dataset(test_m, spec, te_split, progress)
    train_c, test_c = (None if ds is None else clip_sequences(ds, max_frames=spec.max_frames)
                       for ds in (train_ds, test_ds))
    res = dtw_retrieval_eval(train_c, test_c, progress=progress)
    split = "given test set" if test_c is not None else "leave-one-out over all labelled samples"
    runs = EvalRuns("retrieval", [0], [{**res.metrics, "seed": 0}], summarize_runs([res.metrics]), res,
                    {"split": split, "label_fraction": None, "aggregate": "nearest",
                     "streams": list(DEFAULT_STREAMS), "neighbor_score": "minus the DTW distance"})
    runs.config["data"] = split_desc
    warnings, extra = pose_report_extra(spec, train_c, test_c, train_rep, test_rep, data.data,
                                        data.test_data)
    written = write_report(
        output.out_dir, runs, None, title=f"retrieval evaluation of {spec.name} (DTW 1-NN)",
        lookup=pose_lookup(*(d for d in (train_ds, test_ds) if d is not None)),
        extra=extra, plots_on=output.plots,
    )
    return EvaluationOutput(runs, written, extra["skipped_samples"], warnings)


def pose_report_extra(spec: EncoderSpec, train: Any, test: Any | None, train_rep: Any,
                      test_rep: Any | None, data: Any, test_data: Any | None
                      ) -> tuple[list[str], dict[str, Any]]:  # fmt: skip
    """``(warnings, report fields)`` of an evaluation on pose datasets: the encoder and how
    clips were read, normalisation notes, skipped and unlabelled rows, the manifests.
    ``train`` / ``test`` are the evaluated samples (Features, or anything with ``labels``,
    ``signers`` and ``labeled()``)."""
    warnings, unlabeled = data_warnings(train, test)
    reports = [r for r in (train_rep, test_rep) if r is not None]
    warnings += [f"{kind}: {n} clip(s)" for kind, n in _merged_notes(reports).items()]
    skipped = {"train": train_rep.num_problems, "test": 0 if test_rep is None else test_rep.num_problems}
    return warnings, {
        "encoder": spec.name,
        "input": {k: getattr(spec, k) for k in ("layout", "dims", "normalize", "max_frames",
                                                "trim_empty", "source_layout")},
        "normalisation": _merged_notes(reports),
        "skipped_samples": skipped,
        "unlabeled_rows_skipped": unlabeled,
        "warnings": warnings,
        "manifest": str(data),
        **({"test_manifest": str(test_data)} if test_data is not None else {}),
        **_shard_records(data, test_data),
    }


def _shard_records(*data: Any) -> dict[str, Any]:
    """``{"shards": {folder: clips kept / skipped by reason when it was sharded}}`` for
    the shard folders among ``data`` (``{}`` when none)."""
    found = {}
    for item in data:
        if item is not None and is_shards(item):
            index = read_data(item)
            found[str(index.root)] = dict(index.report.get("counts", {}))
    return {"shards": found} if found else {}


def _merged_notes(reports: list[Any]) -> dict[str, int]:
    """Notes of the datasets' reports summed (e.g. clips ``auto`` normalised per hand)."""
    out: dict[str, int] = {}
    for rep in reports:
        for kind, n in rep.notes.items():
            out[kind] = out.get(kind, 0) + n
    return out


# ----------------------------------------------------------------------------- windows

def windowed_features(spec: EncoderSpec, encoder: Encoder, manifest: Any, split: str | None,
                      pooling: str | None, window: int | None = None, stride: int = 2,
                      batch_size: int = 64, progress: bool = True,
                      classes: list[str] | None = None) -> tuple[Features, Any, Any]:
    """Pooled sliding-window vectors of a manifest's rows, or a video shard folder's (one
    split or all).

    Video runs stream their videos; pose encoders cut windows over pose frames read with
    ``spec``'s layout, dims and normalisation.  ``pooling="weighted"`` uses the run's
    activity head (:func:`signssl.eval.windows.load_activity_head`); ``None`` = weighted
    when the run has one, else avg.  Returns
    ``(Features, ItemReport of skipped rows, PoseDataset or None)``.
    """
    m = read_data(manifest)
    if reads_video(spec, encoder):  # a video run, or a random-init Hiera
        clip_input = (ClipInput.of_description(spec.description, encoder)
                      if spec.description is not None else ClipInput.for_video(encoder))  # fmt: skip
    else:
        clip_input = ClipInput("pose", layout=spec.layout, dims=spec.dims,
                               normalize=str(spec.normalize), source_layout=spec.source_layout,
                               trim_empty=bool(spec.trim_empty))
    embedder = make_embedder(encoder, spec.checkpoint, pooling, window, stride, batch_size)
    reader = open_window_reader(m, split, clip_input, spec.name, embedder.window, stride,
                                batch_size, classes)
    feats, report = pooled_features(embedder, reader, progress)
    feats.info.update(spec.to_info())
    return feats, report, reader.poses


def _run_windowed(protocol: ProtocolOptions, spec: EncoderSpec, encoder: Encoder, data: EvalData,
                  output: EvalOutput, embedding: Embedding, splits: tuple) -> EvaluationOutput:
    """:func:`run_evaluation` on pooled window vectors (dictionary = train, queries = test)."""
    train_m, tr_split, test_m, te_split, split_desc = splits
    classes = sorted(set(data_labels(train_m)) | set(data_labels(test_m) if test_m else []))
    how = (embedding.pooling, embedding.window, embedding.stride, embedding.batch_size,
           output.progress, classes)
    train_f, train_rep, train_poses = windowed_features(spec, encoder, train_m, tr_split, *how)
    test_f, test_rep, test_poses = (None, None, None) if test_m is None else windowed_features(
        spec, encoder, test_m, te_split, *how)
    skipped = {"train": train_rep.num_problems, "test": 0 if test_rep is None else test_rep.num_problems}
    runs = evaluate_features(protocol.protocol, train_f, test_f, list(range(data.seeds)),
                             data.label_fraction, data.holdout, **protocol.kwargs())
    runs.config["data"] = split_desc
    warnings, unlabeled = data_warnings(train_f, test_f)
    pools = [f.info["pooling"] for f in (train_f, test_f) if f is not None]
    extra = {
        "encoder": spec.name,
        "pooling": {**pools[0], "fallbacks": sum(p["fallbacks"] for p in pools),
                    "videos": sum(p["videos"] for p in pools),
                    "windows": sum(p["windows"] for p in pools)},
        "skipped_samples": skipped,
        "unlabeled_rows_skipped": unlabeled,
        "warnings": warnings,
        "manifest": str(data.data),
        **({"test_manifest": str(data.test_data)} if data.test_data is not None else {}),
        **_shard_records(data.data, data.test_data),
    }
    poses = [d for d in (train_poses, test_poses) if d is not None]
    shown = test_f if test_f is not None else train_f
    written = write_report(
        output.out_dir, runs, shown,
        title=f"{protocol.protocol} evaluation of {spec.name} ({pools[0]['mode']} windows)",
        lookup=pose_lookup(*poses) if poses else None, extra=extra, plots_on=output.plots,
        projection=output.projection,
    )
    save_class_scores(output.out_dir, protocol.protocol, runs, written)
    return EvaluationOutput(runs, written, skipped, warnings)
