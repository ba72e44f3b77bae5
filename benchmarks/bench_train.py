"""Training throughput: the real data pipeline against pre-materialised tensors.

    python benchmarks/bench_train.py [--steps 30] [--method sl_fpn] [--workers 0]

Measured in one run, on a synthetic vocabulary written to a temporary folder:

1. ``pipeline / tensors``: optimiser steps per second of the ``tiny`` profile fed by
   ``PoseDataset`` + ``ResumableLoader`` + ``collate_poses`` (as ``signssl pretrain``
   builds it), over the same steps fed from batches collated once beforehand; with the
   decoded-clip cache (the ``tiny`` setting) and without it (every clip read from disk).
   The feeds alternate in rounds so a changing machine load affects all of them alike.
   Target: >= 0.9 with the cache.
2. ``engine / loop``: steps per second of the full Lightning engine (``fit``: logging,
   collapse monitor, checkpoints) over the plain loop of (1).
3. Step time (forward + backward + optimiser) of the tiny and the paper-size encoders
   with the SL-FPN recipe on this CPU.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

from signssl.data import PoseDataset
from signssl.engine.config import load_config
from signssl.engine.loader import EpochBatchSampler, ResumableLoader
from signssl.engine.optim import build_optimizer, param_groups
from signssl.engine.pretrain import _Collate, fit
from signssl.methods import create_method
from signssl.models import create_model
from signssl.synth import generate_dataset


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


def interleaved(
    runs: dict[str, tuple[Any, torch.optim.Optimizer, Feed]], rounds: int, steps: int
) -> dict[str, float]:
    """Steps per second of each ``(method, optimiser, feed)``, measured in alternating
    rounds of ``steps`` steps so that a changing machine load hits every feed alike."""
    seconds = dict.fromkeys(runs, 0.0)
    for method, opt, feed in runs.values():  # warm-up, untimed
        step(method, opt, feed.next())
    for _ in range(rounds):
        for name, (method, opt, feed) in runs.items():
            start = time.perf_counter()
            for _ in range(steps):
                step(method, opt, feed.next())
            seconds[name] += time.perf_counter() - start
    return {name: rounds * steps / sec for name, sec in seconds.items()}


class StepTimer(Callback):
    """Wall time of the optimiser steps after the first ``skip`` (start-up excluded)."""

    def __init__(self, skip: int = 2) -> None:
        self.skip = skip
        self.start = 0.0
        self.steps = 0
        self.seconds = 0.0

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.skip:
            self.start = time.perf_counter()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.steps = trainer.global_step - self.skip
        self.seconds = time.perf_counter() - self.start


def loader(dataset: Any, batch: int, max_frames: int, workers: int) -> ResumableLoader:
    return ResumableLoader(dataset, EpochBatchSampler(len(dataset), batch, seed=0),
                           collate_fn=_Collate(max_frames), num_workers=workers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=40, help="timed steps per feed")
    ap.add_argument("--rounds", type=int, default=0,
                    help="alternating rounds (default: one step per feed per round)")
    ap.add_argument("--method", default="sl_fpn")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--paper-batch", type=int, default=16, help="batch for the paper-size encoder")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    rounds = args.rounds or args.steps

    cfg = load_config(args.method, "tiny", ["trainer.progress_bar=false"])
    d = cfg.data
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; method {args.method}, "
          f"tiny profile: {cfg.model.name}, batch {d.batch_size}, {d.max_frames} frames")
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_dataset(Path(tmp) / "data", classes=10, signers=4, reps=4, frames=48,
                                    seed=0, progress=False)
        # (1) the same optimiser steps fed three ways, in alternating rounds
        cached = PoseDataset(manifest, layout=d.layout, dims=d.dims, normalize=d.normalize, cache=True)
        cached.scan(progress=False)
        uncached = PoseDataset(manifest, layout=d.layout, dims=d.dims, normalize=d.normalize)
        pre = list(loader(cached, d.batch_size, d.max_frames, 0))  # collated once, in memory
        feeds = {
            "pre-materialised tensors": Feed(pre),
            "PoseDataset (cache) + loader": Feed(loader(cached, d.batch_size, d.max_frames, args.workers)),
            "PoseDataset (no cache) + loader": Feed(loader(uncached, d.batch_size, d.max_frames, args.workers)),
        }
        rates = interleaved({name: (*build(cfg), feed) for name, feed in feeds.items()},
                            rounds=rounds, steps=max(1, args.steps // rounds))
        tensors, piped, disk = rates.values()
        # (2) the whole engine on the cached pipeline, between two plain-loop measurements
        plain = interleaved({"loop": (*build(cfg), Feed(loader(cached, d.batch_size, d.max_frames, 0)))},
                            rounds=1, steps=args.steps // 2)["loop"]
        method, _ = build(cfg)
        timer = StepTimer()
        run_cfg = load_config(args.method, "tiny", ["trainer.progress_bar=false",
                                                    f"trainer.max_steps={args.steps + timer.skip}"])
        fit(method, cached, run_cfg, Path(tmp) / "run", collate_fn=_Collate(d.max_frames),
            progress=False, callbacks=[timer])
        engine = timer.steps / timer.seconds
        plain = (plain + interleaved({"loop": (*build(cfg), Feed(loader(cached, d.batch_size,
                                                                        d.max_frames, 0)))},
                                     rounds=1, steps=args.steps // 2)["loop"]) / 2
        print(f"\n{'feeding':36s} steps/s")
        for name, value in [*rates.items(), ("plain loop (cache), around the engine", plain),
                            ("Lightning engine (fit, cache)", engine)]:
            print(f"{name:38s} {value:7.2f}")
        print(f"\nratio pipeline(cache) / tensors   = {piped / tensors:.3f}   (target >= 0.9)")
        print(f"ratio pipeline(no cache) / tensors = {disk / tensors:.3f}")
        print(f"ratio engine / plain loop (cache)  = {engine / plain:.3f}   "
              "(logging every step, collapse monitor, checkpoint every 50 steps)")
        # (3) encoder sizes
        print("\nstep time with the SL-FPN recipe (forward + backward + optimiser):")
        batch_tiny = pre[0]
        for name, batch_size in (("pose_transformer_tiny", d.batch_size),
                                 ("pose_transformer_paper", args.paper_batch)):
            scfg = load_config("sl_fpn", "tiny" if "tiny" in name else None,
                               [] if "tiny" in name else ["data.max_frames=32"])
            method, opt = build(scfg)
            batch = {k: (v[:batch_size] if isinstance(v, torch.Tensor) else v)
                     for k, v in batch_tiny.items()}
            if batch["x"].shape[0] < batch_size:
                reps = -(-batch_size // batch["x"].shape[0])
                batch = {k: (torch.cat([v] * reps)[:batch_size] if isinstance(v, torch.Tensor) else v)
                         for k, v in batch.items()}
            sps = interleaved({name: (method, opt, Feed([batch]))}, rounds=1,
                              steps=max(3, args.steps // 5))[name]
            params = sum(p.numel() for p in method.encoder.parameters()) / 1e6
            print(f"  {name:24s} {params:6.2f} M params, batch {batch_size:3d} x "
                  f"{batch['x'].shape[1]} frames: {1000 / sps:8.1f} ms/step")


if __name__ == "__main__":
    main()
