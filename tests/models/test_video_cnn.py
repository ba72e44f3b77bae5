"""VideoCNN: mask-unit geometry, masking that hides pixels exactly, the position readout
against a naive loop, the video recipes on it, and export / load / embed end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from signssl.engine import load_config
from signssl.engine.pretraining import pretrain
from signssl.errors import ConfigError
from signssl.methods import create_method
from signssl.models import create_model, list_models
from signssl.models.video_cnn import VideoCNN
from signssl.models.video_encoder import VideoEncoder
from signssl.optim import layer_ids
from signssl.store.model import load_model


def build(name: str = "cnn_test", seed: int = 0, **kw: object) -> VideoCNN:
    torch.manual_seed(seed)
    return create_model(name, **kw).eval()


def clips(model: VideoEncoder, n: int = 2, seed: int = 1) -> torch.Tensor:
    T, H, W = model.input_size
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, T, H, W), generator=g, dtype=torch.uint8)


def test_registered_sizes_share_the_tiny_hieras_geometry() -> None:
    assert {"cnn_test", "cnn_tiny_16x64", "cnn_small_16x128"} <= set(list_models("cnn"))
    cnn, hiera = create_model("cnn_tiny_16x64"), create_model("hiera_tiny_16x64")
    for attr in ("input_size", "mask_unit_grid", "num_mask_units", "mask_unit_pixels",
                 "final_unit_size", "final_token_grid", "final_token_pixels", "out_dim"):  # fmt: skip
        assert getattr(cnn, attr) == getattr(hiera, attr), attr
    assert isinstance(cnn, VideoEncoder) and isinstance(hiera, VideoEncoder)


@pytest.mark.parametrize("readout", ["position", "none"])
def test_tokens_of_the_visible_units_only(readout: str) -> None:
    m = build(readout=readout)
    x = clips(m, 3)
    with torch.no_grad():
        full = m.forward_features(x)  # (B, U·S, D)
        mask = m.random_mask(3, 0.5, torch.Generator().manual_seed(0))
        part = m.forward_features(x, mask)
    U, S, D = m.num_mask_units, m.tokens_per_unit, m.out_dim
    assert full.shape == (3, U * S, D)
    assert part.shape == (3, (U - round(0.5 * U)) * S, D)
    assert m.embed(x).shape == (3, D)


def test_hidden_pixels_never_reach_the_visible_tokens() -> None:
    """Changing every pixel of the hidden units leaves the visible tokens exactly as they
    were (zeroed input and zeroed features at every stage); changing a visible pixel does not."""
    m = build("cnn_test", num_frames=8)
    x = clips(m, 2).float() / 255
    mask = m.random_mask(2, 0.5, torch.Generator().manual_seed(3))
    hidden = ~m.pixel_visibility(m.visible_units(mask, 2), 2)  # (B, 1, T, H, W)
    noisy = torch.where(hidden, torch.rand_like(x), x)
    with torch.no_grad():
        a, b = m.forward_features(x, mask), m.forward_features(noisy, mask)
        assert torch.equal(a, b)
        changed = torch.where(hidden, x, 1.0 - x)  # every visible pixel changed
        assert not torch.allclose(a, m.forward_features(changed, mask))


def test_position_readout_equals_a_loop_over_positions() -> None:
    """``u_thw = A_t (W_hw f_thw) + b`` per position, against explicit matrix products."""
    torch.manual_seed(0)
    m = build()
    ro = m.readout
    with torch.no_grad():
        ro.temporal.add_(0.1 * torch.randn_like(ro.temporal))
        ro.bias.normal_()
        f = torch.randn(2, ro.spatial.shape[2], *m.token_grid)  # (B, C, T', H', W')
        out = ro(f)
        T, H, W = m.token_grid
        for t in range(T):
            for h in range(H):
                for w in range(W):
                    ref = (f[:, :, t, h, w] @ ro.spatial[h, w]) @ ro.temporal[t] + ro.bias
                    assert torch.allclose(out[:, t, h, w], ref, atol=1e-5)


def test_pooled_embedding_reads_where_things_are() -> None:
    """One bright square at two places: the position readout's pooled embeddings differ
    clearly; at initialisation the plain 1x1x1 readout is close to translation-invariant."""
    def square(r: int, c: int) -> torch.Tensor:
        x = torch.zeros(1, 3, 4, 32, 32)
        x[..., r : r + 8, c : c + 8] = 1.0
        return x

    dist = {}
    for readout in ("position", "none"):
        m = build(readout=readout)
        with torch.no_grad():
            a, b = m.embed(square(0, 0)), m.embed(square(16, 16))
        dist[readout] = float(1 - torch.cosine_similarity(a, b))
    assert dist["position"] > 5 * dist["none"]


def test_unit_pixels_and_intermediates_follow_the_unit_order() -> None:
    m = build()
    x = clips(m, 2)
    pix = m.unit_pixels(x)  # (B, U, 3, pt, ph, pw)
    assert pix.shape == (2, m.num_mask_units, 3, *m.mask_unit_pixels)
    Tm, Hm, Wm = m.mask_unit_grid
    pt, ph, pw = m.mask_unit_pixels
    ref = m.prepare_input(x)[:, :, pt : 2 * pt, ph : 2 * ph, 0:pw]  # unit (1, 1, 0)
    assert torch.equal(pix[:, Hm * Wm + Wm], ref)
    with torch.no_grad():
        tokens, stages = m.forward_intermediates(x)
    assert stages[-1].shape == (2, m.num_mask_units, *m.final_unit_size, m.out_dim)
    assert torch.equal(tokens, stages[-1].flatten(1, 4))


def test_bad_geometry_and_options_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="multiple of the strides"):
        create_model("cnn_test", input_size=40)
    with pytest.raises(ConfigError, match="mask units"):
        create_model("cnn_test", mask_unit_size=(1, 3, 3))
    with pytest.raises(ConfigError, match="unknown readout"):
        create_model("cnn_test", readout="max")
    with pytest.raises(ConfigError, match="unknown VideoCNN option"):
        create_model("cnn_test", embed_dim=8)
    with pytest.raises(ConfigError, match="one entry per stage"):
        create_model("cnn_test", widths=(8, 8))
    m = build()
    with pytest.raises(ConfigError, match=r"clip size .* does not match"):
        m.embed(torch.zeros(1, 3, 4, 16, 16))


def test_layer_decay_treats_each_stage_as_a_layer() -> None:
    enc = create_model("cnn_test")
    method = create_method("mae", enc, decoder_dim=16, decoder_heads=2)
    ids = layer_ids(method, enc)
    L = len(enc.blocks)
    for i in range(L):
        assert ids[f"encoder.blocks.{i}.down.weight"] == i + 1
    assert ids["encoder.readout.spatial"] == ids["encoder.norm.weight"] == L + 1


@pytest.mark.parametrize("method", ["signrep", "mae"])
def test_video_recipes_pretrain_export_and_embed_with_the_cnn(method: str, tmp_path: Path) -> None:
    from signssl.synth import generate_dataset

    data = generate_dataset(tmp_path / "d", 2, 2, 1, 16, video=True, size=32, seed=0, progress=False)
    heads = {
        "signrep": ["method.kwargs.latent_dim=16", "method.kwargs.decoder_hidden=16",
                    "method.kwargs.up_dim=8", "method.kwargs.activity_hidden=8",
                    "method.kwargs.disc_hidden=16"],
        "mae": ["method.kwargs.decoder_dim=16", "method.kwargs.decoder_heads=2"],
    }[method]  # fmt: skip
    sets = ["model.name=cnn_test", "model.kwargs.num_frames=16", "data.batch_size=2",
            "trainer.max_epochs=1", "trainer.progress_bar=false", *heads]  # fmt: skip
    run = tmp_path / "run"
    result = pretrain(load_config(method, "tiny", sets), data, run)
    assert result.global_step == 1
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["name"] == "cnn_test" and config["modality"] == "video"
    encoder = load_model(run)
    assert isinstance(encoder, VideoCNN) and encoder.input_size == (16, 32, 32)
    with torch.no_grad():
        assert encoder.embed(torch.rand(2, 3, 16, 32, 32)).shape == (2, encoder.out_dim)


def test_every_video_command_reads_a_cnn_run(tmp_path: Path) -> None:
    """evaluate, embed, dictionary build + retrieve, extract-features and finetune-video
    take a SignRep run on the CNN as they take a Hiera run."""
    from typer.testing import CliRunner

    from signssl.cli.main import app
    from signssl.synth import generate_dataset

    data = generate_dataset(tmp_path / "d", 2, 2, 1, 16, video=True, size=32, seed=0, progress=False)
    sets = ["model.name=cnn_test", "model.kwargs.num_frames=16", "data.batch_size=2",
            "trainer.max_epochs=1", "trainer.progress_bar=false", "method.kwargs.latent_dim=16",
            "method.kwargs.decoder_hidden=16", "method.kwargs.up_dim=8",
            "method.kwargs.activity_hidden=8", "method.kwargs.disc_hidden=16"]  # fmt: skip
    run = tmp_path / "run"
    pretrain(load_config("signrep", "tiny", sets), data, run)
    video = next((data.parent / "videos").rglob("*.mp4"))
    commands = [
        ["evaluate", "retrieval", "--checkpoint", run, "--data", data, "--out", tmp_path / "ev"],
        ["embed", "--checkpoint", run, "--data", data, "--out", tmp_path / "f.npz"],
        ["dictionary", "build", "--checkpoint", run, "--data", data, "--out", tmp_path / "d.safetensors"],
        ["retrieve", "--dictionary", tmp_path / "d.safetensors", "--query", video],
        ["extract-features", "--checkpoint", run, "--data", data, "--out", tmp_path / "x"],
        ["finetune-video", "--checkpoint", run, "--data", data, "--out", tmp_path / "ft",
         "--epochs", "1", "--batch-size", "2", "--warmup-steps", "0"],
    ]  # fmt: skip
    for cmd in commands:
        result = CliRunner().invoke(app, [str(c) for c in cmd], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (cmd[:2], result.output)
    assert (tmp_path / "ev" / "metrics.json").exists() and (tmp_path / "f.npz").exists()
    assert len(list((tmp_path / "x").rglob("*.npy"))) == 4
    assert (tmp_path / "ft" / "metrics.json").exists()


def test_inflated_stem_reads_a_4x_denser_clip_as_the_original() -> None:
    """A clip whose frames are each repeated 4 times gives the inflated CNN the tokens the
    original gives on the clip (module docstring of signssl.models.inflate), masked or not;
    the overrides rebuild the inflated shape."""
    from signssl.models.inflate import inflate_cnn_stem

    m = build("cnn_test", num_frames=8)
    x = clips(m, 2).float() / 255  # (B, 3, 8, H, W)
    mask = m.random_mask(2, 0.5, torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref, ref_masked = m.forward_features(x), m.forward_features(x, mask)
        overrides = inflate_cnn_stem(m, 4)
        dense = x.repeat_interleave(4, dim=2)  # (B, 3, 32, H, W)
        assert torch.allclose(m.forward_features(dense), ref, atol=1e-5)
        assert torch.allclose(m.forward_features(dense, mask), ref_masked, atol=1e-5)
    assert m.input_size == (32, 32, 32) and m.mask_unit_pixels[0] == 4 * 2
    rebuilt = create_model("cnn_test", **overrides)
    rebuilt.load_state_dict(m.state_dict())
    assert rebuilt.input_size == m.input_size


@pytest.mark.parametrize("ratio", [0.0, 0.5])
def test_tokens_by_time_against_a_loop_over_visible_units(ratio: float) -> None:
    m = build("cnn_tiny_16x64")
    x = clips(m, 2)
    mask = m.random_mask(2, ratio, torch.Generator().manual_seed(0)) if ratio else None
    with torch.no_grad():
        grid, _ = m._grid(x, mask)  # (B, T', H', W', D), hidden units included
        by_time = m.tokens_by_time(m.forward_features(x, mask), mask)
    Tm, Hm, Wm = m.mask_unit_grid
    units = m.visible_units(mask, 2) if mask is not None else torch.arange(32).expand(2, -1)
    for b in range(2):
        for t in range(m.num_temporal_tokens):
            vis = [u for u in units[b].tolist() if u // (Hm * Wm) == t]
            if not vis:
                assert by_time[b, t].abs().max() == 0
                continue
            cells = [grid[b, t, 2 * ((u % 4) // 2):2 * ((u % 4) // 2) + 2,
                          2 * (u % 2):2 * (u % 2) + 2].reshape(-1, m.out_dim) for u in vis]  # fmt: skip
            assert torch.allclose(by_time[b, t], torch.cat(cells).mean(0), atol=1e-5)
