"""Video Hiera (Ryali et al. 2023): the SignRep encoder, in plain torch.

See docs/methods.md#signrep-model.

Input ``x``: a clip batch ``(B, 3, T, H, W)``, ``uint8`` (0-255) or float in [0, 1]; with
``normalize_input=True`` (default) the model divides ``uint8`` by 255 and applies the
ImageNet mean / std itself, so feed raw frames (a dataset built with
``normalize="imagenet"`` needs ``normalize_input=False``).  ``T, H, W`` must equal the
model's ``input_size``: the position embeddings are not interpolated.

Computation (Hiera-B video, ``hiera_base_16x224``, sizes in brackets):

1. patch embedding: ``Conv3d`` kernel (3, 7, 7), stride (2, 4, 4), padding (1, 3, 3):
   ``(B, 3, 16, 224, 224) -> (B, 96, 8, 56, 56)``, flattened in raster order ``(t, y, x)``;
   plus separate learned spatial ``(1, 56 * 56, 96)`` and temporal ``(1, 8, 96)`` position
   embeddings (their sum is the position of a token);
2. *unroll*: a fixed permutation of the tokens.  One unroll step with stride ``s`` splits
   every axis ``n -> (n / s, s)`` and moves the offsets inside a stride group to the front
   of the sequence.  Applied ``len(stages) - 1`` times with ``q_stride`` (1, 2, 2) it gives,
   per clip, the order ``(s_1, s_2, s_3, unit)``: ``s_1`` the offset in the finest 1x2x2
   group, ``s_3`` the coarsest, ``unit`` the raster index of the mask unit (1x8x8 tokens;
   8x7x7 = 392 units).  So (a) the tokens of one mask unit are the entries
   ``[:, :, u]`` of the view ``(B, 64, units, D)``, (b) a max-pool with stride (1, 2, 2) is
   ``x.view(B, 4, -1, D).amax(1)``: a max over the leading group, and the result is again in
   unrolled order, one level coarser;
3. MAE masking: ``mask (B, units)`` with ``True`` = hidden unit (the project convention;
   Hiera's own code uses ``True`` = visible and this module converts at this boundary:
   ``visible = ~mask``).  Pixels of hidden units are zeroed (after normalisation) before the
   patch convolution, so the border tokens of a visible unit never see hidden pixels, and
   the tokens of hidden units are *dropped* after the unroll: the blocks see only
   ``visible units x tokens per unit`` tokens.  Every clip must hide the same number of units;
   :meth:`Hiera.random_mask` draws such masks;
4. blocks, stages (2, 3, 16, 3): pre-norm ``x + DropPath(Attn(LN(x)))``,
   ``x + DropPath(MLP(LN(x)))``.  The first block of stages 2.. doubles the width
   (96 -> 192 -> 384 -> 768) and the heads (1 -> 2 -> 4 -> 8) and, for the first ``q_pool``
   (2) stage changes, pools queries and the residual by the max of step 2(b) (query
   pooling): its residual is ``maxpool(Linear(LN(x)))``.  Attention is *mask-unit attention*
   (a window over the tokens of one unit) in the stages flagged by ``mask_unit_attn``
   (default: the first half, (True, True, False, False)) and global afterwards; as in Hiera
   the flag lags one block, so the first (pooling) block of a stage still uses the previous
   stage's flag.  Attention itself is ``F.scaled_dot_product_attention``; drop path grows
   linearly from 0 to ``drop_path`` over the blocks;
5. ``forward_features`` returns the last block's tokens ``(B, N, 768)`` in unrolled order
   (unmasked: 8 x 14 x 14 = 1568 tokens; masked: 4 per visible unit).  ``pool`` is the mean
   over tokens followed by the final LayerNorm ``norm`` (Hiera's own pooling), so
   ``embed(x) = norm(mean(tokens))``.  The sign decoder's ``z`` (Eq. 1: mean over the
   encoder tokens, then LayerNorm) is ``tokens.mean(1)`` fed to the decoder's LayerNorm.

What a decoder can use: :meth:`Hiera.tokens_by_time` (per-time mean of the final tokens,
``(B, T', D)`` with ``T' = num_temporal_tokens``, 8 for Hiera-B);
:meth:`Hiera.forward_intermediates` (every stage's output rerolled to mask-unit order
``(B, units, mt, mh, mw, D_stage)``, as Hiera's MAE uses them); :meth:`Hiera.unit_pixels`
(the normalised pixels of every mask unit, ``(B, units, 3, 2, 32, 32)``, the target of a
pixel MAE, where each final token of a unit covers a ``final_token_pixels`` block of it);
:meth:`Hiera.units_to_grid` (mask-unit order back to a ``(B, T, H, W, D)`` grid when
nothing is hidden).

Simplifications with respect to the reference implementation: no classification head (the
evaluation code adds its own); ``mask_unit_size`` must equal ``q_stride`` to the power
``len(stages) - 1`` (what makes the unrolled order end in the unit index) and the clip size
must be a whole number of patch strides; unroll and reroll are index permutations computed
once at construction instead of chains of views; MAE's multi-scale fusion heads and decoder
are not part of the encoder.  Parameter names follow the official release, so its
checkpoints load by name (:func:`load_hiera_checkpoint`).

The layers are in :mod:`signssl.models.hiera_layers`, the token order (unroll, pooling,
reroll bookkeeping) in :mod:`signssl.models.hiera_order` and the checkpoint loading in
:mod:`signssl.models.hiera_checkpoint`; this module re-exports their names.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from signssl.errors import ConfigError
from signssl.models.hiera_checkpoint import (  # noqa: F401  (re-exported)
    CheckpointReport,
    load_hiera_checkpoint,
    official_key,
    read_state_dict,
)
from signssl.models.hiera_layers import (  # noqa: F401  (re-exported)
    LN_EPS,
    DropPath,
    HieraBlock,
    MaskUnitAttention,
    Mlp,
    PatchEmbed,
    conv_out_size,
)
from signssl.models.hiera_layers import drop_path as drop_path  # noqa: F401  (re-exported)
from signssl.models.hiera_order import (  # noqa: F401  (re-exported)
    StageOrder,
    pool_groups,
    stage_orders,
    unroll,
    unroll_index,
)
from signssl.models.registry import register_model
from signssl.models.video_encoder import (  # noqa: F401  (random_unit_mask: re-exported)
    Size3,
    VideoEncoder,
    clip_size,
    random_unit_mask,
)
from signssl.models.video_encoder import div3 as _div
from signssl.models.video_encoder import mul3 as _mul
from signssl.models.video_encoder import prod as _prod
from signssl.models.video_encoder import triple as _triple


class Hiera(VideoEncoder):
    """Hierarchical video ViT with mask units (see the module docstring).

    Args:
        num_frames: clip length T.
        input_size: frame size, one int (square) or ``(H, W)``.
        in_chans: input channels.
        embed_dim: width of the first stage (doubles with ``dim_mul`` per stage).
        num_heads: heads of the first stage (times ``head_mul`` per stage).
        stages: blocks per stage.
        q_pool: number of stage changes (from the first) that pool by ``q_stride``.
        q_stride: pooling stride per axis ``(t, h, w)``.
        mask_unit_size: tokens per mask unit ``(t, h, w)``; must be
            ``q_stride ** (len(stages) - 1)``.
        mask_unit_attn: per stage, whether attention stays inside mask units; default:
            ``True`` for the first ``len(stages) // 2`` stages.
        dim_mul, head_mul: width / heads multiplier at each stage change.
        patch_kernel, patch_stride, patch_padding: the patch ``Conv3d``.
        mlp_ratio: MLP hidden width / block width.
        drop_path: final stochastic-depth rate (linear from 0 over the blocks).
        normalize_input: divide ``uint8`` by 255 and apply the ImageNet mean / std.
    """

    def __init__(
        self,
        num_frames: int = 16,
        input_size: int | Sequence[int] = 224,
        in_chans: int = 3,
        embed_dim: int = 96,
        num_heads: int = 1,
        stages: Sequence[int] = (2, 3, 16, 3),
        q_pool: int = 2,
        q_stride: Sequence[int] = (1, 2, 2),
        mask_unit_size: Sequence[int] = (1, 8, 8),
        mask_unit_attn: Sequence[bool] | None = None,
        dim_mul: float = 2.0,
        head_mul: float = 2.0,
        patch_kernel: int | Sequence[int] = (3, 7, 7),
        patch_stride: int | Sequence[int] = (2, 4, 4),
        patch_padding: int | Sequence[int] = (1, 3, 3),
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        normalize_input: bool = True,
    ) -> None:
        super().__init__()
        stages = tuple(int(s) for s in stages)
        if not stages or min(stages) < 1:
            raise ConfigError(f"stages must be a non-empty list of positive ints, got {stages}")
        if not 0 <= q_pool < len(stages):
            raise ConfigError(f"q_pool must be in [0, {len(stages) - 1}], got {q_pool}")
        if mask_unit_attn is None:
            mask_unit_attn = [i < len(stages) // 2 for i in range(len(stages))]
        mask_unit_attn = tuple(bool(m) for m in mask_unit_attn)
        if len(mask_unit_attn) != len(stages):
            raise ConfigError(
                f"mask_unit_attn needs one flag per stage ({len(stages)}), got {mask_unit_attn}"
            )
        if not 0.0 <= drop_path < 1.0:
            raise ConfigError(f"drop_path must be in [0, 1), got {drop_path}")
        self.input_size: Size3 = clip_size(num_frames, input_size)
        self.in_chans = in_chans
        self.patch_kernel = _triple(patch_kernel, "patch_kernel")
        self.patch_stride = _triple(patch_stride, "patch_stride")
        self.patch_padding = _triple(patch_padding, "patch_padding")
        self.q_stride = _triple(q_stride, "q_stride")
        self.mask_unit_size = _triple(mask_unit_size, "mask_unit_size")
        self.stages, self.q_pool, self.mask_unit_attn = stages, q_pool, mask_unit_attn
        self.token_grid = self._check_token_grid()
        self.mask_unit_grid = self._check_mask_units(len(stages))
        self.num_mask_units = _prod(self.mask_unit_grid)
        self.normalize_input = bool(normalize_input)
        self._register_input_stats()

        self.patch_embed = PatchEmbed(
            in_chans, embed_dim, self.patch_kernel, self.patch_stride, self.patch_padding
        )
        T, H, W = self.token_grid
        self.pos_embed_spatial = nn.Parameter(torch.zeros(1, H * W, embed_dim))
        self.pos_embed_temporal = nn.Parameter(torch.zeros(1, T, embed_dim))
        self._build_blocks(embed_dim, num_heads, dim_mul, head_mul, mlp_ratio, drop_path)
        self.norm = nn.LayerNorm(self.out_dim, eps=LN_EPS)
        self._build_orders()
        nn.init.trunc_normal_(self.pos_embed_spatial, std=0.02)
        nn.init.trunc_normal_(self.pos_embed_temporal, std=0.02)
        self.apply(self._init_weights)

    # ------------------------------------------------------------------ construction

    def _check_token_grid(self) -> Size3:
        n, k, s, p = self.input_size, self.patch_kernel, self.patch_stride, self.patch_padding
        grid = (
            conv_out_size(n[0], k[0], s[0], p[0]),
            conv_out_size(n[1], k[1], s[1], p[1]),
            conv_out_size(n[2], k[2], s[2], p[2]),
        )
        if _mul(grid, s) != self.input_size:
            raise ConfigError(
                f"clip size (T, H, W) = {self.input_size} is not a whole number of patch strides "
                f"{self.patch_stride} (kernel {self.patch_kernel}, padding {self.patch_padding} "
                f"gives {grid} tokens); use num_frames / input_size multiples of the stride"
            )
        return grid

    def _check_mask_units(self, num_stages: int) -> Size3:
        needed = tuple(q ** (num_stages - 1) for q in self.q_stride)
        if self.mask_unit_size != needed:
            raise ConfigError(
                f"mask_unit_size {self.mask_unit_size} must be q_stride {self.q_stride} to the "
                f"power len(stages) - 1 = {num_stages - 1}, i.e. {needed}"
            )
        if any(g % m for g, m in zip(self.token_grid, self.mask_unit_size, strict=True)):
            raise ConfigError(
                f"token grid {self.token_grid} (clip {self.input_size}) is not divisible into "
                f"mask units of {self.mask_unit_size} tokens; change num_frames / input_size"
            )
        return _div(self.token_grid, self.mask_unit_size)

    def _build_blocks(
        self,
        dim: int,
        heads: int,
        dim_mul: float,
        head_mul: float,
        mlp_ratio: float,
        drop_path: float,
    ) -> None:
        depth = sum(self.stages)
        self.stage_ends = [sum(self.stages[: i + 1]) - 1 for i in range(len(self.stages))]
        pool_blocks = {end + 1 for end in self.stage_ends[: self.q_pool]}
        flat_q = _prod(self.q_stride)
        window = _prod(self.mask_unit_size)
        rates = torch.linspace(0, drop_path, depth).tolist()
        stage, dims, blocks = 0, [dim], []
        for i in range(depth):
            dim_out = dim
            use_mu_attn = self.mask_unit_attn[stage]  # lags one block behind the stage
            if i - 1 in self.stage_ends:
                dim_out, heads, stage = int(dim * dim_mul), int(heads * head_mul), stage + 1
                dims.append(dim_out)
                if i in pool_blocks:
                    window //= flat_q
            blocks.append(
                HieraBlock(
                    dim,
                    dim_out,
                    heads,
                    mlp_ratio,
                    rates[i],
                    flat_q if i in pool_blocks else 1,
                    window,
                    use_mu_attn,
                )
            )
            dim = dim_out
        self.blocks = nn.ModuleList(blocks)
        self.stage_dims, self.out_dim = tuple(dims), dim

    def _build_orders(self) -> None:
        """Unroll permutation and, per pooling level, the reroll / time bookkeeping."""
        idx, orders = stage_orders(
            self.token_grid, self.q_stride, self.mask_unit_size, len(self.stages), self.q_pool
        )
        self.register_buffer("unroll_idx", idx, persistent=False)
        self._orders: list[StageOrder] = orders

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Conv3d)):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    # ------------------------------------------------------------------ sizes for decoders

    @property
    def mask_unit_pixels(self) -> Size3:
        """Pixels ``(frames, rows, cols)`` covered by one mask unit (Hiera-B: (2, 32, 32))."""
        return _mul(self.mask_unit_size, self.patch_stride)

    @property
    def final_unit_size(self) -> Size3:
        """Tokens per mask unit per axis after the blocks (Hiera-B: (1, 2, 2))."""
        return self._orders[-1].unit_size

    def pos_embed(self) -> Tensor:
        """``(1, N, D)`` position of each raster token: spatial + temporal embedding."""
        T = self.token_grid[0]
        HW = self.pos_embed_spatial.shape[1]
        spatial = self.pos_embed_spatial.repeat(1, T, 1)  # (1, HW, D) -> (1, T HW, D)
        temporal = self.pos_embed_temporal.repeat_interleave(HW, dim=1)  # (1, T, D) -> (1, T HW, D)
        return spatial + temporal

    # ------------------------------------------------------------------ forward

    def _run(
        self, x: Tensor, mask: Tensor | None, keep_stages: bool
    ) -> tuple[Tensor, list[Tensor]]:
        x = self.prepare_input(x)
        B = x.shape[0]
        visible = None if mask is None else self.visible_units(mask.to(x.device), B)
        pixel_vis = None if visible is None else self.pixel_visibility(visible, B)
        tok = self.patch_embed(x, pixel_vis) + self.pos_embed()  # (B, N, D) raster
        tok = tok[:, self.unroll_idx]  # raster -> unrolled (s_1, .., s_k, unit)
        if visible is not None:
            D, U = tok.shape[-1], self.num_mask_units
            tok = tok.view(B, -1, U, D)  # (B, N, D) -> (B, S, U, D)
            idx = visible[:, None, :, None].expand(B, tok.shape[1], visible.shape[1], D)
            tok = tok.gather(2, idx).flatten(1, 2)  # (B, S, V, D) -> (B, S V, D)
        stages: list[Tensor] = []
        for i, blk in enumerate(self.blocks):
            tok = blk(tok)
            if keep_stages and i in self.stage_ends:
                stages.append(self.reroll(tok, min(self.stage_ends.index(i), self.q_pool)))
        return tok, stages

    def forward_features(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Final tokens ``(B, N, out_dim)`` in unrolled order (not normalised).

        ``mask (B, num_mask_units)`` bool, ``True`` = hidden unit: hidden units are dropped,
        ``N = visible units x tokens_per_unit``; without a mask
        ``N = prod(final_token_grid)``.
        """
        return self._run(x, mask, keep_stages=False)[0]

    def forward_intermediates(
        self, x: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """Final tokens and every stage's output in mask-unit order.

        Stage ``i`` output: ``(B, V, mt, mh, mw, D_i)`` with ``V`` visible units (all units,
        in raster order, without a mask; the visible ones in increasing index order with a
        mask) and ``(mt, mh, mw)`` the tokens per unit at that stage (Hiera-B:
        (1, 8, 8), (1, 4, 4), (1, 2, 2), (1, 2, 2)).
        """
        return self._run(x, mask, keep_stages=True)

    def reroll(self, tokens: Tensor, level: int) -> Tensor:
        """Unrolled tokens after ``level`` poolings -> mask-unit order.

        ``(B, S V, D) -> (B, V, mt, mh, mw, D)``, ``S = mt mh mw`` tokens per unit.
        """
        order = self._orders[level]
        B, N, D = tokens.shape
        S = order.perm.numel()
        x = tokens.view(B, S, N // S, D)  # (B, S, V, D), stride order
        x = x[:, order.perm.to(tokens.device)]  # (B, S, V, D), raster order inside the unit
        return x.transpose(1, 2).reshape(B, N // S, *order.unit_size, D)  # -> (B, V, mt, mh, mw, D)

    def units_to_grid(self, units: Tensor) -> Tensor:
        """All units in raster order ``(B, U, mt, mh, mw, D)`` -> token grid ``(B, T, H, W, D)``."""
        B, U, mt, mh, mw, D = units.shape
        if U != self.num_mask_units:
            raise ConfigError(
                f"units_to_grid needs all {self.num_mask_units} mask units, got {U}; "
                "it only applies to unmasked outputs"
            )
        Tm, Hm, Wm = self.mask_unit_grid
        x = units.view(B, Tm, Hm, Wm, mt, mh, mw, D)
        x = x.permute(0, 1, 4, 2, 5, 3, 6, 7)  # -> (B, Tm, mt, Hm, mh, Wm, mw, D)
        return x.reshape(B, Tm * mt, Hm * mh, Wm * mw, D)

    def _token_times(self, mask: Tensor | None, batch: int, device: torch.device) -> Tensor:
        """``(B, S V)`` long: the temporal index of every final token."""
        order = self._orders[-1]
        U = self.num_mask_units
        if mask is None:
            units = torch.arange(U, device=device).expand(batch, U)  # (B, U)
        else:
            units = self.visible_units(mask.to(device), batch)  # (B, V)
        unit_t = units // (U // self.mask_unit_grid[0])  # (B, V) temporal index of the unit
        local_t = order.local_t.to(device)  # (S,)
        times = unit_t[:, None, :] * order.unit_size[0] + local_t[None, :, None]  # (B, S, V)
        return times.flatten(1)  # (B, S, V) -> (B, S V)

    def tokens_per_time(self, mask: Tensor | None, batch: int) -> Tensor:
        """``(B, T')`` long: number of final tokens at each temporal position."""
        times = self._token_times(mask, batch, self.unroll_idx.device)
        counts = torch.zeros(batch, self.num_temporal_tokens, dtype=torch.long, device=times.device)
        return counts.scatter_add_(1, times, torch.ones_like(times))

    def tokens_by_time(self, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean of the final tokens at each temporal position: ``(B, N, D) -> (B, T', D)``.

        ``mask`` must be the one given to :meth:`forward_features`; a temporal position
        with no visible token gets the zero vector (see :meth:`tokens_per_time`).
        """
        B, N, D = tokens.shape
        times = self._token_times(mask, B, tokens.device)  # (B, N)
        if times.shape[1] != N:
            raise ConfigError(
                f"tokens have {N} positions but the mask implies {times.shape[1]}; pass the mask "
                "used by forward_features"
            )
        sums = tokens.new_zeros(B, self.num_temporal_tokens, D)
        sums.scatter_add_(1, times[..., None].expand(B, N, D), tokens)  # (B, T', D)
        counts = torch.zeros(B, self.num_temporal_tokens, device=tokens.device, dtype=tokens.dtype)
        counts.scatter_add_(1, times, torch.ones_like(times, dtype=tokens.dtype))  # (B, T')
        return sums / counts.clamp_min(1.0)[..., None]

    def pool(self, tokens: Tensor) -> Tensor:
        """Mean over tokens, then the final LayerNorm: ``(B, N, D) -> (B, D)``."""
        return self.norm(tokens.mean(dim=1))

    def embed(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Pooled embedding ``(B, out_dim)`` of the visible units (all without a mask)."""
        return self.pool(self.forward_features(x, mask))

    def extra_repr(self) -> str:
        return (
            f"input_size={self.input_size}, tokens={self.token_grid}, "
            f"mask_units={self.mask_unit_grid}, q_pool={self.q_pool}, out_dim={self.out_dim}"
        )


# ----------------------------------------------------------------------------- sizes

_KWARGS = set(inspect.signature(Hiera.__init__).parameters) - {"self"}


def _build(defaults: dict[str, Any], overrides: dict[str, Any]) -> Hiera:
    unknown = sorted(set(overrides) - _KWARGS)
    if unknown:
        raise ConfigError(f"unknown Hiera option(s) {unknown}; known: {sorted(_KWARGS)}")
    return Hiera(**{**defaults, **overrides})


#: heads, pooling, mask unit and drop path shared by Hiera-B and the tiny CPU size
_HIERA_B_GEOMETRY: dict[str, Any] = dict(
    num_heads=1, q_pool=2, q_stride=(1, 2, 2), mask_unit_size=(1, 8, 8), drop_path=0.1
)


@register_model
def hiera_base_16x224(**kwargs: Any) -> Hiera:
    """Hiera-B video (docs/methods.md#signrep-model): 16 x 224 x 224, embed 96, heads 1, stages
    (2, 3, 16, 3), q_pool 2, q_stride (1, 2, 2), mask unit (1, 8, 8), patch (3, 7, 7) /
    (2, 4, 4) / (1, 3, 3), drop path 0.1; out dim 768, 51M parameters."""
    return _build(
        dict(num_frames=16, input_size=224, embed_dim=96, stages=(2, 3, 16, 3), **_HIERA_B_GEOMETRY),
        kwargs,
    )


@register_model
def hiera_tiny_16x64(**kwargs: Any) -> Hiera:
    """16 x 64 x 64 clips, embed 32, stages (1, 1, 2, 1); Hiera-B's patch and mask-unit
    geometry (32 mask units); out dim 256 (CPU experiments)."""
    return _build(
        dict(num_frames=16, input_size=64, embed_dim=32, stages=(1, 1, 2, 1), **_HIERA_B_GEOMETRY),
        kwargs,
    )


@register_model
def hiera_test(**kwargs: Any) -> Hiera:
    """4 x 32 x 32 clips, embed 8, stages (1, 1, 1), mask unit (1, 4, 4) tokens (8 units),
    Hiera-B's patch embedding; out dim 32 (unit tests)."""
    return _build(
        dict(
            num_frames=4,
            input_size=32,
            embed_dim=8,
            num_heads=1,
            stages=(1, 1, 1),
            q_pool=2,
            q_stride=(1, 2, 2),
            mask_unit_size=(1, 4, 4),
            mlp_ratio=2.0,
            drop_path=0.0,
        ),
        kwargs,
    )
