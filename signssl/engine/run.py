"""One pretraining run: :func:`fit` trains an already built method on an already built
dataset into ``RUN/`` (what tests and benchmarks use), with the run folder's lock,
schedule, summary and logged metrics, and what the pose and the video branch of
:func:`~signssl.engine.pretraining.pretrain` share (the encoder, retrieval validation).
The run directory is described in :mod:`signssl.store.model`.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.utils.data import Dataset

from signssl.data import Manifest
from signssl.distributed import launched_as_rank_zero
from signssl.engine.config import PretrainConfig
from signssl.engine.datasets import read_manifest
from signssl.engine.loader import ResumableLoader, batch_sampler_for
from signssl.engine.module import PretrainModule
from signssl.engine.trainer import build_trainer
from signssl.engine.validation import BEST_DIR, RetrievalValidation
from signssl.errors import ConfigError
from signssl.models import create_model
from signssl.store.model import (
    CHECKPOINT_DIR,
    LAST_CKPT,
    MODEL_DIR,
    export_extras,
    last_checkpoint,
    load_described_model,
    read_checkpoint,
    write_model,
)
from signssl.store.spec import ModelDescription
from signssl.utils import folder_lock, save_json, warn

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


# ----------------------------------------------------------------------------- data


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
    export: ModelDescription | Mapping[str, Any] | None = None,
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
        export: the encoder's description (or its ``config.json`` mapping) to export it
            with to ``RUN/model`` at the end; ``None`` skips the export.
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
                result.model_dir = write_model(
                    method.encoder, run_dir / MODEL_DIR, ModelDescription.of(export)
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


# ----------------------------------------------------------------------------- encoder, validation


def build_encoder(cfg: PretrainConfig) -> tuple[nn.Module, str, dict[str, Any]]:
    """The encoder of ``cfg.model`` (initialised from ``model.init`` when set).

    Returns ``(encoder, registered name, kwargs)`` — what the export records.
    """
    if cfg.model.init:
        encoder, saved = load_described_model(cfg.model.init)
        return encoder.train(), saved.name, dict(saved.kwargs)
    return create_model(cfg.model.name, **cfg.model.kwargs), cfg.model.name, dict(cfg.model.kwargs)


def validation_callbacks(
    cfg: PretrainConfig, data: str | Path | Any, out: Path, description: ModelDescription
) -> list[Callback]:
    """``[RetrievalValidation]`` when ``trainer.val_every_n_steps > 0``, else ``[]``: clips
    read as ``description`` says, the best encoder exported with it."""
    every = cfg.trainer.val_every_n_steps
    if every <= 0:
        return []
    manifest = data if isinstance(data, Manifest) else read_manifest(Path(data))
    return [
        RetrievalValidation(
            manifest, description.data_spec, every, out / BEST_DIR, description,
            split=cfg.trainer.val_split,
        )
    ]


# ----------------------------------------------------------------------------- resume


def _keep_previous_metrics(run_dir: Path) -> None:
    """Before a resumed session: ``metrics.csv`` -> ``metrics.part<k>.csv`` (the CSV
    logger would otherwise replace it)."""
    current = run_dir / CSV_DIR / "metrics.csv"
    if current.is_file():
        k = len(list(current.parent.glob("metrics.part*.csv"))) + 1
        current.rename(current.parent / f"metrics.part{k}.csv")
