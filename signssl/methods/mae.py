"""Pixel MAE on video Hiera: the masked-autoencoder baseline SignRep compares with.

Per batch (the same pair batches as SignRep, without priors; every crop is one sample)::

    x     = augment(crops)                                    (M, 3, T, H, W)
    M_u   = random mask units, ratio mask_ratio per crop       True = hidden (0.8)
    F     = last stage of Hiera.forward_intermediates(x, M_u)  (M, V, mt, mh, mw, D)
    y     = PixelDecoder(F, M_u)                               (M, U, S, P_tok)
            LayerNorm + Linear of the visible units' tokens, a learned mask token for every
            token of a hidden unit, learned positions, ``decoder_depth`` pre-norm
            transformer blocks, Linear to the pixels of each final token
    t     = unit pixels (Hiera.unit_pixels), per-unit mean/var normalised
    L     = MSE(y, t) over the hidden units only            (signssl.losses.masked_pixel)

Hiera's own MAE uses a mask ratio of 0.9 for video; 0.8 here (``mask_ratio``) matches
SignRep's masking so the two are compared with equal encoder inputs.  The decoder is
lighter than Hiera's (``decoder_dim`` 256, 2 blocks, no multi-scale fusion: only the last
stage feeds it) - our choice for a baseline that trains the same encoder at the same cost
as SignRep's decoder.  ``embedding`` (collapse monitor) is the encoder's pooled output
of the visible tokens.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from signssl.errors import ConfigError
from signssl.losses.masked_pixel import masked_pixel_loss, normalize_units
from signssl.methods.registry import register_method
from signssl.methods.video_base import VideoMethod
from signssl.models.base import Encoder


def visible_unit_index(mask: Tensor) -> Tensor:
    """``mask (B, U)`` bool, ``True`` = hidden -> ``(B, V)`` visible units, increasing.

    Every row must keep the same number ``V`` of visible units (Hiera's masks do).
    """
    B = mask.shape[0]
    return torch.nonzero(~mask, as_tuple=True)[1].view(B, -1)  # row-major: sorted per row


def unit_token_pixels(pixels: Tensor, unit_tokens: tuple[int, int, int]) -> Tensor:
    """Unit pixels grouped by final token: ``(B, U, 3, pt, ph, pw) -> (B, U, S, P_tok)``.

    ``unit_tokens = (mt, mh, mw)`` final tokens per unit (``S = mt mh mw``, raster order
    inside the unit, as :meth:`Hiera.forward_intermediates`); each covers a block of
    ``(pt/mt, ph/mh, pw/mw)`` pixels, flattened as ``(3, ft, fh, fw)``.
    """
    B, U, C, pt, ph, pw = pixels.shape
    mt, mh, mw = unit_tokens
    ft, fh, fw = pt // mt, ph // mh, pw // mw
    x = pixels.view(B, U, C, mt, ft, mh, fh, mw, fw)  # split each axis into (token, pixel)
    x = x.permute(0, 1, 3, 5, 7, 2, 4, 6, 8)  # -> (B, U, mt, mh, mw, C, ft, fh, fw)
    return x.reshape(B, U, mt * mh * mw, C * ft * fh * fw)  # -> (B, U, S, P_tok)


class PixelDecoder(nn.Module):
    """Visible unit features + mask tokens -> pixels of every final token of every unit.

    Args:
        in_dim: width of the encoder's last stage.
        num_units: mask units ``U`` of a clip.
        tokens_per_unit: final tokens ``S`` per unit.
        pixels_per_token: ``P_tok`` = 3 x pixels covered by one final token.
        dim, depth, heads, mlp_ratio: the transformer (pre-norm, GELU, no dropout).
    """

    def __init__(
        self,
        in_dim: int,
        num_units: int,
        tokens_per_unit: int,
        pixels_per_token: int,
        dim: int = 256,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"decoder_dim {dim} is not divisible by decoder_heads {heads}")
        if depth < 1:
            raise ConfigError(f"decoder_depth must be >= 1, got {depth}")
        self.num_units, self.tokens_per_unit = num_units, tokens_per_unit
        self.norm = nn.LayerNorm(in_dim)
        self.embed = nn.Linear(in_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, num_units, tokens_per_unit, dim))
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                dim, heads, int(dim * mlp_ratio), dropout=0.0, activation="gelu",
                batch_first=True, norm_first=True,
            )
            for _ in range(depth)
        )  # fmt: skip
        self.out_norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, pixels_per_token)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)

    def forward(self, units: Tensor, mask: Tensor | None) -> Tensor:
        """``units (B, V, mt, mh, mw, D)``, ``mask (B, U)`` True = hidden (``None``: all
        visible) -> ``(B, U, S, P_tok)``."""
        B, V = units.shape[:2]
        U, S = self.num_units, self.tokens_per_unit
        feats = self.embed(self.norm(units.reshape(B, V, S, -1)))  # (B, V, S, D) -> (B, V, S, d)
        d = feats.shape[-1]
        if mask is None:
            full = feats  # (B, U, S, d)
        else:
            idx = visible_unit_index(mask)[:, :, None, None].expand(B, V, S, d)  # (B, V, S, d)
            full = self.mask_token.expand(B, U, S, d).scatter(1, idx, feats)  # (B, U, S, d)
        x = (full + self.pos).reshape(B, U * S, d)  # (B, U, S, d) -> (B, U S, d)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.out_norm(x)).view(B, U, S, -1)  # (B, U S, P) -> (B, U, S, P)


@register_method("mae")
class MAE(VideoMethod):
    """Pixel MAE (module docstring).

    Args:
        mask_ratio: share of hidden mask units per crop (0.8; Hiera's video MAE: 0.9).
        norm_pix: normalise every unit's target pixels (mean 0, variance 1).
        decoder_dim, decoder_depth, decoder_heads: the light decoder (256, 2, 4).
        augment, jitter_p, crop_scale_min, blur_p, gray_p, seed: see
            :class:`~signssl.methods.video_base.VideoMethod`.
    """

    def __init__(
        self,
        encoder: Encoder,
        mask_ratio: float = 0.8,
        norm_pix: bool = True,
        decoder_dim: int = 256,
        decoder_depth: int = 2,
        decoder_heads: int = 4,
        **video_options: Any,
    ) -> None:
        super().__init__(encoder, mask_ratio=mask_ratio, **video_options)
        if mask_ratio <= 0:
            raise ConfigError("mae needs hidden units to reconstruct: set mask_ratio > 0")
        h = self.hiera
        ft, fh, fw = h.final_token_pixels
        self.norm_pix = bool(norm_pix)
        self.decoder = PixelDecoder(
            h.stage_dims[-1],
            h.num_mask_units,
            h.tokens_per_unit,
            h.in_chans * ft * fh * fw,
            dim=decoder_dim,
            depth=decoder_depth,
            heads=decoder_heads,
        )

    def targets(self, x: Tensor) -> Tensor:
        """``(M, U, S P_tok)``: the (normalised) pixels of every unit, in decoder order."""
        pixels = self.hiera.unit_pixels(x)  # (M, U, 3, pt, ph, pw)
        tokens = unit_token_pixels(pixels, self.hiera.final_unit_size)  # (M, U, S, P_tok)
        flat = tokens.flatten(2)  # (M, U, S, P_tok) -> (M, U, S P_tok)
        return normalize_units(flat) if self.norm_pix else flat

    def training_loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x, _, _ = self.clips(batch)  # (M, 3, T, H, W)
        mask = self.draw_mask(x.shape[0])  # (M, U) True = hidden
        assert mask is not None
        tokens, stages = self.encoder.forward_intermediates(x, mask)
        pred = self.decoder(stages[-1], mask).flatten(2)  # (M, U, S, P) -> (M, U, S P)
        loss = masked_pixel_loss(pred, self.targets(x), mask)
        return {
            "loss": loss,
            "embedding": self.encoder.pool(tokens).detach(),  # (M, D)
            "mask_ratio": mask.float().mean().detach(),
        }
