"""Splits, label fractions, repeated seeds, feature extraction and files."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from eval_toys import TinyEncoder

from signssl.errors import ConfigError, DataError
from signssl.eval.features import Features, extract_features
from signssl.eval.metrics import mean_confidence_interval
from signssl.eval.runner import evaluate_features
from signssl.eval.splits import stratified_fraction, stratified_split


def _labels() -> list[str]:
    return ["a"] * 10 + ["b"] * 7 + ["c"] * 1 + ["d"] * 3


def test_stratified_fraction_counts_and_determinism() -> None:
    labels = _labels()
    idx = stratified_fraction(labels, 0.3, seed=0)
    counts = Counter(labels[i] for i in idx)
    assert counts == {"a": 3, "b": 2, "c": 1, "d": 1}  # round(0.3 n), at least 1
    assert np.array_equal(idx, stratified_fraction(labels, 0.3, seed=0))
    assert not np.array_equal(idx, stratified_fraction(labels, 0.3, seed=1))
    assert len(stratified_fraction(labels, 1.0)) == len(labels)
    # adding a class does not change the draw of the other classes
    more = labels + ["e"] * 4
    assert np.array_equal(stratified_fraction(more, 0.3, 0)[: len(idx)], idx)
    with pytest.raises(ConfigError):
        stratified_fraction(labels, 0.0)


def test_stratified_split_is_a_partition_with_both_sides_per_class() -> None:
    labels = np.array(_labels())
    tr, te = stratified_split(labels, 0.25, seed=3)
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(len(labels)))
    assert not set(tr) & set(te)
    assert Counter(labels[te]) == {"a": 2, "b": 2, "d": 1}  # round(.25 n), >= 1; 'c' alone
    assert "c" in set(labels[tr])
    for c in ("a", "b", "d"):
        assert c in set(labels[tr])
    assert not np.array_equal(te, stratified_split(labels, 0.25, seed=4)[1])


def _blob_features(seed: int = 0, n_per: int = 8, classes: int = 4) -> Features:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, 6)) * 2
    x = np.concatenate([c + rng.normal(0, 1.0, size=(n_per, 6)) for c in centres])
    labels = [f"g{c}" for c in range(classes) for _ in range(n_per)]
    n = len(labels)
    return Features(x, labels, [f"p{i}" for i in range(n)], [""] * n)


def test_repeated_seeds_summarise_each_run() -> None:
    feats = _blob_features()
    runs = evaluate_features("knn", feats, None, seeds=(0, 1, 2), holdout=0.25, k=5)
    assert len(runs.runs) == 3 and runs.seeds == [0, 1, 2]
    vals = [r["top1_per_instance"] for r in runs.runs]
    mean, half = mean_confidence_interval(vals)
    assert runs.summary["top1_per_instance"]["mean"] == pytest.approx(mean)
    assert runs.summary["top1_per_instance"]["ci95"] == pytest.approx(half, nan_ok=True)
    assert len({r["n_test"] for r in runs.runs}) == 1 and runs.runs[0]["n_test"] == 8
    js = runs.metrics_json()
    assert js["top1_per_instance"] == pytest.approx(mean)
    assert "seed" not in js and js["config"]["split"].startswith("seeded stratified holdout")


def test_split_modes() -> None:
    feats = _blob_features()
    loo = evaluate_features("retrieval", feats)
    assert loo.runs[0]["leave_one_out"] == 1 and loo.runs[0]["n_queries"] == 32
    given = evaluate_features("retrieval", feats.subset(np.arange(0, 32, 2)),
                              feats.subset(np.arange(1, 32, 2)))
    assert given.runs[0]["n_dictionary"] == 16 and given.config["split"] == "given test set"
    lin = evaluate_features("linear", feats)  # trains: holds out 25 % by default
    assert lin.runs[0]["n_test"] == 8 and lin.runs[0]["n_train"] == 24
    frac = evaluate_features("retrieval", feats, seeds=(0,), label_fraction=0.5)
    assert frac.runs[0]["n_dictionary"] == 12  # half of the 6 training samples per class
    with pytest.raises(ConfigError, match="test set"):
        evaluate_features("linear", feats, holdout=0)
    with pytest.raises(ConfigError):
        evaluate_features("svm", feats)


def test_features_round_trip_without_pickles(tmp_path) -> None:
    f = Features(np.arange(6, dtype=np.float32).reshape(3, 2), ["a", "", "b"],
                 ["x/1.pose", "x/2.pose", "x/3.pose"], ["s1", "", "s2"], {"baseline": "raw"})
    p = f.save(tmp_path / "feats.npz")
    with np.load(p, allow_pickle=False) as z:
        assert z["features"].dtype == np.float32 and z["labels"].tolist() == ["a", "", "b"]
    back = Features.load(p)
    np.testing.assert_array_equal(back.features, f.features)
    assert back.paths.tolist() == f.paths.tolist() and back.info == {"baseline": "raw"}
    assert back.labeled().labels.tolist() == ["a", "b"]
    with pytest.raises(DataError):
        Features.load(tmp_path / "missing.npz")
    with pytest.raises(DataError):
        Features(np.zeros((3, 2)), ["a"], [], [])


def test_extract_features_over_a_dataset_keeps_order_and_names(make_dataset) -> None:
    torch.manual_seed(0)
    enc = TinyEncoder()
    ds = make_dataset(["g_1", "g_0", "g_2", "g_1", "g_0"])
    feats = extract_features(enc, ds, batch_size=2, progress=False)
    assert feats.labels.tolist() == ["g_1", "g_0", "g_2", "g_1", "g_0"]
    assert feats.paths.tolist() == [f"clip_{i}" for i in range(5)]
    assert feats.signers.tolist() == ["s0", "s1", "s0", "s1", "s0"]
    for i in range(5):  # one sample at a time, no padding: same embedding
        seq = ds[i]["pose"]
        x = torch.from_numpy(np.asarray(seq.xyz))[None]
        np.testing.assert_allclose(feats.features[i], enc.embed(x)[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError):
        extract_features(torch.nn.Linear(2, 2), ds)  # type: ignore[arg-type]
