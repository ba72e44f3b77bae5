"""SimSiam's symmetric negative cosine similarity (Chen & He 2021, Eq. 1-2).

See docs/methods.md#simsiam.

With predictions ``p1 = h(z1)``, ``p2 = h(z2)`` and projections ``z1``, ``z2``::

    D(p, z) = − mean_i  cos(p_i, sg(z_i))
    L = ½ D(p1, z2) + ½ D(p2, z1)

The stop-gradient sits on the projection (target) side only.

Shapes: ``p1, p2, z1, z2``: ``(B, D)``; the loss is a scalar in ``[-1, 1]``.

Example:
    >>> import torch
    >>> z = torch.randn(4, 16)
    >>> float(symmetric_negative_cosine(z, z, z, z))
    -1.0
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def negative_cosine(p: Tensor, z: Tensor, stop_gradient: bool = True) -> Tensor:
    """``D(p, z) = −mean_i cos(p_i, sg(z_i))``: ``(B, D), (B, D) -> ()``."""
    if p.ndim != 2 or p.shape != z.shape:
        raise ValueError(
            f"expected two (B, D) tensors of one shape, got {tuple(p.shape)}, {tuple(z.shape)}"
        )
    target = z.detach() if stop_gradient else z
    return -F.cosine_similarity(p, target, dim=-1).mean()


def symmetric_negative_cosine(
    p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor, stop_gradient: bool = True
) -> Tensor:
    """``½ D(p1, z2) + ½ D(p2, z1)`` (SimSiam Eq. 2)."""
    return 0.5 * negative_cosine(p1, z2, stop_gradient) + 0.5 * negative_cosine(
        p2, z1, stop_gradient
    )


class NegativeCosineLoss(nn.Module):
    """Module form of :func:`symmetric_negative_cosine`; ``forward(p1, p2, z1, z2)``."""

    def __init__(self, stop_gradient: bool = True) -> None:
        super().__init__()
        self.stop_gradient = stop_gradient

    def forward(self, p1: Tensor, p2: Tensor, z1: Tensor, z2: Tensor) -> Tensor:
        return symmetric_negative_cosine(p1, p2, z1, z2, self.stop_gradient)
