"""Ground truth of generated clips: sign boundaries, minimal pairs, determinism, layout."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from signssl.errors import ConfigError
from signssl.synth import (
    SKELETON_JOINTS,
    SYNTH_LAYOUT,
    SignSpec,
    SynthConfig,
    Vocabulary,
    sample_signers,
    synthesize,
)

VOCAB = Vocabulary.sample(50, seed=0)
SIGNERS = sample_signers(6, seed=0)
WRISTS = [SKELETON_JOINTS.index(f"body.{s}_wrist") for s in ("left", "right")]
FINGER_JOINTS = [
    i
    for i, n in enumerate(SKELETON_JOINTS)
    if "_hand." in n
    and not n.endswith((".wrist", "_mcp"))
    or n.endswith("thumb_mcp")
    or n.endswith(("_pinky", "_index", "_thumb"))
]


def _away_from_rest(world: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """Frames in which a wrist differs from its first-frame (rest) position: naive loop."""
    out = np.zeros(len(world), bool)
    for t in range(len(world)):
        for j in WRISTS:
            if np.linalg.norm(world[t, j] - world[0, j]) > tol:
                out[t] = True
    return out


@pytest.mark.parametrize("k", range(12))
def test_sign_boundaries_are_where_the_hands_leave_and_reach_rest(k: int) -> None:
    spec, signer = VOCAB[(7 * k) % 50], SIGNERS[k % 6]
    s = synthesize(spec, signer, seed=100 + k, frames=64)
    away = _away_from_rest(s.world)
    assert not away[: s.sign_start].any(), "hands moved before sign_start"
    assert away[s.sign_start : s.sign_end].all(), "a hand was at rest inside the sign"
    assert not away[s.sign_end :].any(), "hands moved after sign_end"
    assert 2 <= s.sign_start and s.sign_end <= 62  # at least min_rest frames of rest each side
    ((a, b),) = s.performance.cores
    assert s.sign_start < a < b < s.sign_end


def test_observed_wrists_follow_the_boundaries_without_noise() -> None:
    cfg = SynthConfig().scaled(0.0)
    s = synthesize(VOCAB[4], SIGNERS[1], seed=7, config=cfg)
    idx = [SYNTH_LAYOUT.index(f"body.{side}_wrist") for side in ("left", "right")]
    xy = s.pose.xyz[:, idx, :2]  # (T, 2, 2) image coordinates of the body wrists
    moved = (np.abs(xy - xy[0]) > 1e-5).any(axis=(1, 2))
    assert np.flatnonzero(moved)[0] == s.sign_start
    assert np.flatnonzero(moved)[-1] == s.sign_end - 1


def _handshape_pair() -> tuple[SignSpec, SignSpec]:
    for a, b, p in VOCAB.minimal_pairs:
        if p == "handshape":
            return VOCAB[a], VOCAB[b]
    raise AssertionError("no handshape pair")


@pytest.mark.parametrize("k", range(3))
def test_handshape_minimal_pair_differs_only_in_finger_joints(k: int) -> None:
    a, b = _handshape_pair()
    sa = synthesize(a, SIGNERS[k], seed=11 + k)
    sb = synthesize(b, SIGNERS[k], seed=11 + k)
    fingers = np.zeros(len(SKELETON_JOINTS), bool)
    fingers[FINGER_JOINTS] = True
    # same arm trajectory, same wrists and knuckles, same boundaries ...
    np.testing.assert_array_equal(sa.world[:, ~fingers], sb.world[:, ~fingers])
    assert (sa.sign_start, sa.sign_end) == (sb.sign_start, sb.sign_end)
    # ... and different fingers while the sign is made
    core = slice(*sa.performance.cores[0])
    diff = np.abs(sa.world[core][:, fingers] - sb.world[core][:, fingers]).max()
    assert diff > 0.01
    # the observed keypoints share noise and dropouts: body arms identical
    arms = [
        SYNTH_LAYOUT.index(f"body.{s}_{j}")
        for s in ("left", "right")
        for j in ("shoulder", "elbow", "wrist")
    ]
    np.testing.assert_array_equal(sa.pose.xyz[:, arms], sb.pose.xyz[:, arms])
    np.testing.assert_array_equal(sa.pose.conf, sb.pose.conf)


def test_same_seed_same_clip_other_seed_other_clip() -> None:
    a = synthesize(VOCAB[3], SIGNERS[2], seed=42)
    b = synthesize(VOCAB[3], SIGNERS[2], seed=42)
    c = synthesize(VOCAB[3], SIGNERS[2], seed=43)
    np.testing.assert_array_equal(a.pose.xyz, b.pose.xyz)
    np.testing.assert_array_equal(a.pose.conf, b.pose.conf)
    np.testing.assert_array_equal(a.world, b.world)
    assert a.style == b.style and a.camera == b.camera
    assert not np.array_equal(a.pose.xyz, c.pose.xyz)


def test_left_handed_signer_is_the_mirror_image() -> None:
    right = replace(SIGNERS[0], left_handed=False)
    left = replace(SIGNERS[0], left_handed=True)
    r = synthesize(VOCAB[0], right, seed=5).world
    m = synthesize(VOCAB[0], left, seed=5).world
    from signssl.synth.skeleton import mirror_points

    np.testing.assert_allclose(mirror_points(r), m, atol=1e-12)
    # the dominant (moving) hand is the left one
    li, ri = (SKELETON_JOINTS.index(f"body.{s}_wrist") for s in ("left", "right"))
    assert np.ptp(m[:, li], axis=0).max() > np.ptp(m[:, ri], axis=0).max()


def test_observed_pose_layout_ranges_and_dropouts() -> None:
    cfg = replace(SynthConfig(), hand_dropout=0.3)
    s = synthesize(VOCAB[1], SIGNERS[3], seed=9, config=cfg)
    seq = s.pose
    assert seq.layout is SYNTH_LAYOUT and seq.xyz.shape == (64, 108, 3) and seq.fps == 30.0
    assert np.isfinite(seq.xyz).all() and ((seq.conf >= 0) & (seq.conf <= 1)).all()
    body, bconf = seq.part("body")
    upper = [SYNTH_LAYOUT.index(f"body.{j}") for j in ("nose", "left_shoulder", "right_shoulder")]
    assert ((seq.xyz[:, upper, :2] > 0) & (seq.xyz[:, upper, :2] < 1)).all()
    assert (seq.conf[:, upper] > 0.8).all()
    knee = SYNTH_LAYOUT.index("body.left_knee")
    assert (seq.conf[:, knee] < 0.35).all()  # below the frame: low visibility
    for hand in ("left_hand", "right_hand"):
        xyz, conf = seq.part(hand)
        lost = (conf == 0).all(1)
        assert ((conf == 0) | (conf == 1)).all() and (
            conf.min(1) == conf.max(1)
        ).all()  # whole hands
        assert (xyz[lost] == 0).all()
    dom = s.pose.part("right_hand")[1] if not s.signer.left_handed else s.pose.part("left_hand")[1]
    assert 0 < (dom[:, 0] == 0).sum() < 64  # the dominant hand is lost in some frames only
    world, _ = seq.part("body_world")
    hips = world[
        :, [SYNTH_LAYOUT.part("body_world").joints.index(h) for h in ("left_hip", "right_hip")]
    ]
    np.testing.assert_allclose(hips.mean(1), 0.0, atol=0.08)  # hip-centred metres


def test_shoulder_width_in_the_image_resembles_real_videos() -> None:
    widths = []
    for k in range(6):
        seq = synthesize(VOCAB[k], SIGNERS[k], seed=k).pose
        ls, rs = (
            seq.xyz[:, SYNTH_LAYOUT.index(f"body.{s}_shoulder"), :2] for s in ("left", "right")
        )
        widths.append(np.median(np.linalg.norm(ls - rs, axis=1)))
    assert 0.18 < np.median(widths) < 0.4  # WLASL MediaPipe data: about 0.24


def test_continuous_signing_has_ordered_signs() -> None:
    specs = [VOCAB[i] for i in (0, 5, 9)]
    s = synthesize(specs, SIGNERS[0], seed=3, frames=150)
    assert s.label is None and len(s.performance.cores) == 3
    bounds = [x for c in s.performance.cores for x in c]
    assert bounds == sorted(bounds) and s.sign_start < bounds[0] and bounds[-1] < s.sign_end
    away = _away_from_rest(s.world)
    assert away[bounds[0] : bounds[-1]].all()  # no return to rest between the signs
    natural = synthesize(specs, SIGNERS[0], seed=3, frames=None)
    assert natural.pose.num_frames > 40


def test_too_few_frames_is_a_user_error() -> None:
    with pytest.raises(ConfigError, match="frames"):
        synthesize([VOCAB[0]] * 5, SIGNERS[0], seed=1, frames=20)
    with pytest.raises(ConfigError, match="seed"):
        synthesize(VOCAB[0], SIGNERS[0], seed=-1)


def test_camera_projection_matches_the_pinhole_formula() -> None:
    from signssl.synth.camera import Camera

    cam = Camera(
        focal=2.0,
        target=(0.0, 0.5, 0.0),
        distance=2.5,
        rotation=((1.0, 0.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, -1.0)),
        centre=(0.5, 0.5),
    )
    p = np.array(
        [[0.2, 0.7, 0.3]]
    )  # 0.2 m to the signer's left, 0.2 m above the target, 0.3 m forward
    uv, depth = cam.project(p)
    assert depth[0] == pytest.approx(2.5 - 0.3)
    np.testing.assert_allclose(uv[0], [0.5 + 2.0 * 0.2 / 2.2, 0.5 - 2.0 * 0.2 / 2.2])


def test_observed_depths_follow_mediapipe_conventions_without_noise() -> None:
    s = synthesize(VOCAB[6], SIGNERS[4], seed=21, config=SynthConfig().scaled(0.0))
    seq, lay = s.pose, SYNTH_LAYOUT
    for hand in ("left_hand", "right_hand"):
        xyz, conf = seq.part(hand)
        seen = conf[:, 0] > 0
        np.testing.assert_allclose(xyz[seen, 0, 2], 0.0, atol=1e-6)  # z relative to the wrist
    hips = [lay.index(f"body.{h}_hip") for h in ("left", "right")]
    np.testing.assert_allclose(seq.xyz[:, hips, 2].mean(1), 0.0, atol=1e-6)  # relative to the hips
    world, _ = seq.part("body_world")
    wl, wr = (lay.part("body_world").joints.index(f"{h}_hip") for h in ("left", "right"))
    np.testing.assert_allclose((world[:, wl] + world[:, wr]) / 2, 0.0, atol=1e-6)
    # metric: the world shoulder width is the signer's
    sl, sr = (lay.part("body_world").joints.index(f"{h}_shoulder") for h in ("left", "right"))
    np.testing.assert_allclose(
        np.linalg.norm(world[:, sl] - world[:, sr], axis=1), s.signer.shoulder_width, rtol=0.02
    )
    # image x of the signer's left shoulder is to the right of the right shoulder
    assert (
        seq.xyz[:, lay.index("body.left_shoulder"), 0]
        > seq.xyz[:, lay.index("body.right_shoulder"), 0]
    ).all()
