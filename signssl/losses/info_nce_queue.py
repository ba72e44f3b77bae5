"""InfoNCE against a FIFO queue of negatives: MoCo v2 (He et al. 2020 Eq. 1, Chen et al.
2020) and MASA's semantic-alignment loss (docs/methods.md#masa-alignment, Eq. 8).

With L2-normalised query ``q``, its positive key ``k⁺`` (from the momentum encoder) and a
queue of K earlier keys ``k⁻``::

    L = −log( exp(q·k⁺/τ) / (exp(q·k⁺/τ) + Σ_{k⁻ ∈ queue} exp(q·k⁻/τ)) )     (Eq. 8)

averaged over the batch.  Keys and queue carry no gradient (``stop_gradient=True``).
τ: MASA 0.07, MoCo v2 0.2, SSL-SLR's comparison 0.5.

:class:`MemoryQueue` holds the K keys: a ring buffer filled first-in first-out, whose
:meth:`MemoryQueue.enqueue` gathers the keys of every rank under DDP (rank order), so
all ranks keep identical queues.  It starts as K random unit vectors (as in MoCo) drawn
from a generator seeded with ``seed``, so every rank starts from the same queue.

Shapes: ``q, k``: ``(B, D)``; ``queue``: ``(K, D)``; scalar out.

Example:
    >>> import torch
    >>> bank = MemoryQueue(size=16, dim=8)
    >>> q, k = torch.randn(4, 8), torch.randn(4, 8)
    >>> loss = info_nce_queue_loss(q, k, bank.queue, temperature=0.07)
    >>> bank.enqueue(k)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signssl import distributed


def info_nce_queue_loss(
    q: Tensor, k: Tensor, queue: Tensor, temperature: float = 0.07, stop_gradient: bool = True
) -> Tensor:
    """Eq. 8: cross-entropy with the positive key as class 0 among ``1 + K`` keys.

    Args:
        q: ``(B, D)`` queries (normalised here).
        k: ``(B, D)`` positive keys (normalised here).
        queue: ``(K, D)`` unit-norm negative keys (K may be 0).
        temperature: τ > 0.
    """
    if q.ndim != 2 or q.shape != k.shape:
        raise ValueError(
            f"expected q and k of one (B, D) shape, got {tuple(q.shape)}, {tuple(k.shape)}"
        )
    if queue.ndim != 2 or queue.shape[1] != q.shape[1]:
        raise ValueError(f"queue must be (K, {q.shape[1]}), got {tuple(queue.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    q = F.normalize(q, dim=-1)
    k = F.normalize(k, dim=-1)
    if stop_gradient:
        k, queue = k.detach(), queue.detach()
    l_pos = (q * k).sum(dim=-1, keepdim=True)  # (B, 1)
    l_neg = q @ queue.to(q.dtype).T  # (B, D) @ (D, K) -> (B, K)
    logits = torch.cat([l_pos, l_neg], dim=1) / temperature  # (B, 1 + K)
    target = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, target)


class InfoNCEQueueLoss(nn.Module):
    """Module form of :func:`info_nce_queue_loss`; ``forward(q, k, queue)``."""

    def __init__(self, temperature: float = 0.07) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature

    def forward(self, q: Tensor, k: Tensor, queue: Tensor) -> Tensor:
        return info_nce_queue_loss(q, k, queue, self.temperature)


class MemoryQueue(nn.Module):
    """FIFO queue of K unit-norm keys (buffers ``queue (K, D)`` and ``ptr``, saved in
    checkpoints).

    ``enqueue(keys)`` overwrites the oldest entries with the new keys (gathered from
    every rank under DDP); :meth:`ordered` returns the entries oldest first.

    Args:
        size: K, the number of stored keys.
        dim: D, the key dimension.
        seed: seed of the random initial keys.
    """

    queue: Tensor
    ptr: Tensor

    def __init__(self, size: int, dim: int, seed: int = 0) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"queue size and dim must be >= 1, got size={size}, dim={dim}")
        self.size, self.dim = int(size), int(dim)
        init = torch.randn(self.size, self.dim, generator=torch.Generator().manual_seed(seed))
        self.register_buffer("queue", F.normalize(init, dim=-1))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Append ``(B, D)`` keys (normalised, detached, gathered across ranks)."""
        if keys.ndim != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"keys must be (B, {self.dim}), got {tuple(keys.shape)}")
        keys = distributed.gather(F.normalize(keys.detach(), dim=-1)).to(self.queue.dtype)
        n = keys.shape[0]
        if n >= self.size:  # only the newest K survive
            self.queue.copy_(keys[n - self.size :])
            self.ptr.zero_()
            return
        p = int(self.ptr)
        idx = (torch.arange(n, device=self.queue.device) + p) % self.size  # (B,) ring slots
        self.queue[idx] = keys
        self.ptr.fill_((p + n) % self.size)

    def ordered(self) -> Tensor:
        """The K entries oldest first: ``(K, D)``."""
        return torch.roll(self.queue, shifts=-int(self.ptr), dims=0)

    def forward(self) -> Tensor:
        return self.queue

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.dim}"
