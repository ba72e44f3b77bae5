"""k-nearest-neighbour classification on frozen features.

Cosine similarity through :class:`~signssl.eval.retrieval.Dictionary` (exact,
memory-bounded search).  Without a separate test set it runs *leave-one-out*: every
labelled sample is classified from all the others (never from itself).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from signssl.errors import ConfigError
from signssl.eval.features import Features
from signssl.eval.results import EvalResult, make_result
from signssl.eval.retrieval import DEFAULT_MEMORY_MB, Dictionary

Weighting = Literal["exp", "similarity", "uniform"]


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
    k: int = 20,
    weighting: Weighting = "exp",
    temperature: float = 0.07,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> EvalResult:
    """Cosine k-NN classifier with a distance-weighted vote.

    Args:
        train: labelled reference features.
        test: features to classify; ``None`` = leave-one-out over ``train``.
        k: neighbours per query.
        weighting / temperature: see :func:`neighbor_votes`.
    Returns:
        :class:`EvalResult` (``protocol="knn"``; classes = the training labels).
    """
    train = train.require_labeled("k-NN reference set")
    loo = test is None
    test = train if loo else test.require_labeled("k-NN test set")  # type: ignore[arg-type]
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
