"""MASA-49 input pipeline: against a per-frame loop, hand-computed crops, invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from masa_helpers import synthetic_batch, synthetic_clip

from signssl.errors import ConfigError, LayoutError
from signssl.pose.layouts import get_layout
from signssl.pose.masa import (
    crop_hand,
    masa_normalize,
    masa_parts,
    masa_sequence,
    threshold_confidence,
)
from signssl.pose.sequence import PoseSequence


def naive_masa(
    x: np.ndarray,
    r: np.ndarray,
    thr: float = 0.4,
    box: float = 2.2,
    crop: float = 256.0,
    units: float = 64.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline written frame by frame and joint by joint (masa49 indices)."""
    T, J = r.shape
    c = np.where(r >= thr, r, 0.0)
    u = np.zeros_like(x, dtype=np.float64)
    out = np.zeros_like(c)
    for t in range(T):
        for start, mirror in ((7, True), (28, False)):
            idx = [j for j in range(start, start + 21) if c[t, j] > 0]
            if len(idx) < 2:
                continue
            pts = x[t, idx].astype(np.float64)
            lo, hi = pts.min(0), pts.max(0)
            ext = float((hi - lo).max())
            if ext <= 1e-6:
                continue
            for j in idx:
                p = (x[t, j] - (lo + hi) / 2) / (box * ext) * crop + crop / 2
                if mirror:
                    p[0] = crop - p[0]
                u[t, j], out[t, j] = p, c[t, j]
        if c[t, 1] > 0 and c[t, 4] > 0:
            width = float(np.linalg.norm(x[t, 1] - x[t, 4]))
            if width > 1e-6:
                mid = (x[t, 1] + x[t, 4]) / 2
                for j in range(7):
                    if c[t, j] > 0:
                        u[t, j] = (x[t, j] - mid) / width * units + crop / 2
                        out[t, j] = c[t, j]
    return u, out


def test_matches_per_frame_loop_with_missing_joints_and_padding() -> None:
    batch = synthetic_batch(B=3, T=10, seed=1)
    r = batch["conf"].clone()
    r[0, 2, 7:26] = 0.3  # left hand: only 2 joints above threshold
    r[0, 3, 7:27] = 0.0  # one joint left: hand missing in that frame
    r[1, 4, 4] = 0.2  # right shoulder below threshold: no body in that frame
    r[2, 2, 30:35] = 0.39  # a few right-hand joints just below threshold
    u, c = masa_normalize(batch["x"], r, batch["frame_mask"])
    for b in range(3):
        ru, rc = naive_masa(
            batch["x"][b].numpy(), (r[b] * ~batch["frame_mask"][b, :, None]).numpy()
        )
        np.testing.assert_allclose(u[b].numpy(), ru, atol=1e-3)
        np.testing.assert_allclose(c[b].numpy(), rc, atol=1e-7)
    assert (c[0, 3, 7:28] == 0).all() and (u[0, 3, 7:28] == 0).all()
    assert (c[1, 4, :7] == 0).all()
    assert (c[2, 2, 30:35] == 0).all() and (c[2, 2, 35:49] > 0).all()
    assert (c[batch["frame_mask"]] == 0).all()


def test_hand_crop_hand_computed() -> None:
    """Two joints 10 px apart: box 22 px centred at (5, 0), scaled to 256."""
    x = torch.tensor([[[0.0, 0.0], [10.0, 0.0], [3.0, 3.0]]])  # (1, 3, 2)
    conf = torch.tensor([[1.0, 1.0, 0.0]])
    u, c = crop_hand(x, conf)
    lo = -5 / 22 * 256 + 128
    assert torch.allclose(u[0, :2], torch.tensor([[lo, 128.0], [256 - lo, 128.0]]), atol=1e-4)
    assert u[0, 2].tolist() == [0.0, 0.0] and c[0].tolist() == [1.0, 1.0, 0.0]
    um, _ = crop_hand(x, conf, mirror=True)
    assert torch.allclose(um[0, 0], torch.tensor([256 - lo, 128.0]), atol=1e-4)


def test_threshold_confidence() -> None:
    r = torch.tensor([0.0, 0.39, 0.4, 0.9])
    assert threshold_confidence(r).tolist() == pytest.approx([0.0, 0.0, 0.4, 0.9])


def test_invariant_to_translation_and_scale_and_mirror_symmetry() -> None:
    batch = synthetic_batch(B=2, T=8, seed=3)
    u, c = masa_normalize(batch["x"], batch["conf"], batch["frame_mask"])
    moved = batch["x"] * 0.37 + torch.tensor([55.0, -12.0])
    u2, c2 = masa_normalize(moved, batch["conf"], batch["frame_mask"])
    assert torch.allclose(u, u2 * (c2 > 0)[..., None], atol=1e-3) and torch.equal(c, c2)
    # a left hand is the mirror image of the same right hand
    x = batch["x"].clone()
    x[:, :, 7:28] = x[:, :, 28:49] * torch.tensor(
        [-1.0, 1.0]
    )  # mirror right hand into the left slot
    conf = batch["conf"].clone()
    conf[:, :, 7:28] = conf[:, :, 28:49]
    u3, _ = masa_normalize(x, conf, batch["frame_mask"])
    assert torch.allclose(u3[:, :, 7:28], u3[:, :, 28:49], atol=1e-3)
    # body: shoulder midpoint at (128, 128), shoulder width 64 units
    valid = ~batch["frame_mask"]
    ls, rs = u[:, :, 1][valid], u[:, :, 4][valid]
    assert torch.allclose((ls + rs) / 2, torch.full_like(ls, 128.0), atol=1e-3)
    assert torch.allclose((ls - rs).norm(dim=-1), torch.full((ls.shape[0],), 64.0), atol=1e-3)


def test_masa_sequence_converts_any_layout_by_name() -> None:
    x, r = synthetic_clip(T=6, seed=2)
    seq = PoseSequence(x, r, get_layout("masa49"))
    # the same joints in the holistic layout (543 joints, body 33 in MediaPipe order)
    hol = get_layout("holistic")
    xh = np.zeros((6, hol.num_joints, 2), np.float32)
    ch = np.zeros((6, hol.num_joints), np.float32)
    for i, name in enumerate(seq.layout.joint_names):
        xh[:, hol.index(name)], ch[:, hol.index(name)] = x[:, i], r[:, i]
    out = masa_sequence(PoseSequence(xh, ch, hol))
    ref = masa_sequence(seq)
    assert out.layout.name == "masa49" and out.xyz.shape == (6, 49, 2)
    np.testing.assert_allclose(out.xyz, ref.xyz, atol=1e-4)
    ru, rc = naive_masa(x, r)
    np.testing.assert_allclose(ref.xyz, ru, atol=1e-3)


def test_errors_name_the_fix() -> None:
    assert masa_parts("coco_wholebody").left_shoulder == 5  # other layouts with the parts work
    with pytest.raises(LayoutError, match="body, left_hand and right_hand"):
        masa_parts("hands")
    with pytest.raises(ConfigError, match="dims=2"):
        masa_normalize(torch.zeros(1, 2, 49, 3), torch.zeros(1, 2, 49))
    with pytest.raises(ConfigError, match="conf_threshold"):
        masa_normalize(torch.zeros(1, 2, 49, 2), torch.zeros(1, 2, 49), conf_threshold=2.0)
