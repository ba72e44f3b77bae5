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
from signssl.losses.motion_residual import NORMS, motion_residual_loss
from signssl.losses.variance_covariance import VarianceCovarianceLoss
from signssl.methods.base import Method, ema_update, make_target
from signssl.methods.masa_masking import (
    SHARES,
    mask_counts,
    motion_aware_mask,
    motion_residuals,
    random_frame_mask,
    temporal_subsample,
)
from signssl.methods.registry import register_method
from signssl.models.base import Encoder
from signssl.models.heads import MLPHead
from signssl.models.masa import MASADecoder, MASAEncoder, MasaInput, VisibleTokens
from signssl.pose.transforms import PoseBatch

MASKINGS = ("motion", "random")
TARGETS = ("residual", "joints")
KEY_VIEWS = ("temporal", "augmented")


def semantic_weight(step: int, max_steps: int, lambda_s: float, ramp: float) -> float:
    """Eq. 9's ``λ_s`` after ``step`` optimiser steps: ``lambda_s · min(1, step / (ramp ·
    max_steps))``; ``ramp = 0`` (or unknown ``max_steps``) gives ``lambda_s`` at once."""
    span = ramp * max_steps
    if span <= 0:
        return float(lambda_s)
    return float(lambda_s) * min(1.0, max(0.0, step / span))


@register_method("masa")
class MASA(Method):
    """The MASA recipe (module docstring).  Options, with the paper's defaults:

    Args:
        interval: k, frames between the two ends of a residual.
        masking: ``"motion"`` (Alg. 1) or ``"random"`` (same number of frames, uniform
            over the frames with a residual).
        target: ``"residual"`` (m_i) or ``"joints"`` (x_i of the masked frames).
        semantic_alignment: add the SA branch (Eq. 8-9).
        mask_ratio: α; motion_threshold: ε_m; candidate_ratio: δ.
        candidate_share: ``"all"`` (p_i over all J joints, Alg. 1) or ``"confident"``
            (over the joints with confidence in both frames; data with missing hands).
        per_part: the authors' per-part candidate rule with ``part_motion_threshold``
            (3.0) and ``part_min_joints`` (2).
        loss_norm: ``"l2"`` (paper) or ``"l1"`` (code); motion_weight: scale of L_m
            (code: 10 with l1).
        decoder_dim, decoder_depth, decoder_heads: decoder size (``None``: half the
            encoder width, the encoder's heads).
        keep_ratio: 1 − α_r, share of frames in the key view.
        key_view: ``"temporal"`` (paper: the key view is the query's input, temporally
            subsampled) or ``"augmented"`` (not in the paper: query and key each get
            their own draw of the view options below, MoCo-style, before the key's
            temporal subsampling; needs at least one of them on).
        proj_hidden_dim, proj_dim: projection heads (``None`` hidden = encoder width).
        queue_size, temperature, momentum: K, τ, μ.
        lambda_s, lambda_s_ramp: λ_s and the share of training over which it ramps up.
        var_weight, cov_weight: not in the paper (0 = off): SignRep's variance and
            covariance regularisers (docs/methods.md#signrep-variance-covariance) on the
            pooled encoder features of the masked input, ``L += λ_var L_var + λ_cov
            L_cov``, as SL-FPN's; they keep the features from folding onto a few
            directions (docs/results/README.md, var/cov).
        boundary_permutation, spatial_aug, flip_p, hand_dropout_p, temporal_p, ...: the
            shared view options of :class:`~signssl.methods.base.Method`, all off by
            default (MASA uses no other augmentation); when any is on, the batch is
            augmented once before the MASA pipeline (with ``key_view="augmented"``, once
            more, independently, for the key).
    """

    lambda_now: Tensor

    def __init__(
        self,
        encoder: Encoder,
        interval: int = 3,
        masking: str = "motion",
        target: str = "residual",
        semantic_alignment: bool = True,
        mask_ratio: float = 0.9,
        motion_threshold: float = 5.0,
        candidate_ratio: float = 0.5,
        candidate_share: str = "all",
        per_part: bool = False,
        part_motion_threshold: float = 3.0,
        part_min_joints: int = 2,
        loss_norm: str = "l2",
        motion_weight: float = 1.0,
        decoder_dim: int | None = None,
        decoder_depth: int = 3,
        decoder_heads: int | None = None,
        keep_ratio: float = 0.5,
        key_view: str = "temporal",
        proj_hidden_dim: int | None = None,
        proj_dim: int = 128,
        queue_size: int = 6144,
        temperature: float = 0.07,
        momentum: float = 0.996,
        lambda_s: float = 0.05,
        lambda_s_ramp: float = 0.25,
        boundary_permutation: bool = False,
        spatial_aug: bool = False,
        var_weight: float = 0.0,
        cov_weight: float = 0.0,
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
        _check_choice("masking", masking, MASKINGS)
        _check_choice("target", target, TARGETS)
        _check_choice("loss_norm", loss_norm, NORMS)
        _check_choice("candidate_share", candidate_share, SHARES)
        _check_choice("key_view", key_view, KEY_VIEWS)
        if interval < 1:
            raise ConfigError(f"interval k must be >= 1, got {interval}")
        for name, v in (
            ("mask_ratio", mask_ratio),
            ("candidate_ratio", candidate_ratio),
            ("lambda_s_ramp", lambda_s_ramp),
        ):
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {v}")
        if not 0.0 < keep_ratio <= 1.0:
            raise ConfigError(f"keep_ratio (1 - alpha_r) must be in (0, 1], got {keep_ratio}")
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"momentum must be in [0, 1], got {momentum}")
        self.interval, self.masking, self.target = int(interval), masking, target
        self.semantic_alignment = bool(semantic_alignment)
        self.mask_ratio, self.motion_threshold = float(mask_ratio), float(motion_threshold)
        self.candidate_ratio, self.per_part = float(candidate_ratio), bool(per_part)
        self.candidate_share = candidate_share
        self.part_motion_threshold, self.part_min_joints = (
            float(part_motion_threshold),
            int(part_min_joints),
        )
        self.loss_norm, self.motion_weight = loss_norm, float(motion_weight)
        self.keep_ratio, self.temperature, self.momentum = (
            float(keep_ratio),
            float(temperature),
            float(momentum),
        )
        self.lambda_s, self.lambda_s_ramp = float(lambda_s), float(lambda_s_ramp)
        if var_weight < 0 or cov_weight < 0:
            raise ConfigError(
                f"MASA var_weight and cov_weight must be >= 0, got {var_weight} and "
                f"{cov_weight} (method.kwargs)"
            )
        self.spread = (
            VarianceCovarianceLoss(var_weight, cov_weight) if var_weight or cov_weight else None
        )
        self._augment_on = len(self.view_transform.transforms) > 0  # any view option on
        if key_view == "augmented" and not self._augment_on:
            raise ConfigError(
                "key_view 'augmented' draws the key's own view from the view options, but "
                "all are off; turn one on (e.g. --set method.kwargs.temporal_p=1.0, or "
                "spatial_aug, flip_p, hand_dropout_p) or use key_view 'temporal'"
            )
        if key_view == "augmented" and not semantic_alignment:
            raise ConfigError(
                "key_view 'augmented' shapes the semantic-alignment key, which is off "
                "(semantic_alignment=false); drop key_view or turn semantic alignment on"
            )
        self.key_view = key_view
        width = encoder.out_dim
        self.decoder = MASADecoder(
            width,
            encoder.layout.num_joints,
            2,
            dim=decoder_dim or max(width // 2, 8),
            depth=decoder_depth,
            heads=decoder_heads or encoder.heads,
            max_frames=encoder.max_frames,
        )
        self.parts = [encoder.parts.body, encoder.parts.left_hand, encoder.parts.right_hand]
        if self.semantic_alignment:
            hidden = proj_hidden_dim or width
            self.projector = MLPHead([width, hidden, proj_dim], norm=None)  # Proj_q
            self.key_encoder = make_target(encoder)
            self.key_projector = make_target(self.projector)  # Proj_k
            self.queue = MemoryQueue(queue_size, proj_dim)
        self.register_buffer(
            "lambda_now", torch.tensor(semantic_weight(0, 1, self.lambda_s, self.lambda_s_ramp))
        )

    # ------------------------------------------------------------------ steps

    def make_mask(self, inp: MasaInput) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(mask, candidates, target, weight)`` of the MA branch; masks ``(B, T)``
        bool with ``True`` = masked / candidate, target ``(B, T, J, 2)`` in network
        units, weight ``(B, T, J)``."""
        res = motion_residuals(inp.x, inp.conf, self.interval, inp.pad)
        mask, cand = motion_aware_mask(
            res,
            self.mask_ratio,
            self.motion_threshold,
            self.candidate_ratio,
            self.parts if self.per_part else None,
            self.part_motion_threshold,
            self.part_min_joints,
            self.generator,
            self.candidate_share,
        )
        if self.masking == "random":
            mask = random_frame_mask(res, mask_counts(cand, self.mask_ratio), self.generator)
        if self.target == "residual":
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
        drop = temporal_subsample(inp.pad, self.keep_ratio, self.generator)  # True = dropped
        return self.key_projector(self.key_encoder.encode(inp, drop).pooled())

    def training_loss(self, batch: PoseBatch) -> dict[str, Tensor]:
        raw = self.prepare(batch)
        b = self.augment(raw) if self._augment_on else raw
        enc: MASAEncoder = self.encoder  # type: ignore[assignment]
        inp = enc.preprocess(b)
        mask, cand, target, weight = self.make_mask(inp)
        visible: VisibleTokens = enc.encode(inp, mask)
        pred = self.decoder(visible, inp.pad)  # (B, T, J, 2)
        loss_m = self.motion_weight * motion_residual_loss(
            pred, target, weight, mask, self.loss_norm
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
        if not self.semantic_alignment:
            return {"loss": loss_m, "embedding": pooled.detach(), **out}
        q = self.projector(pooled)  # (B, proj_dim)
        key_inp = enc.preprocess(self.augment(raw)) if self.key_view == "augmented" else inp
        k = self.key_embedding(key_inp)
        negatives = (
            self.queue.queue.clone()
        )  # (K, d) snapshot: enqueue below must not touch the graph
        loss_s = info_nce_queue_loss(q, k, negatives, self.temperature)
        if self.training:
            self.queue.enqueue(k)
        lam = self.lambda_now.to(loss_m.dtype)
        out.update(loss_semantic=loss_s.detach(), lambda_s=lam.detach().clone())
        total = loss_m + lam * loss_s
        return {"loss": total, "embedding": q.detach(), "features": pooled.detach(), **out}

    def on_step_end(self, step: int, max_steps: int) -> None:
        """EMA of the key encoder and projector; λ_s for the next step."""
        self.lambda_now.fill_(semantic_weight(step, max_steps, self.lambda_s, self.lambda_s_ramp))
        if self.semantic_alignment:
            ema_update(self.key_encoder, self.encoder, self.momentum)
            ema_update(self.key_projector, self.projector, self.momentum)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {list(allowed)}, got {value!r}")
