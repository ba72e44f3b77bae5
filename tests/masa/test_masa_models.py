"""MASA encoder/decoder: every registered size, the no-leak guarantee, save/load, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from masa_helpers import synthetic_batch

from signssl.errors import ConfigError, DataError, LayoutError
from signssl.models import create_model, list_models
from signssl.models.masa import MASADecoder, MASAEncoder
from signssl.store.model import export_model, load_model

SIZES = list_models("masa_")


def build(name: str, **kw: object) -> MASAEncoder:
    torch.manual_seed(0)
    enc = create_model(name, **kw)
    assert isinstance(enc, MASAEncoder)
    return enc


def test_sizes_registered_with_the_paper_frame_dim() -> None:
    assert {"masa_paper", "masa_tiny", "masa_test"} <= set(SIZES)
    paper = create_model("masa_paper")
    assert paper.embed_dim == 1536 and paper.out_dim == 512 and len(paper.blocks) == 8
    with pytest.raises(ConfigError, match="unknown MASA encoder option"):
        create_model("masa_test", dimm=3)


@pytest.mark.parametrize("name", SIZES)
def test_shape_finite_gradients_and_save_load(name: str, tmp_path: Path) -> None:
    enc = build(name)
    batch = synthetic_batch(B=2, T=10, seed=0)
    tokens = enc.forward_features(batch)
    assert tokens.shape == (2, 10, enc.out_dim) and torch.isfinite(tokens).all()
    assert (tokens[1, batch["length"][1] :] == 0).all()  # padded frames give zero tokens
    tokens.pow(2).mean().backward()
    missing = [n for n, p in enc.named_parameters() if p.grad is None]
    assert not missing
    assert all(float(p.grad.abs().sum()) > 0 for n, p in enc.named_parameters() if n != "pos")
    enc.eval()
    with torch.no_grad():
        emb = enc.embed(batch)
        assert torch.allclose(enc.pool(enc.forward_features(batch)), emb, atol=1e-5)
        assert torch.allclose(enc(batch), emb)
    export_model(enc, tmp_path / "model", name, {})
    again = load_model(tmp_path / "model")
    with torch.no_grad():
        assert torch.equal(again.embed(batch), emb)


def test_no_leak_masked_frames_never_reach_encoder_or_decoder() -> None:
    enc = build("masa_test").eval()
    dec = MASADecoder(enc.out_dim, 49, dim=16, depth=1, heads=2).eval()
    batch = synthetic_batch(B=3, T=12, seed=4)
    mask = torch.zeros(3, 12, dtype=torch.bool)
    mask[0, [2, 3, 7]] = True
    mask[1, [0, 5]] = True
    mask[2, 1] = True
    changed = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in batch.items()}
    g = torch.Generator().manual_seed(9)
    changed["x"][mask] = torch.randn(int(mask.sum()), 49, 2, generator=g) * 500.0
    changed["conf"][mask] = torch.rand(int(mask.sum()), 49, generator=g)
    with torch.no_grad():
        a, b = enc.forward_features(batch, mask), enc.forward_features(changed, mask)
        assert torch.allclose(a, b, atol=1e-6)
        pa = dec(enc.encode(enc.preprocess(batch), mask), batch["frame_mask"])
        pb = dec(enc.encode(enc.preprocess(changed), mask), batch["frame_mask"])
        assert torch.allclose(pa, pb, atol=1e-6)
        # the same change on visible frames does change the output (the test can fail)
        c = enc.forward_features(changed, torch.zeros_like(mask))
        assert not torch.allclose(c, enc.forward_features(batch, torch.zeros_like(mask)), atol=1e-3)
    assert (a[mask] == 0).all()


def test_hidden_frames_are_excluded_like_padding() -> None:
    enc = build("masa_test").eval()
    batch = synthetic_batch(B=2, T=10, seed=5, lengths=[10, 10])
    short = {**batch, "frame_mask": torch.arange(10)[None, :].expand(2, 10) >= 6}
    hide = torch.arange(10)[None, :].expand(2, 10) >= 6
    with torch.no_grad():
        assert torch.allclose(enc.embed(batch, hide), enc.embed(short), atol=1e-6)


def test_bare_tensor_input_and_errors() -> None:
    enc = build("masa_test").eval()
    batch = synthetic_batch(B=2, T=6, seed=1, lengths=[6, 6])
    x = batch["x"] * (batch["conf"] >= 0.4)[..., None]
    with torch.no_grad():
        out = enc.embed(x)  # confidence 1 where coordinates are non-zero
        assert out.shape == (2, enc.out_dim) and torch.isfinite(out).all()
    with pytest.raises(ConfigError, match="dims=2"):
        enc.embed(torch.zeros(1, 4, 49, 3))
    with pytest.raises(ConfigError, match="max_frames"):
        enc.embed(torch.zeros(1, 65, 49, 2))
    with pytest.raises(DataError, match="no visible frame"):
        enc.embed(batch, torch.ones(2, 6, dtype=torch.bool))
    with pytest.raises(ConfigError, match="2D"):
        create_model("masa_test", in_dims=3)
    with pytest.raises(LayoutError, match="masa49"):
        create_model("masa_test", layout="hands")
