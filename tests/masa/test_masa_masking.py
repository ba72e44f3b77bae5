"""Motion residuals and motion-aware masking: naive loops, hand-built clips, ratios."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from signssl.errors import ConfigError
from signssl.methods.masa_masking import (
    MotionResiduals,
    mask_counts,
    motion_aware_mask,
    motion_candidates,
    motion_residuals,
    part_motion_candidates,
    random_frame_mask,
    select_frames,
    temporal_subsample,
)
from signssl.pose.masa import threshold_confidence

PARTS = [slice(0, 7), slice(7, 28), slice(28, 49)]


def naive_residuals(x: np.ndarray, c: np.ndarray, k: int, length: int):
    """Frame-by-frame residuals, weights and Alg. 1 candidates of one clip."""
    T, J, _ = x.shape
    m = np.zeros_like(x)
    w = np.zeros((T, J), np.float32)
    cand = np.zeros(T, bool)
    for i in range(T):
        if i + k >= length:
            continue
        for j in range(J):
            w[i, j] = c[i, j] * c[i + k, j]
            if w[i, j] > 0:
                m[i, j] = x[i + k, j] - x[i, j]
        mt = np.array([np.linalg.norm(m[i, j]) * w[i, j] for j in range(J)])
        cand[i] = (mt >= 5.0).sum() / J >= 0.5
    return m, w, cand


def test_residuals_and_candidates_match_a_per_frame_loop() -> None:
    g = torch.Generator().manual_seed(0)
    B, T, J, k = 3, 11, 49, 3
    x = torch.randn(B, T, J, 2, generator=g) * 6
    c = torch.rand(B, T, J, generator=g)
    c[c < 0.3] = 0.0
    lengths = [11, 8, 3]
    pad = torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]
    res = motion_residuals(x, c, k, pad)
    cand = motion_candidates(res, 5.0, 0.5)
    for b in range(B):
        m, w, cd = naive_residuals(x[b].numpy(), c[b].numpy(), k, lengths[b])
        np.testing.assert_allclose(res.residual[b].numpy(), m, atol=1e-6)
        np.testing.assert_allclose(res.weight[b].numpy(), w, atol=1e-7)
        assert cand[b].numpy().tolist() == cd.tolist()
        assert res.valid[b].tolist() == [i + k < lengths[b] for i in range(T)]
    assert not res.valid[2].any()  # a clip no longer than k has no residual


def clip_with_motion(
    T: int, moving_frames: list[int], n_joints: int, step: float = 10.0
) -> torch.Tensor:
    """(1, T, 49, 2): joints [0, n_joints) jump by ``step`` right after each listed frame."""
    x = torch.zeros(1, T, 49, 2)
    pos = torch.zeros(49, 2)
    for t in range(T):
        x[0, t] = pos
        if t in moving_frames:
            pos = pos.clone()
            pos[:n_joints, 0] += step
    return x


def test_static_frames_are_never_candidates_and_low_confidence_joints_are_ignored() -> None:
    T, k = 12, 1
    conf = torch.ones(1, T, 49)
    static = motion_residuals(torch.full((1, T, 49, 2), 7.0), conf, k)
    assert not motion_candidates(static).any()  # no motion at all
    x = clip_with_motion(T, moving_frames=[4], n_joints=30)  # frame 4 -> 5: 30/49 joints move 10
    res = motion_residuals(x, conf, k)
    assert motion_candidates(res).squeeze(0).nonzero().flatten().tolist() == [4]
    # the same motion with 10 of the moving joints below eps_c = 0.4 in frame 5: 20/49 < 0.5
    big = clip_with_motion(T, moving_frames=[4], n_joints=30, step=20.0)
    low = conf.clone()
    low[0, 5, :10] = 0.3
    assert motion_candidates(motion_residuals(big, low, k)).any()  # raw: 20 * 0.3 >= 5 counts
    assert not motion_candidates(motion_residuals(big, threshold_confidence(low), k)).any()
    # small motion (below eps_m = 5) does not count
    small = clip_with_motion(T, moving_frames=[4], n_joints=49, step=4.9)
    assert not motion_candidates(motion_residuals(small, conf, k)).any()
    # k = 3: the jump after frame 4 shows in the residuals of frames 2, 3, 4
    res3 = motion_residuals(x, conf, 3)
    assert motion_candidates(res3).squeeze(0).nonzero().flatten().tolist() == [2, 3, 4]


def test_confident_share_counts_only_joints_seen_in_both_frames() -> None:
    T = 8
    x = torch.zeros(1, T, 49, 2)
    x[0, 5:, 28:49, 0] = 10.0  # the right hand jumps after frame 4; body static
    conf = torch.ones(1, T, 49)
    conf[0, :, 7:28] = 0.0  # no left hand at all
    res = motion_residuals(x, conf, 1)
    assert not motion_candidates(res, share="all").any()  # 21 / 49 < 0.5
    assert motion_candidates(res, share="confident").squeeze(0).nonzero().flatten().tolist() == [4]
    with pytest.raises(ConfigError, match="share"):
        motion_candidates(res, share="some")


def test_per_part_rule() -> None:
    T, conf = 10, torch.ones(1, 10, 49)
    body = clip_with_motion(T, [3], n_joints=2, step=3.0)  # two body joints move 3 units
    res = motion_residuals(body, conf, 1)
    assert part_motion_candidates(res, PARTS).squeeze(0).nonzero().flatten().tolist() == [3]
    assert not motion_candidates(res).any()  # the paper's rule needs half of all joints
    one = clip_with_motion(T, [3], n_joints=1, step=30.0)  # one joint only: "more than one"
    assert not part_motion_candidates(motion_residuals(one, conf, 1), PARTS).any()


def test_mask_ratio_and_subset_of_candidates() -> None:
    g = torch.Generator().manual_seed(1)
    cand = torch.rand(64, 40, generator=g) < 0.4
    counts = mask_counts(cand, 0.9)
    n = cand.sum(1)
    assert counts.tolist() == [math.floor(0.9 * int(v) + 0.5) for v in n]
    mask = select_frames(cand, counts, torch.Generator().manual_seed(2))
    assert (mask <= cand).all() and mask.sum(1).tolist() == counts.tolist()
    # every candidate is equally likely: over many draws each is masked ~90 % of the time
    hits = torch.zeros(40)
    one = cand[:1].expand(400, 40)
    for s in range(5):
        hits += (
            select_frames(one, mask_counts(one, 0.9), torch.Generator().manual_seed(s))
            .float()
            .sum(0)
        )
    rate = hits[cand[0]] / 2000
    assert (rate - 0.9).abs().max() < 0.05


def test_motion_aware_mask_and_random_mask_counts() -> None:
    x = clip_with_motion(16, moving_frames=[2, 5, 6, 9, 12], n_joints=40).repeat(3, 1, 1, 1)
    res = motion_residuals(x, torch.ones(3, 16, 49), 1)
    mask, cand = motion_aware_mask(res, 0.6, generator=torch.Generator().manual_seed(0))
    assert cand[0].nonzero().flatten().tolist() == [2, 5, 6, 9, 12]
    assert mask.sum(1).tolist() == [3, 3, 3] and (mask <= cand).all()
    rnd = random_frame_mask(res, mask.sum(1), torch.Generator().manual_seed(0))
    assert rnd.sum(1).tolist() == [3, 3, 3] and (rnd <= res.valid).all()
    # reproducible with the same generator seed, different with another
    again, _ = motion_aware_mask(res, 0.6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mask, again)


def test_temporal_subsample_keeps_half_of_the_real_frames() -> None:
    pad = torch.arange(10)[None, :] >= torch.tensor([10, 7, 1])[:, None]
    drop = temporal_subsample(pad, 0.5, torch.Generator().manual_seed(0))
    kept = ~drop
    assert kept.sum(1).tolist() == [5, 4, 1]  # round(3.5) = 4; at least one frame
    assert not (kept & pad).any()
    with pytest.raises(ConfigError, match="keep ratio"):
        temporal_subsample(pad, 0.0)


def test_errors() -> None:
    with pytest.raises(ConfigError, match="interval"):
        motion_residuals(torch.zeros(1, 4, 49, 2), torch.ones(1, 4, 49), 0)
    with pytest.raises(ConfigError, match="mask ratio"):
        mask_counts(torch.ones(1, 3, dtype=torch.bool), 1.5)
    assert isinstance(
        motion_residuals(torch.zeros(1, 2, 49, 2), torch.ones(1, 2, 49), 3), MotionResiduals
    )
