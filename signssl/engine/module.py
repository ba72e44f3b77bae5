"""The one LightningModule that pretrains any method.

A *method* is an ``nn.Module`` with ``.encoder`` and ``training_loss(batch) -> dict``
(``"loss"`` to minimise, ``"embedding"`` ``(B, D)`` for the collapse monitor, other
scalar terms are logged) and optionally ``on_step_end(step, max_steps)`` (momentum
updates), called after every optimiser step with ``step`` = optimiser steps completed,
this one included (``1 .. max_steps``), and ``max_steps`` = the run's total.

Two optimisers (SignRep's style discriminator): a method whose
``auxiliary_optimizer()`` returns a dict (``params``, ``name``, ``lr``, ``betas``,
``weight_decay``, ``warmup_steps``; ``None`` values = as the main optimiser) has those
parameters trained by a second optimiser with its own warmup + schedule (same shape and
length as the main one), and its ``training_loss`` returns ``aux_loss`` next to ``loss``.
The two losses must reach disjoint parameter sets (``loss`` none of ``params``,
``aux_loss`` only ``params``).  The module then uses Lightning's manual optimisation:
one backward of ``loss + aux_loss``, gradient clipping of each optimiser's parameters
to ``grad_clip`` separately, the auxiliary step, then the main step; a run step
(``global_step``, ``max_steps``, checkpoints) is one main step.  The auxiliary step
bypasses Lightning's step counter, so ``16-mixed`` precision (a gradient scaler) is
refused for such methods; ``bf16-mixed`` and ``32-true`` work.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from signssl.engine.loader import seed_all, step_seed
from signssl.errors import ConfigError
from signssl.methods.base import normalized_std
from signssl.optim import WarmupSchedule, build_optimizer, param_groups


def collapse_std(embedding: Tensor) -> Tensor:
    """Collapse monitor (docs/methods.md#sl-fpn, SimSiam protocol): std over the batch of the
    L2-normalised ``(B, D)`` embedding, averaged over dimensions
    (:func:`signssl.methods.base.normalized_std`)."""
    return normalized_std(embedding)


class PretrainModule(L.LightningModule):
    """Wraps a method: optimiser, per-step schedule, logging, seeding, momentum hook.

    Args:
        method: the recipe (see module docstring).
        total_steps: optimiser steps of the whole run (the schedule's length).
        warmup_steps: linear-warmup steps.
        optim: ``name``, ``lr``, ``weight_decay``, ``momentum``, ``nesterov``,
            ``betas``, ``eps``, ``schedule``, ``min_lr``, ``layer_decay`` (primitives);
            ``grad_clip`` is applied here only with two optimisers (else by the trainer).
        seed: the run's seed; every step reseeds the global RNGs from
            ``(seed, step, rank)`` so a resumed run draws the same augmentations.
    """

    def __init__(
        self,
        method: nn.Module,
        total_steps: int,
        warmup_steps: int = 0,
        optim: dict[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.method = method
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.optim = dict(optim or {})
        self.seed = int(seed)
        aux = getattr(method, "auxiliary_optimizer", None)
        self.aux_spec: dict[str, Any] | None = aux() if callable(aux) else None
        self.automatic_optimization = self.aux_spec is None

    @property
    def encoder(self) -> nn.Module:
        return self.method.encoder

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Reseed the global RNGs and the method's own augmentation generator (if any)
        from ``(seed, step, rank)``: randomness depends on the step, not on history."""
        seed_all(step_seed(self.seed, self.global_step, self.global_rank))
        generator = getattr(self.method, "generator", None)
        if isinstance(generator, torch.Generator):
            method_seed = int(getattr(self.method, "seed", 0))
            generator.manual_seed(step_seed(self.seed + method_seed, self.global_step, self.global_rank))

    def on_fit_start(self) -> None:
        if not self.automatic_optimization and str(self.trainer.precision) == "16-mixed":
            raise ConfigError(
                f"{type(self.method).__name__} trains two optimisers, which 16-mixed precision "
                "(gradient scaling) does not support here; set trainer.precision to bf16-mixed "
                "or 32-true"
            )

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        out = self.method.training_loss(batch)
        loss = out["loss"]
        batch_size = _batch_size(batch)
        self._log_lr(batch_size)  # the rates this step uses
        if not self.automatic_optimization:
            self._two_optimizer_step(loss, out.get("aux_loss"))
        self.log("train/loss", loss.detach(), prog_bar=True, sync_dist=True, batch_size=batch_size)
        for key, value in out.items():
            skip = key in ("loss", "embedding", "features", "aux_loss")
            if skip or not isinstance(value, Tensor) or value.numel() != 1:
                continue
            self.log(f"train/{key}", value.detach().float(), sync_dist=True, batch_size=batch_size)
        # std * sqrt(D): ~1 healthy, 0 collapsed; head output and encoder output
        for key, prefix in (("embedding", "train/collapse"), ("features", "train/feature_collapse")):
            z = out.get(key)
            if isinstance(z, Tensor) and z.ndim == 2 and z.shape[0] > 1:
                std = collapse_std(z)
                if key == "embedding":
                    self.log(f"{prefix}_std", std, prog_bar=True, batch_size=batch_size)
                self.log(f"{prefix}_ratio", std * math.sqrt(z.shape[1]), batch_size=batch_size)
        return loss if self.automatic_optimization else loss.detach()

    def _log_lr(self, batch_size: int) -> None:
        """``train/lr``: the main optimiser's peak group rate (``train/aux_lr``: the second's)."""
        optimizers = self.optimizers()
        if isinstance(optimizers, list):
            aux_lr = max(group["lr"] for group in optimizers[1].optimizer.param_groups)
            self.log("train/aux_lr", aux_lr, batch_size=batch_size)
            optimizers = optimizers[0]
        lr = max(group["lr"] for group in optimizers.optimizer.param_groups)
        self.log("train/lr", lr, prog_bar=False, batch_size=batch_size)

    def _two_optimizer_step(self, loss: Tensor, aux_loss: Tensor | None) -> None:
        """Manual optimisation with the method's auxiliary optimiser (module docstring)."""
        if not isinstance(aux_loss, Tensor):
            raise ConfigError(
                f"{type(self.method).__name__} declares an auxiliary optimiser but its "
                "training_loss returned no 'aux_loss'"
            )
        main, aux = self.optimizers()
        main.zero_grad(set_to_none=True)
        aux.zero_grad(set_to_none=True)
        self.manual_backward(loss + aux_loss)  # disjoint parameter sets: one backward
        clip = self.optim.get("grad_clip")
        if clip:
            self.clip_gradients(aux, gradient_clip_val=float(clip), gradient_clip_algorithm="norm")
            self.clip_gradients(main, gradient_clip_val=float(clip), gradient_clip_algorithm="norm")
        aux.optimizer.step()  # the plain optimiser: not counted as a run step
        main.step()  # counted: global_step += 1
        for scheduler in self.lr_schedulers():
            scheduler.step()
        hook = getattr(self.method, "on_step_end", None)
        if callable(hook):
            hook(int(self.global_step), self.total_steps)

    def optimizer_step(
        self,
        epoch: int,
        batch_idx: int,
        optimizer: Any,
        optimizer_closure: Any = None,
    ) -> None:
        """Step, then the method's momentum hook (before any checkpoint of this step)."""
        optimizer.step(closure=optimizer_closure)
        hook = getattr(self.method, "on_step_end", None)
        if callable(hook):
            # global_step counts steps before this one: pass the number completed (1..total)
            hook(int(self.global_step) + 1, self.total_steps)

    def configure_optimizers(self) -> dict[str, Any]:
        o = self.optim
        lr = float(o.get("lr", 1e-3))
        aux_params = list(self.aux_spec["params"]) if self.aux_spec is not None else []
        groups = param_groups(
            self.method,
            self.encoder,
            lr=lr,
            weight_decay=float(o.get("weight_decay", 0.0)),
            layer_decay=float(o.get("layer_decay", 1.0)),
            exclude=aux_params,
        )
        for group in groups:
            del group["names"]  # optimiser state_dicts keep only primitives
        optimizer = build_optimizer(
            groups,
            str(o.get("name", "sgd")),
            lr=lr,
            momentum=float(o.get("momentum", 0.9)),
            nesterov=bool(o.get("nesterov", False)),
            betas=tuple(o.get("betas", (0.9, 0.999))),
            eps=float(o.get("eps", 1e-8)),
        )
        schedule = WarmupSchedule(
            total_steps=self.total_steps,
            warmup_steps=self.warmup_steps,
            min_ratio=float(o.get("min_lr", 0.0)) / lr,
            kind=str(o.get("schedule", "cosine")),
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        main = {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
        if self.aux_spec is None:
            return main
        aux_opt, aux_sched = self._auxiliary_optimizer(aux_params, schedule)
        aux = {"optimizer": aux_opt, "lr_scheduler": {"scheduler": aux_sched, "interval": "step"}}
        return main, aux

    def _auxiliary_optimizer(
        self, params: list[nn.Parameter], main: WarmupSchedule
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
        """The second optimiser: no weight decay on 1-D parameters, the main schedule's
        shape with its own warmup."""
        spec, o = dict(self.aux_spec or {}), self.optim
        lr = float(spec.get("lr") or o.get("lr", 1e-3))
        wd = float(spec.get("weight_decay") or 0.0)
        trainable = [p for p in params if p.requires_grad]
        groups = [
            {"params": [p for p in trainable if p.ndim > 1], "weight_decay": wd},
            {"params": [p for p in trainable if p.ndim <= 1], "weight_decay": 0.0},
        ]
        optimizer = build_optimizer(
            [g for g in groups if g["params"]],
            str(spec.get("name", "adam")),
            lr=lr,
            betas=tuple(spec.get("betas") or o.get("betas", (0.9, 0.999))),
            eps=float(o.get("eps", 1e-8)),
        )
        warmup = spec.get("warmup_steps")
        warmup = main.warmup_steps if warmup is None else min(int(warmup), main.total_steps)
        schedule = WarmupSchedule(
            total_steps=main.total_steps,
            warmup_steps=warmup,
            min_ratio=main.min_ratio,
            kind=main.kind,
        )
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)


def _batch_size(batch: Any) -> int:
    if isinstance(batch, dict):
        for key in ("x", "video", "pose"):
            value = batch.get(key)
            if isinstance(value, Tensor):
                return int(value.shape[0])
        for value in batch.values():
            if isinstance(value, Tensor) and value.ndim > 0:
                return int(value.shape[0])
    if isinstance(batch, Tensor):
        return int(batch.shape[0])
    if isinstance(batch, list | tuple) and batch and isinstance(batch[0], Tensor):
        return int(batch[0].shape[0])
    return 1
