"""The one encoder API every evaluation uses (ARCHITECTURE.md).

Every encoder is an ``nn.Module`` with

* ``out_dim``: size of the pooled embedding D;
* ``forward_features(x, mask=None) -> (B, N, D)`` tokens (``mask``: ``True`` = hidden);
* ``pool(tokens) -> (B, D)``;
* ``embed(x) -> (B, D)`` = ``pool(forward_features(x))``, what evaluation calls.

Pose encoders take ``x`` as a dict batch (see ``signssl.data.collate``) or a
``(B, T, J, C)`` tensor; video encoders take ``(B, 3, T, H, W)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class Encoder(nn.Module):
    """Base class fixing the encoder API; subclasses implement ``forward_features``."""

    out_dim: int

    def forward_features(self, x: Any, mask: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def pool(self, tokens: Tensor) -> Tensor:
        """Mean over tokens: ``(B, N, D) -> (B, D)``."""
        return tokens.mean(dim=1)

    def embed(self, x: Any) -> Tensor:
        return self.pool(self.forward_features(x))

    def forward(self, x: Any) -> Tensor:
        return self.embed(x)

    @torch.no_grad()
    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
