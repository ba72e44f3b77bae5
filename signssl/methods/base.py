"""The interface every self-supervised method implements, and shared building blocks.

A :class:`Method` is an ``nn.Module`` holding an ``encoder`` (the representation that is
exported and evaluated), its heads, and any target network.  The training engine calls

* ``training_loss(batch) -> dict``: ``"loss"`` (scalar to minimise), ``"embedding"``
  ``(B, D)`` detached (the collapse monitor reads the std over the batch of its
  L2-normalised rows, :func:`normalized_std`), optionally ``"features"`` ``(B, D)``
  detached (the encoder's pooled output when ``embedding`` is a head's output: the same
  monitor on the representation that is evaluated), plus scalar terms to log;
* ``on_step_end(step, max_steps)`` after each optimiser step (momentum / EMA updates);
* ``param_groups()``: what the optimiser updates (target networks excluded).

Methods make their own views of the batch with the pose augmentations
(``signssl.pose.transforms``); the view options below are shared by every method:

* ``boundary_permutation`` (default True), ``b_s``, ``b_e``: SSL-SLR's boundary
  permutation (docs/methods.md#boundary-permutation) with the permuted fractions of each clip;
  ``b_s_frames``, ``b_e_frames``: absolute frame counts instead (docs/methods.md#boundary-search);
* ``spatial_aug``: rotation, shear, scale, jitter after the permutation, their magnitudes
  multiplied by ``spatial_strength`` (default 1: ±15°, ±0.1, 0.9–1.1, σ 0.01);
  ``signing_space`` (default 0 = off): size/place of the signing space, scale and shift
  of the elbows and wrists (:class:`~signssl.pose.transforms.RandomSigningSpace`);
* ``flip_p``, ``hand_dropout_p``: mirror (with left/right swap) and hand dropout;
* ``temporal_p``: probability of a temporal crop and of a speed change (before the rest);
* ``seed``: the augmentation generator's seed (the rank is added under DDP).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signssl import distributed
from signssl.errors import ConfigError
from signssl.models.base import Encoder
from signssl.pose.layouts import DEFAULT_LAYOUT
from signssl.pose.transforms import PoseBatch, as_pose_batch, default_view_pipeline

# ----------------------------------------------------------------------------- building blocks


def normalized_std(z: Tensor) -> Tensor:
    """Collapse monitor of SimSiam §4.1: the mean over dimensions of the std over the
    batch of the L2-normalised rows of ``z (B, D)``.  About ``1/sqrt(D)`` for healthy
    embeddings, 0 when every row is the same."""
    return F.normalize(z.detach().float(), dim=-1).std(dim=0).mean()


def make_target(module: nn.Module) -> nn.Module:
    """A frozen deep copy (no gradients) used as momentum / EMA target."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def ema_update(target: nn.Module, online: nn.Module, momentum: float) -> None:
    """``θ_target <- m·θ_target + (1 − m)·θ_online`` for every parameter; buffers are
    copied.  The two modules must have the same structure."""
    for pt, po in zip(target.parameters(), online.parameters(), strict=True):
        pt.mul_(momentum).add_(po.detach(), alpha=1.0 - momentum)
    for bt, bo in zip(target.buffers(), online.buffers(), strict=True):
        bt.copy_(bo)


def cosine_momentum(step: int, max_steps: int, base: float, final: float = 1.0) -> float:
    """BYOL's schedule ``τ = final − (final − base)·(cos(π·k/K) + 1)/2``, k in [0, K]."""
    if max_steps <= 0:
        return base
    k = min(max(step, 0), max_steps)
    return final - (final - base) * (math.cos(math.pi * k / max_steps) + 1.0) / 2.0


def concat_batches(batches: list[PoseBatch]) -> PoseBatch:
    """Stack views along the batch axis: ``V x (B, T, J, C) -> (V·B, T, J, C)``."""
    return {k: torch.cat([b[k] for b in batches], dim=0) for k in ("x", "conf", "frame_mask")}


# ----------------------------------------------------------------------------- Method


class Method(nn.Module):
    """Base class of the self-supervised recipes (see the module docstring)."""

    encoder: Encoder

    def __init__(
        self,
        encoder: Encoder,
        *,
        boundary_permutation: bool = True,
        b_s: float = 1 / 3,
        b_e: float = 1 / 4,
        spatial_aug: bool = True,
        flip_p: float = 0.0,
        hand_dropout_p: float = 0.0,
        b_s_frames: int | None = None,
        b_e_frames: int | None = None,
        temporal_p: float = 0.0,
        spatial_strength: float = 1.0,
        signing_space: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(encoder, Encoder):
            raise ConfigError(f"a method needs a signssl Encoder, got {type(encoder).__name__}")
        self.encoder = encoder
        layout = getattr(getattr(encoder, "layout", None), "name", None)
        if (flip_p > 0 or hand_dropout_p > 0) and layout is None:
            raise ConfigError(
                f"flip_p / hand_dropout_p need the encoder's joint layout, but "
                f"{type(encoder).__name__} has none; set them to 0"
            )
        self.view_transform = default_view_pipeline(
            layout or DEFAULT_LAYOUT,
            boundary_permutation=boundary_permutation,
            b_s=b_s,
            b_e=b_e,
            spatial=spatial_aug,
            flip_p=flip_p,
            hand_dropout_p=hand_dropout_p,
            b_s_frames=b_s_frames,
            b_e_frames=b_e_frames,
            temporal_p=temporal_p,
            spatial_strength=spatial_strength,
            signing_space=signing_space,
        )
        self.seed = int(seed)
        self._generator: torch.Generator | None = None

    # -- to implement
    def training_loss(self, batch: PoseBatch) -> dict[str, Tensor]:
        raise NotImplementedError

    def on_step_end(self, step: int, max_steps: int) -> None:
        """Momentum / EMA updates after an optimiser step (nothing by default)."""

    def param_groups(self) -> list[dict[str, Any]]:
        """Trainable parameters: ``encoder`` and ``heads`` groups (frozen targets excluded)."""
        enc_ids = {id(p) for p in self.encoder.parameters()}
        enc = [p for p in self.encoder.parameters() if p.requires_grad]
        heads = [p for p in self.parameters() if p.requires_grad and id(p) not in enc_ids]
        groups = [{"name": "encoder", "params": enc}, {"name": "heads", "params": heads}]
        return [g for g in groups if g["params"]]

    # -- shared steps
    @property
    def generator(self) -> torch.Generator:
        """CPU generator of the augmentations, seeded on first use with ``seed + rank``."""
        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.seed + 7919 * distributed.rank())
        return self._generator

    def prepare(self, batch: PoseBatch | Tensor) -> PoseBatch:
        """Check the batch (B >= 2 for batch statistics and pairs) and fill defaults."""
        b = as_pose_batch(batch)
        if b["x"].shape[0] < 2:
            raise ConfigError(
                f"{type(self).__name__} needs at least 2 clips per batch, got {b['x'].shape[0]}; "
                "raise the batch size (or drop_last in the loader)"
            )
        return b

    def augment(self, batch: PoseBatch) -> PoseBatch:
        """One random view of the batch."""
        return self.view_transform(batch, self.generator)

    def encode(self, views: list[PoseBatch], encoder: Encoder | None = None) -> list[Tensor]:
        """Pooled embeddings ``(B, D)`` of each view in one encoder call.

        Views are concatenated along the batch axis, which is exact for encoders whose
        output for a clip does not depend on the other clips (no batch norm)."""
        enc = self.encoder if encoder is None else encoder
        B = views[0]["x"].shape[0]
        h = enc.embed(concat_batches(views))  # (V·B, D)
        return list(h.split(B, dim=0))
