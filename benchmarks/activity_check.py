"""Does a SignRep run's activity head vary over a video, and does it follow the signing?

Activity-weighted pooling (Eq. 11-12) can only differ from the plain mean when the head
scores windows differently.  For the videos of a synthetic manifest (columns ``video``,
``sign_start``, ``sign_end``: the generator's ground truth), this slides the windows that
``signssl evaluate retrieval --pooling weighted`` uses, scores each with the run's head
(``a = max over hands P(active)``) and compares ``a`` with the share of the window's frames
inside ``[sign_start, sign_end)``.  Prints:

* the range of ``a`` and its standard deviation within a video (mean over videos);
* the AUC of ``a`` for telling signing windows (share >= 0.5) from rest windows
  (0.5 = no better than chance, 1 = every signing window above every rest window);
* the Pearson correlation of ``a`` with the share;
* the same AUC for a logistic-regression probe of the window embeddings, fitted on the
  windows of the first half of the videos and scored on the second half: whether the
  encoder's features carry the signing/rest difference at all (when they do and the head
  does not, the head is what failed to learn).

    python benchmarks/activity_check.py --run runs/signrep_cnn_rest/runs/priors-alone__s0 \
        --data runs/signrep_cnn_rest/data/s5/manifest.csv --split test --videos 30
"""

from __future__ import annotations

import argparse

import numpy as np

from signssl.data.manifest import Manifest
from signssl.eval.pooled import make_embedder
from signssl.eval.window_reader import ClipInput, WindowReader
from signssl.eval.windows import DEFAULT_STRIDE
from signssl.store.model import load_described_model


def signing_share(starts: np.ndarray, window: int, sign_start: int, sign_end: int) -> np.ndarray:
    """Share of each window's frames inside ``[sign_start, sign_end)``: ``(N,) -> (N,)``."""
    frames = starts[:, None] + np.arange(window)[None, :]  # (N, W)
    return ((frames >= sign_start) & (frames < sign_end)).mean(axis=1)


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half): ``(N,), (N,) bool -> ()``; nan when
    only one class is present."""
    from sklearn.metrics import roc_auc_score

    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, scores))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="SignRep run (with its activity head)")
    p.add_argument("--data", required=True, help="synthetic video manifest")
    p.add_argument("--split", default="test")
    p.add_argument("--videos", type=int, default=30, help="N rows spread over the split")
    p.add_argument("--stride", type=int, default=DEFAULT_STRIDE)
    args = p.parse_args()

    manifest = Manifest.read(args.data)
    split = manifest.filter(split=args.split)
    rows = split[:: max(1, len(split) // args.videos)][: args.videos]  # spread over the signs
    encoder, description = load_described_model(args.run)
    embedder = make_embedder(encoder, args.run, "weighted", stride=args.stride)
    reader = WindowReader(
        rows,
        ClipInput.of_description(description, encoder),
        embedder.window,
        args.stride,
        64,
        classes=manifest.labels(),
    )
    scores, shares, stds, feats = [], [], [], []
    for i in range(len(reader)):
        row = reader.row(i)
        z, a = embedder.embed_batches(reader.batches(i))  # z: (N, D), a: (N,)
        assert a is not None
        starts = args.stride * np.arange(len(a))  # the reader's windows: 0, stride, ...
        share = signing_share(starts, embedder.window, int(row.extra["sign_start"]),
                              int(row.extra["sign_end"]))  # fmt: skip
        scores.append(a.numpy())
        shares.append(share)
        stds.append(float(a.std(unbiased=False)))
        feats.append(z.numpy())
    a_all, s_all = np.concatenate(scores), np.concatenate(shares)
    print(f"{args.run}: {len(scores)} videos, {a_all.size} windows of {embedder.window} frames")
    print(
        f"activity a: min {a_all.min():.3f}, max {a_all.max():.3f}, "
        f"std within a video {np.mean(stds):.3f} (mean over videos)"
    )
    print(
        f"signing windows (share >= 0.5): {(s_all >= 0.5).sum()}, rest windows: "
        f"{(s_all < 0.5).sum()}"
    )
    print(f"AUC signing vs rest: {auc(a_all, s_all >= 0.5):.3f}")
    r = np.corrcoef(a_all, s_all)[0, 1] if a_all.std() > 0 and s_all.std() > 0 else float("nan")
    print(f"Pearson r(a, share): {r:.3f}")
    print(f"AUC of a linear probe of the window embeddings: {probe_auc(feats, shares):.3f}")


def probe_auc(feats: list[np.ndarray], shares: list[np.ndarray]) -> float:
    """AUC (signing vs rest) of a logistic regression on the window embeddings ``(N_v, D)``,
    fitted on the first half of the videos and scored on the second half."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    half = len(feats) // 2
    x_fit, x_test = np.concatenate(feats[:half]), np.concatenate(feats[half:])
    y_fit, y_test = np.concatenate(shares[:half]) >= 0.5, np.concatenate(shares[half:]) >= 0.5
    if half == 0 or len(set(y_fit.tolist())) < 2:
        return float("nan")
    scaler = StandardScaler().fit(x_fit)
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(x_fit), y_fit)
    return auc(probe.decision_function(scaler.transform(x_test)), y_test)


if __name__ == "__main__":
    main()
