"""Inflated patch embedding: a 16-frame Hiera on 64-frame clips.

See docs/methods.md#signrep-recognition.

A pretrained temporal convolution with kernel ``k``, stride ``s`` and padding ``p``
(Hiera-B: 3, 2, 1) reads input frames ``s t - p + j`` (``j = 0 .. k - 1``) for temporal
token ``t``.  On a clip that is ``f`` times denser (a sign, 64 frames, against 16 frames of
continuous signing: ``f = 4``) the frame ``n`` of the sparse clip sits at ``f n``.  The
inflated convolution keeps the token count and the pretrained taps on the same moments:

* stride ``s f`` (Hiera-B: 8), so ``f T`` frames still give the same number of tokens;
* kernel ``(k - 1) f + 1`` (Hiera-B: 9) with the pretrained tap ``j`` at position ``j f``
  (0, 4, 8); every other tap is 0;
* padding ``p f`` (Hiera-B: 4): tap ``j f`` of token ``t`` reads frame ``f (s t - p + j)``,
  ``f`` times the frame tap ``j`` reads in the pretrained layout (Hiera-B: frames
  ``8 t - 4, 8 t, 8 t + 4``, centred on ``8 t = 4 * 2 t``).  Paddings 1 .. 3 would also give
  8 tokens but shift the taps off centre.  The frames between the taps are read by no
  token; fine-tuning can grow the zero taps.

Invariant (tested): let ``x'`` repeat each frame of a 16-frame clip ``x`` 4 times
(``x'[4 n + r] = x[n]``).  Tap ``j`` of token ``t`` reads ``x'[4 (2 t - 1 + j)] = x[2 t - 1 + j]``,
exactly what the pretrained kernel reads on ``x``.  At the borders the pretrained kernel
reads the zero padding frame ``x[-1]``; the inflated one reads ``x'[-4]``, also zero padding,
so the equality holds for *every* token, border tokens included, up to float rounding (the
new zero taps reach up to 4 frames into the padding or the clip, and contribute 0 either
way).  The same holds for the whole encoder, masked or not: each mask unit covers 2
frames before and 8 repeated frames after inflation, the same content.  The token count
agrees for any clip length: ``floor((f (T + 2p - k + 1) - 1) / (s f)) + 1 =
floor((T + 2p - k) / s) + 1``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from signssl.errors import ConfigError
from signssl.models.hiera import Hiera
from signssl.models.hiera_layers import conv_out_size
from signssl.models.video_cnn import VideoCNN
from signssl.models.video_encoder import Size3


def inflated_temporal_conv(kernel: int, stride: int, padding: int, factor: int) -> Size3:
    """``(kernel, stride, padding)`` of the temporal axis after inflating by ``factor``.

    >>> inflated_temporal_conv(3, 2, 1, 4)
    (9, 8, 4)
    """
    _check_factor(factor)
    return (kernel - 1) * factor + 1, stride * factor, padding * factor


def inflate_temporal_kernel(weight: Tensor, factor: int) -> Tensor:
    """Spread the temporal taps of a ``Conv3d`` weight ``factor`` apart, zeros between.

    ``(D, C, k, kh, kw) -> (D, C, (k - 1) factor + 1, kh, kw)``, tap ``j`` moved to
    ``j * factor``.
    """
    _check_factor(factor)
    if weight.ndim != 5:
        raise ConfigError(f"expected a Conv3d weight (D, C, k, kh, kw), got {tuple(weight.shape)}")
    D, C, k, kh, kw = weight.shape
    out = weight.new_zeros(D, C, (k - 1) * factor + 1, kh, kw)
    out[:, :, ::factor] = weight  # taps 0, f, 2f, ...
    return out


def inflate_patch_embed(model: Hiera, factor: int = 4) -> dict[str, Any]:
    """Inflate ``model``'s patch embedding in place for clips ``factor`` times longer.

    Replaces ``model.patch_embed.proj`` (weights via :func:`inflate_temporal_kernel`, bias
    kept) and sets ``model.input_size``, ``patch_kernel``, ``patch_stride`` and
    ``patch_padding``; the token grid, position embeddings, mask units and blocks are
    unchanged.  Returns the constructor overrides that rebuild the inflated model, e.g.
    ``{"num_frames": 64, "patch_kernel": [9, 7, 7], "patch_stride": [8, 4, 4],
    "patch_padding": [4, 3, 3]}`` for Hiera-B: save them with the weights so
    ``create_model(name, **kwargs)`` restores the inflated shape.
    """
    _check_factor(factor)
    old = model.patch_embed.proj
    k, s, p = inflated_temporal_conv(
        model.patch_kernel[0], model.patch_stride[0], model.patch_padding[0], factor
    )
    kernel: Size3 = (k, model.patch_kernel[1], model.patch_kernel[2])
    stride: Size3 = (s, model.patch_stride[1], model.patch_stride[2])
    padding: Size3 = (p, model.patch_padding[1], model.patch_padding[2])
    frames = model.num_frames * factor
    if conv_out_size(frames, k, s, p) != model.token_grid[0]:  # cannot happen: see module doc
        raise ConfigError(
            f"inflating by {factor} would change the temporal token count {model.token_grid[0]}"
        )
    has_bias = old.bias is not None
    new = nn.Conv3d(old.in_channels, old.out_channels, kernel, stride, padding, bias=has_bias)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(inflate_temporal_kernel(old.weight, factor))
        if old.bias is not None and new.bias is not None:
            new.bias.copy_(old.bias)
    model.patch_embed.proj = new
    model.input_size = (frames, model.input_size[1], model.input_size[2])
    model.patch_kernel, model.patch_stride, model.patch_padding = kernel, stride, padding
    return {
        "num_frames": frames,
        "patch_kernel": list(kernel),
        "patch_stride": list(stride),
        "patch_padding": list(padding),
    }


def inflate_cnn_stem(model: VideoCNN, factor: int = 4) -> dict[str, Any]:
    """Inflate a :class:`~signssl.models.video_cnn.VideoCNN`'s first convolution in place
    for clips ``factor`` times longer, as :func:`inflate_patch_embed` does for the Hiera.

    The stem's temporal kernel, stride and padding become those of
    :func:`inflated_temporal_conv` (``(3, 1, 1) -> (9, 4, 4)`` for ``factor = 4``) with the
    taps spread by :func:`inflate_temporal_kernel`: the stem's output, and so every later
    stage, the token grid and the mask units, are those of the clip before inflation (the
    frame-repetition invariant of the module docstring).  Returns the constructor
    overrides (``num_frames``, ``stem_kernel``, ``stem_padding``, ``strides``).
    """
    _check_factor(factor)
    old = model.blocks[0].down
    kt, st, pt = (int(v[0]) for v in (old.kernel_size, old.stride, old.padding))
    k, s, p = inflated_temporal_conv(kt, st, pt, factor)
    kernel: Size3 = (k, int(old.kernel_size[1]), int(old.kernel_size[2]))
    stride: Size3 = (s, int(old.stride[1]), int(old.stride[2]))
    padding: Size3 = (p, int(old.padding[1]), int(old.padding[2]))
    new = nn.Conv3d(old.in_channels, old.out_channels, kernel, stride, padding)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    with torch.no_grad():
        new.weight.copy_(inflate_temporal_kernel(old.weight, factor))
        new.bias.copy_(old.bias)
    model.blocks[0].down = new
    frames = model.num_frames * factor
    model.input_size = (frames, model.input_size[1], model.input_size[2])
    model.token_pixels = (model.token_pixels[0] * factor, *model.token_pixels[1:])
    strides = [list(stride)] + [[int(v) for v in b.down.stride] for b in model.blocks[1:]]
    return {
        "num_frames": frames,
        "stem_kernel": list(kernel),
        "stem_padding": list(padding),
        "strides": strides,
    }


def _check_factor(factor: int) -> None:
    if not isinstance(factor, int) or isinstance(factor, bool) or factor < 1:
        raise ConfigError(f"inflation factor must be an int >= 1, got {factor!r}")
