"""NT-Xent, the SimCLR contrastive loss (Chen et al. 2020, Eq. 1; docs/methods.md#simclr).

For 2N L2-normalised embeddings (two views of N clips) and the cosine similarity
``s(u, v) = uᵀv``, the loss of anchor k with positive ``pos(k)`` (the other view of
the same clip) is::

    ℓ_k = −log( exp(s_k,pos(k) / τ) / Σ_{j ≠ k} exp(s_k,j / τ) )
    L   = 1/(2N) Σ_k ℓ_k

τ = 0.5 in SSL-SLR (its §6.2 fixes the temperature of every contrastive variant at 0.5).
Under DDP the candidates (positives and negatives) are gathered from every rank with
:func:`signssl.distributed.gather`, so each rank's anchors see the global batch; the
loss on each rank is the mean over its local anchors, and the mean over ranks equals the
single-process loss on the global batch.

Shapes: ``z_a, z_b``: ``(N, D)`` (rows i of both are the two views of clip i); scalar out.

Example:
    >>> import torch
    >>> z = torch.randn(8, 16)
    >>> loss = nt_xent_loss(z, z + 0.01 * torch.randn(8, 16), temperature=0.5)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signssl import distributed


def nt_xent_loss(
    z_a: Tensor, z_b: Tensor, temperature: float = 0.5, gather_distributed: bool = True
) -> Tensor:
    """Mean NT-Xent over the 2N local anchors (see the module docstring).

    Args:
        z_a, z_b: ``(N, D)`` embeddings of the two views (normalised here).
        temperature: τ > 0.
        gather_distributed: take negatives from every rank under DDP.
    """
    if z_a.ndim != 2 or z_a.shape != z_b.shape:
        raise ValueError(
            f"expected two (N, D) tensors of one shape, got {tuple(z_a.shape)}, {tuple(z_b.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = z_a.shape[0]
    a, b = F.normalize(z_a, dim=-1), F.normalize(z_b, dim=-1)  # (N, D)
    if gather_distributed:
        a_all, b_all = distributed.gather(a), distributed.gather(b)  # (W*N, D)
        offset = distributed.rank() * n
    else:
        a_all, b_all, offset = a, b, 0
    total = a_all.shape[0]  # W*N
    anchors = torch.cat([a, b], dim=0)  # (2N, D)
    candidates = torch.cat([a_all, b_all], dim=0)  # (2WN, D)
    logits = anchors @ candidates.T / temperature  # (2N, 2WN)
    local = torch.arange(n, device=a.device) + offset  # global index of each local clip
    self_idx = torch.cat([local, local + total])  # (2N,) the anchor itself
    pos_idx = torch.cat([local + total, local])  # (2N,) the other view
    rows = torch.arange(2 * n, device=a.device)
    is_self = torch.zeros_like(logits, dtype=torch.bool)  # (2N, 2WN)
    is_self[rows, self_idx] = True
    logits = logits.masked_fill(is_self, float("-inf"))
    return F.cross_entropy(logits, pos_idx)


class NTXentLoss(nn.Module):
    """Module form of :func:`nt_xent_loss`; ``forward(z_a, z_b)``."""

    def __init__(self, temperature: float = 0.5, gather_distributed: bool = True) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature
        self.gather_distributed = gather_distributed

    def forward(self, z_a: Tensor, z_b: Tensor) -> Tensor:
        return nt_xent_loss(z_a, z_b, self.temperature, self.gather_distributed)
