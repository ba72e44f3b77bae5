"""SignRep losses (Eq. 2-9, 13) against naive loops, hand values and gradient checks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from signssl.errors import ConfigError, DataError
from signssl.losses import (
    ClassDistributionKLLoss,
    PriorReconstructionLoss,
    StyleAdversarialLoss,
    StyleOutputEMA,
    VarianceCovarianceLoss,
    class_distribution_kl_loss,
    covariance_loss,
    discriminator_step_loss,
    encoder_adversarial_loss,
    mismatched_index,
    prior_reconstruction_loss,
    variance_loss,
)
from signssl.losses.style_adversarial import adversarial_bce
from signssl.models.style_discriminator import StyleDiscriminator, gram_style

# ----------------------------------------------------------------------------- Eq. 2


def naive_smooth_l1(a: float, b: float, beta: float) -> float:
    d = abs(a - b)
    return 0.5 * d * d / beta if d < beta else d - 0.5 * beta


def naive_bce(logit: float, t: float) -> float:
    p = 1.0 / (1.0 + math.exp(-logit))
    return -(t * math.log(p) + (1 - t) * math.log(1 - p))


def naive_prior_loss(pred, target, valid, weights, scales, beta):  # type: ignore[no-untyped-def]
    total, terms = 0.0, {}
    for name in pred:
        p, y = pred[name].tolist(), target[name].tolist()
        flat_p = torch.tensor(p).flatten().tolist()
        flat_y = torch.tensor(y).flatten().tolist()
        v = valid.get(name)
        if v is None:
            flat_v = [True] * len(flat_p)
        else:
            if v.ndim == pred[name].ndim - 1:
                v = v.unsqueeze(-1)
            flat_v = v.expand(pred[name].shape).flatten().tolist()
        s = scales.get(name, 1.0)
        vals = []
        for a, b, ok in zip(flat_p, flat_y, flat_v, strict=True):
            if not ok:
                continue
            vals.append(naive_bce(a, b) if name == "activity" else naive_smooth_l1(a, s * b, beta))
        terms[name] = sum(vals) / len(vals) if vals else 0.0
        total += weights[name] * terms[name]
    return total, terms


@pytest.mark.parametrize("beta", [1.0, 0.3])
def test_prior_reconstruction_matches_naive_loop(beta: float) -> None:
    g = torch.Generator().manual_seed(0)
    B, T = 3, 4
    pred = {
        "hand": 3 * torch.randn(B, T, 6, generator=g),
        "angles": torch.randn(B, T, 4, generator=g),
        "dist": torch.randn(B, T, 5, generator=g),
        "activity": torch.randn(B, 2, generator=g),
    }
    target = {
        "hand": torch.randn(B, T, 6, generator=g),
        "angles": torch.randn(B, T, 4, generator=g),
        "dist": torch.rand(B, T, 5, generator=g),
        "activity": (torch.rand(B, 2, generator=g) > 0.5).float(),
    }
    valid = {
        "hand": torch.rand(B, T, 6, generator=g) > 0.3,  # per element
        "angles": torch.rand(B, T, generator=g) > 0.3,  # per frame
        "activity": torch.tensor([[True, False], [True, True], [False, True]]),
    }  # "dist" absent: all valid
    weights = {"hand": 10.0, "angles": 10.0, "dist": 20.0, "activity": 0.2}
    scales = {"hand": 2.0, "dist": 4.0}
    total, terms = prior_reconstruction_loss(pred, target, valid, weights, scales, beta)
    ref_total, ref_terms = naive_prior_loss(pred, target, valid, weights, scales, beta)
    assert float(total) == pytest.approx(ref_total, rel=1e-5)
    for name in pred:
        assert float(terms[name]) == pytest.approx(ref_terms[name], rel=1e-5), name
    module_total, _ = PriorReconstructionLoss(weights, scales, beta)(pred, target, valid)
    assert float(module_total) == pytest.approx(ref_total, rel=1e-5)


def test_prior_reconstruction_hand_value_and_empty_prior() -> None:
    pred = {
        "a": torch.zeros(1, 2, 1, requires_grad=True),
        "b": torch.ones(1, 2, 3, requires_grad=True),
    }
    target = {
        "a": torch.tensor([[[0.25], [float("nan")]]]),
        "b": torch.full((1, 2, 3), float("nan")),
    }
    valid = {"a": torch.tensor([[True, False]]), "b": torch.zeros(1, 2, dtype=torch.bool)}
    total, terms = prior_reconstruction_loss(pred, target, valid, {"a": 3.0, "b": 5.0}, {"a": 2.0})
    # a: |0 − 2·0.25| = 0.5 < 1 -> ½·0.25 = 0.125; b has no valid entry -> 0; NaN never leaks
    assert float(terms["a"].detach()) == pytest.approx(0.125)
    assert float(terms["b"].detach()) == 0.0
    assert float(total.detach()) == pytest.approx(3.0 * 0.125)
    total.backward()
    assert torch.isfinite(pred["a"].grad).all() and torch.isfinite(pred["b"].grad).all()
    assert pred["b"].grad.abs().sum() == 0
    assert pred["a"].grad[0, 1, 0] == 0  # the masked frame gets no gradient
    assert float(pred["a"].grad[0, 0, 0]) == pytest.approx(3.0 * (0.0 - 0.5))


def test_prior_reconstruction_errors() -> None:
    pred, target = {"a": torch.zeros(1, 2, 3)}, {"a": torch.zeros(1, 2, 3)}
    with pytest.raises(ConfigError, match="no loss weight"):
        prior_reconstruction_loss(pred, target, None, {})
    with pytest.raises(ConfigError, match="differ"):
        prior_reconstruction_loss(pred, {"b": torch.zeros(1, 2, 3)}, None, {"a": 1.0})
    with pytest.raises(ConfigError, match="valid mask"):
        prior_reconstruction_loss(
            pred, target, {"a": torch.ones(2, 2, dtype=torch.bool)}, {"a": 1.0}
        )
    with pytest.raises(ConfigError, match="scale must be 1"):
        prior_reconstruction_loss(
            {"activity": torch.zeros(1, 2)},
            {"activity": torch.zeros(1, 2)},
            None,
            {"activity": 0.2},
            {"activity": 2.0},
        )


# ----------------------------------------------------------------------------- Eq. 3-6


def naive_variance(z: list[list[float]], eps: float) -> float:
    b, d = len(z), len(z[0])
    total = 0.0
    for j in range(d):
        mean = sum(z[i][j] for i in range(b)) / b
        var = sum((z[i][j] - mean) ** 2 for i in range(b)) / (b - 1)
        total += max(0.0, 1.0 - math.sqrt(var + eps))
    return total / d


def naive_covariance(z: list[list[float]]) -> float:
    b, d = len(z), len(z[0])
    means = [sum(z[i][j] for i in range(b)) / b for j in range(d)]
    total = 0.0
    for p in range(d):
        for q in range(d):
            if p == q:
                continue
            c = sum((z[i][p] - means[p]) * (z[i][q] - means[q]) for i in range(b)) / (b - 1)
            total += c * c
    return total / d


def test_variance_covariance_match_naive_loops() -> None:
    g = torch.Generator().manual_seed(1)
    z = 0.7 * torch.randn(6, 5, generator=g, dtype=torch.float64)
    z[:, 1] = 0.5 * z[:, 0] + 0.1 * z[:, 2]  # correlated, low-variance dimension
    rows = z.tolist()
    assert float(variance_loss(z)) == pytest.approx(naive_variance(rows, 1e-4), rel=1e-10)
    assert float(covariance_loss(z)) == pytest.approx(naive_covariance(rows), rel=1e-10)
    total, terms = VarianceCovarianceLoss(var_weight=1.0, cov_weight=0.004)(z)
    expected = naive_variance(rows, 1e-4) + 0.004 * naive_covariance(rows)
    assert float(total) == pytest.approx(expected, rel=1e-10)
    assert set(terms) == {"var", "cov"}


def test_variance_covariance_invariants() -> None:
    g = torch.Generator().manual_seed(2)
    z = torch.randn(7, 4, generator=g)
    perm = torch.randperm(7, generator=g)
    torch.testing.assert_close(covariance_loss(z[perm] + 3.0), covariance_loss(z))
    torch.testing.assert_close(variance_loss(z[perm] - 1.0), variance_loss(z))
    assert float(variance_loss(10.0 * z)) == 0.0  # every σ_j > 1
    collapsed = torch.ones(5, 3)  # σ = √ε -> hinge 1 − 0.01
    assert float(variance_loss(collapsed)) == pytest.approx(1.0 - 0.01, rel=1e-6)
    assert float(covariance_loss(torch.randn(4, 1))) == 0.0  # one dimension: no off-diagonal


def test_batch_of_one_raises() -> None:
    with pytest.raises(ConfigError, match="at least 2"):
        variance_loss(torch.randn(1, 4))
    with pytest.raises(ConfigError, match="at least 2"):
        covariance_loss(torch.randn(1, 4))


# ----------------------------------------------------------------------------- Eq. 7-9


class ToyEncoder(nn.Module):
    """Tokens (B, N, D) -> (z, tokens) from one linear layer: stands in for the encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.proj(x)  # (B, N, 4)
        return tokens.mean(dim=1), tokens


def style_batch(seed: int = 0):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    enc, dsc = ToyEncoder(), StyleDiscriminator(z_dim=4, g_dim=4, hidden=8)
    dsc.eval()  # fixed spectral-norm estimate, so repeated calls give identical outputs
    xa, xb = torch.randn(3, 5, 4), torch.randn(3, 5, 4)
    z_a, _ = enc(xa)
    _, tokens_b = enc(xb)
    g_b = gram_style(tokens_b)
    g_c = g_b[torch.tensor([1, 2, 0])]
    return enc, dsc, z_a, g_b, g_c


def grads_of(module: nn.Module) -> list[torch.Tensor | None]:
    return [p.grad for p in module.parameters()]


def test_discriminator_step_trains_only_the_discriminator() -> None:
    enc, dsc, z_a, g_b, g_c = style_batch()
    loss, p_same, p_diff = discriminator_step_loss(dsc, z_a, g_b, g_c)
    with torch.no_grad():
        ls, ld = dsc(z_a, g_b).tolist(), dsc(z_a, g_c).tolist()
    ref = 0.5 * (sum(naive_bce(v, 1.0) for v in ls) / 3 + sum(naive_bce(v, 0.0) for v in ld) / 3)
    assert float(loss.detach()) == pytest.approx(ref, rel=1e-5)
    torch.testing.assert_close(p_same, torch.sigmoid(torch.tensor(ls)))
    assert not p_same.requires_grad and not p_diff.requires_grad
    loss.backward()
    assert all(gr is None for gr in grads_of(enc))  # encoder inputs were detached
    assert all(gr is not None and gr.abs().sum() > 0 for gr in grads_of(dsc))


def test_encoder_step_trains_only_the_encoder() -> None:
    enc, dsc, z_a, g_b, g_c = style_batch()
    e_same, e_diff = 0.8, 0.3
    loss = encoder_adversarial_loss(dsc, z_a, g_b, g_c, e_same, e_diff)
    with torch.no_grad():
        ls, ld = dsc(z_a, g_b).tolist(), dsc(z_a, g_c).tolist()
    # matched pairs pulled toward e_diff, unmatched toward e_same
    ref = 0.5 * (
        sum(naive_bce(v, e_diff) for v in ls) / 3 + sum(naive_bce(v, e_same) for v in ld) / 3
    )
    assert float(loss.detach()) == pytest.approx(ref, rel=1e-5)
    loss.backward()
    assert all(gr is None for gr in grads_of(dsc))  # the discriminator is frozen
    assert all(gr is not None and gr.abs().sum() > 0 for gr in grads_of(enc))


def test_adversarial_gradient_moves_outputs_toward_the_other_type() -> None:
    # d L / d logit = ½ (sigmoid(logit) − target) / B: positive when above the target
    logits_same = torch.tensor([2.0, 1.5], requires_grad=True)  # p ≈ 0.88, 0.82 > e_diff
    logits_diff = torch.tensor([-2.0, -1.0], requires_grad=True)  # p ≈ 0.12, 0.27 < e_same
    adversarial_bce(logits_same, logits_diff, e_same=0.7, e_diff=0.3).backward()
    assert (logits_same.grad > 0).all() and (logits_diff.grad < 0).all()
    expected = 0.5 * (torch.sigmoid(logits_same.detach()) - 0.3) / 2
    torch.testing.assert_close(logits_same.grad, expected)


def test_adversarial_gate() -> None:
    enc, dsc, z_a, g_b, g_c = style_batch()
    for e_same, e_diff in [(0.3, 0.8), (0.5, 0.5)]:
        loss = encoder_adversarial_loss(dsc, z_a, g_b, g_c, e_same, e_diff)
        assert float(loss) == 0.0 and not loss.requires_grad
    crit = StyleAdversarialLoss()
    assert not crit.ema.discriminator_winning()  # both start at 0.5
    assert float(crit(dsc, z_a, g_b, g_c)) == 0.0
    crit.ema.e_same.fill_(0.9)
    crit.ema.e_diff.fill_(0.2)
    loss = crit(dsc, z_a, g_b, g_c)
    assert loss.requires_grad
    torch.testing.assert_close(loss, encoder_adversarial_loss(dsc, z_a, g_b, g_c, 0.9, 0.2))


def test_ema_update_and_checkpoint() -> None:
    ema = StyleOutputEMA(momentum=0.1)
    ema.update(torch.tensor([1.0, 1.0]), torch.tensor([0.0, 0.2]))
    # e <- 0.9 e + 0.1 x
    assert float(ema.e_same) == pytest.approx(0.9 * 0.5 + 0.1 * 1.0)
    assert float(ema.e_diff) == pytest.approx(0.9 * 0.5 + 0.1 * 0.1)
    ema.update(torch.tensor([0.0]), torch.tensor([0.0]))
    assert float(ema.e_same) == pytest.approx(0.9 * 0.55)
    assert ema.discriminator_winning()
    state = StyleAdversarialLoss().state_dict()
    assert set(state) == {"ema.e_same", "ema.e_diff"}
    restored = StyleOutputEMA()
    restored.load_state_dict(ema.state_dict())
    assert float(restored.e_same) == float(ema.e_same)
    with pytest.raises(ConfigError):
        StyleOutputEMA(momentum=0.0)


def test_discriminator_loss_updates_ema_and_learns() -> None:
    # matched styles equal the clip's own style; a few discriminator steps open the gate
    torch.manual_seed(3)
    dsc = StyleDiscriminator(z_dim=4, g_dim=4, hidden=16)
    crit = StyleAdversarialLoss(momentum=0.5)
    opt = torch.optim.Adam(dsc.parameters(), lr=1e-2)
    z = torch.randn(8, 4)
    g_b = 0.01 * z  # the style tells which clip it belongs to
    assert not crit.ema.discriminator_winning()
    for _ in range(100):
        g_c = g_b[mismatched_index(8)]
        loss = crit.discriminator_loss(dsc, z, g_b, g_c)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert crit.ema.discriminator_winning()
    assert float(crit.ema.e_same) > 0.6 and float(crit.ema.e_diff) < 0.45


def test_mismatched_index() -> None:
    g = torch.Generator().manual_seed(0)
    seen = torch.zeros(4, 4)
    for _ in range(200):
        idx = mismatched_index(4, generator=g)
        assert idx.shape == (4,) and (idx != torch.arange(4)).all()
        seen[torch.arange(4), idx] += 1
    off = ~torch.eye(4, dtype=torch.bool)
    assert (seen[off] > 30).all() and (seen.diagonal() == 0).all()
    with pytest.raises(ConfigError, match="at least 2"):
        mismatched_index(1)


# ----------------------------------------------------------------------------- Eq. 13


def naive_eq13(logits, y, P, lam, eps, ignore=-1):  # type: ignore[no-untyped-def]
    total, n = 0.0, 0
    k = logits.shape[1]
    for row, label in zip(logits.tolist(), y.tolist(), strict=True):
        if label == ignore:
            continue
        m = max(row)
        log_z = m + math.log(sum(math.exp(v - m) for v in row))
        log_q = [v - log_z for v in row]
        target = [(1 - eps) * (c == label) + eps / k for c in range(k)]
        ce = -sum(t * lq for t, lq in zip(target, log_q, strict=True))
        p_row = P[label].tolist()
        kl = sum(p * (math.log(p) - lq) for p, lq in zip(p_row, log_q, strict=True) if p > 0)
        total += ce + lam * p_row[label] * kl
        n += 1
    return total / max(n, 1)


def random_distribution(k: int, g: torch.Generator) -> torch.Tensor:
    P = torch.softmax(torch.randn(k, k, generator=g, dtype=torch.float64), dim=1)
    P[0, 3] = 0.0  # a zero entry: its KL term is 0
    return P / P.sum(dim=1, keepdim=True)


@pytest.mark.parametrize(("lam", "eps"), [(0.2, 0.1), (1.0, 0.0)])
def test_class_distribution_kl_matches_naive_loop(lam: float, eps: float) -> None:
    g = torch.Generator().manual_seed(4)
    P = random_distribution(5, g)
    logits = torch.randn(6, 5, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 3, -1, 4, 0, 2])
    loss = class_distribution_kl_loss(logits, y, P, lam=lam, label_smoothing=eps)
    assert float(loss) == pytest.approx(naive_eq13(logits, y, P, lam, eps), rel=1e-10)
    module = ClassDistributionKLLoss(P, lam=lam, label_smoothing=eps)
    assert float(module(logits.float(), y)) == pytest.approx(float(loss), rel=1e-5)


def test_class_distribution_kl_reduces_to_cross_entropy() -> None:
    g = torch.Generator().manual_seed(5)
    P = random_distribution(4, g)
    logits, y = torch.randn(3, 4, generator=g, dtype=torch.float64), torch.tensor([1, 0, 3])
    ce = F.cross_entropy(logits, y, label_smoothing=0.1)
    torch.testing.assert_close(class_distribution_kl_loss(logits, y, P, lam=0.0), ce)
    # predictions equal to P_y: the KL term vanishes for every λ (rows 1-3 have no zero)
    y_pos = torch.tensor([1, 2, 3])
    torch.testing.assert_close(
        class_distribution_kl_loss(torch.log(P[y_pos]), y_pos, P, lam=5.0),
        F.cross_entropy(torch.log(P[y_pos]), y_pos, label_smoothing=0.1),
    )
    all_ignored = class_distribution_kl_loss(logits, torch.full((3,), -1), P)
    assert float(all_ignored) == 0.0


def test_class_distribution_kl_gradient_and_errors() -> None:
    g = torch.Generator().manual_seed(6)
    P = random_distribution(4, g)
    logits = torch.randn(3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    class_distribution_kl_loss(logits, torch.tensor([0, 1, 2]), P).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="K=4"):
        class_distribution_kl_loss(logits, torch.tensor([0, 1, 2]), P[:3, :3])
    with pytest.raises(DataError, match="sum to 1"):
        ClassDistributionKLLoss(torch.ones(3, 3))
    with pytest.raises(ConfigError, match="label smoothing"):
        ClassDistributionKLLoss(P, label_smoothing=1.0)
