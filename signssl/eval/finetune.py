"""Fine-tuning: the encoder plus a linear head, trained end to end with labels.

A small Lightning module (:class:`FinetuneModule`) wraps any
:class:`~signssl.models.Encoder`: ``logits = head(encoder.embed(batch))``, cross-entropy
with optional label smoothing, AdamW or SGD (momentum 0.9) with linear warm-up and
cosine decay per step.  :func:`finetune_eval` trains it on one pose dataset and scores another,
returning the same :class:`~signssl.eval.results.EvalResult` as the frozen protocols.

Label indices are mapped *by name* onto the training class list, so a test set whose
dataset numbers its classes differently (another manifest: transfer) is scored correctly;
test classes the head does not know count as misses (``n_label_absent``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch import Tensor, nn

from signssl.data import pose_loader
from signssl.errors import ConfigError, DataError
from signssl.eval.features import _batch_labels, _batch_list, dataset_label_names
from signssl.eval.results import EvalResult, make_result
from signssl.models.base import Encoder
from signssl.optim import check_optim_values
from signssl.progress import StepProgress


class FinetuneModule(L.LightningModule):
    """Encoder + linear head trained with (label-smoothed) cross-entropy.

    Args:
        encoder: the encoder to fine-tune (``freeze_encoder`` keeps it fixed).
        num_classes: size of the head.
        label_map: ``(K_dataset,)`` long, dataset label index -> head class (-1 = ignore).
        optimizer: ``"adamw"`` or ``"sgd"`` (momentum 0.9).
        lr / weight_decay: optimiser settings; the head uses ``lr * head_lr_scale``.
        label_smoothing: cross-entropy label smoothing in ``[0, 1)``.
        warmup_steps / total_steps: linear warm-up, then (per step) cosine decay to 0
            (``schedule="cosine"``) or step decay (``"step"``: the rate is multiplied by
            ``step_gamma`` at each fraction of ``total_steps`` in ``step_milestones``, as in
            MASA's fine-tuning recipe).
    """

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        label_map: Tensor | None = None,
        optimizer: Literal["adamw", "sgd"] = "adamw",
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        label_smoothing: float = 0.0,
        warmup_steps: int = 0,
        total_steps: int = 1000,
        head_lr_scale: float = 1.0,
        freeze_encoder: bool = False,
        schedule: Literal["cosine", "step"] = "cosine",
        step_milestones: Sequence[float] = (0.5, 0.75),
        step_gamma: float = 0.1,
    ) -> None:
        super().__init__()
        if optimizer not in ("adamw", "sgd"):
            raise ConfigError(f"optimizer must be 'adamw' or 'sgd', got {optimizer!r}")
        if schedule not in ("cosine", "step"):
            raise ConfigError(f"schedule must be 'cosine' or 'step', got {schedule!r}")
        if any(not 0.0 < m < 1.0 for m in step_milestones):
            raise ConfigError(f"step_milestones are fractions of training in (0, 1), got {step_milestones}")
        self.schedule, self.step_gamma = schedule, float(step_gamma)
        self.step_milestones = sorted(float(m) for m in step_milestones)
        check_optim_values(lr=lr, weight_decay=weight_decay, label_smoothing=label_smoothing,
                           head_lr_scale=head_lr_scale, step_gamma=step_gamma)
        self.encoder = encoder
        self.head = nn.Linear(encoder.out_dim, num_classes)
        self.register_buffer("label_map", label_map if label_map is not None else torch.zeros(0, dtype=torch.long))
        self.optimizer_name, self.lr, self.weight_decay = optimizer, lr, weight_decay
        self.label_smoothing, self.head_lr_scale = label_smoothing, head_lr_scale
        self.warmup_steps, self.total_steps = max(0, warmup_steps), max(1, total_steps)
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            self.encoder.requires_grad_(False)
        #: mean training loss of each finished epoch
        self.epoch_losses: list[float] = []
        self._loss_sum: Tensor | float = 0.0
        self._loss_n = 0

    def forward(self, batch: Any) -> Tensor:
        """``(B, num_classes)`` logits."""
        return self.head(self.encoder.embed(batch))  # (B, D) -> (B, K)

    def targets(self, batch: dict[str, Any]) -> Tensor:
        """Head class per sample ``(B,)`` (-1 = ignored: unlabeled or unknown class)."""
        y = batch["label"].long()
        if self.label_map.numel() == 0:
            return y
        ok = (y >= 0) & (y < self.label_map.numel())
        return torch.where(ok, self.label_map[y.clamp(0, self.label_map.numel() - 1)], -1)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        if self.freeze_encoder:
            self.encoder.eval()
        y = self.targets(batch)
        logits = self(batch)
        if not (y >= 0).any():
            return logits.sum() * 0.0  # no labelled sample in this batch
        loss = nn.functional.cross_entropy(
            logits, y, ignore_index=-1, label_smoothing=self.label_smoothing
        )
        self.log("train_loss", loss, prog_bar=True, batch_size=y.shape[0])
        self._loss_sum = self._loss_sum + loss.detach()  # no device sync per step
        self._loss_n += 1
        return loss

    def on_train_epoch_end(self) -> None:
        if self._loss_n:
            self.epoch_losses.append(float(self._loss_sum) / self._loss_n)
        self._loss_sum, self._loss_n = 0.0, 0

    def configure_optimizers(self) -> Any:
        enc = [p for p in self.encoder.parameters() if p.requires_grad]
        groups = [{"params": list(self.head.parameters()), "lr": self.lr * self.head_lr_scale}]
        if enc:
            groups.append({"params": enc, "lr": self.lr})
        if self.optimizer_name == "adamw":
            opt: torch.optim.Optimizer = torch.optim.AdamW(groups, weight_decay=self.weight_decay)
        else:
            opt = torch.optim.SGD(groups, momentum=0.9, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, self._lr_factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _lr_factor(self, step: int) -> float:
        """Linear warm-up to 1, then cosine decay to 0 at ``total_steps`` (or step decay)."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.schedule == "step":
            passed = sum(step >= m * self.total_steps for m in self.step_milestones)
            return self.step_gamma**passed
        span = max(1, self.total_steps - self.warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - self.warmup_steps) / span)))


def _loader(
    data: Any, batch_size: int, shuffle: bool, seed: int, max_frames: int | None,
    crop: str = "uniform",
) -> Any:
    if isinstance(data, torch.utils.data.Dataset):
        return pose_loader(data, batch_size=batch_size, shuffle=shuffle, seed=seed,
                           max_frames=max_frames, crop=crop)  # type: ignore[arg-type]
    return data


def _label_map(names: Sequence[str] | None, classes: Sequence[str]) -> Tensor | None:
    if names is None:
        return None
    index = {c: i for i, c in enumerate(classes)}
    return torch.tensor([index.get(n, -1) for n in names], dtype=torch.long)


@torch.no_grad()
def predict_logits(
    module: FinetuneModule, loader: Any, label_names: Sequence[str] | None
) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """``(logits (N, K), labels, paths, signers)`` over a loader of batch dicts."""
    module.eval()
    device = next(module.parameters()).device
    out: list[np.ndarray] = []
    labels: list[str] = []
    paths: list[str] = []
    signers: list[str] = []
    for batch in loader:
        x = {k: v.to(device) if isinstance(v, Tensor) else v for k, v in batch.items()}
        logits = module(x)
        b = logits.shape[0]
        out.append(logits.float().cpu().numpy())
        labels += _batch_labels(batch, b, label_names)
        paths += _batch_list(batch, "path", b)
        signers += _batch_list(batch, "signer", b)
    if not out:
        raise DataError("fine-tuning test set is empty")
    return np.concatenate(out), labels, paths, signers


def finetune_eval(
    encoder: Encoder,
    train_data: Any,
    test_data: Any,
    classes: Sequence[str] | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: Literal["adamw", "sgd"] = "adamw",
    lr: float = 1e-3,
    weight_decay: float = 1e-4,
    label_smoothing: float = 0.1,
    warmup_epochs: float = 1.0,
    freeze_encoder: bool = False,
    max_frames: int | None = 64,
    seed: int = 0,
    accelerator: str = "auto",
    progress: bool = False,
    schedule: Literal["cosine", "step"] = "cosine",
    train_crop: str = "uniform",
    test_crop: str = "uniform",
    step_milestones: Sequence[float] = (0.5, 0.75),
    step_gamma: float = 0.1,
) -> EvalResult:
    """Fine-tune ``encoder`` + a linear head on ``train_data``, score ``test_data``.

    Args:
        encoder: modified in place (pass a fresh copy per run).
        train_data / test_data: pose datasets (batched with ``signssl.data.pose_loader``)
            or loaders of batch dicts with ``label``.  Their class lists come from
            ``dataset.classes`` (or ``manifest.labels()``) and are matched by name.
        classes: head classes; default = the training dataset's class list.
        epochs, batch_size, optimizer, lr, weight_decay, label_smoothing, warmup_epochs:
            training settings (warm-up and cosine decay are per step).
        freeze_encoder: train the head only (a linear probe through the data pipeline).
        seed: seeds the head initialisation and the shuffle.
        schedule: ``"cosine"`` or ``"step"`` (the rate times ``step_gamma`` at each fraction
            of training in ``step_milestones``; default x0.1 at 50 % and 75 %).
        train_crop / test_crop: how clips longer than ``max_frames`` are shortened
            (:func:`signssl.data.collate.crop_indices`; MASA: ``random`` in training,
            ``uniform`` at test).
    Returns:
        :class:`EvalResult` with ``protocol="finetune"``, scores = logits; its metrics also
        hold ``train_loss_first`` / ``train_loss_last``, the mean training loss of the first
        and the last epoch.
    """
    check_optim_values(lr=lr, weight_decay=weight_decay, label_smoothing=label_smoothing,
                       warmup_epochs=warmup_epochs, step_gamma=step_gamma)
    train_names = dataset_label_names(train_data)
    test_names = dataset_label_names(test_data)
    if classes is None:
        if train_names is None:
            raise ConfigError("give `classes`: the training data has no class list")
        classes = list(train_names)
    classes = [str(c) for c in classes]
    if len(classes) < 2:
        raise ConfigError(f"fine-tuning needs at least 2 classes, got {classes}")
    L.seed_everything(seed, workers=True, verbose=False)
    train_loader = _loader(train_data, batch_size, True, seed, max_frames, train_crop)
    test_loader = _loader(test_data, batch_size, False, seed, max_frames, test_crop)
    steps_per_epoch = max(1, len(train_loader))
    module = FinetuneModule(
        encoder, len(classes), _label_map(train_names, classes), optimizer, lr, weight_decay,
        label_smoothing, int(round(warmup_epochs * steps_per_epoch)), epochs * steps_per_epoch,
        freeze_encoder=freeze_encoder, schedule=schedule, step_milestones=step_milestones,
        step_gamma=step_gamma,
    )
    trainer = L.Trainer(
        max_epochs=epochs, accelerator=accelerator, devices=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=progress, enable_model_summary=False,
        gradient_clip_val=1.0, num_sanity_val_steps=0,
        callbacks=[StepProgress("fine-tune")] if progress else [],  # plain lines in a log
    )
    module.train()  # baselines and loaded models come in eval mode
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*GPU available but not used.*")
        trainer.fit(module, train_dataloaders=train_loader)
    logits, labels, paths, signers = predict_logits(module, test_loader, test_names)
    keep = np.array([lab != "" for lab in labels])  # unlabeled test samples are not scored
    return make_result(
        "finetune", logits[keep], classes, np.array(labels)[keep], np.array(paths)[keep],
        np.array(signers)[keep],
        extra={"n_train": len(getattr(train_loader, "dataset", [])), "epochs": int(epochs),
               "train_loss_first": module.epoch_losses[0] if module.epoch_losses else float("nan"),
               "train_loss_last": module.epoch_losses[-1] if module.epoch_losses else float("nan")},
    )
