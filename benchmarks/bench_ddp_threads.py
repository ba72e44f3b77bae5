"""Pretraining steps per second: one process against ``--devices 2 --strategy ddp`` (gloo, CPU).

    python benchmarks/bench_ddp_threads.py [--rounds 3] [--short 10] [--long 40]
        [--clips 256] [--method sl_fpn]

Runs ``signssl pretrain --config tiny`` as a subprocess on a synthetic manifest written
once to a temporary folder, in four variants, interleaved (the order rotates each round,
so a change of machine load hits them alike):

* ``1 process``: torch's default threads (every core);
* ``1 process, 1 thread``: ``--threads 1``;
* ``ddp x2, 2 threads each``: ``--threads 2``, i.e. two processes of two threads each
  (what oversubscribing a two-core machine looks like);
* ``ddp x2, default``: the default of :func:`signssl.distributed.choose_threads`,
  ``cores // 2`` threads each.

Steps per second exclude start-up (imports, data, DDP launch and process-group set-up):
each variant runs ``--short`` and ``--long`` optimiser steps and the rate is
``(long - short) / (fit seconds of long - fit seconds of short)``, the fit seconds read
from ``RUN/summary.json``.  Every ratio (over ``1 process``) is taken per round and
printed as its median with the spread (min - max).  The global batch is the profile's
(32), split over the processes under DDP.  ``OMP_NUM_THREADS`` is removed from the
training processes' environment (each variant sets its own threads); the load average
is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import paired, ratio_line, spread  # noqa: E402

SIGNSSL = str(Path(sys.executable).with_name("signssl"))
VARIANTS = {
    "1 process": [],
    "1 process, 1 thread": ["--threads", "1"],
    "ddp x2, 2 threads each": ["--devices", "2", "--strategy", "ddp", "--threads", "2"],
    "ddp x2, default": ["--devices", "2", "--strategy", "ddp"],
}


def fit_seconds(manifest: Path, run: Path, method: str, steps: int, extra: list[str]) -> float:
    """Fit seconds of one ``signssl pretrain`` of ``steps`` steps (a fresh run folder)."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    cmd = [SIGNSSL, "pretrain", "--method", method, "--config", "tiny", "--data", str(manifest),
           "--max-steps", str(steps), "--out", str(run), "--no-progress", "--seed", "0", *extra]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return float(json.loads((run / "summary.json").read_text())["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--short", type=int, default=10)
    ap.add_argument("--long", type=int, default=40)
    ap.add_argument("--clips", type=int, default=256, help="synthetic clips (16 classes x 4 signers x reps)")
    ap.add_argument("--method", default="sl_fpn")
    args = ap.parse_args()
    from signssl.distributed import available_cores
    from signssl.synth import generate_dataset

    print(f"cores available: {available_cores()}; load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_dataset(Path(tmp) / "synth", classes=16, signers=4,
                                    reps=max(1, args.clips // 64), frames=32, progress=False)
        rates: dict[str, list[float]] = {k: [] for k in VARIANTS}
        names = list(VARIANTS)
        for r in range(args.rounds):
            order = names[r % len(names):] + names[: r % len(names)]
            for name in order:
                secs = [fit_seconds(Path(manifest), Path(tmp) / f"run{r}_{names.index(name)}_{n}",
                                    args.method, n, VARIANTS[name]) for n in (args.short, args.long)]
                rates[name].append((args.long - args.short) / (secs[1] - secs[0]))
                print(f"  round {r + 1} {name:24s} {rates[name][-1]:.2f} steps/s "
                      f"(fit {secs[0]:.1f} s / {secs[1]:.1f} s)", flush=True)
    print(f"load average after: {os.getloadavg()}")
    print(f"steps/s, median (min - max, n) over {args.rounds} rounds, "
          f"{args.method} tiny, global batch 32, steps {args.short} -> {args.long}:")
    for name in names:
        print(f"  {name:44s} {spread(rates[name], '.2f')}")
    seconds = {k: [1 / v for v in vals] for k, vals in rates.items()}  # seconds per step
    for name in names[1:]:
        print(ratio_line(f"speed {name} / 1 process", paired(seconds, name, "1 process"), None))
    ddp_default, ddp_two = statistics.median(rates[names[3]]), statistics.median(rates[names[2]])
    print(f"  medians: {names[3]} / {names[2]} = {ddp_default / ddp_two:.3f}")


if __name__ == "__main__":
    main()
