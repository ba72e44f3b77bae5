"""Pose transformer: the SSL-SLR backbone (docs/methods.md#ssl-slr-setting) for any named layout.

Input: the batch dict of ``signssl.data.collate_poses`` (``x (B, T, J, C)``,
``conf (B, T, J)``, ``frame_mask (B, T)`` with ``True`` = padded) or a bare
``(B, T, J, C)`` tensor, in which case a joint whose coordinates are all 0 counts as
missing (the project's convention) and no frame is padded.

Frame embedding, one token per frame:

1. confidence is appended to each joint as an extra input channel, and the coordinates
   of missing joints (confidence 0) are forced to 0, so a missing joint is the vector
   ``(0, ..., 0, 0)`` whatever the input held: ``(B, T, J, C) -> (B, T, J, C + 1)``;
2. each part of the layout (e.g. ``body``, ``left_hand``, ``right_hand`` for
   ``masa49``) is flattened and embedded by its own ``LayerNorm -> Linear`` to ``dim``
   (with ``streams``, each feature group of :mod:`signssl.pose.streams` instead, e.g.
   wrist-centred hand shape and finger angles);
   the part embeddings are summed and a second ``LayerNorm`` follows — the two layer
   norms "at the input embedding stage" of SSL-SLR §6.2.  Because of the per-part layer
   norm the sum is not one linear map of the frame.  ``input_norm=False`` skips both
   norms (the paper's collapse ablation); the switch is a saved buffer, so a checkpoint
   restores it;
3. a learned (default) or sinusoidal positional encoding over frame index, dropout.

Then ``depth`` pre-norm blocks (``x + Attn(LN(x))``, ``x + MLP(LN(x))``) using
``F.scaled_dot_product_attention``; padded and hidden frames are removed from the keys
of every query, so they cannot change the tokens of the valid frames; a final LayerNorm.

Pooling (the one choice): the mean of the output tokens over the valid frames
(:meth:`PoseTransformer.pool`).  ``forward_features`` returns the tokens of padded and
hidden frames as zeros, and ``pool`` without a mask skips all-zero tokens, so
``pool(forward_features(x)) == embed(x) == forward(x)``.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signssl.errors import ConfigError, DataError
from signssl.models.base import Encoder, unpack_pose_batch
from signssl.models.registry import register_model
from signssl.pose.layouts import DEFAULT_LAYOUT, get_layout
from signssl.pose.streams import StreamFeatures, stream_dims

POS_EMBEDS = ("learned", "sinusoidal")


def sinusoidal_table(length: int, dim: int) -> Tensor:
    """``(length, dim)`` sine/cosine table of Vaswani et al. (2017), float32."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(pos * freq)  # (L, ceil(D/2))
    table[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return table


class Block(nn.Module):
    """Pre-norm transformer block with a key padding mask.

    ``forward(x (B, T, D), keep (B, 1, 1, T) bool, True = may be attended) -> (B, T, D)``.
    """

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.heads, self.attn_dropout = heads, dropout
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        B, T, D = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(B, T, 3, self.heads, D // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, T, 3, H, hd) -> 3 x (B, H, T, hd)
        p = self.attn_dropout if self.training else 0.0
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, dropout_p=p)  # (B, H, T, hd)
        a = a.transpose(1, 2).reshape(B, T, D)  # (B, H, T, hd) -> (B, T, D)
        x = x + self.drop(self.proj(a))
        return x + self.drop(self.mlp(self.norm2(x)))


class PoseTransformer(Encoder):
    """Frame-token transformer over pose sequences (see the module docstring).

    Args:
        in_dims: coordinates per joint C (2 or 3).
        layout: layout name or YAML path; its parts get one embedding each.
        dim: token width D (= ``out_dim``).
        depth: number of blocks.
        heads: attention heads (must divide ``dim``).
        mlp_ratio: MLP hidden width / ``dim``.
        dropout: dropout on embeddings, attention weights, residual branches and MLP.
        max_frames: longest clip T accepted (size of the learned position table).
        pos_embed: ``"learned"`` or ``"sinusoidal"``.
        input_norm: apply the two input-embedding layer norms.
        streams: per-frame input streams (:mod:`signssl.pose.streams`): ``("coords",)``
            (default) embeds each part's coordinates; e.g. ``("body", "hand_shape",
            "hand_angles")`` reads hand shape apart from hand position.  Each group of
            the streams replaces a part in step 2 of the module docstring.
        mirror_left: mirror the left hand in x in the ``hand_shape`` stream.
    """

    input_norm_on: Tensor

    def __init__(
        self,
        in_dims: int = 2,
        layout: str = DEFAULT_LAYOUT,
        dim: int = 512,
        depth: int = 12,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        max_frames: int = 64,
        pos_embed: str = "learned",
        input_norm: bool = True,
        streams: tuple[str, ...] | list[str] = ("coords",),
        mirror_left: bool = False,
    ) -> None:
        super().__init__()
        if in_dims not in (2, 3):
            raise ConfigError(f"in_dims must be 2 or 3, got {in_dims}")
        if dim < 1 or depth < 0 or heads < 1 or dim % heads:
            raise ConfigError(
                f"dim ({dim}) must be a positive multiple of heads ({heads}); depth >= 0"
            )
        if max_frames < 1:
            raise ConfigError(f"max_frames must be >= 1, got {max_frames}")
        if pos_embed not in POS_EMBEDS:
            raise ConfigError(f"pos_embed must be one of {list(POS_EMBEDS)}, got {pos_embed!r}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        self.layout = get_layout(layout)
        self.in_dims, self.out_dim, self.max_frames = in_dims, dim, max_frames
        self.streams = StreamFeatures(streams, self.layout, mirror_left)
        widths = stream_dims(self.streams.streams, self.layout, in_dims)  # one per group
        self.part_norms = nn.ModuleList(nn.LayerNorm(w) for w in widths)
        self.part_embeds = nn.ModuleList(nn.Linear(w, dim) for w in widths)
        self.embed_norm = nn.LayerNorm(dim)
        self.register_buffer("input_norm_on", torch.tensor(bool(input_norm)))
        self._use_input_norm = bool(input_norm)  # mirror of the buffer, no device sync
        self.register_load_state_dict_post_hook(PoseTransformer._sync_input_norm)
        if pos_embed == "learned":
            self.pos = nn.Parameter(torch.zeros(1, max_frames, dim))
            nn.init.trunc_normal_(self.pos, std=0.02)
        else:
            self.register_buffer("pos", sinusoidal_table(max_frames, dim)[None], persistent=False)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def set_input_norm(self, enabled: bool) -> None:
        """Switch the input-embedding layer norms on or off (saved with the weights)."""
        self.input_norm_on.fill_(bool(enabled))
        self._use_input_norm = bool(enabled)

    @staticmethod
    def _sync_input_norm(module: nn.Module, incompatible: Any) -> None:
        module._use_input_norm = bool(module.input_norm_on)

    # ------------------------------------------------------------------ input handling

    def _unpack(self, x: Any, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Coordinates ``(B, T, J, C)``, confidence ``(B, T, J)``, hidden ``(B, T)`` bool."""
        xyz, conf, pad = unpack_pose_batch(
            x, self.layout.num_joints, self.in_dims, self.max_frames, self.layout.name
        )
        B, T, J = xyz.shape[:3]
        xyz = xyz.float()
        conf = (xyz != 0).any(-1).float() if conf is None else conf.to(xyz.dtype)  # (B, T, J)
        if conf.shape != (B, T, J):
            raise ConfigError(f"conf must be {(B, T, J)}, got {tuple(conf.shape)}")
        hidden = torch.zeros(B, T, dtype=torch.bool, device=xyz.device)
        for m, name in ((pad, "frame_mask"), (mask, "mask")):
            if m is not None:
                if m.shape != (B, T):
                    raise ConfigError(
                        f"{name} must be (B, T) = {(B, T)} bool (True = hidden), "
                        f"got {tuple(m.shape)}"
                    )
                hidden = hidden | m.to(device=xyz.device, dtype=torch.bool)
        empty = hidden.all(dim=1)
        if bool(empty.any()):
            raise DataError(
                f"batch items {empty.nonzero().flatten().tolist()} have no valid frame "
                "(every frame padded or hidden); drop empty clips before encoding"
            )
        return xyz, conf, hidden

    def _embed_frames(self, xyz: Tensor, conf: Tensor) -> Tensor:
        """``(B, T, J, C), (B, T, J) -> (B, T, D)`` frame tokens before the blocks."""
        use_norm = self._use_input_norm
        tok = xyz.new_zeros(xyz.shape[0], xyz.shape[1], self.out_dim)  # (B, T, D)
        groups = self.streams(xyz, conf)  # list of (B, T, F_k)
        for f, norm, lin in zip(groups, self.part_norms, self.part_embeds, strict=True):
            tok = tok + lin(norm(f) if use_norm else f)
        return self.embed_norm(tok) if use_norm else tok

    def _tokens(self, x: Any, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        xyz, conf, hidden = self._unpack(x, mask)
        T = xyz.shape[1]
        tok = self.drop(self._embed_frames(xyz, conf) + self.pos[:, :T])  # (B, T, D)
        keep = (~hidden)[:, None, None, :]  # (B, T) -> (B, 1, 1, T), True = may be attended
        for blk in self.blocks:
            tok = blk(tok, keep)
        tok = self.norm(tok) * (~hidden).unsqueeze(-1)  # hidden tokens -> 0
        return tok, hidden

    # ------------------------------------------------------------------ Encoder API

    def forward_features(self, x: Any, mask: Tensor | None = None) -> Tensor:
        """Frame tokens ``(B, T, D)``; ``mask (B, T)``: ``True`` = hidden frame (excluded
        from attention, like padding; its token is 0)."""
        return self._tokens(x, mask)[0]

    def pool(self, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean over valid frames: ``(B, T, D), (B, T) True = hidden -> (B, D)``.

        Without ``mask`` the hidden frames are the all-zero tokens, which is how
        :meth:`forward_features` returns them, so ``pool(forward_features(x))`` equals
        ``embed(x)``."""
        if mask is None:
            mask = (tokens == 0).all(dim=-1)  # (B, T)
        keep = (~mask).unsqueeze(-1).to(tokens.dtype)  # (B, T, 1)
        return (tokens * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)

    def embed(self, x: Any, mask: Tensor | None = None) -> Tensor:
        """Pooled embedding ``(B, D)`` over the frames neither padded nor hidden."""
        tokens, hidden = self._tokens(x, mask)
        return self.pool(tokens, hidden)

    def extra_repr(self) -> str:
        return f"layout={self.layout.name}, in_dims={self.in_dims}, max_frames={self.max_frames}"


# ----------------------------------------------------------------------------- sizes

_KWARGS = set(inspect.signature(PoseTransformer.__init__).parameters) - {"self"}


def _build(defaults: dict[str, Any], overrides: dict[str, Any]) -> PoseTransformer:
    unknown = sorted(set(overrides) - _KWARGS)
    if unknown:
        raise ConfigError(f"unknown pose transformer option(s) {unknown}; known: {sorted(_KWARGS)}")
    return PoseTransformer(**{**defaults, **overrides})


@register_model
def pose_transformer_paper(**kwargs: Any) -> PoseTransformer:
    """SSL-SLR §6.2: 12 blocks, 8 heads, dim 512, dropout 0.1, <= 64 frames."""
    return _build(dict(dim=512, depth=12, heads=8, dropout=0.1, max_frames=64), kwargs)


@register_model
def pose_transformer_small(**kwargs: Any) -> PoseTransformer:
    """6 blocks, 8 heads, dim 256."""
    return _build(dict(dim=256, depth=6, heads=8, dropout=0.1, max_frames=64), kwargs)


@register_model
def pose_transformer_tiny(**kwargs: Any) -> PoseTransformer:
    """2 blocks, 4 heads, dim 64 (CPU experiments)."""
    return _build(dict(dim=64, depth=2, heads=4, dropout=0.1, max_frames=64), kwargs)


@register_model
def pose_transformer_test(**kwargs: Any) -> PoseTransformer:
    """1 block, 2 heads, dim 32 (unit tests)."""
    return _build(dict(dim=32, depth=1, heads=2, dropout=0.0, max_frames=64, mlp_ratio=2.0), kwargs)
