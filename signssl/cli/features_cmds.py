"""``signssl extract-features | class-distribution | finetune-video | import-hiera``: SignRep
downstream, and official Hiera weights as a model export.

Thin: options are parsed here; the work is done by :mod:`signssl.eval.extract`,
:mod:`signssl.eval.pooled`, :mod:`signssl.eval.class_distribution`,
:mod:`signssl.eval.finetune_video` and :func:`signssl.store.model.import_hiera`.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.console import Console

from signssl.cli.parts import PART_HELP, read_part
from signssl.data.parts import part_path
from signssl.engine.config import parse_override
from signssl.eval.class_distribution import class_distribution as compute
from signssl.eval.class_distribution import save_class_distribution
from signssl.eval.extract import REPORT_FILE, extract_run_features
from signssl.eval.finetune_video import VideoFinetuneConfig, run_finetune_video
from signssl.eval.pooled import run_features
from signssl.store.model import IMPORT_REPORT
from signssl.store.model import import_hiera as run_import

console = Console(highlight=False)

CHECKPOINT = typer.Option(
    ..., "--checkpoint", help="Exported run: run dir, model/ dir or .safetensors."
)
DATA = typer.Option(..., "--data", help="Manifest CSV (videos, or poses for a pose encoder).")
WINDOW = typer.Option(
    None, "--window", help="Window length in frames (default: the encoder's clip length, or 16)."
)
STRIDE = typer.Option(2, "--stride", help="Window stride in frames.")
DEVICE = typer.Option(None, "--device", help="cpu, cuda, cuda:1 ... (default: the model's / auto).")


class Pooling(str, Enum):
    avg = "avg"
    weighted = "weighted"


def extract_features(
    checkpoint: Path = CHECKPOINT,
    data: Path = DATA,
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (one .npy per row)."),
    window: int | None = WINDOW,
    stride: int = STRIDE,
    batch_size: int = typer.Option(64, "--batch-size", help="Windows per encoder call."),
    split: str | None = typer.Option(None, "--split", help="Only rows of this split."),
    device: str | None = DEVICE,
    part: str | None = typer.Option(None, "--part", metavar="I/N", help=PART_HELP),
) -> None:
    """Sliding-window features of every row: OUT/<row>.npy (N_windows, D), index.csv, report.json.

    Long videos are decoded window by window; finished outputs are kept, so rerunning
    the command resumes an interrupted job.  Unreadable rows are skipped and counted.
    """
    which = read_part(part)
    rep = extract_run_features(checkpoint, data, out, window, stride, batch_size, split, device,
                               part=which)
    if rep.failed:
        console.print(f"[yellow]skipped rows: {rep.problems.summary()}[/]")
    console.print(f"{out}: {rep.summary()}; details in {part_path(out / REPORT_FILE, which)}")


def class_distribution(
    checkpoint: Path = CHECKPOINT,
    data: Path = DATA,
    out: Path = typer.Option(..., "--out", "-o", help="Class distribution file (.npz or .json)."),
    split: str = typer.Option("train", "--split", help="Rows whose frozen features are used."),
    pooling: Pooling | None = typer.Option(
        None,
        "--pooling",
        help="Window pooling: avg | weighted (default: weighted when the run has an activity "
        "head, else avg).",
    ),
    window: int | None = WINDOW,
    stride: int = STRIDE,
    batch_size: int = typer.Option(64, "--batch-size", help="Windows per encoder call."),
    device: str | None = DEVICE,
) -> None:
    """Class probability distribution P from the frozen features of the training clips.

    Mean cosine similarity between the classes' clips, then a per-class softmax whose
    temperature makes the largest probability the largest value below 0.5
    (docs/methods.md#signrep-class-distribution).  Use it with
    `signssl finetune-video --class-distribution`.
    """
    feats, report = run_features(
        checkpoint,
        data,
        split,
        None if pooling is None else pooling.value,
        window,
        stride,
        batch_size,
        device,
    )
    labelled = feats.require_labeled(f"{data} (split {split!r})")
    dist = compute(labelled.features, labelled.labels)
    save_class_distribution(out, dist)
    if report.num_problems:
        console.print(f"[yellow]skipped clips: {report.summary()}[/]")
    top = dist.P.max(axis=1)
    console.print(
        f"wrote {out}: P {dist.P.shape[0]} x {dist.P.shape[1]} from {len(labelled)} clips "
        f"({feats.info['pooling']['mode']} pooling); max probability per row: min "
        f"{top.min():.3f}, mean {top.mean():.3f}, max {top.max():.3f}; mean tau "
        f"{dist.tau.mean():.4g}"
    )


def finetune_video(
    checkpoint: Path = CHECKPOINT,
    data: Path = typer.Option(
        ...,
        "--data",
        help="Video manifest CSV, or a video shard folder (`signssl shard --kind video`).",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (metrics.json, model/)."),
    epochs: int = typer.Option(..., "--epochs", help="Training epochs (paper: 100)."),
    frames: int = typer.Option(64, "--frames", help="Clip length; the encoder is inflated to it."),
    lambda_cd: float = typer.Option(
        0.2,
        "--lambda-cd",
        help="Weight of the class-distribution KL term (with --class-distribution).",
    ),
    class_distribution_file: Path | None = typer.Option(
        None, "--class-distribution", help="P file from `signssl class-distribution`."
    ),
    batch_size: int = typer.Option(8, "--batch-size", help="Clips per step (paper: 8)."),
    lr: float = typer.Option(1e-4, "--lr", help="Peak learning rate."),
    weight_decay: float = typer.Option(
        0.5, "--weight-decay", help="AdamW weight decay (paper: 0.5)."
    ),
    layer_decay: float = typer.Option(
        0.85, "--layer-decay", help="Layer-wise lr decay (paper: 0.85)."
    ),
    warmup_steps: int = typer.Option(
        1000, "--warmup-steps", help="Warm-up iterations (paper: 1000)."
    ),
    label_smoothing: float = typer.Option(
        0.1, "--label-smoothing", help="Cross-entropy smoothing."
    ),
    augment: bool = typer.Option(
        False, "--augment", help="Pretraining augmentation on training clips."
    ),
    train_split: str = typer.Option("train", "--train-split", help="Training split."),
    test_split: str = typer.Option("test", "--test-split", help="Test split."),
    seed: int = typer.Option(0, "--seed", help="Seed of the head, shuffle and clip starts."),
    workers: int = typer.Option(0, "--workers", help="DataLoader workers."),
    device: str | None = DEVICE,
) -> None:
    """Fine-tune a video encoder for sign recognition and report top-1 per instance / class."""
    cfg = VideoFinetuneConfig(
        frames=frames,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        layer_decay=layer_decay,
        warmup_steps=warmup_steps,
        label_smoothing=label_smoothing,
        lambda_cd=lambda_cd,
        seed=seed,
        num_workers=workers,
    )
    res = run_finetune_video(
        checkpoint,
        data,
        out,
        cfg,
        class_distribution_file,
        train_split,
        test_split,
        augment,
        device,
    )
    first, last = res.history[0]["loss"], res.history[-1]["loss"]
    m = res.metrics
    console.print(
        f"loss {first:.4f} -> {last:.4f} over {len(res.history)} epochs; test top-1 per "
        f"instance {m.get('top1_per_instance', float('nan')):.4f}, per class "
        f"{m.get('top1_per_class', float('nan')):.4f}; wrote {out}/metrics.json and {out}/model"
    )


def import_hiera(
    checkpoint: Path = typer.Argument(
        ..., help="Local official Hiera checkpoint (.pth / .pt / .safetensors)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Model folder to write (model/ form)."),
    model: str = typer.Option(
        "hiera_base_16x224", "--model", help="Registered Hiera size the weights belong to."
    ),
    kwarg: list[str] = typer.Option(
        [], "--kwarg", help="Model keyword argument KEY=VALUE (repeatable), e.g. drop_path=0.1."
    ),
    frame_step: int = typer.Option(
        1, "--frame-step", help="Frame step of the clips this encoder reads (recorded)."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse if any model parameter is missing or has another shape."
    ),
) -> None:
    """Convert an official Hiera checkpoint into a model folder every command reads.

    The folder works wherever a run is taken: `--checkpoint` of evaluate, extract-features,
    class-distribution and finetune-video, and `pretrain --set model.init=OUT` (SignRep
    from a pixel-MAE Hiera-B, as in the paper).  Nothing is downloaded.
    """
    kwargs = {}
    for item in kwarg:
        keys, value = parse_override(item)
        kwargs[".".join(keys)] = value
    rep = run_import(checkpoint, out, model, kwargs, frame_step=frame_step, strict=strict)
    console.print(
        f"wrote {out}: {len(rep.loaded)} parameters loaded, {len(rep.missing)} missing (kept "
        f"at their initial values), {len(rep.mismatched)} with another shape, "
        f"{len(rep.unexpected)} checkpoint entries unused; details in {out / IMPORT_REPORT}"
    )
    for label, keys in (
        ("missing", rep.missing),
        ("other shape", [k for k, _, _ in rep.mismatched]),
        ("unused", rep.unexpected),
    ):
        if keys:
            more = f" (+{len(keys) - 6} more)" if len(keys) > 6 else ""
            console.print(f"  {label}: {', '.join(keys[:6])}{more}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("extract-features")(extract_features)
    app.command("class-distribution")(class_distribution)
    app.command("finetune-video")(finetune_video)
    app.command("import-hiera")(import_hiera)
