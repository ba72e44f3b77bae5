"""The ``masa`` recipe: training_loss, switches, InfoNCE use, queue, EMA, λ_s ramp, steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import yaml
from masa_helpers import synthetic_batch

from signssl.engine.config import builtin_config_path, deep_merge, load_config
from signssl.errors import ConfigError
from signssl.methods import create_method, list_methods, method_options
from signssl.methods.masa import MASA, semantic_weight
from signssl.models import create_model

SMALL: dict[str, Any] = dict(decoder_depth=1, proj_dim=16, queue_size=32)


def build(**kw: Any) -> MASA:
    torch.manual_seed(0)
    method = create_method("masa", create_model("masa_test"), **{**SMALL, **kw})
    assert isinstance(method, MASA)
    return method


def test_registered_with_paper_defaults() -> None:
    assert "masa" in list_methods()
    opts = method_options("masa")
    assert (
        opts["interval"],
        opts["mask_ratio"],
        opts["motion_threshold"],
        opts["candidate_ratio"],
    ) == (3, 0.9, 5.0, 0.5)
    assert (opts["queue_size"], opts["temperature"], opts["momentum"], opts["lambda_s"]) == (
        6144,
        0.07,
        0.996,
        0.05,
    )
    assert opts["keep_ratio"] == 0.5 and opts["loss_norm"] == "l2"
    assert opts["boundary_permutation"] is False and opts["spatial_aug"] is False
    with pytest.raises(ConfigError, match="MASA encoder"):
        create_method("masa", create_model("pose_transformer_test"))
    with pytest.raises(ConfigError, match="masking"):
        build(masking="tube")


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"masking": "random"},
        {"target": "joints"},
        {"semantic_alignment": False},
        {"per_part": True, "loss_norm": "l1", "motion_weight": 10.0},
    ],
)
def test_training_loss_backprop(kw: dict[str, Any]) -> None:
    method = build(**kw)
    batch = synthetic_batch(B=4, T=20, seed=0)
    out = method.training_loss(batch)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    assert out["embedding"].shape[0] == 4 and not out["embedding"].requires_grad
    if kw.get("semantic_alignment", True):  # the encoder output, next to the projection q
        assert out["features"].shape == (4, method.encoder.out_dim)
    assert 0 < float(out["mask_ratio"]) <= float(out["candidate_ratio"])
    out["loss"].backward()
    trainable = [p for g in method.param_groups() for p in g["params"]]
    assert trainable and all(p.grad is not None for p in trainable)
    assert all(not p.requires_grad for n, p in method.named_parameters() if n.startswith("key_"))
    if kw.get("semantic_alignment", True):
        assert float(out["lambda_s"]) == 0.0  # ramp starts at 0
    else:
        assert not hasattr(method, "key_encoder")


def test_mixed_precision_autocast() -> None:
    method = build()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = method.training_loss(synthetic_batch(B=3, T=12, seed=1))
    assert torch.isfinite(out["loss"])
    out["loss"].backward()


def test_random_masking_masks_as_many_frames_as_motion_masking() -> None:
    batch = synthetic_batch(B=4, T=20, seed=2)
    motion, rnd = build(semantic_alignment=False), build(semantic_alignment=False, masking="random")
    inp = motion.encoder.preprocess(batch)
    m_mask, cand, _, _ = motion.make_mask(inp)
    r_mask, _, _, _ = rnd.make_mask(inp)
    assert (m_mask <= cand).all()
    assert m_mask.sum(1).tolist() == r_mask.sum(1).tolist()
    assert not torch.equal(m_mask, r_mask)


def test_info_nce_matches_naive_formula_with_queue() -> None:
    # no masking and the whole clip as key view: q and k are deterministic
    method = build(mask_ratio=0.0, keep_ratio=1.0, queue_size=8)
    with torch.no_grad():  # a key network unlike the query network: a loss far from 0
        for p in method.key_projector.parameters():
            p.add_(0.5 * torch.randn_like(p))
    batch = synthetic_batch(B=3, T=12, seed=3)
    queue = method.queue.queue.clone()
    out = method.training_loss(batch)
    with torch.no_grad():
        q = F.normalize(method.projector(method.encoder.embed(batch)), dim=-1)
        k = F.normalize(method.key_projector(method.key_encoder.embed(batch)), dim=-1)
    tau = 0.07
    q, k, queue = q.double(), k.double(), queue.double()
    naive = []
    for i in range(3):
        pos = torch.exp(q[i] @ k[i] / tau)
        neg = sum(torch.exp(q[i] @ n / tau) for n in queue)
        naive.append(-torch.log(pos / (pos + neg)))
    assert float(out["loss_semantic"]) == pytest.approx(float(torch.stack(naive).mean()), rel=1e-4)
    assert float(out["loss_motion"]) == 0.0  # nothing masked


def test_queue_is_fifo_of_the_keys() -> None:
    method = build(keep_ratio=1.0, queue_size=5)
    b1, b2 = synthetic_batch(B=3, T=12, seed=1), synthetic_batch(B=3, T=12, seed=7)
    keys = []
    for b in (b1, b2):
        method.training_loss(b)
        with torch.no_grad():
            keys.append(F.normalize(method.key_projector(method.key_encoder.embed(b)), dim=-1))
    ordered = method.queue.ordered()
    assert torch.allclose(ordered[-3:], keys[1], atol=1e-5)
    assert torch.allclose(ordered[:2], keys[0][1:], atol=1e-5)  # the oldest key left first
    method.eval()
    before = method.queue.queue.clone()
    method.training_loss(b1)
    assert torch.equal(method.queue.queue, before)  # evaluation does not enqueue


def test_ema_update_and_lambda_ramp() -> None:
    method = build(momentum=0.9, lambda_s=0.05, lambda_s_ramp=0.25)
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(torch.randn_like(p))
        for p in method.projector.parameters():
            p.add_(torch.randn_like(p))
    key_before = [p.clone() for p in method.key_encoder.parameters()]
    proj_before = [p.clone() for p in method.key_projector.parameters()]
    method.on_step_end(10, 100)
    for kb, ka, q in zip(
        key_before, method.key_encoder.parameters(), method.encoder.parameters(), strict=True
    ):
        assert torch.allclose(ka, 0.9 * kb + 0.1 * q, atol=1e-6)
    for kb, ka, q in zip(
        proj_before, method.key_projector.parameters(), method.projector.parameters(), strict=True
    ):
        assert torch.allclose(ka, 0.9 * kb + 0.1 * q, atol=1e-6)
    assert float(method.lambda_now) == pytest.approx(0.05 * 10 / 25)
    out = method.training_loss(synthetic_batch(B=3, T=12, seed=3))
    assert out["loss"].item() == pytest.approx(
        float(out["loss_motion"]) + 0.02 * float(out["loss_semantic"]), rel=1e-5
    )
    assert "lambda_now" in method.state_dict()  # restored on resume


def test_semantic_weight_ramp() -> None:
    assert semantic_weight(0, 400, 0.05, 0.25) == 0.0
    assert semantic_weight(50, 400, 0.05, 0.25) == pytest.approx(0.025)
    assert semantic_weight(100, 400, 0.05, 0.25) == pytest.approx(0.05)
    assert semantic_weight(399, 400, 0.05, 0.25) == pytest.approx(0.05)
    assert semantic_weight(0, 400, 0.05, 0.0) == pytest.approx(0.05)


@pytest.mark.parametrize("semantic_alignment", [False, True])
def test_a_few_steps_reduce_the_loss(semantic_alignment: bool) -> None:
    method = build(semantic_alignment=semantic_alignment, lambda_s_ramp=0.0, lambda_s=0.05)
    batch = synthetic_batch(B=4, T=16, seed=0)
    opt = torch.optim.AdamW([p for g in method.param_groups() for p in g["params"]], lr=3e-3)
    losses = []
    for step in range(25):
        method._generator = torch.Generator().manual_seed(0)  # the same masks every step
        out = method.training_loss(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        method.on_step_end(step + 1, 25)
        losses.append(float(out["loss_motion"]))
    assert losses[-1] < 0.5 * losses[0]


def test_builtin_config_and_tiny_overlay(tmp_path: Path) -> None:
    cfg = load_config("masa")
    assert cfg.method.name == "masa" and cfg.model.name == "masa_paper"
    assert set(cfg.method.kwargs) <= set(method_options("masa"))
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.betas, cfg.optim.schedule) == (
        "adamw",
        1e-4,
        (0.9, 0.95),
        "linear",
    )
    assert cfg.trainer.max_epochs == 400 and cfg.method.kwargs["lambda_s_ramp"] == 0.25
    assert cfg.data.layout == cfg.model.kwargs["layout"] == "masa49"
    assert cfg.data.normalize == "none"  # the encoder normalises its input itself
    section = yaml.safe_load(builtin_config_path("masa").read_text())["profiles"]["tiny"]
    overlay = {k: v for k, v in yaml.safe_load(builtin_config_path("tiny").read_text()).items()
               if k != "model"}  # masa's own model replaces the profile's  # fmt: skip
    user = tmp_path / "masa_tiny.yaml"
    user.write_text(yaml.safe_dump(deep_merge(overlay, section)))
    small = load_config("masa", user)
    assert small.model.name == "masa_tiny" and small.data.max_frames == 32
    assert small == load_config("masa", "tiny")  # what --config tiny resolves to
    enc = create_model(small.model.name, **small.model.kwargs)
    create_method("masa", enc, **small.method.kwargs)


@pytest.mark.parametrize("key_view", ["temporal", "augmented"])
def test_key_view_input(key_view: str, monkeypatch: pytest.MonkeyPatch) -> None:
    method = build(spatial_aug=True, key_view=key_view, keep_ratio=1.0)
    prepared: list[Any] = []  # every MASA-49 input built in one step, in order
    keys: list[Any] = []  # the input of the key branch
    preprocess, key_embedding = method.encoder.preprocess, method.key_embedding

    def spy_preprocess(b: Any) -> Any:
        prepared.append(preprocess(b))
        return prepared[-1]

    def spy_key(inp: Any) -> torch.Tensor:
        keys.append(inp)
        return key_embedding(inp)

    monkeypatch.setattr(method.encoder, "preprocess", spy_preprocess)
    monkeypatch.setattr(method, "key_embedding", spy_key)
    out = method.training_loss(synthetic_batch(B=3, T=12, seed=4))
    assert torch.isfinite(out["loss"]) and len(keys) == 1
    if key_view == "temporal":  # paper: the key sees the query's (augmented) input
        assert len(prepared) == 1 and keys[0] is prepared[0]
    else:  # a second, independent view of the batch
        assert len(prepared) == 2 and keys[0] is prepared[1]
        assert not torch.allclose(prepared[0].x, prepared[1].x)


def test_augmented_key_view_needs_a_view_option() -> None:
    with pytest.raises(ConfigError, match="key_view 'augmented'"):
        build(key_view="augmented")
    with pytest.raises(ConfigError, match="key_view must be one of"):
        build(key_view="spatial")
    with pytest.raises(ConfigError, match="semantic_alignment=false"):
        build(key_view="augmented", temporal_p=1.0, semantic_alignment=False)


@pytest.mark.parametrize(
    "kw, draws",
    [({}, 0), ({"temporal_p": 1.0}, 1), ({"signing_space": 0.2}, 1),
     ({"temporal_p": 1.0, "key_view": "augmented"}, 2)],
)  # fmt: skip
def test_every_view_option_turns_augmentation_on(
    kw: dict[str, Any], draws: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    method = build(**kw)
    calls: list[int] = []
    augment = method.augment
    monkeypatch.setattr(method, "augment", lambda b: calls.append(1) or augment(b))
    method.training_loss(synthetic_batch(B=3, T=12, seed=5))
    assert len(calls) == draws


def test_var_cov_weights_add_the_spread_of_the_pooled_features() -> None:
    """``var_weight`` / ``cov_weight`` add ``λ_var L_var + λ_cov L_cov`` of the pooled
    encoder features to the loss (same masks, queue and weights as the plain run)."""
    from signssl.losses.variance_covariance import covariance_loss, variance_loss

    batch = synthetic_batch()
    plain, reg = build(), build(var_weight=2.0, cov_weight=0.5)
    a, b = plain.training_loss(batch), reg.training_loss(batch)
    assert "var" not in a and float(b["var"]) > 0
    torch.testing.assert_close(b["features"], a["features"])
    torch.testing.assert_close(b["var"], variance_loss(b["features"]))
    torch.testing.assert_close(b["cov"], covariance_loss(b["features"]))
    expected = a["loss"] + 2.0 * b["var"] + 0.5 * b["cov"]
    torch.testing.assert_close(b["loss"], expected, atol=1e-5, rtol=1e-5)
    with pytest.raises(ConfigError, match="var_weight"):
        build(cov_weight=-1.0)


def test_flat_options_reach_their_groups() -> None:
    """A config's flat keys land in MASA's option groups; the groups' own checks run."""
    from signssl.methods.masa_options import DecoderSize, MotionMasking, SemanticAlignment

    method = build(mask_ratio=0.5, interval=2, lambda_s=0.2, decoder_depth=2, var_weight=1.0)
    assert method.motion == MotionMasking(mask_ratio=0.5, interval=2)
    assert method.alignment == SemanticAlignment(lambda_s=0.2, proj_dim=16, queue_size=32)
    assert len(method.decoder.blocks) == DecoderSize(decoder_depth=2).decoder_depth
    assert method.spread is not None and build().spread is None
    assert set(method_options("masa")) >= {"mask_ratio", "decoder_dim", "lambda_s", "cov_weight"}
    assert not {"motion", "decoder", "alignment", "spread"} & set(method_options("masa"))
    with pytest.raises(ConfigError, match="keep_ratio"):
        build(keep_ratio=0.0)
    with pytest.raises(ConfigError, match="has no option"):
        build(motion=MotionMasking())  # groups are built from the flat keys, not passed in
