"""Numpy renderer: output format, rasterised geometry, occlusion, styles."""

from __future__ import annotations

import numpy as np
import pytest

from signssl.errors import ConfigError
from signssl.synth import Style, Vocabulary, derive_seed, render, sample_signers, synthesize
from signssl.synth.render import N_BACKGROUNDS, N_SKIN, _draw_capsules, background_image

VOCAB = Vocabulary.sample(50, seed=0)
SIGNER = sample_signers(2, seed=1)[1]
FLAT_LIGHT = (np.array([0.0, 0.0, -1.0], np.float32), 1.0, np.ones(3, np.float32))  # no shading


def _canvas(T: int = 1, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((T, size, size, 3), np.float32), np.full((T, size, size), np.inf, np.float32)


def _draw(img, zbuf, a, b, za, zb, r_px, colour) -> None:
    uv = np.array([[a, b]], np.float32)  # (T=1, P=2, 2) pixels
    z = np.array([[za, zb]], np.float32)
    scale = np.full((1, 2), r_px, np.float32)  # radius 1 m -> r_px pixels
    colours = np.array([colour], np.float32)
    _draw_capsules(img, zbuf, uv, z, [(0, 1, 1.0, 0)], scale, colours, FLAT_LIGHT)


def test_capsule_area_matches_the_formula() -> None:
    img, zbuf = _canvas(size=96)
    r, length = 6.0, 30.0
    _draw(img, zbuf, (30.0, 40.0), (30.0 + length, 40.0), 5.0, 5.0, r, (1.0, 1.0, 1.0))
    coverage = img[0, :, :, 0].sum()  # anti-aliased: partial pixels count partially
    assert coverage == pytest.approx(np.pi * r**2 + 2 * r * length, rel=0.02)
    # a sphere (a == b) centred on a pixel corner
    img, zbuf = _canvas(size=64)
    _draw(img, zbuf, (32.0, 32.0), (32.0, 32.0), 5.0, 5.0, 10.0, (1.0, 1.0, 1.0))
    assert img[0, :, :, 0].sum() == pytest.approx(np.pi * 100, rel=0.02)


def test_nearer_capsule_hides_the_farther_one_in_any_drawing_order() -> None:
    for order in (0, 1):
        img, zbuf = _canvas()
        near = ((10.0, 32.0), (54.0, 32.0), 2.0, 2.0, 5.0, (1.0, 0.0, 0.0))  # horizontal, red
        far = ((32.0, 10.0), (32.0, 54.0), 4.0, 4.0, 5.0, (0.0, 0.0, 1.0))  # vertical, blue
        for args in (near, far) if order == 0 else (far, near):
            _draw(img, zbuf, *args)
        np.testing.assert_allclose(img[0, 32, 32], (1.0, 0.0, 0.0))  # the crossing is red
        np.testing.assert_allclose(img[0, 15, 32], (0.0, 0.0, 1.0))  # blue where alone
        np.testing.assert_allclose(img[0, 5, 5], 0.0)  # background untouched


def test_render_shape_dtype_and_motion_inside_the_sign() -> None:
    s = synthesize(VOCAB[2], SIGNER, seed=derive_seed(0, 5))
    video = render(s, size=48)
    assert video.shape == (64, 48, 48, 3) and video.dtype == np.uint8
    assert 20 < video.mean() < 235 and video.std() > 10
    change = np.abs(np.diff(video.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))  # (T-1,)
    inside = change[s.sign_start : s.sign_end - 1].mean()
    outside = np.r_[change[: max(s.sign_start - 1, 0)], change[s.sign_end :]].mean()
    assert inside > 3 * outside  # the hands move while signing; at rest only breathing/head


def test_background_shows_where_nothing_is_drawn() -> None:
    s = synthesize(VOCAB[0], SIGNER, seed=3)
    style = Style(background=7, clothing=2, skin=3, lighting=1)
    video = render(s, size=64, style=style)
    bg = (background_image(7, 64) * 255 + 0.5).astype(np.uint8)
    assert np.array_equal(video[:, 0, 0], np.broadcast_to(bg[0, 0], (64, 3)))  # top-left corner


def test_style_changes_appearance_but_not_geometry() -> None:
    s = synthesize(VOCAB[0], SIGNER, seed=3)
    a = render(s, size=48, style=Style(0, 0, 0, 0))
    b = render(s, size=48, style=Style(1, 3, 6, 5))
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 10
    np.testing.assert_array_equal(render(s, size=48, style=Style(0, 0, 0, 0)), a)  # deterministic


def test_style_is_independent_of_the_class() -> None:
    # the style depends on the sample seed only: two classes with one seed look alike
    a = synthesize(VOCAB[0], SIGNER, seed=77)
    b = synthesize(VOCAB[1], SIGNER, seed=77)
    assert a.style == b.style
    # and over a data set, skin tones and background textures are spread alike over the
    # classes (chi-square test of independence)
    stats = pytest.importorskip("scipy.stats")
    skin, texture = np.zeros((8, N_SKIN)), np.zeros((8, 6))
    for c in range(8):
        for k in range(40):
            st = synthesize(VOCAB[c], SIGNER, seed=derive_seed(0, 1, c, k), frames=16).style
            skin[c, st.skin] += 1
            texture[c, st.background % 6] += 1
    assert stats.chi2_contingency(skin)[1] > 0.001
    assert stats.chi2_contingency(texture)[1] > 0.001
    assert (skin.sum(0) > 0).all() and (texture.sum(0) > 0).all()


def test_bad_style_and_size_raise_user_errors() -> None:
    with pytest.raises(ConfigError, match="background"):
        Style(background=N_BACKGROUNDS)
    s = synthesize(VOCAB[0], SIGNER, seed=1, frames=16)
    with pytest.raises(ConfigError, match="size"):
        render(s, size=4)
