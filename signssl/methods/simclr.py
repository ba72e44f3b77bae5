"""SimCLR baseline (Chen et al. 2020; docs/methods.md#simclr): two views, projector, NT-Xent.

τ = 0.5 as in SSL-SLR §6.2; negatives are gathered across ranks under DDP.
``embedding`` is the projector output of the first view.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from signssl.losses.nt_xent import nt_xent_loss
from signssl.methods.base import Method
from signssl.methods.registry import register_method
from signssl.models.base import Encoder
from signssl.models.heads import SimCLRProjectionHead
from signssl.pose.transforms import PoseBatch


@register_method("simclr")
class SimCLR(Method):
    """Projector ``out_dim -> proj_hidden_dim (default out_dim) -> proj_dim (128)``."""

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int | None = None,
        proj_dim: int = 128,
        temperature: float = 0.5,
        **view_options: Any,
    ) -> None:
        super().__init__(encoder, **view_options)
        hidden = encoder.out_dim if proj_hidden_dim is None else proj_hidden_dim
        self.projector = SimCLRProjectionHead(encoder.out_dim, hidden, proj_dim)
        self.temperature = float(temperature)

    def training_loss(self, batch: PoseBatch) -> dict[str, Tensor]:
        x = self.prepare(batch)
        h1, h2 = self.encode([self.augment(x), self.augment(x)])  # 2 x (B, D)
        z1, z2 = self.projector(h1), self.projector(h2)
        loss = nt_xent_loss(z1, z2, self.temperature)
        return {"loss": loss, "embedding": z1.detach(), "features": h1.detach()}
