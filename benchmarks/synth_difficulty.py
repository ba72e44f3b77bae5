"""How hard is the synthetic data?  1-nearest-neighbour accuracy on raw keypoints.

Feature of a clip: the MASA-49 joints (nose, shoulders, elbows, wrists + 2 x 21 hand
points), 2D image coordinates, normalised by the clip's shoulders (centre = shoulder
midpoint, unit = shoulder width), averaged over the frames in which each joint is
present (0 when never present): a 98-value vector.  Classifier: 1-NN, cosine and
Euclidean.  Reported: top-1 per-instance accuracy on the test split.

* synthetic: ``signssl.synth`` clips (default 50 classes x 12 signers x 4 repetitions,
  64 frames), signer-independent split: 3 of 12 signers in test, averaged over
  several random choices of those signers; also with one repetition per signer, which
  leaves 9 training clips per class, about as many as WLASL-50 has;
* real: WLASL-50 MP_Data keypoints (``../shared/data/wlasl50-holistic170``; 170 values
  per frame).  That set records no signer ids, so its split is a seeded *stratified*
  random split (25 % of each class in test) - signers may appear in train and test,
  which makes it easier than a signer-independent split would be.

Usage::

    .venv/bin/python benchmarks/synth_difficulty.py [--noise 1.0] [--splits 5]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from signssl.pose.layouts import layout_from_dict
from signssl.pose.normalize import normalize_shoulders
from signssl.pose.sequence import PoseSequence

REAL_ROOT = Path(
    os.environ.get("SIGNSSL_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
REAL_LAYOUT = layout_from_dict(
    {
        "name": "wlasl50-holistic170",
        "parts": [
            {
                "name": "body",
                "joints": [
                    "nose",
                    "left_shoulder",
                    "right_shoulder",
                    "left_elbow",
                    "right_elbow",
                    "left_wrist",
                    "right_wrist",
                    "left_hip",
                    "right_hip",
                    "left_knee",
                    "right_knee",
                ],
                "values": ["x", "y", "z", "visibility"],
            },
            {"name": "left_hand", "joints": "hand21", "values": ["x", "y", "z"]},
            {"name": "right_hand", "joints": "hand21", "values": ["x", "y", "z"]},
        ],
    }
)


def clip_feature(seq: PoseSequence) -> np.ndarray:
    """Time-averaged, shoulder-normalised 2D MASA-49 keypoints ``(98,)``."""
    s = normalize_shoulders(seq.to_layout("masa49").with_dims(2))
    present = (s.conf > 0).astype(np.float64)  # (T, 49)
    total = present.sum(0)  # (49,)
    mean = (s.xyz * present[..., None]).sum(0) / np.maximum(total, 1)[:, None]  # (49, 2)
    return mean.reshape(-1).astype(np.float64)


def one_nn_accuracy(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    metric: str = "cosine",
) -> float:
    """Top-1 accuracy of the 1-nearest-neighbour rule (``cosine`` or ``euclidean``)."""
    if metric == "cosine":
        a = x_train / np.maximum(np.linalg.norm(x_train, axis=1, keepdims=True), 1e-12)
        b = x_test / np.maximum(np.linalg.norm(x_test, axis=1, keepdims=True), 1e-12)
        nearest = np.argmax(b @ a.T, axis=1)
    else:
        d2 = (x_test**2).sum(1)[:, None] - 2 * x_test @ x_train.T + (x_train**2).sum(1)[None]
        nearest = np.argmin(d2, axis=1)
    return float(np.mean(y_train[nearest] == y_test))


def synthetic_set(
    classes: int, signers: int, reps: int, frames: int, seed: int, noise: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels, signer ids and repetition numbers of an in-memory synthetic set."""
    from signssl.synth import SynthConfig, Vocabulary, derive_seed, sample_signers, synthesize

    cfg = SynthConfig().scaled(noise)
    vocab = Vocabulary.sample(classes, seed)
    people = sample_signers(signers, seed, variation=cfg.signer_variation)
    xs, ys, ss, rs = [], [], [], []
    for c, spec in enumerate(vocab.signs):
        for s, person in enumerate(people):
            for r in range(reps):
                sample = synthesize(spec, person, derive_seed(seed, 1, c, s, r), frames, cfg)
                xs.append(clip_feature(sample.pose))
                ys.append(c)
                ss.append(s)
                rs.append(r)
    return np.stack(xs), np.array(ys), np.array(ss), np.array(rs)


def real_set(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the WLASL-50 MP_Data set."""
    from signssl.io.mp_data import read_mp_data

    glosses = sorted(d.name for d in root.iterdir() if d.is_dir())
    xs, ys = [], []
    for c, g in enumerate(glosses):
        for seq_dir in sorted((root / g).iterdir(), key=lambda p: int(p.name)):
            xs.append(clip_feature(read_mp_data(seq_dir, layout=REAL_LAYOUT)))
            ys.append(c)
    return np.stack(xs), np.array(ys)


def signer_independent_accuracy(
    x: np.ndarray, y: np.ndarray, signer: np.ndarray, splits: int, test_fraction: float, metric: str
) -> list[float]:
    ids = np.unique(signer)
    n_test = max(1, int(round(test_fraction * len(ids))))
    out = []
    for k in range(splits):
        test_ids = np.random.default_rng(k).permutation(ids)[:n_test]
        te = np.isin(signer, test_ids)
        out.append(one_nn_accuracy(x[~te], y[~te], x[te], y[te], metric))
    return out


def stratified_accuracy(
    x: np.ndarray, y: np.ndarray, splits: int, test_fraction: float, metric: str
) -> list[float]:
    out = []
    for k in range(splits):
        rng = np.random.default_rng(k)
        te = np.zeros(len(y), bool)
        for c in np.unique(y):
            idx = rng.permutation(np.flatnonzero(y == c))
            te[idx[: max(1, int(round(test_fraction * len(idx))))]] = True
        out.append(one_nn_accuracy(x[~te], y[~te], x[te], y[te], metric))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--classes", type=int, default=50)
    ap.add_argument("--signers", type=int, default=12)
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise", type=float, default=1.0, help="SynthConfig.scaled factor")
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--real", type=Path, default=REAL_ROOT / "wlasl50-holistic170" / "MP_Data")
    args = ap.parse_args()

    t0 = time.perf_counter()
    x, y, s, r = synthetic_set(
        args.classes, args.signers, args.reps, args.frames, args.seed, args.noise
    )
    dt = time.perf_counter() - t0
    print(
        f"synthetic: {len(y)} clips ({args.classes} classes x {args.signers} signers x "
        f"{args.reps} reps, noise x{args.noise}) generated in {dt:.1f} s"
    )
    for metric in ("cosine", "euclidean"):
        acc = signer_independent_accuracy(x, y, s, args.splits, 0.25, metric)
        print(
            f"  1-NN {metric:9s} top-1, signer-independent (25% of signers in test, "
            f"{args.splits} splits): {100 * np.mean(acc):.1f} % +- {100 * np.std(acc):.1f}"
        )
    if (
        args.reps > 1
    ):  # one repetition per signer: about as many training clips per class as WLASL-50
        one = r == 0
        for metric in ("cosine", "euclidean"):
            acc = signer_independent_accuracy(x[one], y[one], s[one], args.splits, 0.25, metric)
            print(
                f"  1-NN {metric:9s} top-1, same split, 1 repetition per signer "
                f"({int(one.sum())} clips): {100 * np.mean(acc):.1f} % +- {100 * np.std(acc):.1f}"
            )
    if args.real.is_dir():
        xr, yr = real_set(args.real)
        print(
            f"real WLASL-50 (MP_Data, {len(yr)} clips, {len(np.unique(yr))} classes, no signer ids)"
        )
        for metric in ("cosine", "euclidean"):
            acc = stratified_accuracy(xr, yr, args.splits, 0.25, metric)
            print(
                f"  1-NN {metric:9s} top-1, stratified random split (25% per class in test, "
                f"{args.splits} splits): {100 * np.mean(acc):.1f} % +- {100 * np.std(acc):.1f}"
            )
    else:
        print(f"real data not found at {args.real}: skipped")


if __name__ == "__main__":
    main()
