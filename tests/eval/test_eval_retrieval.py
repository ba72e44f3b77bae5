"""Dictionary search against brute force and naive loops; files; faiss equivalence."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from signssl.errors import ConfigError, DataError, MissingExtraError
from signssl.eval.features import Features
from signssl.eval.retrieval import (
    Dictionary,
    block_sizes,
    exact_topk,
    l2_normalize,
    label_max_scores,
    retrieval_eval,
)

TINY_MB = 0.0005  # ~131 floats per block: forces many query batches and dictionary chunks


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_block_sizes_respect_the_budget() -> None:
    qb, chunk = block_sizes(1000, 100_000, memory_mb=1)
    assert qb * chunk * 4 <= 2**20 and chunk >= 1
    assert block_sizes(3, 5, memory_mb=100) == (3, 5)


@pytest.mark.parametrize("exclude", [False, True])
def test_exact_topk_blockwise_equals_brute_force(exclude: bool) -> None:
    rng = np.random.default_rng(0)
    q, e = torch.from_numpy(_unit(rng, 37, 16)), torch.from_numpy(_unit(rng, 301, 16))
    ex = torch.randint(0, 301, (37,)) if exclude else None
    s, i = exact_topk(q, e, 7, ex, memory_mb=TINY_MB)
    full = q @ e.T
    if ex is not None:
        full[torch.arange(37), ex] = float("-inf")
    ref_s, ref_i = full.topk(7, dim=1)
    torch.testing.assert_close(s, ref_s)
    assert torch.equal(i, ref_i)
    if ex is not None:
        assert not (i == ex[:, None]).any()


def test_label_max_scores_match_naive_loop() -> None:
    rng = np.random.default_rng(1)
    q, e = _unit(rng, 9, 8), _unit(rng, 120, 8)
    lab = rng.integers(0, 6, size=120)
    lab[lab == 5] = 4  # label 5 has no entry -> -inf
    out = label_max_scores(torch.from_numpy(q), torch.from_numpy(e), torch.from_numpy(lab), 6,
                           memory_mb=TINY_MB).numpy()
    for a in range(9):
        for c in range(6):
            sims = [float(q[a] @ e[j]) for j in range(120) if lab[j] == c]
            ref = max(sims) if sims else -math.inf
            assert out[a, c] == pytest.approx(ref, abs=1e-6)


def _naive_nearest(q: np.ndarray, e: np.ndarray, labels: list[str], k: int,
                   skip: int | None = None) -> list[str]:
    best: dict[str, float] = {}
    for j, lab in enumerate(labels):
        if j == skip:
            continue
        s = float(q @ e[j] / np.linalg.norm(e[j]))
        best[lab] = max(best.get(lab, -math.inf), s)
    return [lab for lab, _ in sorted(best.items(), key=lambda kv: -kv[1])][:k]


def _naive_mean(q: np.ndarray, e: np.ndarray, labels: list[str], k: int,
                skip: int | None = None) -> list[str]:
    en = e / np.linalg.norm(e, axis=1, keepdims=True)
    scores = {}
    for lab in sorted(set(labels)):
        rows = [j for j, x in enumerate(labels) if x == lab and j != skip]
        if rows:
            c = en[rows].mean(0)
            scores[lab] = float(q @ c / np.linalg.norm(c))
    return [lab for lab, _ in sorted(scores.items(), key=lambda kv: -kv[1])][:k]


def test_nearest_label_search_matches_naive_and_needs_candidate_doubling() -> None:
    rng = np.random.default_rng(2)
    d = 12
    q = _unit(rng, 6, d)
    # label "crowd" has 300 entries packed around every query: its entries fill the first
    # 4k+32 candidates, so finding k distinct labels needs the doubling path
    crowd = np.concatenate([qq + rng.normal(0, 0.01, size=(50, d)) for qq in q])
    others = rng.normal(size=(60, d))
    e = np.concatenate([crowd, others]).astype(np.float32)
    labels = ["crowd"] * 300 + [f"g{i % 12}" for i in range(60)]
    dic = Dictionary(e, labels)
    res = dic.search(q, k=5, aggregate="nearest", memory_mb=TINY_MB)
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    for a in range(6):
        assert res.labels[a] == _naive_nearest(qn[a], e, labels, 5)
        # the index behind each answer is that label's nearest entry
        for lab, idx, s in zip(res.labels[a], res.indices[a], res.scores[a], strict=True):
            assert labels[idx] == lab
            assert s == pytest.approx(float(qn[a] @ e[idx] / np.linalg.norm(e[idx])), abs=1e-5)


def test_mean_and_none_aggregation_match_naive() -> None:
    rng = np.random.default_rng(3)
    e = rng.normal(size=(80, 10)).astype(np.float32)
    labels = [f"g{i % 7}" for i in range(80)]
    q = _unit(rng, 5, 10)
    dic = Dictionary(e, labels)
    res = dic.search(q, k=3, aggregate="mean")
    for a in range(5):
        assert res.labels[a] == _naive_mean(q[a], e, labels, 3)
    none = dic.search(q, k=4, aggregate="none", memory_mb=TINY_MB)
    full = l2_normalize(q) @ l2_normalize(e).T
    ref_s, ref_i = full.topk(4, dim=1)
    np.testing.assert_array_equal(none.indices, ref_i.numpy())
    np.testing.assert_allclose(none.scores, ref_s.numpy(), rtol=1e-5)
    assert none.labels[0] == [labels[j] for j in ref_i[0].tolist()]


@pytest.mark.parametrize("aggregate", ["nearest", "mean"])
def test_leave_one_out_matches_naive_removal(aggregate: str) -> None:
    rng = np.random.default_rng(4)
    e = rng.normal(size=(40, 6)).astype(np.float32)
    labels = [f"g{i % 5}" for i in range(40)]
    labels[39] = "single"  # a label with one entry disappears when that entry is the query
    dic = Dictionary(e, labels)
    en = e / np.linalg.norm(e, axis=1, keepdims=True)
    res = dic.search(e, k=3, aggregate=aggregate, exclude=np.arange(40))  # type: ignore[arg-type]
    naive = _naive_nearest if aggregate == "nearest" else _naive_mean
    for a in range(40):
        assert res.labels[a] == naive(en[a], e, labels, 3, skip=a)
    scores = dic.label_scores(e, aggregate, exclude=np.arange(40))  # type: ignore[arg-type]
    assert scores[39, dic.classes.index("single")] == -np.inf


def test_save_load_round_trip_keeps_everything(tmp_path) -> None:
    rng = np.random.default_rng(5)
    e = rng.normal(size=(30, 4)).astype(np.float32)
    labels = [f"gloss {i % 4}" for i in range(30)]
    meta = {"path": [f"/data/{i}.pose" for i in range(30)], "signer": ["s1"] * 30}
    dic = Dictionary(e, labels, meta, info={"baseline": "raw-keypoints", "layout": "masa49"})
    path = dic.save(tmp_path / "dict.safetensors")
    back = Dictionary.load(path)
    assert back.classes == dic.classes and back.labels == labels
    assert back.metadata == meta and back.info == dic.info
    torch.testing.assert_close(back.embeddings, dic.embeddings)
    q = rng.normal(size=(3, 4))
    assert back.search(q, k=3).labels == dic.search(q, k=3).labels
    assert [p.name for p in tmp_path.iterdir()] == ["dict.safetensors"]  # no temporary left


def test_load_rejects_missing_and_foreign_files(tmp_path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        Dictionary.load(tmp_path / "nope.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "model.safetensors"))
    with pytest.raises(DataError, match="not a signssl dictionary"):
        Dictionary.load(tmp_path / "model.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a file")
    with pytest.raises(DataError):
        Dictionary.load(tmp_path / "junk.safetensors")


def test_user_errors() -> None:
    with pytest.raises(DataError, match="label"):
        Dictionary(np.ones((2, 3)), ["a", ""])
    with pytest.raises(DataError):
        Dictionary(np.ones((2, 3)), ["a"])
    dic = Dictionary(np.eye(3), ["a", "b", "c"])
    with pytest.raises(ConfigError, match="dimension"):
        dic.search(np.ones((1, 4)))
    with pytest.raises(ConfigError, match="aggregate"):
        dic.search(np.ones((1, 3)), aggregate="max")  # type: ignore[arg-type]


def test_faiss_missing_raises_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss -> ImportError
    dic = Dictionary(np.eye(3), ["a", "b", "c"])
    with pytest.raises(MissingExtraError, match=r"\[faiss\]"):
        dic.search(np.ones((1, 3)), backend="faiss")
    assert dic.search(np.ones((1, 3)), backend="auto").labels  # falls back to torch


@pytest.mark.parametrize("aggregate", ["nearest", "mean", "none"])
def test_faiss_backend_gives_the_exact_results(aggregate: str) -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(6)
    e = rng.normal(size=(500, 16)).astype(np.float32)
    labels = [f"g{i % 40}" for i in range(500)]
    q = rng.normal(size=(20, 16)).astype(np.float32)
    dic = Dictionary(e, labels)
    a = dic.search(q, k=5, aggregate=aggregate, backend="torch")  # type: ignore[arg-type]
    b = dic.search(q, k=5, aggregate=aggregate, backend="faiss")  # type: ignore[arg-type]
    assert a.labels == b.labels
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(a.indices, b.indices)


def _feats(x: np.ndarray, labels: list[str], prefix: str = "p") -> Features:
    n = len(labels)
    return Features(x, labels, [f"{prefix}{i}" for i in range(n)], [""] * n)


def test_retrieval_eval_hand_worked() -> None:
    # dictionary: a at angle 0, b at 90 deg, c at 180 deg (2-D unit vectors)
    d = _feats(np.array([[1, 0], [0, 1], [-1, 0]], np.float32), ["a", "b", "c"], "d")
    # query 1 (true a) near a -> rank 1; query 2 (true c) near b then c -> rank 2
    q = _feats(np.array([[1, 0.1], [-0.5, 1]], np.float32), ["a", "c"], "q")
    res = retrieval_eval(d, q)
    assert res.ranks.tolist() == [1.0, 2.0]
    m = res.metrics
    assert m["dcg"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert m["mrr"] == pytest.approx(0.75)
    assert m["recall@1"] == 0.5 and m["recall@5"] == 1.0
    assert m["top1_per_instance"] == 0.5 and m["top1_per_class"] == 0.5
    assert m["n_queries"] == 2 and m["n_dictionary"] == 3
    assert res.neighbors is not None and res.neighbors[1, 0] == 1  # b is q2's nearest entry


def test_retrieval_eval_leave_one_out_matches_naive() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(30, 5)).astype(np.float32)
    labels = [f"g{i % 6}" for i in range(30)]
    res = retrieval_eval(_feats(x, labels))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    ranks = []
    for a in range(30):
        order = _naive_nearest(xn[a], x, labels, 6, skip=a)
        ranks.append(order.index(labels[a]) + 1)
    assert res.ranks.tolist() == ranks
    assert res.metrics["leave_one_out"] == 1 and res.metrics["n_queries"] == 30
    assert res.metrics["mrr"] == pytest.approx(np.mean([1 / r for r in ranks]))
