"""SignRep style vector and style discriminator (Eq. 7-9; paper App. A4).

See docs/methods.md#signrep-style-adversary.

Style vector.  For the encoder tokens ``X`` of one clip (``N`` tokens of width ``D``) the
Gram matrix and the style vector ``g`` are::

    G = Xᵀ X / N                      (D, D), the token-averaged channel co-activations
    g_j = (1/D) Σ_i G_ij              G averaged over its first (row) axis -> (D,)

Dividing by ``N`` makes ``g`` independent of the number of tokens (e.g. of the mask
ratio), dividing by ``D`` (the mean over rows) of the width.  Because ``G`` is symmetric
the mean over either axis gives the same vector.  It is computed without forming ``G``:
``g_j = (1/N) Σ_n x_nj · m_n`` with ``m_n = mean_i x_ni`` the channel mean of token ``n``.
For layer-normalised tokens ``m_n`` is close to 0, so ``g`` is small; the discriminator
multiplies it by 100 (App. A4).

Discriminator.  ``Dsc(z, g)`` says whether the clip vector ``z`` and the style ``g`` come
from the same video::

    s   = LayerNorm(GELU(W2 GELU(W1 (100 · g))))        (B, g_dim) -> (B, z_dim)
    out = SN(W6) GELU(SN(W5) GELU(SN(W4) GELU(SN(W3) [z, s]))))    (B, 2 z_dim) -> (B,)

``SN`` is spectral normalisation (``torch.nn.utils.parametrizations.spectral_norm``) on the
four layers of the judging MLP; every linear layer but the last is followed by GELU (App.
A4 "All linear layers, except the final linear layer, are followed by the GELU activation
function", so the second style layer has one too, before its LayerNorm).  ``forward``
returns the logit; ``Dsc(z, g) = sigmoid(logit)`` (:meth:`StyleDiscriminator.prob`).  The
losses work on logits for numerical stability (:mod:`signssl.losses.style_adversarial`).

Example:
    >>> import torch
    >>> tokens = torch.randn(2, 10, 16)
    >>> g = gram_style(tokens)                      # (2, 16)
    >>> dsc = StyleDiscriminator(z_dim=8, g_dim=16, hidden=32)
    >>> tuple(dsc(torch.randn(2, 8), g).shape)
    (2,)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from signssl.errors import ConfigError


def gram_style(tokens: Tensor) -> Tensor:
    """Style vector ``g`` of each clip: ``(B, N, D) -> (B, D)`` (see the module docstring)."""
    if tokens.ndim != 3 or tokens.shape[1] == 0:
        raise ConfigError(f"gram_style expects tokens (B, N>0, D), got {tuple(tokens.shape)}")
    channel_mean = tokens.mean(dim=2)  # (B, N, D) -> (B, N): m_n
    # (B, N, D), (B, N) -> (B, D): Σ_n x_nj m_n, then / N
    return torch.einsum("bnd,bn->bd", tokens, channel_mean) / tokens.shape[1]


class StyleDiscriminator(nn.Module):
    """``Dsc(z, g)``: logit that ``z`` and the style ``g`` come from the same video.

    Args:
        z_dim: width of the clip vector ``z`` (768).
        g_dim: width of the style vector ``g`` (the encoder's token width, 768).
        hidden: hidden width of both MLPs (768).
        style_scale: factor applied to ``g`` first (100; App. A4).
    """

    def __init__(
        self, z_dim: int = 768, g_dim: int = 768, hidden: int = 768, style_scale: float = 100.0
    ) -> None:
        super().__init__()
        for key, value in {"z_dim": z_dim, "g_dim": g_dim, "hidden": hidden}.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"StyleDiscriminator {key} must be a positive integer, got {value!r}"
                )
        self.z_dim, self.g_dim, self.style_scale = z_dim, g_dim, float(style_scale)
        self.style = nn.Sequential(
            nn.Linear(g_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, z_dim),
            nn.GELU(),
            nn.LayerNorm(z_dim),
        )
        widths = [2 * z_dim, hidden, hidden, hidden, 1]
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers.append(spectral_norm(nn.Linear(d_in, d_out)))
            if i < len(widths) - 2:
                layers.append(nn.GELU())
        self.judge = nn.Sequential(*layers)

    def forward(self, z: Tensor, g: Tensor) -> Tensor:
        """Logits: ``(B, z_dim), (B, g_dim) -> (B,)``."""
        if z.ndim != 2 or g.ndim != 2 or z.shape[0] != g.shape[0]:
            raise ConfigError(
                f"StyleDiscriminator expects z (B, {self.z_dim}) and g (B, {self.g_dim}), got "
                f"{tuple(z.shape)} and {tuple(g.shape)}"
            )
        if z.shape[1] != self.z_dim or g.shape[1] != self.g_dim:
            raise ConfigError(
                f"StyleDiscriminator was built for z_dim={self.z_dim}, g_dim={self.g_dim}; got "
                f"z {tuple(z.shape)} and g {tuple(g.shape)}"
            )
        s = self.style(g * self.style_scale)  # (B, g_dim) -> (B, z_dim)
        pair = torch.cat([z, s], dim=1)  # (B, z_dim) + (B, z_dim) -> (B, 2 z_dim)
        return self.judge(pair).squeeze(1)  # (B, 2 z_dim) -> (B, 1) -> (B,)

    def prob(self, z: Tensor, g: Tensor) -> Tensor:
        """``Dsc(z, g) = sigmoid(logit)`` in ``[0, 1]``: ``-> (B,)``."""
        return torch.sigmoid(self.forward(z, g))
