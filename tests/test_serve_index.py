"""The server's search, sniffer and previews against independent references."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from signssl.eval.retrieval import Dictionary
from signssl.pose.layouts import get_layout
from signssl.pose.sequence import PoseSequence
from signssl.serve.index import ROUNDS_MAX, SearchIndex
from signssl.serve.preview import LEG_WORDS, key_frames, skeleton_preview
from signssl.serve.sniff import sniff


def _naive_nearest(emb: np.ndarray, labels: list[str], q: np.ndarray, k: int):
    """Loop reference: each label's best cosine, sorted; its best entry (first on ties)."""
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    s = e @ (q / np.linalg.norm(q))
    best: dict[str, tuple[float, int]] = {}
    for i, (lab, v) in enumerate(zip(labels, s, strict=True)):
        if lab not in best or v > best[lab][0]:
            best[lab] = (float(v), i)
    ranked = sorted(best.items(), key=lambda kv: -kv[1][0])[:k]
    return [lab for lab, _ in ranked], [v for _, (v, _) in ranked], [i for _, (_, i) in ranked]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nearest_search_matches_a_loop_and_the_dictionary(seed: int) -> None:
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(300, 16)).astype(np.float32)
    labels = [f"g{j}" for j in rng.integers(0, 40, size=300)]
    d = Dictionary(emb, labels)
    ix = SearchIndex.from_dictionary(d)
    for q in rng.normal(size=(5, 16)).astype(np.float32):
        hits = ix.search(q, k=7)
        ref_l, ref_s, ref_i = _naive_nearest(emb, labels, q, 7)
        assert [h.gloss for h in hits] == ref_l
        np.testing.assert_allclose([h.score for h in hits], ref_s, atol=1e-5)
        assert [h.entry for h in hits] == ref_i
        lib = d.search(q[None], k=7)
        assert lib.labels[0] == ref_l and lib.indices[0].tolist() == ref_i


def test_a_gloss_crowding_the_nearest_entries_still_gives_k_glosses() -> None:
    """200 entries of one gloss next to the query fill the first candidates: the per-gloss
    path answers, as the loop does."""
    rng = np.random.default_rng(5)
    crowd = np.eye(16)[0] + 0.01 * rng.normal(size=(200, 16))
    emb = np.concatenate([crowd, rng.normal(size=(100, 16))]).astype(np.float32)
    labels = ["a"] * 200 + [f"g{i % 20}" for i in range(100)]
    q = np.eye(16, dtype=np.float32)[0]
    hits = SearchIndex.from_dictionary(Dictionary(emb, labels)).search(q, k=5)
    ref_l, ref_s, ref_i = _naive_nearest(emb, labels, q, 5)
    assert [h.gloss for h in hits] == ref_l and [h.entry for h in hits] == ref_i
    np.testing.assert_allclose([h.score for h in hits], ref_s, atol=1e-5)


def test_mean_search_ranks_class_centroids() -> None:
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(50, 8)).astype(np.float32)
    labels = [f"g{i % 5}" for i in range(50)]
    d = Dictionary(emb, labels)
    q = rng.normal(size=8).astype(np.float32)
    hits = SearchIndex.from_dictionary(d).search(q, k=3, aggregate="mean")
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cents = {g: unit[[i for i, lab in enumerate(labels) if lab == g]].mean(0) for g in set(labels)}
    ref = sorted(cents, key=lambda g: -float(cents[g] @ q / np.linalg.norm(cents[g]) / np.linalg.norm(q)))
    assert [h.gloss for h in hits] == ref[:3] and all(h.entry == -1 for h in hits)
    assert d.search(q[None], k=3, aggregate="mean").labels[0] == ref[:3]


def test_k_above_the_number_of_glosses_and_bad_queries() -> None:
    ix = SearchIndex.from_dictionary(Dictionary(np.eye(3, dtype=np.float32), ["a", "b", "b"]))
    assert [h.gloss for h in ix.search(np.array([1.0, 0, 0]), k=10)] == ["a", "b"]
    with pytest.raises(ValueError, match="dimension 2"):
        ix.search(np.ones(2), k=1)
    with pytest.raises(ValueError, match="aggregate"):
        ix.search(np.ones(3), aggregate="max")



def _sorted_loop(emb: np.ndarray, labels: list[str], q: np.ndarray, k: int):
    """Loop reference in float64: every entry's cosine, entries sorted by score (the lower
    index first on equal scores), their first k distinct glosses with score and entry."""
    q64 = q.astype(np.float64)
    dots = []  # ranked before dividing by |q|: exact for the dyadic rows and queries below
    for row in emb.astype(np.float64):
        dots.append(sum(a * b for a, b in zip(row / np.linalg.norm(row), q64, strict=True)))
    scores = [v / np.linalg.norm(q64) for v in dots]
    answer: list[tuple[str, float, int]] = []
    for i in sorted(range(len(labels)), key=lambda i: (-dots[i], i)):
        if labels[i] not in [g for g, _, _ in answer]:
            answer.append((labels[i], scores[i], i))
        if len(answer) == k:
            break
    return answer


def _exact_rows(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    """``m`` unit rows drawn from a few distinct ones (one +-1, or four +-0.5): repeated
    rows and dyadic values, so float32 and float64 dot products with a query of eighths
    are exact and equal scores tie exactly."""
    distinct = []
    for _ in range(int(rng.integers(1, 6))):
        v = np.zeros(d, np.float32)
        n = 1 if rng.random() < 0.5 else 4
        v[rng.choice(d, n, replace=False)] = rng.choice([-1.0, 1.0], n) / np.sqrt(n)
        distinct.append(v)
    return np.stack([distinct[i] for i in rng.integers(0, len(distinct), m)])


@pytest.mark.parametrize("k", [1, 2, 5, ROUNDS_MAX, ROUNDS_MAX + 1, 20, 60])
def test_nearest_search_with_ties_matches_the_sorted_loop(k: int) -> None:
    """Both paths (argmax rounds up to ROUNDS_MAX, sorted candidates above) against the
    loop, on dictionaries full of exact ties and repeated glosses, k above the gloss count
    included: same glosses, same entries (the lowest index on ties), same scores."""
    rng = np.random.default_rng(k)
    for _ in range(40):
        m, n_glosses = int(rng.integers(1, 80)), int(rng.integers(1, 30))
        emb = _exact_rows(rng, m, 8)
        labels = [f"g{j}" for j in rng.integers(0, n_glosses, m)]
        q = rng.integers(-4, 5, 8).astype(np.float32) / 8
        q[0] = q[0] or 0.125  # not all zero
        hits = SearchIndex.from_dictionary(Dictionary(emb, labels)).search(q, k=k)
        ref = _sorted_loop(emb, labels, q, k)
        assert len(hits) == min(k, len(set(labels)))
        assert [(h.gloss, h.entry) for h in hits] == [(g, i) for g, _, i in ref]
        np.testing.assert_allclose([h.score for h in hits], [s for _, s, _ in ref], atol=1e-6)


@pytest.mark.parametrize("k", [3, ROUNDS_MAX + 2])
def test_nearest_search_on_random_vectors_matches_the_sorted_loop(k: int) -> None:
    rng = np.random.default_rng(10 + k)
    emb = rng.normal(size=(400, 12)).astype(np.float32)
    labels = [f"g{j}" for j in rng.integers(0, 25, size=400)]
    ix = SearchIndex.from_dictionary(Dictionary(emb, labels))
    for q in rng.normal(size=(4, 12)).astype(np.float32):
        ref = _sorted_loop(emb, labels, q, k)
        hits = ix.search(torch.from_numpy(q)[None], k=k)  # a (1, D) tensor query
        assert [(h.gloss, h.entry) for h in hits] == [(g, i) for g, _, i in ref]
        np.testing.assert_allclose([h.score for h in hits], [s for _, s, _ in ref], atol=1e-5)


def test_a_crowding_gloss_above_rounds_max_falls_back_to_the_rounds() -> None:
    """200 entries of one gloss fill the 4k + 32 best entries: the candidates hold fewer
    than k glosses, so the rounds answer, as the loop does."""
    rng = np.random.default_rng(6)
    k = ROUNDS_MAX + 2
    emb = np.concatenate([np.eye(16)[0] + 0.01 * rng.normal(size=(200, 16)),
                          rng.normal(size=(100, 16))]).astype(np.float32)
    labels = ["a"] * 200 + [f"g{i % 30}" for i in range(100)]
    q = np.eye(16, dtype=np.float32)[0]
    ix = SearchIndex.from_dictionary(Dictionary(emb, labels))
    assert ix._first_labels(ix._np.entries @ q, k) == []  # the candidates fall short
    hits = ix.search(q, k=k)
    ref = _sorted_loop(emb, labels, q, k)
    assert [(h.gloss, h.entry) for h in hits] == [(g, i) for g, _, i in ref]


def test_empty_dictionary_is_refused_and_an_empty_index_answers_nothing() -> None:
    with pytest.raises(ValueError, match="no entry"):
        Dictionary(np.zeros((0, 4), np.float32), [])
    empty = SearchIndex(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), (), torch.zeros(0, 4))
    assert empty.search(np.ones(4), k=3) == [] and empty.search(np.ones(4), k=3, aggregate="mean") == []
    with pytest.raises(ValueError, match="k must be >= 1"):
        empty.search(np.ones(4), k=0)

def _npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, xyz=np.zeros((2, 3, 2)))
    return buf.getvalue()


def _npy_bytes() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.zeros((2, 3)))
    return buf.getvalue()


@pytest.mark.parametrize(("head", "suffix"), [
    (_npy_bytes(), ".npy"),
    (_npz_bytes(), ".npz"),
    (b"PAR1\x15\x04", ".parquet"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00", ".mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", ".mov"),
    (b"\x00\x00\x00\x08wide\x00\x00", ".mov"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", ".webm"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", ".avi"),
    (b'\xef\xbb\xbf  {"version": 1.3, "people": []}', ".json"),
    (np.float32(0.1).tobytes() + b"\x01\x00\x03\x00\x00\x00\x04\x00\x0e\x00POSE_LANDMARKS", ".pose"),
    (b"hello world, not a sign file", None),
    (b"", None),
    (np.float32(0.123).tobytes() + b"ABCDEFGH", None),
])
def test_sniff(head: bytes, suffix: str | None) -> None:
    assert sniff(head[:64]) == suffix


def test_key_frames_skip_empty_frames() -> None:
    conf = np.zeros((10, 4))
    conf[2:8] = 1
    assert key_frames(conf, 3) == [2, 4, 7]  # spread over frames 2..7
    assert key_frames(np.zeros((3, 4)), 6) == [0, 1, 2]


def test_skeleton_preview_keeps_bone_joints_in_the_unit_square() -> None:
    lay = get_layout("masa49")
    rng = np.random.default_rng(0)
    xyz = rng.uniform(100, 300, size=(8, lay.num_joints, 2)).astype(np.float32)
    conf = np.ones((8, lay.num_joints), np.float32)
    conf[0, 0] = 0
    p = skeleton_preview(PoseSequence(xyz, conf, lay), frames=2)
    legs = [b for b in lay.bones if any(w in lay.joint_names[j] for j in b for w in LEG_WORDS)]
    bones = [b for b in lay.bones if b not in legs]
    used = sorted({j for b in bones for j in b})
    assert len(p["bones"]) == len(bones) and len(p["frames"][0]) == len(used)
    pts = np.array([pt for f in p["frames"] for pt in f if pt is not None])
    assert pts.min() >= 0 and pts.max() <= 1 and np.isclose(pts.max(), 1, atol=1e-2)
    assert (p["frames"][0][used.index(0)] is None) == (0 in used)


def test_skeleton_preview_leaves_out_world_coordinates() -> None:
    """World joints far away would squash the image joints into a corner if kept."""
    lay = get_layout("holistic_world_noface")
    xyz = np.random.default_rng(0).uniform(0, 1, size=(3, lay.num_joints, 3))
    xyz[:, lay.part_slice("body_world")] += 1000.0
    p = skeleton_preview(PoseSequence(xyz, np.ones((3, lay.num_joints)), lay))
    pts = np.array([pt for f in p["frames"] for pt in f if pt is not None])
    assert np.ptp(pts[:, 0]) > 0.5 and len(p["frames"][0]) < 33 + 21 + 21
