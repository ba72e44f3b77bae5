"""Functions for code that runs the same way with one process or under DDP.

Every function is the identity (or the trivial value) when ``torch.distributed`` is not
initialised, so losses and queues call them unconditionally.

* :func:`world_size`, :func:`rank`: 1 and 0 outside DDP.
* :func:`choose_threads` / :func:`set_process_threads`: torch threads per training process
  when several share one machine (``cores // local processes``).
* :func:`gather`: ``all_gather`` concatenated along dim 0, differentiable: the gradient
  that reaches each rank's local slice is the sum over ranks of the gradients of the
  gathered tensor at that slice (an ``all_reduce`` in backward).  With DDP's gradient
  averaging this gives exactly the gradient of the mean over ranks of the per-rank
  losses, i.e. the gradient of the loss computed on the global batch by one process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from signssl.errors import ConfigError


def is_distributed() -> bool:
    """True when ``torch.distributed`` is available and a process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Number of processes in the default group (1 outside DDP)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """Rank of this process in the default group (0 outside DDP)."""
    return dist.get_rank() if is_distributed() else 0


#: rank variables of the launchers: Lightning's own (``LOCAL_RANK``, ``NODE_RANK``),
#: torchrun (``RANK``: its ``LOCAL_RANK`` is 0 on every node) and SLURM's ``srun``
#: (``SLURM_PROCID``: it sets none of the others)
RANK_VARIABLES = ("LOCAL_RANK", "NODE_RANK", "RANK", "SLURM_PROCID")


def launched_as_rank_zero(environ: Mapping[str, str] | None = None) -> bool:
    """False in the extra processes a multi-device or multi-node launcher starts (they
    run the same command with a non-zero rank in one of :data:`RANK_VARIABLES`), before
    any process group exists."""
    env = os.environ if environ is None else environ
    return all(int(env.get(k, "0") or "0") == 0 for k in RANK_VARIABLES)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity: a SLURM allocation, ``taskset``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def local_processes(devices: int, environ: Mapping[str, str]) -> int:
    """Training processes on this machine: ``LOCAL_WORLD_SIZE`` when a launcher set it
    (torchrun), else ``devices`` (Lightning starts one process per device on each node,
    itself or under SLURM's ``srun``)."""
    value = environ.get("LOCAL_WORLD_SIZE", "")
    return int(value) if value.isdigit() and int(value) > 0 else max(1, devices)


def choose_threads(cores: int, devices: int, requested: int | None,
                   environ: Mapping[str, str]) -> int | None:
    """Torch threads for each training process, ``None`` = leave torch's setting.

    ``requested`` (``--threads``) wins; a set ``OMP_NUM_THREADS`` is the user's choice
    (torch reads it at start); under ``srun`` with several tasks each process gets its
    task's ``SLURM_CPUS_PER_TASK``; otherwise, with several processes on this machine,
    each gets ``max(1, cores // processes)``, so they do not oversubscribe the cores; a
    single process keeps torch's default (every core).
    """
    if requested is not None:
        if requested < 1:
            raise ConfigError(f"--threads must be >= 1, got {requested}")
        return requested
    if environ.get("OMP_NUM_THREADS"):
        return None
    per_task = environ.get("SLURM_CPUS_PER_TASK", "")
    if per_task.isdigit() and int(per_task) > 0 and int(environ.get("SLURM_NTASKS", "1") or 1) > 1:
        return int(per_task)
    processes = local_processes(devices, environ)
    return None if processes <= 1 else max(1, cores // processes)


def set_process_threads(devices: int, requested: int | None = None) -> int | None:
    """Apply :func:`choose_threads` to this process (torch and ``OMP_NUM_THREADS``, which the
    processes a launcher starts inherit); returns the number set, ``None`` when unchanged."""
    n = choose_threads(available_cores(), devices, requested, os.environ)
    if n is not None:
        torch.set_num_threads(n)
        os.environ["OMP_NUM_THREADS"] = str(n)
    return n


class _GatherWithGrad(torch.autograd.Function):
    """``all_gather`` whose backward sums the incoming gradients over ranks."""

    @staticmethod
    def forward(ctx: Any, t: Tensor) -> Tensor:  # (N, ...) -> (W * N, ...)
        ctx.local_n = t.shape[0]
        parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:  # (W * N, ...) -> (N, ...)
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.local_n
        return grad[start : start + ctx.local_n]


def gather(t: Tensor) -> Tensor:
    """Concatenate ``t`` from every rank along dim 0: ``(N, ...) -> (W * N, ...)``.

    Every rank must pass the same shape.  Rank ``r``'s rows sit at
    ``[r * N, (r + 1) * N)``.  Differentiable when ``t`` requires grad (see the module
    docstring); the identity outside DDP.
    """
    if not is_distributed() or world_size() == 1:
        return t
    if t.requires_grad:
        return _GatherWithGrad.apply(t)
    parts = [torch.empty_like(t) for _ in range(world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts, dim=0)
