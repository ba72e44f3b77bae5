"""InfoNCE with a queue (Eq. 8) against a naive loop; MemoryQueue FIFO order."""

from __future__ import annotations

import math
from collections import deque

import pytest
import torch
import torch.nn.functional as F

from signssl.losses.info_nce_queue import InfoNCEQueueLoss, MemoryQueue, info_nce_queue_loss


def naive_info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, tau: float) -> float:
    qn, kn = F.normalize(q, dim=1).tolist(), F.normalize(k, dim=1).tolist()
    negs = queue.tolist()
    total = 0.0
    for qi, ki in zip(qn, kn, strict=True):
        pos = math.exp(sum(a * b for a, b in zip(qi, ki, strict=True)) / tau)
        neg = sum(math.exp(sum(a * b for a, b in zip(qi, n, strict=True)) / tau) for n in negs)
        total += -math.log(pos / (pos + neg))
    return total / len(qn)


def test_matches_naive_loop() -> None:
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(4, 6, generator=g), torch.randn(4, 6, generator=g)
    queue = F.normalize(torch.randn(10, 6, generator=g), dim=1)
    for tau in (0.07, 0.5):
        expected = naive_info_nce(q, k, queue, tau)
        assert float(info_nce_queue_loss(q, k, queue, tau)) == pytest.approx(expected, rel=1e-5)
        assert float(InfoNCEQueueLoss(tau)(q, k, queue)) == pytest.approx(expected, rel=1e-5)


def test_empty_queue_gives_zero_and_gradient_only_to_queries() -> None:
    q = torch.randn(3, 4, requires_grad=True)
    k = torch.randn(3, 4, requires_grad=True)
    assert float(info_nce_queue_loss(q, k, torch.zeros(0, 4)).detach()) == pytest.approx(
        0.0, abs=1e-6
    )
    queue = F.normalize(torch.randn(5, 4), dim=1).requires_grad_()
    info_nce_queue_loss(q, k, queue).backward()
    assert k.grad is None and queue.grad is None
    assert q.grad.abs().sum() > 0


def test_queue_is_fifo() -> None:
    K, D = 5, 3
    bank = MemoryQueue(K, D)
    initial = bank.ordered().clone()
    seen: deque[torch.Tensor] = deque(initial, maxlen=K)  # oldest first
    torch.testing.assert_close(bank.queue.norm(dim=1), torch.ones(K))  # unit keys at start
    g = torch.Generator().manual_seed(0)
    for n in (2, 3, 1, 4, 2):
        keys = torch.randn(n, D, generator=g)
        bank.enqueue(keys)
        seen.extend(F.normalize(keys, dim=1))
        torch.testing.assert_close(bank.ordered(), torch.stack(list(seen)))
    assert int(bank.ptr) == (2 + 3 + 1 + 4 + 2) % K


def test_queue_keeps_newest_when_batch_exceeds_size() -> None:
    bank = MemoryQueue(4, 2)
    keys = torch.randn(7, 2)
    bank.enqueue(keys)
    torch.testing.assert_close(bank.ordered(), F.normalize(keys[-4:], dim=1))


def test_queue_state_dict_round_trip() -> None:
    a = MemoryQueue(6, 3)
    a.enqueue(torch.randn(4, 3))
    b = MemoryQueue(6, 3)
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(b.ordered(), a.ordered())
    with pytest.raises(ValueError):
        a.enqueue(torch.randn(2, 4))
