"""Inflated patch embedding: geometry, taps, the repeated-frame invariant.

See docs/methods.md#signrep-recognition.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from signssl.errors import ConfigError
from signssl.models import create_model
from signssl.models.hiera import Hiera
from signssl.models.inflate import (
    inflate_patch_embed,
    inflate_temporal_kernel,
    inflated_temporal_conv,
)


def build(seed: int = 0, **kw: object) -> Hiera:
    """``hiera_test`` on 16 frames: 8 temporal tokens, as Hiera-B."""
    torch.manual_seed(seed)
    model = create_model("hiera_test", **{"num_frames": 16, **kw})
    assert isinstance(model, Hiera)
    return model.eval()


def test_hiera_b_numbers() -> None:
    assert inflated_temporal_conv(3, 2, 1, 4) == (9, 8, 4)
    assert inflated_temporal_conv(3, 2, 1, 1) == (3, 2, 1)
    with pytest.raises(ConfigError, match="factor"):
        inflated_temporal_conv(3, 2, 1, 0)


@pytest.mark.parametrize("k, s, p", [(3, 2, 1), (3, 1, 1), (5, 2, 2), (4, 2, 1), (2, 2, 0)])
@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("T", [8, 15, 16, 21])
def test_token_count_and_taps_match_a_real_convolution(
    k: int, s: int, p: int, factor: int, T: int
) -> None:
    """Conv1d reference: the inflated kernel on the repeated signal = the original kernel."""
    g = torch.Generator().manual_seed(k * 100 + factor * 10 + T)
    x = torch.randn(1, 1, T, generator=g)
    w = torch.randn(1, 1, k, generator=g)
    K, S, P = inflated_temporal_conv(k, s, p, factor)
    w5 = inflate_temporal_kernel(w[..., None, None], factor)  # (1, 1, K, 1, 1)
    assert w5.shape == (1, 1, K, 1, 1)
    ref = F.conv1d(x, w, stride=s, padding=p)
    out = F.conv1d(x.repeat_interleave(factor, dim=2), w5[..., 0, 0], stride=S, padding=P)
    torch.testing.assert_close(out, ref)  # every token, the two border ones included


def test_kernel_places_the_pretrained_taps_factor_apart() -> None:
    w = torch.arange(2 * 3 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 3, 2, 2) + 1
    out = inflate_temporal_kernel(w, 4)
    assert out.shape == (2, 3, 9, 2, 2)
    for j in range(9):
        if j % 4 == 0:
            assert torch.equal(out[:, :, j], w[:, :, j // 4])
        else:
            assert (out[:, :, j] == 0).all()
    with pytest.raises(ConfigError, match="Conv3d weight"):
        inflate_temporal_kernel(torch.zeros(2, 3, 3), 4)


def test_inflate_updates_the_model_and_returns_its_rebuild_options() -> None:
    model = build()
    bias = model.patch_embed.proj.bias.detach().clone()
    grid = model.token_grid
    overrides = inflate_patch_embed(model, factor=4)
    assert overrides == {
        "num_frames": 64,
        "patch_kernel": [9, 7, 7],
        "patch_stride": [8, 4, 4],
        "patch_padding": [4, 3, 3],
    }
    conv = model.patch_embed.proj
    assert (conv.kernel_size, conv.stride, conv.padding) == ((9, 7, 7), (8, 4, 4), (4, 3, 3))
    assert torch.equal(conv.bias, bias)
    assert model.input_size == (64, 32, 32) and model.num_frames == 64
    assert model.token_grid == grid and model.mask_unit_pixels == (8, 16, 16)
    with pytest.raises(ConfigError, match="does not match"):
        model(torch.rand(1, 3, 16, 32, 32))  # the 16-frame clip no longer fits
    with pytest.raises(ConfigError, match="factor"):
        inflate_patch_embed(model, factor=0)


@pytest.mark.parametrize("factor", [2, 4])
def test_repeated_frames_give_the_pretrained_tokens(factor: int) -> None:
    """The invariant of docs/methods.md#signrep-recognition: on a clip whose frames are
    each repeated ``factor`` times the inflated model equals the original on the short clip:
    patch tokens (all of them, border tokens included, since the padding frames line up),
    final tokens and pooled embedding, with and without a mask."""
    model = build()
    x = torch.rand(2, 3, 16, 32, 32, generator=torch.Generator().manual_seed(0))
    mask = model.random_mask(2, 0.5, torch.Generator().manual_seed(1))
    with torch.no_grad():
        prepared = model.prepare_input(x)
        ref_patch = model.patch_embed(prepared)  # (B, N, D)
        ref_tokens = model.forward_features(x)
        ref_masked = model.forward_features(x, mask)
        inflate_patch_embed(model, factor)
        long = x.repeat_interleave(factor, dim=2)  # (B, 3, 16 f, H, W), x'[f n + r] = x[n]
        patch = model.patch_embed(model.prepare_input(long))
        torch.testing.assert_close(patch, ref_patch, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(model.forward_features(long), ref_tokens, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(
            model.forward_features(long, mask), ref_masked, rtol=1e-4, atol=1e-5
        )


def test_inflated_model_rebuilds_from_its_options() -> None:
    model = build()
    overrides = inflate_patch_embed(model, 4)
    torch.manual_seed(5)
    rebuilt = create_model("hiera_test", **{"num_frames": 16, **overrides})
    rebuilt.load_state_dict(model.state_dict())  # strict: same names and shapes
    x = torch.randint(0, 256, (1, 3, 64, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(x), model(x), rtol=0, atol=0)


def test_a_changed_frame_moves_only_its_tokens() -> None:
    """The inflated embedding of token t reads frames 8t - 4 .. 8t + 4, taps at 8t - 4, 8t,
    8t + 4 only: changing a frame between taps leaves every token unchanged."""
    model = build()
    inflate_patch_embed(model, 4)
    x = torch.rand(1, 3, 64, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = model.patch_embed(model.prepare_input(x)).view(1, 8, 64, -1)  # (B, T', HW, D)
        y = x.clone()
        y[:, :, 9] = 0.3  # between the taps 8 and 12: read by no token
        torch.testing.assert_close(
            model.patch_embed(model.prepare_input(y)).view(1, 8, 64, -1), ref
        )
        y = x.clone()
        y[:, :, 12] = 0.3  # tap 2 of token 1 and tap 0 of token 2
        diff = (model.patch_embed(model.prepare_input(y)).view(1, 8, 64, -1) - ref).abs()
        changed = diff.amax(dim=(0, 2, 3)) > 0
        assert changed.tolist() == [False, True, True, False, False, False, False, False]
