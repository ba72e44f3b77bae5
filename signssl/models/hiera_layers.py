"""The layers of video Hiera (:mod:`signssl.models.hiera`): patch embedding, mask-unit
attention with query pooling, the pre-norm block and stochastic depth.

Token sequences are ``(B, N, D)`` in the unrolled order of
:mod:`signssl.models.hiera_order`; parameter names follow the official Hiera release.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from signssl.errors import ConfigError
from signssl.models.hiera_order import pool_groups
from signssl.models.video_encoder import Size3

LN_EPS = 1e-6  # the LayerNorm epsilon of the reference implementation


def conv_out_size(n: int, kernel: int, stride: int, padding: int) -> int:
    """Output length of a convolution over ``n`` samples (no dilation)."""
    return (n + 2 * padding - kernel) // stride + 1


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    """Stochastic depth: zero a residual branch per sample with probability ``p``, scale
    the kept ones by ``1 / (1 - p)``.  ``x (B, ...)``."""
    if p == 0.0 or not training:
        return x
    keep = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(1.0 - p)  # (B, 1, ..)
    return x * keep / (1.0 - p)


# ----------------------------------------------------------------------------- layers


class DropPath(nn.Module):
    """Module form of :func:`drop_path`."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Mlp(nn.Module):
    """``Linear -> GELU -> Linear``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class MaskUnitAttention(nn.Module):
    """Multi-head attention inside mask units (windows) or over all tokens, with query pooling.

    ``x (B, N, dim)`` in unrolled order, where the window index is the fastest axis:
    token ``j * W + w`` is token ``j`` of window ``w`` (``W`` windows).  With
    ``use_mask_unit_attn`` the ``W = N / (q_stride * window_size)`` windows attend separately,
    otherwise ``W = 1`` (global).  ``q_stride > 1`` max-pools the queries over the leading
    stride group of each window, so the output has ``N / q_stride`` tokens:
    ``-> (B, N / q_stride, dim_out)``.  ``qkv`` outputs ``(3, heads, head_dim)`` features,
    the reference layout.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        heads: int,
        q_stride: int = 1,
        window_size: int = 0,
        use_mask_unit_attn: bool = False,
    ) -> None:
        super().__init__()
        if dim_out % heads:
            raise ConfigError(f"width {dim_out} is not divisible by {heads} heads")
        self.dim_out, self.heads, self.head_dim = dim_out, heads, dim_out // heads
        self.q_stride, self.window_size = q_stride, window_size
        self.use_mask_unit_attn = use_mask_unit_attn
        self.qkv = nn.Linear(dim, 3 * dim_out)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: Tensor) -> Tensor:
        B, N, _ = x.shape
        W = N // (self.q_stride * self.window_size) if self.use_mask_unit_attn else 1
        h, hd = self.heads, self.head_dim
        # (B, N, 3 * Do) -> (B, N/W, W, 3, h, hd) -> (3, B, h, W, N/W, hd)
        qkv = self.qkv(x).reshape(B, N // W, W, 3, h, hd).permute(3, 0, 4, 2, 1, 5)
        q, k, v = qkv.unbind(0)
        if self.q_stride > 1:
            # (B, h, W, N/W, hd) -> (B, h, W, q, N/(W q), hd) -> max over q
            q = q.reshape(B, h, W, self.q_stride, -1, hd).amax(dim=3)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, h, W, Nq/W, hd)
        out = out.transpose(1, 3).reshape(B, -1, self.dim_out)  # (B, Nq/W, W, h, hd) -> (B, Nq, Do)
        return self.proj(out)

    def extra_repr(self) -> str:
        kind = f"window={self.window_size}" if self.use_mask_unit_attn else "global"
        return f"heads={self.heads}, q_stride={self.q_stride}, {kind}"


class HieraBlock(nn.Module):
    """Pre-norm block; a width change adds ``proj`` and pools the residual like the queries.

    ``(B, N, dim) -> (B, N / q_stride, dim_out)``.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        heads: int,
        mlp_ratio: float,
        drop_path: float,
        q_stride: int,
        window_size: int,
        use_mask_unit_attn: bool,
    ) -> None:
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = MaskUnitAttention(
            dim, dim_out, heads, q_stride, window_size, use_mask_unit_attn
        )
        self.norm2 = nn.LayerNorm(dim_out, eps=LN_EPS)
        self.mlp = Mlp(dim_out, int(dim_out * mlp_ratio))
        self.drop_path = DropPath(drop_path)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: Tensor) -> Tensor:
        x_norm = self.norm1(x)
        if self.dim != self.dim_out:
            x = pool_groups(self.proj(x_norm), self.attn.q_stride)  # (B, N/q, Do)
        x = x + self.drop_path(self.attn(x_norm))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """``Conv3d`` patch embedding; ``(B, 3, T, H, W) -> (B, T' * H' * W', D)`` raster order.

    ``pixel_visible (B, 1, T, H, W)`` (``True`` = visible) zeroes hidden pixels first.
    """

    def __init__(self, in_chans: int, dim: int, kernel: Size3, stride: Size3, padding: Size3):
        super().__init__()
        self.proj = nn.Conv3d(in_chans, dim, kernel, stride, padding)

    def forward(self, x: Tensor, pixel_visible: Tensor | None = None) -> Tensor:
        if pixel_visible is not None:
            x = x * pixel_visible.to(x.dtype)
        x = self.proj(x)  # (B, D, T', H', W')
        return x.flatten(2).transpose(1, 2)  # (B, D, T', H', W') -> (B, T'H'W', D)
