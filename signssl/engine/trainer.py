"""The Lightning trainer of a pretraining run: one place for its flags, its loggers and
the callbacks every run has (atomic checkpoints, ``RUN/checkpoints/last.ckpt``, the
batch sampler's epoch).
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger, Logger

from signssl.engine.config import TrainerConfig
from signssl.engine.loader import EpochBatchSampler
from signssl.errors import ConfigError
from signssl.progress import StepProgress
from signssl.store.model import CHECKPOINT_DIR, LAST_CKPT, read_checkpoint
from signssl.utils import atomic_path

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
