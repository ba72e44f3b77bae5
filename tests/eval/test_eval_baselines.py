"""Training-free baselines against naive loops, hand-made hands and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from signssl.errors import ConfigError
from signssl.models import Encoder, list_models
from signssl.models.baselines import (
    RawHandAngles,
    RawHandKeypoints,
    RawKeypoints,
    finger_angle_triplets,
    get_baseline,
    list_baselines,
    vector_angle,
)
from signssl.pose import get_layout
from signssl.pose.layouts import HAND_21

MASA = get_layout("masa49")


def _batch(rng: np.random.Generator, b: int = 2, t: int = 5, c: int = 2):
    x = rng.normal(size=(b, t, MASA.num_joints, c)).astype(np.float32)
    conf = (rng.random((b, t, MASA.num_joints)) > 0.3).astype(np.float32)
    frame_mask = np.zeros((b, t), bool)
    frame_mask[1, 3:] = True  # sample 1 has 3 real frames
    x[frame_mask] = 0
    conf[frame_mask] = 0
    return {"x": torch.from_numpy(x), "conf": torch.from_numpy(conf),
            "frame_mask": torch.from_numpy(frame_mask)}


def test_raw_keypoints_is_the_mean_over_present_frames() -> None:
    batch = _batch(np.random.default_rng(0))
    enc = RawKeypoints()
    out = enc.embed(batch).numpy()
    assert out.shape == (2, enc.out_dim) and enc.out_dim == 49 * 2
    x, conf, fm = (batch[k].numpy() for k in ("x", "conf", "frame_mask"))
    for b in range(2):
        for j in range(49):
            frames = [t for t in range(5) if not fm[b, t] and conf[b, t, j] > 0]
            ref = x[b, frames, j].mean(0) if frames else np.zeros(2)
            np.testing.assert_allclose(out[b, 2 * j : 2 * j + 2], ref, rtol=1e-5, atol=1e-6)


def test_raw_keypoints_ignores_frames_hidden_by_mask_and_padding_values() -> None:
    batch = _batch(np.random.default_rng(1))
    enc = RawKeypoints()
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, 4] = True
    hidden = enc.forward_features(batch, mask)
    cut = {k: v[:, :4] for k, v in batch.items()}
    torch.testing.assert_close(hidden[0], enc.forward_features(cut)[0])
    noisy = dict(batch)
    noisy["x"] = batch["x"].clone()
    noisy["x"][1, 3:] = 99.0  # padded frames: their values must not matter
    torch.testing.assert_close(enc.embed(noisy), enc.embed(batch))


def _hand_batch(left: np.ndarray, right: np.ndarray) -> dict:
    """One-sample batch with the two hands given as (T, 21, C); body joints present at 0.1."""
    t, _, c = left.shape
    x = np.full((1, t, MASA.num_joints, c), 0.1, np.float32)
    x[0, :, MASA.part_slice("left_hand")] = left
    x[0, :, MASA.part_slice("right_hand")] = right
    return {"x": torch.from_numpy(x), "conf": torch.ones(1, t, MASA.num_joints),
            "frame_mask": torch.zeros(1, t, dtype=torch.bool)}


def _random_hand(rng: np.random.Generator, t: int, c: int = 2) -> np.ndarray:
    h = rng.normal(size=(t, 21, c)).astype(np.float32)
    h[:, HAND_21.index("middle_finger_mcp")] = h[:, 0] + np.array([0.0, -1.0, 0.0][:c])  # length 1
    return h


def test_raw_hand_keypoints_hand_value_and_invariances() -> None:
    rng = np.random.default_rng(2)
    left, right = _random_hand(rng, 4), _random_hand(rng, 4)
    enc = RawHandKeypoints()
    out = enc.embed(_hand_batch(left, right)).numpy()[0]
    assert out.shape == (enc.out_dim,) == (80,)
    ref_left = (left[:, 1:] - left[:, :1]).mean(0).ravel()  # knuckle length is 1: no scaling
    np.testing.assert_allclose(out[:40], ref_left, rtol=1e-5, atol=1e-6)
    # translating each hand per frame and scaling it changes nothing
    shift = rng.normal(size=(4, 1, 2)).astype(np.float32)
    moved = enc.embed(_hand_batch(left * 3 + shift, right - shift)).numpy()[0]
    np.testing.assert_allclose(moved, out, rtol=1e-4, atol=1e-5)


def _straight_finger_hand() -> np.ndarray:
    """Every finger a straight line from the wrist, fingers fanned 10 degrees apart."""
    h = np.zeros((21, 2), np.float32)
    for f, finger in enumerate(("thumb", "index_finger", "middle_finger", "ring_finger", "pinky")):
        ang = math.radians(60 + 10 * f)
        names = [n for n in HAND_21 if n.startswith(finger + "_")]
        for step, name in enumerate(names, start=1):
            h[HAND_21.index(name)] = (step * math.cos(ang), step * math.sin(ang))
    return h


def test_raw_hand_angles_hand_made_hand() -> None:
    quads = finger_angle_triplets()
    assert len(quads) == 19
    hand = _straight_finger_hand()[None]  # (1, 21, 2)
    enc = RawHandAngles()
    out = enc.embed(_hand_batch(hand, hand)).numpy()[0]
    assert out.shape == (38,)
    np.testing.assert_allclose(out[:15], 0.0, atol=1e-5)  # straight fingers: no flexion
    np.testing.assert_allclose(out[15:19], math.radians(10), atol=1e-5)  # 10 degree spread
    bent = hand.copy()
    # bend the index finger 90 degrees at its PIP joint: dip and tip turn left
    pip = HAND_21.index("index_finger_pip")
    d = bent[0, pip] - bent[0, HAND_21.index("index_finger_mcp")]
    perp = np.array([-d[1], d[0]])
    bent[0, HAND_21.index("index_finger_dip")] = bent[0, pip] + perp
    bent[0, HAND_21.index("index_finger_tip")] = bent[0, pip] + 2 * perp
    out_b = enc.embed(_hand_batch(bent, hand)).numpy()[0]
    index_pip = quads.index(("index_finger_mcp", "index_finger_pip", "index_finger_pip",
                             "index_finger_dip"))
    assert out_b[index_pip] == pytest.approx(math.pi / 2, abs=1e-5)


@pytest.mark.parametrize("dims", [2, 3])
def test_raw_hand_angles_are_rotation_invariant(dims: int) -> None:
    rng = np.random.default_rng(3)
    left, right = _random_hand(rng, 3, dims), _random_hand(rng, 3, dims)
    q, _ = np.linalg.qr(rng.normal(size=(dims, dims)))
    enc = RawHandAngles(dims=dims)
    a = enc.embed(_hand_batch(left, right)).numpy()
    b = enc.embed(_hand_batch(left @ q.T.astype(np.float32), right @ q.T.astype(np.float32))).numpy()
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_vector_angle_reference_values() -> None:
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[0.0, 2.0], [-1.0, 0.0], [1.0, 1.0]])
    torch.testing.assert_close(vector_angle(a, b), torch.tensor([math.pi / 2, math.pi, 0.0]))


def test_tensor_input_equals_dict_input_without_missing_joints() -> None:
    rng = np.random.default_rng(4)
    x = torch.from_numpy(rng.normal(size=(2, 6, 49, 2)).astype(np.float32))
    full = {"x": x, "conf": torch.ones(2, 6, 49), "frame_mask": torch.zeros(2, 6, dtype=torch.bool)}
    for name in ("raw-keypoints", "raw-hand-keypoints", "raw-hand-angles"):
        enc = get_baseline(name)
        torch.testing.assert_close(enc.embed(x), enc.embed(full))


def test_get_baseline_errors_and_names() -> None:
    assert list_baselines() == ["dtw", "random-init", "raw-hand-angles", "raw-hand-keypoints", "raw-keypoints"]
    assert isinstance(get_baseline("raw_keypoints"), RawKeypoints)
    with pytest.raises(ConfigError, match="known"):
        get_baseline("raw-face")
    with pytest.raises(ConfigError, match="--model"):
        get_baseline("random-init")
    with pytest.raises(ConfigError, match="joints"):
        RawKeypoints().embed(torch.zeros(1, 2, 10, 2))
    with pytest.raises(ConfigError):
        get_baseline("raw-keypoints", bogus=1)


def test_random_init_is_seeded(tiny_model: str) -> None:
    a = get_baseline("random-init", model=tiny_model, seed=1, out_dim=4)
    b = get_baseline("random-init", model=tiny_model, seed=1, out_dim=4)
    c = get_baseline("random-init", model=tiny_model, seed=2, out_dim=4)
    assert isinstance(a, Encoder) and not a.training
    torch.testing.assert_close(a.proj.weight, b.proj.weight)
    assert not torch.equal(a.proj.weight, c.proj.weight)
    x = torch.randn(3, 5, 49, 2)
    assert a.embed(x).shape == (3, 4)


def test_random_init_of_the_registered_pose_transformer() -> None:
    if "pose_transformer_test" not in list_models():
        pytest.skip("pose_transformer_test is not registered")
    enc = get_baseline("random-init", model="pose_transformer_test", seed=0)
    batch = _batch(np.random.default_rng(5))
    assert enc.embed(batch).shape == (2, enc.out_dim)
