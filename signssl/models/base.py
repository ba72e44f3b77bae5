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

from signssl.errors import ConfigError


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


def unpack_pose_batch(
    x: Any, num_joints: int, in_dims: int, max_frames: int, layout_name: str
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Split a pose batch into ``xyz (B, T, J, C)``, ``conf (B, T, J)`` and ``frame_mask (B, T)``.

    ``x`` is a collate dict (keys ``x``, optional ``conf`` and ``frame_mask`` with ``True`` =
    padded) or a bare ``(B, T, J, C)`` tensor (then ``conf`` and ``frame_mask`` are ``None``).
    Shapes that do not match the model raise :class:`ConfigError` saying what to change.
    """
    if isinstance(x, dict):
        if "x" not in x:
            raise ConfigError(f"a pose batch needs the key 'x'; got keys {sorted(x)}")
        xyz, conf, pad = x["x"], x.get("conf"), x.get("frame_mask")
    elif isinstance(x, Tensor):
        xyz, conf, pad = x, None, None
    else:
        raise ConfigError(f"expected a batch dict or a (B, T, J, C) tensor, got {type(x).__name__}")
    if xyz.ndim != 4 or xyz.shape[2] != num_joints or xyz.shape[3] != in_dims:
        raise ConfigError(
            f"model expects x of shape (B, T, {num_joints}, {in_dims}) (layout "
            f"'{layout_name}', in_dims={in_dims}), got {tuple(xyz.shape)}; "
            "load the data with the model's layout and dims, or build the model to match"
        )
    if xyz.shape[1] > max_frames:
        raise ConfigError(
            f"clips have {xyz.shape[1]} frames but the model takes at most max_frames="
            f"{max_frames}; crop or resample the clips (collate max_frames) or build the "
            "model with a larger max_frames"
        )
    return xyz, conf, pad
