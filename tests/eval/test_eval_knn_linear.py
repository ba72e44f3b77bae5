"""k-NN and linear probe against naive implementations and invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest

from signssl.errors import ConfigError
from signssl.eval.features import Features
from signssl.eval.knn import knn_eval, neighbor_votes
from signssl.eval.linear_probe import linear_probe, standardize


def _feats(x: np.ndarray, labels, prefix: str = "p") -> Features:
    n = len(labels)
    return Features(x, labels, [f"{prefix}{i}" for i in range(n)], [f"s{i % 3}" for i in range(n)])


def _blobs(rng: np.random.Generator, n_per: int, classes: int, d: int, spread: float = 0.3):
    centres = rng.normal(size=(classes, d)) * 2
    x = np.concatenate([c + rng.normal(0, spread, size=(n_per, d)) for c in centres])
    labels = [f"c{i}" for i in range(classes) for _ in range(n_per)]
    return x.astype(np.float32), labels


def test_neighbor_votes_hand_worked() -> None:
    sims = np.array([[0.9, 0.8, 0.1]])
    ids = np.array([[0, 1, 1]])
    np.testing.assert_allclose(neighbor_votes(sims, ids, 2, "uniform"), [[1, 2]])
    np.testing.assert_allclose(neighbor_votes(sims, ids, 2, "similarity"), [[0.9, 0.9]])
    # exp weights, shifted by the row max 0.9 (a common factor): 1 vs e^-1 + e^-8
    np.testing.assert_allclose(
        neighbor_votes(sims, ids, 2, "exp", temperature=0.1),
        [[1.0, math.exp(-1) + math.exp(-8)]], rtol=1e-6,
    )
    # a missing neighbour (-inf) casts no vote
    np.testing.assert_allclose(neighbor_votes(np.array([[0.5, -np.inf]]), ids[:, :2], 2, "uniform"),
                               [[1, 0]])
    with pytest.raises(ConfigError):
        neighbor_votes(sims, ids, 2, "gaussian")  # type: ignore[arg-type]


def _naive_knn(xtr, ytr, xte, k, temperature, skip_self=False):
    classes = sorted(set(ytr))
    ntr = xtr / np.linalg.norm(xtr, axis=1, keepdims=True)
    nte = xte / np.linalg.norm(xte, axis=1, keepdims=True)
    out = np.zeros((len(xte), len(classes)))
    for a in range(len(xte)):
        sims = [(float(nte[a] @ ntr[j]), j) for j in range(len(xtr)) if not (skip_self and j == a)]
        sims.sort(key=lambda t: -t[0])
        top = sims[:k]
        for s, j in top:
            out[a, classes.index(ytr[j])] += math.exp((s - top[0][0]) / temperature)
    return out, classes


def test_knn_matches_naive_vote() -> None:
    rng = np.random.default_rng(0)
    xtr, ytr = _blobs(rng, 8, 5, 6, spread=1.0)
    xte, yte = _blobs(rng, 4, 5, 6, spread=1.0)
    res = knn_eval(_feats(xtr, ytr), _feats(xte, yte, "q"), k=7, temperature=0.1)
    ref, classes = _naive_knn(xtr, ytr, xte, 7, 0.1)
    assert res.classes == classes
    np.testing.assert_allclose(res.scores, ref, rtol=1e-4, atol=1e-6)
    expected_top1 = np.mean(ref.argmax(1) == np.array([classes.index(y) for y in yte]))
    assert res.metrics["top1_per_instance"] == pytest.approx(expected_top1)
    assert res.metrics["k"] == 7 and res.metrics["leave_one_out"] == 0


def test_knn_leave_one_out_never_votes_for_itself() -> None:
    rng = np.random.default_rng(1)
    x, y = _blobs(rng, 6, 3, 4)
    x = np.concatenate([x, x[:1] * 1.0001]).astype(np.float32)  # an exact twin of sample 0...
    y = y + ["twin"]  # ...with its own label: found only through sample 0, not itself
    res = knn_eval(_feats(x, y), None, k=5, temperature=0.1)
    ref, _ = _naive_knn(x, y, x, 5, 0.1, skip_self=True)
    np.testing.assert_allclose(res.scores, ref, rtol=1e-4, atol=1e-6)
    twin = res.classes.index("twin")
    assert res.scores[-1, twin] == 0.0  # its own entry was excluded
    assert res.ranks[-1] > 1


@pytest.mark.parametrize("backend", ["sklearn", "torch"])
def test_linear_probe_separates_blobs(backend: str) -> None:
    rng = np.random.default_rng(2)
    xtr, ytr = _blobs(rng, 20, 4, 8)
    xte, yte = _blobs(np.random.default_rng(2), 20, 4, 8)  # same centres, new noise below
    xte = xte + np.random.default_rng(9).normal(0, 0.3, size=xte.shape).astype(np.float32)
    res = linear_probe(_feats(xtr, ytr), _feats(xte, yte, "q"), backend=backend)  # type: ignore[arg-type]
    assert res.metrics["top1_per_instance"] >= 0.95
    assert res.scores.shape == (80, 4)


def test_linear_probe_backends_agree_and_ignore_feature_scale() -> None:
    rng = np.random.default_rng(3)
    xtr, ytr = _blobs(rng, 15, 3, 5, spread=1.2)
    xte, yte = _blobs(np.random.default_rng(4), 10, 3, 5, spread=1.2)
    tr, te = _feats(xtr, ytr), _feats(xte, yte, "q")
    a = linear_probe(tr, te, backend="sklearn")
    b = linear_probe(tr, te, backend="torch", epochs=300)
    assert np.mean(a.predictions == b.predictions) >= 0.8
    scale = np.array([1000.0, 0.001, 1, 50, 1], np.float32)  # standardisation undoes this
    c = linear_probe(_feats(xtr * scale, ytr), _feats(xte * scale, yte, "q"), backend="sklearn")
    np.testing.assert_array_equal(a.predictions, c.predictions)


def test_standardize_uses_training_statistics() -> None:
    tr = np.array([[0.0, 5.0], [2.0, 5.0]])
    te = np.array([[1.0, 7.0]])
    s_tr, s_te = standardize(tr, te)
    np.testing.assert_allclose(s_tr, [[-1, 0], [1, 0]])
    np.testing.assert_allclose(s_te, [[0, 2]])  # constant column: only centred


def test_linear_probe_unknown_test_class_counts_as_miss() -> None:
    rng = np.random.default_rng(5)
    xtr, ytr = _blobs(rng, 10, 2, 3)
    res = linear_probe(_feats(xtr, ytr), _feats(xtr[:3], ["c0", "c1", "new"], "q"))
    assert res.metrics["n_label_absent"] == 1
    assert np.isinf(res.ranks[2])
    with pytest.raises(ConfigError):
        linear_probe(_feats(xtr[:5], ["a"] * 5), _feats(xtr[:2], ["a", "a"]))
