"""What one evaluation run produces: label scores per test sample, and metrics from them.

Every protocol (retrieval, k-NN, linear probe, fine-tuning) ends by building an
:class:`EvalResult` with :func:`make_result`, so the metrics, breakdowns and reports are
computed by one piece of code whatever the protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from signssl.errors import DataError
from signssl.eval import metrics as M


@dataclass
class EvalResult:
    """Scores and metrics of one run.

    Attributes:
        protocol: ``retrieval``, ``knn``, ``linear`` or ``finetune``.
        classes: the L labels the scores' columns stand for.
        scores: ``(N, L)`` float32, higher = more likely; ``-inf`` = impossible.
        targets: ``(N,)`` index of each test sample's label in ``classes`` (-1 = absent).
        ranks: ``(N,)`` 1-based rank of the true label (``inf`` = absent), see metrics.
        labels / paths / signers: ``(N,)`` str metadata of the test samples.
        metrics: flat ``{name: number}`` (see :func:`make_result`).
        per_signer: ``{signer: {name: number}}`` when signers are known.
        neighbors: ``(N, k)`` indices of each query's nearest reference samples (for
            retrieval examples), ``-1`` = none; ``None`` when not computed.
        neighbor_scores: ``(N, k)`` their cosine similarities.
        reference_paths / reference_labels: ``(M,)`` str, what ``neighbors`` index.
    """

    protocol: str
    classes: list[str]
    scores: np.ndarray
    targets: np.ndarray
    ranks: np.ndarray
    labels: np.ndarray
    paths: np.ndarray
    signers: np.ndarray
    metrics: dict[str, float]
    per_signer: dict[str, dict[str, float]] = field(default_factory=dict)
    neighbors: np.ndarray | None = None
    neighbor_scores: np.ndarray | None = None
    reference_paths: np.ndarray | None = None
    reference_labels: np.ndarray | None = None

    @property
    def predictions(self) -> np.ndarray:
        """``(N,)`` top-1 label index per sample."""
        return self.scores.argmax(axis=1)

    def per_class_accuracy(self, k: int = 1) -> dict[str, float]:
        """Per-instance top-k accuracy within each test class."""
        return {str(c): v for c, v in M.per_class_accuracies(self.ranks, self.labels, k).items()}

    def confusion(self) -> tuple[np.ndarray, list[str]]:
        """``(K, K)`` confusion counts over the classes, rows = true, columns = top-1."""
        return M.confusion_matrix(self.targets, self.predictions, len(self.classes)), self.classes


def make_result(
    protocol: str,
    scores: np.ndarray,
    classes: Sequence[str],
    labels: Sequence[str] | np.ndarray,
    paths: Sequence[str] | np.ndarray | None = None,
    signers: Sequence[str] | np.ndarray | None = None,
    retrieval: bool = False,
    ks: Sequence[int] = M.DEFAULT_TOPK,
    recall_at: Sequence[int] = M.DEFAULT_RECALL_AT,
    extra: dict[str, Any] | None = None,
) -> EvalResult:
    """Ranks, metrics and the per-signer breakdown from ``(N, L)`` label scores.

    Metrics: ``top{k}_per_instance`` / ``top{k}_per_class`` for ``ks``; with ``retrieval``
    also ``dcg``, ``mrr`` and ``recall@{k}`` for ``recall_at``; always ``n_test`` and
    ``n_label_absent`` (test samples whose label has no column: counted as misses).
    """
    scores = np.asarray(scores, dtype=np.float32)
    labels = np.asarray([str(x) for x in labels])
    n = labels.size
    if scores.shape != (n, len(classes)):
        raise DataError(f"scores have shape {scores.shape}, expected ({n}, {len(classes)})")
    if n == 0:
        raise DataError(f"{protocol}: no labelled test sample to evaluate")
    index = {c: i for i, c in enumerate(classes)}
    targets = np.array([index.get(lab, -1) for lab in labels], dtype=np.int64)
    ranks = M.true_label_ranks(scores, targets)
    metrics = M.classification_metrics(ranks, labels, ks)
    if retrieval:
        metrics.update(M.retrieval_metrics(ranks, recall_at))
    metrics["n_label_absent"] = int((targets < 0).sum())
    metrics.update(extra or {})
    paths_a = np.asarray([""] * n if paths is None else [str(p) for p in paths])
    signers_a = np.asarray([""] * n if signers is None else [str(s) for s in signers])
    per_signer = M.per_group_breakdown(
        ranks, labels, signers_a, ks, recall_at if retrieval else None
    )
    return EvalResult(
        protocol, list(classes), scores, targets, ranks, labels, paths_a, signers_a, metrics,
        per_signer,
    )
