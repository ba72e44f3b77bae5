"""Token order of video Hiera (:mod:`signssl.models.hiera`): unroll, pooling, reroll.

Tokens leave the patch embedding in raster order ``(t, y, x)``.  :func:`unroll` permutes
them so that the offsets inside each stride group come first and the mask-unit index last
(the module docstring of :mod:`signssl.models.hiera`, step 2); a max-pool over a stride
group is then :func:`pool_groups`, a max over the leading axis.  :func:`stage_orders`
computes once, per pooling level, the permutation back to raster order inside a mask unit
(``reroll``) and the time of every token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from signssl.models.video_encoder import Size3
from signssl.models.video_encoder import div3 as _div
from signssl.models.video_encoder import prod as _prod


def unroll(x: Tensor, grid: Size3, schedule: Sequence[Size3]) -> Tensor:
    """Reorder raster tokens so that stride groups and mask units are contiguous.

    ``x (B, N, C)`` in raster order over ``grid = (T, H, W)``.  Each stride ``s`` of
    ``schedule`` splits the current grid ``(T, H, W) -> (T/st, st, H/sh, sh, W/sw, sw)`` and
    moves the offsets ``(st, sh, sw)`` in front of everything not yet unrolled, so after
    ``k`` steps one clip reads ``(s_1, ..., s_k, T / prod st, H / prod sh, W / prod sw)``,
    ``s_1`` being the offset inside the finest group.
    """
    B, N, C = x.shape
    size = list(grid)
    lead = B
    x = x.reshape(B, *size, C)  # (B, N, C) -> (B, T, H, W, C)
    for st in schedule:
        size = [n // s for n, s in zip(size, st, strict=True)]
        # (L, T, H, W, C) -> (L, T/st, st, H/sh, sh, W/sw, sw, C)
        x = x.reshape(lead, size[0], st[0], size[1], st[1], size[2], st[2], C)
        # -> (L, st, sh, sw, T/st, H/sh, W/sw, C): stride offsets join the leading axes
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)
        lead *= _prod(st)
        x = x.reshape(lead, *size, C)  # (L * st*sh*sw, T', H', W', C)
    return x.reshape(B, N, C)  # (B, s_1, .., s_k, T', H', W', C) -> (B, N, C)


def unroll_index(grid: Size3, schedule: Sequence[Size3]) -> Tensor:
    """``(N,)`` long: the raster index of the token at each unrolled position."""
    raster = torch.arange(_prod(grid)).view(1, -1, 1)  # (1, N, 1)
    return unroll(raster, grid, schedule).view(-1)


def pool_groups(x: Tensor, stride: int) -> Tensor:
    """Max over the leading stride group of an unrolled sequence (a max-pool in the grid).

    ``(B, N, C) -> (B, N / stride, C)``; ``stride`` = product of the pooling strides.
    """
    B, N, C = x.shape
    return x.view(B, stride, N // stride, C).amax(dim=1)  # (B, s, N/s, C) -> (B, N/s, C)


@dataclass(frozen=True)
class StageOrder:
    """Index bookkeeping of one pooling level ``k`` (after ``k`` query poolings).

    ``unit_size``: tokens per mask unit per axis; ``perm (S,)``: for each position of the
    within-unit raster order, the position in the unrolled stride order; ``local_t (S,)``:
    the within-unit time of each unrolled stride position.
    """

    unit_size: Size3
    perm: Tensor
    local_t: Tensor


def stage_orders(
    token_grid: Size3, q_stride: Size3, mask_unit_size: Size3, num_stages: int, q_pool: int
) -> tuple[Tensor, list[StageOrder]]:
    """Unroll permutation and, per pooling level, the reroll / time bookkeeping.

    Returns the ``(N,)`` raster index of each unrolled position (:func:`unroll_index` with
    ``num_stages - 1`` steps of ``q_stride``) and one :class:`StageOrder` per level
    ``0 .. q_pool``.
    """
    schedule = [q_stride] * (num_stages - 1)
    idx = unroll_index(token_grid, schedule)  # (N,)
    T, H, W = token_grid
    coords = torch.stack(
        torch.meshgrid(torch.arange(T), torch.arange(H), torch.arange(W), indexing="ij"), -1
    ).view(-1, 3)[idx]  # (T, H, W, 3) -> (N, 3) raster -> unrolled
    q = torch.tensor(q_stride)
    U = _prod(_div(token_grid, mask_unit_size))  # number of mask units
    orders: list[StageOrder] = []
    for k in range(q_pool + 1):
        n_k = coords.shape[0] // _prod(q_stride) ** k
        c = coords[:n_k] // q**k  # (N_k, 3) coordinates after k poolings
        unit = torch.tensor(mask_unit_size) // q**k  # tokens per unit per axis
        local = c % unit  # (N_k, 3) position inside the unit
        local_raster = (local[:, 0] * unit[1] + local[:, 1]) * unit[2] + local[:, 2]
        S = n_k // U
        first = local_raster.view(S, U)[:, 0]  # (S,) positions of unit 0
        orders.append(
            StageOrder(
                (int(unit[0]), int(unit[1]), int(unit[2])),
                first.argsort(),
                local[:, 0].view(S, U)[:, 0].clone(),
            )
        )
    return idx, orders
