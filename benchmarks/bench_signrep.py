"""Share of a SignRep pretraining step spent outside the encoder, tiny size on CPU.

One step of the ``tiny`` profile (``hiera_tiny_16x64``, 4 videos x 2 crops of 16 x 64 x 64,
decoder latent 128, discriminator 128) is split into:

* ``decode``: reading the two crops of every video (PyAV) and collating;
* ``priors``: computing the crops' sign priors from the pose (inside the data loading);
* ``augment``: the kornia batch augmentation of the 8 crops;
* ``encoder``: Hiera forward + backward on the masked crops (timed alone: a step whose
  loss is a function of the encoder tokens only);
* ``rest``: the full model step (encoder, decoder, Eq. 2-10 losses, discriminator, one
  backward, both optimiser steps) minus ``encoder``.

Prints the milliseconds of each part (median over ``--steps`` timed steps after
``--warmup`` untimed ones) and the share of the step outside the encoder,
``1 - encoder / total``, and of its model part alone (augment + encoder + rest: what runs
in the training process while DataLoader workers decode and compute priors); the pixel
MAE's share is printed for comparison (no priors, no
discriminator).  The data are a small synthetic video set written to a temporary folder.

    .venv/bin/python benchmarks/bench_signrep.py [--steps 5] [--warmup 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from signssl.data.signrep import PairClipDataset, collate_pairs
from signssl.engine.config import load_config
from signssl.methods import create_method
from signssl.models import create_model
from signssl.synth import generate_dataset


def median_ms(fn: Callable[[], Any], steps: int, warmup: int) -> tuple[float, Any]:
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        out = fn()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times), out


def bench(method_name: str, manifest: Path, steps: int, warmup: int) -> dict[str, float]:
    cfg = load_config(method_name, "tiny")
    torch.manual_seed(0)
    encoder = create_model(cfg.model.name, **cfg.model.kwargs)
    method = create_method(method_name, encoder, **cfg.method.kwargs).train()
    T, H, W = encoder.input_size
    ds = PairClipDataset(manifest, clip_len=T, size=(H, W), priors=method.needs_priors, seed=0)
    ds.scan(progress=False)
    n = cfg.data.batch_size
    parts: dict[str, float] = {}

    def load() -> dict[str, Any]:
        return collate_pairs([ds[i % len(ds)] for i in range(n)])

    load_ms, batch = median_ms(load, steps, warmup)
    if method.needs_priors:
        reads = [ds.load(i)["frame_indices"].numpy() for i in range(n)]
        parts["priors"], _ = median_ms(
            lambda: [ds.crop_priors(i, r) for i, r in enumerate(reads)], steps, warmup
        )
        parts["decode"] = load_ms - parts["priors"]
    else:
        parts["decode"] = load_ms
    parts["augment"], (x, _, _) = median_ms(lambda: method.clips(batch), steps, warmup)

    aux = method.auxiliary_optimizer() if hasattr(method, "auxiliary_optimizer") else None
    aux_ids = {id(p) for p in aux["params"]} if aux else set()
    opt = torch.optim.AdamW([p for p in method.parameters() if id(p) not in aux_ids], lr=1e-4)
    opt_d = torch.optim.Adam(aux["params"], lr=1e-4) if aux else None
    augment, method.augmentation = method.augmentation, None  # timed above

    def model_step() -> None:
        out = method.training_loss(batch)
        opt.zero_grad(set_to_none=True)
        if opt_d is not None:
            opt_d.zero_grad(set_to_none=True)
        (out["loss"] + out.get("aux_loss", 0.0)).backward()
        if opt_d is not None:
            opt_d.step()
        opt.step()

    def encoder_step() -> None:
        mask = method.draw_mask(x.shape[0])
        tokens = encoder.forward_features(x, mask)
        encoder.zero_grad(set_to_none=True)
        tokens.square().mean().backward()

    step_ms, _ = median_ms(model_step, steps, warmup)
    parts["encoder"], _ = median_ms(encoder_step, steps, warmup)
    parts["rest"] = max(step_ms - parts["encoder"], 0.0)
    method.augmentation = augment
    return parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        manifest = generate_dataset(
            Path(tmp), 4, 2, 1, 32, video=True, size=64, seed=0, progress=False
        )
        for name in ("signrep", "mae"):
            parts = bench(name, manifest, args.steps, args.warmup)
            total = sum(parts.values())
            detail = ", ".join(f"{k} {v:.0f} ms" for k, v in parts.items())
            outside = 1.0 - parts["encoder"] / total
            model = parts["augment"] + parts["encoder"] + parts["rest"]
            in_model = 1.0 - parts["encoder"] / model
            print(
                f"{name}: step {total:.0f} ms ({detail}); outside the encoder {outside:.0%} "
                f"of the step, {in_model:.0%} of its model part (augment + encoder + rest; "
                "data loading runs in DataLoader workers)"
            )


if __name__ == "__main__":
    main()
