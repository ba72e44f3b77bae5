"""Metrics against hand-worked cases, scikit-learn and naive loops."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, top_k_accuracy_score
from sklearn.metrics import confusion_matrix as sk_confusion

from signssl.errors import ConfigError
from signssl.eval import metrics as M


def test_hand_worked_ranks_and_accuracies() -> None:
    # 3 classes; true labels 0, 1, 1, 2
    scores = np.array([
        [0.9, 0.05, 0.05],  # true 0: rank 1
        [0.5, 0.3, 0.2],    # true 1: rank 2
        [0.1, 0.2, 0.7],    # true 1: rank 2
        [0.6, 0.3, 0.1],    # true 2: rank 3
    ])
    targets = np.array([0, 1, 1, 2])
    ranks = M.true_label_ranks(scores, targets)
    assert ranks.tolist() == [1.0, 2.0, 2.0, 3.0]
    # per-instance: top-1 = 1/4, top-2 = 3/4
    assert M.topk_accuracy_per_instance(scores, targets, 1) == pytest.approx(0.25)
    assert M.topk_accuracy_per_instance(scores, targets, 2) == pytest.approx(0.75)
    # per-class: class 0 -> 1, class 1 -> 0, class 2 -> 0 (top-1) => 1/3
    assert M.topk_accuracy_per_class(scores, targets, 1) == pytest.approx(1 / 3)
    # top-2 per class: 1, 1, 0 => 2/3
    assert M.topk_accuracy_per_class(scores, targets, 2) == pytest.approx(2 / 3)
    # DCG = mean(1/log2(2), 1/log2(3), 1/log2(3), 1/log2(4))
    expect_dcg = (1 + 2 / math.log2(3) + 0.5) / 4
    assert M.dcg_from_ranks(ranks) == pytest.approx(expect_dcg)
    assert M.mrr_from_ranks(ranks) == pytest.approx((1 + 0.5 + 0.5 + 1 / 3) / 4)


def test_per_class_differs_from_per_instance_on_imbalanced_test_set() -> None:
    # class 0: 3 samples, all right; class 1: 1 sample, wrong
    scores = np.array([[1, 0], [1, 0], [1, 0], [1, 0]], dtype=float)
    targets = np.array([0, 0, 0, 1])
    assert M.topk_accuracy_per_instance(scores, targets) == pytest.approx(0.75)
    assert M.topk_accuracy_per_class(scores, targets) == pytest.approx(0.5)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_topk_per_instance_matches_sklearn(k: int) -> None:
    rng = np.random.default_rng(k)
    scores = rng.normal(size=(300, 10))
    targets = rng.integers(0, 10, size=300)
    ours = M.topk_accuracy_per_instance(scores, targets, k)
    ref = top_k_accuracy_score(targets, scores, k=k, labels=np.arange(10))
    assert ours == pytest.approx(ref)


def test_per_class_top1_matches_balanced_accuracy_with_classes_absent_from_test() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(200, 12))
    targets = rng.integers(0, 6, size=200)  # classes 6..11 never in the test set
    scores[np.arange(200), targets] += 1.0
    ours = M.topk_accuracy_per_class(scores, targets, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about predicted-only classes
        ref = balanced_accuracy_score(targets, scores.argmax(1))
    assert ours == pytest.approx(ref)


def _naive_rank(row: np.ndarray, true: int) -> int:
    order = sorted(range(len(row)), key=lambda j: -row[j])
    return order.index(true) + 1


def test_retrieval_metrics_match_naive_loops() -> None:
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(50, 20))
    targets = rng.integers(0, 20, size=50)
    ranks = M.true_label_ranks(scores, targets)
    naive = [_naive_rank(scores[i], targets[i]) for i in range(50)]
    assert ranks.tolist() == naive
    dcg = sum(1 / math.log2(r + 1) for r in naive) / 50
    mrr = sum(1 / r for r in naive) / 50
    out = M.retrieval_metrics(ranks, (1, 5, 10))
    assert out["dcg"] == pytest.approx(dcg)
    assert out["mrr"] == pytest.approx(mrr)
    for k in (1, 5, 10):
        assert out[f"recall@{k}"] == pytest.approx(sum(r <= k for r in naive) / 50)
    assert out["n_queries"] == 50


def test_ties_rank_the_true_label_last() -> None:
    scores = np.zeros((4, 5))  # a collapsed model
    targets = np.array([0, 1, 2, 4])
    assert M.true_label_ranks(scores, targets).tolist() == [5.0] * 4
    assert M.topk_accuracy_per_instance(scores, targets, 1) == 0.0
    assert M.topk_accuracy_per_instance(scores, targets, 5) == 1.0
    # a partial tie: true label tied with one other -> rank 2
    assert M.true_label_ranks(np.array([[0.5, 0.5, 0.1]]), np.array([0])).tolist() == [2.0]


def test_absent_label_nan_and_minus_inf_scores_count_as_misses() -> None:
    scores = np.array([[0.2, 0.8], [0.3, -np.inf], [np.nan, 0.1]])
    ranks = M.true_label_ranks(scores, np.array([-1, 1, 0]))
    assert np.isinf(ranks).all()
    assert M.dcg_from_ranks(ranks) == 0.0 and M.mrr_from_ranks(ranks) == 0.0
    assert M.accuracy_from_ranks(ranks, 2) == 0.0


def test_bad_shapes_and_k_raise() -> None:
    with pytest.raises(ConfigError):
        M.true_label_ranks(np.zeros(3), np.zeros(3))
    with pytest.raises(ConfigError):
        M.accuracy_from_ranks(np.ones(3), 0)


def test_per_group_breakdown_equals_metrics_on_each_subset() -> None:
    rng = np.random.default_rng(2)
    ranks = rng.integers(1, 8, size=40).astype(float)
    targets = rng.integers(0, 4, size=40)
    groups = np.array(["a", "b", ""] * 13 + ["a"])
    out = M.per_group_breakdown(ranks, targets, groups)
    assert sorted(out) == ["a", "b"]  # unknown group left out
    for g in ("a", "b"):
        sel = groups == g
        assert out[g]["top1_per_instance"] == pytest.approx(np.mean(ranks[sel] <= 1))
        assert out[g]["top5_per_class"] == pytest.approx(
            np.mean([np.mean(ranks[sel & (targets == c)] <= 5) for c in np.unique(targets[sel])])
        )
        assert out[g]["mrr"] == pytest.approx(np.mean(1 / ranks[sel]))
    assert M.per_group_breakdown(ranks, targets, [None] * 40) == {}


def test_confusion_matrix_matches_sklearn() -> None:
    rng = np.random.default_rng(3)
    t, p = rng.integers(0, 6, 100), rng.integers(0, 6, 100)
    np.testing.assert_array_equal(M.confusion_matrix(t, p, 6), sk_confusion(t, p, labels=range(6)))


def test_intra_class_inertia_hand_worked_and_scale_invariant() -> None:
    z = np.array([[1, 0], [0, 1], [3, 3], [1, 1]], dtype=float)
    labels = ["a", "a", "b", "b"]
    overall, per = M.intra_class_inertia(z, labels)
    # class a: unit vectors e1, e2, centroid (.5, .5): squared distances 0.5 each
    # class b: same direction after normalisation: 0
    assert per == {"a": pytest.approx(0.5), "b": pytest.approx(0.0)}
    assert overall == pytest.approx(0.25)
    scaled, _ = M.intra_class_inertia(z * 7.0, labels)
    assert scaled == pytest.approx(overall)


def test_mean_confidence_interval_uses_student_t() -> None:
    mean, half = M.mean_confidence_interval([1.0, 2.0, 3.0])
    # s = 1, t_{0.975, 2} = 4.302652729911275 (tables)
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(4.302652729911275 / math.sqrt(3))
    m1, h1 = M.mean_confidence_interval([0.7])
    assert m1 == 0.7 and math.isnan(h1)
    summary = M.summarize_runs([{"acc": 0.5, "n": 3}, {"acc": 0.7, "n": 3}])
    assert summary["acc"]["mean"] == pytest.approx(0.6)
    # two runs: t_{0.975, 1} = 12.706204736174698, s = 0.1414...
    assert summary["acc"]["ci95"] == pytest.approx(12.706204736174698 * np.std([0.5, 0.7], ddof=1) / math.sqrt(2))
    assert summary["n"]["ci95"] == pytest.approx(0.0)
