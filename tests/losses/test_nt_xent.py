"""NT-Xent against a naive per-anchor loop and hand cases."""

from __future__ import annotations

import math

import pytest
import torch

from signssl.losses.nt_xent import NTXentLoss, nt_xent_loss


def naive_nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, tau: float) -> float:
    z = torch.cat([z_a, z_b]).tolist()
    n2 = len(z)
    n = n2 // 2

    def cos(u: list[float], v: list[float]) -> float:
        dot = sum(a * b for a, b in zip(u, v, strict=True))
        return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v)))

    total = 0.0
    for k in range(n2):
        pos = (k + n) % n2
        num = math.exp(cos(z[k], z[pos]) / tau)
        den = sum(math.exp(cos(z[k], z[j]) / tau) for j in range(n2) if j != k)
        total += -math.log(num / den)
    return total / n2


@pytest.mark.parametrize("tau", [0.5, 0.1])
def test_matches_naive_loop(tau: float) -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    assert float(nt_xent_loss(a, b, tau)) == pytest.approx(naive_nt_xent(a, b, tau), rel=1e-5)
    assert float(NTXentLoss(tau)(a, b)) == pytest.approx(naive_nt_xent(a, b, tau), rel=1e-5)


def test_hand_cases() -> None:
    # one clip: the only candidate left is the positive -> loss 0
    assert float(nt_xent_loss(torch.randn(1, 3), torch.randn(1, 3))) == pytest.approx(0.0, abs=1e-6)
    # two clips, views identical, the clips orthogonal: each anchor sees e^{1/τ} (positive)
    # and e^0 twice (the other clip's two views)
    tau = 0.5
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    expected = -math.log(math.exp(1 / tau) / (math.exp(1 / tau) + 2.0))
    assert float(nt_xent_loss(a, a.clone(), tau)) == pytest.approx(expected, rel=1e-6)


def test_invariances() -> None:
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    ref = nt_xent_loss(a, b)
    perm = torch.randperm(5, generator=g)
    torch.testing.assert_close(nt_xent_loss(a[perm], b[perm]), ref)  # order of clips
    torch.testing.assert_close(nt_xent_loss(3.0 * a, 0.5 * b), ref)  # scale (normalised)
    torch.testing.assert_close(nt_xent_loss(b, a), ref)  # views swap


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError):
        nt_xent_loss(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent_loss(torch.ones(2, 3), torch.ones(2, 3), temperature=0.0)
