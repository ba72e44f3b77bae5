"""BYOL's normalised MSE (Grill et al. 2020, Eq. 2; docs/methods.md#byol).

With the online prediction ``q`` and the target projection ``z'`` (from the EMA target
network, so it carries no gradient)::

    ℓ(q, z') = || q/||q|| − z'/||z'|| ||² = 2 − 2·cos(q, z')
    L = ℓ(q1, sg(z'2)) + ℓ(q2, sg(z'1))           (symmetrised, BYOL Eq. 2)

each ``ℓ`` averaged over the batch.

Shapes: ``q1, q2, t1, t2``: ``(B, D)``; the loss is a scalar in ``[0, 8]``.

Example:
    >>> import torch
    >>> q = torch.tensor([[1.0, 0.0]]); t = torch.tensor([[0.0, 3.0]])
    >>> float(normalized_mse(q, t))   # orthogonal: 2 − 2·0
    2.0
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def normalized_mse(q: Tensor, z: Tensor, stop_gradient: bool = True) -> Tensor:
    """``mean_i (2 − 2 cos(q_i, sg(z_i)))``: ``(B, D), (B, D) -> ()``."""
    if q.ndim != 2 or q.shape != z.shape:
        raise ValueError(
            f"expected two (B, D) tensors of one shape, got {tuple(q.shape)}, {tuple(z.shape)}"
        )
    target = z.detach() if stop_gradient else z
    return (2.0 - 2.0 * F.cosine_similarity(q, target, dim=-1)).mean()


def byol_loss(q1: Tensor, q2: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
    """Symmetrised BYOL loss: ``ℓ(q1, sg(t2)) + ℓ(q2, sg(t1))``.

    ``q1, q2``: online predictions of views 1 and 2; ``t1, t2``: target projections.
    """
    return normalized_mse(q1, t2) + normalized_mse(q2, t1)


class BYOLLoss(nn.Module):
    """Module form of :func:`byol_loss`; ``forward(q1, q2, t1, t2)``."""

    def forward(self, q1: Tensor, q2: Tensor, t1: Tensor, t2: Tensor) -> Tensor:
        return byol_loss(q1, q2, t1, t2)
