"""PoseSequence: missing-data conventions, flat vectors, selection."""

from __future__ import annotations

import numpy as np
import pytest

from signssl.errors import DataError, LayoutError
from signssl.pose.layouts import get_layout, layout_from_dict
from signssl.pose.sequence import PoseSequence, sanitize

MIXED = layout_from_dict({"name": "mixed", "parts": [
    {"name": "body", "joints": ["nose", "left_shoulder"], "values": ["x", "y", "z", "visibility"]},
    {"name": "left_hand", "joints": ["wrist", "thumb_tip", "index_finger_tip"], "values": ["x", "y"]},
]})  # flat size 2 * 4 + 3 * 2 = 14


def test_sanitize_nan_and_zero():
    xyz = np.ones((2, 3, 2), np.float32)
    xyz[0, 0, 1] = np.nan
    xyz[1, 1] = 0.0  # all-zero joint
    xyz[1, 2, 0] = 0.0  # one zero coordinate only: still present
    out, conf = sanitize(xyz, None)
    assert conf.tolist() == [[0, 1, 1], [1, 0, 1]]
    assert (out[0, 0] == 0).all() and np.isfinite(out).all()
    _, conf_keep = sanitize(xyz, None, zero_is_missing=False)
    assert conf_keep.tolist() == [[0, 1, 1], [1, 1, 1]]
    c = np.array([[np.nan, 2.0, -1.0], [0.5, 0.5, 0.5]], np.float32)
    _, conf_c = sanitize(np.ones((2, 3, 2)), c)
    assert conf_c.tolist() == [[0, 1, 0], [0.5, 0.5, 0.5]]


def test_constructor_cleans_nan_and_clips():
    lay = get_layout("hands")
    xyz = np.ones((2, 42, 3))
    xyz[1, 3, 2] = np.inf
    conf = np.full((2, 42), 1.5)
    seq = PoseSequence(xyz, conf, lay)
    assert seq.xyz.dtype == np.float32 and seq.conf.dtype == np.float32
    assert seq.conf[1, 3] == 0 and (seq.xyz[1, 3] == 0).all()
    assert seq.conf.max() == 1.0


def test_constructor_shape_errors():
    lay = get_layout("hands")
    with pytest.raises(LayoutError, match="41 joints but layout 'hands' has 42"):
        PoseSequence(np.zeros((2, 41, 3)), np.zeros((2, 41)), lay)
    with pytest.raises(DataError, match="must be \\(T, J, 2\\|3\\)"):
        PoseSequence(np.zeros((2, 42, 4)), np.zeros((2, 42)), lay)
    with pytest.raises(DataError, match="confidence must be"):
        PoseSequence(np.zeros((2, 42, 3)), np.zeros((3, 42)), lay)


def test_from_flat_hand_decoding():
    flat = np.arange(1, 2 * 14 + 1, dtype=np.float64).reshape(2, 14) / 100
    seq = PoseSequence.from_flat(flat, MIXED)
    assert seq.num_dims == 3  # a part has z
    # frame 1, body.left_shoulder: values 4..7 = x, y, z, visibility
    np.testing.assert_allclose(seq.xyz[1, 1], flat[1, 4:7], rtol=1e-6)
    assert seq.conf[1, 1] == np.float32(flat[1, 7])
    # left_hand.thumb_tip: values 8 + 2..3, z padded with 0 and the joint still present
    np.testing.assert_allclose(seq.xyz[0, 3], [flat[0, 10], flat[0, 11], 0.0], rtol=1e-6)
    assert seq.conf[0, 3] == 1.0


def test_from_flat_zero_and_nan_are_missing():
    flat = np.full((3, 14), 0.5)
    flat[0, 8:10] = 0.0  # left_hand.wrist x, y = 0 -> missing although z is padding
    flat[1, 0:3] = 0.0  # body.nose x, y, z = 0 (visibility 0.5) -> missing
    flat[2, 12] = np.nan  # index_finger_tip x NaN -> missing
    seq = PoseSequence.from_flat(flat, MIXED)
    assert seq.conf[0, 2] == 0 and seq.conf[1, 0] == 0 and seq.conf[2, 4] == 0
    assert (seq.conf == 0).sum() == 3
    assert np.isfinite(seq.xyz).all() and (seq.xyz[2, 4] == 0).all()
    kept = PoseSequence.from_flat(flat, MIXED, zero_is_missing=False)
    assert (kept.conf == 0).sum() == 1  # only the NaN


def test_flat_round_trip():
    rng = np.random.default_rng(0)
    lay = get_layout("holistic")
    flat = rng.uniform(0.01, 1.0, (4, lay.flat_size)).astype(np.float32)
    seq = PoseSequence.from_flat(flat, lay, fps=30.0, source="x")
    np.testing.assert_array_equal(seq.to_flat(), flat)
    assert seq.fps == 30.0
    flat2 = rng.uniform(0.01, 1.0, (2, 14)).astype(np.float32)
    np.testing.assert_array_equal(PoseSequence.from_flat(flat2, MIXED).to_flat(), flat2)


def test_from_flat_errors():
    with pytest.raises(LayoutError, match="13 values per frame but layout 'mixed' expects 14"):
        PoseSequence.from_flat(np.zeros((2, 13)), MIXED, source="f.npy")
    with pytest.raises(DataError, match="expected \\(T, D\\)"):
        PoseSequence.from_flat(np.zeros(14), MIXED)


def test_missing_fractions():
    lay = get_layout("masa49")
    conf = np.ones((4, 49), np.float32)
    conf[:, lay.part_slice("left_hand")] = 0  # 4 x 21 missing
    conf[0, 0] = 0
    seq = PoseSequence(np.ones((4, 49, 2)), conf, lay)
    assert seq.missing_fraction() == pytest.approx((84 + 1) / 196)
    assert seq.part_missing_fractions() == pytest.approx({"body": 1 / 28, "left_hand": 1.0, "right_hand": 0.0})
    empty = PoseSequence(np.zeros((0, 49, 2)), np.zeros((0, 49)), lay)
    assert empty.missing_fraction() == 1.0 and len(empty) == 0


def test_selection_frames_and_dims():
    lay = get_layout("hands")
    xyz = np.random.default_rng(1).uniform(1, 2, (5, 42, 3)).astype(np.float32)
    seq = PoseSequence(xyz, np.ones((5, 42)), lay, fps=10)
    sub, c = seq.select_joints(["right_hand.wrist", "left_hand.thumb_tip"])
    np.testing.assert_array_equal(sub, xyz[:, [21, 4]])
    assert c.shape == (5, 2)
    part_xyz, _ = seq.part("right_hand")
    np.testing.assert_array_equal(part_xyz, xyz[:, 21:])
    assert seq.frames(1, 3).num_frames == 2 and seq.frames(1, 3).fps == 10
    np.testing.assert_array_equal(seq.frames(1, 3).xyz, xyz[1:3])
    two = seq.with_dims(2)
    np.testing.assert_array_equal(two.xyz, xyz[..., :2])
    back = two.with_dims(3)
    assert (back.xyz[..., 2] == 0).all() and back.num_dims == 3
    assert seq.with_dims(3) is seq
