"""Video Hiera: forward + backward time per clip, with MAE masking (ratio 0.8) and without.

One step = ``forward_features`` on a random ``uint8`` batch, ``pool``, ``sum().backward()``
(the encoder part of a pretraining step, no optimiser).  Each configuration runs
``--warmup`` untimed steps, then ``--iters`` timed ones; the median step time divided by
the batch size is printed, with the token count the blocks see and the speed-up that
masking gives.  Defaults keep the run short on a CPU: ``hiera_tiny_16x64`` with batch 4,
``hiera_base_16x224`` with batch 1 and 2 timed steps.

    .venv/bin/python benchmarks/bench_hiera.py [--sizes hiera_tiny_16x64 hiera_base_16x224]
        [--iters 2] [--warmup 1] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from signssl.models import create_model
from signssl.models.hiera import Hiera

BATCH = {"hiera_tiny_16x64": 4, "hiera_base_16x224": 1}
RATIOS = (None, 0.8)


def step(model: Hiera, x: torch.Tensor, mask: torch.Tensor | None) -> int:
    """One forward + backward; returns the number of tokens after the blocks."""
    model.zero_grad(set_to_none=True)
    tokens = model.forward_features(x, mask)
    model.pool(tokens).sum().backward()
    return tokens.shape[1]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_config(
    model: Hiera, batch: int, ratio: float | None, iters: int, warmup: int, device: torch.device
) -> tuple[float, int]:
    """Median seconds per clip and the token count, for one mask ratio."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (batch, 3, *model.input_size), generator=g, dtype=torch.uint8)
    x = x.to(device)
    mask = None if ratio is None else model.random_mask(batch, ratio, g)
    tokens = 0
    for _ in range(warmup):
        tokens = step(model, x, mask)
    times = []
    for _ in range(iters):
        sync(device)
        t0 = time.perf_counter()
        tokens = step(model, x, mask)
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / batch, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=list(BATCH))
    ap.add_argument("--batch", type=int, default=None, help="override every size's batch")
    ap.add_argument("--iters", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, iters {args.iters}")
    print(f"{'model':<20} {'batch':>5} {'mask':>5} {'tokens':>7} {'s/clip':>9} {'speed-up':>9}")
    for name in args.sizes:
        torch.manual_seed(0)
        model = create_model(name)
        assert isinstance(model, Hiera)
        model = model.to(device).train()
        batch = args.batch or BATCH.get(name, 1)
        base = None
        for ratio in RATIOS:
            sec, tokens = time_config(model, batch, ratio, args.iters, args.warmup, device)
            base = sec if ratio is None else base
            gain = f"{base / sec:8.1f}x" if base is not None and ratio is not None else ""
            label = "none" if ratio is None else f"{ratio:.1f}"
            print(f"{name:<20} {batch:>5} {label:>5} {tokens:>7} {sec:>9.3f} {gain:>9}")


if __name__ == "__main__":
    main()
