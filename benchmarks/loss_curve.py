"""When did a run's training loss leave its plateau?  Block means of one logged column.

Reads each run's ``logs/csv/metrics.csv`` (written by ``signssl pretrain``), averages the
chosen column (default ``train/rec``, SignRep's prior loss) over blocks of ``--every``
steps and prints one row per run: the block means and the first step whose block mean is
below ``--drop`` times the second block's mean ("-" when none is; the first block holds
the fall from the initial loss).  With SignRep on the small video CNN the prior loss stays
on a plateau (about 10-11 on the synthetic sets) until the encoder starts reading the
pose, and then falls: the step printed is where that run left the plateau
(docs/results/README.md, "Video encoders").

    python benchmarks/loss_curve.py runs/signrep_cnn_long/runs/priors-alone__s* --every 200
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from signssl.engine.pretraining import read_run_metrics_counted
from signssl.engine.run import CSV_DIR


class RunError(ValueError):
    """A run folder that cannot be read (reported in one line; the other runs go on)."""


def read_column(run: Path, column: str) -> tuple[list[tuple[int, float]], int]:
    """``(step, value)`` for every logged row of ``column`` that holds a finite number (all
    sessions of a resumed run), and the number of rows whose step or value is not a
    number (e.g. a line cut off when the run was killed)."""
    csv_dir = run / CSV_DIR
    if not (csv_dir / "metrics.csv").is_file() and not any(csv_dir.glob("metrics.part*.csv")):
        raise RunError(f"{run}: no {CSV_DIR}/metrics.csv; pass a run folder written by "
                       "signssl pretrain")  # fmt: skip
    series, skipped = read_run_metrics_counted(run)
    if column not in series and column not in skipped:
        raise RunError(f"{csv_dir}: no column(s) {[column]}; it has {sorted(series)}")
    rows = [(step, value) for step, value in series.get(column, []) if math.isfinite(value)]
    return rows, skipped.get(column, 0)


def block_means(rows: list[tuple[int, float]], every: int) -> list[tuple[int, float]]:
    """``(first step of block, mean)`` for blocks ``[k·every, (k+1)·every)`` that hold values."""
    if every < 1:
        raise SystemExit(f"--every must be >= 1, got {every}")
    sums: dict[int, list[float]] = {}
    for step, value in rows:
        acc = sums.setdefault(step // every, [0.0, 0.0])
        acc[0] += value
        acc[1] += 1
    return [(k * every, s / n) for k, (s, n) in sorted(sums.items())]


def plateau_exit(blocks: list[tuple[int, float]], drop: float, skip: int = 1) -> int | None:
    """First step of the first block whose mean is below ``drop`` times the mean of block
    ``skip`` (the plateau's level; earlier blocks hold the fall from the initial loss), or
    None when no block is (or there are not enough blocks)."""
    if len(blocks) <= skip:
        return None
    level = blocks[skip][1]
    for start, mean in blocks[skip + 1 :]:
        if mean < drop * level:
            return start
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders (RUN/logs/csv/metrics.csv)")
    ap.add_argument("--column", default="train/rec")
    ap.add_argument("--every", type=int, default=200, help="steps per block")
    ap.add_argument(
        "--drop",
        type=float,
        default=0.9,
        help="left the plateau: block mean below DROP x the second block's mean",
    )
    args = ap.parse_args()
    failed = 0
    for run in args.runs:
        try:
            rows, bad = read_column(run, args.column)
        except RunError as err:
            print(f"skipped: {err}", file=sys.stderr)
            failed += 1
            continue
        blocks = block_means(rows, args.every)
        exit_step = plateau_exit(blocks, args.drop)
        means = " ".join(f"{m:.2f}" for _, m in blocks)
        last = max((step for step, _ in rows), default=-1) + 1
        print(f"{run}: left the plateau at step "
              f"{'-' if exit_step is None else exit_step} (of {last} steps); means per "
              f"{args.every} steps: {means}"
              + (f" ({bad} unreadable row(s) skipped)" if bad else ""))  # fmt: skip
    if failed:
        raise SystemExit(f"{failed} of {len(args.runs)} run(s) skipped (above)")


if __name__ == "__main__":
    main()
