"""k-nearest-neighbour classification on frozen features.

Cosine similarity through :class:`~signssl.eval.retrieval.Dictionary` (exact,
memory-bounded search).  Without a separate test set it runs *leave-one-out*: every
labelled sample is classified from all the others (never from itself).

``k`` defaults to the size of the smallest training class (one less in leave-one-out,
where the query leaves its class), at most :data:`MAX_DEFAULT_K`: with a few clips per
class, neighbours beyond a class's own clips can only vote for other classes (on
WLASL50 raw keypoints, ~8 clips per class, leave-one-out top-1 falls from 0.33 at k = 1
and 0.31 at k = 3 to 0.25 at k = 20).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from signssl.errors import ConfigError
from signssl.eval.features import Features
from signssl.eval.results import EvalResult, make_result
from signssl.eval.retrieval import DEFAULT_MEMORY_MB, Dictionary

Weighting = Literal["exp", "similarity", "uniform"]
MAX_DEFAULT_K = 20


def choose_k(labels: np.ndarray, leave_one_out: bool, cap: int = MAX_DEFAULT_K) -> tuple[int, str]:
    """Default ``k`` from the labelled reference set and why (module docstring).

    >>> choose_k(np.array(["a"] * 4 + ["b"] * 9), leave_one_out=True)[0]
    3
    """
    labels = np.asarray(labels)
    _, sizes = np.unique(labels[labels != ""], return_counts=True)
    if sizes.size == 0:
        return 1, "no labelled reference"
    smallest = int(sizes.min())
    k = max(1, min(cap, smallest - int(leave_one_out)))
    loo = ", minus the query in leave-one-out" if leave_one_out else ""
    return k, f"k = {k}: smallest training class has {smallest} clip(s){loo}; at most {cap}"


def neighbor_votes(
    sims: np.ndarray, label_ids: np.ndarray, num_classes: int, weighting: Weighting = "exp",
    temperature: float = 0.07,
) -> np.ndarray:
    """Class scores ``(Q, L)`` from each query's k neighbours.

    Args:
        sims: ``(Q, k)`` cosine similarities of the neighbours (``-inf`` = no neighbour).
        label_ids: ``(Q, k)`` class index of each neighbour.
        weighting: ``exp`` -> ``exp(s / temperature)`` (InstDisc/DINO k-NN), ``similarity``
            -> ``max(s, 0)``, ``uniform`` -> 1 (majority vote).
    """
    ok = np.isfinite(sims)
    if weighting == "exp":
        # shift by the row max for stability: a common factor leaves the ranking unchanged
        top = np.where(ok, sims, -np.inf).max(axis=1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        w = np.exp((np.where(ok, sims, top) - top) / temperature)
    elif weighting == "similarity":
        w = np.clip(np.where(ok, sims, 0.0), 0.0, None)
    elif weighting == "uniform":
        w = np.ones_like(sims)
    else:
        raise ConfigError(f"unknown weighting {weighting!r}; known: exp, similarity, uniform")
    w = np.where(ok, w, 0.0)
    votes = np.zeros((sims.shape[0], num_classes), dtype=np.float64)
    rows = np.repeat(np.arange(sims.shape[0]), sims.shape[1])  # (Q*k,)
    np.add.at(votes, (rows, np.where(ok, label_ids, 0).ravel()), w.ravel())
    return votes.astype(np.float32)


def knn_eval(
    train: Features,
    test: Features | None = None,
    k: int | None = None,
    weighting: Weighting = "exp",
    temperature: float = 0.07,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> EvalResult:
    """Cosine k-NN classifier with a distance-weighted vote.

    Args:
        train: labelled reference features.
        test: features to classify; ``None`` = leave-one-out over ``train``.
        k: neighbours per query; ``None`` = :func:`choose_k`.
        weighting / temperature: see :func:`neighbor_votes`.
    Returns:
        :class:`EvalResult` (``protocol="knn"``; classes = the training labels).
    """
    train = train.require_labeled("k-NN reference set")
    loo = test is None
    test = train if loo else test.require_labeled("k-NN test set")  # type: ignore[arg-type]
    if k is None:
        k, _ = choose_k(train.labels, loo)
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    d = Dictionary(train.features, train.labels)
    exclude = np.arange(len(train)) if loo else None
    res = d.search(test.features, k=k, aggregate="none", exclude=exclude, memory_mb=memory_mb)
    ids = d.label_ids.numpy()[np.maximum(res.indices, 0)]  # (Q, k)
    votes = neighbor_votes(res.scores, ids, len(d.classes), weighting, temperature)
    out = make_result(
        "knn", votes, d.classes, test.labels, test.paths, test.signers,
        extra={"k": int(k), "n_reference": len(train), "leave_one_out": int(loo)},
    )
    out.neighbors, out.neighbor_scores = res.indices, res.scores
    out.reference_paths, out.reference_labels = train.paths, train.labels
    return out
