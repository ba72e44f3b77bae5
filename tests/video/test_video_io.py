"""signssl.io.video against PyAV's plain decode loop and hand-computed frame numbers."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from video_helpers import (
    corrupt_video,
    frame_levels,
    gray_level,
    identify,
    make_gray_video,
    make_noise_video,
    raw_decode,
)

from signssl.errors import ConfigError, DataError
from signssl.io.video import (
    VideoClip,
    count_frames,
    iter_frames,
    iter_windows,
    output_size,
    probe_video,
    read_frames,
    read_video,
    resample_indices,
    resize_frames,
    uniform_indices,
    window_starts,
    write_video,
)


@pytest.fixture(scope="module")
def gray(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_gray_video(tmp_path_factory.mktemp("v") / "gray.mp4", frames=30, fps=30)


@pytest.fixture(scope="module")
def reference(gray: Path) -> np.ndarray:
    return raw_decode(gray)


# ----------------------------------------------------------------------------- index helpers

def test_index_helpers_hand_values() -> None:
    assert uniform_indices(10, 4).tolist() == [0, 3, 6, 9]
    assert uniform_indices(3, 5).tolist() == [0, 0, 1, 2, 2]  # 0, .5, 1, 1.5, 2 rounded to even
    assert uniform_indices(7, 1).tolist() == [0]
    # 30 -> 12 fps: source step 2.5, floor(k * 2.5)
    assert resample_indices(30, 30, 12).tolist() == [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27]
    assert resample_indices(31, 30, 15).tolist() == list(range(0, 31, 2))  # 16 frames
    assert resample_indices(3, 10, 20).tolist() == [0, 0, 1, 1, 2, 2]
    # 25 -> 30 fps: floor(k * 5 / 6) for k < ceil(6 * 6 / 5) = 8
    assert resample_indices(6, 25, 30).tolist() == [0, 0, 1, 2, 3, 4, 5, 5]
    assert window_starts(10, 4, 3) == [0, 3, 6]
    assert window_starts(11, 4, 3) == [0, 3, 6]
    assert window_starts(11, 4, 3, cover_end=True) == [0, 3, 6, 7]
    assert window_starts(3, 4, 2) == [0] and window_starts(3, 4, 2, pad_short=False) == []
    assert window_starts(0, 4, 2) == []
    with pytest.raises(ConfigError):
        window_starts(10, 0, 1)


def test_resample_count_matches_duration() -> None:
    """Invariant: resampling n frames at r to f gives ceil(n * f / r) frames, all in range."""
    for n in (1, 7, 30, 31, 100):
        for src, dst in ((30, 10), (30, 12.5), (25, 30), (29.97, 15), (24, 24)):
            idx = resample_indices(n, src, dst)
            assert len(idx) == int(np.ceil(n * dst / src - 1e-9)), (n, src, dst)
            assert idx.min() == 0 and idx.max() < n and np.all(np.diff(idx) >= 0)


# ----------------------------------------------------------------------------- decoding

def test_frames_are_the_reference_frames_in_order(gray: Path, reference: np.ndarray) -> None:
    clip = read_video(gray)
    assert clip.frames.shape == (30, 48, 64, 3) and clip.frames.dtype == np.uint8
    assert clip.fps == 30 and clip.source == str(gray)
    np.testing.assert_array_equal(clip.frames, reference)
    assert clip.frame_indices.tolist() == list(range(30))
    # the content is what was encoded: grey level of frame i (lossless H.264, +-2 for YUV)
    levels = frame_levels(clip.frames)
    np.testing.assert_allclose(levels, [gray_level(i) for i in range(30)], atol=2)


def test_probe_and_count(gray: Path) -> None:
    info = probe_video(gray)
    assert (info.num_frames, info.fps, info.width, info.height) == (30, 30.0, 64, 48)
    assert info.codec == "h264" and abs(info.duration - 1.0) < 1e-6
    assert count_frames(gray) == 30


@pytest.mark.parametrize(("start", "end"), [(5, 12), (0, 1), (29, None), (None, 3), (10, 99)])
def test_frame_range_is_a_slice(gray: Path, reference: np.ndarray, start, end) -> None:
    clip = read_video(gray, start=start, end=end)
    np.testing.assert_array_equal(clip.frames, reference[start:end])
    assert clip.frame_indices.tolist() == list(range(30))[start:end]


def test_empty_range_is_an_error(gray: Path) -> None:
    with pytest.raises(DataError, match="selects no frame"):
        read_video(gray, start=40)
    with pytest.raises(ConfigError):
        read_video(gray, start=5, end=5)


@pytest.mark.parametrize(("fps", "expected"), [
    (10, list(range(0, 30, 3))),
    (12, [0, 2, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27]),
    (60, [i // 2 for i in range(60)]),
])
def test_fps_resampling(gray: Path, reference: np.ndarray, fps, expected) -> None:
    clip = read_video(gray, fps=fps)
    assert clip.fps == fps
    assert clip.frame_indices.tolist() == expected
    assert identify(clip.frames, reference).tolist() == expected


def test_fps_resampling_within_a_range(gray: Path, reference: np.ndarray) -> None:
    clip = read_video(gray, start=4, end=14, fps=15)  # times relative to the range start
    assert clip.frame_indices.tolist() == [4, 6, 8, 10, 12]
    np.testing.assert_array_equal(clip.frames, reference[[4, 6, 8, 10, 12]])


def test_fixed_frame_count(gray: Path, reference: np.ndarray) -> None:
    clip = read_video(gray, num_frames=4)
    assert clip.frame_indices.tolist() == [0, 10, 19, 29]  # round(linspace(0, 29, 4))
    np.testing.assert_array_equal(clip.frames, reference[[0, 10, 19, 29]])
    assert clip.fps == pytest.approx(4.0)  # 4 frames over the 1 s clip
    clip = read_video(gray, start=10, end=20, num_frames=3)
    assert clip.frame_indices.tolist() == [10, 14, 19]  # 10 + round(0, 4.5, 9)
    with pytest.raises(ConfigError, match="not both"):
        read_video(gray, fps=10, num_frames=4)


def test_read_frames_any_order(gray: Path, reference: np.ndarray) -> None:
    clip = read_frames(gray, [7, 2, 2, 29, 0])
    assert clip.frame_indices.tolist() == [7, 2, 2, 29, 0]
    np.testing.assert_array_equal(clip.frames, reference[[7, 2, 2, 29, 0]])
    with pytest.raises(DataError, match="frame 30 is wanted but the video has 30 frames"):
        read_frames(gray, [3, 30])
    clip = read_frames(gray, [28, 30, 31], tolerance=2)  # past the end: the last frame
    assert clip.frame_indices.tolist() == [28, 29, 29]
    np.testing.assert_array_equal(clip.frames[1], reference[29])
    with pytest.raises(ConfigError):
        read_frames(gray, [-1])


def test_iter_frames_streams_the_same_frames(gray: Path, reference: np.ndarray) -> None:
    frames = list(iter_frames(gray, start=3, end=9))
    assert len(frames) == 6
    np.testing.assert_array_equal(np.stack(frames), reference[3:9])
    frames = list(iter_frames(gray, fps=10))
    np.testing.assert_array_equal(np.stack(frames), reference[::3])


# ----------------------------------------------------------------------------- resizing

def test_output_size() -> None:
    assert output_size(480, 640, 240) == (240, 320)
    assert output_size(640, 480, 240) == (320, 240)
    assert output_size(480, 640, (100, 50)) == (100, 50)
    assert output_size(48, 64, None) == (48, 64)
    for bad in (0, (0, 5), "big", (1, 2, 3)):
        with pytest.raises(ConfigError):
            output_size(48, 64, bad)


def test_resize_matches_pil_bilinear() -> None:
    """Reference: PIL's antialiased bilinear resize, within 2 grey levels."""
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:60, 0:80]
    img = np.stack([(xx * 3) % 256, (yy * 4) % 256, (xx + yy) % 256], -1).astype(np.uint8)
    img = np.clip(img.astype(int) + rng.integers(-10, 10, img.shape), 0, 255).astype(np.uint8)
    frames = np.stack([img, img[::-1].copy()])
    for size in ((30, 40), (45, 50), (90, 120)):
        ours = resize_frames(frames, size)
        assert ours.shape == (2, *size, 3) and ours.dtype == np.uint8
        for t in range(2):
            ref = np.asarray(Image.fromarray(frames[t]).resize(size[::-1], Image.BILINEAR))
            diff = np.abs(ours[t].astype(int) - ref.astype(int))
            assert diff.max() <= 2, (size, diff.max())


def test_resize_keeps_constants_and_aspect(gray: Path) -> None:
    clip = read_video(gray, size=24)
    assert clip.frames.shape == (30, 24, 32, 3)
    # a uniform 12 x 32 patch away from the square stays uniform at its level
    small = resize_frames(np.full((2, 48, 64, 3), 77, np.uint8), (17, 23))
    assert np.all(small == 77)
    same = np.zeros((1, 8, 8, 3), np.uint8)
    assert resize_frames(same, (8, 8)) is same


# ----------------------------------------------------------------------------- windows

@pytest.mark.parametrize(("window", "stride", "cover_end"), [(8, 4, False), (8, 5, True),
                                                             (30, 1, False), (16, 2, False)])
def test_windows_are_slices_of_the_clip(gray: Path, reference: np.ndarray, window, stride,
                                        cover_end) -> None:
    wins = list(iter_windows(gray, window, stride, cover_end=cover_end))
    starts = window_starts(30, window, stride, cover_end)
    assert len(wins) == len(starts)
    for clip, s in zip(wins, starts, strict=True):
        assert clip.frames.shape == (window, 48, 64, 3)
        assert clip.frame_indices.tolist() == list(range(s, s + window))
        np.testing.assert_array_equal(clip.frames, reference[s:s + window])


def test_windows_short_clip_resampled_and_resized(gray: Path, reference: np.ndarray) -> None:
    wins = list(iter_windows(gray, 16, 2, start=20, end=26))  # 6 frames < 16
    assert len(wins) == 1
    assert wins[0].frame_indices.tolist() == [20, 21, 22, 23, 24, 25] + [25] * 10
    np.testing.assert_array_equal(wins[0].frames[-1], reference[25])
    assert list(iter_windows(gray, 16, 2, start=20, end=26, pad_short=False)) == []
    wins = list(iter_windows(gray, 4, 2, fps=10, size=(12, 16)))  # positions of 0, 3, ..., 27
    assert [w.frame_indices.tolist() for w in wins] == [[0, 3, 6, 9], [6, 9, 12, 15],
                                                        [12, 15, 18, 21], [18, 21, 24, 27]]
    assert all(w.frames.shape == (4, 12, 16, 3) and w.fps == 10 for w in wins)


def test_windows_stream_without_holding_the_video(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The first window comes after decoding its 8 frames, not the 120 of the file."""
    import signssl.io.video as video_module

    video = make_gray_video(tmp_path / "long.mp4", frames=120)
    converted = []
    real = video_module._to_rgb
    monkeypatch.setattr(video_module, "_to_rgb", lambda f, q: converted.append(1) or real(f, q))
    gen = iter_windows(video, 8, 8)
    first = next(gen)
    assert first.frame_indices.tolist() == list(range(8))
    assert len(converted) == 8
    assert sum(1 for _ in gen) == 14 and len(converted) == 120  # 15 windows in all


# ----------------------------------------------------------------------------- writing

def test_write_video_round_trip(tmp_path: Path) -> None:
    frames = np.stack([np.full((32, 48, 3), 40 + 20 * i, np.uint8) for i in range(6)])
    out = write_video(tmp_path / "sub" / "w.mp4", frames, fps=12.5, crf=0)
    back = raw_decode(out)
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames.astype(int)).max() <= 2
    assert probe_video(out).fps == 12.5
    assert [p.name for p in out.parent.iterdir()] == ["w.mp4"]  # no temporary left
    # other containers, and frames given one by one
    mkv = write_video(tmp_path / "w.mkv", iter(frames), fps=25)
    assert count_frames(mkv) == 6


def test_write_video_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "a.mp4"
    write_video(target, np.zeros((3, 16, 16, 3), np.uint8), fps=10)
    before = target.read_bytes()

    def frames():
        yield np.full((16, 16, 3), 200, np.uint8)
        yield np.full((16, 16, 3), 100, np.uint8)
        raise RuntimeError("source died")

    with pytest.raises(RuntimeError):
        write_video(target, frames(), fps=10)
    assert target.read_bytes() == before  # the old file is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


def test_write_video_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="even"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 15, 16, 3), np.uint8), fps=10)
    with pytest.raises(ConfigError, match="cannot write"):
        write_video(tmp_path / "x.gif", np.zeros((2, 16, 16, 3), np.uint8), fps=10)
    with pytest.raises(DataError, match="uint8"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 16, 16, 3), np.float32), fps=10)
    with pytest.raises(DataError, match="no frames"):
        write_video(tmp_path / "e.mp4", [], fps=10)
    assert list(tmp_path.iterdir()) == []


def test_display_rotation_is_applied(tmp_path: Path) -> None:
    """A file whose display matrix turns the picture 90 degrees counter-clockwise."""
    frame = np.zeros((16, 32, 3), np.uint8)
    frame[:8, :8] = 255  # a white top-left corner
    path = tmp_path / "rot.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=10, options={"crf": "0"})
        s.width, s.height, s.pix_fmt = 32, 16, "yuv444p"
        s.set_display_rotation(90)
        for _ in range(2):
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    clip = read_video(path)
    assert clip.frames.shape == (2, 32, 16, 3)
    # turned counter-clockwise, the top-left corner ends up bottom-left
    assert clip.frames[0, -4:, :4].mean() > 200 and clip.frames[0, :4, :4].mean() < 50
    assert read_video(path, autorotate=False).frames.shape == (2, 16, 32, 3)


# ----------------------------------------------------------------------------- bad files

def _assert_names_file(exc: pytest.ExceptionInfo, path: Path) -> None:
    assert exc.value.path == str(path) and str(path) in str(exc.value)


def test_missing_folder_and_garbage(tmp_path: Path) -> None:
    for path, match in [(tmp_path / "nope.mp4", "does not exist"), (tmp_path, "is a folder")]:
        with pytest.raises(DataError, match=match) as exc:
            read_video(path)
        _assert_names_file(exc, path)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(4000))  # seeded: the same junk every run
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    for bad in (junk, empty):
        for reader in (read_video, probe_video, count_frames, lambda p: list(iter_windows(p))):
            with pytest.raises(DataError, match="not a readable video") as exc:
                reader(bad)
            _assert_names_file(exc, bad)


@pytest.mark.parametrize("faststart", [False, True])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.97])
def test_truncated_files_are_reported(tmp_path: Path, faststart: bool, keep: float) -> None:
    whole = make_noise_video(tmp_path / "whole.mp4", frames=60, faststart=faststart)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(DataError) as exc:
        read_video(cut)
    _assert_names_file(exc, cut)
    assert any(w in str(exc.value) for w in ("truncated", "not a readable", "no video stream"))
    with pytest.raises(DataError):
        list(iter_windows(cut, 8, 8))
    if faststart and 0.5 < keep < 0.9:  # the header survives: counting finds the gap
        with pytest.raises(DataError, match="truncated"):
            count_frames(cut)


@pytest.mark.parametrize("faststart", [False, True])
@pytest.mark.parametrize("how", ["flip", "codec"])
def test_damaged_files_raise_data_error_in_every_reader(
    tmp_path: Path, how: str, faststart: bool
) -> None:
    """A damaged header (bytes flipped from one third on, or a codec entry no decoder
    reads) is a DataError naming the file in every reader, never a PyAV AttributeError."""
    good = make_gray_video(tmp_path / "good.mp4", frames=8, height=16, width=24,
                           faststart=faststart)
    bad = corrupt_video(good, tmp_path / "bad.mp4", how)
    readers = {
        "probe_video": probe_video,
        "count_frames": count_frames,
        "read_video": read_video,
        "read_video(fps)": lambda p: read_video(p, fps=15),
        "read_frames": lambda p: read_frames(p, [0, 3]),
        "iter_frames": lambda p: list(iter_frames(p, fps=10)),
        "iter_windows": lambda p: list(iter_windows(p, 4, 2)),
    }
    failed = 0
    for name, reader in readers.items():
        try:
            reader(bad)
        except DataError as e:
            assert e.path == str(bad), name
            assert str(bad) in str(e) and "NoneType" not in str(e), name
            failed += 1
    assert failed >= 3  # at least the decoding readers see the damage
    if how == "codec":  # the header itself names no usable codec: every reader refuses
        assert failed == len(readers)
        with pytest.raises(DataError, match="no decoder can read"):
            probe_video(bad)


def test_video_clip_validation() -> None:
    with pytest.raises(DataError, match="uint8"):
        VideoClip(np.zeros((2, 4, 4, 3), np.float32), 25)
    with pytest.raises(DataError, match="fps"):
        VideoClip(np.zeros((2, 4, 4, 3), np.uint8), 0)
    clip = VideoClip(np.zeros((2, 4, 6, 3), np.uint8), 25, frame_indices=[3, 4])
    assert (clip.num_frames, clip.height, clip.width, clip.duration) == (2, 4, 6, 0.08)
    t = clip.to_tensor("float32")
    assert tuple(t.shape) == (2, 3, 4, 6) and str(t.dtype) == "torch.float32"
