"""Every registered encoder through the one encoder API: ``embed`` gives ``(B, out_dim)``
finite rows, ``forward_features`` ``(B, N, out_dim)`` tokens whose pool is the embedding,
every parameter receives a gradient, and the weights saved as safetensors rebuild the
same outputs from the name and kwargs alone.  A new encoder file is covered here without
being named (timm's ``tests/test_models.py``); full-size entrypoints (names without
``test`` or ``tiny``) are marked slow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from signssl.models import create_model, list_models
from signssl.models.video_encoder import VideoEncoder
from signssl.pose import get_layout


def _param(name: str) -> Any:
    small = "test" in name or "tiny" in name
    return pytest.param(name, marks=() if small else pytest.mark.slow)


MODELS = [_param(name) for name in list_models()]


def model_input(model: torch.nn.Module, B: int = 2, seed: int = 0) -> Any:
    """Video encoders: uint8 clips ``(B, 3, T, H, W)`` of their input size; pose encoders:
    a batch dict of ``(B, T, J, C)`` in their layout, the last frames of one clip padded."""
    g = torch.Generator().manual_seed(seed)
    if isinstance(model, VideoEncoder):
        shape = (B, model.in_chans, *model.input_size)
        return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
    T, J, C = min(16, model.max_frames), get_layout(model.layout.name).num_joints, model.in_dims
    frame_mask = torch.zeros(B, T, dtype=torch.bool)
    frame_mask[0, T // 2 :] = True  # (B, T), True = padded
    conf = torch.rand(B, T, J, generator=g).masked_fill(frame_mask[..., None], 0.0)
    return {"x": 0.5 * torch.randn(B, T, J, C, generator=g), "conf": conf, "frame_mask": frame_mask}


@pytest.mark.parametrize("name", MODELS)
def test_encoder_api_shapes_and_gradients(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name).train()
    x = model_input(model)
    tokens = model.forward_features(x)
    assert tokens.ndim == 3 and tokens.shape[0] == 2 and tokens.shape[2] == model.out_dim
    emb = model.embed(x)
    assert emb.shape == (2, model.out_dim) and bool(torch.isfinite(emb).all())
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.pool(model.forward_features(x)), model.embed(x))
    model.train()
    model.embed(x).pow(2).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"{name}: no gradient for {missing}"


@pytest.mark.parametrize("name", MODELS)
def test_safetensors_round_trip_rebuilds_the_same_outputs(name: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model(name).eval()
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    torch.manual_seed(1)  # another initialisation, replaced by the saved weights
    rebuilt = create_model(name).eval()
    rebuilt.load_state_dict(load_file(str(path)), strict=True)
    x = model_input(model, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.embed(x), model.embed(x), rtol=0, atol=0)
