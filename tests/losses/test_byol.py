"""BYOL normalised MSE: hand cases, the 2 − 2cos identity, stop-gradient."""

from __future__ import annotations

import pytest
import torch

from signssl.losses.byol import BYOLLoss, byol_loss, normalized_mse


def test_hand_cases() -> None:
    q = torch.tensor([[1.0, 0.0]])
    assert float(normalized_mse(q, torch.tensor([[0.0, 3.0]]))) == pytest.approx(2.0)
    assert float(normalized_mse(q, torch.tensor([[-7.0, 0.0]]))) == pytest.approx(4.0)
    assert float(normalized_mse(q, torch.tensor([[5.0, 0.0]]))) == pytest.approx(0.0, abs=1e-7)


def test_equals_squared_distance_of_unit_vectors() -> None:
    g = torch.Generator().manual_seed(0)
    q, z = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    qn, zn = q / q.norm(dim=1, keepdim=True), z / z.norm(dim=1, keepdim=True)
    expected = ((qn - zn) ** 2).sum(dim=1).mean()
    torch.testing.assert_close(normalized_mse(q, z), expected)


def test_symmetrised_and_stop_gradient() -> None:
    g = torch.Generator().manual_seed(1)
    q1, q2, t1, t2 = (torch.randn(3, 4, generator=g).requires_grad_() for _ in range(4))
    loss = byol_loss(q1, q2, t1, t2)
    torch.testing.assert_close(loss, normalized_mse(q1, t2) + normalized_mse(q2, t1))
    torch.testing.assert_close(BYOLLoss()(q1, q2, t1, t2), loss)
    loss.backward()
    assert t1.grad is None and t2.grad is None
    assert q1.grad.abs().sum() > 0 and q2.grad.abs().sum() > 0
