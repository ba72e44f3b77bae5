"""Speed of ``signssl.priors.compute_priors`` on one core, measured in one run.

Target: >= 50,000 frames/s.  Each set is timed clip by clip (``compute_priors``, one
call per clip) and in batches of ``--batch`` clips (``compute_priors_batch``, what
``signssl priors`` uses), which pays the fixed cost of a call once per batch.

Inputs: synthetic clips (``signssl.synth``, layout ``holistic_world_noface``) of
``--frames`` frames (default 64 and 128: the synthetic default and a typical
isolated-sign video length), and, when ``spoken-to-signed`` is installed, its real
``.pose`` files (``holistic_iris_world``, 586 joints, ~25 frames).  Each timing runs
once untimed (warm-up), then ``--rounds`` timed rounds; the best round counts.  CPU
time of this process is printed next to wall time because the machine may be shared.
Prints frames/s and the ratio to the target (> 1 = met).

    .venv/bin/python benchmarks/bench_priors.py [--clips 64] [--rounds 5] [--frames 64 128]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import argparse  # noqa: E402
import glob  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from signssl.pose.sequence import PoseSequence  # noqa: E402
from signssl.priors import compute_priors, compute_priors_batch  # noqa: E402
from signssl.synth import Vocabulary, derive_seed, sample_signers, synthesize  # noqa: E402

TARGET = 50_000.0  # frames / s


def synthetic(clips: int, frames: int) -> list[PoseSequence]:
    vocab = Vocabulary.sample(20, seed=0)
    people = sample_signers(8, seed=0)
    return [
        synthesize(vocab[i % 20], people[i % 8], derive_seed(0, i), frames).pose
        for i in range(clips)
    ]


def real(limit: int) -> list[PoseSequence]:
    try:
        import spoken_to_signed
    except ImportError:
        return []
    from signssl.io import read_pose

    root = Path(spoken_to_signed.__file__).parent / "assets" / "fingerspelling_lexicon"
    files = sorted(glob.glob(str(root / "**" / "*.pose"), recursive=True))[:limit]
    return [read_pose(f) for f in files]


def measure(seqs: list[PoseSequence], rounds: int, batch: int) -> tuple[float, float]:
    """Best ``(wall, cpu)`` seconds of one pass over ``seqs`` (after a warm-up pass);
    ``batch`` = 0: one ``compute_priors`` call per clip, else batches of that many."""

    def one_pass() -> None:
        if batch == 0:
            for s in seqs:
                compute_priors(s)
        else:
            for i in range(0, len(seqs), batch):
                compute_priors_batch(seqs[i : i + batch])

    one_pass()
    best_wall = best_cpu = float("inf")
    for _ in range(rounds):
        w, c = time.perf_counter(), time.process_time()
        one_pass()
        best_wall = min(best_wall, time.perf_counter() - w)
        best_cpu = min(best_cpu, time.process_time() - c)
    return best_wall, best_cpu


def report(name: str, seqs: list[PoseSequence], rounds: int, batch: int) -> None:
    frames = sum(s.num_frames for s in seqs)
    print(f"{name}: {len(seqs)} clips, {frames} frames")
    for b in (0, batch):
        wall, cpu = measure(seqs, rounds, b)
        rate, rate_cpu = frames / wall, frames / cpu
        how = "compute_priors per clip" if b == 0 else f"compute_priors_batch of {b}"
        print(
            f"  {how:30s} {rate:9,.0f} frames/s wall, {rate_cpu:9,.0f} per CPU-second; "
            f"target {TARGET:,.0f} -> ratio {rate / TARGET:.2f} (cpu {rate_cpu / TARGET:.2f}); "
            f"{1e3 * wall / len(seqs):.2f} ms per clip"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, nargs="+", default=[64, 128])
    ap.add_argument("--batch", type=int, default=32, help="clips per compute_priors_batch call")
    ap.add_argument("--real", type=int, default=200, help="real .pose files to use (0 = none)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for frames in args.frames:
        report(
            f"synthetic {frames}-frame clips",
            synthetic(args.clips, frames),
            args.rounds,
            args.batch,
        )
    seqs = real(args.real) if args.real > 0 else []
    if seqs:
        report("real .pose files (spoken-to-signed)", seqs, args.rounds, args.batch)
    else:
        print("real .pose files: skipped (spoken-to-signed not installed)")
    check = compute_priors(synthetic(1, 64)[0])
    print(f"checksum {float(np.mean(check.values['body_kp'])):.6f}")


if __name__ == "__main__":
    main()
