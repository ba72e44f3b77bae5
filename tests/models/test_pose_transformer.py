"""Pose transformer: every registered size, padding/mask invariance, save/load, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from signssl.errors import ConfigError, DataError
from signssl.models import create_model, list_models
from signssl.models.pose_transformer import Block, PoseTransformer, sinusoidal_table

# the 38M-parameter paper size runs with -m slow; its configuration is checked below
SIZES = [
    pytest.param(n, marks=pytest.mark.slow) if n == "pose_transformer_paper" else n
    for n in list_models("pose_transformer")
]
J = 49  # masa49


def make_batch(B: int = 3, T: int = 12, C: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random batch with missing joints and padded tails (lengths T, T-4, T-7)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, J, C, generator=g)
    conf = torch.rand(B, T, J, generator=g)
    conf[conf < 0.15] = 0.0
    conf[0, :, 7:28] = 0.0  # sample 0 has no left hand at all
    lengths = torch.tensor([T, T - 4, T - 7][:B])
    frame_mask = torch.arange(T)[None, :] >= lengths[:, None]
    conf = conf.masked_fill(frame_mask[..., None], 0.0)
    x = x * (conf > 0)[..., None]
    return {"x": x, "conf": conf, "frame_mask": frame_mask}


def small(name: str, **kw: object) -> PoseTransformer:
    torch.manual_seed(0)
    model = create_model(name, **kw)
    assert isinstance(model, PoseTransformer)
    return model


def test_sizes_registered() -> None:
    assert {
        "pose_transformer_paper",
        "pose_transformer_small",
        "pose_transformer_tiny",
        "pose_transformer_test",
    } <= set(list_models("pose_transformer"))
    paper = create_model("pose_transformer_paper")
    assert (len(paper.blocks), paper.blocks[0].heads, paper.out_dim, paper.max_frames) == (
        12,
        8,
        512,
        64,
    )
    assert paper.blocks[0].attn_dropout == 0.1


@pytest.mark.parametrize("name", SIZES)
def test_shapes_finite_and_all_parameters_get_gradients(name: str) -> None:
    model = small(name)
    batch = make_batch()
    tokens = model.forward_features(batch)
    assert tokens.shape == (3, 12, model.out_dim)
    emb = model.embed(batch)
    assert emb.shape == (3, model.out_dim) and torch.isfinite(emb).all()
    w = torch.randn(model.out_dim, generator=torch.Generator().manual_seed(1))
    (emb @ w).sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not no_grad, f"parameters without gradient: {no_grad}"
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(batch), model.embed(batch))  # forward = embed
        # embed = masked mean of the tokens over valid frames, by a naive loop
        tokens = model.forward_features(batch)
        torch.testing.assert_close(model.pool(tokens), model.embed(batch))
        for b in range(3):
            n = int((~batch["frame_mask"][b]).sum())
            torch.testing.assert_close(model.embed(batch)[b], tokens[b, :n].mean(0))


@pytest.mark.parametrize("name", SIZES)
def test_padding_invariance(name: str) -> None:
    model = small(name).eval()
    batch = make_batch()
    emb = model.embed(batch)
    # each clip alone, cut to its valid length, gives the same embedding
    for b in range(3):
        n = int((~batch["frame_mask"][b]).sum())
        alone = {k: v[b : b + 1, :n] for k, v in batch.items()}
        torch.testing.assert_close(model.embed(alone)[0], emb[b], atol=1e-5, rtol=1e-5)
    # garbage in padded frames changes nothing
    noisy = dict(batch)
    noisy["x"] = torch.where(
        batch["frame_mask"][..., None, None], 100 * torch.randn_like(batch["x"]), batch["x"]
    )
    noisy["conf"] = torch.where(
        batch["frame_mask"][..., None], torch.ones_like(batch["conf"]), batch["conf"]
    )
    torch.testing.assert_close(model.embed(noisy), emb, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", SIZES)
def test_state_dict_round_trip(name: str, tmp_path: Path) -> None:
    model = small(name).eval()
    model.set_input_norm(False)  # a non-default switch must survive the round trip
    batch = make_batch(seed=4)
    save_file(model.state_dict(), tmp_path / "w.safetensors")
    torch.manual_seed(123)  # different init
    fresh = create_model(name).eval()
    fresh.load_state_dict(load_file(tmp_path / "w.safetensors"))
    assert fresh._use_input_norm is False
    torch.testing.assert_close(fresh.embed(batch), model.embed(batch), atol=0, rtol=0)


def test_hidden_frames_are_excluded() -> None:
    model = small("pose_transformer_tiny").eval()
    batch = make_batch(B=2, T=10)
    batch["frame_mask"][:] = False
    batch["conf"] = batch["conf"].clamp_min(0.0)
    mask = torch.zeros(2, 10, dtype=torch.bool)
    mask[:, 7:] = True  # hiding the tail = cutting it off
    cut = {k: v[:, :7] for k, v in batch.items()}
    torch.testing.assert_close(
        model.embed(batch, mask=mask), model.embed(cut), atol=1e-5, rtol=1e-5
    )
    mask[:, 3] = True  # a hidden middle frame's content does not matter
    changed = dict(batch, x=batch["x"].clone())
    changed["x"][:, 3] += 5.0
    torch.testing.assert_close(model.embed(changed, mask=mask), model.embed(batch, mask=mask))
    tokens = model.forward_features(batch, mask=mask)
    assert (tokens[mask] == 0).all()


def test_missing_joint_coordinates_are_ignored_and_bare_tensor_input() -> None:
    model = small("pose_transformer_test").eval()
    batch = make_batch(B=2, T=8, seed=2)
    batch["frame_mask"][:] = False
    ref = model.embed(batch)
    junk = dict(batch, x=torch.where((batch["conf"] == 0)[..., None], 9.0, batch["x"]))
    torch.testing.assert_close(model.embed(junk), ref)
    # a bare tensor: missing = all-zero coordinates, confidence 1 elsewhere
    x = batch["x"]
    as_dict = {
        "x": x,
        "conf": (x != 0).any(-1).float(),
        "frame_mask": torch.zeros(2, 8, dtype=torch.bool),
    }
    torch.testing.assert_close(model.embed(x), model.embed(as_dict))


def test_attention_block_matches_torch_multihead_attention() -> None:
    torch.manual_seed(0)
    dim, heads, T = 16, 4, 6
    blk = Block(dim, heads, mlp_ratio=2.0, dropout=0.0).eval()
    ref = nn.MultiheadAttention(dim, heads, batch_first=True).eval()
    with torch.no_grad():
        ref.in_proj_weight.copy_(blk.qkv.weight)
        ref.in_proj_bias.copy_(blk.qkv.bias)
        ref.out_proj.weight.copy_(blk.proj.weight)
        ref.out_proj.bias.copy_(blk.proj.bias)
    x = torch.randn(2, T, dim)
    pad = torch.tensor([[False] * T, [False] * 4 + [True] * 2])  # True = padded
    h = blk.norm1(x)
    attn, _ = ref(h, h, h, key_padding_mask=pad, need_weights=False)
    x1 = x + attn
    expected = x1 + blk.mlp(blk.norm2(x1))
    got = blk(x, (~pad)[:, None, None, :])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_sinusoidal_position_and_3d_input() -> None:
    table = sinusoidal_table(5, 6)
    assert table[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert table[3, 0] == pytest.approx(torch.sin(torch.tensor(3.0)).item())
    model = small("pose_transformer_test", pos_embed="sinusoidal", in_dims=3)
    assert "pos" not in dict(model.named_parameters())
    emb = model.embed(make_batch(B=2, T=5, C=3))
    assert emb.shape == (2, 32) and torch.isfinite(emb).all()


def test_other_layout_gets_one_embedding_per_part() -> None:
    model = small("pose_transformer_test", layout="hands")
    assert len(model.part_embeds) == 2
    assert model.embed(torch.randn(2, 4, 42, 2)).shape == (2, 32)


def test_user_errors() -> None:
    model = small("pose_transformer_test")
    with pytest.raises(ConfigError, match="layout 'masa49'"):
        model.embed(torch.randn(1, 4, 50, 2))
    with pytest.raises(ConfigError, match="max_frames=64"):
        model.embed(torch.randn(1, 65, J, 2))
    batch = make_batch(B=2, T=4)
    batch["frame_mask"][1] = True
    with pytest.raises(DataError, match="no valid frame"):
        model.embed(batch)
    with pytest.raises(ConfigError, match="unknown pose transformer option"):
        create_model("pose_transformer_test", width=3)
    with pytest.raises(ConfigError, match="multiple of heads"):
        create_model("pose_transformer_test", dim=30, heads=4)
