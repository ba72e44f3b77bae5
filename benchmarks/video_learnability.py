"""Can a video encoder trained from scratch on CPU learn what SignRep asks of it?

Two measurements, each a few minutes on two CPU cores:

* **bright square**: clips of 16 black 64 x 64 frames holding one white 6 x 6 square at a
  random place (the same in every frame); the tiny Hiera (``hiera_tiny_16x64``) regresses
  the square's position (2 values in [-1, 1], MSE; predicting the mean scores ~0.33),
  read out either from the pooled embedding (mean over tokens + LayerNorm, what every
  evaluation and SignRep's decoder, Eq. 1, see) or from the whole final token grid
  (LayerNorm + one Linear over all positions);
* **sign priors**: on a synthetic video manifest (``signssl synth --video``), a model
  regresses the sign priors of 16-frame crops (Eq. 2's loss, the paper's weights) and
  the fraction of their variance it explains (R², valid values only; 0 = the mean) is
  read on the training videos and on the unseen test signers.  Models: the tiny Hiera
  with a per-time-step head (mean over the spatial tokens of each temporal position) or a
  token-grid head, and a small 3D CNN whose last feature map is flattened per time step
  (locality built in).  With ``--retrieval`` each model is also read as a sign
  encoder: its per-frame features before the prior heads, averaged over the clip and
  over 4 crops per video, L2-normalised; retrieval top-1 of the test signers' videos
  against the training videos (cosine nearest neighbour; chance 1 / classes), before
  training and after every ``--eval-every`` epochs;
* **prior oracle**: the same retrieval with the ground-truth sign priors of each video as
  its vector (all frames, or the central 16, flattened, or their time mean; every family
  L2-normalised, the concatenation centred on the training videos): what an encoder that
  predicted the priors perfectly would reach, per family and all together.

Usage::

    .venv/bin/python benchmarks/video_learnability.py                    # both, default sizes
    .venv/bin/python benchmarks/video_learnability.py --data D/manifest.csv --epochs 40
    .venv/bin/python benchmarks/video_learnability.py --data D/manifest.csv --parts oracle

Without ``--data`` a set of 10 signs x 8 signers x 3 repetitions (32 frames, 64 px,
``minimal_pair_rate=0``, seed 0; 2 test signers) is generated in a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from signssl.data.signrep import PairClipDataset, collate_pairs
from signssl.losses.prior_reconstruction import prior_reconstruction_loss
from signssl.methods.signrep import prior_settings
from signssl.models.hiera import Hiera
from signssl.models.registry import create_model

FRAMES, SIZE, HIDDEN = 16, 64, 128


# ----------------------------------------------------------------------------- bright square


def square_clips(n: int, gen: torch.Generator, side: int = 6) -> tuple[Tensor, Tensor]:
    """``(n, 3, 16, 64, 64)`` uint8 clips and the square's top-left corner in [-1, 1]."""
    corner = torch.randint(0, SIZE - side + 1, (n, 2), generator=gen)  # (n, 2) row, col
    x = torch.zeros(n, 3, FRAMES, SIZE, SIZE, dtype=torch.uint8)
    for i, (r, c) in enumerate(corner.tolist()):
        x[i, :, :, r : r + side, c : c + side] = 255
    return x, corner.float() / (SIZE - side) * 2 - 1


def token_grid(hiera: Hiera, tokens: Tensor) -> Tensor:
    """Final tokens (unrolled order, nothing hidden) -> ``(B, T', H', W', D)``."""
    return hiera.units_to_grid(hiera.reroll(tokens, hiera.q_pool))


class GridReadout(nn.Module):
    """LayerNorm + Linear over the whole final token grid of a Hiera: ``(B, N, D) -> (B, out)``."""

    def __init__(self, hiera: Hiera, out: int) -> None:
        super().__init__()
        self.hiera = hiera
        T, H, W = hiera.final_token_grid
        self.norm = nn.LayerNorm(hiera.out_dim)
        self.fc = nn.Linear(T * H * W * hiera.out_dim, out)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.fc(self.norm(token_grid(self.hiera, tokens)).flatten(1))


def square_run(
    readout: str, steps: int, lr: float, seed: int, pos_std: float = 0.0
) -> list[tuple[int, float]]:
    """Train the tiny Hiera + a readout on fresh square clips; (step, held-out MSE) pairs.

    ``pos_std > 0`` re-draws the position embeddings with that standard deviation (the
    default, 0.02, leaves them ~40x smaller than the patch embedding of a clip)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    hiera: Hiera = create_model("hiera_tiny_16x64")  # type: ignore[assignment]
    if pos_std > 0:
        for p in (hiera.pos_embed_spatial, hiera.pos_embed_temporal):
            nn.init.trunc_normal_(p, std=pos_std, a=-2 * pos_std, b=2 * pos_std)
    if readout == "grid":
        grid = GridReadout(hiera, 2)
        predict: Callable[[Tensor], Tensor] = lambda x: grid(hiera.forward_features(x))  # noqa: E731
        params = list(grid.parameters())  # the Hiera's included
    else:
        head = nn.Linear(hiera.out_dim, 2)
        predict = lambda x: head(hiera.embed(x))  # noqa: E731
        params = list(hiera.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    x_test, y_test = square_clips(64, gen)
    curve = []
    for step in range(1, steps + 1):
        x, y = square_clips(16, gen)
        loss = nn.functional.mse_loss(predict(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 50 == 0 or step == steps:
            with torch.no_grad():
                curve.append((step, float(nn.functional.mse_loss(predict(x_test), y_test))))
    return curve


# ----------------------------------------------------------------------------- sign priors


class HieraPriorHead(nn.Module):
    """Tiny Hiera + per-time-step (``time``) or token-grid (``grid``) head -> priors per frame."""

    def __init__(self, dims: dict[str, int], readout: str) -> None:
        super().__init__()
        self.hiera: Hiera = create_model("hiera_tiny_16x64")  # type: ignore[assignment]
        self.readout = readout
        D, (_, H, W) = self.hiera.out_dim, self.hiera.final_token_grid
        width = D * H * W if readout == "grid" else D
        self.norm = nn.LayerNorm(D)
        self.fc = nn.Sequential(nn.Linear(width, HIDDEN), nn.GELU())
        self.heads = nn.ModuleDict({n: nn.Linear(HIDDEN, d) for n, d in dims.items()})

    def features(self, x: Tensor) -> Tensor:
        """``(B, 3, 16, 64, 64)`` -> ``(B, T', HIDDEN)`` per-time-step features."""
        tok = self.hiera.forward_features(x)  # (B, N, D)
        if self.readout == "grid":
            h = self.norm(token_grid(self.hiera, tok)).flatten(2)  # (B, T', H', W', D) -> (B, T', H' W' D)
        else:
            h = self.norm(self.hiera.tokens_by_time(tok))  # (B, T', D)
        return self.fc(h)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.features(x)
        h = h.repeat_interleave(FRAMES // h.shape[1], dim=1)  # (B, 16, HIDDEN)
        return {n: head(h) for n, head in self.heads.items()}


class CNNPriorHead(nn.Module):
    """Three 3D convolutions (8 x 8 x 8 map of 64 channels), flattened per time step."""

    def __init__(self, dims: dict[str, int]) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(3, 32, (3, 5, 5), (1, 2, 2), (1, 2, 2)), nn.GELU(),
            nn.Conv3d(32, 64, 3, 2, 1), nn.GELU(),
            nn.Conv3d(64, 64, 3, (1, 2, 2), 1), nn.GELU(),
        )  # fmt: skip
        self.fc = nn.Sequential(nn.Linear(64 * 8 * 8, HIDDEN), nn.GELU())
        self.heads = nn.ModuleDict({n: nn.Linear(HIDDEN, d) for n, d in dims.items()})

    def features(self, x: Tensor) -> Tensor:
        """``(B, 3, 16, 64, 64)`` -> ``(B, 8, HIDDEN)`` per-time-step features."""
        h = self.net(x.float() / 255.0)  # (B, 3, 16, 64, 64) -> (B, 64, 8, 8, 8)
        return self.fc(h.transpose(1, 2).flatten(2))  # (B, 8, 64 * 8 * 8) -> (B, 8, HIDDEN)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        h = self.features(x)
        h = h.repeat_interleave(FRAMES // h.shape[1], dim=1)  # (B, 16, HIDDEN)
        return {n: head(h) for n, head in self.heads.items()}


def _crops(batch: dict, dims: dict[str, int]) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
    x = batch["video"][:, 0].permute(0, 2, 1, 3, 4)  # (N, 1, T, 3, H, W) -> (N, 3, T, H, W)
    y = {n: batch["priors"][n][:, 0].float() for n in dims}  # (N, T, d)
    valid = {n: batch["priors_valid"][n][:, 0] for n in dims}
    return x, y, valid


@torch.no_grad()
def r_squared(model: nn.Module, loader: DataLoader, dims: dict[str, int],
              scales: dict[str, float]) -> dict[str, float]:  # fmt: skip
    """Per prior: 1 - SSE / SST over valid values, SST around each dimension's own mean
    (predictions divided by the scale s_p); 0 = predicting the per-dimension mean."""
    model.eval()
    acc = {n: torch.zeros(4, d, dtype=torch.float64) for n, d in dims.items()}  # Σy, Σy², SSE, n
    for batch in loader:
        x, y, valid = _crops(batch, dims)
        pred = model(x)
        for n in dims:
            v = valid[n].expand_as(y[n]).double()  # (N, T, d)
            t, p = y[n].double(), pred[n].double() / scales[n]
            acc[n] += torch.stack([t * v, t * t * v, (p - t) ** 2 * v, v]).sum((1, 2))  # (4, d)
    model.train()
    out = {}
    for n, (s, s2, sse, c) in acc.items():
        sst = float((s2 - s * s / c.clamp_min(1)).sum())
        out[n] = 1 - float(sse.sum()) / sst if sst > 0 else float("nan")
    return out


def _loader(manifest: Path, split: str, shuffle: bool, seed: int, crops: int = 1) -> DataLoader:
    ds = PairClipDataset(manifest, clip_len=FRAMES, size=(SIZE, SIZE), crops=crops, split=split,
                         priors=crops == 1, seed=seed)  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(ds, batch_size=8, shuffle=shuffle, collate_fn=collate_pairs, generator=gen)


@torch.no_grad()
def _video_embeddings(model: nn.Module, loader: DataLoader) -> tuple[Tensor, Tensor]:
    """``(V, HIDDEN)`` L2-normalised video vectors (mean over time and crops), labels ``(V,)``."""
    model.eval()
    feats, labels = [], []
    for batch in loader:
        x = batch["video"]  # (N, K, T, 3, H, W)
        N, K = x.shape[:2]
        h = model.features(x.flatten(0, 1).permute(0, 2, 1, 3, 4)).mean(1)  # (N K, HIDDEN)
        feats.append(h.view(N, K, -1).mean(1))
        labels.append(torch.as_tensor(batch["label"]))
    model.train()
    return nn.functional.normalize(torch.cat(feats), dim=1), torch.cat(labels)


def retrieval_top1(model: nn.Module, manifest: Path, seed: int) -> float:
    """Top-1 of the test videos' nearest training video (cosine), 4 random crops each."""
    d, d_lab = _video_embeddings(model, _loader(manifest, "train", False, seed, crops=4))
    q, q_lab = _video_embeddings(model, _loader(manifest, "test", False, seed, crops=4))
    return float((d_lab[(q @ d.T).argmax(1)] == q_lab).float().mean())


def prior_run(manifest: Path, model_name: str, epochs: int, lr: float, seed: int,
              eval_every: int = 0) -> dict:  # fmt: skip
    """Train one prior regressor; R² on the training and test splits after the last epoch
    (and retrieval top-1 before training and every ``eval_every`` epochs, when > 0)."""
    torch.manual_seed(seed)
    dims, weights, scales = prior_settings(None, None)
    weights.pop("activity")
    scales.pop("activity")
    train, test = _loader(manifest, "train", True, seed), _loader(manifest, "test", False, seed)
    model = CNNPriorHead(dims) if model_name == "cnn" else HieraPriorHead(dims, model_name.split("_")[1])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    first = last = float("nan")
    top1 = [(0, retrieval_top1(model, manifest, seed))] if eval_every > 0 else []
    for epoch in range(epochs):
        total, n = 0.0, 0
        for batch in train:
            x, y, valid = _crops(batch, dims)
            loss, _ = prior_reconstruction_loss(model(x), y, valid, weights, scales)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total, n = total + float(loss.detach()), n + 1
        first = total / n if epoch == 0 else first
        last = total / n
        line = f"    epoch {epoch + 1}: loss {last:.2f}"
        if eval_every > 0 and (epoch + 1) % eval_every == 0:
            top1.append((epoch + 1, retrieval_top1(model, manifest, seed)))
            line += f", retrieval top-1 {top1[-1][1]:.3f}"
        print(line, flush=True)
    return {"steps": epochs * len(train), "loss_first": first, "loss_last": last, "top1": top1,
            "train": r_squared(model, train, dims, scales), "test": r_squared(model, test, dims, scales)}  # fmt: skip


PRIOR_FAMILIES = ("hand_kp_left", "hand_kp_right", "body_kp", "hand_angles_left",
                  "hand_angles_right", "body_angles", "fingertip_dist_left",
                  "fingertip_dist_right", "interaction_dist")  # fmt: skip


def _prior_vector(z: Any, families: tuple[str, ...], mode: str) -> np.ndarray:
    """One video's priors (``.npz`` of ``signssl priors``) -> one vector (``mode``:
    ``mean`` over frames, ``all`` frames or the ``centre16`` frames flattened)."""
    parts = []
    for name in families:
        v = np.where(z[name + "__valid"], z[name], 0.0)  # (T, d), masked values -> 0
        if mode == "centre16":
            start = max(0, (len(v) - FRAMES) // 2)
            v = v[start : start + FRAMES]
        f = v.mean(0) if mode == "mean" else v.reshape(-1)
        parts.append(f / (np.linalg.norm(f) + 1e-8))
    return np.concatenate(parts)


def prior_oracle(manifest: Path, root: Path) -> dict[str, dict[str, float]]:
    """Retrieval top-1 (test signers vs training videos) with the true priors as vectors."""
    from signssl.data.priors import INDEX_NAME, precompute_priors

    precompute_priors(manifest, root, progress=False)
    with open(root / INDEX_NAME, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["priors"] and r["split"] in ("train", "test")]
    data = [np.load(root / r["priors"]) for r in rows]
    labels = np.array([r["label"] for r in rows])
    train = np.array([r["split"] == "train" for r in rows])

    def top1(families: tuple[str, ...], mode: str) -> float:
        x = np.stack([_prior_vector(z, families, mode) for z in data])  # (V, D)
        x = x - x[train].mean(0)  # centred on the dictionary
        x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-8
        nearest = (x[~train] @ x[train].T).argmax(1)
        return float((labels[train][nearest] == labels[~train]).mean())

    out = {}
    for mode in ("mean", "all", "centre16"):
        out[mode] = {"all priors": top1(PRIOR_FAMILIES, mode)}
        out[mode].update({n: top1((n,), mode) for n in PRIOR_FAMILIES})
    return out


def _default_manifest(root: Path) -> Path:
    from signssl.synth import generate_dataset

    return generate_dataset(root, classes=10, signers=8, reps=3, frames=32, video=True, size=SIZE,
                            seed=0, minimal_pair_rate=0.0, progress=False)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="synthetic video manifest (default: generate one)")
    ap.add_argument("--parts", default="square,priors", help="square, priors, oracle (comma-separated)")
    ap.add_argument("--square-steps", type=int, default=300)
    ap.add_argument("--square-readouts", default="pooled,grid", help="pooled, grid or both")
    ap.add_argument("--pos-std", type=float, default=0.0,
                    help="square part: re-draw the position embeddings with this std (0: default)")
    ap.add_argument("--epochs", type=int, default=30, help="prior regression epochs")
    ap.add_argument("--models", default="cnn,hiera_time,hiera_grid")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--retrieval", action="store_true",
                    help="also read each model as a sign encoder: retrieval top-1 on the test signers")
    ap.add_argument("--eval-every", type=int, default=10, help="epochs between retrieval checks")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    parts = set(args.parts.split(","))
    if "square" in parts:
        print(f"bright square, tiny Hiera, {args.square_steps} steps of 16 clips, lr 3e-4 "
              "(held-out MSE; the mean predicts ~0.33)")  # fmt: skip
        for readout in args.square_readouts.split(","):
            t0 = time.perf_counter()
            curve = square_run(readout, args.square_steps, 3e-4, args.seed, args.pos_std)
            points = ", ".join(f"{s}: {m:.3f}" for s, m in curve)
            print(f"  {readout:6s} {points}  ({time.perf_counter() - t0:.0f} s)")
    if "oracle" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = args.data or _default_manifest(Path(tmp) / "data")
            print(f"prior oracle on {manifest}: retrieval top-1 of the test signers, true priors "
                  "as vectors")  # fmt: skip
            for mode, scores in prior_oracle(manifest, Path(tmp) / "priors").items():
                each = " ".join(f"{k}={v:.3f}" for k, v in scores.items() if k != "all priors")
                print(f"  {mode:8s} all priors {scores['all priors']:.3f}  ({each})")
    if "priors" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = args.data or _default_manifest(Path(tmp))
            print(f"sign priors on {manifest}, {args.epochs} epochs, batch 8, lr {args.lr}")
            for name in args.models.split(","):
                t0 = time.perf_counter()
                r = prior_run(manifest, name, args.epochs, args.lr, args.seed,
                              args.eval_every if args.retrieval else 0)  # fmt: skip
                print(f"  {name}: {r['steps']} steps, loss {r['loss_first']:.2f} -> "
                      f"{r['loss_last']:.2f} ({time.perf_counter() - t0:.0f} s)")  # fmt: skip
                if r["top1"]:
                    print("    retrieval top-1 by epoch: "
                          + ", ".join(f"{e}: {v:.3f}" for e, v in r["top1"]))  # fmt: skip
                for split in ("train", "test"):
                    vals = " ".join(f"{k}={v:.2f}" for k, v in r[split].items())
                    print(f"    R2 {split:5s} {vals}")


if __name__ == "__main__":
    main()
