"""Gather across ranks (gloo, 2 CPU processes): values, gradients, NT-Xent, queue."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from signssl import distributed
from signssl.losses.info_nce_queue import MemoryQueue
from signssl.losses.nt_xent import nt_xent_loss

WORLD = 2
N, D = 3, 4


def _global_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(WORLD * N, D, generator=g), torch.randn(WORLD * N, D, generator=g)


def _worker(rank: int, port: int, out_dir: str) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    try:
        a_all, b_all = _global_inputs()
        a = a_all[rank * N : (rank + 1) * N].clone().requires_grad_()
        b = b_all[rank * N : (rank + 1) * N].clone().requires_grad_()
        gathered = distributed.gather(a * 1.0)
        loss = nt_xent_loss(a, b, temperature=0.5)
        loss.backward()
        bank = MemoryQueue(5, D)
        bank.enqueue(torch.eye(D)[2 * rank : 2 * rank + 2])  # rank 0: e0, e1; rank 1: e2, e3
        torch.save(
            {
                "rank": distributed.rank(),
                "world": distributed.world_size(),
                "gathered": gathered.detach(),
                "loss": loss.detach(),
                "grad_a": a.grad,
                "grad_b": b.grad,
                "queue": bank.ordered(),
            },
            Path(out_dir) / f"rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_identity_outside_ddp() -> None:
    t = torch.randn(3, 2)
    assert distributed.gather(t) is t
    assert distributed.world_size() == 1 and distributed.rank() == 0


@pytest.mark.ddp
def test_gather_nt_xent_and_queue_under_ddp(tmp_path: Path) -> None:
    if not dist.is_gloo_available():
        pytest.skip("gloo backend not available")
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    res = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    a_all, b_all = _global_inputs()

    # reference: one process, the global batch
    a_ref, b_ref = a_all.clone().requires_grad_(), b_all.clone().requires_grad_()
    ref_loss = nt_xent_loss(a_ref, b_ref, temperature=0.5)
    ref_loss.backward()

    for r, out in enumerate(res):
        assert out["rank"] == r and out["world"] == WORLD
        torch.testing.assert_close(out["gathered"], a_all)  # rank order
    # the mean of the per-rank losses is the global loss
    torch.testing.assert_close(sum(o["loss"] for o in res) / WORLD, ref_loss.detach())
    # DDP averages gradients over ranks: grad / W must be the global gradient of each slice
    for r, out in enumerate(res):
        sl = slice(r * N, (r + 1) * N)
        torch.testing.assert_close(out["grad_a"] / WORLD, a_ref.grad[sl])
        torch.testing.assert_close(out["grad_b"] / WORLD, b_ref.grad[sl])
    # queues: identical on both ranks, newest keys last, in rank order
    torch.testing.assert_close(res[0]["queue"], res[1]["queue"])
    torch.testing.assert_close(res[0]["queue"][1:], torch.eye(D))
    torch.testing.assert_close(
        res[0]["queue"][0], MemoryQueue(5, D).ordered()[4]
    )  # oldest init key
