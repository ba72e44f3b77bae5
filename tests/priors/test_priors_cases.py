"""Hand-worked priors, invariances, the activity rule and masking."""

from __future__ import annotations

import numpy as np
import pytest
from priors_reference import sequence

from signssl.pose.layouts import HAND_21
from signssl.pose.sequence import PoseSequence
from signssl.priors import (
    FINGERTIP_TARGETS,
    FINGERTIPS,
    HAND_ANGLES,
    PRIOR_NAMES,
    BoneLengths,
    compute_priors,
    default_bone_lengths,
)
from signssl.priors.bones import MEASURED_BONES

# a body in both frames: world metres (camera axes, y down) and image units
WORLD = {
    "left_shoulder": (0.15, -0.45, 0.0), "right_shoulder": (-0.15, -0.45, 0.0),
    "left_elbow": (0.22, -0.2, 0.0), "right_elbow": (-0.22, -0.2, 0.0),
    "left_wrist": (0.2, 0.0, -0.15), "right_wrist": (-0.2, 0.0, -0.15),
    "left_hip": (0.1, 0.0, 0.0), "right_hip": (-0.1, 0.0, 0.0),
}  # fmt: skip
SHOULDER_Y, HIP_Y = 0.4, 0.9  # image: shoulders 0.3 apart -> 1 normalised unit = 1 image unit
IMAGE = {
    "left_shoulder": (0.65, SHOULDER_Y, 0.0), "right_shoulder": (0.35, SHOULDER_Y, 0.0),
    "left_hip": (0.6, HIP_Y, 0.0), "right_hip": (0.4, HIP_Y, 0.0),
    "left_elbow": (0.72, 0.65, 0.0), "right_elbow": (0.28, 0.65, 0.0),
    "left_wrist": (0.7, 0.85, 0.0), "right_wrist": (0.3, 0.85, 0.0),
}  # fmt: skip
REFERENCE_Y = ((2 * SHOULDER_Y + 2 * HIP_Y) / 4 + 2 * HIP_Y) / 3  # stomach, hips


def _body() -> dict[str, np.ndarray]:
    pts = {f"body_world.{k}": np.array(v) for k, v in WORLD.items()}
    pts.update({f"body.{k}": np.array(v) for k, v in IMAGE.items()})
    return pts


def _angle_index(name: str) -> int:
    return [n for n, _ in HAND_ANGLES].index(name)


def test_right_angle_and_straight_finger() -> None:
    hand = {
        "wrist": (0.0, 0.0, 0.0),
        "index_finger_mcp": (0.0, -0.10, 0.0),
        "index_finger_pip": (0.0, -0.15, 0.0),
        "index_finger_dip": (0.03, -0.15, 0.0),  # bent 90 degrees at the pip
        "index_finger_tip": (0.05, -0.15, 0.0),  # straight on at the dip
    }
    pts = _body() | {f"left_hand.{k}": np.array(v) + [0.7, 0.85, 0] for k, v in hand.items()}
    pri = compute_priors(sequence(4, pts))
    a = pri.values["hand_angles_left"].reshape(4, 41, 2)
    ok = pri.valid["hand_angles_left"].reshape(4, 41, 2)
    bend = _angle_index("index_finger_pip:index_finger_mcp|index_finger_dip")
    straight = _angle_index("index_finger_dip:index_finger_pip|index_finger_tip")
    base = _angle_index("index_finger_mcp:wrist|index_finger_pip")
    np.testing.assert_allclose(a[:, bend], [[1.0, 0.0]] * 4, atol=1e-6)  # sin 1, cos 0
    np.testing.assert_allclose(a[:, straight], [[0.0, -1.0]] * 4, atol=1e-6)  # pi
    np.testing.assert_allclose(a[:, base], [[0.0, -1.0]] * 4, atol=1e-6)
    assert ok[:, [bend, straight, base]].all()
    assert ok.sum() == 4 * 3 * 2  # every other angle involves a missing joint


def _exact_lengths(hand: dict[str, np.ndarray], image_shoulder_width: float) -> BoneLengths:
    """Standard lengths equal to this hand's own (shoulder widths): rebuilt = observed."""
    lengths = dict(default_bone_lengths().lengths)
    for name in MEASURED_BONES:
        p, c = name.split("->")
        if p.startswith("left_hand."):
            d = hand[c.split(".")[1]] - hand[p.split(".")[1]]
            lengths[name] = float(np.linalg.norm(d)) / image_shoulder_width
    return BoneLengths(lengths, source="test")


def _straight_hand(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A plausible left hand (image units, wrist at the origin): five fanned chains."""
    hand = {"wrist": np.zeros(3)}
    for f, finger in enumerate(("thumb", "index_finger", "middle_finger", "ring_finger", "pinky")):
        angle = np.radians(-60 + 30 * f)
        direction = np.array([np.sin(angle), -np.cos(angle), 0.0])
        joints = [n for n in HAND_21 if n.startswith(finger + "_")]
        pos = np.zeros(3)
        for k, name in enumerate(joints):
            pos = pos + direction * (0.04 if k == 0 else 0.025) + rng.normal(0, 0.003, 3)
            hand[name] = pos
    return hand


def test_fingertip_touching_thumb_tip_gives_zero() -> None:
    hand = _straight_hand(np.random.default_rng(1))
    hand["index_finger_tip"] = hand["thumb_tip"].copy()  # pinch
    pts = _body() | {f"left_hand.{k}": v + [0.7, 0.85, 0.0] for k, v in hand.items()}
    lengths = _exact_lengths(hand, image_shoulder_width=0.3)
    pri = compute_priors(sequence(3, pts), lengths)
    d = pri.values["fingertip_dist_left"].reshape(3, 5, 11)
    assert pri.valid["fingertip_dist_left"].all()
    i, k = FINGERTIPS.index("index_finger_tip"), FINGERTIP_TARGETS.index("thumb_tip")
    np.testing.assert_allclose(d[:, i, k], 0.0, atol=1e-5)
    # hand-computed: any tip to the wrist is its distance in shoulder widths
    m, w = FINGERTIPS.index("middle_finger_tip"), FINGERTIP_TARGETS.index("wrist")
    expect = np.linalg.norm(hand["middle_finger_tip"]) / 0.3
    np.testing.assert_allclose(d[:, m, w], expect, rtol=1e-5)
    # and the keypoints are the observed shape, wrist-relative, in shoulder widths
    kp = pri.values["hand_kp_left"].reshape(3, 21, 3)
    expect_kp = np.stack([hand[n] for n in HAND_21]) / 0.3
    np.testing.assert_allclose(kp[0], expect_kp, atol=1e-5)


def _transform(seq: PoseSequence, image: tuple[float, np.ndarray], world: tuple[float, np.ndarray]):
    """Uniformly scale and translate the image parts and, separately, the world part."""
    xyz = seq.xyz.copy()
    lay = seq.layout
    for part, (k, t) in (("body", image), ("face", image), ("left_hand", image),
                         ("right_hand", image), ("body_world", world)):  # fmt: skip
        if part not in lay.part_names:
            continue
        s = lay.part_slice(part)
        if part.endswith("hand"):  # hand z is relative to the wrist: scales, never shifts
            xyz[:, s] = xyz[:, s] * k + t * np.array([1, 1, 0], np.float32)
        else:
            xyz[:, s] = xyz[:, s] * k + t
    return PoseSequence(xyz, seq.conf, lay, seq.fps)


@pytest.mark.parametrize("layout", ["holistic_world_noface", "holistic"])
def test_invariant_to_translating_and_scaling_the_person(clip, layout) -> None:
    seq = clip.to_layout(layout)
    ref = compute_priors(seq)
    moved = _transform(
        seq, (2.5, np.array([0.3, -0.2, 0.1], np.float32)), (0.7, np.array([1.0, 2.0, -3.0]))
    )
    got = compute_priors(moved)
    for name in PRIOR_NAMES:
        np.testing.assert_array_equal(got.valid[name], ref.valid[name], err_msg=name)
        np.testing.assert_allclose(got.values[name], ref.values[name], atol=2e-4, err_msg=name)
    assert ref.valid["body_kp"].mean() > 0.3 and ref.values["activity"].any()


def test_proportions_do_not_leak(clean_clip) -> None:
    """A longer forearm and a bigger hand change no keypoint, distance or angle."""
    lay = clean_clip.layout
    xyz = clean_clip.xyz.copy()
    el, wr = lay.index("body_world.left_elbow"), lay.index("body_world.left_wrist")
    xyz[:, wr] = xyz[:, el] + 1.3 * (xyz[:, wr] - xyz[:, el])
    h = lay.part_slice("left_hand")
    xyz[:, h] = xyz[:, h][:, :1] + 1.2 * (xyz[:, h] - xyz[:, h][:, :1])
    other = PoseSequence(xyz, clean_clip.conf, lay, clean_clip.fps)
    a, b = compute_priors(clean_clip), compute_priors(other)
    for name in PRIOR_NAMES:
        if name == "activity":  # moves the hand in the image: may change
            continue
        np.testing.assert_array_equal(a.valid[name], b.valid[name])
        np.testing.assert_allclose(a.values[name], b.values[name], atol=2e-5, err_msg=name)
    assert a.valid["hand_kp_left"].any()


# ----------------------------------------------------------------------------- activity


def _activity_clip(left: np.ndarray | None, body: bool = True) -> np.ndarray:
    """Activity ``(T, 2)`` and validity of a clip whose left hand's centre follows
    ``left`` ``(T, 2)`` image positions (None = no left hand); no right hand."""
    T = 32 if left is None else len(left)
    pts = {f"body.{k}": np.array(v) for k, v in IMAGE.items()} if body else {}
    if left is not None:
        offsets = np.random.default_rng(0).normal(0, 0.02, (21, 2))  # a fixed hand shape
        for j, name in enumerate(HAND_21):
            xy = left + offsets[j]
            pts[f"left_hand.{name}"] = np.concatenate([xy, np.zeros((T, 1))], axis=1)
    pri = compute_priors(sequence(T, pts))
    return pri.values["activity"], pri.valid["activity"]


def _wobble(amplitude: float, y: float, T: int = 32) -> np.ndarray:
    """Centre positions alternating ±amplitude in x: every point's std is amplitude."""
    x = 0.7 + amplitude * np.where(np.arange(T) % 2 == 0, 1.0, -1.0)
    return np.stack([x, np.full(T, y)], axis=1)


def test_activity_rule() -> None:
    low, high = REFERENCE_Y + 0.1, REFERENCE_Y - 0.3
    still_low = _activity_clip(_wobble(0.0, low))
    assert still_low[1].all() and (still_low[0][:, 0] == 0).all()  # resting: inactive
    moving_low = _activity_clip(_wobble(0.03, low))
    assert (moving_low[0][:, 0] == 1).all()  # 21 x 0.03 = 0.63 >= 0.26: active
    raised = _activity_clip(_wobble(0.0, high))
    assert (raised[0][:, 0] == 1).all()  # still but above the stomach/hips: active
    # the reference height, hand-computed: mean of stomach (0.65), left and right hip (0.9)
    assert REFERENCE_Y == pytest.approx(0.8166667)
    assert (_activity_clip(_wobble(0.0, REFERENCE_Y - 0.02))[0][:, 0] == 1).all()
    assert (_activity_clip(_wobble(0.0, REFERENCE_Y + 0.02))[0][:, 0] == 0).all()
    # threshold, hand-computed: Σ std = 21 a (shoulders 0.3 apart -> 1 unit = 1 image unit)
    assert (_activity_clip(_wobble(0.0120, low))[0][2:-2, 0] == 0).all()  # 0.252 < 0.26
    assert (_activity_clip(_wobble(0.0130, low))[0][2:-2, 0] == 1).all()  # 0.273
    # the right hand never appears: inactive and valid
    assert (still_low[0][:, 1] == 0).all() and still_low[1][:, 1].all()


def test_activity_windows_and_missing_reference() -> None:
    T = 48
    path = _wobble(0.0, REFERENCE_Y + 0.1, T)
    path[20:28, 1] = REFERENCE_Y - 0.3  # raised for 8 frames in the middle
    act, ok = _activity_clip(path)
    assert ok.all()
    # the centred 16-frame window of frame t covers [t - 8, t + 8): raised frames 20..27
    # pull the window mean above the reference around them, not far from them
    assert act[24, 0] == 1 and act[0, 0] == 0 and act[-1, 0] == 0
    no_body, ok = _activity_clip(path, body=False)
    assert not ok[:, 0].any()  # hand seen but no reference height: unknown
    assert ok[:, 1].all()  # the absent hand is still known to be inactive


def test_activity_ignores_a_missing_hand_frame() -> None:
    """Frames without the hand do not count as movement."""
    pts = {f"body.{k}": np.array(v) for k, v in IMAGE.items()}
    T = 32
    for j, name in enumerate(HAND_21):
        pts[f"left_hand.{name}"] = np.array([0.7 + 0.01 * j, REFERENCE_Y + 0.1, 0.0])
    seq = sequence(T, pts)
    conf = seq.conf.copy()
    xyz = seq.xyz.copy()
    h = seq.layout.part_slice("left_hand")
    conf[10:14, h], xyz[10:14, h] = 0.0, 0.0  # lost for four frames
    pri = compute_priors(PoseSequence(xyz, conf, seq.layout, 30.0))
    assert (pri.values["activity"][:, 0] == 0).all() and pri.valid["activity"].all()


# ----------------------------------------------------------------------------- masking


def test_low_confidence_joint_masks_what_depends_on_it(clean_clip) -> None:
    lay = clean_clip.layout
    t = int(np.flatnonzero(clean_clip.conf[:, lay.index("left_hand.wrist")] > 0)[0])
    ref = compute_priors(clean_clip)
    for c in (0.49, 0.0):
        conf = clean_clip.conf.copy()
        conf[t, lay.index("left_hand.index_finger_pip")] = c
        got = compute_priors(PoseSequence(clean_clip.xyz, conf, lay, clean_clip.fps))
        # keypoints: the pip and the points after it (dip, tip) in the hand and the body
        pip = HAND_21.index("index_finger_pip")
        lost = np.zeros((21, 3), bool)
        lost[pip : pip + 3] = True
        assert ref.valid["hand_kp_left"][t].all()
        np.testing.assert_array_equal(got.valid["hand_kp_left"][t], ~lost.ravel())
        body_lost = np.zeros((61, 3), bool)
        body_lost[19 + pip : 19 + pip + 3] = True
        np.testing.assert_array_equal(
            got.valid["body_kp"][t], ref.valid["body_kp"][t] & ~body_lost.ravel()
        )
        # angles: exactly those using the pip
        uses = np.array(["index_finger_pip" in q for _, q in HAND_ANGLES]).repeat(2)
        np.testing.assert_array_equal(got.valid["hand_angles_left"][t], ~uses)
        # fingertip distances: the index tip's row and column
        d = np.ones((5, 11), bool)
        d[FINGERTIPS.index("index_finger_tip")] = False
        d[:, FINGERTIP_TARGETS.index("index_finger_tip")] = False
        np.testing.assert_array_equal(got.valid["fingertip_dist_left"][t], d.ravel())
        # other frames and the other hand are untouched
        others = np.arange(clean_clip.num_frames) != t
        for name in PRIOR_NAMES:
            np.testing.assert_array_equal(got.valid[name][others], ref.valid[name][others])
        np.testing.assert_array_equal(got.valid["hand_kp_right"], ref.valid["hand_kp_right"])
    conf = clean_clip.conf.copy()
    conf[t, lay.index("left_hand.index_finger_pip")] = 0.5  # >= 0.5 is kept
    got = compute_priors(PoseSequence(clean_clip.xyz, conf, lay, clean_clip.fps))
    np.testing.assert_array_equal(got.valid["hand_kp_left"], ref.valid["hand_kp_left"])


def test_low_confidence_shoulder_masks_the_body_not_the_hands(clean_clip) -> None:
    lay = clean_clip.layout
    conf = clean_clip.conf.copy()
    conf[2, lay.index("body_world.right_shoulder")] = 0.1
    ref = compute_priors(clean_clip)
    got = compute_priors(PoseSequence(clean_clip.xyz, conf, lay, clean_clip.fps))
    assert ref.valid["body_kp"][2].any() and not got.valid["body_kp"][2].any()
    assert not got.valid["interaction_dist"][2].any()
    for name in ("hand_kp_left", "hand_angles_left", "fingertip_dist_left", "hand_kp_right"):
        np.testing.assert_array_equal(got.valid[name], ref.valid[name])
