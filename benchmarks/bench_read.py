"""Reading speed of signssl.io on real data, measured in one run.

* MP_Data: every sequence of ``wlasl50-holistic170`` (423 folders, 12,690 ``.npy`` files)
  with ``examples/layouts/wlasl50-holistic170.yaml``; NumPy's own ``np.load`` + stack of
  the same files is timed as a reference.
* ``.pose``: the 600 files shipped by ``spoken-to-signed``; ``signssl.io.read_pose``
  against ``pose_format.Pose.read`` on the same files (both read the bytes from disk),
  timed file by file back to back (alternating which goes first) so that load from
  other processes affects both alike.  Target: ratio <= 1.5.

Each reader runs once untimed (warm file cache), then ``--rounds`` timed rounds; the
best round counts.  Data: ``$SIGNSSL_SHARED_DATA`` or ``../shared/data`` next to
the repository.

    .venv/bin/python benchmarks/bench_read.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from signssl.io import iter_mp_data, read_pose
from signssl.pose.layouts import load_layout_yaml

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.5


def shared_data() -> Path:
    return Path(os.environ.get("SIGNSSL_SHARED_DATA", REPO.parent / "shared" / "data"))


def pose_files() -> list[str]:
    try:
        import spoken_to_signed
    except ImportError:
        return []
    root = Path(spoken_to_signed.__file__).parent / "assets" / "fingerspelling_lexicon"
    return sorted(glob.glob(str(root / "**" / "*.pose"), recursive=True))


def best_time(fn: Callable[[], object], rounds: int) -> float:
    """Best wall time of ``rounds`` calls (after one untimed warm-up call)."""
    fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_mp_data(rounds: int) -> None:
    root = shared_data() / "wlasl50-holistic170" / "MP_Data"
    if not root.is_dir():
        print(f"MP_Data: skipped, {root} not found")
        return
    layout = load_layout_yaml(REPO / "examples" / "layouts" / "wlasl50-holistic170.yaml")
    seqs = [d for _, d in iter_mp_data(root)]
    files = sum(len(list(d.glob("*.npy"))) for d in seqs)

    def ours() -> None:
        for d in seqs:
            read_pose(d, layout=layout)

    folders = [str(d) for d in seqs]

    def numpy_only() -> None:
        for d in folders:
            names = sorted(os.listdir(d), key=lambda n: int(n[:-4]))
            np.stack([np.load(os.path.join(d, n), allow_pickle=False) for n in names])

    t_ours = best_time(ours, rounds)
    t_np = best_time(numpy_only, rounds)
    print(f"MP_Data wlasl50-holistic170: {len(seqs)} sequences, {files} .npy files")
    print(f"  signssl.io.read_pose : {t_ours:.3f} s  = {len(seqs) / t_ours:,.0f} sequences/s "
          f"({files / t_ours:,.0f} files/s)")
    print(f"  np.load + np.stack   : {t_np:.3f} s  = {len(seqs) / t_np:,.0f} sequences/s "
          f"(reference; ratio ours/np.load {t_ours / t_np:.2f})")


def bench_pose(rounds: int) -> bool:
    files = pose_files()
    if not files:
        print(".pose: skipped, spoken-to-signed is not installed")
        return True
    from pose_format import Pose

    def interleaved_round(first_ours: bool) -> tuple[float, float]:
        """Both readers on each file back to back, so machine load hits both alike."""
        t_ours = t_ref = 0.0
        for f in files:
            for which in ((0, 1) if first_ours else (1, 0)):
                t0 = time.perf_counter()
                if which == 0:
                    read_pose(f)
                else:
                    Pose.read(Path(f).read_bytes())
                dt = time.perf_counter() - t0
                if which == 0:
                    t_ours += dt
                else:
                    t_ref += dt
        return t_ours, t_ref

    interleaved_round(True)  # warm both (file cache, header cache)
    rounds_out = [interleaved_round(r % 2 == 0) for r in range(rounds)]
    a = min(r[0] for r in rounds_out)
    b = min(r[1] for r in rounds_out)
    ratio = a / b
    print(f".pose spoken-to-signed: {len(files)} files")
    print(f"  signssl.io.read_pose : {a:.3f} s  = {len(files) / a:,.0f} sequences/s")
    print(f"  pose_format Pose.read: {b:.3f} s  = {len(files) / b:,.0f} sequences/s")
    ok = ratio <= TARGET
    print(f"  ratio ours / pose_format = {ratio:.2f}  (target <= {TARGET}: {'PASS' if ok else 'FAIL'})")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per reader")
    args = parser.parse_args(argv)
    bench_mp_data(args.rounds)
    return 0 if bench_pose(args.rounds) else 1


if __name__ == "__main__":
    sys.exit(main())
