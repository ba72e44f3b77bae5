"""MLP builder and the named heads: structure, paper sizes, a manual forward pass."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from signssl.models.heads import (
    BYOLPredictionHead,
    BYOLProjectionHead,
    MLPHead,
    MoCoV2ProjectionHead,
    SimCLRProjectionHead,
    SimSiamPredictionHead,
    SimSiamProjectionHead,
    SLFPNPredictionHead,
    SLFPNProjectionHead,
    build_mlp,
)


def linear_dims(head: nn.Module) -> list[int]:
    lins = [m for m in head.modules() if isinstance(m, nn.Linear)]
    return [lins[0].in_features] + [m.out_features for m in lins]


@pytest.mark.parametrize(
    ("head", "dims"),
    [
        (SLFPNProjectionHead(), [512, 1024, 128]),
        (SLFPNPredictionHead(), [128, 1024, 128]),
        (SimCLRProjectionHead(), [512, 512, 128]),
        (MoCoV2ProjectionHead(), [512, 2048, 128]),
        (SimSiamProjectionHead(), [512, 2048, 2048, 2048]),
        (SimSiamPredictionHead(), [2048, 512, 2048]),
        (BYOLProjectionHead(), [512, 4096, 256]),
        (BYOLPredictionHead(), [256, 4096, 256]),
    ],
)
def test_paper_sizes(head: MLPHead, dims: list[int]) -> None:
    assert linear_dims(head) == dims
    assert head(torch.randn(3, dims[0])).shape == (3, dims[-1])


def test_norm_placement() -> None:
    simsiam = SimSiamProjectionHead(8, 16, 4)
    bns = [m for m in simsiam.modules() if isinstance(m, nn.BatchNorm1d)]
    assert len(bns) == 3 and bns[-1].affine is False and bns[0].affine is True
    assert [m.bias is None for m in simsiam.modules() if isinstance(m, nn.Linear)] == [
        True,
        True,
        True,
    ]
    moco = MoCoV2ProjectionHead(8, 16, 4)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in moco.modules())
    assert all(m.bias is not None for m in moco.modules() if isinstance(m, nn.Linear))
    ln = build_mlp([4, 6, 6, 2], norm="layer", activation="gelu")
    assert [type(m).__name__ for m in ln] == [
        "Linear",
        "LayerNorm",
        "GELU",
        "Linear",
        "LayerNorm",
        "GELU",
        "Linear",
    ]


def test_parameter_count_by_hand() -> None:
    head = SLFPNProjectionHead()
    # Linear 512x1024 (no bias, BN follows) + BN 2x1024 + Linear 1024x128 + bias 128
    assert sum(p.numel() for p in head.parameters()) == 512 * 1024 + 2 * 1024 + 1024 * 128 + 128


def test_forward_matches_manual_computation() -> None:
    torch.manual_seed(0)
    head = MLPHead([5, 7, 3], norm="batch").eval()
    with torch.no_grad():
        bn = head.layers[1]
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    x = torch.randn(4, 5)
    l1, l2 = head.layers[0], head.layers[3]
    h = x @ l1.weight.T
    h = (h - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    expected = F.relu(h) @ l2.weight.T + l2.bias
    torch.testing.assert_close(head(x), expected)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="dims"):
        build_mlp([4])
    with pytest.raises(ValueError, match="norm"):
        build_mlp([4, 4, 4], norm="group")
    with pytest.raises(ValueError, match="expects"):
        SLFPNPredictionHead(8, 8, 8)(torch.randn(2, 9))
