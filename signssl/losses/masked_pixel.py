"""Pixel masked-autoencoder loss (the pixel-MAE baseline of SignRep, docs/methods.md#pixel-mae).

For every clip, the pixels of each mask unit ``u`` (Hiera's
:meth:`~signssl.models.hiera.Hiera.unit_pixels`, ``P`` values per unit) are the target,
normalised per unit when ``norm_pix`` (MAE's ``norm_pix_loss``)::

    t_u = (x_u − mean(x_u)) / sqrt(var(x_u) + ε)          ε = 1e-6, var unbiased
    L   = (1/|M|) Σ_{u ∈ M} mean_P (ŷ_u − t_u)²           M = hidden units of all clips

Only hidden units count (visible ones are copied by a trivial solution).  A batch without
a hidden unit gives 0 (with a graph).

Shapes: ``pred, target``: ``(B, U, P)`` (units in raster order, the pixels of a unit
flattened in one fixed order); ``mask``: ``(B, U)`` bool, ``True`` = hidden; scalar out.

Example:
    >>> import torch
    >>> pred = torch.zeros(1, 2, 4); target = torch.ones(1, 2, 4)
    >>> mask = torch.tensor([[True, False]])                  # unit 0 hidden
    >>> float(masked_pixel_loss(pred, target, mask))           # only unit 0: mean (0 - 1)²
    1.0
"""

from __future__ import annotations

from torch import Tensor, nn

from signssl.errors import ConfigError


def normalize_units(target: Tensor, eps: float = 1e-6) -> Tensor:
    """Per-unit mean / variance normalisation over the last axis: ``(B, U, P) -> (B, U, P)``."""
    mean = target.mean(dim=-1, keepdim=True)  # (B, U, 1)
    var = target.var(dim=-1, keepdim=True)  # (B, U, 1), unbiased as in MAE
    return (target - mean) / (var + eps).sqrt()


def masked_pixel_loss(pred: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the pixels of the hidden units (module docstring)."""
    if pred.shape != target.shape or pred.ndim != 3:
        raise ConfigError(
            "pred and target must share a (B, U, P) shape, got "
            f"{tuple(pred.shape)}, {tuple(target.shape)}"
        )
    if mask.shape != pred.shape[:2] or mask.dtype.is_floating_point:
        raise ConfigError(
            f"mask must be a bool (B, U) = {tuple(pred.shape[:2])} tensor with True = hidden, "
            f"got {mask.dtype} {tuple(mask.shape)}"
        )
    per_unit = (pred - target).pow(2).mean(dim=-1)  # (B, U)
    m = mask.to(per_unit.dtype)
    return (per_unit * m).sum() / m.sum().clamp_min(1.0)


class MaskedPixelLoss(nn.Module):
    """Module form: ``forward(pred, pixels, mask)``, normalising ``pixels`` per unit first
    when ``norm_pix`` (default True)."""

    def __init__(self, norm_pix: bool = True, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm_pix, self.eps = bool(norm_pix), float(eps)

    def forward(self, pred: Tensor, pixels: Tensor, mask: Tensor) -> Tensor:
        target = normalize_units(pixels, self.eps) if self.norm_pix else pixels
        return masked_pixel_loss(pred, target, mask)
