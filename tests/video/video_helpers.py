"""Short test videos made with NumPy + PyAV, a raw-PyAV reference decoder, and fake pose
estimators for the extraction tests (importable by worker processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import av
import numpy as np

from signssl.pose.layouts import get_layout


def gray_level(i: int) -> int:
    """Grey level of frame ``i`` of :func:`make_gray_video` (distinct for i < 30)."""
    return 10 + 8 * i


def make_gray_video(
    path: str | Path, frames: int = 30, fps: float = 30, height: int = 48, width: int = 64,
    faststart: bool = False,
) -> Path:
    """An H.264 mp4 whose frame ``i`` is uniformly grey at :func:`gray_level` ``(i)``,
    with a dark square whose column also encodes ``i`` (so frames differ in content)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    opts = {"movflags": "faststart"} if faststart else {}
    with av.open(str(p), "w", format="mp4", options=opts) as c:
        s = c.add_stream("libx264", rate=int(fps) if float(fps).is_integer() else fps,
                         options={"crf": "0"})
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            f = np.full((height, width, 3), gray_level(i % 30), np.uint8)
            col = (i * 2) % max(1, width - 8)
            f[4:12, col:col + 8] = 0
            for packet in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return p


def make_noise_video(path: str | Path, frames: int = 90, size: int = 64, seed: int = 0,
                     faststart: bool = True) -> Path:
    """A larger, hard-to-compress video (random frames), for truncation tests."""
    rng = np.random.default_rng(seed)
    p = Path(path)
    opts = {"movflags": "faststart"} if faststart else {}
    with av.open(str(p), "w", format="mp4", options=opts) as c:
        s = c.add_stream("libx264", rate=30)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        for _ in range(frames):
            f = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            for packet in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    return p


def raw_decode(path: str | Path) -> np.ndarray:
    """Reference: PyAV's plain decode loop, ``(T, H, W, 3)`` uint8."""
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def frame_levels(frames: np.ndarray) -> np.ndarray:
    """Median grey level of every frame (the dark square does not move the median)."""
    return np.median(frames.reshape(frames.shape[0], -1), axis=1)


def identify(frames: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Index in ``reference`` of the exactly equal frame, for every frame (-1 = none)."""
    out = []
    for f in frames:
        hits = [k for k, r in enumerate(reference) if r.shape == f.shape and np.array_equal(r, f)]
        out.append(hits[0] if hits else -1)
    return np.array(out)


def corrupt_video(src: str | Path, dst: str | Path, how: str) -> Path:
    """A damaged copy of the mp4 ``src``.

    ``how``: ``"flip"`` inverts every byte from one third of the file on; ``"codec"``
    renames the H.264 entry of the header (``avc1``) to an unknown codec, so the file opens
    but no decoder reads its video stream.
    """
    data = Path(src).read_bytes()
    if how == "flip":
        cut = len(data) // 3
        data = data[:cut] + bytes(255 - b for b in data[cut:])
    elif how == "codec":
        assert b"avc1" in data, "not an H.264 mp4"
        data = data.replace(b"avc1", b"zzzz")
    else:
        raise ValueError(f"unknown damage {how!r}")
    out = Path(dst)
    out.write_bytes(data)
    return out


# ----------------------------------------------------------------------------- fake estimators

class SimulatedKill(BaseException):
    """Stands for the process being killed (not an ``Exception``: nothing catches it)."""


class FakeEstimator:
    """Deterministic stand-in for a pose estimator, layout ``hands`` (42 joints).

    Joint ``j`` of a frame is at ``(median grey level, j, frames since reset)`` with
    confidence 1, except joint 0 which is missing (confidence 0) on dark frames
    (level < 14, i.e. frame 0 of a grey video).  ``delay`` seconds are spent per frame; with ``kill_after`` frames
    processed in this process, :class:`SimulatedKill` is raised.
    """

    def __init__(self, delay: float = 0.0, kill_after: int | None = None) -> None:
        self.layout = get_layout("hands")
        self.delay, self.kill_after = delay, kill_after
        self.processed = 0
        self.since_reset = 0
        self.resets = 0
        self.closed = False

    def process(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.kill_after is not None and self.processed >= self.kill_after:
            raise SimulatedKill(f"killed after {self.processed} frames")
        if self.delay:
            time.sleep(self.delay)
        level = float(np.median(frame))
        J = self.layout.num_joints
        xyz = np.stack([np.full(J, level), np.arange(J), np.full(J, self.since_reset)], 1)
        conf = np.ones(J, np.float32)
        if level < 14:
            conf[0] = 0.0
            xyz[0] = 0.0
        self.processed += 1
        self.since_reset += 1
        return xyz.astype(np.float32), conf

    def reset(self) -> None:
        self.since_reset = 0
        self.resets += 1

    def close(self) -> None:
        self.closed = True


def expected_pose(video: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """What :class:`FakeEstimator` gives for ``video`` (from the reference decode)."""
    est = FakeEstimator()
    frames = raw_decode(video)
    pairs = [est.process(f) for f in frames]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


class SlowFakeEstimator(FakeEstimator):
    """:class:`FakeEstimator` spending ``SIGNSSL_TEST_DELAY`` seconds (default 0.02) a frame."""

    def __init__(self) -> None:
        super().__init__(delay=float(os.environ.get("SIGNSSL_TEST_DELAY", "0.02")))


class BrokenEstimator:
    """An estimator whose constructor fails (e.g. a model file missing)."""

    def __init__(self) -> None:
        raise RuntimeError("model file not found")


class FailingOnBrightEstimator(FakeEstimator):
    """Raises ``ValueError`` on frames brighter than 200 (an estimator bug on some input)."""

    def process(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if float(np.median(frame)) > 200:
            raise ValueError("cannot handle bright frames")
        return super().process(frame)


class CrashingEstimator(FakeEstimator):
    """Kills its own process on frames brighter than 200 (a crash inside a native library)."""

    def process(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if float(np.median(frame)) > 200:
            os._exit(3)
        return super().process(frame)
