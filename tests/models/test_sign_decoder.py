"""SignRep sign decoder (Eq. 1) and style discriminator: shapes, a manual forward pass, gradients."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from signssl.errors import ConfigError
from signssl.models.sign_decoder import SignDecoder
from signssl.models.style_discriminator import StyleDiscriminator, gram_style

PRIORS = {"hand_keypoints": 6, "body_angles": 4, "fingertip_distances": 5}


def tiny_decoder() -> SignDecoder:
    torch.manual_seed(0)
    return SignDecoder(
        in_dim=12,
        latent_dim=10,
        hidden=8,
        up_dim=7,
        num_frames=5,
        prior_dims=PRIORS,
        activity_hidden=6,
    )


def manual_decode(dec: SignDecoder, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
    """Eq. 1 written out with explicit per-frame loops over the decoder's parameters."""
    pooled = tokens.mean(dim=1)  # (B, N, D) -> (B, D)
    normed = F.layer_norm(pooled, (dec.in_dim,), dec.norm.weight, dec.norm.bias)
    z = normed @ dec.to_latent.weight.T + dec.to_latent.bias  # (B, latent)
    h = F.gelu(z @ dec.expand.weight[:, :, 0].T + dec.expand.bias)  # (B, hidden)
    out: dict[str, torch.Tensor] = {name: [] for name in PRIORS}  # type: ignore[misc]
    for t in range(dec.num_frames):
        # a transposed conv over a length-1 input: frame t uses kernel column t
        u_t = h @ dec.upsample.weight[:, :, t] + dec.upsample.bias  # (B, up_dim)
        for name, head in dec.heads.items():
            out[name].append(u_t @ head.weight.T + head.bias)  # (B, dim)
    priors = {name: torch.stack(v, dim=1) for name, v in out.items()}  # (B, T, dim)
    lin1, lin2 = dec.activity[0], dec.activity[2]
    activity = F.gelu(z @ lin1.weight.T + lin1.bias) @ lin2.weight.T + lin2.bias
    return {"latent": z, "activity": activity, **priors}


def test_shapes_and_manual_forward() -> None:
    dec = tiny_decoder()
    tokens = torch.randn(3, 9, 12)
    out = dec(tokens)
    ref = manual_decode(dec, tokens)
    assert out.latent.shape == (3, 10)
    assert out.activity_logits.shape == (3, 2)
    assert set(out.priors) == set(PRIORS)
    for name, dim in PRIORS.items():
        assert out.priors[name].shape == (3, 5, dim)
        torch.testing.assert_close(out.priors[name], ref[name])
    torch.testing.assert_close(out.latent, ref["latent"])
    torch.testing.assert_close(out.activity_logits, ref["activity"])
    # the frames are not copies of one another
    assert not torch.allclose(out.priors["body_angles"][:, 0], out.priors["body_angles"][:, 1])


def test_paper_sizes() -> None:
    dec = SignDecoder(prior_dims={"k": 3})
    assert (dec.to_latent.in_features, dec.to_latent.out_features) == (768, 768)
    assert tuple(dec.expand.weight.shape) == (512, 768, 1)
    assert tuple(dec.upsample.weight.shape) == (512, 384, 16)  # (in, out, kernel T_in)
    lins = [m for m in dec.activity.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lins] == [(768, 128), (128, 2)]


def test_token_order_invariance_and_batch_independence() -> None:
    dec = tiny_decoder()
    tokens = torch.randn(2, 7, 12)
    perm = torch.randperm(7)
    a, b = dec(tokens), dec(tokens[:, perm])
    torch.testing.assert_close(a.priors["hand_keypoints"], b.priors["hand_keypoints"])
    single = dec(tokens[1:])
    torch.testing.assert_close(single.activity_logits, a.activity_logits[1:])


def test_every_parameter_gets_gradient() -> None:
    dec = tiny_decoder()
    out = dec(torch.randn(2, 4, 12))
    loss = sum(p.square().mean() for p in out.priors.values()) + out.activity_logits.sum()
    loss.backward()
    for name, p in dec.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_state_dict_round_trip() -> None:
    dec = tiny_decoder()
    buf = io.BytesIO()
    torch.save(dec.state_dict(), buf)
    buf.seek(0)
    other = SignDecoder(
        in_dim=12,
        latent_dim=10,
        hidden=8,
        up_dim=7,
        num_frames=5,
        prior_dims=PRIORS,
        activity_hidden=6,
    )
    other.load_state_dict(torch.load(buf, weights_only=True))
    tokens = torch.randn(2, 3, 12)
    torch.testing.assert_close(
        other(tokens).priors["body_angles"], dec(tokens).priors["body_angles"]
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"prior_dims": {}},
        {"prior_dims": {"a.b": 3}},
        {"prior_dims": {"a": 0}},
        {"prior_dims": {"a": 3}, "num_frames": 0},
    ],
)
def test_bad_config_raises(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        SignDecoder(**kwargs)


def test_bad_tokens_raise() -> None:
    dec = tiny_decoder()
    with pytest.raises(ConfigError, match="in_dim"):
        dec(torch.randn(2, 4, 11))
    with pytest.raises(ConfigError):
        dec(torch.randn(2, 12))


# ----------------------------------------------------------------------------- style


def test_gram_style_matches_explicit_gram() -> None:
    x = torch.randn(3, 5, 4, dtype=torch.float64)
    g = gram_style(x)
    for b in range(3):
        gram = x[b].T @ x[b] / 5  # (D, D)
        torch.testing.assert_close(g[b], gram.mean(dim=0))
        torch.testing.assert_close(g[b], gram.mean(dim=1))  # symmetric: either axis
    # a single token whose channels sum to zero has a zero style vector
    assert torch.allclose(gram_style(torch.tensor([[[1.0, -1.0]]])), torch.zeros(1, 2))


def test_discriminator_structure() -> None:
    dsc = StyleDiscriminator(z_dim=6, g_dim=5, hidden=8)
    judge_linears = [m for m in dsc.judge if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in judge_linears] == [
        (12, 8),
        (8, 8),
        (8, 8),
        (8, 1),
    ]
    assert all(parametrize.is_parametrized(m, "weight") for m in judge_linears)
    assert sum(isinstance(m, nn.GELU) for m in dsc.judge) == 3
    assert isinstance(dsc.judge[-1], nn.Linear)  # no activation after the last layer
    style_linears = [m for m in dsc.style if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in style_linears] == [(5, 8), (8, 6)]
    assert isinstance(dsc.style[-1], nn.LayerNorm)


def test_discriminator_output_and_scale() -> None:
    torch.manual_seed(1)
    dsc = StyleDiscriminator(z_dim=6, g_dim=5, hidden=8).eval()
    z, g = torch.randn(4, 6), torch.randn(4, 5)
    logits = dsc(z, g)
    assert logits.shape == (4,)
    p = dsc.prob(z, g)
    assert ((p > 0) & (p < 1)).all()
    torch.testing.assert_close(p, torch.sigmoid(logits))
    # the style enters scaled by 100: a unit-scale copy with 100·g gives the same output
    plain = StyleDiscriminator(z_dim=6, g_dim=5, hidden=8, style_scale=1.0).eval()
    plain.load_state_dict(dsc.state_dict())
    torch.testing.assert_close(plain(z, 100.0 * g), logits)


def test_spectral_norm_bounds_the_judge() -> None:
    torch.manual_seed(2)
    dsc = StyleDiscriminator(z_dim=6, g_dim=5, hidden=8)
    with torch.no_grad():
        for m in dsc.judge:
            if isinstance(m, nn.Linear):
                m.parametrizations.weight.original.mul_(10.0)
        for _ in range(30):  # power iterations run in training mode
            dsc(torch.randn(2, 6), torch.randn(2, 5))
        for m in dsc.judge:
            if isinstance(m, nn.Linear):
                sigma = torch.linalg.matrix_norm(m.weight, ord=2)
                assert float(sigma) == pytest.approx(1.0, abs=1e-3)


def test_discriminator_bad_shapes_raise() -> None:
    dsc = StyleDiscriminator(z_dim=6, g_dim=5, hidden=8)
    with pytest.raises(ConfigError):
        dsc(torch.randn(2, 6), torch.randn(3, 5))
    with pytest.raises(ConfigError, match="g_dim=5"):
        dsc(torch.randn(2, 6), torch.randn(2, 4))


def test_per_time_readout_decodes_each_temporal_token_into_its_own_frames() -> None:
    """readout="per_time": frames 2t, 2t+1 (T_in = 2 T') depend on by_time[:, t] only, by
    u_t = MLP(LN(x̄_t)); z is still Eq. 1's pooled latent."""
    torch.manual_seed(0)
    dec = SignDecoder(in_dim=12, latent_dim=10, hidden=8, up_dim=7, num_frames=6,
                      prior_dims=PRIORS, activity_hidden=6, readout="per_time")  # fmt: skip
    tokens, by_time = torch.randn(2, 9, 12), torch.randn(2, 3, 12)
    out = dec(tokens, by_time)
    assert out.priors["hand_keypoints"].shape == (2, 6, 6) and out.latent.shape == (2, 10)
    assert torch.allclose(out.latent, dec.encode(tokens))
    changed = by_time.clone()
    changed[:, 1] += torch.linspace(-1.0, 1.0, 12)  # a constant shift would vanish in the LN
    diff = (dec(tokens, changed).priors["body_angles"] - out.priors["body_angles"]).abs()
    assert diff[:, 2:4].gt(1e-6).all() and diff[:, [0, 1, 4, 5]].max() == 0
    mlp = dec.time_mlp
    ref = mlp[3](F.gelu(mlp[1](F.layer_norm(by_time[:, 2], (12,), mlp[0].weight, mlp[0].bias))))
    assert torch.allclose(out.priors["hand_keypoints"][:, 5],
                          ref @ dec.heads["hand_keypoints"].weight.T + dec.heads["hand_keypoints"].bias,
                          atol=1e-6)  # fmt: skip
    with pytest.raises(ConfigError, match="needs by_time"):
        dec(tokens)
    with pytest.raises(ConfigError, match="T' dividing"):
        dec(tokens, torch.randn(2, 4, 12))
    with pytest.raises(ConfigError, match="unknown decoder readout"):
        SignDecoder(in_dim=12, num_frames=6, prior_dims=PRIORS, readout="grid")
