"""Spatial graph convolution over a skeleton, one frame at a time (MASA Eq. 1).

The graph of a part (a hand, the body) comes from the layout's bones
(:attr:`signssl.pose.layouts.Layout.bones`), made symmetric, with self-loops, and
normalised ``Â = D^{-1/2} (A + I) D^{-1/2}`` (Kipf & Welling 2017).  A layer computes

    H' = GELU(LN(Â_w H W)) + R(H),      Â_w = Â ⊙ E  (E: learnable edge importance, init 1)

with ``R`` the identity (or a linear map when the width changes).  The part network
stacks ``depth`` layers and maps the flattened joints to one vector per frame.

Layout: these modules are purely spatial and take ``(N, J, C)`` with ``N`` frames (a
batch of clips is flattened to ``N = B·T`` by the caller); there is no temporal
convolution, so a frame's output depends on that frame alone, and the ``(B, C, T, J)``
layout of spatio-temporal GCNs is never needed.

>>> from signssl.pose.layouts import get_layout
>>> a = part_adjacency(get_layout("masa49"), "left_hand")
>>> tuple(a.shape)
(21, 21)
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from signssl.errors import ConfigError
from signssl.pose.layouts import Layout, get_layout


def normalized_adjacency(
    num_nodes: int, edges: Iterable[tuple[int, int]], self_loops: bool = True
) -> Tensor:
    """``D^{-1/2} (A + I) D^{-1/2}``: ``(num_nodes, num_nodes)`` float32, symmetric.

    Args:
        num_nodes: number of joints J.
        edges: undirected joint index pairs in ``[0, J)`` (duplicates are harmless).
        self_loops: add ``I`` (a node keeps its own feature).
    """
    if num_nodes < 1:
        raise ConfigError(f"a graph needs at least one node, got {num_nodes}")
    a = torch.zeros(num_nodes, num_nodes)
    for i, j in edges:
        if not (0 <= i < num_nodes and 0 <= j < num_nodes):
            raise ConfigError(f"edge ({i}, {j}) is outside a graph of {num_nodes} nodes")
        if i != j:
            a[i, j] = a[j, i] = 1.0
    if self_loops:
        a = a + torch.eye(num_nodes)
    deg = a.sum(dim=1)  # (J,)
    inv = torch.where(deg > 0, deg.rsqrt(), torch.zeros_like(deg))
    return inv[:, None] * a * inv[None, :]


def part_edges(layout: Layout | str, part: str) -> list[tuple[int, int]]:
    """The layout's bones inside ``part``, as indices within the part."""
    lay = get_layout(layout)
    sl = lay.part_slice(part)
    return [
        (i - sl.start, j - sl.start)
        for i, j in lay.bones
        if sl.start <= i < sl.stop and sl.start <= j < sl.stop
    ]


def part_adjacency(layout: Layout | str, part: str) -> Tensor:
    """Normalised adjacency ``(Jp, Jp)`` of one part of a layout, from its bones."""
    lay = get_layout(layout)
    sl = lay.part_slice(part)
    return normalized_adjacency(sl.stop - sl.start, part_edges(lay, part))


class GraphConv(nn.Module):
    """``(N, J, C_in) -> (N, J, C_out)``: ``(Â ⊙ E) H W + b``."""

    adjacency: Tensor

    def __init__(self, in_channels: int, out_channels: int, adjacency: Tensor) -> None:
        super().__init__()
        if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
            raise ConfigError(f"adjacency must be (J, J), got {tuple(adjacency.shape)}")
        self.register_buffer("adjacency", adjacency.float().clone(), persistent=False)
        self.edge_importance = nn.Parameter(torch.ones_like(self.adjacency))
        self.linear = nn.Linear(in_channels, out_channels)

    def forward(self, h: Tensor) -> Tensor:
        a = self.adjacency * self.edge_importance  # (J, J)
        mixed = torch.einsum("ij,njc->nic", a, h)  # neighbours of joint i: (N, J, C_in)
        return self.linear(mixed)  # (N, J, C_out)


class GCNBlock(nn.Module):
    """Graph convolution, LayerNorm, GELU, dropout, residual: ``(N, J, C_in) -> (N, J, C_out)``."""

    def __init__(
        self, in_channels: int, out_channels: int, adjacency: Tensor, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.conv = GraphConv(in_channels, out_channels, adjacency)
        self.norm = nn.LayerNorm(out_channels)
        self.act = nn.GELU()
        self.drop = nn.Dropout(dropout)
        self.skip = (
            nn.Identity() if in_channels == out_channels else nn.Linear(in_channels, out_channels)
        )

    def forward(self, h: Tensor) -> Tensor:
        return self.drop(self.act(self.norm(self.conv(h)))) + self.skip(h)


class PartGCN(nn.Module):
    """One part's frame embedding (GCN_H or GCN_B of MASA Eq. 1).

    ``(N, J, C_in) -> (N, out_dim)``: ``depth`` :class:`GCNBlock` of width ``width``, then
    the joints are flattened (joint identity is kept) and a ``Linear`` + ``LayerNorm``
    gives the part vector.

    Args:
        adjacency: ``(J, J)`` normalised adjacency (:func:`part_adjacency`).
        in_channels: features per joint (MASA: x, y, confidence = 3).
        width: channels of the graph layers.
        depth: number of graph layers (>= 1).
        out_dim: size of the part vector.
    """

    def __init__(
        self,
        adjacency: Tensor,
        in_channels: int,
        width: int,
        depth: int,
        out_dim: int,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if depth < 1 or width < 1 or out_dim < 1:
            raise ConfigError(
                f"PartGCN needs depth, width, out_dim >= 1; got {depth}, {width}, {out_dim}"
            )
        self.num_joints = int(adjacency.shape[0])
        chans = [in_channels] + [width] * depth
        self.blocks = nn.ModuleList(
            GCNBlock(c_in, c_out, adjacency, dropout)
            for c_in, c_out in zip(chans[:-1], chans[1:], strict=True)
        )
        self.out = nn.Linear(self.num_joints * width, out_dim)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, h: Tensor) -> Tensor:
        if h.ndim != 3 or h.shape[1] != self.num_joints:
            raise ValueError(f"PartGCN expects (N, {self.num_joints}, C), got {tuple(h.shape)}")
        for blk in self.blocks:
            h = blk(h)  # (N, J, width)
        return self.norm(self.out(h.flatten(1)))  # (N, J, width) -> (N, J*width) -> (N, out_dim)
