"""VideoDataset / SlidingWindowDataset / collate_videos on short generated videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from video_helpers import identify, make_gray_video, raw_decode

from signssl.data import Manifest, ManifestRow
from signssl.data.loading import SampleError
from signssl.data.video import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    NO_POSE,
    POSE_MISMATCH,
    SlidingWindowDataset,
    VideoDataset,
    align_pose_frames,
    clip_positions,
    collate_videos,
)
from signssl.errors import ConfigError
from signssl.io import write_pose
from signssl.io.video import window_starts
from signssl.pose.layouts import get_layout
from signssl.pose.sequence import PoseSequence


def _pose(frames: int, fps: float | None = 30.0) -> PoseSequence:
    """``hands`` pose whose joint 0 has x = frame number (to check alignment)."""
    lay = get_layout("hands")
    xyz = np.ones((frames, lay.num_joints, 3), np.float32)
    xyz[:, 0, 0] = np.arange(frames)
    return PoseSequence(xyz, np.ones((frames, lay.num_joints), np.float32), lay, fps)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``videos.csv``: three 30-frame videos with poses (one with a 15 fps pose) + labels."""
    root = tmp_path_factory.mktemp("vd")
    rows = []
    for k, (label, signer) in enumerate([("book", "s1"), ("drink", "s2"), ("book", "s3")]):
        v = make_gray_video(root / "videos" / f"v{k}.mp4", frames=30)
        pose_fps = 15.0 if k == 2 else 30.0
        write_pose(_pose(30 if k != 2 else 15, pose_fps), root / "poses" / f"v{k}.pose")
        rows.append(ManifestRow(v.relative_to(root).as_posix(), label=label, signer=signer,
                                extra={"pose_path": f"poses/v{k}.pose"}))
    Manifest(rows, root).write(root / "videos.csv")
    return root


# ----------------------------------------------------------------------------- sampling

def test_clip_positions_hand_values() -> None:
    assert clip_positions(10, 4, "center").tolist() == [3, 4, 5, 6]
    assert clip_positions(10, 3, "center", frame_step=2).tolist() == [2, 4, 6]  # span 5
    assert clip_positions(3, 5, "center").tolist() == [0, 1, 2, 2, 2]
    assert clip_positions(10, 4, "uniform").tolist() == [0, 3, 6, 9]
    assert clip_positions(7, 99, "all", frame_step=3).tolist() == [0, 3, 6]
    rng = np.random.default_rng(0)
    starts = set()
    for _ in range(200):
        p = clip_positions(20, 5, "random", frame_step=2, rng=rng)  # span 9: start 0..11
        assert np.all(np.diff(p) == 2) and 0 <= p[0] <= 11
        starts.add(int(p[0]))
    assert starts == set(range(12))  # every start is reachable
    with pytest.raises(ConfigError):
        clip_positions(10, 4, "middle")
    with pytest.raises(ConfigError):
        clip_positions(0, 4)


def test_align_pose_frames() -> None:
    seq = _pose(30)
    assert align_pose_frames(np.array([0, 5, 29]), 30.0, seq, "p").xyz[:, 0, 0].tolist() == [0, 5, 29]
    half = _pose(15, fps=15.0)  # pose at half the video rate: frame round(i / 2)
    got = align_pose_frames(np.array([0, 1, 3, 28]), 30.0, half, "p").xyz[:, 0, 0]
    assert got.tolist() == [0, 0, 2, 14]  # round half to even: 0.5 -> 0, 1.5 -> 2
    short = _pose(28)  # two frames short: the last one is repeated
    assert align_pose_frames(np.array([29]), 30.0, short, "p").xyz[0, 0, 0] == 27
    with pytest.raises(SampleError, match="extract it again") as exc:
        align_pose_frames(np.array([29]), 30.0, _pose(20), "p.pose")
    assert exc.value.reason == POSE_MISMATCH


# ----------------------------------------------------------------------------- VideoDataset

def test_center_clips_with_aligned_poses(data: Path) -> None:
    ds = VideoDataset(data / "videos.csv", clip_len=8, sampling="center", size=(24, 32),
                      with_pose=True)
    assert len(ds) == 3 and ds.classes == ["book", "drink"]
    s = ds[1]
    assert tuple(s["video"].shape) == (8, 3, 24, 32) and s["video"].dtype == torch.uint8
    assert s["frame_indices"].tolist() == list(range(11, 19))
    assert (s["label"], s["signer"], s["index"]) == (1, "s2", 1)
    assert s["path"] == str(data / "videos" / "v1.mp4")
    # the frames are the reference frames 11..18, resized
    ref = raw_decode(data / "videos" / "v1.mp4")
    from signssl.io.video import resize_frames

    np.testing.assert_array_equal(s["video"].permute(0, 2, 3, 1).numpy(),
                                  resize_frames(ref[11:19], (24, 32)))
    assert s["pose"].xyz[:, 0, 0].tolist() == list(range(11, 19))
    # the 15 fps pose of v2: video frame i -> pose frame round(i / 2)
    assert ds[2]["pose"].xyz[:, 0, 0].tolist() == [6, 6, 6, 7, 8, 8, 8, 9]


def test_random_uniform_fps_and_frame_range(data: Path) -> None:
    m = Manifest.read(data / "videos.csv")
    rows = [ManifestRow(m.rows[0].path, label="book", start=5, end=25)]
    ranged = Manifest(rows, m.root)
    ref = raw_decode(data / "videos" / "v0.mp4")
    ds = VideoDataset(ranged, clip_len=4, sampling="random", size=None, seed=0)
    seen = set()
    for _ in range(30):
        s = ds[0]
        idx = s["frame_indices"].numpy()
        assert np.all(np.diff(idx) == 1) and 5 <= idx[0] <= 21 and idx[-1] < 25
        assert identify(s["video"].permute(0, 2, 3, 1).numpy(), ref).tolist() == idx.tolist()
        seen.add(int(idx[0]))
    assert len(seen) > 5
    ds = VideoDataset(ranged, clip_len=5, sampling="uniform", size=None)
    assert ds[0]["frame_indices"].tolist() == [5, 10, 15, 19, 24]  # 5 + round(0, 4.75, ...)
    ds = VideoDataset(ranged, clip_len=4, sampling="center", fps=10, size=None)
    # 20 frames at 30 fps -> 7 at 10 fps: 5, 8, ..., 23; centre 4 of 7 -> positions 1..4
    assert ds[0]["frame_indices"].tolist() == [8, 11, 14, 17]
    torch.manual_seed(3)
    a = VideoDataset(ranged, clip_len=4, size=None)[0]["frame_indices"]
    torch.manual_seed(3)
    b = VideoDataset(ranged, clip_len=4, size=None)[0]["frame_indices"]
    assert torch.equal(a, b)  # random sampling follows torch's seed


def test_float_and_imagenet_normalisation(data: Path) -> None:
    ds = VideoDataset(data / "videos.csv", clip_len=2, sampling="center", size=None,
                      dtype="float32")
    u8 = VideoDataset(data / "videos.csv", clip_len=2, sampling="center", size=None)[0]["video"]
    f = ds[0]["video"]
    assert f.dtype == torch.float32 and torch.allclose(f, u8.float() / 255)
    ds = VideoDataset(data / "videos.csv", clip_len=2, sampling="center", size=None,
                      dtype="float32", normalize="imagenet")
    n = ds[0]["video"]
    for c in range(3):
        expect = (u8[:, c].float() / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        assert torch.allclose(n[:, c], expect, atol=1e-6)
    with pytest.raises(ConfigError, match="float32"):
        VideoDataset(data / "videos.csv", normalize="imagenet")


def test_transform_and_split(data: Path) -> None:
    m = Manifest.read(data / "videos.csv")
    rows = [ManifestRow(r.path, r.label, r.signer, "train" if i < 2 else "test", extra=r.extra)
            for i, r in enumerate(m)]
    split = Manifest(rows, m.root)
    ds = VideoDataset(split, clip_len=3, split="test", size=16,
                      transform=lambda v: v.flip(-1))
    assert len(ds) == 1 and ds.classes == ["book", "drink"] and ds[0]["label"] == 0
    plain = VideoDataset(split, clip_len=3, split="test", size=16, sampling="center")[0]["video"]
    ds.sampling = "center"
    assert torch.equal(ds[0]["video"], plain.flip(-1))


def test_bad_rows_raise_or_are_skipped(data: Path, tmp_path: Path) -> None:
    m = Manifest.read(data / "videos.csv")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(2000))  # seeded: the same junk every run
    rows = [
        ManifestRow(str(m.resolve(0)), label="book", extra={"pose_path": str(data / "poses/v0.pose")}),
        ManifestRow(str(junk), label="book", extra={"pose_path": ""}),
        ManifestRow(str(tmp_path / "gone.mp4"), label="book", extra={"pose_path": ""}),
        ManifestRow(str(m.resolve(1)), label="drink", extra={"pose_path": ""}),
        ManifestRow(str(m.resolve(0)), label="drink", start=40, extra={"pose_path": ""}),
    ]
    bad = Manifest(rows, tmp_path)
    with pytest.raises(SampleError, match="not a readable video") as exc:
        VideoDataset(bad, clip_len=4)[1]
    assert exc.value.path == str(junk)
    ds = VideoDataset(bad, clip_len=4, size=16, on_error="skip", with_pose=True)
    assert ds[1]["index"] == 0  # rows 1..4 are bad: wraps around to row 0
    rep = ds.scan(progress=False)
    assert len(ds) == 1 and rep.kept == 1
    assert rep.counts() == {"kept": 1, "unreadable": 2, NO_POSE: 1, "empty": 1}
    assert str(junk) in rep.items("unreadable")


# ----------------------------------------------------------------------------- sliding windows

def test_sliding_windows_cover_every_video(data: Path) -> None:
    ds = SlidingWindowDataset(data / "videos.csv", window=8, stride=4, size=(12, 16),
                              with_pose=True)
    samples = list(ds)
    starts = window_starts(30, 8, 4)  # 0, 4, ..., 20: 6 windows per video
    assert len(samples) == 3 * len(starts)
    for k, s in enumerate(samples):
        video, w = divmod(k, len(starts))
        assert s["index"] == video and s["window_index"] == w
        assert s["frame_indices"].tolist() == list(range(starts[w], starts[w] + 8))
        assert tuple(s["video"].shape) == (8, 3, 12, 16)
    assert samples[1]["pose"].xyz[:, 0, 0].tolist() == list(range(4, 12))
    assert ds.report().kept == 3


def test_sliding_windows_with_loader_workers_and_bad_video(data: Path, tmp_path: Path) -> None:
    m = Manifest.read(data / "videos.csv")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(2000))  # seeded: the same junk every run
    rows = list(m.rows) + [ManifestRow(str(junk), label="book")]
    ds = SlidingWindowDataset(Manifest(rows, m.root), window=12, stride=7, size=16,
                              cover_end=True)
    per_video = window_starts(30, 12, 7, cover_end=True)
    assert per_video == [0, 7, 14, 18]  # the last one added to reach frame 29
    assert len(list(ds)) == 3 * len(per_video)
    assert ds.report().count("unreadable") == 1
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate_videos)
    batches = list(loader)
    seen = sorted((int(i), int(w)) for b in batches for i, w in zip(b["index"], b["window_index"],
                                                                     strict=True))
    assert seen == sorted((v, w) for v in range(3) for w in range(4))  # each window once
    assert tuple(batches[0]["video"].shape[1:]) == (12, 3, 16, 21)  # shorter side 16


# ----------------------------------------------------------------------------- collate

def test_collate_videos(data: Path) -> None:
    ds = VideoDataset(data / "videos.csv", clip_len=5, sampling="center", size=16, with_pose=True)
    batch = collate_videos([ds[0], ds[1], ds[2]])
    assert tuple(batch["video"].shape) == (3, 5, 3, 16, 21)
    assert batch["label"].tolist() == [0, 1, 0] and batch["index"].tolist() == [0, 1, 2]
    assert tuple(batch["frame_indices"].shape) == (3, 5)
    assert tuple(batch["pose_x"].shape) == (3, 5, 42, 3) and batch["pose_x"].dtype == torch.float32
    assert tuple(batch["pose_conf"].shape) == (3, 5, 42)
    assert batch["pose_x"][1, :, 0, 0].tolist() == list(range(12, 17))
    loose = VideoDataset(data / "videos.csv", clip_len=5, sampling="all", size=16)
    with pytest.raises(ValueError, match="batch_size=1"):
        collate_videos([loose[0], ds[0]])
    with pytest.raises(ValueError, match="empty"):
        collate_videos([])
