"""Rotations, hand forward kinematics, arm IK and mirroring of the synthetic skeleton."""

from __future__ import annotations

import numpy as np
import pytest

from signssl.synth.handshapes import HANDSHAPES, handshape_angles, list_handshapes
from signssl.synth.rotations import (
    axis_angle,
    cross,
    frame_from_vectors,
    matrix_to_quat,
    quat_to_matrix,
    slerp,
)
from signssl.synth.skeleton import (
    _MCP_BASE,
    _PHALANX,
    _THUMB_LEN,
    HAND,
    MIRROR_PERM,
    PALM_CENTRE,
    SKELETON_JOINTS,
    hand_local,
    mirror_points,
    place_hand,
    solve_elbow,
    wrist_from_palm,
)

RNG = np.random.default_rng(0)


def _random_rotations(n: int) -> np.ndarray:
    return axis_angle(RNG.normal(size=(n, 3)), RNG.uniform(-np.pi, np.pi, n))


# ----------------------------------------------------------------------------- rotations


def test_axis_angle_known_values_and_orthonormal() -> None:
    R = axis_angle(np.array([0.0, 0.0, 1.0]), np.pi / 2)
    np.testing.assert_allclose(R @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)  # x -> y
    Rs = _random_rotations(50)
    np.testing.assert_allclose(
        Rs @ np.swapaxes(Rs, -1, -2), np.broadcast_to(np.eye(3), Rs.shape), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(Rs), 1.0, atol=1e-12)


def test_axis_angle_matches_matrix_exponential() -> None:
    # independent reference: exp of the skew matrix by its power series
    k, a = np.array([0.3, -0.5, 0.8]), 1.1
    k = k / np.linalg.norm(k)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]]) * a
    expm, term = np.eye(3), np.eye(3)
    for i in range(1, 30):
        term = term @ K / i
        expm = expm + term
    np.testing.assert_allclose(axis_angle(k, a), expm, atol=1e-12)


def test_quaternion_round_trip_and_cross() -> None:
    Rs = _random_rotations(200)
    np.testing.assert_allclose(quat_to_matrix(matrix_to_quat(Rs)), Rs, atol=1e-9)
    a, b = RNG.normal(size=(10, 3)), RNG.normal(size=(10, 3))
    np.testing.assert_allclose(cross(a, b), np.cross(a, b), atol=1e-12)


def test_slerp_endpoints_constant_speed() -> None:
    R0, R1 = _random_rotations(2)
    out = slerp(R0, R1, np.linspace(0, 1, 11))
    np.testing.assert_allclose(out[0], R0, atol=1e-9)
    np.testing.assert_allclose(out[-1], R1, atol=1e-9)
    # equal angles between consecutive samples (geodesic at constant speed)
    rel = np.einsum("nji,njk->nik", out[:-1], out[1:])  # R_i^T R_{i+1}
    angles = np.arccos(np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1, 1))
    np.testing.assert_allclose(angles, angles.mean(), atol=1e-7)


def test_frame_from_vectors_is_right_handed() -> None:
    F = frame_from_vectors(np.array([0.0, 1.0, 0.2]), np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(F.T @ F, np.eye(3), atol=1e-12)
    assert np.linalg.det(F) == pytest.approx(1.0)
    np.testing.assert_allclose(F[:, 1], np.array([0.0, 1.0, 0.2]) / np.hypot(1, 0.2))


# ----------------------------------------------------------------------------- hands


def test_at_least_twenty_handshapes_all_distinct() -> None:
    assert len(list_handshapes()) >= 20
    vectors = {tuple(np.round(v, 6)) for v in HANDSHAPES.values()}
    assert len(vectors) == len(HANDSHAPES)
    assert all(len(v) == 20 for v in HANDSHAPES.values())


@pytest.mark.parametrize("name", ["B", "S", "claw", "O", "ILY"])
def test_hand_fk_keeps_bone_lengths(name: str) -> None:
    angles = handshape_angles(name)[None] + RNG.normal(0, 0.3, (5, 20))
    pts = hand_local(angles)  # (5, 21, 3)
    for f, finger in enumerate(("index_finger", "middle_finger", "ring_finger", "pinky")):
        chain = [HAND[f"{finger}_{j}"] for j in ("mcp", "pip", "dip", "tip")]
        np.testing.assert_allclose(pts[:, chain[0]], np.broadcast_to(_MCP_BASE[f], (5, 3)))
        lengths = np.linalg.norm(np.diff(pts[:, chain], axis=1), axis=-1)  # (5, 3)
        np.testing.assert_allclose(lengths, np.broadcast_to(_PHALANX[f], (5, 3)), atol=1e-12)
    thumb = [HAND[f"thumb_{j}"] for j in ("cmc", "mcp", "ip", "tip")]
    np.testing.assert_allclose(
        np.linalg.norm(np.diff(pts[:, thumb], axis=1), axis=-1),
        np.broadcast_to(_THUMB_LEN, (5, 3)),
        atol=1e-12,
    )
    np.testing.assert_array_equal(pts[:, HAND["wrist"]], 0.0)


def test_flexion_curls_fingers_towards_the_palm() -> None:
    flat = hand_local(handshape_angles("B")[None])[0]
    fist = hand_local(handshape_angles("S")[None])[0]
    tip = HAND["middle_finger_tip"]
    assert flat[tip, 2] == pytest.approx(0.0, abs=1e-9)  # straight fingers lie in the palm plane
    assert flat[tip, 1] > 0.9  # and reach about one hand length
    assert fist[HAND["middle_finger_pip"], 2] > 0.15  # curled towards +z (the palm side)
    assert fist[tip, 1] < flat[tip, 1] - 0.5


def test_place_hand_maps_frame_axes_and_mirrors_left() -> None:
    local = hand_local(handshape_angles("5")[None])  # (1, 21, 3)
    frame = frame_from_vectors(np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.0, 1.0]))[None]
    wrist = np.array([[0.1, 0.2, 0.3]])
    right = place_hand(local, wrist, frame, 0.2, left=False)[0]
    left = place_hand(local, wrist, frame, 0.2, left=True)[0]
    np.testing.assert_allclose(right - wrist, local[0] * 0.2)  # identity frame
    np.testing.assert_allclose((left - wrist)[:, 0], -(right - wrist)[:, 0])  # x mirrored
    np.testing.assert_allclose((left - wrist)[:, 1:], (right - wrist)[:, 1:])
    # palm centre lands where asked
    palm = np.array([[0.0, 1.0, 0.5]])
    w = wrist_from_palm(palm, frame, 0.2)
    np.testing.assert_allclose(w + 0.2 * PALM_CENTRE, palm)


# ----------------------------------------------------------------------------- arms


def test_ik_keeps_bone_lengths_and_reaches_reachable_targets() -> None:
    T = 200
    shoulder = np.broadcast_to(np.array([-0.15, 0.5, 0.0]), (T, 3))
    target = shoulder + RNG.normal(size=(T, 3)) * 0.35
    elbow, wrist = solve_elbow(shoulder, target, 0.29, 0.25, np.array([-0.4, -1.0, -0.2]))
    np.testing.assert_allclose(np.linalg.norm(elbow - shoulder, axis=1), 0.29, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(wrist - elbow, axis=1), 0.25, atol=1e-9)
    dist = np.linalg.norm(target - shoulder, axis=1)
    ok = (dist < 0.54 - 1e-3) & (dist > 0.04 + 1e-3)
    np.testing.assert_allclose(wrist[ok], target[ok], atol=1e-9)
    # out-of-reach targets: the wrist lies on the shoulder-target ray
    far = dist > 0.54
    v1 = (wrist - shoulder)[far]
    v2 = (target - shoulder)[far]
    cos = np.sum(v1 * v2, 1) / np.linalg.norm(v1, axis=1) / np.linalg.norm(v2, axis=1)
    np.testing.assert_allclose(cos, 1.0, atol=1e-9)


def test_ik_elbow_points_to_the_pole() -> None:
    shoulder = np.zeros((1, 3))
    target = np.array([[0.0, -0.4, 0.2]])
    pole = np.array([-1.0, 0.0, 0.0])
    elbow, _ = solve_elbow(shoulder, target, 0.3, 0.3, pole)
    assert elbow[0, 0] < -0.1  # bent towards -x


def test_mirror_swaps_sides_and_is_an_involution() -> None:
    pts = RNG.normal(size=(4, len(SKELETON_JOINTS), 3))
    m = mirror_points(pts)
    np.testing.assert_allclose(mirror_points(m), pts)
    i_l = SKELETON_JOINTS.index("body.left_wrist")
    i_r = SKELETON_JOINTS.index("body.right_wrist")
    np.testing.assert_allclose(m[:, i_l], pts[:, i_r] * [-1, 1, 1])
    h_l = SKELETON_JOINTS.index("left_hand.thumb_tip")
    h_r = SKELETON_JOINTS.index("right_hand.thumb_tip")
    assert MIRROR_PERM[h_l] == h_r and MIRROR_PERM[SKELETON_JOINTS.index("body.nose")] == 0


def test_euler_matches_composed_axis_rotations() -> None:
    rx, ry, rz = RNG.uniform(-1, 1, (3, 7))
    ex, ey, ez = np.eye(3)
    ref = axis_angle(ez, rz) @ axis_angle(ey, ry) @ axis_angle(ex, rx)
    from signssl.synth.rotations import euler_xyz

    np.testing.assert_allclose(euler_xyz(rx, ry, rz), ref, atol=1e-12)
    np.testing.assert_allclose(
        euler_xyz(0.0, 0.0, np.pi / 2) @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12
    )
