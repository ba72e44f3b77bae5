"""A small 3D-CNN video encoder with Hiera's mask units, which learns on CPU budgets.

The paper's encoder is a Hiera (:mod:`signssl.models.hiera`); trained from scratch on CPU
budgets it does not learn to read the pose from 64-pixel frames (docs/results/README.md,
"SignRep"), while a small 3D CNN regressing the same sign priors does.  ``VideoCNN`` is
that CNN behind the :class:`~signssl.models.video_encoder.VideoEncoder` API, so ``signrep``
and ``mae`` train it unchanged and every evaluation embeds with it::

    x (B, 3, T, H, W) -> stage_i: Conv3d(stride_i) -> LN -> GELU -> depth_i ConvNeXt blocks
                      -> (B, C, T', H', W')  final token grid (stride product = token pixels)
    (the stages are ``blocks``: layer-wise lr decay treats each stage as one layer)
    readout "position": u_thw = A_t (W_hw f_thw) + b      per-position weights (see below)
    tokens (B, V·S, D) of the visible mask units; pool = LayerNorm(mean over tokens)

**Masking (ConvMAE / SparK style, zeroing, not dropping).**  A convolution cannot skip
hidden blocks the way attention over a token subset does, so the hidden units' pixels are
set to 0 before the stem and every stage's output is multiplied by the visibility of its
grid cell (each cell lies inside one unit): features of hidden units stay 0 at every depth
and reach visible ones only through the border of one kernel.  Only the visible units'
tokens are returned, as the Hiera returns them.  Dropping (sparse convolution) would save
the hidden units' compute but needs a sparse-convolution library; zeroing is exact in
what the encoder can see and costs the dense forward pass.

**Position-aware readout.**  A convolution is translation-equivariant, so the mean of its
final map cannot say *where* a hand is, and the SignRep decoder and every evaluation read
the mean over tokens.  ``readout="position"`` gives each spatial cell its own projection
``W_hw`` (C -> D) and each temporal position its own ``A_t`` (D -> D, identity at
initialisation): the mean over tokens is then a (factorised) linear map of the whole
flattened grid, the readout with which a small CNN learns the sign priors
(``benchmarks/video_learnability.py``).  ``readout="none"`` keeps plain 1x1x1 tokens.

Sizes: ``cnn_tiny_16x64`` (the tiny Hiera's 16 x 64 x 64 input and 32 mask units of 2 x 32 x
32 pixels, 128 final tokens, out dim 256), ``cnn_small_16x128``, ``cnn_test`` (unit tests).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signssl.errors import ConfigError
from signssl.models.registry import register_model
from signssl.models.video_encoder import (
    Size3,
    VideoEncoder,
    clip_size,
    div3,
    mul3,
    prod,
    triple,
)

READOUTS = ("position", "none")


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of each voxel: ``(B, C, T, H, W)`` -> same shape.

    Per voxel, so zeroed (hidden) voxels do not change the statistics of visible ones."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class ConvNeXtBlock3d(nn.Module):
    """Depthwise 3x3x3 conv -> LN -> pointwise MLP (x2) with a residual: shape kept."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.dw = nn.Conv3d(channels, channels, 3, padding=1, groups=channels)
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(channels, 2 * channels), nn.GELU(), nn.Linear(2 * channels, channels)
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.norm(self.dw(x).permute(0, 2, 3, 4, 1))  # (B, C, T, H, W) -> (B, T, H, W, C)
        return x + self.mlp(h).permute(0, 4, 1, 2, 3)


class ConvStage(nn.Module):
    """Strided Conv3d -> channel LN -> GELU, then ``depth`` ConvNeXt blocks."""

    def __init__(self, c_in: int, c_out: int, kernel: Size3, stride: Size3, depth: int,
                 padding: Size3 | None = None) -> None:  # fmt: skip
        super().__init__()
        pad = tuple(k // 2 for k in kernel) if padding is None else padding
        self.down = nn.Conv3d(c_in, c_out, kernel, stride, pad)
        self.norm = ChannelNorm(c_out)
        self.blocks = nn.ModuleList(ConvNeXtBlock3d(c_out) for _ in range(depth))

    def forward(self, x: Tensor, visible: Tensor | None) -> Tensor:
        """``visible``: ``(B, 1, T, H, W)`` pixel visibility of the stage's input, or None."""
        x = F.gelu(self.norm(self.down(x)))
        vis = None if visible is None else _resize_visibility(visible, x.shape[2:])
        if vis is not None:
            x = x * vis
        for blk in self.blocks:
            x = blk(x)
            if vis is not None:
                x = x * vis
        return x


def _resize_visibility(visible: Tensor, size: Sequence[int]) -> Tensor:
    """``(B, 1, T, H, W)`` bool -> ``(B, 1, *size)`` float (nearest: cells inside one unit)."""
    return F.interpolate(visible.float(), size=tuple(int(s) for s in size), mode="nearest")


class PositionReadout(nn.Module):
    """``u_thw = A_t (W_hw f_thw) + b``: ``(B, C, T', H', W') -> (B, T', H', W', D)``."""

    def __init__(self, channels: int, dim: int, grid: Size3) -> None:
        super().__init__()
        T, H, W = grid
        self.spatial = nn.Parameter(torch.randn(H, W, channels, dim) / channels**0.5)
        self.temporal = nn.Parameter(torch.eye(dim).repeat(T, 1, 1))  # (T, D, D) identity
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, f: Tensor) -> Tensor:
        y = torch.einsum("bcthw,hwcd->bthwd", f, self.spatial)  # (B, T', H', W', D)
        return torch.einsum("bthwd,tde->bthwe", y, self.temporal) + self.bias


class VideoCNN(VideoEncoder):
    """3D-CNN video encoder with mask units (module docstring).

    Args:
        num_frames: clip length T.
        input_size: frame size, one int (square) or ``(H, W)``.
        in_chans: input channels.
        widths: channels of each stage.
        strides: per stage ``(t, h, w)`` stride; their product is the final token's pixels.
        depths: ConvNeXt blocks after each stage's strided convolution.
        stem_kernel: kernel of the first convolution (later ones: 3).
        stem_padding: its padding (``None``: half the kernel; set by
            :func:`~signssl.models.inflate.inflate_cnn_stem`).
        mask_unit_size: final tokens per mask unit ``(t, h, w)``.
        out_dim: token width D.
        readout: ``"position"`` (per-position projections) or ``"none"`` (1x1x1 conv).
        normalize_input: divide ``uint8`` by 255 and apply the ImageNet mean / std.
    """

    def __init__(
        self,
        num_frames: int = 16,
        input_size: int | Sequence[int] = 64,
        in_chans: int = 3,
        widths: Sequence[int] = (32, 64, 128, 128),
        strides: Sequence[Sequence[int]] = ((1, 2, 2), (2, 2, 2), (1, 2, 2), (1, 2, 2)),
        depths: Sequence[int] = (0, 1, 1, 1),
        stem_kernel: int | Sequence[int] = (3, 5, 5),
        stem_padding: int | Sequence[int] | None = None,
        mask_unit_size: int | Sequence[int] = (1, 2, 2),
        out_dim: int = 256,
        readout: str = "position",
        normalize_input: bool = True,
    ) -> None:
        super().__init__()
        widths, depths = [int(w) for w in widths], [int(d) for d in depths]
        strides3 = [triple(s, "strides") for s in strides]
        if not widths or not len(widths) == len(strides3) == len(depths) or min(widths) < 1:
            raise ConfigError(
                f"widths, strides and depths need one entry per stage, got {len(widths)}, "
                f"{len(strides3)} and {len(depths)}"
            )
        if readout not in READOUTS:
            raise ConfigError(f"unknown readout {readout!r}; known: {', '.join(READOUTS)}")
        self.input_size: Size3 = clip_size(num_frames, input_size)
        self.in_chans, self.normalize_input = int(in_chans), bool(normalize_input)
        self.token_pixels: Size3 = (1, 1, 1)
        for s in strides3:
            self.token_pixels = mul3(self.token_pixels, s)
        self.unit_size = triple(mask_unit_size, "mask_unit_size")
        self.token_grid = self._check_grid()
        self.mask_unit_grid = div3(self.token_grid, self.unit_size)
        self.num_mask_units = prod(self.mask_unit_grid)
        self.out_dim, self.readout_kind = int(out_dim), readout
        self.stage_dims = [*widths[:-1], self.out_dim]
        self._register_input_stats()
        kernels = [triple(stem_kernel, "stem_kernel")] + [(3, 3, 3)] * (len(widths) - 1)
        pads = [None if stem_padding is None else triple(stem_padding, "stem_padding")]
        chans = [self.in_chans, *widths]
        self.blocks = nn.ModuleList(
            ConvStage(chans[i], chans[i + 1], kernels[i], strides3[i], depths[i],
                      pads[i] if i == 0 else None)
            for i in range(len(widths))
        )  # fmt: skip
        self.readout: nn.Module = (
            PositionReadout(widths[-1], self.out_dim, self.token_grid)
            if readout == "position"
            else nn.Conv3d(widths[-1], self.out_dim, 1)
        )
        self.norm = nn.LayerNorm(self.out_dim, eps=1e-6)

    def _check_grid(self) -> Size3:
        """Final token grid; the input must split into whole tokens and whole mask units."""
        grid = div3(self.input_size, self.token_pixels)
        if mul3(grid, self.token_pixels) != self.input_size or min(grid) < 1:
            raise ConfigError(
                f"input (T, H, W) = {self.input_size} is not a multiple of the strides' product "
                f"{self.token_pixels}; change num_frames / input_size or strides"
            )
        if any(g % u for g, u in zip(grid, self.unit_size, strict=True)):
            raise ConfigError(
                f"the final token grid {grid} does not split into mask units of "
                f"{self.unit_size} tokens; change mask_unit_size"
            )
        return grid

    # ------------------------------------------------------------------ sizes for decoders

    @property
    def mask_unit_pixels(self) -> Size3:
        return mul3(self.unit_size, self.token_pixels)

    @property
    def final_unit_size(self) -> Size3:
        return self.unit_size

    # ------------------------------------------------------------------ forward

    def _grid(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Final token grid ``(B, T', H', W', D)`` and the visible unit indices ``(B, V)``."""
        x = self.prepare_input(x)
        B = x.shape[0]
        visible = None if mask is None else self.visible_units(mask.to(x.device), B)
        pixel_vis = None if visible is None else self.pixel_visibility(visible, B)
        h = x if pixel_vis is None else x * pixel_vis
        for stage in self.blocks:
            h = stage(h, pixel_vis)  # (B, C_i, T_i, H_i, W_i)
        if self.readout_kind == "position":
            return self.readout(h), visible  # (B, T', H', W', D)
        return self.readout(h).permute(0, 2, 3, 4, 1), visible

    def _units(self, grid: Tensor, visible: Tensor | None) -> Tensor:
        """``(B, T', H', W', D)`` -> visible units ``(B, V, mt, mh, mw, D)`` (raster order)."""
        B, D = grid.shape[0], grid.shape[-1]
        Tm, Hm, Wm = self.mask_unit_grid
        mt, mh, mw = self.unit_size
        x = grid.reshape(B, Tm, mt, Hm, mh, Wm, mw, D)
        x = x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(B, Tm * Hm * Wm, mt, mh, mw, D)
        if visible is None:
            return x
        idx = visible[:, :, None, None, None, None].expand(-1, -1, mt, mh, mw, D)
        return x.gather(1, idx)  # (B, V, mt, mh, mw, D)

    def forward_features(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Tokens ``(B, V·S, D)`` of the visible units (all without a mask), unit-major."""
        return self.forward_intermediates(x, mask)[0]

    def forward_intermediates(
        self, x: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """Tokens and ``[final stage (B, V, mt, mh, mw, D)]`` in mask-unit order."""
        grid, visible = self._grid(x, mask)
        units = self._units(grid, visible)  # (B, V, mt, mh, mw, D)
        return units.flatten(1, 4), [units]  # (B, V·S, D)

    def pool(self, tokens: Tensor) -> Tensor:
        """Mean over tokens, then the final LayerNorm: ``(B, N, D) -> (B, D)``."""
        return self.norm(tokens.mean(dim=1))

    def tokens_by_time(self, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean of the tokens at each temporal position: ``(B, V·S, D) -> (B, T', D)``.

        ``mask`` must be the one given to :meth:`forward_features`; a position with no
        visible token gets the zero vector."""
        B, N, D = tokens.shape
        Tm, Hm, Wm = self.mask_unit_grid
        mt, mh, mw = self.unit_size
        units = (torch.arange(self.num_mask_units, device=tokens.device).expand(B, -1)
                 if mask is None else self.visible_units(mask.to(tokens.device), B))  # (B, V)
        if units.shape[1] * mt * mh * mw != N:
            raise ConfigError(f"tokens have {N} positions but the mask implies "
                              f"{units.shape[1] * mt * mh * mw}; pass the mask used by "
                              "forward_features")  # fmt: skip
        per_unit = tokens.view(B, -1, mt, mh * mw, D).mean(dim=3)  # (B, V, mt, D)
        times = (units // (Hm * Wm))[..., None] * mt + torch.arange(mt, device=tokens.device)
        sums = tokens.new_zeros(B, Tm * mt, D)
        sums.scatter_add_(1, times.reshape(B, -1, 1).expand(-1, -1, D), per_unit.reshape(B, -1, D))
        counts = tokens.new_zeros(B, Tm * mt)
        counts.scatter_add_(1, times.reshape(B, -1), tokens.new_ones(times.reshape(B, -1).shape))
        return sums / counts.clamp_min(1.0)[..., None]  # (B, T', D)

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, tokens={self.token_grid}, "
            f"mask_units={self.mask_unit_grid}, readout={self.readout_kind}, "
            f"out_dim={self.out_dim}"
        )


# ----------------------------------------------------------------------------- sizes

_KWARGS = set(inspect.signature(VideoCNN.__init__).parameters) - {"self"}


def _build(defaults: dict[str, Any], overrides: dict[str, Any]) -> VideoCNN:
    unknown = sorted(set(overrides) - _KWARGS)
    if unknown:
        raise ConfigError(f"unknown VideoCNN option(s) {unknown}; known: {sorted(_KWARGS)}")
    return VideoCNN(**{**defaults, **overrides})


@register_model
def cnn_tiny_16x64(**kwargs: Any) -> VideoCNN:
    """16 x 64 x 64 clips; widths (32, 64, 128, 128), one ConvNeXt block in stages 2-4;
    final tokens (8, 4, 4) of 2 x 16 x 16 pixels, 32 mask units of 2 x 32 x 32 (as
    ``hiera_tiny_16x64``); position readout, out dim 256 (CPU training)."""
    return _build(dict(num_frames=16, input_size=64), kwargs)


@register_model
def cnn_small_16x128(**kwargs: Any) -> VideoCNN:
    """16 x 128 x 128 clips; widths (48, 96, 192, 256), depths (0, 1, 2, 1); final tokens
    (8, 8, 8), 128 mask units of 2 x 32 x 32 pixels; out dim 384."""
    return _build(
        dict(num_frames=16, input_size=128, widths=(48, 96, 192, 256), depths=(0, 1, 2, 1),
             out_dim=384),
        kwargs,
    )  # fmt: skip


@register_model
def cnn_test(**kwargs: Any) -> VideoCNN:
    """4 x 32 x 32 clips, widths (8, 8, 16, 16); final tokens (2, 2, 2), 8 mask units of one
    token; out dim 32 (unit tests)."""
    return _build(
        dict(num_frames=4, input_size=32, widths=(8, 8, 16, 16), depths=(0, 1, 0, 1),
             mask_unit_size=(1, 1, 1), out_dim=32),
        kwargs,
    )  # fmt: skip
