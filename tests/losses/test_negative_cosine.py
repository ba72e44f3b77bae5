"""SimSiam negative cosine: hand cases, a second formula, stop-gradient."""

from __future__ import annotations

import pytest
import torch

from signssl.losses.negative_cosine import (
    NegativeCosineLoss,
    negative_cosine,
    symmetric_negative_cosine,
)


def test_hand_cases() -> None:
    p = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    z = torch.tensor([[0.0, 5.0], [3.0, 0.0]])
    # cos = 0 and 1 -> -(0 + 1) / 2
    assert float(negative_cosine(p, z)) == pytest.approx(-0.5)
    assert float(negative_cosine(z, -z)) == pytest.approx(1.0)


def test_symmetric_matches_formula() -> None:
    g = torch.Generator().manual_seed(0)
    p1, p2, z1, z2 = (torch.randn(4, 8, generator=g) for _ in range(4))

    def d(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return (
            -((p / p.norm(dim=1, keepdim=True)) * (z / z.norm(dim=1, keepdim=True))).sum(1).mean()
        )

    expected = 0.5 * d(p1, z2) + 0.5 * d(p2, z1)
    torch.testing.assert_close(symmetric_negative_cosine(p1, p2, z1, z2), expected)
    torch.testing.assert_close(NegativeCosineLoss()(p1, p2, z1, z2), expected)


def test_stop_gradient_on_projections() -> None:
    g = torch.Generator().manual_seed(1)
    p1, p2, z1, z2 = (torch.randn(4, 8, generator=g).requires_grad_() for _ in range(4))
    symmetric_negative_cosine(p1, p2, z1, z2).backward()
    assert z1.grad is None and z2.grad is None
    assert p1.grad.abs().sum() > 0 and p2.grad.abs().sum() > 0


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        negative_cosine(torch.zeros(2, 3), torch.zeros(2, 4))
