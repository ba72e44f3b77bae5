"""SimSiam baseline (Chen & He 2021; docs/methods.md#simsiam): two views through one encoder,
projector and predictor; symmetric negative cosine with stop-gradient on the
projections.  ``embedding`` is the projection of the first view (the collapse monitor of
the SimSiam paper).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from signssl.losses.negative_cosine import symmetric_negative_cosine
from signssl.methods.base import Method
from signssl.methods.registry import register_method
from signssl.models.base import Encoder
from signssl.models.heads import SimSiamPredictionHead, SimSiamProjectionHead
from signssl.pose.transforms import PoseBatch


@register_method("simsiam")
class SimSiam(Method):
    """Paper heads: projector ``out_dim -> 2048 -> 2048 -> 2048`` (BN on every layer),
    predictor ``2048 -> 512 -> 2048``."""

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 2048,
        proj_dim: int = 2048,
        pred_hidden_dim: int = 512,
        **view_options: Any,
    ) -> None:
        super().__init__(encoder, **view_options)
        self.projector = SimSiamProjectionHead(encoder.out_dim, proj_hidden_dim, proj_dim)
        self.predictor = SimSiamPredictionHead(proj_dim, pred_hidden_dim, proj_dim)

    def training_loss(self, batch: PoseBatch) -> dict[str, Tensor]:
        x = self.prepare(batch)
        h1, h2 = self.encode([self.augment(x), self.augment(x)])  # 2 x (B, D)
        z1, z2 = self.projector(h1), self.projector(h2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        loss = symmetric_negative_cosine(p1, p2, z1, z2)
        return {"loss": loss, "embedding": z1.detach(), "features": h1.detach()}
