"""Recognition and retrieval metrics (docs/methods.md#metrics).

Every metric here is computed from the **rank of the true label**: ``r`` is the 1-based
position of the true label when the candidate labels are sorted by decreasing score.
A true label that cannot be ranked at all (absent from the classifier or dictionary) has
``r = inf`` and counts as a miss in every metric.

Ties are broken *pessimistically*: ``r = 1 + #{labels scoring >= the true label's score,
other than the true label}``.  A collapsed model that gives every label the same score
therefore ranks the true label last instead of first.

Names follow docs/methods.md#metrics and never mix the two accuracies:

* **per-instance** top-k accuracy: mean over test samples of ``1[r <= k]``;
* **per-class** top-k accuracy: mean over the classes *present in the test set* of that
  class's per-instance accuracy (``balanced_accuracy_score`` for k = 1);
* retrieval (ASL Citizen protocol), averaged per query: ``DCG = 1 / log2(r + 1)``,
  ``MRR = 1 / r``, ``Recall@k = 1[r <= k]``.

>>> import numpy as np
>>> scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
>>> ranks = true_label_ranks(scores, np.array([1, 2]))
>>> ranks.tolist(), accuracy_from_ranks(ranks, k=1)
([1.0, 3.0], 0.5)
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from signssl.errors import ConfigError
from signssl.utils import json_float

#: cut-offs reported by default
DEFAULT_TOPK: tuple[int, ...] = (1, 5)
DEFAULT_RECALL_AT: tuple[int, ...] = (1, 5, 10)


# ----------------------------------------------------------------------------- ranks

def true_label_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each sample's true label among all labels (pessimistic ties).

    Args:
        scores: ``(N, K)`` score per sample and label (higher = more likely); ``-inf``
            marks a label that cannot be predicted for that sample.
        targets: ``(N,)`` integer index of the true label; ``-1`` (or any index outside
            ``[0, K)``) means the true label is not among the K labels.
    Returns:
        ``(N,)`` float ranks in ``[1, K]``, ``inf`` where the true label is not rankable.
    """
    scores = np.asarray(scores, dtype=np.float64)
    scores = np.where(np.isnan(scores), -np.inf, scores)  # a NaN score never ranks a label
    targets = np.asarray(targets).astype(np.int64)
    if scores.ndim != 2 or targets.shape != (scores.shape[0],):
        raise ConfigError(
            f"scores must be (N, K) and targets (N,), got {scores.shape} and {targets.shape}"
        )
    n, k = scores.shape
    valid = (targets >= 0) & (targets < k)  # (N,)
    ranks = np.full(n, np.inf)
    if not valid.any():
        return ranks
    rows = np.nonzero(valid)[0]
    true = scores[rows, targets[rows]][:, None]  # (n_valid, 1)
    # labels scoring at least as high as the true one, the true one itself excluded
    ahead = (scores[rows] >= true).sum(axis=1) - 1  # (n_valid,)
    finite = np.isfinite(true[:, 0])
    ranks[rows[finite]] = 1.0 + ahead[finite]
    return ranks


def _check_k(k: int) -> int:
    if int(k) < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    return int(k)


# ----------------------------------------------------------------------------- accuracy

def accuracy_from_ranks(ranks: np.ndarray, k: int = 1) -> float:
    """Per-instance top-k accuracy: mean of ``1[r <= k]`` (NaN for no samples)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(ranks <= _check_k(k))) if ranks.size else float("nan")


def per_class_accuracies(
    ranks: np.ndarray, targets: Sequence[Hashable] | np.ndarray, k: int = 1
) -> dict[Hashable, float]:
    """Per-instance top-k accuracy within each class present in ``targets``.

    Returns ``{class: accuracy}`` in sorted class order.
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    targets = np.asarray(targets)
    if ranks.shape != targets.shape:
        raise ConfigError(f"ranks {ranks.shape} and targets {targets.shape} differ in shape")
    hit = ranks <= _check_k(k)  # (N,)
    classes = np.unique(targets)
    return {_py(c): float(hit[targets == c].mean()) for c in classes}


def per_class_accuracy_from_ranks(
    ranks: np.ndarray, targets: Sequence[Hashable] | np.ndarray, k: int = 1
) -> float:
    """Per-class top-k accuracy: mean over present classes of their per-instance accuracy."""
    accs = per_class_accuracies(ranks, targets, k)
    return float(np.mean(list(accs.values()))) if accs else float("nan")


def topk_accuracy_per_instance(scores: np.ndarray, targets: np.ndarray, k: int = 1) -> float:
    """Top-k per-instance accuracy from ``(N, K)`` scores and ``(N,)`` label indices."""
    return accuracy_from_ranks(true_label_ranks(scores, targets), k)


def topk_accuracy_per_class(scores: np.ndarray, targets: np.ndarray, k: int = 1) -> float:
    """Top-k per-class accuracy (mean over the classes present in ``targets``)."""
    return per_class_accuracy_from_ranks(true_label_ranks(scores, targets), targets, k)


def classification_metrics(
    ranks: np.ndarray, targets: Sequence[Hashable] | np.ndarray, ks: Sequence[int] = DEFAULT_TOPK
) -> dict[str, float]:
    """``top{k}_per_instance`` and ``top{k}_per_class`` for each k, plus ``n_test``."""
    out: dict[str, float] = {}
    for k in ks:
        out[f"top{k}_per_instance"] = accuracy_from_ranks(ranks, k)
        out[f"top{k}_per_class"] = per_class_accuracy_from_ranks(ranks, targets, k)
    out["n_test"] = int(np.asarray(ranks).size)
    return out


# ----------------------------------------------------------------------------- retrieval

def dcg_from_ranks(ranks: np.ndarray) -> float:
    """Mean over queries of ``1 / log2(r + 1)`` (one relevant label per query)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if not ranks.size:
        return float("nan")
    with np.errstate(divide="ignore"):
        return float(np.mean(1.0 / np.log2(ranks + 1.0)))


def mrr_from_ranks(ranks: np.ndarray) -> float:
    """Mean reciprocal rank: mean over queries of ``1 / r``."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(1.0 / ranks)) if ranks.size else float("nan")


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Share of queries whose true label is among the first k retrieved labels."""
    return accuracy_from_ranks(ranks, k)


def retrieval_metrics(
    ranks: np.ndarray, recall_at: Sequence[int] = DEFAULT_RECALL_AT
) -> dict[str, float]:
    """``dcg``, ``mrr`` and ``recall@k`` for each k, plus ``n_queries``."""
    out = {"dcg": dcg_from_ranks(ranks), "mrr": mrr_from_ranks(ranks)}
    for k in recall_at:
        out[f"recall@{k}"] = recall_at_k(ranks, k)
    out["n_queries"] = int(np.asarray(ranks).size)
    return out


# ----------------------------------------------------------------------------- breakdowns

def per_group_breakdown(
    ranks: np.ndarray,
    targets: Sequence[Hashable] | np.ndarray,
    groups: Sequence[Hashable | None] | np.ndarray,
    ks: Sequence[int] = DEFAULT_TOPK,
    recall_at: Sequence[int] | None = DEFAULT_RECALL_AT,
) -> dict[str, dict[str, float]]:
    """Metrics per group (e.g. per signer): ``{group: {metric: value}}``.

    Classification metrics for ``ks``; retrieval metrics too unless ``recall_at`` is None.

    Samples whose group is ``None`` or empty are left out; an empty dict is returned when
    no sample has a group (signers unknown).
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    targets = np.asarray(targets)
    keys = np.array(["" if g is None else str(g) for g in groups], dtype=str)
    if keys.shape != ranks.shape:
        raise ConfigError(f"groups ({keys.shape}) and ranks ({ranks.shape}) differ in length")
    out: dict[str, dict[str, float]] = {}
    for g in sorted(set(keys.tolist()) - {""}):
        sel = keys == g
        m = classification_metrics(ranks[sel], targets[sel], ks)
        if recall_at is not None:
            m.update(retrieval_metrics(ranks[sel], recall_at))
        out[g] = m
    return out


def confusion_matrix(targets: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """``(K, K)`` int64 counts: row = true class, column = predicted class.

    Samples with a target or prediction outside ``[0, K)`` are not counted.
    """
    targets = np.asarray(targets).astype(np.int64)
    preds = np.asarray(preds).astype(np.int64)
    ok = (targets >= 0) & (targets < num_classes) & (preds >= 0) & (preds < num_classes)
    flat = targets[ok] * num_classes + preds[ok]  # (n_ok,) index into the flattened matrix
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def intra_class_inertia(
    embeddings: np.ndarray, labels: Sequence[Hashable] | np.ndarray
) -> tuple[float, dict[Hashable, float]]:
    """Intra-class inertia (SSL-SLR Tab. 5): squared distance to the class centroid.

    Embeddings are L2-normalised first, so values lie in ``[0, 1]`` per sample (0 when a
    class collapses to one point).  Returns ``(overall, per_class)`` where ``overall`` is
    the mean over samples of ``||z_i - mu_{y_i}||^2`` and ``per_class`` the same mean
    within each class.
    """
    z = np.asarray(embeddings, dtype=np.float64)
    labels = np.asarray(labels)
    if z.ndim != 2 or labels.shape != (z.shape[0],):
        raise ConfigError(f"embeddings must be (N, D) with N labels, got {z.shape}, {labels.shape}")
    norms = np.linalg.norm(z, axis=1, keepdims=True)  # (N, 1)
    z = z / np.maximum(norms, 1e-12)
    sq = np.empty(z.shape[0])
    per_class: dict[Hashable, float] = {}
    for c in np.unique(labels):
        sel = labels == c
        mu = z[sel].mean(axis=0)  # (D,)
        sq[sel] = ((z[sel] - mu) ** 2).sum(axis=1)
        per_class[_py(c)] = float(sq[sel].mean())
    return (float(sq.mean()) if sq.size else float("nan")), per_class


# ----------------------------------------------------------------------------- repeats

def mean_confidence_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the two-sided t-distribution confidence interval.

    ``half = t_{(1+confidence)/2, n-1} * s / sqrt(n)`` with ``s`` the sample standard
    deviation (ddof 1).  With one value the half-width is ``nan`` (unknown spread).
    """
    from scipy import stats

    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), float("nan")
    t = stats.t.ppf((1.0 + confidence) / 2.0, df=v.size - 1)
    return float(v.mean()), float(t * v.std(ddof=1) / np.sqrt(v.size))


def wilson_interval(proportion: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval ``(low, high)`` of a binomial proportion observed on ``n``
    trials (e.g. top-1 accuracy over ``n`` test queries of one run); ``nan`` bounds when
    ``n < 1`` or the proportion is not finite.

    With ``z`` the normal quantile: ``centre = (p + z^2 / 2n) / (1 + z^2 / n)``,
    ``half = z sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n)``.

    >>> [round(b, 4) for b in wilson_interval(0.5, 100)]
    [0.4038, 0.5962]
    """
    from scipy import stats

    if n < 1 or not np.isfinite(proportion):
        return float("nan"), float("nan")
    p = float(np.clip(proportion, 0.0, 1.0))
    z = float(stats.norm.ppf((1.0 + confidence) / 2.0))
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval holds p: at p = 0 or 1 the bound equals p up to rounding
    return float(min(p, max(0.0, centre - half))), float(max(p, min(1.0, centre + half)))


def summarize_runs(runs: Sequence[dict[str, float]], confidence: float = 0.95) -> dict[str, dict]:
    """Per metric over repeated runs: ``{name: {mean, ci95, values}}``.

    Only numeric entries present in every run are summarised; ``None`` (a non-finite
    value read back from JSON) counts as ``nan``.
    """
    if not runs:
        return {}
    names = [k for k, v in runs[0].items() if _is_number(v)]
    out: dict[str, dict] = {}
    for name in names:
        if not all(name in r and _is_number(r[name]) for r in runs):
            continue
        vals = [json_float(r[name]) for r in runs]
        mean, half = mean_confidence_interval(vals, confidence)
        out[name] = {"mean": mean, "ci95": half, "values": vals}
    return out


def _is_number(value: object) -> bool:
    """A metric value: a number, or ``None`` (how JSON holds a non-finite one)."""
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _py(x: object) -> Hashable:
    """numpy scalar -> Python scalar (for JSON keys)."""
    return x.item() if isinstance(x, np.generic) else x  # type: ignore[return-value]
