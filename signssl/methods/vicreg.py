"""VICReg (Bardes, Ponce & LeCun, ICLR 2022; docs/methods.md#vicreg): two views through
one encoder and expander; invariance + variance + covariance of the expander outputs
(:mod:`signssl.losses.vicreg`), no negatives, no predictor, no momentum target.
``embedding`` is the expander output of the first view.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from signssl.losses.vicreg import VICRegLoss
from signssl.methods.base import Method
from signssl.methods.registry import register_method
from signssl.models.base import Encoder
from signssl.models.heads import MLPHead
from signssl.pose.transforms import PoseBatch


@register_method("vicreg")
class VICReg(Method):
    """Paper expander (§4.2): ``out_dim -> 8192 -> 8192 -> 8192``, batch norm and ReLU
    after each hidden layer, the last ``Linear`` without bias (the authors' code);
    loss weights ``λ = μ = 25``, ``ν = 1``."""

    def __init__(
        self,
        encoder: Encoder,
        expander_dim: int = 8192,
        expander_layers: int = 3,
        inv_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        eps: float = 1e-4,
        **view_options: Any,
    ) -> None:
        super().__init__(encoder, **view_options)
        dims = [encoder.out_dim] + [expander_dim] * expander_layers
        self.expander = MLPHead(dims, norm="batch", last_bias=False)  # (B, D) -> (B, E)
        self.criterion = VICRegLoss(inv_weight, var_weight, cov_weight, eps)

    def training_loss(self, batch: PoseBatch) -> dict[str, Tensor]:
        x = self.prepare(batch)
        h1, h2 = self.encode([self.augment(x), self.augment(x)])  # 2 x (B, D)
        z1, z2 = self.expander(h1), self.expander(h2)  # 2 x (B, E)
        loss, terms = self.criterion(z1, z2)
        detached = {k: v.detach() for k, v in terms.items()}
        return {"loss": loss, "embedding": z1.detach(), "features": h1.detach(), **detached}
