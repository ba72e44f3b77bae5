"""Evaluation, written once against the common encoder API (``signssl.models.Encoder``).

* :mod:`~signssl.eval.features`: :func:`extract_features` -> :class:`Features` (``.npz``);
* :mod:`~signssl.eval.metrics`: top-k per-instance / per-class accuracy, DCG, MRR,
  Recall@k, per-signer breakdown, confusion matrix, intra-class inertia, mean ± 95 % CI;
* :mod:`~signssl.eval.retrieval`: :class:`Dictionary` (exact, memory-bounded cosine
  search; optional faiss) and the :func:`retrieval_eval` protocol;
* :mod:`~signssl.eval.knn` (:func:`knn_eval`), :mod:`~signssl.eval.linear_probe`
  (:func:`linear_probe`), :mod:`~signssl.eval.finetune` (:func:`finetune_eval`, lazy);
* :mod:`~signssl.eval.splits`: seeded stratified label fractions and hold-out splits;
* :mod:`~signssl.eval.runner`: repeated seeds (:func:`evaluate_features`,
  :func:`evaluate_finetune`);
* :mod:`~signssl.eval.report` / :mod:`~signssl.eval.plots`: ``metrics.json``,
  ``report.md`` and figures.

Training-free baseline encoders live in :mod:`signssl.models.baselines`.
"""

from signssl.eval.features import Features, extract_features
from signssl.eval.knn import knn_eval
from signssl.eval.linear_probe import linear_probe
from signssl.eval.metrics import (
    classification_metrics,
    confusion_matrix,
    dcg_from_ranks,
    intra_class_inertia,
    mean_confidence_interval,
    mrr_from_ranks,
    per_group_breakdown,
    recall_at_k,
    retrieval_metrics,
    topk_accuracy_per_class,
    topk_accuracy_per_instance,
    true_label_ranks,
)
from signssl.eval.results import EvalResult, make_result
from signssl.eval.retrieval import Dictionary, SearchResult, retrieval_eval
from signssl.eval.runner import EvalRuns, evaluate_features, evaluate_finetune
from signssl.eval.splits import stratified_fraction, stratified_split

__all__ = [
    "Dictionary", "EvalResult", "EvalRuns", "Features", "SearchResult",
    "classification_metrics", "confusion_matrix", "dcg_from_ranks", "evaluate_features",
    "evaluate_finetune", "extract_features", "finetune_eval", "intra_class_inertia", "knn_eval",
    "linear_probe", "make_result", "mean_confidence_interval", "mrr_from_ranks",
    "per_group_breakdown", "recall_at_k", "retrieval_eval", "retrieval_metrics",
    "stratified_fraction", "stratified_split", "topk_accuracy_per_class",
    "topk_accuracy_per_instance", "true_label_ranks",
]


def __getattr__(name: str):  # lazy: Lightning is imported only when fine-tuning is used
    if name == "finetune_eval":
        from signssl.eval.finetune import finetune_eval

        return finetune_eval
    raise AttributeError(f"module 'signssl.eval' has no attribute {name!r}")
