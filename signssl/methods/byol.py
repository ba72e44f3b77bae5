"""BYOL baseline (Grill et al. 2020; docs/methods.md#byol).

Online network: encoder -> projector -> predictor; target network: EMA copies of the
encoder and projector (no gradient).  Loss: symmetrised normalised MSE between online
predictions and target projections of the other view.  After each step the target
moves with BYOL's cosine schedule
``τ_k = 1 − (1 − τ_base)(cos(πk/K) + 1)/2`` (τ_base = 0.996),
``θ_t <- τ θ_t + (1 − τ) θ``.
``embedding`` is the online projection of the first view.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from signssl.losses.byol import byol_loss
from signssl.methods.base import Method, cosine_momentum, ema_update, make_target
from signssl.methods.registry import register_method
from signssl.models.base import Encoder
from signssl.models.heads import BYOLPredictionHead, BYOLProjectionHead
from signssl.pose.transforms import PoseBatch


@register_method("byol")
class BYOL(Method):
    """Paper heads: projector ``out_dim -> 4096 -> 256``, predictor ``256 -> 4096 -> 256``."""

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 4096,
        proj_dim: int = 256,
        pred_hidden_dim: int = 4096,
        base_momentum: float = 0.996,
        **view_options: Any,
    ) -> None:
        super().__init__(encoder, **view_options)
        self.projector = BYOLProjectionHead(encoder.out_dim, proj_hidden_dim, proj_dim)
        self.predictor = BYOLPredictionHead(proj_dim, pred_hidden_dim, proj_dim)
        self.target_encoder = make_target(encoder)
        self.target_projector = make_target(self.projector)
        self.base_momentum = float(base_momentum)
        self.momentum = float(base_momentum)  # last value used, for logging

    def training_loss(self, batch: PoseBatch) -> dict[str, Tensor]:
        x = self.prepare(batch)
        v1, v2 = self.augment(x), self.augment(x)
        h1, h2 = self.encode([v1, v2])  # 2 x (B, D)
        z1, z2 = self.projector(h1), self.projector(h2)
        q1, q2 = self.predictor(z1), self.predictor(z2)
        with torch.no_grad():
            g1, g2 = self.encode([v1, v2], encoder=self.target_encoder)
            t1, t2 = self.target_projector(g1), self.target_projector(g2)
        loss = byol_loss(q1, q2, t1, t2)
        return {"loss": loss, "embedding": z1.detach(), "features": h1.detach()}

    def on_step_end(self, step: int, max_steps: int) -> None:
        self.momentum = cosine_momentum(step, max_steps, self.base_momentum)
        ema_update(self.target_encoder, self.encoder, self.momentum)
        ema_update(self.target_projector, self.projector, self.momentum)
