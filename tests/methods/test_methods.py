"""Method recipes: interface, backprop, a few SGD steps, momentum, queue, registry."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from signssl.engine.config import load_config
from signssl.errors import ConfigError
from signssl.methods import create_method, list_methods, method_options, normalized_std
from signssl.methods.base import cosine_momentum, ema_update, make_target
from signssl.models import create_model

# small heads for the tests below that name their recipe, so a step takes milliseconds
HEADS: dict[str, dict[str, Any]] = {
    "sl_fpn": dict(proj_hidden_dim=64, proj_dim=16, pred_hidden_dim=64),
    "simclr": dict(proj_dim=16),
    "moco": dict(proj_hidden_dim=64, proj_dim=16, queue_size=24),
    "byol": dict(proj_hidden_dim=64, proj_dim=16, pred_hidden_dim=64),
}
#: the recipes that train the tiny profile's pose transformer (the others bring their own
#: encoder and have their own tests; every recipe runs in test_registered_methods.py)
TRANSFORMER_METHODS = [
    name for name in list_methods()
    if load_config(name, "tiny").model.name == load_config("simclr", "tiny").model.name
]  # fmt: skip
J = 49


def make_batch(B: int = 6, T: int = 16, seed: int = 0) -> dict[str, Any]:
    g = torch.Generator().manual_seed(seed)
    x = 0.5 * torch.randn(B, T, J, 2, generator=g)
    conf = torch.rand(B, T, J, generator=g)
    conf[conf < 0.1] = 0.0
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    frame_mask = torch.arange(T)[None, :] >= lengths[:, None]
    conf = conf.masked_fill(frame_mask[..., None], 0.0)
    x = x * (conf > 0)[..., None]
    return {
        "x": x,
        "conf": conf,
        "frame_mask": frame_mask,
        "label": torch.zeros(B, dtype=torch.long),
        "length": lengths,
        "path": [f"c{i}" for i in range(B)],
        "signer": ["s"] * B,
    }


def build(name: str, **kw: Any):
    """``name`` on the test-size transformer with :data:`HEADS` (else its tiny-profile
    options: ``--config tiny``)."""
    options = HEADS[name] if name in HEADS else load_config(name, "tiny").method.kwargs
    torch.manual_seed(0)
    return create_method(name, create_model("pose_transformer_test"), **{**options, **kw})


def test_registry() -> None:
    assert {"sl_fpn", "simclr", "moco", "simsiam", "byol"} <= set(TRANSFORMER_METHODS)
    opts = method_options("sl_fpn")
    assert opts["use_predictor"] is True and opts["b_s"] == pytest.approx(1 / 3)
    assert opts["boundary_permutation"] is True and opts["b_s_frames"] is None
    perm = build("sl_fpn", b_s_frames=4, b_e_frames=0).view_transform.transforms[0]
    assert (perm.b_s_frames, perm.b_e_frames) == (4, 0)
    enc = create_model("pose_transformer_test")
    with pytest.raises(ConfigError, match="unknown method 'not_a_method'; known: .*simclr"):
        create_method("not_a_method", enc)
    with pytest.raises(ConfigError, match="no option"):
        create_method("simclr", enc, temprature=0.1)


@pytest.mark.parametrize("name", TRANSFORMER_METHODS)
def test_training_loss_backprop_and_sgd_steps(name: str) -> None:
    method = build(name)
    batch = make_batch()
    out = method.training_loss(batch)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    emb = out["embedding"]
    assert emb.ndim == 2 and emb.shape[0] == 6 and not emb.requires_grad
    feats = out["features"]  # the encoder-side collapse monitor reads the encoder output
    assert feats.shape == (6, method.encoder.out_dim) and not feats.requires_grad
    out["loss"].backward()
    params = [p for g in method.param_groups() for p in g["params"]]
    assert all(p.grad is not None for p in method.encoder.parameters())
    assert sum(float(p.grad.abs().sum()) for p in method.encoder.parameters()) > 0
    # a few SGD steps on the same batch
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    losses = []
    for step in range(6):
        opt.zero_grad()
        loss = method.training_loss(batch)["loss"]
        loss.backward()
        opt.step()
        method.on_step_end(step, 6)
        losses.append(float(loss.detach()))
    assert all(math.isfinite(v) for v in losses)
    if name != "moco":  # MoCo's queue fills with harder keys as it trains
        assert min(losses[-2:]) < losses[0]


def test_param_groups_exclude_targets_and_cover_trainables() -> None:
    for name in ("moco", "byol", "sl_fpn"):
        method = build(name)
        grouped = [p for g in method.param_groups() for p in g["params"]]
        assert len({id(p) for p in grouped}) == len(grouped)  # each parameter once
        trainable = {id(p) for p in method.parameters() if p.requires_grad}
        assert {id(p) for p in grouped} == trainable
        enc_ids = {id(p) for p in method.encoder.parameters()}
        assert {id(p) for p in method.param_groups()[0]["params"]} == enc_ids
    moco = build("moco")
    assert not any(p.requires_grad for p in moco.key_encoder.parameters())


def test_momentum_update_is_ema() -> None:
    method = build("moco", momentum=0.9)
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(torch.randn_like(p))  # online moves away from the key copy
    old_key = [p.clone() for p in method.key_encoder.parameters()]
    online = [p.clone() for p in method.encoder.parameters()]
    method.on_step_end(0, 10)
    for k_new, k_old, q in zip(method.key_encoder.parameters(), old_key, online, strict=True):
        torch.testing.assert_close(k_new, 0.9 * k_old + 0.1 * q)


def test_byol_cosine_schedule_and_target_update() -> None:
    assert cosine_momentum(0, 100, 0.996) == pytest.approx(0.996)
    assert cosine_momentum(100, 100, 0.996) == pytest.approx(1.0)
    assert cosine_momentum(50, 100, 0.996) == pytest.approx((1 + 0.996) / 2)
    assert cosine_momentum(25, 100, 0.9) == pytest.approx(1 - 0.1 * (math.cos(math.pi / 4) + 1) / 2)
    method = build("byol", base_momentum=0.5)
    with torch.no_grad():
        for p in method.projector.parameters():
            p.mul_(3.0)
    old = [p.clone() for p in method.target_projector.parameters()]
    method.on_step_end(25, 100)
    tau = cosine_momentum(25, 100, 0.5)
    assert method.momentum == pytest.approx(tau)
    for t_new, t_old, o in zip(
        method.target_projector.parameters(), old, method.projector.parameters(), strict=True
    ):
        torch.testing.assert_close(t_new, tau * t_old + (1 - tau) * o)


def test_ema_update_and_frozen_copy() -> None:
    a = torch.nn.Linear(3, 2)
    t = make_target(a)
    assert not any(p.requires_grad for p in t.parameters())
    with torch.no_grad():
        a.weight.fill_(1.0)
        t.weight.fill_(0.0)
    ema_update(t, a, 0.75)
    torch.testing.assert_close(t.weight, torch.full((2, 3), 0.25))


def test_moco_enqueues_the_keys() -> None:
    method = build("moco")
    before = method.queue.ordered().clone()
    method.training_loss(make_batch(B=5))
    after = method.queue.ordered()
    assert int(method.queue.ptr) == 5
    torch.testing.assert_close(after[:-5], before[5:])  # FIFO: oldest 5 gone
    torch.testing.assert_close(after[-5:].norm(dim=1), torch.ones(5))
    method.eval()
    method.training_loss(make_batch(B=5))
    assert int(method.queue.ptr) == 5  # no enqueue outside training


def test_sl_fpn_ablation_switches() -> None:
    full = build("sl_fpn")
    assert full.predictor is not None and full.stop_gradient
    ab = build("sl_fpn", use_predictor=False, stop_gradient=False, input_layernorm=False)
    assert ab.predictor is None and not ab.stop_gradient and ab.encoder._use_input_norm is False
    out = ab.training_loss(make_batch())
    assert set(out) == {"loss", "embedding", "features", "pair", "original", "predictor"}
    torch.testing.assert_close(
        out["loss"].detach(), out["pair"] + out["original"] + out["predictor"]
    )


def test_sl_fpn_original_clip_is_not_augmented() -> None:
    method = build("sl_fpn").eval()  # eval: no dropout, BN running stats
    batch = make_batch()
    z0 = method.training_loss(batch)["embedding"]
    expected = method.projector(method.encoder.embed(batch)).detach()
    torch.testing.assert_close(z0, expected, atol=1e-5, rtol=1e-5)


def _views(method: Any, batch: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` views drawn by a fresh generator with the method's seed (rank 0): the
    reference for which clips a training step sees."""
    g = torch.Generator().manual_seed(method.seed)
    x = method.prepare(batch)
    return [method.view_transform(x, g) for _ in range(n)]


@pytest.mark.parametrize(
    ("branches", "places"),
    [("original", ["x", 0, 1]), ("no_original", [2, 0, 1]), ("swapped", [0, "x", 1])],
)
def test_sl_fpn_branches_choose_the_clips_of_each_place(branches: str, places: list[Any]) -> None:
    """Paper §7: the original clip, views t1(x), t2(x) (and t3(x) without the original)
    enter the places (x, x1, x2) of Eq. 1/2, and the three terms use exactly those."""
    method = build("sl_fpn", branches=branches, seed=3).eval()  # eval: no dropout, BN stats
    batch = make_batch()
    views = _views(method, batch, 3)
    expected = [method.prepare(batch) if p == "x" else views[p] for p in places]
    seen: list[list[dict[str, Any]]] = []
    encode = method.encode
    method.encode = lambda vs: seen.append(vs) or encode(vs)  # spy on the encoder's input
    out = method.training_loss(batch)
    assert len(seen) == 1 and len(seen[0]) == 3
    for got, want in zip(seen[0], expected, strict=True):
        assert torch.equal(got["x"], want["x"]) and torch.equal(got["frame_mask"], want["frame_mask"])
    assert not torch.equal(views[0]["x"], views[1]["x"])  # the views are distinct draws
    with torch.no_grad():
        z0, z1, z2 = (method.projector(method.encoder.embed(v)) for v in expected)
        p0 = method.predictor(z0)
    torch.testing.assert_close(out["pair"], F.mse_loss(z1, z2), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["original"], F.mse_loss(z0, z1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out["predictor"], F.mse_loss(p0, z2), atol=1e-5, rtol=1e-5)


def test_sl_fpn_branches_without_augmentation_and_unknown_value() -> None:
    """Without boundary permutation and spatial views every place holds the clip itself;
    an unknown setting names the known ones."""
    method = build("sl_fpn", branches="no_original", boundary_permutation=False, spatial_aug=False)
    batch = make_batch()
    for view in method.branch_inputs(method.prepare(batch)):
        assert torch.equal(view["x"], batch["x"])
    with pytest.raises(ConfigError, match="known: original, no_original, swapped"):
        build("sl_fpn", branches="not_a_setting")
    assert method_options("sl_fpn")["branches"] == "original"


def test_batch_of_one_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="at least 2 clips"):
        build("simclr").training_loss(make_batch(B=1))


def test_normalized_std() -> None:
    assert float(normalized_std(torch.ones(8, 16))) == pytest.approx(0.0, abs=1e-7)
    z = torch.randn(4000, 64, generator=torch.Generator().manual_seed(0))
    assert float(normalized_std(z)) == pytest.approx(1 / math.sqrt(64), rel=0.02)


def test_sl_fpn_l2_normalize_option_is_scale_free() -> None:
    """With ``l2_normalize`` each term is 2 - 2 cos over D: scaling the projector's last
    layer (so every projection grows) leaves the loss unchanged."""
    method = build("sl_fpn", l2_normalize=True, use_predictor=False).eval()
    batch = make_batch()
    torch.manual_seed(0)
    before = method.training_loss(batch)
    last = [m for m in method.projector.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.mul_(3.0)
        if last.bias is not None:
            last.bias.mul_(3.0)
    method._generator = None  # same augmentation draws
    after = method.training_loss(batch)
    torch.testing.assert_close(after["loss"], before["loss"], atol=1e-5, rtol=1e-5)
    z = F.normalize(after["embedding"], dim=-1)
    assert float(after["original"]) <= 4.0 / z.shape[1] + 1e-6  # ||a - b||^2 <= 4 per row


def _naive_spread(h: torch.Tensor) -> tuple[float, float]:
    """Variance hinge and off-diagonal covariance of ``h`` (B, D) by explicit loops."""
    B, D = h.shape
    rows = h.double().tolist()
    means = [sum(r[j] for r in rows) / B for j in range(D)]
    var = 0.0
    cov = [[0.0] * D for _ in range(D)]
    for i in range(D):
        for j in range(D):
            cov[i][j] = sum((r[i] - means[i]) * (r[j] - means[j]) for r in rows) / (B - 1)
    for j in range(D):
        var += max(0.0, 1.0 - math.sqrt(cov[j][j] + 1e-4)) / D
    off = sum(cov[i][j] ** 2 for i in range(D) for j in range(D) if i != j) / D
    return var, off


def test_sl_fpn_feature_spread_terms_match_naive_loops() -> None:
    g = torch.Generator().manual_seed(3)
    hs = tuple(torch.randn(5, 4, generator=g) * s for s in (0.3, 1.0, 2.0))
    terms = build("sl_fpn").feature_spread_terms(hs)
    naive = [_naive_spread(h) for h in hs]
    assert float(terms["var"]) == pytest.approx(sum(v for v, _ in naive) / 3, rel=1e-5)
    assert float(terms["cov"]) == pytest.approx(sum(c for _, c in naive) / 3, rel=1e-5)


def test_sl_fpn_var_cov_weights_add_their_terms_to_the_loss() -> None:
    batch = make_batch()
    plain = build("sl_fpn", l2_normalize=True).eval()
    reg = build("sl_fpn", l2_normalize=True, var_weight=2.0, cov_weight=0.5).eval()
    reg.load_state_dict(plain.state_dict())
    a, b = plain.training_loss(batch), reg.training_loss(batch)
    assert "var" not in a and float(b["var"]) > 0
    expected = a["loss"] + 2.0 * b["var"] + 0.5 * b["cov"]
    torch.testing.assert_close(b["loss"], expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ConfigError, match="var_weight"):
        build("sl_fpn", var_weight=-1.0)
