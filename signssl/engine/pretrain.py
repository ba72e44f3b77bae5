"""The pretraining composition root: config -> data, encoder, method -> Lightning -> RUN/.

:func:`pretrain` builds everything from a :class:`~signssl.engine.config.PretrainConfig`
and a manifest; :func:`fit` trains an already built method on an already built dataset
(what tests and benchmarks use).  Both write the run directory described in
:mod:`signssl.store.model`.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.util
import json
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger, Logger
from torch import nn
from torch.utils.data import Dataset

from signssl.data import Manifest, collate_poses, select_split
from signssl.data.signrep import PairClipDataset, collate_pairs, require_video_manifest
from signssl.distributed import launched_as_rank_zero
from signssl.engine.config import PretrainConfig, TrainerConfig
from signssl.engine.datasets import build_dataset, read_manifest, sources_for_pretraining
from signssl.engine.loader import EpochBatchSampler, ResumableLoader, batch_sampler_for, seed_all
from signssl.engine.module import PretrainModule
from signssl.engine.validation import BEST_DIR, RetrievalValidation
from signssl.errors import ConfigError, DataError
from signssl.methods import create_method
from signssl.methods.registry import method_modality
from signssl.models import create_model
from signssl.progress import StepProgress
from signssl.store.model import (
    CHECKPOINT_DIR,
    LAST_CKPT,
    MODEL_DIR,
    export_extras,
    export_model,
    last_checkpoint,
    load_model,
    load_model_config,
    read_checkpoint,
)
from signssl.store.spec import DataSpec
from signssl.utils import atomic_path, folder_lock, save_json, warn

SUMMARY_FILE = "summary.json"
CSV_DIR = "logs/csv"


@dataclass
class PretrainResult:
    """What a run did (also written to ``RUN/summary.json``)."""

    run_dir: Path
    model_dir: Path | None
    global_step: int
    epochs: int
    total_steps: int
    steps_per_epoch: int
    clips: int
    skipped: int = 0
    final_loss: float | None = None
    collapse_std: float | None = None
    seconds: float = 0.0
    resumed_from_step: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["run_dir"] = str(self.run_dir)
        out["model_dir"] = None if self.model_dir is None else str(self.model_dir)
        return out


# ----------------------------------------------------------------------------- callbacks


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint I/O: atomic save (temp file + rename), ``weights_only`` load."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None
    ) -> None:
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)

    def load_checkpoint(
        self,
        path: str | Path,
        map_location: Any | None = None,
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        return read_checkpoint(path)


class LastCheckpoint(Callback):
    """Writes ``RUN/checkpoints/last.ckpt`` every ``every_n_steps`` steps, after each
    epoch's last batch and after the run's last step.

    Always saved at ``on_train_batch_end`` (after the optimiser, schedule and momentum
    updates of the step), never at ``on_train_epoch_end``: there Lightning's loop state
    marks the epoch processed but not completed, and a step-based run resumed from it
    trains one extra batch in the old epoch and then repeats the new epoch's first batch.
    The write is atomic (``SafeCheckpointIO``).
    """

    def __init__(self, path: Path, every_n_steps: int) -> None:
        self.path = Path(path)
        self.every_n_steps = max(1, int(every_n_steps))
        self._saved_step = -1

    def _save(self, trainer: L.Trainer) -> None:
        if trainer.global_step == self._saved_step or trainer.sanity_checking:
            return
        trainer.save_checkpoint(self.path, weights_only=False)
        self._saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        if step % self.every_n_steps == 0 or trainer.is_last_batch or step >= trainer.max_steps:
            self._save(trainer)


class EpochSetter(Callback):
    """Tells the batch sampler the epoch (Lightning only reaches ``batch_sampler.sampler``).

    Called at ``on_train_epoch_start``, before the epoch's iterator is created; a run
    resumed mid-epoch gets its epoch from the loader's saved state instead.
    """

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        sampler = getattr(trainer.train_dataloader, "batch_sampler", None)
        if isinstance(sampler, EpochBatchSampler):
            sampler.set_epoch(trainer.current_epoch)


class _PretrainData(L.LightningDataModule):
    """Builds the resumable loader once the trainer knows this process's rank."""

    def __init__(
        self,
        dataset: Dataset,
        global_batch: int,
        collate_fn: Callable[[list[Any]], Any] | None,
        num_workers: int,
        seed: int,
    ) -> None:
        super().__init__()
        self.dataset = dataset
        self.global_batch = global_batch
        self.collate_fn = collate_fn
        self.num_workers = num_workers
        self.seed = seed

    def train_dataloader(self) -> ResumableLoader:
        world = self.trainer.world_size if self.trainer is not None else 1
        rank = self.trainer.global_rank if self.trainer is not None else 0
        sampler = batch_sampler_for(  # a mixture of sources draws its own epoch order
            self.dataset, self.global_batch // world, seed=self.seed, rank=rank, world_size=world
        )
        return ResumableLoader(
            self.dataset,
            sampler,
            collate_fn=self.collate_fn,
            num_workers=self.num_workers,
            pin_memory=torch.cuda.is_available(),
        )


# ----------------------------------------------------------------------------- trainer


def resolve_accelerator(name: str) -> str:
    """``auto`` -> ``gpu`` when CUDA is available, else ``cpu``."""
    if name == "auto":
        return "gpu" if torch.cuda.is_available() else "cpu"
    if name in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={name} but no CUDA device is visible; use cpu")
    return name


def resolve_precision(precision: str, accelerator: str) -> str:
    """``auto`` -> bf16/16 mixed on GPU, 32-bit on CPU; mixed on CPU is refused."""
    on_gpu = accelerator in ("gpu", "cuda")
    if precision == "auto":
        if not on_gpu:
            return "32-true"
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    if "mixed" in precision and not on_gpu:
        raise ConfigError(
            f"trainer.precision={precision} needs a GPU; use 'auto' or '32-true' on {accelerator}"
        )
    return precision


def build_loggers(run_dir: Path, flush_every_n_steps: int = 100) -> list[Logger]:
    """CSV always (``RUN/logs/csv/metrics.csv``); TensorBoard when it is installed.

    The CSV is flushed as often as checkpoints are written, so a killed run loses at most
    the rows of the steps it will redo.
    """
    loggers: list[Logger] = [
        CSVLogger(run_dir, name="logs", version="csv", flush_logs_every_n_steps=flush_every_n_steps)
    ]
    if importlib.util.find_spec("tensorboard") is not None:
        from lightning.pytorch.loggers import TensorBoardLogger

        loggers.append(TensorBoardLogger(run_dir, name="logs", version="tensorboard"))
    return loggers


class _DropAdverts(logging.Filter):
    """Drops Lightning's advertisement lines from its info log (no download suggestions)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in str(record.getMessage()).lower()


def _quiet_lightning() -> None:
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropAdverts) for f in log.filters):
        log.addFilter(_DropAdverts())


def build_trainer(
    t: TrainerConfig,
    run_dir: Path,
    total_steps: int,
    grad_clip: float | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
) -> L.Trainer:
    """A Lightning trainer for ``total_steps`` optimiser steps (one place for all flags)."""
    accelerator = resolve_accelerator(t.accelerator)
    strategy: Any = t.strategy
    if t.strategy in ("ddp", "ddp_spawn") and accelerator == "cpu":
        from lightning.pytorch.strategies import DDPStrategy

        strategy = DDPStrategy(
            process_group_backend="gloo", start_method="spawn" if t.strategy == "ddp_spawn" else "popen"
        )
    _quiet_lightning()
    show_progress = t.progress_bar if progress is None else progress
    all_callbacks: list[Callback] = [
        EpochSetter(),
        LastCheckpoint(run_dir / CHECKPOINT_DIR / LAST_CKPT, t.checkpoint_every_n_steps),
        *callbacks,
    ]
    if show_progress:  # redrawn on a terminal, a plain line every 30 s in a log
        all_callbacks.append(StepProgress())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        return L.Trainer(
            accelerator=accelerator,
            devices=t.devices,
            num_nodes=t.num_nodes,
            strategy=strategy,
            precision=resolve_precision(t.precision, accelerator),
            max_epochs=-1,
            max_steps=total_steps,
            gradient_clip_val=grad_clip,
            deterministic="warn" if (t.deterministic and accelerator != "cpu") else t.deterministic,
            logger=build_loggers(run_dir, t.checkpoint_every_n_steps),
            callbacks=all_callbacks,
            enable_checkpointing=False,
            enable_progress_bar=show_progress,
            enable_model_summary=False,
            log_every_n_steps=t.log_every_n_steps,
            num_sanity_val_steps=0,
            use_distributed_sampler=False,
            plugins=[SafeCheckpointIO()],
            default_root_dir=run_dir,
        )


# ----------------------------------------------------------------------------- fit


def schedule_lengths(num_items: int, cfg: PretrainConfig) -> tuple[int, int, int]:
    """``(steps_per_epoch, total_steps, warmup_steps)`` for ``num_items`` clips."""
    steps_per_epoch = num_items // cfg.data.batch_size
    if steps_per_epoch < 1:
        raise ConfigError(
            f"the dataset has {num_items} clips, fewer than one batch of "
            f"data.batch_size={cfg.data.batch_size}: lower the batch size or add data"
        )
    t = cfg.trainer
    by_epochs = t.max_epochs * steps_per_epoch if t.max_epochs > 0 else None
    by_steps = t.max_steps if t.max_steps > 0 else None
    total = min(v for v in (by_epochs, by_steps) if v is not None)
    return steps_per_epoch, total, min(_warmup_steps(cfg, steps_per_epoch), total)


def _warmup_steps(cfg: PretrainConfig, steps_per_epoch: int) -> int:
    """Learning-rate warmup steps as configured (``optim.warmup_steps``, else
    ``optim.warmup_epochs`` epochs), before the run's length caps them."""
    o = cfg.optim
    return int(o.warmup_steps if o.warmup_steps is not None else round(o.warmup_epochs * steps_per_epoch))


def warmup_warning(num_items: int, cfg: PretrainConfig) -> str | None:
    """What to change when learning-rate warmup takes more than half of the run's optimiser
    steps (the rate then stays below ``optim.lr`` for most of the run, or all of it, and a
    short run barely trains); ``None`` otherwise."""
    steps_per_epoch, total, _ = schedule_lengths(num_items, cfg)
    warmup = _warmup_steps(cfg, steps_per_epoch)
    if 2 * warmup <= total:
        return None
    o, t = cfg.optim, cfg.trainer
    setting = (f"optim.warmup_steps={o.warmup_steps}" if o.warmup_steps is not None
               else f"optim.warmup_epochs={o.warmup_epochs:g}")  # fmt: skip
    effect = ("never reaches optim.lr" if warmup >= total
              else "stays below optim.lr for more than half of the run")  # fmt: skip
    longer = f"trainer.max_epochs >= {math.ceil(2 * warmup / steps_per_epoch)}"
    if 0 < t.max_steps < (t.max_epochs * steps_per_epoch if t.max_epochs > 0 else math.inf):
        longer = f"trainer.max_steps >= {2 * warmup}"
    shorter = "optim.warmup_steps" if o.warmup_steps is not None else "optim.warmup_epochs"
    return (
        f"learning-rate warmup is {warmup} steps ({setting}, {steps_per_epoch} steps per "
        f"epoch) but the run has {total}: the rate {effect} and the encoder may barely "
        f"train; set {longer} or lower {shorter}"
    )


def lock_run_dir(run_dir: Path) -> contextlib.AbstractContextManager[Path | None]:
    """One job per run directory (:func:`signssl.utils.folder_lock`): a second raises
    :class:`~signssl.errors.FolderInUseError` at once.  The extra processes of a
    multi-device launch, which rerun the command, do not take it."""
    if not launched_as_rank_zero():
        return contextlib.nullcontext()
    return folder_lock(run_dir, "pretraining run")


def check_run_dir(run_dir: Path, resume: bool) -> Path | None:
    """The checkpoint to resume from (``None`` for a fresh run); refuses to overwrite."""
    ckpt = last_checkpoint(run_dir)
    if resume:
        if ckpt is None:
            raise ConfigError(
                f"--resume: {run_dir / CHECKPOINT_DIR / LAST_CKPT} not found; "
                "start a new run without --resume"
            )
        return ckpt
    if ckpt is not None or (run_dir / MODEL_DIR).exists():
        raise ConfigError(
            f"{run_dir} already holds a run; pass --resume to continue it or choose another --out"
        )
    return None


def fit(
    method: nn.Module,
    dataset: Dataset,
    cfg: PretrainConfig,
    run_dir: str | Path,
    *,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    resume: bool = False,
    export: dict[str, Any] | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
    skipped: int = 0,
) -> PretrainResult:
    """Train ``method`` on ``dataset`` as ``cfg`` says, writing ``run_dir``.

    Args:
        method: see :mod:`signssl.engine.module`.
        dataset: map-style dataset of samples that ``collate_fn`` batches.
        cfg: resolved configuration (saved to ``RUN/config.yaml``).
        run_dir: the run directory.
        resume: continue from ``RUN/checkpoints/last.ckpt`` (exactly: same weights as an
            uninterrupted run).
        export: ``{"name": ..., "kwargs": ..., **meta}`` to export the encoder to
            ``RUN/model`` at the end; ``None`` skips the export.
        callbacks: extra Lightning callbacks.
        progress: show a progress bar (default ``cfg.trainer.progress_bar``).
        skipped: clips the dataset left out, reported in the summary.
    """
    run_dir = Path(run_dir)
    with lock_run_dir(run_dir):
        ckpt = check_run_dir(run_dir, resume)
        steps_per_epoch, total, warmup = schedule_lengths(len(dataset), cfg)
        run_warnings = [w for w in [warmup_warning(len(dataset), cfg)] if w]
        if launched_as_rank_zero():
            for message in run_warnings:
                warn(f"{run_dir}: {message}")
        module = PretrainModule(
            method, total_steps=total, warmup_steps=warmup, optim=_optim_kwargs(cfg), seed=cfg.trainer.seed
        )
        # with two optimisers the module clips each itself (manual optimisation)
        grad_clip = cfg.optim.grad_clip if module.automatic_optimization else None
        data = _PretrainData(
            dataset, cfg.data.batch_size, collate_fn, cfg.data.num_workers, cfg.trainer.seed
        )
        with _keep_torch_flags():  # the Trainer switches deterministic algorithms on process-wide
            trainer = build_trainer(cfg.trainer, run_dir, total, grad_clip, callbacks, progress)
            if trainer.is_global_zero:
                run_dir.mkdir(parents=True, exist_ok=True)
                cfg.save(run_dir / "config.yaml")
            resumed_from = None
            if ckpt is not None:
                resumed_from = int(read_checkpoint(ckpt).get("global_step", 0))
                if trainer.is_global_zero:
                    _keep_previous_metrics(run_dir)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*does not have many workers.*")
                warnings.filterwarnings("ignore", message=".*is smaller than the logging interval.*")
                warnings.filterwarnings("ignore", message=".*Previous log files in this directory.*")
                warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
                trainer.fit(module, datamodule=data, ckpt_path=ckpt, weights_only=True)
        seconds = time.perf_counter() - start
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
        result = PretrainResult(
            run_dir=run_dir,
            model_dir=None,
            global_step=int(trainer.global_step),
            epochs=int(trainer.current_epoch),
            total_steps=total,
            steps_per_epoch=steps_per_epoch,
            clips=len(dataset),
            skipped=skipped,
            final_loss=metrics.get("train/loss"),
            collapse_std=metrics.get("train/collapse_std"),
            seconds=seconds,
            resumed_from_step=resumed_from,
            metrics=metrics,
            warnings=run_warnings,
        )
        if trainer.is_global_zero:
            if export is not None:
                meta = dict(export)
                result.model_dir = export_model(
                    method.encoder, run_dir / MODEL_DIR, meta.pop("name"), meta.pop("kwargs", {}), **meta
                )
                export_extras(method, result.model_dir)
            save_json(run_dir / SUMMARY_FILE, result.to_dict())
        return result


@contextlib.contextmanager
def _keep_torch_flags() -> Iterator[None]:
    """Restore ``torch.use_deterministic_algorithms`` as it was (library code running in
    someone else's process must not leave it changed)."""
    state = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(state[0], warn_only=state[1])


def _optim_kwargs(cfg: PretrainConfig) -> dict[str, Any]:
    o = cfg.optim
    return {
        "name": o.name,
        "lr": o.lr,
        "weight_decay": o.weight_decay,
        "momentum": o.momentum,
        "nesterov": o.nesterov,
        "betas": tuple(o.betas),
        "eps": o.eps,
        "schedule": o.schedule,
        "min_lr": o.min_lr,
        "layer_decay": o.layer_decay,
        "grad_clip": o.grad_clip,
    }


# ----------------------------------------------------------------------------- pretrain


def build_encoder(cfg: PretrainConfig) -> tuple[nn.Module, str, dict[str, Any]]:
    """The encoder of ``cfg.model`` (initialised from ``model.init`` when set).

    Returns ``(encoder, registered name, kwargs)`` — what the export records.
    """
    if cfg.model.init:
        saved = load_model_config(cfg.model.init)
        encoder = load_model(cfg.model.init).train()
        return encoder, saved["name"], dict(saved.get("kwargs", {}))
    return create_model(cfg.model.name, **cfg.model.kwargs), cfg.model.name, dict(cfg.model.kwargs)


def check_encoder_matches_data(encoder: nn.Module, cfg: PretrainConfig) -> None:
    """The encoder's joint layout, coordinates and frame budget must fit ``cfg.data``."""
    d = cfg.data
    layout = getattr(getattr(encoder, "layout", None), "name", None)
    if layout is not None and layout != d.layout:
        raise ConfigError(
            f"model layout '{layout}' differs from data.layout '{d.layout}': "
            f"--set model.kwargs.layout={d.layout} (or data.layout={layout})"
        )
    in_dims = getattr(encoder, "in_dims", None)
    if isinstance(in_dims, int) and in_dims != d.dims:
        raise ConfigError(
            f"model takes {in_dims}-D joints but data.dims={d.dims}: "
            f"--set model.kwargs.in_dims={d.dims} (or data.dims={in_dims})"
        )
    max_frames = getattr(encoder, "max_frames", None)
    if isinstance(max_frames, int) and max_frames < d.max_frames:
        raise ConfigError(
            f"model takes at most {max_frames} frames but data.max_frames={d.max_frames}: "
            f"--set model.kwargs.max_frames={d.max_frames} (or data.max_frames={max_frames})"
        )


def pretrain(
    cfg: PretrainConfig,
    data: str | Path | Any,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
) -> PretrainResult:
    """Pretrain ``cfg.method`` on the clips of manifest ``data``; write run dir ``out``.

    With ``cfg.data.sources`` (pose methods) ``data`` is ``None`` and the clips are drawn
    from those sources by weight (:mod:`signssl.engine.sources`).

    The encoder is exported to ``out/model`` (``load_model(out)`` rebuilds it).
    ``resume=True`` continues ``out/checkpoints/last.ckpt`` to the same final weights an
    uninterrupted run reaches.

    Video methods (``signrep``, ``mae``: ``modality = "video"``) read a video manifest
    (:func:`pretrain_video`); the others read pose clips.  With
    ``trainer.val_every_n_steps > 0`` the run is validated by retrieval on held-out
    clips and its best encoder exported to ``out/best`` (:mod:`signssl.engine.validation`).
    """
    out = Path(out)
    with lock_run_dir(out):  # a second job on ``out`` fails before reading any data
        return _pretrain(cfg, data, out, resume=resume, progress=progress, callbacks=callbacks)


def _pretrain(
    cfg: PretrainConfig,
    data: str | Path | Any,
    out: Path,
    *,
    resume: bool,
    progress: bool | None,
    callbacks: Sequence[Callback],
) -> PretrainResult:
    check_run_dir(out, resume)
    seed_all(cfg.trainer.seed)
    show = cfg.trainer.progress_bar if progress is None else progress
    mixed = None
    if cfg.data.sources:  # several sources mixed by weight (signssl.engine.sources)
        video = method_modality(cfg.method.name) == "video"
        cfg, mixed = sources_for_pretraining(cfg, data, video, progress=show)
        data = mixed.first_manifest()  # validation queries (trainer.val_every_n_steps)
    if method_modality(cfg.method.name) == "video":
        return pretrain_video(
            cfg, data, out, resume=resume, progress=progress, callbacks=callbacks, show=show
        )
    dataset, skipped = (mixed.dataset, mixed.skipped) if mixed else build_dataset(cfg, data, progress=show)
    if len(dataset) == 0:
        report = dataset.report()  # type: ignore[attr-defined]
        raise DataError(f"no usable clips in the manifest ({report.summary()}; "
                        f"{report.explain_none_kept()})", str(data))
    encoder, name, kwargs = build_encoder(cfg)
    check_encoder_matches_data(encoder, cfg)
    method = create_method(cfg.method.name, encoder, **cfg.method.kwargs)
    max_frames = cfg.data.max_frames
    export = {
        "name": name,
        "kwargs": kwargs,
        "layout": cfg.data.layout,
        "dims": cfg.data.dims,
        "normalize": cfg.data.normalize,
        "trim_empty": cfg.data.trim_empty,
        "max_frames": max_frames,
        "method": cfg.method.name,
    }
    if mixed is not None:  # what data the encoder saw
        export.update(data_sources=mixed.described, samples_per_epoch=len(dataset))
    spec = DataSpec(cfg.data.layout, cfg.data.dims, cfg.data.normalize, max_frames)
    return fit(
        method,
        dataset,
        cfg,
        out,
        collate_fn=_Collate(max_frames),
        resume=resume,
        export=export,
        callbacks=[*callbacks, *validation_callbacks(cfg, data, spec, out, export)],
        progress=progress,
        skipped=skipped,
    )


def validation_callbacks(
    cfg: PretrainConfig, data: str | Path | Any, spec: DataSpec, out: Path, export: dict[str, Any]
) -> list[Callback]:
    """``[RetrievalValidation]`` when ``trainer.val_every_n_steps > 0``, else ``[]``."""
    every = cfg.trainer.val_every_n_steps
    if every <= 0:
        return []
    manifest = data if isinstance(data, Manifest) else read_manifest(Path(data))
    return [
        RetrievalValidation(
            manifest, spec, every, out / BEST_DIR, export, split=cfg.trainer.val_split
        )
    ]


# ----------------------------------------------------------------------------- video


def build_video_dataset(
    cfg: PretrainConfig,
    data: str | Path | Any,
    encoder: nn.Module,
    priors: bool,
    progress: bool = True,
) -> tuple[Dataset, int]:
    """:class:`~signssl.data.signrep.PairClipDataset` over a video manifest and the number
    of videos skipped (``data.on_error: skip`` checks every row up front).

    Crops have the encoder's ``num_frames`` (``data.video.clip_len`` must agree) and are
    resized to ``data.video.size`` (square) or, by default, the encoder's input size.
    """
    manifest = data if isinstance(data, Manifest) else read_manifest(Path(data))
    manifest = require_video_manifest(manifest, data if not isinstance(data, Manifest) else None)
    d, v = cfg.data, cfg.data.video
    T, H, W = (int(n) for n in encoder.input_size)  # type: ignore[union-attr]
    if v.clip_len is not None and v.clip_len != T:
        raise ConfigError(
            f"data.video.clip_len={v.clip_len} but the encoder takes {T} frames: "
            f"--set data.video.clip_len={T} (or model.kwargs.num_frames={v.clip_len})"
        )
    split = select_split(manifest, d.split, "pretraining (data.split)")  # None: every row
    dataset = PairClipDataset(
        manifest,
        clip_len=T,
        size=(H, W) if v.size is None else (v.size, v.size),
        crops=v.crops,
        priors=priors,
        priors_dir=v.priors_dir,
        bone_lengths=v.bone_lengths,
        frame_step=v.frame_step,
        fps=v.fps,
        split=split,
        on_error=d.on_error,
    )
    skipped = 0
    if d.on_error == "skip":
        skipped = dataset.scan(progress=progress).num_problems
    return dataset, skipped


def pretrain_video(
    cfg: PretrainConfig,
    data: str | Path | Any,
    out: Path,
    *,
    resume: bool = False,
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
    show: bool = True,
) -> PretrainResult:
    """The video branch of :func:`pretrain` (``signrep``, ``mae``).

    Builds the Hiera encoder first (the crops take its input size), the method, then the
    pair dataset (priors only when the method needs them).  ``out/model/config.json``
    records ``modality: video``, ``input_size`` ``[T, H, W]``, ``frame_step`` and ``fps``,
    so evaluation embeds video manifests with it (:mod:`signssl.eval.frozen`).
    """
    encoder, name, kwargs = build_encoder(cfg)
    if not hasattr(encoder, "input_size"):
        raise ConfigError(
            f"method '{cfg.method.name}' trains a video encoder; model '{name}' is not one "
            "(use hiera_base_16x224, hiera_tiny_16x64, cnn_tiny_16x64 or cnn_small_16x128)"
        )
    method = create_method(cfg.method.name, encoder, **cfg.method.kwargs)
    T, H, W = (int(n) for n in encoder.input_size)  # type: ignore[union-attr]
    v = cfg.data.video
    if v.size is not None and (v.size, v.size) != (H, W) and method.augmentation is None:
        raise ConfigError(
            f"data.video.size={v.size} differs from the encoder's {H}x{W} input and no "
            "augmentation crops it back: unset data.video.size or keep augment=true"
        )
    dataset, skipped = build_video_dataset(
        cfg, data, encoder, priors=bool(method.needs_priors), progress=show
    )
    if len(dataset) == 0:
        raise DataError(
            "no usable video in the manifest (check the video and pose paths, and "
            "--set data.split)",
            str(data),
        )
    export = {
        "name": name,
        "kwargs": kwargs,
        "modality": "video",
        "input_size": [T, H, W],
        "frame_step": v.frame_step,
        "fps": v.fps,
        "method": cfg.method.name,
    }
    spec = DataSpec(modality="video", frame_step=v.frame_step, fps=v.fps)
    return fit(
        method,
        dataset,
        cfg,
        out,
        collate_fn=collate_pairs,
        resume=resume,
        export=export,
        callbacks=[*callbacks, *validation_callbacks(cfg, data, spec, out, export)],
        progress=progress,
        skipped=skipped,
    )


class _Collate:
    """Picklable ``collate_poses`` with a fixed ``max_frames`` (for DataLoader workers)."""

    def __init__(self, max_frames: int) -> None:
        self.max_frames = max_frames

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        return collate_poses(samples, max_frames=self.max_frames)


def _keep_previous_metrics(run_dir: Path) -> None:
    """Before a resumed session: ``metrics.csv`` -> ``metrics.part<k>.csv`` (the CSV
    logger would otherwise replace it)."""
    current = run_dir / CSV_DIR / "metrics.csv"
    if current.is_file():
        k = len(list(current.parent.glob("metrics.part*.csv"))) + 1
        current.rename(current.parent / f"metrics.part{k}.csv")


def read_run_metrics(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Logged series of a run, ``{name: [(step, value), ...]}`` sorted by step.

    Sessions of a resumed run are joined; where two sessions logged the same step (the
    steps redone after the last checkpoint) the later session wins.
    """
    csv_dir = Path(run_dir) / CSV_DIR
    parts = sorted(csv_dir.glob("metrics.part*.csv"), key=lambda p: int(p.stem[len("metrics.part"):]))
    series: dict[str, dict[int, float]] = {}
    for path in [*parts, csv_dir / "metrics.csv"]:
        if not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                step = int(row.get("step") or 0)
                for key, value in row.items():
                    if key in ("step", "epoch") or value in ("", None):
                        continue
                    series.setdefault(key, {})[step] = float(value)
    return {k: sorted(v.items()) for k, v in series.items()}


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """``RUN/summary.json`` as a dict."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise DataError("no summary.json: the run has not finished", run_dir)
    return json.loads(path.read_text(encoding="utf-8"))
