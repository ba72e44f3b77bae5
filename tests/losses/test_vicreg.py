"""VICReg loss against explicit loops over hand values, its invariants and errors; the
recipe's terms on two identical views."""

from __future__ import annotations

import math

import pytest
import torch

from signssl.errors import ConfigError
from signssl.losses.vicreg import VICRegLoss, invariance_loss, vicreg_terms
from signssl.methods import create_method
from signssl.models import create_model


def _naive(a: list[list[float]], b: list[list[float]], eps: float) -> tuple[float, float, float]:
    """(s, (v_a + v_b) / 2, c_a + c_b) of the VICReg paper by explicit loops."""
    B, D = len(a), len(a[0])
    inv = sum((a[i][j] - b[i][j]) ** 2 for i in range(B) for j in range(D)) / (B * D)

    def var_cov(z: list[list[float]]) -> tuple[float, float]:
        mean = [sum(z[i][j] for i in range(B)) / B for j in range(D)]
        cov = [
            [sum((z[n][i] - mean[i]) * (z[n][j] - mean[j]) for n in range(B)) / (B - 1)
             for j in range(D)]
            for i in range(D)
        ]  # fmt: skip
        var = sum(max(0.0, 1.0 - math.sqrt(cov[j][j] + eps)) for j in range(D)) / D
        off = sum(cov[i][j] ** 2 for i in range(D) for j in range(D) if i != j) / D
        return var, off

    (va, ca), (vb, cb) = var_cov(a), var_cov(b)
    return inv, (va + vb) / 2, ca + cb


HAND_A = [[0.5, -1.0, 0.2], [0.1, 0.3, -0.4], [-0.6, 0.9, 0.0], [0.2, -0.1, 0.7]]
HAND_B = [[0.4, -0.8, 0.1], [2.0, 0.3, -1.5], [-0.6, 1.9, 0.3], [0.0, 0.0, 0.8]]


@pytest.mark.parametrize("eps", [1e-4, 0.0])
def test_terms_match_explicit_loops_on_hand_values(eps: float) -> None:
    a, b = torch.tensor(HAND_A, dtype=torch.float64), torch.tensor(HAND_B, dtype=torch.float64)
    terms = vicreg_terms(a, b, eps)
    inv, var, cov = _naive(HAND_A, HAND_B, eps)
    assert float(terms["inv"]) == pytest.approx(inv, rel=1e-12)
    assert float(terms["var"]) == pytest.approx(var, rel=1e-12)
    assert float(terms["cov"]) == pytest.approx(cov, rel=1e-12)
    assert var > 0 and cov > 0  # the hand values exercise every term


def test_weighted_sum_with_the_paper_defaults() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 5, generator=g) * 0.3, torch.randn(6, 5, generator=g) * 2.0
    loss, terms = VICRegLoss()(a, b)
    inv, var, cov = _naive(a.tolist(), b.tolist(), 1e-4)
    assert float(loss) == pytest.approx(25 * inv + 25 * var + 1 * cov, rel=1e-5)
    assert float(terms["inv"]) == pytest.approx(inv, rel=1e-5)
    loss2, _ = VICRegLoss(inv_weight=1.0, var_weight=0.0, cov_weight=0.5)(a, b)
    assert float(loss2) == pytest.approx(inv + 0.5 * cov, rel=1e-5)


def test_invariants() -> None:
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(8, 4, generator=g), torch.randn(8, 4, generator=g)
    loss = VICRegLoss()
    torch.testing.assert_close(loss(a, b)[0], loss(b, a)[0])  # symmetric in the views
    perm = torch.randperm(8, generator=g)
    torch.testing.assert_close(loss(a[perm], b[perm])[0], loss(a, b)[0])  # order of pairs
    assert float(invariance_loss(a, a)) == 0.0
    spread = 10 * torch.eye(4).repeat(2, 1)  # (8, 4), every column's std > 1
    assert float(vicreg_terms(spread, spread)["var"]) == 0.0


def test_errors_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError, match="at least 2 vectors"):
        VICRegLoss()(torch.randn(1, 4), torch.randn(1, 4))
    with pytest.raises(ConfigError, match="one shape"):
        VICRegLoss()(torch.randn(4, 4), torch.randn(4, 3))
    with pytest.raises(ConfigError, match=">= 0"):
        VICRegLoss(var_weight=-1.0)


def test_recipe_two_identical_views_have_no_invariance_term() -> None:
    """Without augmentation both views are the clip itself: s = 0, and the loss is the
    variance and covariance of the expander output (its ``embedding``)."""
    torch.manual_seed(0)
    method = create_method(
        "vicreg", create_model("pose_transformer_test"), expander_dim=32,
        boundary_permutation=False, spatial_aug=False,
    ).eval()  # fmt: skip
    g = torch.Generator().manual_seed(2)
    batch = {"x": torch.randn(5, 12, 49, 2, generator=g), "conf": torch.ones(5, 12, 49)}
    out = method.training_loss(batch)
    assert float(out["inv"]) == pytest.approx(0.0, abs=1e-10)
    z = out["embedding"].double()
    _, var, cov = _naive(z.tolist(), z.tolist(), 1e-4)
    assert float(out["loss"].detach()) == pytest.approx(25 * var + cov, rel=1e-4)
