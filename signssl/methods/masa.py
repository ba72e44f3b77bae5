"""MASA: motion-aware masked autoencoder with momentum semantic alignment (docs/methods.md#masa).

Per batch (the encoder is a :class:`~signssl.models.masa.MASAEncoder`)::

    inp  = MASA-49 pipeline(batch)                            (in the encoder)
    m, w = motion residuals of inp with interval k
    M    = motion-aware mask (Alg. 1)            | masking="random": as many frames at random
    F    = encoder(visible frames of inp)                      (masked frames never enter)
    y    = decoder(F + mask tokens)                            (Eq. 2-3)
    L_m  = Eq. 4 on M, target m (or the joints: target="joints", weight c_i)
    q    = Proj_q(AvgPool F),  k⁺ = Proj_k(AvgPool F⁺_key)    (Eq. 6-7)
           key view: (1 − α_r) of the frames at random (Eq. 5), momentum encoder
           (key_view="augmented": of a second, independent augmentation of the batch)
    L_s  = InfoNCE of q against k⁺ and the queue (Eq. 8)
    L    = L_m + λ_s(t) · L_s                                  (Eq. 9)

``λ_s(t)`` rises linearly from 0 to ``lambda_s`` over the first ``lambda_s_ramp`` of the
optimiser steps (paper: 100 of 400 epochs, 0.25), see :func:`semantic_weight`.  After each
step the key encoder and key projector follow the online ones by EMA (μ = 0.996; code
0.999).  Targets are in network units (MASA units / 128); the masking thresholds are in
MASA units (256-unit crops).

Switches (MASA Tab. VI / VIII): ``masking: motion | random``, ``target: residual |
joints``, ``semantic_alignment: bool``.  ``embedding`` (collapse monitor) is ``q`` with
semantic alignment (``features``: the pooled encoder output), else the pooled encoder output.

Defaults are the paper's (k = 3, ε_m = 5, δ = 0.5, α = 0.9, α_r = 0.5, K = 6144,
τ = 0.07, μ = 0.996, λ_s = 0.05, L2).  Not stated in the paper (our choice): the decoder
(``decoder_dim`` = encoder width / 2, 3 blocks) and the projection heads
(``out_dim -> out_dim -> 128``, ReLU, no norm).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from signssl.errors import ConfigError
from signssl.losses.info_nce_queue import MemoryQueue, info_nce_queue_loss
from signssl.losses.motion_residual import motion_residual_loss
from signssl.losses.variance_covariance import VarianceCovarianceLoss
from signssl.methods.base import Method, ema_update, make_target
from signssl.methods.masa_masking import (
    mask_counts,
    motion_aware_mask,
    motion_residuals,
    random_frame_mask,
    temporal_subsample,
)
from signssl.methods.masa_options import (
    KEY_VIEWS,
    MASKINGS,
    TARGETS,
    DecoderSize,
    MotionMasking,
    SemanticAlignment,
    SpreadWeights,
)
from signssl.methods.registry import register_method
from signssl.models.base import Encoder
from signssl.models.heads import MLPHead
from signssl.models.masa import MASADecoder, MASAEncoder, MasaInput, VisibleTokens
from signssl.pose.transforms import PoseBatch

__all__ = ["KEY_VIEWS", "MASA", "MASKINGS", "TARGETS", "semantic_weight"]


def semantic_weight(step: int, max_steps: int, lambda_s: float, ramp: float) -> float:
    """Eq. 9's ``λ_s`` after ``step`` optimiser steps: ``lambda_s · min(1, step / (ramp ·
    max_steps))``; ``ramp = 0`` (or unknown ``max_steps``) gives ``lambda_s`` at once."""
    span = ramp * max_steps
    if span <= 0:
        return float(lambda_s)
    return float(lambda_s) * min(1.0, max(0.0, step / span))


@register_method("masa")
class MASA(Method):
    """The MASA recipe (module docstring).  Its options come in four groups
    (:mod:`signssl.methods.masa_options`), each with the paper's defaults:

    Args:
        motion: :class:`MotionMasking`, the motion-aware masking branch (k, α, ε_m, δ,
            target, loss norm; the authors' per-part rule).
        decoder: :class:`DecoderSize` of the MA decoder.
        alignment: :class:`SemanticAlignment`, the momentum semantic-alignment branch
            (α_r, key view, projection heads, K, τ, μ, λ_s and its ramp).
        spread: :class:`SpreadWeights`, not in the paper (0 = off): the variance and
            covariance regularisers on the pooled encoder features of the masked input,
            as SL-FPN's; they keep the features from folding onto a few directions
            (docs/results/README.md, var/cov).
        boundary_permutation, spatial_aug, flip_p, hand_dropout_p, temporal_p, ...: the
            shared view options of :class:`~signssl.methods.base.Method`, all off by
            default (MASA uses no other augmentation); when any is on, the batch is
            augmented once before the MASA pipeline (with ``key_view="augmented"``, once
            more, independently, for the key).

    A config gives every group's fields flat (``method.kwargs.mask_ratio``);
    :func:`~signssl.methods.create_method` gathers them into the groups.
    """

    lambda_now: Tensor

    def __init__(
        self,
        encoder: Encoder,
        motion: MotionMasking = MotionMasking(),
        decoder: DecoderSize = DecoderSize(),
        alignment: SemanticAlignment = SemanticAlignment(),
        spread: SpreadWeights = SpreadWeights(),
        boundary_permutation: bool = False,
        spatial_aug: bool = False,
        **view_options: Any,
    ) -> None:
        super().__init__(
            encoder,
            boundary_permutation=boundary_permutation,
            spatial_aug=spatial_aug,
            **view_options,
        )
        if not isinstance(encoder, MASAEncoder):
            raise ConfigError(
                f"method 'masa' needs a MASA encoder (masa_paper, masa_tiny, masa_test), got "
                f"{type(encoder).__name__}; set model.name to one of them"
            )
        self._augment_on = len(self.view_transform.transforms) > 0  # any view option on
        if alignment.key_view == "augmented" and not self._augment_on:
            raise ConfigError(
                "key_view 'augmented' draws the key's own view from the view options, but "
                "all are off; turn one on (e.g. --set method.kwargs.temporal_p=1.0, or "
                "spatial_aug, flip_p, hand_dropout_p) or use key_view 'temporal'"
            )
        self.motion, self.alignment = motion, alignment
        self.spread = VarianceCovarianceLoss(spread.var_weight, spread.cov_weight) if spread.on else None
        width = encoder.out_dim
        self.decoder = MASADecoder(
            width,
            encoder.layout.num_joints,
            2,
            dim=decoder.decoder_dim or max(width // 2, 8),
            depth=decoder.decoder_depth,
            heads=decoder.decoder_heads or encoder.heads,
            max_frames=encoder.max_frames,
        )
        self.parts = [encoder.parts.body, encoder.parts.left_hand, encoder.parts.right_hand]
        if alignment.semantic_alignment:
            hidden = alignment.proj_hidden_dim or width
            self.projector = MLPHead([width, hidden, alignment.proj_dim], norm=None)  # Proj_q
            self.key_encoder = make_target(encoder)
            self.key_projector = make_target(self.projector)  # Proj_k
            self.queue = MemoryQueue(alignment.queue_size, alignment.proj_dim)
        self.register_buffer("lambda_now", torch.tensor(self._semantic_weight(0, 1)))

    def _semantic_weight(self, step: int, max_steps: int) -> float:
        a = self.alignment
        return semantic_weight(step, max_steps, a.lambda_s, a.lambda_s_ramp)

    # ------------------------------------------------------------------ steps

    def make_mask(self, inp: MasaInput) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(mask, candidates, target, weight)`` of the MA branch; masks ``(B, T)``
        bool with ``True`` = masked / candidate, target ``(B, T, J, 2)`` in network
        units, weight ``(B, T, J)``."""
        o = self.motion
        res = motion_residuals(inp.x, inp.conf, o.interval, inp.pad)
        mask, cand = motion_aware_mask(
            res,
            o.mask_ratio,
            o.motion_threshold,
            o.candidate_ratio,
            self.parts if o.per_part else None,
            o.part_motion_threshold,
            o.part_min_joints,
            self.generator,
            o.candidate_share,
        )
        if o.masking == "random":
            mask = random_frame_mask(res, mask_counts(cand, o.mask_ratio), self.generator)
        if o.target == "residual":
            target = res.residual / (self.encoder.crop_size / 2)  # MASA units -> network units
            weight = res.weight
        else:
            target = self.encoder.model_units(inp.x) * (inp.conf > 0).unsqueeze(-1)
            weight = inp.conf
        return mask, cand, target, weight

    @torch.no_grad()
    def key_embedding(self, inp: MasaInput) -> Tensor:
        """``k⁺ (B, proj_dim)``: random temporal sampling (Eq. 5) of ``inp`` through the
        momentum encoder and projector (Eq. 7)."""
        drop = temporal_subsample(inp.pad, self.alignment.keep_ratio, self.generator)  # True = dropped
        return self.key_projector(self.key_encoder.encode(inp, drop).pooled())

    def training_loss(self, batch: PoseBatch) -> dict[str, Tensor]:
        raw = self.prepare(batch)
        b = self.augment(raw) if self._augment_on else raw
        enc: MASAEncoder = self.encoder  # type: ignore[assignment]
        inp = enc.preprocess(b)
        mask, cand, target, weight = self.make_mask(inp)
        visible: VisibleTokens = enc.encode(inp, mask)
        pred = self.decoder(visible, inp.pad)  # (B, T, J, 2)
        loss_m = self.motion.motion_weight * motion_residual_loss(
            pred, target, weight, mask, self.motion.loss_norm
        )
        pooled = visible.pooled()  # (B, D)
        real = inp.valid.sum().clamp_min(1)
        out: dict[str, Tensor] = {
            "loss_motion": loss_m.detach(),
            "mask_ratio": (mask.sum() / real).detach().float(),
            "candidate_ratio": (cand.sum() / real).detach().float(),
        }
        if self.spread is not None:
            loss_spread, spread_terms = self.spread(pooled)  # () and {"var", "cov"}
            loss_m = loss_m + loss_spread
            out.update({k: v.detach() for k, v in spread_terms.items()})
        if not self.alignment.semantic_alignment:
            return {"loss": loss_m, "embedding": pooled.detach(), **out}
        q = self.projector(pooled)  # (B, proj_dim)
        key_inp = enc.preprocess(self.augment(raw)) if self.alignment.key_view == "augmented" else inp
        k = self.key_embedding(key_inp)
        negatives = (
            self.queue.queue.clone()
        )  # (K, d) snapshot: enqueue below must not touch the graph
        loss_s = info_nce_queue_loss(q, k, negatives, self.alignment.temperature)
        if self.training:
            self.queue.enqueue(k)
        lam = self.lambda_now.to(loss_m.dtype)
        out.update(loss_semantic=loss_s.detach(), lambda_s=lam.detach().clone())
        total = loss_m + lam * loss_s
        return {"loss": total, "embedding": q.detach(), "features": pooled.detach(), **out}

    def on_step_end(self, step: int, max_steps: int) -> None:
        """EMA of the key encoder and projector; λ_s for the next step."""
        self.lambda_now.fill_(self._semantic_weight(step, max_steps))
        a = self.alignment
        if a.semantic_alignment:
            ema_update(self.key_encoder, self.encoder, a.momentum)
            ema_update(self.key_projector, self.projector, a.momentum)

