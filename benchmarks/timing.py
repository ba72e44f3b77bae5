"""Timing helpers of the benchmarks: interleaved rounds, median and spread, verdicts.

The variants compared by one ratio run in the same rounds, one after the other (A, B,
C, then B, C, A, ...: the order rotates so that none always runs first), so a change of
machine load during the run hits all of them alike.  A ratio is taken per round (the two
runs of one round) and reported as its median with the spread (min - max) over the
rounds, and a verdict against its goal uses the median.

    from timing import interleave, ratio_line, spread
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Timings:
    """Seconds per round of every variant: ``wall[name][r]``, ``cpu[name][r]`` (CPU time
    of this process, all its threads, not its child processes)."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]


def interleave(fns: dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> Timings:
    """Run every function once per round for ``rounds`` rounds, after ``warmup`` untimed
    rounds; the order within a round rotates by one each round."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    names = list(fns)
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            t0, c0 = time.perf_counter(), time.process_time()
            fns[name]()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return Timings(wall, cpu)


def paired(times: dict[str, list[float]], ours: str, ref: str) -> list[float]:
    """Speed of ``ours`` over ``ref`` in each round: ``ref seconds / ours seconds``."""
    return [r / o for o, r in zip(times[ours], times[ref], strict=True)]


def spread(values: list[float], fmt: str = ".3f") -> str:
    """``median (min - max, n)`` of ``values``."""
    med = statistics.median(values)
    return f"{med:{fmt}} ({min(values):{fmt}} - {max(values):{fmt}}, n={len(values)})"


def verdict(values: list[float], goal: float | None, higher: bool = True) -> str:
    """``MET`` / ``NOT MET`` of the median against ``goal`` (``>=`` when ``higher``, else
    ``<=``), saying whether every round met it; ``no goal`` when ``goal`` is ``None``."""
    if goal is None:
        return "no goal (for reference)"
    med = statistics.median(values)
    sign = ">=" if higher else "<="
    met = med >= goal if higher else med <= goal
    every = all((v >= goal) if higher else (v <= goal) for v in values)
    if met:
        how = "in every round" if every else "by the median, not in every round"
        return f"MET: median {med:.3f} {sign} {goal:g} ({how})"
    return f"NOT MET: median {med:.3f}, goal {sign} {goal:g}"


def ratio_line(label: str, values: list[float], goal: float | None, note: str = "") -> str:
    """One report line: the label, median and spread, and the verdict."""
    tail = f"  [{note}]" if note else ""
    return f"  {label:44s} {spread(values)}  -> {verdict(values, goal)}{tail}"
