"""Step time of the CPU video encoder against the tiny Hiera at equal token count.

``cnn_tiny_16x64`` and ``hiera_tiny_16x64`` both read 16 x 64 x 64 clips into 128 final
tokens (32 mask units of 4 tokens) of width 256.  One training step = forward of a batch
of clips with a mask unit mask (ratio 0.8, SignRep's default) or without, mean of the
pooled embedding squared, backward.  Variants run interleaved (the order rotates every
round); each ratio is Hiera seconds / CNN seconds per round (> 1: the CNN is faster),
printed as median (min - max).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_video_encoders.py [--rounds 7] [--batch 8]
"""

from __future__ import annotations

import argparse

import torch
from timing import interleave, paired, ratio_line, spread

from signssl.models import create_model

MODELS = ("cnn_tiny_16x64", "hiera_tiny_16x64")


def step_fn(name: str, batch: int, ratio: float) -> object:
    """A closure running one forward + backward step of ``name`` on random clips."""
    torch.manual_seed(0)
    model = create_model(name).train()
    T, H, W = model.input_size
    x = torch.rand(batch, 3, T, H, W)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        mask = model.random_mask(batch, ratio, gen) if ratio > 0 else None
        loss = model.pool(model.forward_features(x, mask)).pow(2).mean()
        model.zero_grad(set_to_none=True)
        loss.backward()

    return step


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--batch", type=int, default=8)
    args = p.parse_args()
    torch.set_num_threads(1)
    for name in MODELS:
        m = create_model(name)
        print(f"{name}: {sum(q.numel() for q in m.parameters()) / 1e6:.2f} M parameters, "
              f"{m.num_mask_units} mask units, final tokens {m.final_token_grid}")  # fmt: skip
    for ratio in (0.8, 0.0):
        fns = {n: step_fn(n, args.batch, ratio) for n in MODELS}
        t = interleave(fns, args.rounds)  # type: ignore[arg-type]
        for n in MODELS:
            print(f"  mask {ratio}: {n} s/step {spread(t.wall[n])}")
        ratios = paired(t.wall, "cnn_tiny_16x64", "hiera_tiny_16x64")
        print(ratio_line(f"mask {ratio}: Hiera / CNN step time", ratios, None))


if __name__ == "__main__":
    main()
