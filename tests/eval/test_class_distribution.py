"""Class probability distribution: naive pair loops, grid maximality, I/O.

See docs/methods.md#signrep-class-distribution.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from signssl.errors import ConfigError, DataError
from signssl.eval.class_distribution import (
    ClassDistribution,
    choose_temperatures,
    class_distribution,
    class_similarity,
    default_temperature_grid,
    load_class_distribution,
    save_class_distribution,
)


def naive_similarity(feats: np.ndarray, labels: list[str], classes: list[str]) -> np.ndarray:
    k = len(classes)
    S = np.zeros((k, k))
    for a, ca in enumerate(classes):
        for b, cb in enumerate(classes):
            vals = []
            for i, li in enumerate(labels):
                for j, lj in enumerate(labels):
                    if li != ca or lj != cb or i == j:
                        continue
                    u, v = feats[i], feats[j]
                    vals.append(float(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v)))
            S[a, b] = sum(vals) / len(vals) if vals else 1.0  # singleton class: 1
    return S


def naive_row_max(row: np.ndarray, tau: float) -> float:
    exps = [math.exp((v - max(row)) / tau) for v in row]
    return max(exps) / sum(exps)


def toy_data(seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(5, 6))
    labels = ["d", "a", "c", "b", "e", "a", "b", "c", "d", "a", "b", "e", "c"]
    index = {c: i for i, c in enumerate("abcde")}
    feats = np.stack([centres[index[c]] + 0.8 * rng.normal(size=6) for c in labels])
    return feats, labels


def test_similarity_matches_naive_pair_loop() -> None:
    feats, labels = toy_data()
    S = class_similarity(feats, labels)
    np.testing.assert_allclose(S, naive_similarity(feats, labels, list("abcde")), atol=1e-12)
    np.testing.assert_allclose(S, S.T, atol=1e-12)
    # a given class order permutes S; tensors and integer labels work too
    order = ["c", "a", "e", "b", "d"]
    S2 = class_similarity(torch.tensor(feats), labels, classes=order)
    idx = [list("abcde").index(c) for c in order]
    np.testing.assert_allclose(S2, S[np.ix_(idx, idx)], atol=1e-6)
    ints = [ord(c) - ord("a") for c in labels]
    np.testing.assert_allclose(class_similarity(feats, ints), S, atol=1e-12)


def test_integer_labels_sort_numerically() -> None:
    rng = np.random.default_rng(7)
    labels = list(range(12)) * 2
    feats = rng.normal(size=(24, 5))
    dist = class_distribution(feats, np.array(labels))
    assert dist.classes == [str(i) for i in range(12)]  # not "0", "1", "10", "11", "2" ...
    S = naive_similarity(feats, [str(v) for v in labels], dist.classes)
    np.testing.assert_allclose(class_similarity(feats, labels), S, atol=1e-12)


def test_singleton_class_and_scale_invariance() -> None:
    feats, labels = toy_data(1)
    labels = labels[:-1] + ["z"]  # "z" has one sample: no i != j pair
    S = class_similarity(feats, labels)
    classes = sorted(set(labels))
    np.testing.assert_allclose(S, naive_similarity(feats, labels, classes), atol=1e-12)
    assert S[classes.index("z"), classes.index("z")] == 1.0
    scaled = feats * np.arange(1, len(feats) + 1)[:, None]  # cosine ignores row norms
    np.testing.assert_allclose(class_similarity(scaled, labels), S, atol=1e-12)


def test_temperatures_are_maximal_on_the_grid() -> None:
    feats, labels = toy_data(2)
    S = class_similarity(feats, labels)
    grid = default_temperature_grid()
    tau = choose_temperatures(S, grid)
    assert tau.shape == (5,)
    for c in range(5):
        chosen = naive_row_max(S[c], tau[c])
        assert chosen < 0.5
        below = [m for m in (naive_row_max(S[c], t) for t in grid) if m < 0.5]
        assert chosen == pytest.approx(max(below), abs=1e-12)
        assert tau[c] in grid


def test_temperature_hand_case() -> None:
    # one row (0, 0, -1): max p = 1 / (2 + e^{-1/τ}) < 0.5 for every τ; the smallest
    # grid value is the best.  Row (1, 0, 0) needs 1 / (1 + 2 e^{-1/τ}) < 0.5: τ > 1/ln 2.
    S = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    grid = np.array([2.0, 0.5, 1.0, 1.5, 3.0])  # any order
    tau = choose_temperatures(S, grid)
    assert tau[0] == 0.5
    assert tau[1] == 1.5  # 1/ln 2 ≈ 1.44 < 1.5; 1.0 gives ≈ 0.576
    assert tau[2] == 1.5


def test_no_temperature_below_half_raises() -> None:
    with pytest.raises(ConfigError, match="K=2"):
        choose_temperatures(np.array([[1.0, 0.2], [0.2, 1.0]]))
    with pytest.raises(ConfigError, match="extend the grid"):
        choose_temperatures(np.array([[1.0, 0.0, 0.0]] * 3), grid=[1e-3, 1e-2])
    with pytest.raises(ConfigError, match="grid"):
        choose_temperatures(np.eye(3), grid=[0.0, 1.0])


def test_class_distribution_rows() -> None:
    feats, labels = toy_data(3)
    dist = class_distribution(feats, labels)
    assert dist.classes == list("abcde")
    np.testing.assert_allclose(dist.P.sum(axis=1), 1.0, atol=1e-12)
    assert (dist.P.max(axis=1) < 0.5).all()
    S = naive_similarity(feats, labels, dist.classes)
    for c in range(5):
        e = np.exp(S[c] / dist.tau[c])
        np.testing.assert_allclose(dist.P[c], e / e.sum(), rtol=1e-9)
        assert dist.P[c].argmax() == c  # the class is most similar to itself here


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_save_load_round_trip(tmp_path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    feats, labels = toy_data(4)
    dist = class_distribution(feats, labels)
    path = save_class_distribution(tmp_path / f"sub/p{suffix}", dist)
    loaded = load_class_distribution(path)
    assert isinstance(loaded, ClassDistribution)
    np.testing.assert_array_equal(loaded.P, dist.P)
    np.testing.assert_array_equal(loaded.tau, dist.tau)
    assert loaded.classes == dist.classes
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary left


def test_load_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError, match="does not exist"):
        load_class_distribution(tmp_path / "missing.npz")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"classes": ["a", "b"], "tau": [1.0, 1.0], "P": [[1.0, 1.0]] * 2}))
    with pytest.raises(DataError, match="row-stochastic"):
        load_class_distribution(bad)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read"):
        load_class_distribution(broken)
    with pytest.raises(ConfigError, match=".npz or .json"):
        save_class_distribution(tmp_path / "p.txt", ClassDistribution(np.eye(1), np.ones(1), ["a"]))


def test_bad_inputs_raise() -> None:
    feats, labels = toy_data(5)
    with pytest.raises(DataError, match="no label"):
        class_similarity(feats, labels[:-1] + [""])
    with pytest.raises(DataError, match="not in the class list"):
        class_similarity(feats, labels, classes=list("abcd"))
    with pytest.raises(DataError, match="no sample"):
        class_similarity(feats, labels, classes=list("abcdef"))
    zero = feats.copy()
    zero[2] = 0.0
    with pytest.raises(DataError, match=r"rows \[2\]"):
        class_similarity(zero, labels)
    with pytest.raises(DataError, match="labels for"):
        class_similarity(feats, labels[:-1])
