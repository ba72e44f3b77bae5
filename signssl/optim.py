"""Optimisers, parameter groups (weight decay, layer-wise lr decay), lr schedules and the
checks of optimiser settings shared by pretraining and fine-tuning.

The schedule is applied per optimiser step by ``torch.optim.lr_scheduler.LambdaLR``:
each group's rate is ``group_lr * factor(step)`` where ``group_lr`` already holds the
layer-wise scale.  All pieces take scalars, not a config tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from signssl.errors import ConfigError

# ----------------------------------------------------------------------------- settings

#: optimiser setting -> (whether a value is allowed, the rule in words); any value must
#: also be a finite number.  Shared by the pretraining config and the fine-tuning commands.
OPTIM_RULES: dict[str, tuple[Callable[[float], bool], str]] = {
    "lr": (lambda v: v > 0, "> 0"),
    "min_lr": (lambda v: v >= 0, ">= 0"),
    "weight_decay": (lambda v: v >= 0, ">= 0"),
    "momentum": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "betas": (lambda v: 0 <= v < 1, "in [0, 1) (each of the two)"),
    "eps": (lambda v: v > 0, "> 0"),
    "warmup_epochs": (lambda v: v >= 0, ">= 0"),
    "warmup_steps": (lambda v: v >= 0, ">= 0"),
    "layer_decay": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "grad_clip": (lambda v: v >= 0, ">= 0"),
    "label_smoothing": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "head_lr_scale": (lambda v: v > 0, "> 0"),
    "step_gamma": (lambda v: v > 0, "> 0"),
    "lambda_cd": (lambda v: v >= 0, ">= 0"),
}


def check_optim_values(prefix: str = "", **values: float | Sequence[float] | None) -> None:
    """:class:`ConfigError` for the first optimiser setting (a key of :data:`OPTIM_RULES`)
    that is not a finite number within its rule; ``None`` values are skipped.

    ``prefix`` names where the values come from: ``"optim."`` for a config (the message
    says ``optim.lr``) or ``"--"`` for command-line options (``--weight-decay``).

    >>> check_optim_values("--", lr=float("nan"))
    Traceback (most recent call last):
    signssl.errors.ConfigError: --lr must be a finite number > 0, got nan
    """
    for name, value in values.items():
        if value is None:
            continue
        ok, rule = OPTIM_RULES[name]
        items = value if isinstance(value, list | tuple) else (value,)
        if all(_is_number(v) and math.isfinite(v) and ok(v) for v in items):
            continue
        key = f"--{name.replace('_', '-')}" if prefix == "--" else f"{prefix}{name}"
        raise ConfigError(f"{key} must be a finite number {rule}, got {_show(value)}")


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _show(value: object) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


# ----------------------------------------------------------------------------- schedule


@dataclass
class WarmupSchedule:
    """Learning-rate factor for step ``s`` (0-based, the step about to be taken).

    * warmup, ``s < W``: ``(s + 1) / W`` (linear; the first step already moves);
    * then, with ``p = (s - W) / max(1, S - W)`` clipped to [0, 1] and ``r = min_ratio``:
      ``cosine``: ``r + (1 - r) * (1 + cos(pi * p)) / 2``;
      ``linear``: ``r + (1 - r) * (1 - p)``; ``constant``: 1.

    A plain dataclass (not a closure) so its state is saved in Lightning checkpoints.

    >>> f = WarmupSchedule(total_steps=10, warmup_steps=2)
    >>> [round(f(s), 3) for s in (0, 1, 2, 6, 9)]
    [0.5, 1.0, 1.0, 0.5, 0.038]
    """

    total_steps: int
    warmup_steps: int = 0
    min_ratio: float = 0.0
    kind: str = "cosine"

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        if self.kind == "constant":
            return 1.0
        progress = (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
        progress = min(max(progress, 0.0), 1.0)
        if self.kind == "cosine":
            decay = 0.5 * (1.0 + math.cos(math.pi * progress))
        elif self.kind == "linear":
            decay = 1.0 - progress
        else:
            raise ConfigError(f"unknown schedule {self.kind!r}; use cosine, linear or constant")
        return self.min_ratio + (1.0 - self.min_ratio) * decay


# ----------------------------------------------------------------------------- groups


def encoder_blocks(encoder: nn.Module) -> nn.ModuleList | nn.Sequential | None:
    """The encoder's ``blocks`` (transformer layers) when it exposes them, else ``None``."""
    blocks = getattr(encoder, "blocks", None)
    return blocks if isinstance(blocks, nn.ModuleList | nn.Sequential) else None


def layer_ids(method: nn.Module, encoder: nn.Module) -> dict[str, int]:
    """Depth of every trainable parameter of ``method`` for layer-wise lr decay.

    With ``L`` blocks: encoder parameters outside and before the blocks (embeddings) -> 0,
    ``blocks[i]`` -> ``i + 1``, everything else (final norm, heads, predictors) -> ``L + 1``.
    """
    blocks = encoder_blocks(encoder)
    num_blocks = len(blocks) if blocks is not None else 0
    block_of: dict[int, int] = {}
    if blocks is not None:
        for i, block in enumerate(blocks):
            for p in block.parameters():
                block_of[id(p)] = i + 1
    encoder_params = {id(p) for p in encoder.parameters()}
    # parameters registered in the encoder before its first block are "embedding" params
    seen_block = False
    early: set[int] = set()
    for _, p in encoder.named_parameters():
        if id(p) in block_of:
            seen_block = True
        elif not seen_block:
            early.add(id(p))
    ids: dict[str, int] = {}
    for name, p in method.named_parameters():
        if id(p) in block_of:
            ids[name] = block_of[id(p)]
        elif id(p) in encoder_params and id(p) in early and blocks is not None:
            ids[name] = 0
        else:
            ids[name] = num_blocks + 1
    return ids


def param_groups(
    method: nn.Module,
    encoder: nn.Module,
    lr: float,
    weight_decay: float,
    layer_decay: float = 1.0,
    exclude: Iterable[nn.Parameter] = (),
) -> list[dict]:
    """Optimiser groups: no weight decay on 1-D params (biases, norms), LLRD scales.

    Frozen parameters (``requires_grad=False``, e.g. momentum targets) and ``exclude``
    (parameters another optimiser trains, e.g. a discriminator) are left out.
    Each group has ``params``, ``lr`` (scaled), ``weight_decay``, ``lr_scale``, ``layer``
    and ``names``.
    """
    excluded = {id(p) for p in exclude}
    if layer_decay < 1.0 and encoder_blocks(encoder) is None:
        raise ConfigError(
            f"optim.layer_decay={layer_decay} needs an encoder exposing `blocks`; "
            f"{type(encoder).__name__} has none: set optim.layer_decay=1.0"
        )
    ids = layer_ids(method, encoder)
    top = max(ids.values(), default=0)
    groups: dict[tuple[int, bool], dict] = {}
    for name, p in method.named_parameters():
        if not p.requires_grad or id(p) in excluded:
            continue
        layer = ids[name]
        decay = p.ndim > 1
        key = (layer, decay)
        if key not in groups:
            scale = layer_decay ** (top - layer)
            groups[key] = {
                "params": [],
                "names": [],
                "lr": lr * scale,
                "lr_scale": scale,
                "weight_decay": weight_decay if decay else 0.0,
                "layer": layer,
            }
        groups[key]["params"].append(p)
        groups[key]["names"].append(name)
    return [groups[k] for k in sorted(groups)]


def build_optimizer(
    groups: Iterable[dict],
    name: str,
    lr: float,
    momentum: float = 0.9,
    nesterov: bool = False,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> torch.optim.Optimizer:
    """SGD (with momentum), AdamW or Adam over ``groups`` (extra group keys are kept)."""
    groups = list(groups)
    if not groups:
        raise ConfigError("the method has no trainable parameters")
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, nesterov=nesterov)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, betas=betas, eps=eps)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=betas, eps=eps)
    raise ConfigError(f"unknown optimiser {name!r}; use 'sgd', 'adamw' or 'adam'")
