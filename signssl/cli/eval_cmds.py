"""``signssl embed | evaluate PROTOCOL | finetune | retrieve | dictionary``: frozen features, protocols, lookup.

Thin: options are parsed here, the work is done by :mod:`signssl.eval.pipeline`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from signssl.cli.option_groups import with_defaults, with_options
from signssl.cli.parts import PART_HELP, read_part
from signssl.data.parts import part_path
from signssl.engine.config import load_config
from signssl.errors import ConfigError
from signssl.eval.features import Features, is_features_file
from signssl.eval.fusion import ClassScores, align_scores, fuse_score_files, fusion_eval
from signssl.eval.parts import embed_part
from signssl.eval.per_file import embed_per_file
from signssl.eval.pipeline import EncoderSpec, embed_manifest, run_evaluation
from signssl.eval.query import QueryEncoder
from signssl.eval.report import COUNTS, HEADLINE, _fmt
from signssl.eval.retrieval import Dictionary
from signssl.eval.run_options import (
    Embedding,
    EvalData,
    EvalOutput,
    Finetune,
    Knn,
    LinearProbe,
    ProtocolOptions,
    Retrieval,
)
from signssl.recipes import MASA_FINETUNE
from signssl.store.spec import spec_from_config

console = Console(highlight=False)
dictionary_app = typer.Typer(
    name="dictionary", help="Build sign dictionaries for retrieval.", no_args_is_help=True
)
evaluate_app = typer.Typer(
    name="evaluate", no_args_is_help=True,
    help="Run an evaluation protocol and write OUT/metrics.json, OUT/report.md and figures.\n\n"
         "Dictionary = training split, queries = test split.  A manifest without a split column "
         "is evaluated leave-one-out (retrieval, knn) or with a seeded stratified hold-out of "
         "25 % per class and per seed (linear, finetune, --label-fraction).  Video encoders (and "
         "pose encoders with --pooling) embed every video (or pose file) by 16-frame windows "
         "every 2 frames, averaged plainly (avg) or weighted by the run's signer-activity head "
         "(weighted).  Video encoders are fine-tuned with `signssl finetune-video`.")


class Pooling(str, Enum):
    avg = "avg"
    weighted = "weighted"


CHECKPOINT = typer.Option(None, "--checkpoint", help="Exported model: run dir, model/ dir or .safetensors.")
BASELINE = typer.Option(
    None, "--baseline",
    help="Training-free encoder: raw-keypoints, raw-hand-keypoints, raw-hand-angles, random-init; "
         "or dtw (sequences compared by dynamic time warping: evaluate retrieval only).")
MODEL = typer.Option(None, "--model", help="Registered encoder for --baseline random-init.")
CONFIG = typer.Option(
    None, "--config",
    help="--baseline random-init: the model a `pretrain --config` run builds (a profile such as "
         "'tiny', or a YAML file), read as that run reads clips.")
METHOD = typer.Option(
    None, "--method", help="--baseline random-init: the method whose model to build (with --config).")
SETS = typer.Option(
    None, "--set",
    help="--baseline random-init: override a pretraining config value, e.g. --set "
         "model.kwargs.depth=2 (repeatable).")
DATA = typer.Option(
    ..., "--data",
    help="Manifest CSV (signssl manifest …), or a shard folder (signssl shard: pose clips "
         "written with the encoder's --layout, --dims and --normalize, or --kind video).")
SOURCE_LAYOUT = typer.Option(
    None, "--source-layout", "--layout",
    help="Layout of flat-vector files (MP_Data, arrays): a name or a YAML file (library: "
         "source_layout; --layout is the older name).")
MODEL_LAYOUT = typer.Option(
    None, "--model-layout",
    help="The encoder's input layout, model.kwargs.layout of a --baseline model (default "
         "masa49; a checkpoint brings its own).")
DIMS = typer.Option(None, "--dims", help="Coordinates per joint fed to the encoder (2 or 3).")
NORMALIZE = typer.Option(
    None, "--normalize",
    help="auto (default: shoulders, or per hand for a clip without both shoulders) | shoulders | "
         "shoulders_frame | hands | shoulders_hands | none.")
BATCH = typer.Option(64, "--batch-size", help="Samples per batch when embedding.")
SEED = typer.Option(0, "--seed", help="Seed of random-init weights.")
TEST_DATA = typer.Option(
    None, "--test-data", help="Evaluate on this manifest (or shard folder) instead (transfer).")
TRAIN_SPLIT = typer.Option("train", "--train-split", help="Training / dictionary split.")
TEST_SPLIT = typer.Option("test", "--test-split", help="Test / query split.")
SEEDS = typer.Option(1, "--seeds", help="Repeat with seeds 0..N-1; report mean ± 95% CI.")
HOLDOUT = typer.Option(
    None, "--holdout",
    help="Without a split column: test share per class (0 = leave-one-out for retrieval/knn).")
LABEL_FRACTION = typer.Option(
    None, "--label-fraction", help="Keep this stratified share of training labels.")
POOLING = typer.Option(
    None, "--pooling",
    help="Vectors pooled over sliding windows: avg | weighted (the run's activity head). "
         "Default: whole clips for pose encoders; for video encoders weighted when the run "
         "has an activity head, else avg.")
WINDOW = typer.Option(
    None, "--window", help="Window length in frames (default: the encoder's clip length, or 16).")
STRIDE = typer.Option(2, "--stride", help="Window stride in frames.")
PART = typer.Option(None, "--part", metavar="I/N", help=PART_HELP)


def _random_init_model(baseline: str | None, model: str | None, config: str | None,
                       method: str | None, sets: list[str]):
    """``(model name, model kwargs, DataSpec)`` of the encoder that `pretrain --config CONFIG
    --method METHOD --set ...` builds, for --baseline random-init."""
    if (baseline or "").strip().lower().replace("_", "-") != "random-init":
        raise ConfigError("--config, --method and --set choose the model of --baseline random-init; "
                          "a checkpoint carries its own and the other baselines have none: drop them")
    cfg = load_config(method, config, sets)
    if model is not None and model != cfg.model.name:
        raise ConfigError(f"--model {model} differs from the model of the configuration "
                          f"({cfg.model.name}); drop --model or --config/--method")
    return cfg.model.name, dict(cfg.model.kwargs), spec_from_config(cfg)


def _value(pooling: Pooling | None) -> str | None:
    return None if pooling is None else pooling.value


def _print_skipped(report, what: str) -> None:
    if report.num_problems or report.notes:
        console.print(f"[yellow]{what}: {report.summary()}[/]")


def encoder_options(
    checkpoint: Path | None = CHECKPOINT,
    baseline: str | None = BASELINE,
    model: str | None = MODEL,
    config: str | None = CONFIG,
    method: str | None = METHOD,
    sets: list[str] | None = SETS,
    source_layout: str | None = SOURCE_LAYOUT,
    model_layout: str | None = MODEL_LAYOUT,
    dims: int | None = DIMS,
    normalize: str | None = NORMALIZE,
) -> EncoderSpec:
    """The encoder (--checkpoint, or --baseline with its model) and how it reads clips."""
    kwargs: dict = {}
    max_frames = None
    if config is not None or method is not None or sets:
        model, kwargs, data = _random_init_model(baseline, model, config, method, sets or [])
        if data.modality == "pose":  # read clips as the pretraining run would
            model_layout, dims = model_layout or data.layout, dims or data.dims
            normalize, max_frames = normalize or data.normalize, data.max_frames
    return EncoderSpec(
        checkpoint=None if checkpoint is None else str(checkpoint), baseline=baseline, model=model,
        layout=model_layout, dims=dims, normalize=normalize, max_frames=max_frames,
        source_layout=source_layout, extra=kwargs,
    )


def data_options(
    data: Path = DATA,
    test_data: Path | None = TEST_DATA,
    train_split: str = TRAIN_SPLIT,
    test_split: str = TEST_SPLIT,
    seeds: int = SEEDS,
    label_fraction: float | None = LABEL_FRACTION,
    holdout: float | None = HOLDOUT,
) -> EvalData:
    """The manifests, their training and test rows, the seeds."""
    return EvalData(data, test_data, train_split, test_split, seeds, label_fraction, holdout)


def output_options(
    out: Path = typer.Option(..., "--out", "-o", help="Report folder (metrics.json, report.md, PNGs)."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the PNG figures."),
    projection: str = typer.Option("pca", "--projection", help="Embedding map: pca | tsne."),
) -> EvalOutput:
    """The report folder and its figures."""
    return EvalOutput(out, plots=not no_plots, projection=projection)


def embedding_options(
    batch_size: int = BATCH,
    pooling: Pooling | None = POOLING,
    window: int | None = WINDOW,
    stride: int = STRIDE,
) -> Embedding:
    """How frozen vectors are made (whole clips, or pooled sliding windows)."""
    return Embedding(batch_size, _value(pooling), window, stride)


@with_options(source=encoder_options)
def seeded_encoder_options(source: EncoderSpec, seed: int = SEED) -> EncoderSpec:
    """The encoder and the seed of its random-init weights."""
    source.seed = seed
    return source


@with_options(source=seeded_encoder_options, embedding=embedding_options)
def embed(
    source: EncoderSpec,
    embedding: Embedding,
    data: Path = DATA,
    out: Path | None = typer.Option(None, "--out", "-o", help="Features file to write (.npz)."),
    per_file: Path | None = typer.Option(
        None, "--per-file",
        help="Instead of --out: one .npy per clip in this folder, mirroring the manifest's "
             "relative paths, and DIR/manifest.csv listing them with labels; resumable."),
    split: str | None = typer.Option(None, "--split", help="Only rows of this split."),
    part: str | None = PART,
) -> None:
    """Embed every sample of a manifest: npz with features (N, D), labels, paths, signers."""
    if (out is None) == (per_file is None):
        raise ConfigError("pass either --out FEATURES.npz or --per-file DIR")
    which = read_part(part)
    if per_file is not None:
        _embed_per_file(source, data, per_file, split, which, **asdict(embedding))
        return
    feats, report = embed_part(source, data, which, split, **asdict(embedding))
    out = part_path(out, which)
    feats.save(out)
    if report is None:
        console.print(f"wrote {out}: no row of this part to embed")
        return
    _print_skipped(report, "samples")
    console.print(f"wrote {out}: {len(feats)} x {feats.dim} features, {len(feats.classes())} labels "
                  f"({report.summary()})")


def _embed_per_file(spec, data: Path, out_dir: Path, split: str | None, part: tuple[int, int],
                    **options) -> None:
    result = embed_per_file(spec, data, out_dir, split, part=part, **options)
    if result.report is not None:
        _print_skipped(result.report, "samples")
    console.print(f"wrote {out_dir}: {result.written} new .npy, {result.kept} kept from an earlier run, "
                  f"{result.listed} listed in {result.manifest}", soft_wrap=True)


FROZEN = {"source": encoder_options, "data": data_options, "output": output_options,
          "embedding": embedding_options}


@evaluate_app.command("retrieval")
@with_options(**FROZEN)
def evaluate_retrieval(
    source: EncoderSpec, data: EvalData, output: EvalOutput, embedding: Embedding,
    aggregate: str = typer.Option("nearest", "--aggregate", help="nearest | mean."),
) -> None:
    """Dictionary retrieval: dictionary = training split, queries = test split (leave-one-out
    without a split column); top-k accuracy per instance and per class, MRR.  `--baseline
    dtw` compares the pose sequences by dynamic time warping instead of embeddings."""
    _evaluate(Retrieval(aggregate), source, data, output, embedding)


@evaluate_app.command("knn")
@with_options(**FROZEN)
def evaluate_knn(
    source: EncoderSpec, data: EvalData, output: EvalOutput, embedding: Embedding,
    k: int | None = typer.Option(
        None, "--k", help="Neighbours (default: the smallest training class size, one less in "
                          "leave-one-out, at most 20)."),
    temperature: float = typer.Option(0.07, "--temperature", help="Vote weight exp(s / T)."),
) -> None:
    """k-nearest-neighbour classification of the test split by the training split
    (leave-one-out without a split column); writes the class scores (scores.npz) too."""
    _evaluate(Knn(k, temperature), source, data, output, embedding)


@evaluate_app.command("linear")
@with_options(**FROZEN)
def evaluate_linear(
    source: EncoderSpec, data: EvalData, output: EvalOutput, embedding: Embedding,
    backend: str = typer.Option("sklearn", "--backend", help="sklearn | torch."),
) -> None:
    """Linear probe on frozen vectors: trained on the training split, scored on the test
    split (without a split column: a seeded stratified hold-out of 25 % per class and per
    seed); writes the class scores (scores.npz) too."""
    _evaluate(LinearProbe(backend), source, data, output, embedding)


@evaluate_app.command("finetune")
@with_options(source=encoder_options, data=data_options, output=output_options)
def evaluate_finetune(
    source: EncoderSpec, data: EvalData, output: EvalOutput,
    epochs: int = typer.Option(20, "--epochs", help="Training epochs."),
    lr: float = typer.Option(1e-3, "--lr", help="Learning rate."),
    optimizer: str = typer.Option("adamw", "--optimizer", help="adamw | sgd."),
    label_smoothing: float = typer.Option(0.1, "--label-smoothing", help="Cross-entropy label smoothing."),
    schedule: str = typer.Option(
        "cosine", "--schedule", help="lr after warm-up: cosine | step (x0.1 at 50 and 75 %)."),
    train_crop: str = typer.Option(
        "uniform", "--train-crop",
        help="Clips longer than the frame budget in training: uniform | random (one random "
             "frame per segment) | center | start."),
    batch_size: int = typer.Option(64, "--batch-size", help="Clips per batch (training and embedding)."),
) -> None:
    """Fine-tune a pose encoder + linear head on the training split, score the test split
    (without a split column: a seeded stratified hold-out of 25 % per class and per seed);
    writes the class scores (scores.npz) too.  MASA's recipe: `signssl finetune`; video
    encoders: `signssl finetune-video`."""
    protocol = Finetune(epochs=epochs, lr=lr, optimizer=optimizer, schedule=schedule,
                        label_smoothing=label_smoothing, batch_size=batch_size, train_crop=train_crop)
    _evaluate(protocol, source, data, output, Embedding(batch_size))


def _evaluate(protocol: ProtocolOptions, source: EncoderSpec, data: EvalData, output: EvalOutput,
              embedding: Embedding) -> None:
    result = run_evaluation(protocol, source, data, output, embedding)
    _print_summary(result.runs)
    _print_pooling(result.written["metrics.json"])
    _print_run_notes(result)
    console.print(written_line(output.out_dir, result.written.values()))


def written_line(out: Path, paths: Iterable[Path]) -> str:
    """``wrote OUT/metrics.json, report.md and 3 figures``: the files written, the PNG
    figures counted (none named when there are none)."""
    names = [Path(p).name for p in paths]
    figures = sum(name.endswith(".png") for name in names)
    order = ("metrics.json", "report.md")
    parts = sorted((n for n in names if not n.endswith(".png")),
                   key=lambda n: (order.index(n) if n in order else len(order), n))
    if figures:
        parts.append(f"{figures} figure{'s' if figures > 1 else ''}")
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"wrote {out}/{listed}"


def step_milestones(epochs: int, step_every: int) -> list[float]:
    """Fractions of training at which a step schedule multiplies the rate by 0.1: every
    ``step_every`` epochs of ``epochs`` (60 and 20 -> [1/3, 2/3]).

    >>> [round(m, 3) for m in step_milestones(60, 20)]
    [0.333, 0.667]
    """
    if epochs < 1 or step_every < 1:
        raise ConfigError(f"--epochs and --step-every must be >= 1, got {epochs} and {step_every}")
    return [e / epochs for e in range(step_every, epochs, step_every)]


@with_options(source=with_defaults(encoder_options, baseline=typer.Option(
    None, "--baseline", help="random-init: the same recipe from scratch (with --model).")),
    data=data_options)
def finetune(
    source: EncoderSpec,
    data: EvalData,
    out: Path = typer.Option(..., "--out", "-o", help="Report folder (metrics.json, report.md, scores.npz)."),
    epochs: int = typer.Option(MASA_FINETUNE["epochs"], "--epochs", help="Training epochs."),
    lr: float = typer.Option(MASA_FINETUNE["lr"], "--lr", help="Learning rate (encoder and head)."),
    optimizer: str = typer.Option(
        MASA_FINETUNE["optimizer"], "--optimizer", help="sgd (momentum 0.9) | adamw."),
    schedule: str = typer.Option(MASA_FINETUNE["schedule"], "--schedule", help="step | cosine."),
    step_every: int = typer.Option(20, "--step-every", help="step: lr x0.1 every this many epochs."),
    weight_decay: float = typer.Option(MASA_FINETUNE["weight_decay"], "--weight-decay", help="Weight decay."),
    label_smoothing: float = typer.Option(
        MASA_FINETUNE["label_smoothing"], "--label-smoothing", help="Cross-entropy label smoothing."),
    warmup_epochs: float = typer.Option(1.0, "--warmup-epochs", help="Linear warm-up epochs."),
    train_crop: str = typer.Option(
        MASA_FINETUNE["train_crop"], "--train-crop",
        help="Clips longer than the frame budget in training: random (one random frame per "
             "segment) | uniform | center | start. At test: uniform (evenly spaced)."),
    frames: int | None = typer.Option(
        None, "--frames", help="Frame budget per clip (default: the encoder's, 32 for MASA)."),
    batch_size: int = typer.Option(MASA_FINETUNE["batch_size"], "--batch-size", help="Clips per batch."),
    no_plots: bool = typer.Option(False, "--no-plots", help="Skip the PNG figures."),
) -> None:
    """Fine-tune a pretrained pose encoder + linear head for sign recognition.

    Defaults are MASA's recipe (docs/methods.md#masa-fine-tuning): SGD momentum 0.9, lr
    0.01 x0.1 every 20 epochs, 60 epochs, batch 64, the encoder's frame budget (32 frames
    for MASA) with random temporal sampling in training and evenly spaced frames at test.
    With --baseline random-init --model NAME the same recipe trains from scratch.  On small
    sets (a few hundred steps) SGD barely moves the encoder: use --optimizer adamw --lr 1e-3
    --schedule cosine (as in docs/results/masa_heldout).  Writes
    OUT/metrics.json (top-1/top-5 per instance and per class, mean ± 95% CI over seeds),
    report.md and scores.npz (the class scores, input of `signssl fuse`).  Video encoders:
    `signssl finetune-video`.
    """
    if frames is not None and frames < 1:
        raise ConfigError(f"--frames must be >= 1, got {frames}")
    protocol = Finetune(epochs=epochs, lr=lr, optimizer=optimizer, schedule=schedule,
                        step_milestones=step_milestones(epochs, step_every),
                        weight_decay=weight_decay, label_smoothing=label_smoothing,
                        warmup_epochs=warmup_epochs, batch_size=batch_size, train_crop=train_crop,
                        max_frames=frames)
    result = run_evaluation(protocol, source, data, EvalOutput(out, plots=not no_plots),
                            Embedding(batch_size))
    _print_summary(result.runs)
    _print_run_notes(result)
    console.print(f"wrote {out}/metrics.json, report.md and scores.npz")


def _print_run_notes(result) -> None:
    """Skipped samples, the chosen k of k-NN, normalisation fall-backs and warnings."""
    if any(result.skipped.values()):
        console.print(f"[yellow]skipped samples: {result.skipped}[/]")
    if result.runs.config.get("k_choice"):
        console.print(f"k-NN: {result.runs.config['k_choice']} (--k sets it)")
    for warning in result.warnings:
        console.print(f"[yellow]warning: {warning}[/]")


def _print_pooling(metrics_path: Path) -> None:
    import json

    p = json.loads(metrics_path.read_text(encoding="utf-8")).get("pooling")
    if not p:  # whole clips
        return
    line = (f"{p.get('mode')} pooling of {p.get('videos')} videos ({p.get('windows')} windows of "
            f"{p.get('window')} frames, stride {p.get('stride')})")
    if p.get("mode") == "weighted":
        line += (f"; {p.get('fallbacks')} video(s) had no active window and were averaged "
                 "plainly")
    console.print(line)


def _print_summary(runs) -> None:
    table = Table(title=f"{runs.protocol} ({runs.config.get('split')}; seeds {runs.seeds})")
    table.add_column("metric")
    table.add_column("mean ± 95% CI", justify="right")
    for name in (*HEADLINE, *COUNTS):
        if name in runs.summary:
            s = runs.summary[name]
            table.add_row(name, _fmt(s["mean"], s["ci95"]) if name in HEADLINE else f"{s['mean']:g}")
    console.print(table)


def retrieve(
    dictionary: Path = typer.Option(..., "--dictionary", help="Dictionary file (signssl dictionary build)."),
    query: Path = typer.Option(
        ..., "--query", help="A pose file / MP_Data folder, a video (video dictionaries), or a "
                             "features .npz."),
    k: int = typer.Option(5, "-k", "--k", help="Glosses to show."),
    source_layout: str | None = typer.Option(
        None, "--source-layout", "--layout",
        help="Layout of a flat-vector query file (--layout is the older name)."),
    aggregate: str = typer.Option("nearest", "--aggregate", help="nearest | mean."),
) -> None:
    """Look up the glosses nearest to a query sign.

    The query is embedded as the dictionary was built (same encoder, and the same window
    pooling when the dictionary holds pooled vectors)."""
    d = Dictionary.load(dictionary)
    if is_features_file(query):
        feats = Features.load(query)
    else:
        feats = QueryEncoder(d.info, source_layout=source_layout).embed(query)
    res = d.search(feats.features, k=k, aggregate=aggregate)  # type: ignore[arg-type]
    if len(feats) == 1:
        _print_single(res, d, str(feats.paths[0] or query), str(feats.labels[0]))
        return
    table = Table(title=f"{len(feats)} queries from {query}: top {k} glosses (score)")
    for col in ("query", "label", "top glosses"):
        table.add_column(col, overflow="fold")
    for q in range(len(feats)):
        hits = ", ".join(f"{lab} ({s:.3f})" for lab, s in zip(res.labels[q], res.scores[q], strict=False))
        table.add_row(str(feats.paths[q]), str(feats.labels[q]), hits)
    console.print(table)


def _print_single(res, d, title: str, label: str) -> None:
    paths = d.metadata.get("path")
    table = Table(title=title + (f" (label {label})" if label else ""))
    for col in ("rank", "gloss", "score", "nearest entry"):
        table.add_column(col, justify="right" if col in ("rank", "score") else "left")
    for r, (lab, s, idx) in enumerate(zip(res.labels[0], res.scores[0], res.indices[0], strict=False), 1):
        table.add_row(str(r), lab, f"{s:.4f}", paths[idx] if paths and idx >= 0 else "")
    console.print(table)


@dictionary_app.command("build")
@with_options(source=seeded_encoder_options, embedding=embedding_options)
def dictionary_build(
    source: EncoderSpec,
    embedding: Embedding,
    data: Path = DATA,
    out: Path = typer.Option(..., "--out", "-o", help="Dictionary file to write (.safetensors)."),
    split: str | None = typer.Option(None, "--split", help="Only rows of this split (e.g. train)."),
) -> None:
    """Embed the labelled samples of a manifest into a dictionary file (video encoders:
    pooled sliding windows; queries are embedded the same way by `signssl retrieve`)."""
    feats, report = embed_manifest(source, data, split, **asdict(embedding))
    labelled = feats.labeled()
    if len(labelled) == 0:
        raise ConfigError(f"{data}: no labelled sample to put in a dictionary")
    d = Dictionary.from_features(labelled)
    d.save(out)
    _print_skipped(report, "samples")
    console.print(f"wrote {out}: {d} ({len(feats) - len(labelled)} unlabeled sample(s) left out)")


def fuse(
    scores_a: Path = typer.Argument(..., help="Class scores .npz (e.g. OUT/scores.npz of `evaluate finetune`)."),
    scores_b: Path = typer.Argument(..., help="Second model's scores .npz over the same test clips."),
    weight: float = typer.Option(1.0, "--weight", "-w", help="Weight of the second model."),
    normalize: str = typer.Option("softmax", "--normalize", help="softmax | none, before summing."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the fused scores .npz here."),
) -> None:
    """Late fusion (MASA +R): softmax(A) + w * softmax(B), classes matched by name and clips
    by path; prints top-1/top-5 of A, B and the fusion."""
    a, b = ClassScores.load(scores_a), ClassScores.load(scores_b)
    fused = fuse_score_files(scores_a, scores_b, weight, normalize)
    table = Table(title=f"late fusion, weight {weight:g} ({normalize})")
    for col in ("scores", "top-1", "top-5", "clips"):
        table.add_column(col)
    for name, sc in ((str(scores_a), a), (str(scores_b), align_scores(a, b)), ("fused", fused)):
        m = fusion_eval(sc).metrics
        table.add_row(name, f"{m['top1_per_instance']:.3f}", f"{m.get('top5_per_instance', float('nan')):.3f}",
                      str(int((sc.labels != "").sum())))
    console.print(table)
    if out is not None:
        console.print(f"wrote {fused.save(out)}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command()(embed)
    app.command()(fuse)
    app.add_typer(evaluate_app, name="evaluate")
    app.command()(finetune)
    app.command()(retrieve)
    app.add_typer(dictionary_app, name="dictionary")
