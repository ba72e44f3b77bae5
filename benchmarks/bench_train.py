"""Training throughput: the real data pipeline against pre-materialised tensors.

    python benchmarks/bench_train.py [--rounds 8] [--steps 5] [--engine-rounds 5]
        [--engine-steps 20] [--method sl_fpn] [--workers 0] [--paper]

Measured in one run, on a synthetic vocabulary written to a temporary folder; every
comparison is interleaved (the variants take turns within each round, so a changing
machine load hits them alike) and every ratio is taken per round and printed as its
median with the spread (min - max) and a verdict against its goal:

1. ``pipeline / tensors``: optimiser steps per second of the ``tiny`` profile fed by
   ``PoseDataset`` + ``ResumableLoader`` + ``collate_poses`` (as ``signssl pretrain``
   builds it), over the same steps fed from batches collated once beforehand; with the
   decoded-clip cache (the ``tiny`` setting) and without it (every clip read from disk).
   ``--rounds`` rounds of ``--steps`` steps per feed.  Goal: >= 0.9 with the cache.
2. ``engine / loop``: steps per second of the full Lightning engine (``fit``: logging,
   collapse monitor, checkpoints; start-up excluded) over the plain loop of (1), in
   ``--engine-rounds`` rounds of one ``fit`` of ``--engine-steps`` steps and one plain
   loop of as many steps, alternating which goes first.  Goal: >= 0.9 (the engine costs
   at most 10 %; its checkpoint every 50 steps falls outside short runs).
3. Step time (forward + backward + optimiser) of the tiny encoder with the SL-FPN recipe
   on this CPU (median of ``--size-steps`` steps), and of the paper-size one with
   ``--paper`` (seconds per step on a CPU).

The defaults finish in about 2-4 minutes on two loaded cores (one torch thread); raise
the rounds and steps for tighter spreads.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from timing import interleave, paired, ratio_line, spread

from signssl.data import PoseDataset
from signssl.engine.config import load_config
from signssl.engine.loader import EpochBatchSampler, ResumableLoader
from signssl.engine.pretrain_pose import _Collate
from signssl.engine.run import fit
from signssl.methods import create_method
from signssl.models import create_model
from signssl.optim import build_optimizer, param_groups
from signssl.synth import generate_dataset

PIPELINE_TARGET, ENGINE_TARGET = 0.9, 0.9


def build(cfg: Any) -> tuple[Any, torch.optim.Optimizer]:
    torch.manual_seed(0)
    enc = create_model(cfg.model.name, **cfg.model.kwargs)
    method = create_method(cfg.method.name, enc, **cfg.method.kwargs)
    groups = param_groups(method, enc, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    for g in groups:
        del g["names"]
    return method, build_optimizer(groups, cfg.optim.name, lr=cfg.optim.lr)


def step(method: Any, opt: torch.optim.Optimizer, batch: dict[str, Any]) -> None:
    loss = method.training_loss(batch)["loss"]
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


class Feed:
    """Endless batches from ``batches`` (re-iterated at the end of each pass)."""

    def __init__(self, batches: Any) -> None:
        self.batches = batches
        self.it = iter(batches)

    def next(self) -> dict[str, Any]:
        try:
            return next(self.it)
        except StopIteration:
            self.it = iter(self.batches)
            return next(self.it)


def run_steps(method: Any, opt: torch.optim.Optimizer, feed: Feed, steps: int) -> None:
    for _ in range(steps):
        step(method, opt, feed.next())


class StepTimer(Callback):
    """Wall time of the optimiser steps after the first ``skip``, to the end of the last
    batch (start-up and the end of training excluded)."""

    def __init__(self, skip: int = 2) -> None:
        self.skip = skip
        self.start = 0.0
        self.steps = 0
        self.seconds = 0.0

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.skip:
            self.start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if trainer.global_step > self.skip:
            self.steps = trainer.global_step - self.skip
            self.seconds = time.perf_counter() - self.start


def loader(dataset: Any, batch: int, max_frames: int, workers: int) -> ResumableLoader:
    return ResumableLoader(dataset, EpochBatchSampler(len(dataset), batch, seed=0),
                           collate_fn=_Collate(max_frames), num_workers=workers)


def bench_feeds(cfg: Any, feeds: dict[str, Feed], rounds: int, steps: int) -> None:
    """Section 1: the same optimiser steps fed several ways, interleaved."""
    runs = {name: (*build(cfg), feed) for name, feed in feeds.items()}
    t = interleave({name: lambda r=run: run_steps(*r, steps) for name, run in runs.items()}, rounds)
    print(f"\n(1) feeding: {rounds} interleaved rounds of {steps} steps per feed; steps/s, "
          "median (min - max)")
    for name, secs in t.wall.items():
        print(f"  {name:44s} {spread([steps / s for s in secs], '.2f')}")
    tensors = "pre-materialised tensors"
    print(ratio_line("pipeline (cache) / tensors", paired(t.wall, "PoseDataset (cache) + loader",
                                                          tensors), PIPELINE_TARGET))
    print(ratio_line("pipeline (no cache) / tensors",
                     paired(t.wall, "PoseDataset (no cache) + loader", tensors), None,
                     "every clip read from disk"))


def bench_engine(method_name: str, cfg: Any, dataset: Any, rounds: int, steps: int,
                 tmp: Path) -> None:
    """Section 2: ``fit`` against the plain loop, alternating which runs first."""
    d = cfg.data
    loop = (*build(cfg), Feed(loader(dataset, d.batch_size, d.max_frames, 0)))
    run_steps(*loop, 2)  # warm-up

    def plain() -> float:
        start = time.perf_counter()
        run_steps(*loop, steps)
        return steps / (time.perf_counter() - start)

    def engine(r: int) -> float:
        method, _ = build(cfg)
        timer = StepTimer()
        run_cfg = load_config(method_name, "tiny", ["trainer.progress_bar=false",
                                                    f"trainer.max_steps={steps + timer.skip}"])
        fit(method, dataset, run_cfg, tmp / f"run{r}", collate_fn=_Collate(d.max_frames),
            progress=False, callbacks=[timer])
        return timer.steps / timer.seconds

    loop_rates: list[float] = []
    engine_rates: list[float] = []
    for r in range(rounds):  # plain loop first in even rounds, the engine first in odd ones
        if r % 2:
            engine_rates.append(engine(r))
        loop_rates.append(plain())
        if not r % 2:
            engine_rates.append(engine(r))
    rates = {"plain loop (cache)": loop_rates, "Lightning engine (fit, cache)": engine_rates}
    print(f"\n(2) engine: {rounds} rounds of {steps} steps each, alternating; steps/s, "
          "median (min - max)")
    for name, values in rates.items():
        print(f"  {name:44s} {spread(values, '.2f')}")
    ratio = [e / p for p, e in zip(loop_rates, engine_rates, strict=True)]
    every = cfg.trainer.checkpoint_every_n_steps
    print(ratio_line("engine / plain loop (cache)", ratio, ENGINE_TARGET,
                     f"logging every step, collapse monitor, a checkpoint every {every} steps"
                     + (f" (none within {steps})" if steps < every else "")))


def bench_sizes(batch_tiny: dict[str, Any], batch: int, paper: bool, paper_batch: int,
                steps: int) -> None:
    """Section 3: step time of the encoder sizes with the SL-FPN recipe."""
    print(f"\n(3) step time with the SL-FPN recipe (forward + backward + optimiser), median "
          f"(min - max) of {steps} steps after one warm-up:")
    sizes = [("pose_transformer_tiny", batch)] + ([("pose_transformer_paper", paper_batch)] if paper else [])
    for name, batch_size in sizes:
        scfg = load_config("sl_fpn", "tiny" if "tiny" in name else None,
                           [] if "tiny" in name else ["data.max_frames=32"])
        method, opt = build(scfg)
        b = {k: (v[:batch_size] if isinstance(v, torch.Tensor) else v) for k, v in batch_tiny.items()}
        if b["x"].shape[0] < batch_size:
            reps = -(-batch_size // b["x"].shape[0])
            b = {k: (torch.cat([v] * reps)[:batch_size] if isinstance(v, torch.Tensor) else v)
                 for k, v in b.items()}
        t = interleave({name: functools.partial(step, method, opt, b)}, steps)
        params = sum(p.numel() for p in method.encoder.parameters()) / 1e6
        ms = [1000 * s for s in t.wall[name]]
        print(f"  {name:24s} {params:6.2f} M params, batch {batch_size:3d} x "
              f"{b['x'].shape[1]} frames: {spread(ms, '.1f')} ms/step")
    if not paper:
        print("  (pose_transformer_paper: add --paper)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=8, help="interleaved rounds of section 1")
    ap.add_argument("--steps", type=int, default=5, help="steps per feed per round (section 1)")
    ap.add_argument("--engine-rounds", type=int, default=5, help="rounds of section 2")
    ap.add_argument("--engine-steps", type=int, default=20,
                    help="timed steps of each fit and plain loop (section 2)")
    ap.add_argument("--size-steps", type=int, default=3, help="timed steps per size (section 3)")
    ap.add_argument("--paper", action="store_true", help="also time the paper-size encoder")
    ap.add_argument("--method", default="sl_fpn")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--paper-batch", type=int, default=16, help="batch for the paper-size encoder")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    started = time.perf_counter()

    cfg = load_config(args.method, "tiny", ["trainer.progress_bar=false"])
    d = cfg.data
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; method {args.method}, "
          f"tiny profile: {cfg.model.name}, batch {d.batch_size}, {d.max_frames} frames; load "
          f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_dataset(Path(tmp) / "data", classes=10, signers=4, reps=4, frames=48,
                                    seed=0, progress=False)
        cached = PoseDataset(manifest, layout=d.layout, dims=d.dims, normalize=d.normalize, cache=True)
        cached.scan(progress=False)
        uncached = PoseDataset(manifest, layout=d.layout, dims=d.dims, normalize=d.normalize)
        pre = list(loader(cached, d.batch_size, d.max_frames, 0))  # collated once, in memory
        bench_feeds(cfg, {
            "pre-materialised tensors": Feed(pre),
            "PoseDataset (cache) + loader": Feed(loader(cached, d.batch_size, d.max_frames, args.workers)),
            "PoseDataset (no cache) + loader": Feed(loader(uncached, d.batch_size, d.max_frames, args.workers)),
        }, args.rounds, args.steps)
        bench_engine(args.method, cfg, cached, args.engine_rounds, args.engine_steps, Path(tmp))
        bench_sizes(pre[0], d.batch_size, args.paper, args.paper_batch, args.size_steps)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
