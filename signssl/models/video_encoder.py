"""What every masked video encoder offers the video recipes (SignRep, pixel MAE).

A :class:`VideoEncoder` reads clips ``(B, 3, T, H, W)`` (``uint8`` or float in [0, 1]),
cuts the clip into a grid of *mask units* (blocks of ``mask_unit_pixels`` pixels) and
returns the tokens of the visible units only:

* ``forward_features(x, mask) -> (B, V·S, D)``: ``mask (B, U)`` bool, ``True`` = hidden,
  the same number ``V`` of visible units in every row, ``S = tokens_per_unit`` final
  tokens per unit; without a mask every unit (``V = U``);
* ``forward_intermediates(x, mask) -> (tokens, stages)``: ``stages[-1]`` is the final
  stage in mask-unit order ``(B, V, mt, mh, mw, D)`` (what the pixel-MAE decoder reads);
* ``unit_pixels(x) -> (B, U, 3, pt, ph, pw)``: the normalised pixels of every unit;
* ``random_mask(batch, ratio, generator)``: a mask with exactly ``round(ratio · U)``
  hidden units per row.

The sizes the decoders need (``input_size``, ``mask_unit_grid``, ``mask_unit_pixels``,
``final_unit_size``, ``final_token_pixels``, ``stage_dims``) are attributes or properties.
Two encoders implement it: the paper's :class:`~signssl.models.hiera.Hiera` (hidden units
are dropped before the transformer) and :class:`~signssl.models.video_cnn.VideoCNN` (hidden
units are zeroed after every stage, as masked convolutions do).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from signssl.constants import IMAGENET_MEAN, IMAGENET_STD
from signssl.errors import ConfigError
from signssl.models.base import Encoder

Size3 = tuple[int, int, int]



def triple(value: int | Sequence[int], name: str) -> Size3:
    """``7 -> (7, 7, 7)``; a 3-sequence is kept; anything else raises."""
    if isinstance(value, int):
        return (value, value, value)
    vals = tuple(int(v) for v in value)
    if len(vals) != 3:
        raise ConfigError(f"{name} must be one int or (t, h, w), got {value!r}")
    return vals  # type: ignore[return-value]


def clip_size(num_frames: int, input_size: int | Sequence[int]) -> Size3:
    """``(T, H, W)`` of a clip from its frame count and one int (square) or ``(H, W)``."""
    hw = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    if len(hw) != 2:
        raise ConfigError(f"input_size must be one int or (H, W), got {input_size!r}")
    return (int(num_frames), int(hw[0]), int(hw[1]))


def prod(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def mul3(a: Size3, b: Size3) -> Size3:
    return (a[0] * b[0], a[1] * b[1], a[2] * b[2])


def div3(a: Size3, b: Size3) -> Size3:
    return (a[0] // b[0], a[1] // b[1], a[2] // b[2])


def random_unit_mask(
    batch: int,
    num_units: int,
    ratio: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """``(batch, num_units)`` bool, ``True`` = hidden, exactly ``round(ratio * num_units)``
    (Python's ``round``) hidden units per row, chosen uniformly at random."""
    if not 0.0 <= ratio < 1.0:
        raise ConfigError(f"mask ratio must be in [0, 1), got {ratio}")
    hidden = round(ratio * num_units)
    if hidden >= num_units:
        raise ConfigError(
            f"mask ratio {ratio} hides all {num_units} mask units; lower the ratio so at least "
            "one unit stays visible"
        )
    noise = torch.rand(batch, num_units, generator=generator)  # (B, U)
    rank = noise.argsort(dim=1).argsort(dim=1)  # (B, U): rank of each unit's noise
    return (rank < hidden).to(device)


class VideoEncoder(Encoder):
    """Base of the masked video encoders (module docstring).

    Subclasses set ``input_size`` ``(T, H, W)``, ``in_chans``, ``normalize_input``,
    ``mask_unit_grid``, ``num_mask_units`` and the ``mean`` / ``std`` buffers
    (:meth:`_register_input_stats`), and define ``mask_unit_pixels``, ``final_unit_size``
    and ``stage_dims``.
    """

    input_size: Size3
    in_chans: int
    normalize_input: bool
    mask_unit_grid: Size3
    num_mask_units: int
    stage_dims: list[int]

    def _register_input_stats(self) -> None:
        """ImageNet mean / std as ``(1, 3, 1, 1, 1)`` buffers (not saved with the weights)."""
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1), False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1), False)

    # ------------------------------------------------------------------ sizes for decoders

    @property
    def num_frames(self) -> int:
        return self.input_size[0]

    @property
    def mask_unit_pixels(self) -> Size3:
        """Pixels ``(frames, rows, cols)`` covered by one mask unit."""
        raise NotImplementedError

    @property
    def final_unit_size(self) -> Size3:
        """Final tokens per mask unit per axis."""
        raise NotImplementedError

    @property
    def tokens_per_unit(self) -> int:
        """Final tokens per visible mask unit."""
        return prod(self.final_unit_size)

    @property
    def final_token_grid(self) -> Size3:
        """Grid of the final tokens when nothing is hidden."""
        return mul3(self.mask_unit_grid, self.final_unit_size)

    @property
    def final_token_pixels(self) -> Size3:
        """Pixels covered by one final token."""
        return div3(self.mask_unit_pixels, self.final_unit_size)

    @property
    def num_temporal_tokens(self) -> int:
        """Temporal positions T' of the final tokens."""
        return self.final_token_grid[0]

    def random_mask(
        self, batch: int, ratio: float, generator: torch.Generator | None = None
    ) -> Tensor:
        """``(batch, num_mask_units)`` bool, ``True`` = hidden, exactly
        ``round(ratio * num_mask_units)`` hidden per clip, on the model's device."""
        device = self.mean.device
        return random_unit_mask(batch, self.num_mask_units, ratio, generator, device)

    # ------------------------------------------------------------------ input handling

    def prepare_input(self, x: Tensor) -> Tensor:
        """Check the clip shape, convert ``uint8`` to [0, 1] and normalise (if enabled)."""
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.ndim != 5 or x.shape[1] != self.in_chans:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ConfigError(
                f"{name} expects clips (B, {self.in_chans}, T, H, W), got {shape}; "
                "stack frames as (B, 3, T, H, W)"
            )
        if tuple(x.shape[2:]) != self.input_size:
            raise ConfigError(
                f"clip size (T, H, W) = {tuple(x.shape[2:])} does not match the model's "
                f"{self.input_size}; resize / sample the clips or build the model with "
                "num_frames / input_size to match"
            )
        if x.dtype == torch.uint8:
            x = x.float() / 255.0
        elif not x.is_floating_point():
            raise ConfigError(f"clips must be uint8 or float in [0, 1], got dtype {x.dtype}")
        if self.normalize_input:
            x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return x

    def visible_units(self, mask: Tensor, batch: int) -> Tensor:
        """``mask (B, U)`` bool ``True`` = hidden -> ``(B, V)`` sorted visible unit indices."""
        if mask.shape != (batch, self.num_mask_units) or mask.dtype != torch.bool:
            raise ConfigError(
                f"mask must be a bool tensor (B, num_mask_units) = {(batch, self.num_mask_units)}"
                f" with True = hidden unit, got {mask.dtype} {tuple(mask.shape)}; "
                "draw one with model.random_mask(batch, ratio)"
            )
        n_vis = (~mask).sum(dim=1)  # (B,)
        if bool((n_vis != n_vis[0]).any()) or int(n_vis[0]) == 0:
            raise ConfigError(
                f"every clip must keep the same, non-zero number of visible mask units; got "
                f"{n_vis.tolist()}; draw masks with model.random_mask(batch, ratio)"
            )
        # stable sort: visible (False) first, each row's visible units in increasing order
        return mask.to(torch.uint8).argsort(dim=1, stable=True)[:, : int(n_vis[0])]

    def pixel_visibility(self, visible_units: Tensor, batch: int) -> Tensor:
        """``(B, V)`` visible unit indices -> ``(B, 1, T, H, W)`` bool, ``True`` = visible."""
        Tm, Hm, Wm = self.mask_unit_grid
        pt, ph, pw = self.mask_unit_pixels
        vis = torch.zeros(batch, self.num_mask_units, dtype=torch.bool, device=visible_units.device)
        vis.scatter_(1, visible_units, True)  # (B, U)
        vis = vis.view(batch, 1, Tm, 1, Hm, 1, Wm, 1)
        vis = vis.expand(batch, 1, Tm, pt, Hm, ph, Wm, pw)
        return vis.reshape(
            batch, 1, Tm * pt, Hm * ph, Wm * pw
        )  # (B, 1, Tm, pt, .., pw) -> (B, 1, T, H, W)

    def unit_pixels(self, x: Tensor) -> Tensor:
        """The prepared (normalised) pixels of every mask unit, the pixel-MAE target.

        ``(B, 3, T, H, W) -> (B, U, 3, pt, ph, pw)``, units in raster order,
        ``(pt, ph, pw) = mask_unit_pixels``; select hidden units with ``[mask]``.
        """
        x = self.prepare_input(x)
        B, C = x.shape[:2]
        Tm, Hm, Wm = self.mask_unit_grid
        pt, ph, pw = self.mask_unit_pixels
        x = x.view(B, C, Tm, pt, Hm, ph, Wm, pw)
        x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # -> (B, Tm, Hm, Wm, C, pt, ph, pw)
        return x.reshape(B, Tm * Hm * Wm, C, pt, ph, pw)

    def forward_intermediates(
        self, x: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        raise NotImplementedError
