"""Normalisation: shoulders, hands, image size, on hand-built sequences."""

from __future__ import annotations

import numpy as np
import pytest

from signssl.errors import DataError
from signssl.pose.layouts import get_layout
from signssl.pose.normalize import normalize_hands, normalize_image, normalize_shoulders
from signssl.pose.sequence import PoseSequence

MASA = get_layout("masa49")
LS, RS = MASA.index("body.left_shoulder"), MASA.index("body.right_shoulder")
NOSE = MASA.index("body.nose")
LW, LM = MASA.index("left_hand.wrist"), MASA.index("left_hand.middle_finger_mcp")
LTIP = MASA.index("left_hand.index_finger_tip")


def _shoulder_seq() -> PoseSequence:
    """Frame 0: shoulders (3, 4) / (1, 4); frame 1: (5, 4) / (1, 4); nose above the middle."""
    xyz = np.zeros((2, 49, 2), np.float32)
    conf = np.zeros((2, 49), np.float32)
    for t, (lx, rx) in enumerate([(3.0, 1.0), (5.0, 1.0)]):
        xyz[t, LS], xyz[t, RS] = (lx, 4.0), (rx, 4.0)
        xyz[t, NOSE] = ((lx + rx) / 2, 1.0)
        conf[t, [LS, RS, NOSE]] = 1.0
    return PoseSequence(xyz, conf, MASA)


def test_per_frame_shoulders_give_unit_width_at_origin():
    out = normalize_shoulders(_shoulder_seq(), mode="frame")
    mid = (out.xyz[:, LS] + out.xyz[:, RS]) / 2
    np.testing.assert_allclose(mid, 0.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out.xyz[:, LS] - out.xyz[:, RS], axis=-1), 1.0, rtol=1e-6)
    # nose: frame 0 (2, 1) - (2, 4) = (0, -3) / width 2; frame 1 (3, 1) - (3, 4) / width 4
    np.testing.assert_allclose(out.xyz[:, NOSE], [[0, -1.5], [0, -0.75]], rtol=1e-6)
    # missing joints stay at 0 with confidence 0
    assert (out.xyz[:, LW] == 0).all() and (out.conf[:, LW] == 0).all()


def test_clip_mode_uses_mean_centre_and_width():
    out = normalize_shoulders(_shoulder_seq())  # centre (2.5, 4), width (2 + 4) / 2 = 3
    np.testing.assert_allclose(out.xyz[0, LS], [(3 - 2.5) / 3, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out.xyz[1, RS], [(1 - 2.5) / 3, 0.0], rtol=1e-6)


def test_constant_shoulders_clip_mode_is_exact():
    seq = _shoulder_seq().frames(0, 1)
    out = normalize_shoulders(seq)
    np.testing.assert_allclose(out.xyz[0, LS], [0.5, 0.0], rtol=1e-6)
    np.testing.assert_allclose(out.xyz[0, RS], [-0.5, 0.0], rtol=1e-6)


def test_frame_mode_falls_back_where_shoulders_are_missing():
    seq = _shoulder_seq()
    seq.conf[1, RS] = 0.0
    seq.xyz[1, RS] = 0.0
    out = normalize_shoulders(seq, mode="frame")
    # frame 1 uses the clip value = frame 0's (the only frame with both shoulders)
    np.testing.assert_allclose(out.xyz[1, LS], [(5 - 2) / 2, 0.0], rtol=1e-6)


def test_shoulder_errors():
    seq = _shoulder_seq()
    seq.conf[:, LS] = 0.0
    with pytest.raises(DataError, match="no frame has both shoulders"):
        normalize_shoulders(seq)
    hands = PoseSequence(np.ones((1, 42, 2)), np.ones((1, 42)), get_layout("hands"))
    with pytest.raises(DataError, match="has no shoulders"):
        normalize_shoulders(hands)
    with pytest.raises(ValueError):
        normalize_shoulders(_shoulder_seq(), mode="bad")


def _hand_seq() -> PoseSequence:
    """Left wrist (10, 10) / (20, 20); middle knuckle 3 then 5 above it; a tip 4 to the right."""
    xyz = np.zeros((3, 49, 2), np.float32)
    conf = np.zeros((3, 49), np.float32)
    for t, (w, length) in enumerate([(10.0, 3.0), (20.0, 5.0), (30.0, 1.0)]):
        xyz[t, LW] = (w, w)
        xyz[t, LM] = (w, w + length)
        xyz[t, LTIP] = (w + 4, w)
        conf[t, [LW, LM, LTIP]] = 1.0
    conf[2, LW] = 0.0  # no wrist in frame 2
    xyz[2, LW] = 0.0
    xyz[:, NOSE] = (7.0, 7.0)
    conf[:, NOSE] = 1.0
    return PoseSequence(xyz, conf, MASA)


def test_hands_wrist_at_origin_and_scale():
    seq = _hand_seq()
    out = normalize_hands(seq)  # mean wrist-to-middle-knuckle length over frames 0, 1 = 4
    np.testing.assert_allclose(out.xyz[:2, LW], 0.0, atol=1e-6)
    np.testing.assert_allclose(out.xyz[:2, LTIP], [[1.0, 0.0], [1.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(out.xyz[:2, LM], [[0, 0.75], [0, 1.25]], rtol=1e-6)
    # a frame without the wrist leaves that hand missing
    assert (out.conf[2, MASA.part_slice("left_hand")] == 0).all()
    assert (out.xyz[2, MASA.part_slice("left_hand")] == 0).all()
    # other parts are untouched
    np.testing.assert_array_equal(out.xyz[:, NOSE], seq.xyz[:, NOSE])
    unscaled = normalize_hands(seq, scale=False)
    np.testing.assert_allclose(unscaled.xyz[:2, LTIP], [[4.0, 0.0], [4.0, 0.0]], rtol=1e-6)


def test_image_size():
    lay = get_layout("hands")
    xyz = np.full((2, 42, 3), 100.0, np.float32)
    conf = np.ones((2, 42), np.float32)
    xyz[1, 0] = 0.0
    conf[1, 0] = 0.0
    out = normalize_image(PoseSequence(xyz, conf, lay), width=400, height=200)
    np.testing.assert_allclose(out.xyz[0, 0], [0.25, 0.5, 0.25])
    assert (out.xyz[1, 0] == 0).all()
    with pytest.raises(ValueError):
        normalize_image(PoseSequence(xyz, conf, lay), width=0, height=10)


def test_shoulders_hands_combines_both():
    from signssl.pose.normalize import normalize_sequence

    seq = _hand_seq()
    seq.xyz[:, LS], seq.xyz[:, RS] = (12.0, 4.0), (4.0, 4.0)  # shoulder mid (8, 4), width 8
    seq.conf[:, [LS, RS]] = 1.0
    out, used = normalize_sequence(seq, "shoulders_hands")
    assert used == "shoulders_hands"
    # body: the shoulder frame
    np.testing.assert_allclose(out.xyz[:, NOSE], [[-1 / 8, 3 / 8]] * 3, rtol=1e-6)
    # hands: wrist-centred and scaled by the hand's own size, as from the raw sequence
    np.testing.assert_allclose(out.xyz[:2, LW], 0.0, atol=1e-6)
    np.testing.assert_allclose(out.xyz[:2, LTIP], [[1.0, 0.0], [1.0, 0.0]], rtol=1e-5)
    assert (out.conf[2, MASA.part_slice("left_hand")] == 0).all()
