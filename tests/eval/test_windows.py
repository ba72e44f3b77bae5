"""Sliding windows and activity-weighted pooling (docs/methods.md#signrep-retrieval)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from signssl.errors import ConfigError, DataError
from signssl.eval.windows import (
    ActivityScorer,
    WindowEmbedder,
    embed_windows,
    iter_window_batches,
    load_activity_head,
    num_windows,
    pool_windows,
    sliding_windows,
    window_index,
)
from signssl.models import create_model
from signssl.models.activity_head import ActivityHead, save_activity_head
from signssl.models.sign_decoder import SignDecoder


def naive_windows(T: int, window: int, stride: int) -> list[list[int]]:
    """Reference: frame indices of every window, written as a plain loop."""
    if T < window:
        return [[min(t, T - 1) for t in range(window)]]
    out = []
    s = 0
    while s + window <= T:
        out.append(list(range(s, s + window)))
        s += stride
    return out


@pytest.mark.parametrize(
    "T, window, stride",
    [
        (16, 16, 2),
        (17, 16, 2),
        (18, 16, 2),
        (40, 16, 2),
        (39, 16, 3),
        (5, 16, 2),
        (1, 16, 2),
        (10, 4, 1),
        (10, 4, 7),
    ],
)
def test_window_index_matches_a_naive_loop(T: int, window: int, stride: int) -> None:
    ref = naive_windows(T, window, stride)
    assert window_index(T, window, stride).tolist() == ref
    assert num_windows(T, window, stride) == len(ref)


def test_windows_of_video_and_pose_hold_the_right_frames() -> None:
    video = torch.arange(9, dtype=torch.uint8).view(9, 1, 1, 1).expand(9, 3, 2, 2).contiguous()
    w = sliding_windows(video, 4, 2)  # (N, 4, 3, 2, 2)
    assert w.shape == (3, 4, 3, 2, 2)
    assert w[:, :, 0, 0, 0].tolist() == [
        [0, 1, 2, 3],
        [2, 3, 4, 5],
        [4, 5, 6, 7],
    ]  # frame 8 uncovered
    pose = torch.arange(3 * 2 * 2, dtype=torch.float32).view(3, 2, 2)  # T=3 < window
    p = sliding_windows(pose, 5, 2)
    assert p.shape == (1, 5, 2, 2)
    for t, src in enumerate([0, 1, 2, 2, 2]):  # padded by repeating the last frame
        assert torch.equal(p[0, t], pose[src])


def test_window_batches_are_encoder_layout_and_bounded() -> None:
    g = torch.Generator().manual_seed(0)
    video = torch.randint(0, 255, (13, 3, 4, 4), generator=g, dtype=torch.uint8)
    batches = list(iter_window_batches(video, 4, 2, batch_size=2))
    assert [b.shape[0] for b in batches] == [2, 2, 1]
    assert all(b.shape[1:] == (3, 4, 4, 4) for b in batches)  # (b, 3, window, H, W)
    joined = torch.cat(batches).permute(0, 2, 1, 3, 4)  # (N, window, 3, H, W)
    assert torch.equal(joined, sliding_windows(video, 4, 2))
    pose = torch.randn(7, 5, 2, generator=g)
    conf = torch.rand(7, 5, generator=g)
    (b,) = list(iter_window_batches(pose, 4, 3, batch_size=8, conf=conf))
    assert b["x"].shape == (2, 4, 5, 2) and b["conf"].shape == (2, 4, 5)
    assert torch.equal(b["conf"][1], conf[3:7]) and not b["frame_mask"].any()


def test_window_positions_agree_with_the_streaming_decoder(tmp_path: Path) -> None:
    from signssl.io.video import iter_windows, write_video

    frames = np.zeros((23, 16, 16, 3), np.uint8)
    path = write_video(tmp_path / "v.mp4", frames, fps=25)
    for window, stride in ((4, 2), (16, 3), (30, 2)):
        streamed = [c.frame_indices.tolist() for c in iter_windows(path, window, stride)]
        assert streamed == window_index(23, window, stride).tolist()


# ----------------------------------------------------------------------------- pooling


def test_weighted_pooling_matches_a_hand_computation() -> None:
    z = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    a = torch.tensor([0.5, 0.0, 1.0])
    v, fell_back = pool_windows(z, a, "weighted")
    # (0.5 [1, 0] + 1 [3, 3]) / 1.5 = [7/3, 2]; normalised: [7, 6] / sqrt(85)
    assert not fell_back
    assert torch.allclose(v, torch.tensor([7.0, 6.0]) / math.sqrt(85.0))
    raw, _ = pool_windows(z, a, "weighted", normalize=False)
    assert torch.allclose(raw, torch.tensor([7.0 / 3.0, 2.0]))
    avg, _ = pool_windows(z, a, "avg")  # weights ignored: mean [4/3, 5/3] -> [4, 5] / sqrt(41)
    assert torch.allclose(avg, torch.tensor([4.0, 5.0]) / math.sqrt(41.0))


def test_zero_weights_fall_back_to_the_mean() -> None:
    z = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    v, fell_back = pool_windows(z, torch.zeros(2), "weighted")
    assert fell_back
    assert torch.allclose(v, F.normalize(z.mean(0), dim=0))


def test_pooling_errors() -> None:
    z = torch.ones(2, 3)
    with pytest.raises(ConfigError, match="pooling must be"):
        pool_windows(z, None, "max")
    with pytest.raises(ConfigError, match="activity"):
        pool_windows(z, None, "weighted")
    with pytest.raises(ConfigError, match=">= 0"):
        pool_windows(z, torch.tensor([1.0, -1.0]), "weighted")
    with pytest.raises(ConfigError, match="2 windows"):
        pool_windows(z, torch.ones(3), "weighted")


# ----------------------------------------------------------------------------- embedding


def test_embedder_equals_a_per_window_loop_on_video() -> None:
    torch.manual_seed(0)
    enc = create_model("hiera_test").eval()  # clips of 4 frames, 32 x 32
    video = torch.randint(0, 255, (11, 3, 32, 32), dtype=torch.uint8)
    emb = WindowEmbedder(enc, window=4, stride=2, batch_size=2)  # 4 windows, 2 batches
    out = emb.embed_clip(video)
    with torch.no_grad():
        ref = torch.stack(
            [
                enc.embed(video[s : s + 4].permute(1, 0, 2, 3)[None])[0]  # (3, 4, H, W)
                for s in (0, 2, 4, 6)
            ]
        )
    assert out.windows.shape == (4, enc.out_dim)
    assert torch.allclose(out.windows, ref, atol=1e-5)
    assert torch.allclose(out.vector, F.normalize(ref.mean(0), dim=0), atol=1e-5)
    assert out.weights is None and emb.stats.to_dict() == {
        "videos": 1,
        "windows": 4,
        "fallbacks": 0,
    }


def test_embedder_on_pose_windows_and_zero_activity_counts_fallbacks() -> None:
    torch.manual_seed(0)
    enc = create_model("pose_transformer_test").eval()
    pose = torch.randn(10, 49, 2)
    calls: list[int] = []

    def silent(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        calls.append(batch["x"].shape[0])
        return torch.zeros(batch["x"].shape[0])

    emb = WindowEmbedder(enc, window=4, stride=2, pooling="weighted", activity=silent, batch_size=3)
    out = emb.embed_clip(pose)
    assert calls == [3, 1]  # 4 windows in batches of 3
    with torch.no_grad():
        ref = torch.stack([enc.embed(pose[s : s + 4][None])[0] for s in (0, 2, 4, 6)])
    assert torch.allclose(out.windows, ref, atol=1e-5)
    assert out.fell_back and emb.stats.fallbacks == 1
    assert torch.allclose(out.vector, F.normalize(ref.mean(0), dim=0), atol=1e-5)


def test_embedder_checks_its_settings() -> None:
    enc = create_model("hiera_test")
    with pytest.raises(ConfigError, match="window must be 4"):
        WindowEmbedder(enc, window=16)
    with pytest.raises(ConfigError, match="activity head"):
        WindowEmbedder(enc, window=4, pooling="weighted")
    with pytest.raises(ConfigError, match="at most 64 frames"):
        WindowEmbedder(create_model("pose_transformer_test"), window=65)


# ----------------------------------------------------------------------------- activity head


def tiny_decoder(in_dim: int = 32) -> SignDecoder:
    torch.manual_seed(1)
    return SignDecoder(
        in_dim=in_dim,
        latent_dim=12,
        hidden=8,
        up_dim=6,
        num_frames=4,
        prior_dims={"hand_keypoints": 5},
        activity_hidden=7,
    )


def test_activity_head_reproduces_the_decoder_and_round_trips(tmp_path: Path) -> None:
    dec = tiny_decoder()
    head = ActivityHead.from_decoder(dec)
    tokens = torch.randn(3, 10, 32)
    with torch.no_grad():
        assert torch.allclose(head(tokens), dec(tokens).activity_logits, atol=1e-6)
    save_activity_head(head, tmp_path / "run" / "model")
    scorer = load_activity_head(tmp_path / "run")
    assert scorer is not None
    ref = torch.sigmoid(dec(tokens).activity_logits).max(dim=1).values  # Eq. 11
    assert torch.allclose(scorer.from_tokens(tokens), ref.detach(), atol=1e-6)


def test_missing_or_half_written_activity_head(tmp_path: Path) -> None:
    assert load_activity_head(tmp_path) is None
    save_activity_head(ActivityHead(8, 6, 4), tmp_path / "model")
    (tmp_path / "model" / "activity_head.json").unlink()
    with pytest.raises(DataError, match="activity_head.json is missing") as e:
        load_activity_head(tmp_path)
    assert "activity_head.safetensors" in str(e.value)
    save_activity_head(ActivityHead(8, 6, 4), tmp_path / "model")
    with pytest.raises(ConfigError, match="8-d tokens"):
        load_activity_head(tmp_path, create_model("hiera_test"))


def test_scorer_shares_the_encoder_pass_and_weights_windows() -> None:
    torch.manual_seed(0)
    enc = create_model("hiera_test").eval()
    scorer = ActivityScorer(ActivityHead.from_decoder(tiny_decoder(enc.out_dim)))
    video = torch.randint(0, 255, (8, 3, 32, 32), dtype=torch.uint8)
    (batch,) = list(iter_window_batches(video, 4, 2, batch_size=8))
    z, a = embed_windows(enc, batch, scorer)
    assert a is not None and torch.allclose(a, scorer.bind(enc)(batch), atol=1e-6)
    assert ((a > 0) & (a < 1)).all()
    emb = WindowEmbedder(enc, window=4, stride=2, pooling="weighted", activity=scorer)
    out = emb.embed_clip(video)
    hand = (a[:, None] * z).sum(0) / a.sum()  # Σ a_i z_i / Σ a_i
    assert torch.allclose(out.vector, hand / hand.norm(), atol=1e-5)
