"""Speed of the synthetic sign generator on one core.

Targets: >= 200 pose sequences (64 frames) generated per second, >= 500 rendered
112 x 112 frames per second.  Prints each rate and its ratio to the target (> 1 = met),
measured in this run; CPU time of this process is reported next to wall time because
the machine may be shared.

Usage::

    .venv/bin/python benchmarks/bench_synth.py [--clips 300] [--videos 20]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from signssl.synth import (  # noqa: E402
    Vocabulary,
    derive_seed,
    render,
    sample_signers,
    save_video,
    synthesize,
)

POSE_TARGET = 200.0  # sequences / s
RENDER_TARGET = 500.0  # frames / s


def _timed(fn) -> tuple[float, float]:  # noqa: ANN001
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=300)
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--size", type=int, default=112)
    args = ap.parse_args()
    vocab = Vocabulary.sample(50, seed=0)
    people = sample_signers(12, seed=0)
    jobs = [(vocab[i % 50], people[i % 12], derive_seed(0, i)) for i in range(args.clips)]
    synthesize(*jobs[0][:2], jobs[0][2], args.frames)  # warm-up (imports, caches)

    samples = []
    wall, cpu = _timed(
        lambda: samples.extend(synthesize(sp, p, s, args.frames) for sp, p, s in jobs)
    )
    rate, rate_cpu = args.clips / wall, args.clips / cpu
    print(
        f"pose sequences ({args.frames} frames, generate + observe): {rate:.0f}/s wall, "
        f"{rate_cpu:.0f}/s per CPU-second; target {POSE_TARGET:.0f}/s -> ratio "
        f"{rate / POSE_TARGET:.2f} (cpu {rate_cpu / POSE_TARGET:.2f})"
    )

    from signssl.io import write_pose

    with tempfile.TemporaryDirectory() as tmp:
        n_io = min(100, len(samples))
        wall, cpu = _timed(
            lambda: [write_pose(samples[i].pose, Path(tmp) / f"{i}.pose") for i in range(n_io)]
        )
        print(f"  + writing .pose files: {n_io / wall:.0f} files/s wall")

        vids = samples[: args.videos]
        render(vids[0], args.size)  # warm-up
        wall, cpu = _timed(lambda: [render(s, args.size) for s in vids])
        n_frames = sum(s.pose.num_frames for s in vids)
        fps, fps_cpu = n_frames / wall, n_frames / cpu
        print(
            f"rendered frames ({args.size}x{args.size}): {fps:.0f}/s wall, {fps_cpu:.0f}/s per "
            f"CPU-second; target {RENDER_TARGET:.0f}/s -> ratio {fps / RENDER_TARGET:.2f} "
            f"(cpu {fps_cpu / RENDER_TARGET:.2f})"
        )
        clip = render(vids[0], args.size)
        wall, _ = _timed(lambda: save_video(clip, Path(tmp) / "v.mp4"))
        print(
            f"  + mp4 encoding: {clip.shape[0] / wall:.0f} frames/s wall "
            f"({os.path.getsize(Path(tmp) / 'v.mp4') / 1024:.0f} KiB for {clip.shape[0]} frames)"
        )
    print(f"checksum {float(np.mean([s.pose.xyz.mean() for s in samples])):.6f}")


if __name__ == "__main__":
    main()
