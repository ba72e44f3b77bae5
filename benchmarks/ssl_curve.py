"""Retrieval top-1 of a pose recipe's encoder along its pretraining, from step 0 (random init).

Answers "does self-supervision move the encoder away from its random-init start, and which
way?" on a real manifest: the same split as ``signssl study`` uses for a seed (the
manifest's own train/test, else ``signer_independent_split(seed)``), the method's own
views and loss, AdamW with the profile's lr, linear warmup (one epoch) and cosine decay,
and the frozen-feature retrieval of the study (training clips = dictionary, test clips =
queries) every ``--every`` steps.  A plain loop (no Lightning, no checkpoints): a
measurement, not a training command.

    python benchmarks/ssl_curve.py --data .xdata/wlasl50/manifest.csv --method simclr \
        --steps 600 --every 100 --seed 0 [--set method.kwargs.hand_dropout_p=0.3 ...]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from signssl.data import Manifest
from signssl.data.collate import collate_poses
from signssl.engine.config import load_config
from signssl.eval import extract_features, retrieval_eval
from signssl.eval.frozen import ensure_splits, split_dataset
from signssl.methods import create_method
from signssl.models import create_model
from signssl.store.spec import spec_from_config


def top1(encoder: torch.nn.Module, train: object, test: object, max_frames: int) -> float:
    """Retrieval top-1 per instance of the frozen encoder (train = dictionary)."""
    encoder.eval()
    a = extract_features(encoder, train, progress=False, max_frames=max_frames)
    b = extract_features(encoder, test, progress=False, max_frames=max_frames)
    encoder.train()
    return float(retrieval_eval(a, b).metrics["top1_per_instance"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--method", default="simclr")
    p.add_argument("--config", default="tiny")
    p.add_argument("--set", action="append", default=[], dest="overrides")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--every", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(args.method, args.config, ["trainer.accelerator=cpu", *args.overrides])
    manifest = ensure_splits(Manifest.read(args.data), seed=args.seed)
    spec = spec_from_config(cfg)
    classes = manifest.labels()
    train, test = (split_dataset(manifest, spec, s, classes, cache=True) for s in ("train", "test"))
    torch.manual_seed(args.seed)
    encoder = create_model(cfg.model.name, **cfg.model.kwargs)
    method = create_method(cfg.method.name, encoder, **cfg.method.kwargs)
    params = [q for q in method.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    batch = min(cfg.data.batch_size, len(train))
    warmup = max(1, len(train) // batch)
    rng = np.random.default_rng(args.seed)
    print(f"{args.method} {args.overrides}: {len(train)} training clips, {len(test)} queries")
    print(f"step 0 top1 {top1(encoder, train, test, spec.max_frames):.3f}", flush=True)
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        lr = cfg.optim.lr * min(1.0, step / warmup) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        rows = rng.choice(len(train), batch, replace=False)
        out = method.training_loss(collate_poses([train[int(i)] for i in rows], spec.max_frames))
        opt.zero_grad()
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        method.on_step_end(step, args.steps)
        if step % args.every == 0 or step == args.steps:
            score = top1(encoder, train, test, spec.max_frames)
            print(f"step {step} loss {out['loss'].item():.3f} top1 {score:.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
