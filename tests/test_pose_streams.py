"""Input streams of pose encoders (signssl.pose.streams) against hand values and loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from signssl.errors import ConfigError
from signssl.models.baselines import get_baseline
from signssl.models.registry import create_model
from signssl.pose.layouts import HAND_21, get_layout
from signssl.pose.streams import (
    STREAMS,
    StreamFeatures,
    check_streams,
    stream_dims,
    stream_groups,
)

LAYOUT = get_layout("masa49")


def _clip(T: int = 6, C: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    xyz = torch.randn(1, T, LAYOUT.num_joints, C, generator=g)  # (1, T, J, C)
    conf = torch.ones(1, T, LAYOUT.num_joints)
    return xyz, conf


def _group(streams: tuple[str, ...], name: str, xyz: torch.Tensor, conf: torch.Tensor,
           mirror: bool = False) -> torch.Tensor:
    sf = StreamFeatures(streams, LAYOUT, mirror_left=mirror)
    return dict(zip(stream_groups(streams, LAYOUT), sf(xyz, conf), strict=True))[name]


@pytest.mark.parametrize("dims", [2, 3])
def test_group_widths_match_the_features(dims: int) -> None:
    xyz, conf = _clip(C=dims)
    groups = StreamFeatures(STREAMS, LAYOUT)(xyz, conf)
    assert [g.shape[-1] for g in groups] == stream_dims(STREAMS, LAYOUT, dims)
    assert all(g.shape[:2] == (1, 6) for g in groups)
    assert len(groups) == len(stream_groups(STREAMS, LAYOUT))


def test_hand_shape_is_invariant_to_where_and_how_large_the_hand_is() -> None:
    xyz, conf = _clip()
    s = LAYOUT.part_slice("right_hand")
    moved = xyz.clone()
    moved[:, :, s] = xyz[:, :, s] * 3.5 + torch.tensor([10.0, -4.0])  # scale + shift
    a = _group(("hand_shape",), "hand_shape.right_hand", xyz, conf)
    b = _group(("hand_shape",), "hand_shape.right_hand", moved, conf)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_hand_shape_hand_values() -> None:
    """Wrist at (1, 1), middle knuckle at (1, 3): size 2; index tip at (2, 1) -> (0.5, 0)."""
    xyz = torch.zeros(1, 1, LAYOUT.num_joints, 2)
    conf = torch.ones(1, 1, LAYOUT.num_joints)
    base = LAYOUT.part_slice("right_hand").start
    xyz[0, 0, base:base + 21] = torch.tensor([1.0, 1.0])  # every joint at the wrist
    xyz[0, 0, base + HAND_21.index("middle_finger_mcp")] = torch.tensor([1.0, 3.0])
    xyz[0, 0, base + HAND_21.index("index_finger_tip")] = torch.tensor([2.0, 1.0])
    g = _group(("hand_shape",), "hand_shape.right_hand", xyz, conf)[0, 0]  # (41,)
    rel = g[:40].reshape(20, 2)
    assert rel[HAND_21.index("index_finger_tip") - 1].tolist() == [0.5, 0.0]
    assert rel[HAND_21.index("middle_finger_mcp") - 1].tolist() == [0.0, 1.0]
    assert g[40].item() == 1.0
    mirrored = _group(("hand_shape",), "hand_shape.left_hand",
                      xyz[:, :, list(range(7)) + list(range(28, 49)) + list(range(28, 49))],
                      conf, mirror=True)[0, 0]
    assert mirrored[:40].reshape(20, 2)[HAND_21.index("index_finger_tip") - 1].tolist() == [-0.5, 0.0]


def test_missing_wrist_or_joint_gives_zeros_and_flags() -> None:
    xyz, conf = _clip(T=3)
    base = LAYOUT.part_slice("left_hand").start
    conf[0, 1, base] = 0  # wrist missing in frame 1
    conf[0, 2, base + 4] = 0  # thumb tip missing in frame 2
    g = _group(("hand_shape",), "hand_shape.left_hand", xyz, conf)[0]  # (3, 41)
    assert torch.all(g[1] == 0)
    assert g[0, 40] == 1 and g[2, 40] == 1
    assert torch.all(g[2, 6:8] == 0)  # joint 4 -> rel index 3 -> values 6, 7


def test_hand_angles_time_mean_equals_the_angle_baseline() -> None:
    xyz, conf = _clip(T=5, seed=3)
    sf = StreamFeatures(("hand_angles",), LAYOUT)
    left, right = sf(xyz, conf)  # (1, 5, 38) each: 19 angles + 19 flags
    ours = torch.cat([left[0, :, :19].mean(0), right[0, :, :19].mean(0)])
    ref = get_baseline("raw-hand-angles", layout="masa49", dims=2).embed({"x": xyz, "conf": conf})[0]
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    assert torch.all((left[..., :19] >= 0) & (left[..., :19] <= math.pi))


def test_velocity_matches_a_loop() -> None:
    xyz, conf = _clip(T=4, seed=5)
    conf[0, 2, 1] = 0  # body joint 1 missing in frame 2
    v = _group(("velocity",), "velocity", xyz, conf)[0].reshape(4, 7, 2).numpy()
    x, c = xyz[0].numpy(), conf[0].numpy()
    ref = np.zeros((4, 7, 2), np.float32)
    for t in range(1, 4):
        for j in range(7):
            if c[t, j] > 0 and c[t - 1, j] > 0:
                ref[t, j] = x[t, j] - x[t - 1, j]
    np.testing.assert_allclose(v, ref, rtol=1e-6, atol=1e-6)


def test_stream_errors() -> None:
    with pytest.raises(ConfigError, match="unknown input stream"):
        check_streams(["hand_shapes"], LAYOUT)
    with pytest.raises(ConfigError, match="repeat"):
        check_streams(["body", "body"], LAYOUT)
    with pytest.raises(ConfigError, match="at least one"):
        check_streams([], LAYOUT)
    with pytest.raises(ConfigError, match="read nothing"):
        check_streams(["velocity"], get_layout("hands"))
    hands = get_layout("hands")  # no body: body and velocity add no group there
    assert stream_groups(["body", "hand_shape", "velocity"], hands) == [
        "hand_shape.left_hand", "hand_shape.right_hand"]
    assert stream_dims(["body", "hand_shape", "velocity"], hands, 2) == [41, 41]


def test_coords_stream_keeps_the_encoder_and_its_weights() -> None:
    """The default stream is the encoder's original input: same parameter names and
    shapes, and continuous confidences still enter the embedding."""
    default = create_model("pose_transformer_test", layout="masa49", in_dims=2)
    explicit = create_model("pose_transformer_test", layout="masa49", in_dims=2, streams=["coords"])
    assert {k: v.shape for k, v in default.state_dict().items()} == {
        k: v.shape for k, v in explicit.state_dict().items()}
    xyz, conf = _clip()
    half = conf * 0.5
    default.eval()
    assert not torch.allclose(default.embed({"x": xyz, "conf": conf}),
                              default.embed({"x": xyz, "conf": half}))


def test_hand_streams_encoder_reads_hands_apart_from_position() -> None:
    enc = create_model("pose_transformer_test", layout="masa49", in_dims=2,
                       streams=["hand_shape", "hand_angles"]).eval()
    xyz, conf = _clip()
    moved = xyz.clone()
    for hand in ("left_hand", "right_hand"):
        s = LAYOUT.part_slice(hand)
        moved[:, :, s] = xyz[:, :, s] * 2.0 + 5.0
    moved[:, :, :7] = xyz[:, :, :7] + 9.0  # the body does not enter these streams
    torch.testing.assert_close(enc.embed({"x": xyz, "conf": conf}),
                               enc.embed({"x": moved, "conf": conf}), rtol=1e-4, atol=1e-4)


def test_masa_encoder_takes_frame_streams() -> None:
    xyz, conf = _clip(T=5, seed=7)
    plain = create_model("masa_test", layout="masa49")
    torch.manual_seed(0)
    with_streams = create_model("masa_test", layout="masa49", streams=["hand_shape", "hand_angles"])
    assert len(with_streams.stream_embeds) == 4  # two groups per stream, one per hand
    extra = set(with_streams.state_dict()) - set(plain.state_dict())
    assert extra and all(k.startswith("stream_embeds.") for k in extra)
    out = with_streams.eval().embed({"x": xyz, "conf": conf})
    assert out.shape == (1, with_streams.out_dim) and torch.isfinite(out).all()
    # the stream embeddings change the output (their last layer set to 0: no change)
    base = out.clone()
    for emb in with_streams.stream_embeds:
        torch.nn.init.zeros_(emb[1].weight)
        torch.nn.init.zeros_(emb[1].bias)
    state = {k: v for k, v in with_streams.state_dict().items() if k in plain.state_dict()}
    plain.load_state_dict(state)
    torch.testing.assert_close(with_streams.embed({"x": xyz, "conf": conf}),
                               plain.eval().embed({"x": xyz, "conf": conf}))
    assert not torch.allclose(base, plain.embed({"x": xyz, "conf": conf}))
    with pytest.raises(ConfigError, match="velocity"):
        create_model("masa_test", layout="masa49", streams=["velocity"])
