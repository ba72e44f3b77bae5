"""Sign recognition by fine-tuning a video encoder (docs/methods.md#signrep-recognition, Eq. 13).

SignRep's recognition recipe, on any video :class:`~signssl.models.Encoder` (a Hiera):

* input: ``frames`` (64) consecutive frames of the sign, plainly resized to the encoder's
  frame size; a 16-frame encoder is *inflated* to them
  (:func:`signssl.models.inflate.inflate_patch_embed` with factor ``frames / 16`` = 4, so
  the token count stays the same); training clips start at a random frame, test clips
  are the central ``frames`` (a shorter clip repeats its last frame);
* model: ``logits = W · encoder.embed(clip) + b``, a linear classifier on the pooled
  features (:class:`VideoClassifier`);
* loss: cross-entropy with label smoothing 0.1, plus ``λ · P_y[y] · KL(P_y ‖ softmax(ŷ))``
  with ``λ = 0.2`` when a class distribution ``P`` is given (Eq. 13,
  :func:`~signssl.losses.class_distribution_kl.class_distribution_kl_loss`); ``P``'s rows
  are matched to the classifier's classes by name;
* optimiser, the paper's recognition settings (App. A5): AdamW (PyTorch's), betas
  (0.9, 0.999) (the printed values were lost: PyTorch's defaults), weight decay 0.5 (not on
  biases and norms), layer-wise learning-rate decay 0.85, 1000 warm-up iterations then
  cosine annealing per iteration, gradient clipping at 1.0, batch 8, 100 epochs.  The
  peak learning rate was lost in conversion; the default here is 1e-4 (set ``lr``);
* augmentation: an optional hook ``augment(video) -> video`` on the training batch
  ``(B, T, 3, H, W)`` (uint8 in, float in [0, 1] out), e.g.
  :class:`signssl.data.signrep.VideoAugment` (the pretraining augmentation the paper reuses);
* evaluation: top-k accuracy per instance and per class with the evaluation suite's
  metrics (:func:`signssl.eval.results.make_result`).

:func:`finetune_video` trains on datasets and returns a :class:`VideoFinetuneResult`;
:func:`run_finetune_video` (``signssl finetune-video``) builds everything from a run and a
video manifest, or a video shard folder (``signssl shard --kind video``: the same clips,
:class:`~signssl.data.video_shards.VideoClipShardDataset`), and writes ``OUT/metrics.json``
and the fine-tuned model ``OUT/model/`` (encoder export + ``classifier_head.safetensors``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from signssl.data import Manifest
from signssl.data.report import ItemReport
from signssl.data.shards import ShardIndex
from signssl.data.signrep import VideoAugment, require_video_manifest
from signssl.data.video import VideoDataset, collate_videos
from signssl.data.video_shards import KIND as VIDEO_KIND
from signssl.data.video_shards import VideoClipShardDataset
from signssl.errors import ConfigError, DataError
from signssl.eval.class_distribution import load_class_distribution
from signssl.eval.data_splits import read_data, split_names
from signssl.eval.results import EvalResult, make_result
from signssl.eval.shard_data import VIDEO_SHARDS, data_labels
from signssl.losses.class_distribution_kl import class_distribution_kl_loss, smoothed_cross_entropy
from signssl.models.base import Encoder
from signssl.models.hiera import Hiera
from signssl.models.inflate import inflate_cnn_stem, inflate_patch_embed
from signssl.models.video_cnn import VideoCNN
from signssl.optim import WarmupSchedule, build_optimizer, check_optim_values, param_groups
from signssl.store.model import export_model, load_encoder, open_model
from signssl.utils import atomic_path, progress_bar, save_json

HEAD_FILE = "classifier_head.safetensors"
Augment = Callable[[Tensor], Tensor]


@dataclass
class VideoFinetuneConfig:
    """Training settings (defaults: the paper's, module docstring).

    Attributes:
        frames: clip length; the encoder is inflated by ``frames / num_frames``.
        epochs, batch_size: 100, 8.
        lr: peak learning rate (paper value lost; 1e-4).
        weight_decay: 0.5; betas: (0.9, 0.999); layer_decay: 0.85.
        warmup_steps: 1000 iterations of linear warm-up, then cosine decay.
        label_smoothing: 0.1; lambda_cd: λ of Eq. 13 (0.2, used when ``P`` is given).
        grad_clip: 1.0 (0 = off).
        seed: seeds the head, the shuffle and the random clip starts.
        num_workers: DataLoader workers.
    """

    frames: int = 64
    epochs: int = 100
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.5
    betas: tuple[float, float] = (0.9, 0.999)
    layer_decay: float = 0.85
    warmup_steps: int = 1000
    label_smoothing: float = 0.1
    lambda_cd: float = 0.2
    grad_clip: float = 1.0
    seed: int = 0
    num_workers: int = 0

    def __post_init__(self) -> None:
        for name in ("frames", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

        check_optim_values(
            lr=self.lr, weight_decay=self.weight_decay, betas=self.betas,
            layer_decay=self.layer_decay, warmup_steps=self.warmup_steps,
            label_smoothing=self.label_smoothing, lambda_cd=self.lambda_cd,
            grad_clip=self.grad_clip,
        )  # fmt: skip
        self.betas = (float(self.betas[0]), float(self.betas[1]))


class VideoClassifier(nn.Module):
    """A linear classifier on the encoder's pooled features: ``(B, 3, T, H, W) -> (B, K)``."""

    def __init__(self, encoder: Encoder, num_classes: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ConfigError(f"recognition needs at least 2 classes, got {num_classes}")
        self.encoder = encoder
        self.head = nn.Linear(int(encoder.out_dim), num_classes)

    def forward(self, clips: Tensor) -> Tensor:
        return self.head(self.encoder.embed(clips))  # (B, D) -> (B, K)


def inflate_for_frames(encoder: Encoder, frames: int) -> dict[str, Any]:
    """Inflate a video encoder in place to take ``frames``-frame clips.

    Returns the constructor overrides that rebuild it (``{}`` when ``frames`` already is
    its clip length).  ``frames`` must be a whole multiple of the encoder's clip length.
    """
    size = getattr(encoder, "input_size", None)
    if size is None:
        raise ConfigError(f"{type(encoder).__name__} is not a video encoder with a clip length")
    factor, rest = divmod(int(frames), int(size[0]))
    if rest or factor < 1:
        raise ConfigError(
            f"--frames {frames} is not a multiple of the encoder's {int(size[0])} frames; use "
            f"{int(size[0])} x an integer (SignRep: 64 = 4 x 16)"
        )
    if factor == 1:
        return {}
    if isinstance(encoder, VideoCNN):
        return inflate_cnn_stem(encoder, factor)
    if not isinstance(encoder, Hiera):
        raise ConfigError(
            f"only Hiera and VideoCNN encoders can be inflated, got {type(encoder).__name__}"
        )
    return inflate_patch_embed(encoder, factor)


def align_class_distribution(P: Any, p_classes: Sequence[str], classes: Sequence[str]) -> Tensor:
    """``P`` reordered to ``classes`` (rows and columns matched by name): ``-> (K, K)``.

    Raises :class:`DataError` when the two class lists differ.
    """
    p_classes, classes = [str(c) for c in p_classes], [str(c) for c in classes]
    if sorted(p_classes) != sorted(classes) or len(set(classes)) != len(classes):
        missing = sorted(set(classes) - set(p_classes))[:5]
        extra = sorted(set(p_classes) - set(classes))[:5]
        raise DataError(
            f"the class distribution's classes differ from the training classes (missing "
            f"{missing}, extra {extra}); compute it on the same training split "
            "(signssl class-distribution)"
        )
    order = torch.tensor([p_classes.index(c) for c in classes], dtype=torch.long)
    P = torch.as_tensor(np.asarray(P), dtype=torch.float32)
    return P[order][:, order]  # (K, K) rows, then columns, in the classifier's order


def recognition_loss(
    logits: Tensor, y: Tensor, P: Tensor | None, lam: float, label_smoothing: float
) -> Tensor:
    """CE with label smoothing, plus Eq. 13's class-distribution term when ``P`` is given."""
    if P is None or lam == 0:
        return smoothed_cross_entropy(logits, y, label_smoothing)
    return class_distribution_kl_loss(logits, y, P.to(logits.device), lam, label_smoothing)


@dataclass
class VideoFinetuneResult:
    """What :func:`finetune_video` returns.

    Attributes:
        model: the fine-tuned classifier (encoder + head).
        classes: the classifier's class names.
        history: per epoch ``{"epoch", "loss", "lr", "seconds"}``.
        result: test scores and metrics (``None`` without test data).
        model_kwargs: constructor overrides of the (inflated) encoder.
    """

    model: VideoClassifier
    classes: list[str]
    history: list[dict[str, float]]
    result: EvalResult | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return {} if self.result is None else dict(self.result.metrics)


def _label_map(dataset: Any, classes: list[str]) -> Tensor:
    """Dataset label index -> classifier class (-1 = a class the head does not have)."""
    index = {c: i for i, c in enumerate(classes)}
    return torch.tensor([index.get(str(n), -1) for n in dataset.classes], dtype=torch.long)


def _targets(labels: Tensor, label_map: Tensor) -> Tensor:
    ok = (labels >= 0) & (labels < label_map.numel())
    return torch.where(ok, label_map[labels.clamp(0, label_map.numel() - 1)], -1)


def _clips(batch: dict[str, Any], device: torch.device, augment: Augment | None) -> Tensor:
    video = batch["video"].to(device, non_blocking=True)  # (B, T, 3, H, W)
    if augment is not None:
        video = augment(video)  # (B, T, 3, H, W) float in [0, 1]
    return video.permute(0, 2, 1, 3, 4)  # (B, T, 3, H, W) -> (B, 3, T, H, W)


def _loader(dataset: Any, batch_size: int, shuffle: bool, seed: int, workers: int) -> Any:
    from torch.utils.data import DataLoader

    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate_videos,
        num_workers=workers,
        generator=generator,
    )


def _optimizer(
    model: VideoClassifier, cfg: VideoFinetuneConfig, total_steps: int
) -> tuple[Any, Any]:
    groups = param_groups(model, model.encoder, cfg.lr, cfg.weight_decay, cfg.layer_decay)
    opt = build_optimizer(groups, "adamw", cfg.lr, betas=cfg.betas)
    schedule = WarmupSchedule(total_steps=total_steps, warmup_steps=cfg.warmup_steps)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule)


def finetune_video(
    encoder: Encoder,
    train_data: Any,
    test_data: Any | None = None,
    classes: Sequence[str] | None = None,
    config: VideoFinetuneConfig | None = None,
    class_distribution: Any | None = None,
    augment: Augment | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> VideoFinetuneResult:
    """Fine-tune ``encoder`` (inflated in place to ``config.frames``) + a linear head.

    Args:
        encoder: a video encoder (modified in place).
        train_data / test_data: :class:`~signssl.data.video.VideoDataset` s giving
            ``config.frames``-frame clips at the encoder's frame size (``classes``
            attribute: their label names).
        classes: classifier classes (default: the training set's).
        class_distribution: a :class:`~signssl.eval.class_distribution.ClassDistribution`
            (``P``, ``tau``, ``classes``) turning on Eq. 13's term with λ = ``lambda_cd``.
        augment: training-batch hook (module docstring).
        device: default CUDA when available, else CPU.
    """
    cfg = config or VideoFinetuneConfig()
    classes = [str(c) for c in (classes if classes is not None else train_data.classes)]
    dev = (
        torch.device(device)
        if device is not None
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    overrides = inflate_for_frames(encoder, cfg.frames)
    torch.manual_seed(cfg.seed)
    model = VideoClassifier(encoder, len(classes)).to(dev)
    P = None
    if class_distribution is not None and cfg.lambda_cd > 0:
        P = align_class_distribution(class_distribution.P, class_distribution.classes, classes)
    loader = _loader(train_data, cfg.batch_size, True, cfg.seed, cfg.num_workers)
    steps = cfg.epochs * max(1, len(loader))
    opt, sched = _optimizer(model, cfg, steps)
    label_map = _label_map(train_data, classes).to(dev)
    history: list[dict[str, float]] = []
    for epoch in progress_bar(range(cfg.epochs), desc="fine-tune", unit="epoch", disable=not progress):
        history.append(
            _train_epoch(model, loader, opt, sched, label_map, P, cfg, augment, dev, epoch)
        )
    result = (
        None
        if test_data is None
        else evaluate_video_classifier(
            model, test_data, classes, cfg.batch_size, dev, cfg.num_workers
        )
    )
    return VideoFinetuneResult(model, classes, history, result, overrides)


def _train_epoch(
    model: VideoClassifier,
    loader: Any,
    opt: Any,
    sched: Any,
    label_map: Tensor,
    P: Tensor | None,
    cfg: VideoFinetuneConfig,
    augment: Augment | None,
    dev: torch.device,
    epoch: int,
) -> dict[str, float]:
    model.train()
    t0, total, count = time.perf_counter(), 0.0, 0
    for batch in loader:
        y = _targets(batch["label"].to(dev), label_map)  # (B,)
        if not bool((y >= 0).any()):
            continue  # no sample of a known class in this batch
        logits = model(_clips(batch, dev, augment))  # (B, K)
        loss = recognition_loss(logits, y, P, cfg.lambda_cd, cfg.label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        n = int((y >= 0).sum())
        total, count = total + float(loss.detach()) * n, count + n
    if count == 0:
        raise DataError("no training clip has a label of the classifier's classes")
    lr = max(g["lr"] for g in opt.param_groups)
    return {
        "epoch": epoch + 1,
        "loss": total / count,
        "lr": lr,
        "seconds": time.perf_counter() - t0,
    }


@torch.no_grad()
def evaluate_video_classifier(
    model: VideoClassifier,
    dataset: Any,
    classes: Sequence[str],
    batch_size: int = 8,
    device: str | torch.device | None = None,
    num_workers: int = 0,
) -> EvalResult:
    """Top-k per instance / per class of ``model`` on a video dataset (labelled clips)."""
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    model.eval()
    logits, labels, paths, signers = [], [], [], []
    names = [str(c) for c in dataset.classes]
    for batch in _loader(dataset, batch_size, False, 0, num_workers):
        logits.append(model(_clips(batch, dev, None)).float().cpu().numpy())  # (B, K)
        labels += ["" if int(v) < 0 else names[int(v)] for v in batch["label"].tolist()]
        paths += list(batch["path"])
        signers += list(batch["signer"])
    if not logits:
        raise DataError("the recognition test set is empty")
    keep = np.array([lab != "" for lab in labels])  # unlabeled clips are not scored
    return make_result(
        "finetune",
        np.concatenate(logits)[keep],
        list(classes),
        np.array(labels)[keep],
        np.array(paths)[keep],
        np.array(signers)[keep],
    )


# ----------------------------------------------------------------------------- from a run


VideoData = Manifest | ShardIndex  # a video manifest, or a video shard folder's index


def open_video_data(data: str | Path) -> VideoData:
    """The video manifest of ``data`` (:func:`~signssl.data.signrep.require_video_manifest`)
    or, for a shard folder, its index; :class:`ConfigError` for pose shards."""
    index = read_data(data)
    if isinstance(index, Manifest):
        return require_video_manifest(index, data)
    if index.kind != VIDEO_KIND:
        raise ConfigError(f"{index.root}: this shard folder holds pose clips; finetune-video reads "
                          f"videos: pass the video manifest, or video shards written by `{VIDEO_SHARDS}`")
    return index


def check_splits(data: VideoData, where: str | Path, splits: Sequence[str]) -> None:
    """:class:`ConfigError` when ``data`` has no row (shards: no shard) of one of ``splits``."""
    shards = isinstance(data, ShardIndex)
    have = split_names(data)
    missing = [s for s in splits if s not in have]
    if missing:
        raise ConfigError(
            f"{where}: no {'shards' if shards else 'rows'} of split(s) {missing} (splits: "
            f"{sorted(have)}); make a signer-independent split with `signssl manifest split`"
            + (" and re-shard the manifest" if shards else "")
        )


def check_video_encoder(reads_video: bool, checkpoint: str | Path, data: VideoData) -> None:
    """:class:`ConfigError` unless the run's encoder reads video (naming the shard folder)."""
    if reads_video:
        return
    if isinstance(data, ShardIndex):
        raise ConfigError(f"{data.root}: video shards hold videos, and the encoder of {checkpoint} "
                          "reads poses: finetune-video fine-tunes a video encoder run (its "
                          'model/config.json has "modality": "video")')
    raise ConfigError(
        f"{checkpoint}: finetune-video needs a video encoder run (its "
        'model/config.json has no "modality": "video")'
    )


def _video_dataset(
    data: VideoData,
    frames: int,
    size: tuple[int, int],
    spec: Any,
    split: str,
    classes: list[str],
    sampling: str,
    seed: int,
) -> tuple[VideoDataset, ItemReport]:
    """The rows of ``split`` of a video manifest or of a video shard folder's shards of
    ``split`` (the same rows and samples), checked once."""
    options: dict[str, Any] = {
        "clip_len": frames, "sampling": sampling, "frame_step": spec.frame_step, "fps": spec.fps,
        "size": size, "split": split, "classes": classes, "on_error": "skip", "seed": seed,
    }  # fmt: skip
    ds = (VideoClipShardDataset(data.root, **options) if isinstance(data, ShardIndex)
          else VideoDataset(data, **options))  # fmt: skip
    report = ds.scan(progress=False)
    if len(ds) == 0:
        raise DataError(f"no usable video in the '{split}' split ({report.summary()})")
    return ds, report


def run_finetune_video(
    checkpoint: str | Path,
    manifest: str | Path,
    out_dir: str | Path,
    config: VideoFinetuneConfig | None = None,
    class_distribution: str | Path | None = None,
    train_split: str = "train",
    test_split: str = "test",
    augment: bool = False,
    device: str | None = None,
    progress: bool = True,
) -> VideoFinetuneResult:
    """``signssl finetune-video``: fine-tune a run's encoder on the splits of a video
    manifest, or on the shards of those splits of a video shard folder (``manifest``).

    Writes ``OUT/metrics.json`` (test metrics, per-epoch history, settings, skipped clips)
    and ``OUT/model/`` (the fine-tuned, inflated encoder, rebuilt by
    :func:`signssl.store.model.load_model`, + ``classifier_head.safetensors``; its
    ``config.json`` lists the classes).
    """
    from safetensors.torch import save_file

    cfg = config or VideoFinetuneConfig()
    data = open_video_data(manifest)
    check_splits(data, manifest, (train_split, test_split))
    dist = None if class_distribution is None else load_class_distribution(class_distribution)
    stored = open_model(checkpoint)
    check_video_encoder(stored.description.reads_video, checkpoint, data)
    encoder, spec = load_encoder(stored), stored.description.data_spec
    size = spec.frame_size or tuple(int(v) for v in encoder.input_size[1:])  # type: ignore[union-attr]
    all_classes = data_labels(data)  # test classes unseen in training count as misses
    train_ds, train_rep = _video_dataset(
        data, cfg.frames, size, spec, train_split, all_classes, "random", cfg.seed
    )
    classes = train_ds.manifest.labels()  # the classifier's classes: the training split's
    test_ds, test_rep = _video_dataset(
        data, cfg.frames, size, spec, test_split, all_classes, "center", cfg.seed
    )
    hook = None
    if augment:
        hook = VideoAugment(size)
    res = finetune_video(encoder, train_ds, test_ds, classes, cfg, dist, hook, device, progress)
    out = Path(out_dir)
    kwargs = {**stored.description.kwargs, **res.model_kwargs}
    model_dir = export_model(
        res.model.encoder.cpu(),
        out / "model",
        stored.description.name,
        kwargs,
        modality="video",
        input_size=list(encoder.input_size),  # type: ignore[attr-defined]
        frame_step=spec.frame_step,
        fps=spec.fps,
        classes=classes,
        task="recognition",
        source=str(Path(checkpoint).resolve()),
    )
    with atomic_path(model_dir / HEAD_FILE) as tmp:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in res.model.head.state_dict().items()},
            str(tmp),
        )
    save_json(
        out / "metrics.json",
        {
            **res.metrics,
            "classes": classes,
            "history": res.history,
            "config": {
                **asdict(cfg),
                "class_distribution": None
                if class_distribution is None
                else str(class_distribution),
                "augment": bool(augment),
            },
            "skipped_clips": {"train": train_rep.num_problems, "test": test_rep.num_problems},
            "per_signer": res.result.per_signer if res.result is not None else {},
        },
    )
    return res
