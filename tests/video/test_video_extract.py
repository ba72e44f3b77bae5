"""Pose extraction with a fake estimator: outputs, manifests, failures, resuming, workers."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
from video_helpers import (
    FailingOnBrightEstimator,
    FakeEstimator,
    SimulatedKill,
    expected_pose,
    make_gray_video,
)

from signssl.data import Manifest, ManifestRow
from signssl.errors import ConfigError, DataError, MissingExtraError
from signssl.extract import (
    LOCK_NAME,
    MANIFEST_NAME,
    REPORT_NAME,
    VIDEO_MANIFEST_NAME,
    extract_poses,
    extract_video,
    plan_extraction,
    resolve_estimator,
)
from signssl.io import read_pose
from signssl.io.video import write_video

FAKE = "video_helpers:FakeEstimator"


def _videos(folder: Path, n: int, frames: int = 6) -> list[Path]:
    """``n`` short videos in two sub-folders; video k starts at grey frame k."""
    out = []
    for k in range(n):
        sub = "a" if k % 2 == 0 else "b/c"
        out.append(make_gray_video(folder / sub / f"v{k:02d}.mp4", frames=frames + k % 3,
                                   height=16, width=24))
    return out


def _state(out_dir: Path) -> dict[str, tuple[int, str]]:
    """``{relative .pose path: (mtime_ns, sha1 of the bytes)}``."""
    return {
        p.relative_to(out_dir).as_posix(): (p.stat().st_mtime_ns,
                                             hashlib.sha1(p.read_bytes()).hexdigest())
        for p in sorted(out_dir.rglob("*.pose"))
    }


def _assert_correct(video: Path, pose_path: Path) -> None:
    seq = read_pose(pose_path)
    xyz, conf = expected_pose(video)
    assert seq.layout.name == "hands" and seq.fps == 30
    np.testing.assert_array_equal(seq.conf, conf)
    np.testing.assert_allclose(seq.xyz, xyz, atol=1e-4)


def test_extract_video_matches_the_estimator_on_every_frame(tmp_path: Path) -> None:
    video = make_gray_video(tmp_path / "v.mp4", frames=9)
    est = FakeEstimator()
    seq = extract_video(video, est)
    xyz, conf = expected_pose(video)
    assert seq.num_frames == 9 and seq.fps == 30 and seq.layout.name == "hands"
    np.testing.assert_allclose(seq.xyz, xyz, atol=1e-5)
    np.testing.assert_array_equal(seq.conf, conf)
    assert conf[0, 0] == 0 and conf[1, 0] == 1  # frame 0 is dark: joint 0 missing
    seq2 = extract_video(video, est)  # reset between videos: the frame counter restarts
    assert est.resets == 2
    np.testing.assert_array_equal(seq2.xyz, seq.xyz)


def test_folder_extraction_outputs_and_manifests(tmp_path: Path) -> None:
    videos = _videos(tmp_path / "in", 4)
    out = tmp_path / "out"
    report = extract_poses(tmp_path / "in", out, estimator=FAKE, progress=False)
    assert (report.extracted, report.skipped_existing, report.failed) == (4, 0, 0)
    assert report.frames == sum(6 + k % 3 for k in range(4))
    for v in videos:
        rel = v.relative_to(tmp_path / "in").with_suffix(".pose")
        _assert_correct(v, out / rel)
    m = Manifest.read(out / MANIFEST_NAME)
    # folder order: a/ before b/c/
    assert [r.path for r in m] == ["a/v00.pose", "a/v02.pose", "b/c/v01.pose", "b/c/v03.pose"]
    in_order = [videos[k] for k in (0, 2, 1, 3)]
    assert [r.extra["video"] for r in m] == [str(v) for v in in_order]
    vm = Manifest.read(out / VIDEO_MANIFEST_NAME)
    assert [vm.resolve(r) for r in vm] == in_order
    assert [r.extra["pose_path"] for r in vm] == [r.path for r in m]
    saved = json.loads((out / REPORT_NAME).read_text())
    assert saved["extracted"] == 4 and saved["failed"] == 0 and saved["frames"] == report.frames
    assert not (out / LOCK_NAME).exists()


def test_manifest_input_keeps_columns_and_shares_videos(tmp_path: Path) -> None:
    v1 = make_gray_video(tmp_path / "data" / "x.mp4", frames=8, height=16, width=16)
    v2 = make_gray_video(tmp_path / "elsewhere" / "x.mp4", frames=5, height=16, width=16)
    rows = [
        ManifestRow("x.mp4", label="book", signer="s1", split="train", start=0, end=4,
                    extra={"hand": "right"}),
        ManifestRow("x.mp4", label="drink", signer="s1", split="train", start=4, end=8,
                    extra={"hand": "left"}),
        ManifestRow(str(v2), label="book", signer="s2", split="test", extra={"hand": ""}),
    ]
    csv = Manifest(rows, tmp_path / "data").write(tmp_path / "data" / "videos_in.csv")
    plan = plan_extraction(tmp_path / "data" / "videos_in.csv", tmp_path / "out")
    assert len(plan.tasks) == 2  # the two rows of x.mp4 share one extraction
    report = extract_poses(tmp_path / "data" / "videos_in.csv", tmp_path / "out",
                           estimator=FAKE, progress=False)
    assert report.extracted == 2 and len(csv) == 3
    m = Manifest.read(tmp_path / "out" / MANIFEST_NAME)
    assert [(r.label, r.signer, r.split, r.start, r.end, r.extra["hand"]) for r in m] == [
        ("book", "s1", "train", 0, 4, "right"), ("drink", "s1", "train", 4, 8, "left"),
        ("book", "s2", "test", None, None, ""),
    ]
    assert m.rows[0].path == m.rows[1].path == "x.pose"
    assert m.rows[2].path.startswith("_external/") and m.rows[2].path.endswith("_x.pose")
    _assert_correct(v1, m.resolve(0))
    _assert_correct(v2, m.resolve(2))


def test_same_name_different_extension(tmp_path: Path) -> None:
    mp4 = make_gray_video(tmp_path / "in" / "a.mp4", frames=3, height=16, width=16)
    mkv = write_video(tmp_path / "in" / "a.mkv", np.zeros((4, 16, 16, 3), np.uint8), fps=30)
    report = extract_poses(tmp_path / "in", tmp_path / "out", estimator=FAKE, progress=False)
    assert report.extracted == 2
    # natural order: a.mkv comes first and gets a.pose; a.mp4 keeps its extension
    m = Manifest.read(tmp_path / "out" / MANIFEST_NAME)
    assert [(r.path, r.extra["video"]) for r in m] == [("a.pose", str(mkv)),
                                                        ("a.mp4.pose", str(mp4))]
    _assert_correct(mp4, tmp_path / "out" / "a.mp4.pose")
    assert read_pose(tmp_path / "out" / "a.pose").num_frames == 4


def test_bad_videos_are_counted_and_skipped(tmp_path: Path) -> None:
    videos = _videos(tmp_path / "in", 3)
    junk = tmp_path / "in" / "a" / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).bytes(3000))  # seeded: the same junk every run
    bright = make_gray_video(tmp_path / "in" / "bright.mp4", frames=30, height=16, width=16)
    report = extract_poses(tmp_path / "in", tmp_path / "out",
                           estimator=FailingOnBrightEstimator, progress=False)
    assert (report.extracted, report.failed) == (3, 2)
    assert "not a readable video" in report.errors[str(junk)]
    assert "ValueError: cannot handle bright frames" in report.errors[str(bright)]
    saved = json.loads((tmp_path / "out" / REPORT_NAME).read_text())
    assert saved["failed"] == 2 and set(saved["errors"]) == {str(junk), str(bright)}
    m = Manifest.read(tmp_path / "out" / MANIFEST_NAME)
    assert len(m) == 3 and {r.extra["video"] for r in m} == {str(v) for v in videos}
    assert not list((tmp_path / "out").rglob(".*tmp*"))
    # a rerun retries the failures only
    before = _state(tmp_path / "out")
    again = extract_poses(tmp_path / "in", tmp_path / "out",
                          estimator=FailingOnBrightEstimator, progress=False)
    assert (again.extracted, again.skipped_existing, again.failed) == (0, 3, 2)
    assert _state(tmp_path / "out") == before


def test_killed_run_resumes_without_redoing_or_losing(tmp_path: Path) -> None:
    """A run dies part-way (an exception nothing catches, after 25 frames); the rerun does
    only the missing videos: finished files keep their bytes and mtimes, none is lost,
    all are complete."""
    videos = _videos(tmp_path / "in", 8)
    out = tmp_path / "out"
    with pytest.raises(SimulatedKill):
        extract_poses(tmp_path / "in", out, progress=False,
                      estimator=functools.partial(FakeEstimator, kill_after=25))
    first = _state(out)
    assert 0 < len(first) < 8  # some videos done, some not
    assert not (out / LOCK_NAME).exists()  # released on the way out
    assert not (out / MANIFEST_NAME).exists()
    # leftovers of a hard kill: a temporary next to an output, a lock of a dead process
    (out / "a" / ".v06.pose.x1y2.tmp.pose").write_bytes(b"partial")
    (out / LOCK_NAME).write_text("999999999\n")
    report = extract_poses(tmp_path / "in", out, estimator=FAKE, progress=False)
    assert report.skipped_existing == len(first)
    assert report.extracted == 8 - len(first) and report.failed == 0
    after = _state(out)
    assert {k: after[k] for k in first} == first  # nothing redone
    assert len(after) == 8  # nothing lost
    for v in videos:  # nothing corrupt
        _assert_correct(v, out / v.relative_to(tmp_path / "in").with_suffix(".pose"))
    assert not list(out.rglob("*.tmp.pose"))
    assert len(Manifest.read(out / MANIFEST_NAME)) == 8


def test_two_workers_give_the_same_files(tmp_path: Path) -> None:
    videos = _videos(tmp_path / "in", 6)
    one = extract_poses(tmp_path / "in", tmp_path / "one", estimator=FAKE, progress=False)
    two = extract_poses(tmp_path / "in", tmp_path / "two", estimator=FAKE, workers=2,
                        progress=False)
    assert one.extracted == two.extracted == 6 and two.failed == 0
    for v in videos:
        rel = v.relative_to(tmp_path / "in").with_suffix(".pose")
        assert (tmp_path / "one" / rel).read_bytes() == (tmp_path / "two" / rel).read_bytes()
    assert (tmp_path / "one" / MANIFEST_NAME).read_text() == \
        (tmp_path / "two" / MANIFEST_NAME).read_text()


def test_a_crashing_worker_costs_only_its_videos(tmp_path: Path) -> None:
    """A worker process dying (a crash in native code) fails the videos it had in hand;
    a new pool does the rest, and a rerun completes the job."""
    videos = _videos(tmp_path / "in", 6)
    bright = make_gray_video(tmp_path / "in" / "z_bright.mp4", frames=30, height=16, width=16)
    out = tmp_path / "out"
    report = extract_poses(tmp_path / "in", out, workers=2, progress=False,
                           estimator="video_helpers:CrashingEstimator")
    assert report.total == 7 and str(bright) in report.errors
    assert all("worker process died" in m for m in report.errors.values())
    assert report.extracted >= 2 and report.extracted + report.failed == 7
    done = _state(out)
    again = extract_poses(tmp_path / "in", out, estimator=FAKE, progress=False)
    assert again.skipped_existing == report.extracted and again.failed == 0
    after = _state(out)
    assert {k: after[k] for k in done} == done and len(after) == 7
    for v in videos:
        _assert_correct(v, out / v.relative_to(tmp_path / "in").with_suffix(".pose"))


def test_estimator_that_cannot_start_stops_the_job(tmp_path: Path) -> None:
    _videos(tmp_path / "in", 3)
    for workers in (1, 2):
        with pytest.raises(ConfigError, match="could not be built: RuntimeError: model file"):
            extract_poses(tmp_path / "in", tmp_path / f"out{workers}", workers=workers,
                          estimator="video_helpers:BrokenEstimator", progress=False)
        assert not list((tmp_path / f"out{workers}").rglob("*.pose"))


def test_lock_held_by_a_live_job(tmp_path: Path) -> None:
    _videos(tmp_path / "in", 1)
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(f"{os.getppid()}\n")  # a live process
    with pytest.raises(ConfigError, match="another pose extraction"):
        extract_poses(tmp_path / "in", out, estimator=FAKE, progress=False)
    assert (out / LOCK_NAME).read_text().strip() == str(os.getppid())


def test_bad_arguments(tmp_path: Path) -> None:
    _videos(tmp_path / "in", 1)
    with pytest.raises(ConfigError, match="known"):
        resolve_estimator("openpose")
    with pytest.raises(ConfigError, match="cannot import"):
        resolve_estimator("no_such_module_xyz:Est")
    with pytest.raises(ConfigError, match="no attribute"):
        resolve_estimator("video_helpers:Nope")
    with pytest.raises(ConfigError, match="workers"):
        extract_poses(tmp_path / "in", tmp_path / "o", estimator=FAKE, workers=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no video files"):
        extract_poses(tmp_path / "empty", tmp_path / "o2", estimator=FAKE)
    with pytest.raises(DataError, match="does not exist"):
        extract_poses(tmp_path / "missing", tmp_path / "o3", estimator=FAKE)


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None,
                    reason="mediapipe is installed")
def test_missing_mediapipe_says_how_to_install(tmp_path: Path) -> None:
    _videos(tmp_path / "in", 1)
    with pytest.raises(MissingExtraError, match=r"\[mediapipe\]"):
        extract_poses(tmp_path / "in", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing was started


def test_mediapipe_native_logs_are_quiet_in_a_log(monkeypatch, capsys) -> None:
    """With stderr not a terminal (captured here) glog / TensorFlow Lite / absl keep their
    INFO and WARNING lines to themselves; a level the user set is kept."""
    import logging

    from signssl.errors import SignSSLError
    from signssl.extract.holistic import QUIET_NATIVE_LOGS, import_mediapipe

    monkeypatch.setenv("GLOG_minloglevel", "unset")  # restored (removed) after the test
    monkeypatch.delenv("GLOG_minloglevel")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's choice
    monkeypatch.setattr(logging.getLogger("absl"), "level", logging.NOTSET)
    try:
        import_mediapipe()
    except SignSSLError:
        pass  # without the [mediapipe] extra: the environment is set before the import
    assert os.environ["GLOG_minloglevel"] == QUIET_NATIVE_LOGS["GLOG_minloglevel"] == "2"
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
    assert logging.getLogger("absl").level == logging.ERROR
