"""MASA's encoder and target decoder (docs/methods.md#masa-encoder-and-decoder).

Input: the batch dict of ``signssl.data.collate_poses`` (``x (B, T, J, 2)``,
``conf (B, T, J)``, ``frame_mask (B, T)`` with ``True`` = padded) in layout ``masa49``, or a
bare ``(B, T, J, 2)`` tensor (a joint whose coordinates are all 0 is missing).  Any
spatial normalisation of the dataset is fine: the encoder first applies the MASA-49
pipeline itself (:func:`signssl.pose.masa.masa_normalize`: ε_c threshold, per-hand crops
to 256 units with the left hand mirrored, per-frame shoulder frame of the body), which
is invariant to a clip's translation and scale.

Frame embedding (Eq. 1): per joint the features ``((u − 128) / 128, c)`` (MASA units
brought to about ``[-1, 1]``, and the confidence); each hand goes through one shared
hand GCN (``GCN_H``, both hands look like right hands after the mirror), the body
through ``GCN_B``; the three vectors are concatenated to ``D_e = 2·hand_dim + body_dim``
and projected to the transformer width ``dim`` (when different).

Encoder: a learned position embedding of the frame index, then ``depth`` pre-norm
transformer blocks and a final LayerNorm, applied to the **visible frames only**: the
frames neither padded nor hidden (``mask``, ``True`` = hidden) are gathered, in time
order, before the frame embedding, so a hidden frame's coordinates and confidences never
enter the encoder (there is no temporal convolution either).

Decoder (Eq. 2-3, :class:`MASADecoder`, used by the ``masa`` method and not exported):
encoder outputs projected to ``decoder_dim`` are put back at their frame index, the
other frames get a learned mask token, a position embedding is added, then transformer
blocks and an MLP head predict one ``(J, 2)`` target per frame (no output activation:
motion residuals are signed).

Pooling: the mean of the output tokens over the visible frames.  ``forward_features``
returns ``(B, T, D)`` with zeros at padded or hidden frames, so ``pool`` without a mask
(skipping all-zero tokens) gives ``embed``.

==================  ======  ======  =====  ===  =====  =====  ======================
size                hand    body    D_e    dim  depth  heads  notes
==================  ======  ======  =====  ===  =====  =====  ======================
``masa_paper``      512     512     1536   512  8      8      D_e from the paper
``masa_tiny``       64      64      192    128  2      4      CPU experiments
``masa_test``       16      16      48     32   1      2      unit tests
==================  ======  ======  =====  ===  =====  =====  ======================

The paper states ``D_e = 1536``; the split of D_e over the parts, the GCN width and the
transformer sizes are not stated (our choice).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from signssl.errors import ConfigError, DataError
from signssl.models.base import Encoder, unpack_pose_batch
from signssl.models.gcn import PartGCN, part_adjacency
from signssl.models.heads import build_mlp
from signssl.models.pose_transformer import Block
from signssl.models.registry import register_model
from signssl.pose.layouts import Layout
from signssl.pose.masa import (
    BODY_UNITS,
    CONF_THRESHOLD,
    CROP_SIZE,
    HAND_BOX,
    masa_normalize,
    masa_parts,
)
from signssl.pose.streams import StreamFeatures, stream_dims


@dataclass
class MasaInput:
    """A batch after the MASA-49 pipeline.

    ``x``: ``(B, T, J, 2)`` MASA units; ``conf``: ``(B, T, J)`` thresholded confidence;
    ``pad``: ``(B, T)`` bool, ``True`` = padded frame.
    """

    x: Tensor
    conf: Tensor
    pad: Tensor

    @property
    def valid(self) -> Tensor:
        """``(B, T)`` bool, ``True`` = a real frame."""
        return ~self.pad


@dataclass
class VisibleTokens:
    """Encoder output on the visible frames of each clip, in time order.

    ``tokens``: ``(B, V, D)``, V = most visible frames of a clip in the batch;
    ``index``: ``(B, V)`` long frame index of each token; ``keep``: ``(B, V)`` bool,
    ``False`` = a filler slot of a clip with fewer visible frames (token 0).
    """

    tokens: Tensor
    index: Tensor
    keep: Tensor

    def pooled(self) -> Tensor:
        """Mean of the kept tokens: ``(B, V, D) -> (B, D)``."""
        w = self.keep.unsqueeze(-1).to(self.tokens.dtype)  # (B, V, 1)
        return (self.tokens * w).sum(dim=1) / w.sum(dim=1).clamp_min(1.0)

    def scatter(self, num_frames: int) -> Tensor:
        """Tokens at their frame index, zeros elsewhere: ``(B, V, D) -> (B, T, D)``."""
        B, V, D = self.tokens.shape
        out = self.tokens.new_zeros(B, num_frames + 1, D)  # slot T collects the fillers
        idx = torch.where(self.keep, self.index, num_frames)  # (B, V)
        out = out.scatter(1, idx.unsqueeze(-1).expand(B, V, D), self.tokens)
        return out[:, :num_frames]


def _init_linear(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


class MASAEncoder(Encoder):
    """Frame-wise GCN embedding + transformer on visible frames (module docstring).

    Args:
        in_dims: coordinates per joint; MASA is 2D (2).
        layout: joint layout with parts body / left_hand / right_hand (``masa49``).
        hand_dim, body_dim: size of the hand and body part vectors (``D_e = 2·hand + body``).
        gcn_width, gcn_depth: channels and layers of the part GCNs.
        dim, depth, heads, mlp_ratio, dropout: transformer width, blocks, heads, MLP
            ratio, dropout; ``out_dim = dim``.
        max_frames: longest clip T accepted (size of the position table).
        conf_threshold, hand_box, crop_size, body_units: the input pipeline
            (:mod:`signssl.pose.masa`): ε_c, hand box factor, crop side, body scale.
        streams: extra per-frame input streams (:mod:`signssl.pose.streams`) read from
            the MASA-normalised frame, each group through ``LayerNorm -> Linear`` to
            ``D_e`` and added to the GCN vector (e.g. ``["hand_angles"]``); only streams
            of one frame (``hand_shape``, ``hand_angles``, ``body``) since the encoder
            sees the visible frames only.  Default none: the paper's encoder.
    """

    def __init__(
        self,
        in_dims: int = 2,
        layout: str = "masa49",
        hand_dim: int = 512,
        body_dim: int = 512,
        gcn_width: int = 64,
        gcn_depth: int = 2,
        dim: int = 512,
        depth: int = 8,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        dropout: float = 0.1,
        max_frames: int = 64,
        conf_threshold: float = CONF_THRESHOLD,
        hand_box: float = HAND_BOX,
        crop_size: float = CROP_SIZE,
        body_units: float = BODY_UNITS,
        streams: tuple[str, ...] | list[str] = (),
    ) -> None:
        super().__init__()
        if in_dims != 2:
            raise ConfigError(
                f"MASA works on 2D poses (docs/methods.md#masa-input), got in_dims={in_dims}; set "
                "data.dims=2 and model.kwargs.in_dims=2"
            )
        if dim < 1 or depth < 0 or heads < 1 or dim % heads:
            raise ConfigError(
                f"dim ({dim}) must be a positive multiple of heads ({heads}); depth >= 0"
            )
        if max_frames < 1:
            raise ConfigError(f"max_frames must be >= 1, got {max_frames}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
        if hand_box <= 0 or crop_size <= 0 or body_units <= 0:
            raise ConfigError("hand_box, crop_size and body_units must be positive")
        self.parts = masa_parts(layout)
        self.layout = self.parts.layout
        self.in_dims, self.out_dim, self.max_frames = in_dims, dim, max_frames
        self.heads, self.depth = heads, depth
        self.conf_threshold, self.hand_box = float(conf_threshold), float(hand_box)
        self.crop_size, self.body_units = float(crop_size), float(body_units)
        feat = in_dims + 1  # per joint: coordinates + confidence
        self.hand_gcn = PartGCN(
            part_adjacency(self.layout, "right_hand"), feat, gcn_width, gcn_depth, hand_dim, dropout
        )
        self.body_gcn = PartGCN(
            part_adjacency(self.layout, "body"), feat, gcn_width, gcn_depth, body_dim, dropout
        )
        self.embed_dim = 2 * hand_dim + body_dim  # D_e
        self.streams = _frame_streams(streams, self.layout)
        widths = stream_dims(self.streams.streams, self.layout, in_dims) if self.streams else []
        self.stream_embeds = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(w), nn.Linear(w, self.embed_dim)) for w in widths
        )
        self.frame_proj: nn.Module = (
            nn.Linear(self.embed_dim, dim) if self.embed_dim != dim else nn.Identity()
        )
        self.pos = nn.Parameter(torch.zeros(1, max_frames, dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.apply(_init_linear)

    # ------------------------------------------------------------------ input

    def preprocess(self, x: Any) -> MasaInput:
        """Unpack a batch (dict or tensor) and apply the MASA-49 pipeline."""
        xyz, conf, pad = unpack_pose_batch(
            x, self.layout.num_joints, self.in_dims, self.max_frames, self.layout.name
        )
        B, T, J = xyz.shape[:3]
        xyz = xyz.float()
        conf = (xyz != 0).any(-1).to(xyz.dtype) if conf is None else conf.to(xyz.dtype)
        if conf.shape != (B, T, J):
            raise ConfigError(f"conf must be {(B, T, J)}, got {tuple(conf.shape)}")
        if pad is None:
            pad = torch.zeros(B, T, dtype=torch.bool, device=xyz.device)
        elif pad.shape != (B, T):
            raise ConfigError(
                f"frame_mask must be (B, T) = {(B, T)} bool (True = padded), got {tuple(pad.shape)}"
            )
        pad = pad.to(device=xyz.device, dtype=torch.bool)
        u, c = masa_normalize(
            xyz,
            conf,
            pad,
            self.parts,
            self.conf_threshold,
            self.hand_box,
            self.crop_size,
            self.body_units,
        )
        return MasaInput(u, c, pad)

    def model_units(self, u: Tensor) -> Tensor:
        """MASA units -> network units: ``(u − crop/2) / (crop/2)`` (about ``[-1, 1]``)."""
        half = self.crop_size / 2
        return (u - half) / half

    # ------------------------------------------------------------------ embedding

    def frame_features(self, u: Tensor, conf: Tensor) -> Tensor:
        """Eq. 1, one vector per frame: ``(…, J, 2), (…, J) -> (…, D_e)``."""
        lead = u.shape[:-2]
        present = (conf > 0).unsqueeze(-1)  # (…, J, 1)
        feats = torch.cat([self.model_units(u) * present, conf.unsqueeze(-1)], dim=-1)  # (…, J, 3)
        feats = feats.reshape(-1, *feats.shape[-2:])  # (…, J, 3) -> (N, J, 3)
        p = self.parts
        left = self.hand_gcn(feats[:, p.left_hand])  # (N, hand_dim)
        right = self.hand_gcn(feats[:, p.right_hand])  # (N, hand_dim)
        body = self.body_gcn(feats[:, p.body])  # (N, body_dim)
        f = torch.cat([left, right, body], dim=-1)  # (N, D_e)
        if self.streams is not None:
            x, c = feats[:, None, :, :2], feats[:, None, :, 2]  # (N, 1, J, 2), (N, 1, J)
            for g, emb in zip(self.streams(x, c), self.stream_embeds, strict=True):
                f = f + emb(g[:, 0])  # (N, 1, F_k) -> (N, D_e)
        return f.reshape(*lead, self.embed_dim)  # (N, D_e) -> (…, D_e)

    def encode(self, inp: MasaInput, hidden: Tensor | None = None) -> VisibleTokens:
        """The encoder on the frames neither padded nor hidden.

        Args:
            inp: output of :meth:`preprocess`.
            hidden: ``(B, T)`` bool, ``True`` = hidden from the encoder (masked).
        Raises:
            DataError: a clip with no visible frame.
        """
        B, T = inp.pad.shape
        visible = inp.valid
        if hidden is not None:
            if hidden.shape != (B, T):
                raise ConfigError(
                    f"mask must be (B, T) = {(B, T)} bool (True = hidden), "
                    f"got {tuple(hidden.shape)}"
                )
            visible = visible & ~hidden.to(device=visible.device, dtype=torch.bool)
        counts = visible.sum(dim=1)  # (B,)
        if bool((counts == 0).any()):
            raise DataError(
                f"batch items {(counts == 0).nonzero().flatten().tolist()} have no visible frame "
                "(every frame padded or hidden); drop empty clips before encoding"
            )
        V = int(counts.max())
        order = torch.argsort((~visible).to(torch.int8), dim=1, stable=True)[
            :, :V
        ]  # (B, V) visible first
        keep = torch.arange(V, device=order.device)[None, :] < counts[:, None]  # (B, V)
        J = inp.x.shape[2]
        u = torch.gather(inp.x, 1, order[:, :, None, None].expand(B, V, J, 2))  # (B, V, J, 2)
        c = torch.gather(inp.conf, 1, order[:, :, None].expand(B, V, J))  # (B, V, J)
        u = u * keep[:, :, None, None]  # filler slots carry no frame's data
        c = c * keep[:, :, None]
        tok = self.frame_proj(self.frame_features(u, c)) + self.pos[0, order]  # (B, V, D)
        tok = self.drop(tok)
        attend = keep[:, None, None, :]  # (B, V) -> (B, 1, 1, V), True = may be attended
        for blk in self.blocks:
            tok = blk(tok, attend)
        tok = self.norm(tok) * keep.unsqueeze(-1)
        return VisibleTokens(tok, order, keep)

    # ------------------------------------------------------------------ Encoder API

    def forward_features(self, x: Any, mask: Tensor | None = None) -> Tensor:
        """Frame tokens ``(B, T, D)``; ``mask (B, T)``: ``True`` = hidden frame (never
        seen by the encoder; its token is 0, as are padded frames')."""
        inp = self.preprocess(x)
        return self.encode(inp, mask).scatter(inp.pad.shape[1])

    def pool(self, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
        """Mean over visible frames: ``(B, T, D), (B, T) True = hidden -> (B, D)``;
        without ``mask`` the all-zero tokens are skipped."""
        if mask is None:
            mask = (tokens == 0).all(dim=-1)  # (B, T)
        keep = (~mask).unsqueeze(-1).to(tokens.dtype)  # (B, T, 1)
        return (tokens * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)

    def embed(self, x: Any, mask: Tensor | None = None) -> Tensor:
        """Pooled embedding ``(B, D)`` over the frames neither padded nor hidden."""
        return self.encode(self.preprocess(x), mask).pooled()

    def extra_repr(self) -> str:
        return (
            f"layout={self.layout.name}, embed_dim={self.embed_dim}, max_frames={self.max_frames}"
        )


class MASADecoder(nn.Module):
    """Target decoder + prediction head (MASA Eq. 2-3).

    ``forward(visible, pad) -> (B, T, J, C)``: the encoder tokens are projected to
    ``dim`` and placed at their frame index; every other frame gets the learned mask
    token; a position embedding is added; ``depth`` transformer blocks (padded frames
    are never attended), a LayerNorm and the MLP head ``dim -> dim -> J·C`` (GELU, no
    output activation) give the prediction of every frame.

    Args:
        enc_dim: encoder width; num_joints, out_channels: the target's ``(J, C)``.
        dim, depth, heads, mlp_ratio, dropout: decoder transformer; max_frames: position table.
    """

    def __init__(
        self,
        enc_dim: int,
        num_joints: int,
        out_channels: int = 2,
        dim: int = 256,
        depth: int = 3,
        heads: int = 8,
        mlp_ratio: float = 4.0,
        dropout: float = 0.0,
        max_frames: int = 64,
    ) -> None:
        super().__init__()
        if dim < 1 or depth < 0 or heads < 1 or dim % heads:
            raise ConfigError(f"decoder dim ({dim}) must be a positive multiple of heads ({heads})")
        self.num_joints, self.out_channels, self.max_frames = num_joints, out_channels, max_frames
        self.dim = dim
        self.proj = nn.Linear(enc_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, max_frames, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, mlp_ratio, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.head = build_mlp([dim, dim, num_joints * out_channels], norm=None, activation="gelu")
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.apply(_init_linear)

    def forward(self, visible: VisibleTokens, pad: Tensor) -> Tensor:
        B, T = pad.shape
        if T > self.max_frames:
            raise ConfigError(f"decoder takes at most max_frames={self.max_frames}, got {T} frames")
        src = self.proj(visible.tokens)  # (B, V, dim)
        V = src.shape[1]
        full = self.mask_token.to(src.dtype).expand(B, T + 1, self.dim)  # slot T: fillers
        idx = torch.where(visible.keep, visible.index, T)  # (B, V)
        full = full.scatter(1, idx.unsqueeze(-1).expand(B, V, self.dim), src)[:, :T]  # (B, T, dim)
        h = full + self.pos[:, :T]
        attend = (~pad)[:, None, None, :]  # (B, T) -> (B, 1, 1, T)
        for blk in self.blocks:
            h = blk(h, attend)
        out = self.head(self.norm(h))  # (B, T, J*C)
        return out.reshape(B, T, self.num_joints, self.out_channels)  # (B, T, J*C) -> (B, T, J, C)


def _frame_streams(streams: Sequence[str], layout: Layout) -> StreamFeatures | None:
    """The streams of one frame the MASA encoder can add (``None`` for none)."""
    if not streams:
        return None
    across = sorted(set(streams) & {"velocity", "coords"})
    if across:
        raise ConfigError(
            f"MASA encoder streams {across} are not available (it embeds the visible frames "
            "one by one and already reads every joint); use hand_shape, hand_angles or body"
        )
    return StreamFeatures(streams, layout)  # the MASA crops already mirror the left hand


# ----------------------------------------------------------------------------- sizes

_KWARGS = set(inspect.signature(MASAEncoder.__init__).parameters) - {"self"}


def _build(defaults: dict[str, Any], overrides: dict[str, Any]) -> MASAEncoder:
    unknown = sorted(set(overrides) - _KWARGS)
    if unknown:
        raise ConfigError(f"unknown MASA encoder option(s) {unknown}; known: {sorted(_KWARGS)}")
    return MASAEncoder(**{**defaults, **overrides})


@register_model
def masa_paper(**kwargs: Any) -> MASAEncoder:
    """D_e = 1536 (hands 2 x 512 + body 512); transformer 8 x 512, 8 heads.

    See docs/methods.md#masa-encoder-and-decoder.
    """
    return _build(
        dict(
            hand_dim=512,
            body_dim=512,
            gcn_width=64,
            gcn_depth=2,
            dim=512,
            depth=8,
            heads=8,
            dropout=0.1,
            max_frames=64,
        ),
        kwargs,
    )


@register_model
def masa_tiny(**kwargs: Any) -> MASAEncoder:
    """D_e = 192, transformer 2 x 128, 4 heads (CPU experiments)."""
    return _build(
        dict(
            hand_dim=64,
            body_dim=64,
            gcn_width=32,
            gcn_depth=2,
            dim=128,
            depth=2,
            heads=4,
            dropout=0.1,
            max_frames=64,
        ),
        kwargs,
    )


@register_model
def masa_test(**kwargs: Any) -> MASAEncoder:
    """D_e = 48, transformer 1 x 32, 2 heads, no dropout (unit tests)."""
    return _build(
        dict(
            hand_dim=16,
            body_dim=16,
            gcn_width=8,
            gcn_depth=1,
            dim=32,
            depth=1,
            heads=2,
            mlp_ratio=2.0,
            dropout=0.0,
            max_frames=64,
        ),
        kwargs,
    )
