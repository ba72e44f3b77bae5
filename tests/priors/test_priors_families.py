"""Every prior family against the naive per-frame reference, and the PriorSpec table."""

from __future__ import annotations

import numpy as np
import pytest
from priors_reference import naive_priors

from signssl.priors import (
    BODY_ANGLES,
    HAND_ANGLES,
    PRIOR_NAMES,
    PRIOR_SPECS,
    compute_priors,
    compute_priors_batch,
    default_bone_lengths,
)


def _compare(pri, ref_values, ref_valid, atol=2e-5) -> None:
    for name in PRIOR_NAMES:
        got_v, got_m = pri.values[name], pri.valid[name]
        assert got_v.shape == got_m.shape == ref_values[name].shape, name
        assert got_v.dtype == np.float32 and got_m.dtype == bool, name
        np.testing.assert_array_equal(got_m, ref_valid[name], err_msg=name)
        np.testing.assert_allclose(
            got_v[got_m], ref_values[name][got_m], atol=atol, rtol=1e-4, err_msg=name
        )
        assert np.all(got_v[~got_m] == 0), f"{name}: invalid entries must be 0"
        assert np.isfinite(got_v).all(), name


def test_specs_table() -> None:
    dims = {n: s.dim for n, s in PRIOR_SPECS.items()}
    assert dims == {
        "hand_kp_left": 63, "hand_kp_right": 63, "body_kp": 183,
        "hand_angles_left": 82, "hand_angles_right": 82, "body_angles": 44,
        "fingertip_dist_left": 55, "fingertip_dist_right": 55,
        "interaction_dist": 264, "activity": 2,
    }  # fmt: skip
    weight = {s.kind: s.weight for s in PRIOR_SPECS.values()}
    assert weight == {"keypoints": 10, "angles": 10, "distances": 20, "activity": 0.2}
    scale = {n: s.scale for n, s in PRIOR_SPECS.items()}
    assert scale["hand_kp_left"] == scale["hand_kp_right"] == 2.0
    assert scale["body_kp"] == scale["body_angles"] == scale["interaction_dist"] == 1.0
    assert scale["fingertip_dist_left"] == 4.0
    assert len(HAND_ANGLES) == 41 and len(BODY_ANGLES) == 22
    assert len({n for n, _ in HAND_ANGLES}) == 41 and len({n for n, _ in BODY_ANGLES}) == 22


def test_world_frame_matches_naive_reference(clip) -> None:
    pri = compute_priors(clip)
    assert pri.frame == "world" and pri.num_frames == clip.num_frames
    _compare(pri, *naive_priors(clip, default_bone_lengths()))
    # the masked joints of the fixture are really masked somewhere
    assert not pri.valid["body_kp"][6].any()  # root (shoulder) invalid -> whole body tree
    assert not pri.valid["hand_kp_right"][7].any()  # the hand's own wrist missing
    assert pri.valid["hand_kp_right"].any() and pri.valid["activity"].all()


def test_image_frame_matches_naive_reference(clip) -> None:
    seq = clip.to_layout("holistic")  # no body_world: image-coordinate fallback
    pri = compute_priors(seq)
    assert pri.frame == "image"
    _compare(pri, *naive_priors(seq, default_bone_lengths()))


def test_whole_clip_activity_window(clip) -> None:
    pri = compute_priors(clip, activity_window=None)
    values, valid = naive_priors(clip, default_bone_lengths(), window=None)
    np.testing.assert_array_equal(pri.valid["activity"], valid["activity"])
    np.testing.assert_array_equal(pri.values["activity"], values["activity"])
    assert (pri.values["activity"] == pri.values["activity"][:1]).all()  # one value per clip


def test_hand_priors_do_not_depend_on_the_3d_frame(clip) -> None:
    """Hands are attached by direction only: world and image frames agree on them."""
    world, image = compute_priors(clip), compute_priors(clip.to_layout("holistic"))
    both = world.valid["hand_angles_right"] & image.valid["hand_angles_right"]
    assert both.mean() > 0.5  # (the left hand rests outside the image in this clip)
    for h in ("left", "right"):
        for name in (f"hand_kp_{h}", f"hand_angles_{h}", f"fingertip_dist_{h}"):
            m = world.valid[name] & image.valid[name]
            np.testing.assert_allclose(world.values[name][m], image.values[name][m], atol=1e-5)


def test_batch_equals_one_by_one(clip) -> None:
    from priors_reference import synth_clip

    seqs = [clip, synth_clip(2, frames=40), clip.to_layout("holistic"), clip.frames(3, 5)]
    seqs.append(synth_clip(3, frames=300))  # longer than one block of frames
    batch = compute_priors_batch(seqs)
    for seq, got in zip(seqs, batch, strict=True):
        one = compute_priors(seq)
        assert got.frame == one.frame and got.num_frames == seq.num_frames
        for name in PRIOR_NAMES:
            np.testing.assert_array_equal(got.valid[name], one.valid[name], err_msg=name)
            np.testing.assert_allclose(got.values[name], one.values[name], atol=1e-6)


def test_layout_without_hands_raises(clip) -> None:
    from signssl.errors import LayoutError
    from signssl.pose.layouts import MEDIAPIPE_POSE_33, Layout, Part

    body_only = Layout("body_only", (Part("body", MEDIAPIPE_POSE_33),))
    with pytest.raises(LayoutError, match=r"no part\(s\) \['left_hand', 'right_hand'\]"):
        compute_priors(clip.to_layout(body_only))
    # a layout with the parts but other joint names works: absent joints are masked
    pri = compute_priors(clip.to_layout("masa49").with_dims(3))
    assert not pri.valid["body_kp"][:, 3:33].any()  # MASA has no eyes, ears, mouth
    assert pri.valid["body_kp"][:, 33:51].any()  # but shoulders, elbows, wrists


def test_short_and_2d_sequences(clip) -> None:
    for T in (0, 1):
        pri = compute_priors(clip.frames(0, T))
        assert all(v.shape == (T, PRIOR_SPECS[n].dim) for n, v in pri.values.items())
    one = compute_priors(clip.frames(0, 1))
    ref = compute_priors(clip)
    np.testing.assert_array_equal(one.valid["body_kp"], ref.valid["body_kp"][:1])
    flat = compute_priors(clip.with_dims(2))  # z = 0: still defined, directions in 2D
    assert flat.valid["hand_angles_right"].any() and np.isfinite(flat.values["body_kp"]).all()
    assert compute_priors_batch([]) == []


def test_window_sums_and_segment_medians_against_loops() -> None:
    from signssl.priors.families import window_sums
    from signssl.priors.joints import segment_medians

    rng = np.random.default_rng(0)
    for lengths in ([1], [3], [40], [5, 1, 7], [16, 0, 16]):
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        x = rng.normal(size=(int(bounds[-1]), 3))
        for w in (1, 2, 5, 16, None, 100):
            ref = []
            for i in range(len(lengths)):
                a, b = bounds[i], bounds[i + 1]
                for t in range(a, b):
                    lo = a if w is None else max(a, t - w // 2)
                    hi = b if w is None else min(b, max(a, t - w // 2 + w))
                    ref.append(x[lo:hi].sum(0))
            got = window_sums(x, w, bounds)
            np.testing.assert_allclose(got, np.array(ref).reshape(-1, 3), atol=1e-12)
        seg = np.repeat(np.arange(len(lengths)), lengths)
        med = segment_medians(x[:, 0], seg, len(lengths))
        for i, n in enumerate(lengths):
            expect = np.median(x[seg == i, 0]) if n else np.nan
            np.testing.assert_allclose(med[i], expect)
