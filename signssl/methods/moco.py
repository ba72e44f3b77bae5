"""MoCo v2 baseline (He et al. 2020; Chen et al. 2020; docs/methods.md#moco-v2).

Query = projector(encoder(view 1)); key = momentum copies of both applied to view 2
(no gradient); InfoNCE of the query against its key and a FIFO queue of earlier keys
(gathered across ranks), then the keys are enqueued.  After each step the momentum
copies move: ``θ_k <- m·θ_k + (1 − m)·θ_q``.

Defaults: m = 0.99 (MoCo uses 0.999 for ImageNet-length schedules; pose datasets give
far fewer steps), queue 4096 keys (MoCo: 65536; a queue longer than the data set would
hold stale copies of the positives), τ = 0.5 (SSL-SLR §6.2 fixes every contrastive
temperature at 0.5; MoCo v2 itself uses 0.2).  ``embedding`` is the query.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from signssl.losses.info_nce_queue import MemoryQueue, info_nce_queue_loss
from signssl.methods.base import Method, ema_update, make_target
from signssl.methods.registry import register_method
from signssl.models.base import Encoder
from signssl.models.heads import MoCoV2ProjectionHead
from signssl.pose.transforms import PoseBatch


@register_method("moco")
class MoCo(Method):
    """Projector ``out_dim -> proj_hidden_dim (2048) -> proj_dim (128)``, no batch norm."""

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 2048,
        proj_dim: int = 128,
        queue_size: int = 4096,
        temperature: float = 0.5,
        momentum: float = 0.99,
        **view_options: Any,
    ) -> None:
        super().__init__(encoder, **view_options)
        self.projector = MoCoV2ProjectionHead(encoder.out_dim, proj_hidden_dim, proj_dim)
        self.key_encoder = make_target(encoder)
        self.key_projector = make_target(self.projector)
        self.queue = MemoryQueue(queue_size, proj_dim)
        self.temperature, self.momentum = float(temperature), float(momentum)

    def training_loss(self, batch: PoseBatch) -> dict[str, Tensor]:
        x = self.prepare(batch)
        x1, x2 = self.augment(x), self.augment(x)
        h1 = self.encoder.embed(x1)  # (B, D)
        q = self.projector(h1)  # (B, d)
        with torch.no_grad():
            k = self.key_projector(self.key_encoder.embed(x2))  # (B, d)
        negatives = (
            self.queue.queue.clone()
        )  # (K, d) snapshot: enqueue below must not touch the graph
        loss = info_nce_queue_loss(q, k, negatives, self.temperature)
        if self.training:
            self.queue.enqueue(k)
        return {"loss": loss, "embedding": q.detach(), "features": h1.detach()}

    def on_step_end(self, step: int, max_steps: int) -> None:
        ema_update(self.key_encoder, self.encoder, self.momentum)
        ema_update(self.key_projector, self.projector, self.momentum)
