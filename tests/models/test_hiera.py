"""Video Hiera: sizes, token order, a naive grid-order reference, masking, checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor

from signssl.errors import ConfigError, DataError
from signssl.models import create_model, list_models
from signssl.models.hiera import (
    Hiera,
    HieraBlock,
    drop_path,
    load_hiera_checkpoint,
    pool_groups,
    random_unit_mask,
    unroll_index,
)

FAST = ["hiera_test", "hiera_tiny_16x64"]


def build(name: str = "hiera_test", seed: int = 0, **kw: object) -> Hiera:
    torch.manual_seed(seed)
    model = create_model(name, **kw)
    assert isinstance(model, Hiera)
    return model.eval()


def clip(model: Hiera, B: int = 2, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, 3, *model.input_size, generator=g)


# ----------------------------------------------------------------------------- naive reference


def grid_pool(x: Tensor, stride: tuple[int, int, int]) -> Tensor:
    """Max-pool a grid ``(B, T, H, W, ...)`` with kernel = stride, by ``F.max_pool3d``."""
    B, T, H, W = x.shape[:4]
    rest = x.shape[4:]
    c = x.reshape(B, T, H, W, -1).permute(0, 4, 1, 2, 3)  # (B, C, T, H, W)
    c = F.max_pool3d(c, stride, stride)
    return c.permute(0, 2, 3, 4, 1).reshape(B, *c.shape[2:], *rest)


def naive_attention(q: Tensor, k: Tensor, v: Tensor, key_ok: Tensor | None = None) -> Tensor:
    """``q (Nq, h, hd)``, ``k, v (Nk, h, hd)`` -> ``(Nq, h, hd)``; softmax(q k^T / sqrt(hd)) v."""
    s = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(q.shape[-1])
    if key_ok is not None:
        s = s.masked_fill(~key_ok[None, None, :], float("-inf"))
    return torch.einsum("hqk,khd->qhd", s.softmax(-1), v)


def upsample_units(vis: Tensor, size: list[int]) -> Tensor:
    """``(B, Tm, Hm, Wm)`` -> each unit repeated to ``size`` cells."""
    for axis, s in enumerate(size):
        vis = vis.repeat_interleave(s, dim=axis + 1)
    return vis


def reference_block(
    blk: HieraBlock, g: Tensor, unit: list[int], vis: Tensor, q_stride: tuple[int, int, int]
) -> tuple[Tensor, list[int]]:
    """One block on a raster grid ``(B, T, H, W, D)``; ``unit`` = cells per mask unit."""
    B, T, H, W, _ = g.shape
    attn = blk.attn
    pooled = attn.q_stride > 1
    out_unit = [u // s for u, s in zip(unit, q_stride, strict=True)] if pooled else unit
    xn = blk.norm1(g)
    q, k, v = attn.qkv(xn).view(B, T, H, W, 3, attn.heads, attn.head_dim).unbind(4)
    res = g
    if blk.dim != blk.dim_out:
        res = blk.proj(xn)
    if pooled:
        q, res = grid_pool(q, q_stride), grid_pool(res, q_stride)
    out = torch.zeros_like(q)  # (B, Tq, Hq, Wq, h, hd)
    Tm, Hm, Wm = vis.shape[1:]
    key_vis = upsample_units(vis, unit)  # (B, T, H, W)
    for b in range(B):
        if not attn.use_mask_unit_attn:  # global over the visible units' tokens
            qf = q[b].flatten(0, 2)
            res_b = naive_attention(
                qf, k[b].flatten(0, 2), v[b].flatten(0, 2), key_vis[b].flatten()
            )
            out[b] = res_b.view(q.shape[1:])
            continue
        for ut in range(Tm):
            for uh in range(Hm):
                for uw in range(Wm):
                    qs = tuple(
                        slice(i * n, (i + 1) * n)
                        for i, n in zip((ut, uh, uw), out_unit, strict=True)
                    )
                    ks = tuple(
                        slice(i * n, (i + 1) * n) for i, n in zip((ut, uh, uw), unit, strict=True)
                    )
                    qb = q[b][qs]
                    o = naive_attention(
                        qb.flatten(0, 2), k[b][ks].flatten(0, 2), v[b][ks].flatten(0, 2)
                    )
                    out[b][qs] = o.view(qb.shape)
    g = res + attn.proj(out.flatten(-2))
    return g + blk.mlp(blk.norm2(g)), out_unit


def reference_grid(model: Hiera, x: Tensor, hidden: Tensor | None = None) -> Tensor:
    """Hiera computed on the raster grid with loops: final ``(B, T', H', W', D)``."""
    x = model.prepare_input(x)
    B = x.shape[0]
    Tm, Hm, Wm = model.mask_unit_grid
    if hidden is None:
        hidden = torch.zeros(B, Tm * Hm * Wm, dtype=torch.bool)
    vis = (~hidden).view(B, Tm, Hm, Wm)
    x = x * upsample_units(vis, list(model.mask_unit_pixels))[:, None]  # hidden pixels -> 0
    g = model.patch_embed.proj(x).permute(0, 2, 3, 4, 1)  # (B, D, T, H, W) -> (B, T, H, W, D)
    T, H, W, D = g.shape[1:]
    spatial = model.pos_embed_spatial.view(1, 1, H, W, D)
    temporal = model.pos_embed_temporal.view(1, T, 1, 1, D)
    g = g + spatial + temporal
    unit = list(model.mask_unit_size)
    for blk in model.blocks:
        g, unit = reference_block(blk, g, unit, vis, model.q_stride)
    return g


def grid_units(model: Hiera, g: Tensor, unit: tuple[int, int, int]) -> Tensor:
    """Naive: grid ``(B, T, H, W, D)`` -> ``(B, U, mt, mh, mw, D)`` units in raster order."""
    Tm, Hm, Wm = model.mask_unit_grid
    blocks = []
    for ut in range(Tm):
        for uh in range(Hm):
            for uw in range(Wm):
                s = [slice(i * n, (i + 1) * n) for i, n in zip((ut, uh, uw), unit, strict=True)]
                blocks.append(g[:, s[0], s[1], s[2]])
    return torch.stack(blocks, dim=1)


# ----------------------------------------------------------------------------- sizes


def test_registered_sizes_and_base_configuration() -> None:
    assert {"hiera_base_16x224", "hiera_tiny_16x64", "hiera_test"} <= set(list_models("hiera"))
    base = build("hiera_base_16x224")
    assert base.input_size == (16, 224, 224) and base.out_dim == 768
    assert base.stages == (2, 3, 16, 3) and base.q_pool == 2 and base.q_stride == (1, 2, 2)
    assert base.stage_dims == (96, 192, 384, 768)
    assert [b.attn.heads for b in base.blocks] == [1] * 2 + [2] * 3 + [4] * 16 + [8] * 3
    conv = base.patch_embed.proj
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 7, 7), (2, 4, 4), (1, 3, 3))
    assert base.pos_embed_spatial.shape == (1, 56 * 56, 96)
    assert base.pos_embed_temporal.shape == (1, 8, 96)
    assert base.mask_unit_size == (1, 8, 8) and base.mask_unit_grid == (8, 7, 7)
    assert base.num_mask_units == 392 and base.mask_unit_pixels == (2, 32, 32)
    assert base.final_token_grid == (8, 14, 14) and base.num_temporal_tokens == 8
    # pooling at the first block of stages 2 and 3 only; window attention lags one block
    pools = [i for i, b in enumerate(base.blocks) if b.attn.q_stride > 1]
    assert pools == [2, 5]
    windowed = [b.attn.use_mask_unit_attn for b in base.blocks]
    assert windowed == [True] * 6 + [False] * 18
    assert [b.attn.window_size for b in base.blocks[:6]] == [64, 64, 16, 16, 16, 4]
    assert base.blocks[-1].drop_path.p == pytest.approx(0.1) and base.blocks[0].drop_path.p == 0
    assert 50e6 < base.num_params() < 52e6  # Hiera-B: 51M


def test_unknown_option_and_bad_geometry_raise() -> None:
    with pytest.raises(ConfigError, match="unknown Hiera option"):
        create_model("hiera_test", depth=3)
    with pytest.raises(ConfigError, match="mask_unit_size"):
        create_model("hiera_test", mask_unit_size=(1, 8, 8))
    with pytest.raises(ConfigError, match="patch strides"):
        create_model("hiera_test", input_size=30)
    with pytest.raises(ConfigError, match="mask units"):
        create_model("hiera_test", input_size=40)  # 10 x 10 tokens, units of 4 x 4
    with pytest.raises(ConfigError, match="q_pool"):
        create_model("hiera_test", q_pool=3)


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("ratio", [None, 0.5])
def test_shapes_finite_and_every_parameter_gets_a_gradient(name: str, ratio: float | None) -> None:
    model = build(name, drop_path=0.1).train()
    x = clip(model)
    mask = None if ratio is None else model.random_mask(2, ratio, torch.Generator().manual_seed(0))
    tokens = model.forward_features(x, mask)
    units = model.num_mask_units if mask is None else int((~mask[0]).sum())
    assert tokens.shape == (2, units * model.tokens_per_unit, model.out_dim)
    emb = model.pool(tokens)
    assert emb.shape == (2, model.out_dim) and torch.isfinite(emb).all()
    w = torch.randn(model.out_dim, generator=torch.Generator().manual_seed(1))
    (emb @ w).sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not no_grad, f"parameters without gradient: {no_grad}"


@pytest.mark.slow
def test_base_forward_backward_with_mask() -> None:
    model = build("hiera_base_16x224").train()
    x = torch.randint(0, 256, (1, 3, 16, 224, 224), dtype=torch.uint8)
    mask = model.random_mask(1, 0.8)
    tokens = model.forward_features(x, mask)
    assert tokens.shape == (1, 78 * 4, 768)  # round(0.8 * 392) = 314 hidden, 78 visible
    model.pool(tokens).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        assert model.forward_features(x).shape == (1, 8 * 14 * 14, 768)


# ----------------------------------------------------------------------------- token order


def test_unroll_makes_mask_units_contiguous() -> None:
    grid, schedule = (2, 8, 8), [(1, 2, 2)] * 2
    idx = unroll_index(grid, schedule)
    assert sorted(idx.tolist()) == list(range(128))  # a permutation
    t, rem = idx // 64, idx % 64
    y, x = rem // 8, rem % 8
    unit = (t * 2 + y // 4) * 2 + x // 4  # raster index over the (2, 2, 2) unit grid
    assert (unit.view(16, 8) == torch.arange(8)).all()  # column u holds unit u only
    # the leading axis is the finest stride group: offsets (y % 2, x % 2)
    assert ((y % 2) * 2 + x % 2).view(4, 32).eq(torch.arange(4)[:, None]).all()


@pytest.mark.parametrize("name", FAST)
def test_query_pooling_is_a_grid_max_pool(name: str) -> None:
    model = build(name)
    T, H, W = model.token_grid
    g = torch.randn(2, T, H, W, 5, generator=torch.Generator().manual_seed(0))
    tok = g.flatten(1, 3)[:, model.unroll_idx]  # raster -> unrolled
    torch.testing.assert_close(model.units_to_grid(model.reroll(tok, 0)), g, rtol=0, atol=0)
    ref = g
    for level in range(1, model.q_pool + 1):
        tok = pool_groups(tok, math.prod(model.q_stride))
        ref = grid_pool(ref, model.q_stride)
        torch.testing.assert_close(model.units_to_grid(model.reroll(tok, level)), ref)
    assert tok.shape[1] == math.prod(model.final_token_grid)


@pytest.mark.parametrize("name", FAST)
def test_stage_outputs_shrink_by_the_query_stride(name: str) -> None:
    model = build(name)
    _, stages = model.forward_intermediates(clip(model, B=1))
    sizes = [s.shape[2:5] for s in stages]
    unit = torch.tensor(model.mask_unit_size)
    expected = [
        tuple((unit // torch.tensor(model.q_stride) ** min(i, model.q_pool)).tolist())
        for i in range(len(model.stages))
    ]
    assert [tuple(s) for s in sizes] == expected
    assert [s.shape[-1] for s in stages] == list(model.stage_dims)
    assert all(s.shape[1] == model.num_mask_units for s in stages)


# ----------------------------------------------------------------------------- reference


#: a geometry that pools over time as well: 8 x 8 x 8 tokens, mask units of 4 x 4 x 4
CUBE = {"num_frames": 16, "q_stride": (2, 2, 2), "mask_unit_size": (4, 4, 4)}
CASES = [
    ("hiera_test", {}, None),
    ("hiera_test", {}, 0.5),
    ("hiera_test", {"mask_unit_attn": (True, True, True)}, 0.5),
    ("hiera_tiny_16x64", {}, None),
    ("hiera_tiny_16x64", {}, 0.75),
    ("hiera_test", {**CUBE, "q_pool": 1}, 0.5),  # pools time too, 2 x 2 x 2 final tokens per unit
]


@pytest.mark.parametrize(("name", "kw", "ratio"), CASES)
def test_matches_naive_grid_reference(name: str, kw: dict, ratio: float | None) -> None:
    model = build(name, **kw)
    B = 2 if name == "hiera_test" else 1
    x = clip(model, B=B)
    hidden = None
    if ratio is not None:
        hidden = model.random_mask(B, ratio, torch.Generator().manual_seed(3))
    with torch.no_grad():
        tokens, stages = model.forward_intermediates(x, hidden)
        ref_units = grid_units(model, reference_grid(model, x, hidden), model.final_unit_size)
    if hidden is not None:  # keep the visible units, in increasing index order
        ref_units = torch.stack([ref_units[b][~hidden[b]] for b in range(B)])
    torch.testing.assert_close(stages[-1], ref_units, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.reroll(tokens, model.q_pool), ref_units)
    ref_mean = ref_units.flatten(1, 4).mean(dim=1)
    torch.testing.assert_close(model.pool(tokens), model.norm(ref_mean), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- masking


def test_random_mask_hides_exactly_round_ratio_units() -> None:
    model = build()
    g = torch.Generator().manual_seed(0)
    m = model.random_mask(6, 0.6, g)
    assert m.dtype == torch.bool and m.shape == (6, 8)
    assert (m.sum(dim=1) == round(0.6 * 8)).all()
    assert len({tuple(r.tolist()) for r in m}) > 1  # not the same units for every clip
    again = model.random_mask(6, 0.6, torch.Generator().manual_seed(0))
    assert torch.equal(m, again)
    assert not model.random_mask(2, 0.0).any()
    big = random_unit_mask(3, 392, 0.8)
    assert (big.sum(dim=1) == 314).all()
    with pytest.raises(ConfigError, match="hides all"):
        model.random_mask(2, 0.95)
    with pytest.raises(ConfigError, match=r"\[0, 1\)"):
        model.random_mask(2, 1.0)


def test_masked_units_are_dropped_and_their_pixels_ignored() -> None:
    model = build()  # last block attends globally over the visible units
    x = clip(model)
    mask = torch.tensor([[True, False, False, True, False, True, True, False]] * 2)
    with torch.no_grad():
        out = model.forward_features(x, mask)
        assert out.shape == (2, 4 * model.tokens_per_unit, 32)
        # overwrite every pixel of the hidden units: no visible token changes
        y = x.clone()
        pt, ph, pw = model.mask_unit_pixels
        for u in mask[0].nonzero().flatten().tolist():
            t, h, w = u // 4, (u // 2) % 2, u % 2
            y[:, :, t * pt : (t + 1) * pt, h * ph : (h + 1) * ph, w * pw : (w + 1) * pw] = 7.0
        assert not torch.equal(x, y)
        torch.testing.assert_close(model.forward_features(y, mask), out, rtol=0, atol=0)
        # while the unmasked model does see them
        assert not torch.allclose(model.forward_features(y), model.forward_features(x))


def test_bad_masks_raise() -> None:
    model = build()
    x = clip(model)
    with pytest.raises(ConfigError, match="bool tensor"):
        model.forward_features(x, torch.zeros(2, 8, dtype=torch.long))
    with pytest.raises(ConfigError, match="bool tensor"):
        model.forward_features(x, torch.zeros(2, 7, dtype=torch.bool))
    uneven = torch.zeros(2, 8, dtype=torch.bool)
    uneven[0, 0] = True
    with pytest.raises(ConfigError, match="same, non-zero number"):
        model.forward_features(x, uneven)
    with pytest.raises(ConfigError, match="same, non-zero number"):
        model.forward_features(x, torch.ones(2, 8, dtype=torch.bool))


# ----------------------------------------------------------------------------- decoder helpers


@pytest.mark.parametrize("ratio", [None, 0.5])
@pytest.mark.parametrize(
    ("name", "kw"), [("hiera_tiny_16x64", {}), ("hiera_test", {**CUBE, "q_pool": 1})]
)
def test_tokens_by_time_is_the_per_time_mean(name: str, kw: dict, ratio: float | None) -> None:
    model = build(name, **kw)
    mask = None if ratio is None else model.random_mask(2, ratio, torch.Generator().manual_seed(2))
    with torch.no_grad():
        tokens = model.forward_features(clip(model), mask)
    by_time = model.tokens_by_time(tokens, mask)
    Tp = model.num_temporal_tokens
    assert by_time.shape == (2, Tp, model.out_dim)
    units = model.reroll(tokens, model.q_pool)  # (B, V, mt, mh, mw, D)
    counts = model.tokens_per_time(mask, 2)
    Tm, Hm, Wm = model.mask_unit_grid
    mt = model.final_unit_size[0]
    for b in range(2):
        ids = range(model.num_mask_units) if mask is None else mask[b].logical_not().nonzero()
        ids = [int(i) for i in ids]
        sums = torch.zeros(Tp, model.out_dim)
        n = torch.zeros(Tp)
        for v, u in enumerate(ids):
            for lt in range(mt):
                t = (u // (Hm * Wm)) * mt + lt
                sums[t] += units[b, v, lt].sum(dim=(0, 1))
                n[t] += units[b, v, lt].shape[0] * units[b, v, lt].shape[1]
        ref = sums / n.clamp_min(1)[:, None]
        torch.testing.assert_close(by_time[b], ref, rtol=1e-5, atol=1e-5)
        assert counts[b].tolist() == n.long().tolist()
    assert (counts.sum(dim=1) == tokens.shape[1]).all()
    if mask is None:  # every time step holds the same number of tokens: mean of means = pool
        torch.testing.assert_close(model.norm(by_time.mean(dim=1)), model.pool(tokens))


def test_unit_pixels_cut_the_clip_into_mask_units() -> None:
    model = build()
    x = torch.randint(0, 256, (1, 3, 4, 32, 32), dtype=torch.uint8)
    px = model.unit_pixels(x)
    prepared = model.prepare_input(x)
    assert px.shape == (1, 8, 3, 2, 16, 16)
    for u in range(8):
        t, h, w = u // 4, (u // 2) % 2, u % 2
        ref = prepared[0, :, 2 * t : 2 * t + 2, 16 * h : 16 * h + 16, 16 * w : 16 * w + 16]
        torch.testing.assert_close(px[0, u], ref, rtol=0, atol=0)


# ----------------------------------------------------------------------------- input, state


def test_input_conversion_and_normalisation() -> None:
    model = build()
    x8 = torch.randint(0, 256, (2, 3, 4, 32, 32), dtype=torch.uint8)
    xf = x8.float() / 255
    with torch.no_grad():
        torch.testing.assert_close(model(x8), model(xf))
        raw = build(normalize_input=False)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1, 1)
        torch.testing.assert_close(raw((xf - mean) / std), model(x8))
    with pytest.raises(ConfigError, match="does not match"):
        model(torch.rand(1, 3, 8, 32, 32))
    with pytest.raises(ConfigError, match=r"\(B, 3, T, H, W\)"):
        model(torch.rand(3, 4, 32, 32))
    with pytest.raises(ConfigError, match="uint8 or float"):
        model(torch.zeros(1, 3, 4, 32, 32, dtype=torch.long))


def test_drop_path_zeroes_or_rescales_whole_samples() -> None:
    x = torch.ones(200, 3, 4)
    y = drop_path(x, 0.25, training=True)
    per_sample = y.flatten(1)
    kept = (per_sample == 1 / 0.75).all(dim=1)
    dropped = (per_sample == 0).all(dim=1)
    assert (kept | dropped).all() and 0 < int(dropped.sum()) < 200
    assert torch.equal(drop_path(x, 0.25, training=False), x)


def test_state_dict_round_trip_and_official_names(tmp_path: Path) -> None:
    model = build()
    names = set(model.state_dict())
    expected = {"patch_embed.proj.weight", "patch_embed.proj.bias", "pos_embed_spatial"}
    expected |= {"pos_embed_temporal", "norm.weight", "norm.bias"}
    for i in range(3):
        for sub in ("norm1", "norm2", "attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2"):
            expected |= {f"blocks.{i}.{sub}.weight", f"blocks.{i}.{sub}.bias"}
        if i > 0:  # width change 8 -> 16 -> 32
            expected |= {f"blocks.{i}.proj.weight", f"blocks.{i}.proj.bias"}
    assert names == expected  # buffers (mean, std, unroll order) are not saved
    assert model.state_dict()["blocks.1.attn.qkv.weight"].shape == (3 * 16, 8)
    torch.save(model.state_dict(), tmp_path / "w.pt")
    other = build(seed=1)
    x = clip(model)
    with torch.no_grad():
        assert not torch.allclose(other(x), model(x))
        other.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
        torch.testing.assert_close(other(x), model(x), rtol=0, atol=0)


# ----------------------------------------------------------------------------- checkpoints


def official_state(model: Hiera) -> dict[str, Tensor]:
    """A state dict in the official release's naming (ours + a classification head)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["head.projection.weight"] = torch.zeros(400, model.out_dim)
    state["head.projection.bias"] = torch.zeros(400)
    return state


@pytest.mark.parametrize("fmt", ["pt", "safetensors", "ddp"])
def test_load_official_checkpoint(tmp_path: Path, fmt: str) -> None:
    src = build(seed=0)
    state = official_state(src)
    if fmt == "safetensors":
        path = tmp_path / "hiera.safetensors"
        save_file(state, str(path))
    else:
        if fmt == "ddp":
            state = {f"module.{k}": v for k, v in state.items()}
        path = tmp_path / "hiera.pth"
        torch.save({"model_state": state, "epoch": 3}, path)
    dst = build(seed=1)
    report = load_hiera_checkpoint(dst, path)
    prefix = "module." if fmt == "ddp" else ""
    assert sorted(report.unexpected) == [
        f"{prefix}head.projection.bias",
        f"{prefix}head.projection.weight",
    ]
    assert report.missing == [] and report.mismatched == []
    assert sorted(report.loaded) == sorted(src.state_dict())
    x = clip(src)
    with torch.no_grad():
        torch.testing.assert_close(dst(x), src(x), rtol=0, atol=0)


def test_checkpoint_shape_mismatch_missing_and_errors(tmp_path: Path) -> None:
    src = build(seed=0)
    state = official_state(src)
    state["pos_embed_temporal"] = torch.zeros(1, 5, 8)  # wrong length
    del state["norm.weight"]
    torch.save({"model_state": state}, tmp_path / "a.pth")
    dst = build(seed=1)
    before = dst.pos_embed_temporal.detach().clone()
    report = load_hiera_checkpoint(dst, tmp_path / "a.pth")
    assert report.mismatched == [("pos_embed_temporal", (1, 5, 8), (1, 2, 8))]
    assert report.missing == ["norm.weight", "pos_embed_temporal"]
    assert torch.equal(dst.pos_embed_temporal, before)  # left as it was
    torch.testing.assert_close(dst.blocks[2].mlp.fc1.weight, src.blocks[2].mlp.fc1.weight)

    torch.save({"model_state": {"foo": torch.zeros(3)}}, tmp_path / "b.pth")
    with pytest.raises(ConfigError, match="no parameter"):
        load_hiera_checkpoint(dst, tmp_path / "b.pth")
    with pytest.raises(ConfigError, match="no parameter"):  # another size: every shape differs
        load_hiera_checkpoint(build("hiera_test", embed_dim=16), tmp_path / "a.pth")
    with pytest.raises(DataError, match="not found"):
        load_hiera_checkpoint(dst, tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(DataError, match="cannot read"):
        load_hiera_checkpoint(dst, tmp_path / "junk.pth")
