"""Skeleton GCN (adjacency from bones, layer vs a naive loop) and the Eq. 4 loss."""

from __future__ import annotations

import math

import pytest
import torch

from signssl.losses.motion_residual import MotionResidualLoss, motion_residual_loss
from signssl.models.gcn import GraphConv, PartGCN, normalized_adjacency, part_adjacency, part_edges
from signssl.pose.layouts import HAND_21, get_layout

# ----------------------------------------------------------------------------- GCN


def test_normalized_adjacency_hand_computed_path_graph() -> None:
    a = normalized_adjacency(3, [(0, 1), (1, 2), (1, 0)])  # duplicates are harmless
    s6 = 1 / math.sqrt(6)
    expect = torch.tensor([[1 / 2, s6, 0.0], [s6, 1 / 3, s6], [0.0, s6, 1 / 2]])
    assert torch.allclose(a, expect, atol=1e-6)


def test_hand_and_body_graphs_come_from_the_layout_bones() -> None:
    lay = get_layout("masa49")
    hand = {tuple(sorted(e)) for e in part_edges(lay, "left_hand")}
    assert len(hand) == 23  # 5 fingers x 4 bones + 3 knuckle-bar bones
    wrist, thumb_cmc = HAND_21.index("wrist"), HAND_21.index("thumb_cmc")
    assert sum(wrist in e for e in hand) == 5
    a = part_adjacency(lay, "right_hand")
    assert torch.allclose(a, a.T)
    # wrist: 5 neighbours + self = 6; thumb_cmc: wrist, thumb_mcp + self = 3
    assert a[wrist, thumb_cmc].item() == pytest.approx(1 / math.sqrt(6 * 3))
    assert a[wrist, wrist].item() == pytest.approx(1 / 6)
    body = {tuple(sorted(e)) for e in part_edges(lay, "body")}
    names = lay.part("body").joints  # nose, l_sh, l_el, l_wr, r_sh, r_el, r_wr
    named = {tuple(sorted((names[i], names[j]))) for i, j in body}
    assert named == {
        tuple(sorted(p))
        for p in [
            ("left_shoulder", "right_shoulder"),
            ("left_shoulder", "left_elbow"),
            ("left_elbow", "left_wrist"),
            ("right_shoulder", "right_elbow"),
            ("right_elbow", "right_wrist"),
            ("nose", "left_shoulder"),
            ("nose", "right_shoulder"),
        ]
    }


def test_graph_conv_matches_a_neighbour_loop() -> None:
    torch.manual_seed(0)
    a = part_adjacency("masa49", "body")
    conv = GraphConv(3, 4, a)
    with torch.no_grad():
        conv.edge_importance.uniform_(0.5, 1.5)
    h = torch.randn(5, 7, 3)
    out = conv(h)
    w, b, e = conv.linear.weight, conv.linear.bias, conv.edge_importance
    for n in range(5):
        for i in range(7):
            acc = sum(a[i, j] * e[i, j] * h[n, j] for j in range(7))
            assert torch.allclose(out[n, i], w @ acc + b, atol=1e-5)


def test_part_gcn_is_per_frame() -> None:
    torch.manual_seed(0)
    gcn = PartGCN(part_adjacency("masa49", "left_hand"), 3, 8, 2, 16)
    h = torch.randn(6, 21, 3)
    out = gcn(h)
    assert out.shape == (6, 16)
    h2 = h.clone()
    h2[3] = 100.0  # another frame changes: the others do not
    out2 = gcn(h2)
    keep = [0, 1, 2, 4, 5]
    assert torch.allclose(out[keep], out2[keep]) and not torch.allclose(out[3], out2[3])


# ----------------------------------------------------------------------------- Eq. 4


def naive_eq4(pred, target, weight, mask, norm="l2"):
    per_clip = []
    for b in range(pred.shape[0]):
        frames = [i for i in range(pred.shape[1]) if mask[b, i]]
        if not frames:
            continue
        total = 0.0
        for i in frames:
            d = (pred[b, i] - target[b, i]) * weight[b, i][:, None]
            total += float((d**2).sum()) if norm == "l2" else float(d.abs().sum())
        per_clip.append(total / len(frames))
    return sum(per_clip) / len(per_clip) if per_clip else 0.0


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_motion_residual_loss_matches_naive_sum(norm: str) -> None:
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(4, 9, 5, 2, generator=g), torch.randn(4, 9, 5, 2, generator=g)
    weight = torch.rand(4, 9, 5, generator=g)
    mask = torch.rand(4, 9, generator=g) < 0.4
    mask[2] = False  # a clip without masked frames does not count
    got = motion_residual_loss(pred, target, weight, mask, norm)
    assert got.item() == pytest.approx(naive_eq4(pred, target, weight, mask, norm), rel=1e-5)
    assert MotionResidualLoss(norm, scale=10.0)(pred, target, weight, mask).item() == pytest.approx(
        10 * got.item(), rel=1e-5
    )


def test_motion_residual_loss_weights_and_empty_mask() -> None:
    pred = torch.zeros(1, 2, 1, 2, requires_grad=True)
    target = torch.tensor([[[[3.0, 4.0]], [[1.0, 1.0]]]])
    w = torch.full((1, 2, 1), 0.5)
    mask = torch.tensor([[True, False]])
    assert motion_residual_loss(pred, target, w, mask).item() == pytest.approx(25 * 0.25)
    empty = motion_residual_loss(pred, target, w, torch.zeros(1, 2, dtype=torch.bool))
    assert empty.item() == 0.0
    empty.backward()  # still differentiable
    with pytest.raises(ValueError, match="norm"):
        motion_residual_loss(pred, target, w, mask, "l3")
    with pytest.raises(ValueError, match="mask"):
        motion_residual_loss(pred, target, w, mask[:, :1])
