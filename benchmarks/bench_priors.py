"""Speed of ``signssl.priors.compute_priors`` on one core, measured in one run.

Goal: >= 50,000 frames per CPU-second (one core) in batches.  Each set is timed clip by
clip (``compute_priors``, one call per clip) and in batches of ``--batch`` clips
(``compute_priors_batch``, what ``signssl priors`` uses), which pays the fixed cost of a
call once per batch.

Inputs: synthetic clips (``signssl.synth``, layout ``holistic_world_noface``) of
``--frames`` frames (default 64 and 128: the synthetic default and a typical
isolated-sign video length), and, when ``spoken-to-signed`` is installed, its real
``.pose`` files (``holistic_iris_world``, 586 joints, ~25 frames).  Each timing runs
once untimed (warm-up), then ``--rounds`` timed rounds, the two ways interleaved
(``timing.py``).  Frames per CPU-second of this process (one thread) are the measure, since
the machine may be shared; wall-time rates are printed next to them.  Each rate is
printed as its median with the spread (min - max) over the rounds, and the batched rate
divided by the goal gets a verdict (>= 1 = met).

    .venv/bin/python benchmarks/bench_priors.py [--clips 64] [--rounds 5] [--frames 64 128]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import argparse  # noqa: E402
import glob  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from timing import interleave, ratio_line, spread  # noqa: E402

from signssl.pose.sequence import PoseSequence  # noqa: E402
from signssl.priors import compute_priors, compute_priors_batch  # noqa: E402
from signssl.synth import Vocabulary, derive_seed, sample_signers, synthesize  # noqa: E402

TARGET = 50_000.0  # frames per CPU-second


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


def passes(seqs: list[PoseSequence], batch: int) -> dict[str, Callable[[], object]]:
    """One pass over ``seqs`` clip by clip and one in batches of ``batch`` clips."""

    def per_clip() -> None:
        for s in seqs:
            compute_priors(s)

    def batched() -> None:
        for i in range(0, len(seqs), batch):
            compute_priors_batch(seqs[i : i + batch])

    return {"compute_priors per clip": per_clip, f"compute_priors_batch of {batch}": batched}


def report(name: str, seqs: list[PoseSequence], rounds: int, batch: int) -> None:
    """Frames per CPU-second (and per wall second) of both ways, interleaved; the verdict is
    the batched way's frames per CPU-second against the goal."""
    frames = sum(s.num_frames for s in seqs)
    t = interleave(passes(seqs, batch), rounds)
    print(f"{name}: {len(seqs)} clips, {frames} frames; {rounds} interleaved rounds, median "
          "(min - max)")
    for how in t.cpu:
        cpu = [frames / c for c in t.cpu[how]]
        wall = [frames / w for w in t.wall[how]]
        print(f"  {how:30s} {spread(cpu, ',.0f'):>34s} frames per CPU-second, "
              f"{spread(wall, ',.0f'):>34s} per wall second")
    how = f"compute_priors_batch of {batch}"
    per_core = [frames / c / TARGET for c in t.cpu[how]]  # in units of the goal
    print(ratio_line(f"batched frames per CPU-second / {TARGET:,.0f}", per_core, 1.0,
                     "CPU time of this one-thread process"))


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
