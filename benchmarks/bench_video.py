"""Video pipeline speed, measured in one run.

decode
    ``signssl.io.video.read_video`` / ``iter_windows`` against PyAV's plain decode loop
    (``frame.to_ndarray(format="rgb24")`` for every frame) on the same generated H.264
    file, with the same FFmpeg threading (and PyAV's defaults for reference).
    Goal: ours / raw >= 0.9 where both do the same work (``DECODE_RATIOS``), e.g.
    ``read_video`` / a raw loop that fills one preallocated array.
extract  (needs the [mediapipe] extra: run with .venv-mp/bin/python)
    ``extract_poses`` with 1 and 2 workers against calling MediaPipe Holistic directly
    in a loop (PyAV decode + ``Holistic.process`` on every frame, landmarks copied to
    arrays, one Holistic for all videos) on clips made from scikit-image's
    ``astronaut`` photo.  Target: overhead of 1 worker <= 10 %.
--plot PATH
    extract the astronaut clip and draw the keypoints over two frames.
--kill-resume
    start ``signssl extract-poses`` on 20 clips with 2 workers, SIGKILL it part-way,
    rerun it, and check that no file was redone, lost or corrupt.

The compared variants run interleaved (``--rounds`` rounds after one warm-up, every
variant once per round, see ``timing.py``); each ratio is taken per round and printed as
its median with the spread (min - max) and a verdict against its goal.

    .venv/bin/python benchmarks/bench_video.py decode
    .venv-mp/bin/python benchmarks/bench_video.py extract --plot docs/extract_keypoints.png
    .venv-mp/bin/python benchmarks/bench_video.py --kill-resume
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from timing import interleave, paired, ratio_line, spread, verdict

from signssl.io.video import iter_frames, iter_windows, read_video, write_video

DECODE_TARGET, OVERHEAD_TARGET = 0.9, 0.10


# ----------------------------------------------------------------------------- decode

def make_test_video(path: Path, frames: int, height: int, width: int) -> Path:
    """A moving gradient with noise: realistic to decode, not trivially compressible."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]

    def gen():
        for t in range(frames):
            r = (xx + 3 * t) % 256
            g = (yy + 2 * t) % 256
            b = ((xx + yy) // 2 + t) % 256
            img = np.stack([r, g, b], -1).astype(np.int16)
            img += rng.integers(-12, 12, img.shape, dtype=np.int16)
            yield np.clip(img, 0, 255).astype(np.uint8)

    return write_video(path, gen(), fps=30, crf=23)


def raw_decode(path: Path, thread_type: str | None, keep: str = "", shared: bool = False) -> object:
    """PyAV's plain loop: every frame to an RGB array, discarded (``keep=""``), kept and
    stacked (``"stack"``) or copied into one array sized from the header (``"copy"``).
    ``shared``: one ``VideoReformatter`` for all frames instead of ``frame.to_ndarray``'s
    new one per frame."""
    converter = VideoReformatter() if shared else None
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if thread_type:
            s.thread_type = thread_type
        frames = []
        out = np.empty((s.frames, s.height, s.width, 3), np.uint8) if keep == "copy" else None
        for k, frame in enumerate(c.decode(s)):
            if converter is not None:
                arr = converter.reformat(frame, format="rgb24").to_ndarray()
            else:
                arr = frame.to_ndarray(format="rgb24")
            if keep == "stack":
                frames.append(arr)
            elif out is not None:
                out[k] = arr
    return np.stack(frames) if keep == "stack" else out


#: (label, ours, reference, goal, note) of every decode ratio; goal None = for reference
DECODE_RATIOS: tuple[tuple[str, str, str, float | None, str], ...] = (
    ("read_video / raw loop into one array", "read_video", "raw loop into one array",
     DECODE_TARGET, "both return one array"),
    ("read_video / raw one converter into one array", "read_video",
     "raw loop, one converter, into one array", DECODE_TARGET, "the fastest raw loop"),
    ("read_video(threads) / raw AUTO into one array", "read_video(threads=True)",
     "raw loop AUTO into one array", DECODE_TARGET, "FFmpeg frame threads"),
    ("iter_frames / raw loop", "iter_frames", "raw loop", DECODE_TARGET,
     "streaming, no frame kept"),
    ("read_video / raw loop + np.stack", "read_video", "raw loop + np.stack", DECODE_TARGET,
     "the list-then-stack idiom"),
    ("read_video / raw loop", "read_video", "raw loop", None,
     "the raw loop keeps no frame: the cost of keeping them"),
    ("iter_windows(16, 2) / raw loop", "iter_windows(16, 2)", "raw loop", None,
     "every frame copied into 8 windows"),
)


def bench_decode(rounds: int, frames: int, height: int, width: int) -> None:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        video = make_test_video(Path(tmp) / "bench.mp4", frames, height, width)
        assert read_video(video).num_frames == frames
        t = interleave({
            "raw loop": lambda: raw_decode(video, None),
            "raw loop into one array": lambda: raw_decode(video, None, keep="copy"),
            "raw loop, one converter, into one array":
                lambda: raw_decode(video, None, keep="copy", shared=True),
            "raw loop + np.stack": lambda: raw_decode(video, None, keep="stack"),
            "iter_frames": lambda: sum(1 for _ in iter_frames(video)),
            "read_video": lambda: read_video(video),
            "iter_windows(16, 2)": lambda: sum(1 for _ in iter_windows(video, 16, 2)),
            "raw loop AUTO into one array": lambda: raw_decode(video, "AUTO", keep="copy"),
            "read_video(threads=True)": lambda: read_video(video, threads=True),
        }, rounds)
    print(f"decode: {frames} frames {width}x{height} H.264, {rounds} interleaved rounds after one "
          f"warm-up; load average at the start {load:.1f} on {os.cpu_count()} cores (raw loop = "
          "PyAV's defaults, frame.to_ndarray; one converter = one VideoReformatter for all "
          "frames; AUTO = FFmpeg frame threads)")
    print(f"  {'frames/s, median (min - max)':44s} {'wall':>28s} {'per CPU-second':>30s}")
    for name in t.wall:
        wall = [frames / sec for sec in t.wall[name]]
        cpu = [frames / sec for sec in t.cpu[name]]
        print(f"  {name:44s} {spread(wall, '.1f'):>28s} {spread(cpu, '.1f'):>30s}")
    print("  ratios ours / PyAV, per round (wall time), median (min - max) -> verdict:")
    for label, ours, ref, goal, note in DECODE_RATIOS:
        cpu = statistics.median(paired(t.cpu, ours, ref))
        print(ratio_line(label, paired(t.wall, ours, ref), goal, f"{note}; CPU-time median {cpu:.3f}"))


# ----------------------------------------------------------------------------- extract

def photo_clips(folder: Path, count: int, frames: int, shift: int = 3) -> list[Path]:
    """``count`` clips of the astronaut photo seen by a panning camera."""
    from skimage import data

    img = data.astronaut()
    wide = np.pad(img, ((0, 0), (0, shift * frames), (0, 0)), mode="edge")
    out = []
    for k in range(count):
        clip = np.stack([wide[:, t * shift:t * shift + 512] for t in range(frames)])
        if k % 2:
            clip = clip[:, :, ::-1]
        out.append(write_video(folder / f"clip{k:02d}.mp4", np.ascontiguousarray(clip), fps=25))
    return out


def direct_mediapipe(videos: list[Path]) -> int:
    """The reference: PyAV decode + Holistic.process per frame, landmarks to arrays."""
    import mediapipe as mp

    frames = 0
    with mp.solutions.holistic.Holistic(model_complexity=1) as holistic:
        for v in videos:
            with av.open(str(v)) as c:
                for frame in c.decode(video=0):
                    r = holistic.process(frame.to_ndarray(format="rgb24"))
                    for lms in (r.pose_landmarks, r.face_landmarks, r.left_hand_landmarks,
                                r.right_hand_landmarks, r.pose_world_landmarks):
                        if lms is not None:
                            np.array([(p.x, p.y, p.z) for p in lms.landmark], np.float32)
                    frames += 1
    return frames


def bench_extract(rounds: int, count: int, frames: int) -> None:
    import mediapipe  # noqa: F401  (imported once, outside the timings)

    from signssl.extract import extract_poses

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        videos = photo_clips(root / "in", count, frames)
        total = count * frames
        runs = {"n": 0}

        def ours(workers: int) -> Callable[[], object]:
            def run() -> object:
                runs["n"] += 1
                rep = extract_poses(root / "in", root / f"out{runs['n']}", workers=workers,
                                    progress=False)
                assert rep.extracted == count and rep.failed == 0, rep.errors
                return rep
            return run

        t = interleave({"direct MediaPipe loop": lambda: direct_mediapipe(videos),
                        "extract_poses, 1 worker": ours(1),
                        "extract_poses, 2 workers": ours(2)}, rounds)
    print(f"extract: {count} clips x {frames} frames (512x512), Holistic model_complexity=1, "
          f"{rounds} interleaved rounds; load average at the start: {load:.1f}")
    for name, secs in t.wall.items():
        print(f"  {name:28s} {spread([total / sec for sec in secs], '.2f')} frames/s (wall)")
    one, direct = "extract_poses, 1 worker", "direct MediaPipe loop"
    overhead = [1 / r - 1 for r in paired(t.wall, one, direct)]  # one / direct - 1 per round
    overhead_cpu = statistics.median(1 / r - 1 for r in paired(t.cpu, one, direct))
    print(f"  overhead of extract_poses (1 worker) over the direct loop, per round: "
          f"{spread(overhead)} (CPU-time median {overhead_cpu:+.3f})  -> "
          f"{verdict(overhead, OVERHEAD_TARGET, higher=False)}")
    print(f"  speed-up of 2 workers over 1: "
          f"{spread(paired(t.wall, 'extract_poses, 2 workers', one), '.2f')} "
          f"(on {os.cpu_count()} CPU cores)")


def plot_keypoints(path: Path) -> None:
    from signssl.extract import extract_video
    from signssl.extract.holistic import HolisticEstimator
    from signssl.extract.preview import save_keypoints_preview

    with tempfile.TemporaryDirectory() as tmp:
        video = photo_clips(Path(tmp), 1, 12, shift=6)[0]
        est = HolisticEstimator()
        seq = extract_video(video, est)
        est.close()
        clip = read_video(video)
    pick = [0, seq.num_frames - 1]
    save_keypoints_preview(clip.frames[pick], seq.xyz[pick], seq.conf[pick], seq.layout, path,
                           titles=[f"frame {i} of the panning astronaut clip" for i in pick])
    lay = seq.layout
    for name in ("nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow"):
        j = lay.index(f"body.{name}")
        x, y = seq.xyz[0, j, :2]
        print(f"  body.{name:15s} x={x:6.1f} y={y:6.1f} visibility={seq.conf[0, j]:.3f}")
    print(f"  missing per part: { {k: round(v, 3) for k, v in seq.part_missing_fractions().items()} }")
    print(f"wrote {path}")


# ----------------------------------------------------------------------------- kill & resume

def _state(out: Path) -> dict[str, tuple[int, str]]:
    return {p.name: (p.stat().st_mtime_ns, hashlib.sha1(p.read_bytes()).hexdigest())
            for p in sorted(out.glob("*.pose"))}


def _descendants(pid: int) -> set[int]:
    """Processes below ``pid`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except ProcessLookupError:
            pass
    return alive


def kill_resume(count: int = 20, frames: int = 12, kill_at: int = 6) -> None:
    from signssl.io import read_pose

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        photo_clips(root / "in", count, frames)
        out = root / "out"
        cmd = [sys.executable, "-m", "signssl.cli.main", "extract-poses", str(root / "in"),
               str(out), "--workers", "2", "--no-progress"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while len(list(out.glob("*.pose"))) < kill_at:
            if proc.poll() is not None:
                raise SystemExit("extract-poses ended before it could be killed")
            time.sleep(0.05)
        workers = _descendants(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        t_kill = time.perf_counter() - t0
        at_kill = len(list(out.glob("*.pose")))
        time.sleep(3.0)  # a surviving worker would finish a clip by now
        killed = _state(out)
        temporaries = sorted(p.name for p in out.glob(".*.tmp.pose"))
        survivors = _alive(workers)
        print(f"kill-resume: {count} clips x {frames} frames, 2 workers; SIGKILL after "
              f"{t_kill:.1f} s with {at_kill} .pose files done ({len(killed)} 3 s later); "
              f"child processes {len(workers)}, alive 3 s later: {len(survivors)}; "
              f"temporaries left: {len(temporaries)}")
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        print("  rerun: " + done.stdout.strip().splitlines()[0])
        after = _state(out)
        redone = [k for k in killed if after.get(k) != killed[k]]
        corrupt = []
        for name in after:
            try:
                seq = read_pose(out / name)
                if seq.num_frames != frames:
                    corrupt.append(name)
            except Exception:  # counted, not raised: this is the check
                corrupt.append(name)
        left = sorted(p.name for p in out.glob(".*.tmp.pose"))
        print(f"  files after rerun: {len(after)}/{count}; redone: {len(redone)}; lost: "
              f"{count - len(after)}; corrupt: {len(corrupt)}; temporaries left: {len(left)}")
        if redone or corrupt or len(after) != count or left or survivors:
            raise SystemExit("kill-resume check FAILED")
        print("  kill-resume check passed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", nargs="*", help="decode and/or extract (default: decode)")
    ap.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    ap.add_argument("--frames", type=int, default=300, help="frames of the decode test video")
    ap.add_argument("--size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"))
    ap.add_argument("--clips", type=int, default=8, help="clips for the extraction benchmark")
    ap.add_argument("--clip-frames", type=int, default=24)
    ap.add_argument("--plot", type=Path, help="write the keypoint plot here")
    ap.add_argument("--kill-resume", action="store_true")
    args = ap.parse_args()
    what = args.what or ([] if (args.plot or args.kill_resume) else ["decode"])
    unknown = set(what) - {"decode", "extract"}
    if unknown:
        ap.error(f"unknown benchmark(s) {sorted(unknown)}; choose decode and/or extract")
    if "decode" in what:
        bench_decode(args.rounds, args.frames, *args.size)
    if "extract" in what:
        bench_extract(args.rounds, args.clips, args.clip_frames)
    if args.plot:
        plot_keypoints(args.plot)
    if args.kill_resume:
        kill_resume()


if __name__ == "__main__":
    main()
