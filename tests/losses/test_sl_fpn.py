"""SL-FPN loss (Eq. 1/2) against a naive formula, a hand case and its stop-gradient."""

from __future__ import annotations

import pytest
import torch

from signssl.losses.sl_fpn import SLFPNLoss, predictor_term, sl_fpn_loss, sl_fpn_terms


def naive_mse(a: torch.Tensor, b: torch.Tensor) -> float:
    B, D = a.shape
    total = 0.0
    for i in range(B):
        for d in range(D):
            total += (float(a[i, d]) - float(b[i, d])) ** 2
    return total / (B * D)


def test_hand_case() -> None:
    z0, z1, z2 = torch.zeros(3, 4), torch.ones(3, 4), torch.full((3, 4), 3.0)
    p0 = torch.full((3, 4), 1.0)
    # MSE(z1, z2) = 4, MSE(z0, z1) = 1, MSE(p0, z2) = 4
    assert float(sl_fpn_loss(z0, z1, z2, p0)) == pytest.approx(9.0)


def test_matches_naive_sum_of_three_mse() -> None:
    g = torch.Generator().manual_seed(0)
    z0, z1, z2, p0 = (torch.randn(5, 7, generator=g) for _ in range(4))
    expected = naive_mse(z1, z2) + naive_mse(z0, z1) + naive_mse(p0, z2)
    assert float(sl_fpn_loss(z0, z1, z2, p0)) == pytest.approx(expected, rel=1e-5)
    terms = sl_fpn_terms(z0, z1, z2, p0)
    assert float(terms["pair"]) == pytest.approx(naive_mse(z1, z2), rel=1e-5)
    assert float(terms["original"]) == pytest.approx(naive_mse(z0, z1), rel=1e-5)
    assert float(terms["predictor"]) == pytest.approx(naive_mse(p0, z2), rel=1e-5)
    assert float(SLFPNLoss()(z0, z1, z2, p0)) == pytest.approx(expected, rel=1e-5)


def test_stop_gradient_on_predictor_target_only() -> None:
    g = torch.Generator().manual_seed(1)
    z0, z1, z2, p0 = (torch.randn(4, 6, generator=g).requires_grad_() for _ in range(4))
    predictor_term(p0, z2).backward()
    assert z2.grad is None  # the target branch gets nothing from the predictor term
    assert p0.grad is not None and p0.grad.abs().sum() > 0

    # with the whole loss, z2's gradient is exactly the pair term's 2 (z2 - z1) / (B D)
    z0, z1, z2, p0 = (t.detach().clone().requires_grad_() for t in (z0, z1, z2, p0))
    sl_fpn_loss(z0, z1, z2, p0).backward()
    torch.testing.assert_close(z2.grad, 2 * (z2 - z1).detach() / z2.numel())
    # and p0's is the predictor term's 2 (p0 - z2) / (B D)
    torch.testing.assert_close(p0.grad, 2 * (p0 - z2).detach() / p0.numel())


def test_without_stop_gradient_target_gets_gradient() -> None:
    g = torch.Generator().manual_seed(2)
    p0, z2 = (torch.randn(4, 6, generator=g).requires_grad_() for _ in range(2))
    predictor_term(p0, z2, stop_gradient=False).backward()
    torch.testing.assert_close(z2.grad, -2 * (p0 - z2).detach() / z2.numel())


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="SL-FPN"):
        sl_fpn_loss(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 3))
