"""Batched pose augmentations: exact checks against hand-built batches."""

from __future__ import annotations

import math

import pytest
import torch

from signssl.errors import ConfigError
from signssl.pose.layouts import get_layout
from signssl.pose.transforms import (
    BoundaryPermutation,
    Compose,
    RandomHandDropout,
    RandomHorizontalFlip,
    RandomJitter,
    RandomRotation,
    RandomScale,
    RandomShear,
    RandomTemporalCrop,
    RandomTemporalResample,
    as_pose_batch,
    boundary_segment_lengths,
    default_view_pipeline,
    mirror_permutation,
)

LAYOUT = get_layout("masa49")
J = LAYOUT.num_joints


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def id_batch(lengths: list[int], T: int = 24) -> dict[str, torch.Tensor]:
    """Frame t of sample b has x = 100 b + t + 1 at every joint, y = joint index."""
    B = len(lengths)
    frame_mask = torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]  # (B, T)
    x = torch.zeros(B, T, J, 2)
    x[..., 0] = (100 * torch.arange(B)[:, None, None] + torch.arange(T)[None, :, None] + 1).float()
    x[..., 1] = torch.arange(J).float()
    conf = torch.ones(B, T, J)
    x[frame_mask], conf[frame_mask] = 0.0, 0.0
    return {"x": x, "conf": conf, "frame_mask": frame_mask, "length": torch.tensor(lengths)}


def frame_ids(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``(B, T)`` the frame id of each output frame (checking the frame moved whole)."""
    x = batch["x"]
    ids = x[:, :, 0, 0]
    assert torch.equal(x[..., 0], ids[:, :, None].expand_as(x[..., 0]))  # all joints agree
    return ids


def random_batch(B: int = 4, T: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    g = gen(seed)
    x = torch.randn(B, T, J, 2, generator=g)
    conf = torch.rand(B, T, J, generator=g)
    conf[conf < 0.2] = 0.0
    lengths = torch.tensor([T, T - 3, T - 8, 5][:B])
    frame_mask = torch.arange(T)[None, :] >= lengths[:, None]
    conf = conf.masked_fill(frame_mask[..., None], 0.0)
    x = x * (conf > 0)[..., None]
    return {"x": x, "conf": conf, "frame_mask": frame_mask}


# ----------------------------------------------------------------------------- permutation


def test_boundary_permutation_keeps_middle_and_multiset() -> None:
    lengths = [24, 17, 9, 2]
    batch = id_batch(lengths)
    out = BoundaryPermutation()(batch, gen(0))
    ids_in, ids_out = frame_ids(batch), frame_ids(out)
    for b, n in enumerate(lengths):
        bs, be = n // 3, n // 4  # floor(n/3), floor(n/4) of the VALID length
        assert torch.equal(ids_out[b, bs : n - be], ids_in[b, bs : n - be])  # middle in order
        assert torch.equal(ids_out[b, n:], ids_in[b, n:])  # padding untouched
        assert sorted(ids_out[b, :bs].tolist()) == ids_in[b, :bs].tolist()  # start: same frames
        assert sorted(ids_out[b, n - be : n].tolist()) == ids_in[b, n - be : n].tolist()  # end
    assert torch.equal(out["conf"], batch["conf"]) and torch.equal(
        out["frame_mask"], batch["frame_mask"]
    )
    # something actually moved in the long clip, and the input was not modified
    assert not torch.equal(ids_out[0, :8], ids_in[0, :8])
    assert torch.equal(frame_ids(batch), ids_in)


def test_boundary_permutation_is_per_sample_and_reproducible() -> None:
    batch = id_batch([24] * 6)
    t = BoundaryPermutation()
    a, b = t(batch, gen(3)), t(batch, gen(3))
    assert torch.equal(a["x"], b["x"])
    starts = {tuple((frame_ids(a)[i, :8] - 100 * i).tolist()) for i in range(6)}
    assert len(starts) > 1  # samples get their own permutations


def test_boundary_permutation_absolute_frames_and_clipping() -> None:
    assert boundary_segment_lengths(12, 1 / 3, 1 / 4) == (4, 3)
    assert all(boundary_segment_lengths(n, 1 / 3, 1 / 4)[0] == n // 3 for n in range(1, 200))
    assert boundary_segment_lengths(12, 0.9, 0.9) == (10, 2)  # never overlap
    assert boundary_segment_lengths(12, 0.0, 0.0, b_s_frames=5, b_e_frames=None) == (5, 0)
    batch = id_batch([20, 10])
    out = BoundaryPermutation(b_s_frames=6, b_e=0.0)(batch, gen(1))
    ids_in, ids_out = frame_ids(batch), frame_ids(out)
    assert torch.equal(ids_out[:, 6:], ids_in[:, 6:])
    for b in range(2):
        assert sorted(ids_out[b, :6].tolist()) == ids_in[b, :6].tolist()
    with pytest.raises(ConfigError, match="b_s"):
        BoundaryPermutation(b_s=1.5)


def test_boundary_permutation_probability_zero_is_identity() -> None:
    batch = id_batch([24, 12])
    out = BoundaryPermutation(p=0.0)(batch, gen(0))
    assert torch.equal(out["x"], batch["x"])


# ----------------------------------------------------------------------------- flip


def test_flip_swaps_hands_and_body_sides() -> None:
    perm = mirror_permutation("masa49")
    names = LAYOUT.joint_names
    assert sorted(perm) == list(range(J)) and [perm[p] for p in perm] == list(range(J))
    assert names[perm[LAYOUT.index("left_hand.thumb_tip")]] == "right_hand.thumb_tip"
    assert names[perm[LAYOUT.index("right_hand.wrist")]] == "left_hand.wrist"
    assert names[perm[LAYOUT.index("body.left_elbow")]] == "body.right_elbow"
    assert names[perm[LAYOUT.index("body.nose")]] == "body.nose"
    hol = get_layout("holistic")
    hperm = mirror_permutation(hol)
    assert hol.joint_names[hperm[hol.index("body.left_eye_inner")]] == "body.right_eye_inner"
    assert hol.joint_names[hperm[hol.index("face.10")]] == "face.10"

    batch = random_batch()
    batch["conf"][0, :, LAYOUT.part_slice("left_hand")] = 0.0  # sample 0: left hand missing
    batch["x"][0, :, LAYOUT.part_slice("left_hand")] = 0.0
    out = RandomHorizontalFlip("masa49", p=1.0)(batch, gen(0))
    lh, rh = LAYOUT.part_slice("left_hand"), LAYOUT.part_slice("right_hand")
    valid = ~batch["frame_mask"]
    # new left hand = old right hand mirrored (x negated, y kept) on valid frames
    torch.testing.assert_close(out["x"][..., lh, 0][valid], -batch["x"][..., rh, 0][valid])
    torch.testing.assert_close(out["x"][..., lh, 1], batch["x"][..., rh, 1])
    torch.testing.assert_close(out["conf"][:, :, rh], batch["conf"][:, :, lh])
    # the missing hand moved to the right side and stays missing with zero coordinates
    assert (out["conf"][0, :, rh] == 0).all() and (out["x"][0, :, rh] == 0).all()
    ls, rs = LAYOUT.index("body.left_shoulder"), LAYOUT.index("body.right_shoulder")
    torch.testing.assert_close(out["x"][..., ls, 1], batch["x"][..., rs, 1])
    # flipping twice is the identity
    twice = RandomHorizontalFlip("masa49", p=1.0)(out, gen(0))
    torch.testing.assert_close(twice["x"], batch["x"])
    torch.testing.assert_close(twice["conf"], batch["conf"])


def test_flip_probability_and_center() -> None:
    batch = random_batch()
    assert torch.equal(RandomHorizontalFlip(p=0.0)(batch, gen(0))["x"], batch["x"])
    out = RandomHorizontalFlip(p=1.0, center=0.5)(batch, gen(0))
    nose = LAYOUT.index("body.nose")
    present = (batch["conf"][..., nose] > 0) & ~batch["frame_mask"]
    torch.testing.assert_close(
        out["x"][..., nose, 0][present], 1.0 - batch["x"][..., nose, 0][present]
    )


# ----------------------------------------------------------------------------- spatial


def _present(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return (batch["conf"] > 0) & ~batch["frame_mask"][..., None]


def test_rotation_preserves_lengths_and_respects_missing() -> None:
    batch = random_batch()
    out = RandomRotation(max_degrees=30.0)(batch, gen(0))
    pres = _present(batch)
    torch.testing.assert_close(out["x"].norm(dim=-1)[pres], batch["x"].norm(dim=-1)[pres])
    assert torch.equal(out["x"][~pres], batch["x"][~pres])  # missing / padded untouched
    # one angle per sample, within bounds
    ang = torch.atan2(out["x"][..., 1], out["x"][..., 0]) - torch.atan2(
        batch["x"][..., 1], batch["x"][..., 0]
    )
    ang = torch.remainder(ang + math.pi, 2 * math.pi) - math.pi
    for b in range(4):
        a = ang[b][pres[b]]
        assert a.std() < 1e-4 and a.abs().max() <= math.radians(30.0) + 1e-5


def test_shear_and_scale_follow_their_formula() -> None:
    batch = random_batch()
    pres = _present(batch)
    out = RandomShear(max_shear=0.3)(batch, gen(1))
    x, y = batch["x"][..., 0], batch["x"][..., 1]
    for b in range(4):
        m = pres[b]
        a = (out["x"][b, ..., 0] - x[b])[m] / y[b][m]  # x' - x = a y
        assert a.std() < 1e-3 and a.abs().mean() <= 0.3
    out = RandomScale(0.5, 2.0)(batch, gen(2))
    for b in range(4):
        ratio = out["x"][b][pres[b]] / batch["x"][b][pres[b]]
        assert ratio.std() < 1e-5 and 0.5 <= ratio.mean() <= 2.0
    assert torch.equal(out["x"][~pres], batch["x"][~pres])


def test_jitter_only_moves_present_joints() -> None:
    batch = random_batch(B=4, T=32)
    out = RandomJitter(sigma=0.05)(batch, gen(0))
    pres = _present(batch)
    d = out["x"] - batch["x"]
    assert torch.equal(d[~pres], torch.zeros_like(d[~pres]))
    assert abs(float(d[pres].std()) - 0.05) < 0.005


def test_hand_dropout() -> None:
    batch = random_batch()
    out = RandomHandDropout("masa49", p=1.0)(batch, gen(0))
    hands = slice(LAYOUT.part_slice("left_hand").start, J)
    assert (out["conf"][:, :, hands] == 0).all() and (out["x"][:, :, hands] == 0).all()
    body = LAYOUT.part_slice("body")
    assert torch.equal(out["x"][:, :, body], batch["x"][:, :, body])
    assert torch.equal(RandomHandDropout(p=0.0)(batch, gen(0))["x"], batch["x"])
    with pytest.raises(ConfigError, match="no part"):
        RandomHandDropout("coco_wholebody", parts=("tail",))


# ----------------------------------------------------------------------------- temporal


def test_temporal_crop_resample_keeps_order_and_length() -> None:
    lengths = [24, 17, 9, 1]
    batch = id_batch(lengths)
    out = RandomTemporalCrop(0.5, 0.8, resample=True)(batch, gen(0))
    ids_in, ids_out = frame_ids(batch), frame_ids(out)
    assert torch.equal(out["frame_mask"], batch["frame_mask"])
    for b, n in enumerate(lengths):
        seq = ids_out[b, :n]
        assert set(seq.tolist()) <= set(ids_in[b, :n].tolist())  # only real frames
        assert (seq[1:] >= seq[:-1]).all()  # order kept (nearest-frame stretch)
        span = int(seq.max() - seq.min()) + 1
        assert span <= max(1, round(0.8 * n)) and (n < 4 or span >= round(0.5 * n) - 1)


def test_temporal_crop_without_resample_shortens() -> None:
    lengths = [24, 10]
    batch = id_batch(lengths)
    out = RandomTemporalCrop(0.5, 0.5, resample=False)(batch, gen(0))
    new_len = (~out["frame_mask"]).sum(1)
    assert new_len.tolist() == [12, 5]
    assert out["length"].tolist() == [12, 5]
    ids = frame_ids(out)
    for b, n in enumerate(new_len.tolist()):
        assert (ids[b, 1:n] - ids[b, : n - 1] == 1).all()  # a contiguous window
        assert (ids[b, n:] == 0).all() and (out["conf"][b, n:] == 0).all()


def test_temporal_resample_speed() -> None:
    lengths = [20, 12]
    batch = id_batch(lengths, T=40)
    out = RandomTemporalResample(2.0, 2.0)(batch, gen(0))  # twice as fast
    assert (~out["frame_mask"]).sum(1).tolist() == [10, 6]
    assert frame_ids(out)[0, :10].tolist() == [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]
    slow = RandomTemporalResample(0.5, 0.5)(batch, gen(0))  # half speed, capped at T
    assert (~slow["frame_mask"]).sum(1).tolist() == [40, 24]
    assert frame_ids(slow)[1, :6].tolist() == [101, 101, 102, 102, 103, 103]


# ----------------------------------------------------------------------------- pipeline


def test_pipeline_is_reproducible_and_keeps_missing_joints_missing() -> None:
    batch = random_batch()
    views = default_view_pipeline("masa49", flip_p=0.5, hand_dropout_p=0.2)
    assert isinstance(views, Compose) and isinstance(views.transforms[0], BoundaryPermutation)
    a, b, c = views(batch, gen(5)), views(batch, gen(5)), views(batch, gen(6))
    assert torch.equal(a["x"], b["x"]) and not torch.equal(a["x"], c["x"])
    assert a["x"].shape == batch["x"].shape and torch.isfinite(a["x"]).all()
    missing = (a["conf"] == 0) | a["frame_mask"][..., None]
    assert (a["x"][missing] == 0).all()
    plain = default_view_pipeline(boundary_permutation=False, spatial=False)
    assert plain.transforms == []


def test_as_pose_batch_fills_and_checks() -> None:
    x = torch.zeros(2, 3, 4, 2)
    x[0, 0, 0] = 1.0
    b = as_pose_batch(x)
    assert b["conf"].sum() == 1 and not b["frame_mask"].any()
    with pytest.raises(ConfigError, match="frame_mask"):
        as_pose_batch({"x": x, "frame_mask": torch.zeros(2, 4, dtype=torch.bool)})
    with pytest.raises(ConfigError, match=r"\(B, T, J, C\)"):
        as_pose_batch({"x": torch.zeros(3, 4)})


def test_default_view_temporal_option() -> None:
    from signssl.pose.transforms import (
        RandomTemporalCrop,
        RandomTemporalResample,
        default_view_pipeline,
    )

    plain = default_view_pipeline("masa49")
    assert not any(isinstance(t, RandomTemporalCrop | RandomTemporalResample) for t in plain.transforms)
    view = default_view_pipeline("masa49", temporal_p=1.0)
    kinds = [type(t) for t in view.transforms]
    assert kinds[:2] == [RandomTemporalCrop, RandomTemporalResample]
    assert view.transforms[0].p == 1.0 and view.transforms[1].p == 1.0


def test_spatial_strength_scales_the_magnitudes() -> None:
    from signssl.pose.transforms import RandomRotation, RandomScale, default_view_pipeline

    def parts(view: Compose) -> tuple[float, float]:
        rot = next(t for t in view.transforms if isinstance(t, RandomRotation))
        scale = next(t for t in view.transforms if isinstance(t, RandomScale))
        return rot.max_degrees, scale.max_scale

    assert parts(default_view_pipeline("masa49")) == (15.0, pytest.approx(1.1))
    assert parts(default_view_pipeline("masa49", spatial_strength=2.0)) == (30.0, pytest.approx(1.2))
    none = default_view_pipeline("masa49", boundary_permutation=False, spatial_strength=0.0)
    assert none.transforms == []
    with pytest.raises(ConfigError, match="spatial_strength"):
        default_view_pipeline("masa49", spatial_strength=-1.0)


def test_signing_space_moves_only_present_arm_joints() -> None:
    from signssl.pose.transforms import RandomSigningSpace

    batch = random_batch(B=4, T=6, seed=3)
    batch["x"] = torch.cat([batch["x"], torch.randn(4, 6, J, 1)], dim=-1)  # with z
    batch["conf"][1, 2, 3] = 0.0  # body.left_wrist missing in one frame
    batch["x"][1, 2, 3] = 0.0
    t = RandomSigningSpace("masa49", scale=0.2, shift=0.3)
    out = t(batch, gen(7))
    # the same draws by hand: factor then offset, in that order, from the same generator
    g = gen(7)
    s = 0.8 + 0.4 * torch.rand(4, generator=g)
    o = (-0.3 + 0.6 * torch.rand(8, generator=g)).reshape(4, 2)
    names = LAYOUT.joint_names
    arm = [j for j, n in enumerate(names) if n in (
        "body.left_elbow", "body.left_wrist", "body.right_elbow", "body.right_wrist")]
    assert arm == [2, 3, 5, 6]
    x, y = batch["x"], out["x"]
    for b in range(4):
        for tt in range(6):
            for j in range(J):
                present = batch["conf"][b, tt, j] > 0 and not batch["frame_mask"][b, tt]
                if j in arm and present:
                    want = x[b, tt, j, :2] * s[b] + o[b]
                    assert torch.allclose(y[b, tt, j, :2], want, atol=1e-6)
                else:
                    assert torch.equal(y[b, tt, j, :2], x[b, tt, j, :2])
                assert y[b, tt, j, 2] == x[b, tt, j, 2]  # z untouched
    assert torch.equal(y[1, 2, 3], torch.zeros(3))  # missing stays at 0
    assert torch.equal(RandomSigningSpace("masa49", p=0.0)(batch, gen(0))["x"], batch["x"])
    assert torch.equal(RandomSigningSpace("masa49", 0.0, 0.0)(batch, gen(0))["x"], batch["x"])


def test_signing_space_option_and_errors() -> None:
    from signssl.pose.transforms import RandomSigningSpace

    view = default_view_pipeline("masa49", signing_space=0.2)
    t = next(t for t in view.transforms if isinstance(t, RandomSigningSpace))
    assert (t.scale, t.shift) == (0.2, 0.2)
    assert not any(isinstance(t, RandomSigningSpace) for t in default_view_pipeline().transforms)
    with pytest.raises(ConfigError, match="scale < 1"):
        RandomSigningSpace("masa49", scale=1.5)
    with pytest.raises(ConfigError, match="no body elbow/wrist"):
        RandomSigningSpace("hands")
