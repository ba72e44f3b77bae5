"""Every registered recipe, at the sizes its file's ``profiles: tiny:`` declares (the
``--config tiny`` setting): it builds, and one training step on a small batch gives a
finite loss, a detached ``(B, D)`` embedding and a gradient in every trainable encoder
parameter.  A new recipe file is covered here without being named (timm's
``tests/test_models.py`` over ``list_models()``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
from test_signrep import pair_batch  # random crops and priors as collate_pairs gives them

from signssl.engine.config import load_config
from signssl.methods import create_method, list_methods
from signssl.methods.base import Method
from signssl.methods.registry import method_modality
from signssl.models import create_model
from signssl.pose import get_layout


def tiny_method(name: str, seed: int = 0) -> Method:
    """The recipe and encoder of ``--method NAME --config tiny``."""
    cfg = load_config(name, "tiny")
    torch.manual_seed(seed)
    encoder = create_model(cfg.model.name, **cfg.model.kwargs)
    return create_method(name, encoder, **cfg.method.kwargs)


def pose_batch(name: str, B: int = 6, T: int = 16, seed: int = 0) -> dict[str, Any]:
    """Random clips in the layout and dims of the tiny config, some joints and the last
    frames of some clips missing (confidence 0, ``frame_mask`` True = padded)."""
    cfg = load_config(name, "tiny")
    J, C = get_layout(cfg.data.layout).num_joints, cfg.data.dims
    g = torch.Generator().manual_seed(seed)
    x = 0.5 * torch.randn(B, T, J, C, generator=g)
    conf = torch.rand(B, T, J, generator=g)
    conf[conf < 0.1] = 0.0
    lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
    frame_mask = torch.arange(T)[None, :] >= lengths[:, None]  # (B, T)
    conf = conf.masked_fill(frame_mask[..., None], 0.0)
    return {
        "x": x * (conf > 0)[..., None],
        "conf": conf,
        "frame_mask": frame_mask,
        "label": torch.zeros(B, dtype=torch.long),
        "length": lengths,
        "path": [f"c{i}" for i in range(B)],
        "signer": [f"s{i % 2}" for i in range(B)],
    }


def pool_parameters(method: Method) -> set[str]:
    """Encoder parameters that ``pool`` uses (e.g. Hiera's final norm): a recipe that
    trains on the tokens leaves them to the pooled embedding."""
    encoder = copy.deepcopy(method.encoder)
    encoder.zero_grad(set_to_none=True)
    tokens = torch.randn(2, 3, encoder.out_dim, requires_grad=True)  # (B, N, D)
    encoder.pool(tokens).sum().backward()  # (B, N, D) -> (B, D)
    return {n for n, p in encoder.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", list_methods())
def test_one_training_step_at_tiny_sizes(name: str) -> None:
    method = tiny_method(name).train()
    video = method_modality(name) == "video"
    batch = pair_batch(N=2, size=method.encoder.input_size) if video else pose_batch(name)
    out = method.training_loss(batch)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"]), name
    emb = out["embedding"]
    assert emb.ndim == 2 and not emb.requires_grad and bool(torch.isfinite(emb).all())
    if "features" in out:
        assert out["features"].shape[1] == method.encoder.out_dim
    (out["loss"] + out.get("aux_loss", 0.0)).backward()
    missing = {
        n for n, p in method.encoder.named_parameters() if p.requires_grad and p.grad is None
    }
    assert not missing - pool_parameters(method), f"{name}: no gradient for {sorted(missing)}"
    grads = [p.grad for p in method.encoder.parameters() if p.grad is not None]
    assert all(bool(torch.isfinite(g).all()) for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.parametrize("name", list_methods())
def test_tiny_sizes_keep_the_heads_small(name: str) -> None:
    """The tiny profile builds heads of the tiny encoder's order, not the paper's (a
    recipe whose file lacks tiny sizes builds paper-sized heads on a 0.1 M encoder)."""
    method = tiny_method(name)
    encoder = sum(p.numel() for p in method.encoder.parameters())
    total = sum(p.numel() for p in method.parameters())
    assert total <= 10 * encoder + 2_000_000, (name, encoder, total)
