"""MASA training step: the share spent in motion residuals + masking, and the step time.

One full training step of the ``masa`` recipe (``training_loss`` + backward + AdamW step +
momentum update) is timed against the MA masking alone (motion residuals, Alg. 1
candidates, random selection: ``MASA.make_mask``) and the MASA-49 input pipeline
(``MASAEncoder.preprocess``) on the same batch.  Target: masking + residuals <= 10 % of
the step.  The batch is synthetic (arms swinging, hands turning and curling) in pixel
coordinates, with padded tails.

Every timed function runs once untimed, then ``--rounds`` times; the median counts.

``--real`` also prints, for the real MediaPipe clips of ``wlasl4-holistic1662``
(``$SIGNSSL_SHARED_DATA`` or ``../shared/data``), the share of frames that are masking
candidates under each candidate rule (paper: share over all joints; ``confident``: over
the joints seen in both frames; the authors' per-part rule).

    .venv/bin/python benchmarks/bench_masa.py [--size masa_paper] [--batch 8] [--frames 64]
        [--rounds 5] [--device cpu|cuda] [--threads N] [--real]
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from signssl.methods import create_method
from signssl.models import create_model

TARGET = 0.10
REPO = Path(__file__).resolve().parents[1]


def synthetic_batch(B: int, T: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """``B`` clips of ``T`` frames (masa49, pixels): swinging arms, turning hands."""
    rng = np.random.default_rng(seed)
    x = np.zeros((B, T, 49, 2), np.float32)
    base = np.array(
        [
            [math.sin(math.radians(-60 + 30 * f)), -math.cos(math.radians(-60 + 30 * f))]
            for f in range(5)
        ],
        np.float32,
    )  # (5, 2) finger directions
    for b in range(B):
        for t in range(T):
            ph = 0.35 * t + b
            body = np.array(
                [
                    [320, 100],
                    [380, 200],
                    [400, 300 - 40 * math.sin(ph)],
                    [380, 330 - 90 * math.sin(ph)],
                    [260, 200],
                    [240, 300 - 40 * math.cos(ph)],
                    [260, 330 - 90 * math.cos(ph)],
                ]
            )
            x[b, t, :7] = body
            for start, wrist in ((7, 3), (28, 6)):
                ang = 0.6 * math.sin(ph)
                rot = np.array([[math.cos(ang), math.sin(ang)], [-math.sin(ang), math.cos(ang)]])
                curl = 1.0 - 0.1 * (1 + math.sin(ph)) * np.arange(1, 5)[:, None, None]
                fingers = (10.0 * np.arange(1, 5)[:, None, None] * curl * base[None]).transpose(
                    1, 0, 2
                )
                hand = np.concatenate([np.zeros((1, 2)), fingers.reshape(20, 2)]) @ rot
                x[b, t, start : start + 21] = hand + body[wrist]
    conf = rng.uniform(0.5, 1.0, size=(B, T, 49)).astype(np.float32)
    lengths = rng.integers(T * 3 // 4, T + 1, size=B)
    pad = np.arange(T)[None, :] >= lengths[:, None]
    conf[pad] = 0.0
    x[pad] = 0.0
    return {
        "x": torch.from_numpy(x),
        "conf": torch.from_numpy(conf),
        "frame_mask": torch.from_numpy(pad),
    }


def median_time(fn: Callable[[], object], rounds: int, sync: Callable[[], None]) -> float:
    fn()
    sync()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def real_candidate_rates() -> None:
    """Candidate shares on real MediaPipe clips, for each candidate rule."""
    from signssl.data import collate_poses
    from signssl.io import read_pose
    from signssl.methods.masa_masking import (
        motion_candidates,
        motion_residuals,
        part_motion_candidates,
    )

    root = Path(os.environ.get("SIGNSSL_SHARED_DATA", REPO.parent / "shared" / "data"))
    seqs = sorted(glob.glob(str(root / "wlasl4-holistic1662" / "MP_Data" / "*" / "*")))
    if not seqs:
        print(f"no real data under {root}: skipped")
        return
    samples = [
        {"pose": read_pose(s, layout="holistic").to_layout("masa49").with_dims(2), "path": s}
        for s in seqs
    ]
    batch = collate_poses(samples, max_frames=None)
    enc = create_model("masa_test", max_frames=batch["x"].shape[1])
    inp = enc.preprocess(batch)
    hands = [(inp.conf[:, :, sl] > 0).any(-1)[inp.valid].float().mean() for sl in enc.parts.hands]
    print(
        f"real clips: {len(seqs)}, {int(inp.valid.sum())} frames; left / right hand present in "
        f"{float(hands[0]):.0%} / {float(hands[1]):.0%} of frames"
    )
    parts = [enc.parts.body, enc.parts.left_hand, enc.parts.right_hand]
    for k in (1, 3):
        res = motion_residuals(inp.x, inp.conf, k, inp.pad)
        n = res.valid.sum()
        rates = {
            "paper (all joints)": motion_candidates(res, 5.0, 0.5, "all"),
            "confident joints": motion_candidates(res, 5.0, 0.5, "confident"),
            "per part (code)": part_motion_candidates(res, parts, 3.0, 2),
        }
        print(
            f"k={k}: candidates "
            + ", ".join(f"{name} {float(c.sum() / n):.1%}" for name, c in rates.items())
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", default="masa_paper")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--queue", type=int, default=6144)
    ap.add_argument("--real", action="store_true", help="candidate shares on real clips")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    encoder = create_model(args.size, max_frames=max(64, args.frames))
    method = create_method("masa", encoder, queue_size=args.queue).to(dev).train()
    batch = {k: v.to(dev) for k, v in synthetic_batch(args.batch, args.frames).items()}
    params = [p for g in method.param_groups() for p in g["params"]]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=1e-4)
    step_count = [0]

    def train_step() -> None:
        out = method.training_loss(batch)
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        step_count[0] += 1
        method.on_step_end(step_count[0], 1000)

    inp = method.encoder.preprocess(batch)

    def masking() -> None:
        method.make_mask(inp)

    def pipeline() -> None:
        method.encoder.preprocess(batch)

    t_step = median_time(train_step, args.rounds, sync)
    t_mask = median_time(masking, max(args.rounds, 20), sync)
    t_pipe = median_time(pipeline, max(args.rounds, 20), sync)
    mask, cand, _, _ = method.make_mask(inp)
    n_params = sum(p.numel() for p in method.encoder.parameters()) / 1e6
    print(
        f"device {dev} ({torch.get_num_threads()} threads), {args.size} ({n_params:.1f}M encoder "
        f"params), batch {args.batch} x {args.frames} frames"
    )
    print(
        f"candidates {float(cand.sum() / inp.valid.sum()):.1%} of frames, masked "
        f"{float(mask.sum() / inp.valid.sum()):.1%}"
    )
    print(f"training step          {t_step * 1000:9.1f} ms")
    print(f"residuals + masking    {t_mask * 1000:9.2f} ms   {t_mask / t_step:6.2%} of the step")
    print(f"MASA-49 pipeline       {t_pipe * 1000:9.2f} ms   {t_pipe / t_step:6.2%} of the step")
    share = (t_mask + t_pipe) / t_step
    verdict = "OK" if t_mask / t_step <= TARGET else "ABOVE TARGET"
    print(
        f"masking share {t_mask / t_step:.2%} (with the pipeline {share:.2%}); "
        f"target <= {TARGET:.0%}: {verdict}"
    )
    if args.real:
        real_candidate_rates()


if __name__ == "__main__":
    main()
