"""``signssl extract-poses`` / ``signssl video-info``, and a real SIGKILL of extract-poses."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner
from video_helpers import corrupt_video, expected_pose, make_gray_video

from signssl.cli.main import app, main
from signssl.data import Manifest
from signssl.extract import LOCK_NAME, MANIFEST_NAME
from signssl.io import read_pose

HERE = Path(__file__).resolve().parent
runner = CliRunner()


def _videos(folder: Path, n: int, frames: int = 6) -> list[Path]:
    return [make_gray_video(folder / f"v{k:02d}.mp4", frames=frames, height=16, width=24)
            for k in range(n)]


def _descendants(pid: int) -> set[int]:
    """Processes below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _state(out_dir: Path) -> dict[str, tuple[int, str]]:
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha1(p.read_bytes()).hexdigest())
            for p in sorted(out_dir.glob("*.pose"))}


def test_video_info(tmp_path: Path) -> None:
    video = make_gray_video(tmp_path / "v.mp4", frames=12, fps=25)
    res = runner.invoke(app, ["video-info", str(video), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert (info["num_frames"], info["fps"], info["width"], info["height"]) == (12, 25.0, 64, 48)
    res = runner.invoke(app, ["video-info", str(video), "--count"])
    assert res.exit_code == 0 and "frames_counted" in res.output and "True" in res.output


def test_extract_poses_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    videos = _videos(tmp_path / "in", 3)
    (tmp_path / "in" / "bad.mp4").write_bytes(b"not a video at all")
    res = runner.invoke(app, ["extract-poses", str(tmp_path / "in"), str(tmp_path / "out"),
                              "--estimator", "video_helpers:FakeEstimator", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "extracted 3" in res.output and "failed 1" in res.output
    assert "bad.mp4" in res.output and "not a readable video" in res.output
    assert len(Manifest.read(tmp_path / "out" / MANIFEST_NAME)) == 3
    for v in videos:
        np.testing.assert_array_equal(read_pose(tmp_path / "out" / f"{v.stem}.pose").conf,
                                      expected_pose(v)[1])


def test_user_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for argv in (["video-info", str(tmp_path / "none.mp4")],
                 ["extract-poses", str(tmp_path), str(tmp_path / "o"), "--estimator", "nope"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "none.mp4: does not exist" in err and "unknown pose estimator 'nope'" in err


def test_damaged_video_is_one_line_error_and_a_counted_skip(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A video whose header names no decodable codec: ``video-info`` exits 2 with one line
    naming the file; ``extract-poses`` extracts the others and counts it with the reason."""
    monkeypatch.syspath_prepend(str(HERE))
    good = _videos(tmp_path / "in", 2)
    bad = corrupt_video(good[0], tmp_path / "in" / "bad.mp4", "codec")
    with pytest.raises(SystemExit) as exc:
        main(["video-info", str(bad)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and str(bad) in " ".join(err.split())
    assert "no decoder can read" in err and "Traceback" not in err
    res = runner.invoke(app, ["extract-poses", str(tmp_path / "in"), str(tmp_path / "out"),
                              "--estimator", "video_helpers:FakeEstimator", "--no-progress"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "extracted 2" in text and "failed 1" in text
    assert "bad.mp4" in text and "no decoder can read" in text and "NoneType" not in text


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is not None,
                    reason="mediapipe is installed")
def test_missing_extra_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _videos(tmp_path / "in", 1)
    with pytest.raises(SystemExit) as exc:
        main(["extract-poses", str(tmp_path / "in"), str(tmp_path / "out")])
    assert exc.value.code == 2
    assert "optional package 'mediapipe'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigkill_then_resume(tmp_path: Path) -> None:
    """SIGKILL the extract-poses process (2 workers) mid-run, then rerun it: the killed
    job's worker processes end within a second, finished files are not redone (same
    bytes and mtimes), none is lost, none is corrupt."""
    from signssl.extract.worker import process_alive

    videos = _videos(tmp_path / "in", 20, frames=10)
    out = tmp_path / "out"
    env = {**os.environ, "SIGNSSL_TEST_DELAY": "0.1",
           "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "signssl.cli.main", "extract-poses", str(tmp_path / "in"),
           str(out), "--estimator", "video_helpers:SlowFakeEstimator", "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.pose"))) < 4:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "extraction did not start"
        time.sleep(0.05)
    helpers = _descendants(proc.pid)  # fork server, resource tracker, 2 workers
    assert len(helpers) >= 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.5)
    assert [p for p in helpers if process_alive(p)] == [], "processes outlived the job"
    killed = _state(out)
    time.sleep(1.2)  # a video takes 1 s: a surviving worker would write one now
    assert _state(out) == killed
    assert 4 <= len(killed) < 20
    assert (out / LOCK_NAME).exists() and not (out / MANIFEST_NAME).exists()

    env["SIGNSSL_TEST_DELAY"] = "0"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"kept existing {len(killed)}" in done.stdout
    after = _state(out)
    assert {k: after[k] for k in killed} == killed  # not redone
    assert len(after) == 20  # not lost
    for v in videos:  # not corrupt
        seq = read_pose(out / f"{v.stem}.pose")
        xyz, conf = expected_pose(v)
        np.testing.assert_allclose(seq.xyz, xyz, atol=1e-4)
        np.testing.assert_array_equal(seq.conf, conf)
    assert not list(out.glob(".*.tmp.pose")) and not (out / LOCK_NAME).exists()
