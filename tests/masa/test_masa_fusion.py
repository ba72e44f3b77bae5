"""Late fusion: hand-computed sums, alignment by class name and path, .npz round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signssl.errors import ConfigError, DataError
from signssl.eval.fusion import (
    ClassScores,
    align_scores,
    fuse,
    fuse_score_files,
    fuse_scores,
    fusion_eval,
)
from signssl.eval.results import make_result


def softmax_rows(s: np.ndarray) -> np.ndarray:
    return np.array([[np.exp(v) / sum(np.exp(w) for w in row) for v in row] for row in s])


def test_fuse_scores_hand_computed() -> None:
    a = np.array([[0.0, 0.0], [1.0, 3.0]])
    b = np.array([[np.log(3.0), 0.0], [0.0, 0.0]])
    fused = fuse_scores(a, b, weight=2.0)
    # row 0: (0.5, 0.5) + 2 * (0.75, 0.25); row 1: softmax(1, 3) + 2 * (0.5, 0.5)
    expect = softmax_rows(a) + 2 * softmax_rows(b)
    np.testing.assert_allclose(fused, expect, rtol=1e-6)
    np.testing.assert_allclose(fused[0], [2.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(fuse_scores(a, b, 0.5, normalize="none"), a + 0.5 * b, rtol=1e-6)
    # -inf (impossible class) contributes 0 probability
    c = np.array([[0.0, -np.inf]])
    np.testing.assert_allclose(fuse_scores(c, np.zeros((1, 2)), 1.0), [[1.5, 0.5]])
    with pytest.raises(DataError, match="one \\(N, L\\) shape"):
        fuse_scores(a, b[:1])
    with pytest.raises(ConfigError, match="normalize"):
        fuse_scores(a, b, normalize="zscore")
    with pytest.raises(ConfigError, match="weight"):
        fuse_scores(a, b, weight=-1.0)


def test_alignment_by_class_and_path_and_npz_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    classes = ["hello", "thanks", "yes"]
    a = ClassScores(
        rng.normal(size=(4, 3)),
        classes,
        ["p0", "p1", "p2", "p3"],
        ["yes", "hello", "thanks", "yes"],
    )
    perm_r, perm_c = [2, 0, 3, 1], [1, 2, 0]
    b_scores = rng.normal(size=(4, 3))
    b = ClassScores(
        b_scores[perm_r][:, perm_c], np.array(classes)[perm_c], np.array(a.paths)[perm_r]
    )
    aligned = align_scores(a, b)
    np.testing.assert_allclose(aligned.scores, b_scores)
    assert aligned.paths.tolist() == a.paths.tolist()
    a.save(tmp_path / "a.npz")
    b.save(tmp_path / "b.npz")
    fused = fuse_score_files(tmp_path / "a.npz", tmp_path / "b.npz", weight=0.7)
    np.testing.assert_allclose(fused.scores, fuse_scores(a.scores, b_scores, 0.7), rtol=1e-6)
    assert fused.labels.tolist() == a.labels.tolist()
    result = fusion_eval(fused)
    top1 = np.mean(
        [classes[int(np.argmax(r))] == lab for r, lab in zip(fused.scores, a.labels, strict=True)]
    )
    assert result.protocol == "fusion" and result.metrics["top1_per_instance"] == pytest.approx(
        top1
    )


def test_fusion_can_fix_a_mistake_and_from_result() -> None:
    classes = ["a", "b"]
    pose = make_result(
        "finetune", np.array([[2.0, 1.0], [0.0, 3.0]]), classes, ["b", "b"], ["x", "y"]
    )
    rgb = ClassScores(np.array([[0.0, 4.0], [0.0, 1.0]]), classes, ["x", "y"])
    alone = ClassScores.from_result(pose)
    fused = fuse(alone, rgb, weight=1.0)
    assert fusion_eval(alone).metrics["top1_per_instance"] == 0.5
    assert fusion_eval(fused).metrics["top1_per_instance"] == 1.0


def test_errors_name_the_problem(tmp_path: Path) -> None:
    a = ClassScores(np.zeros((2, 2)), ["a", "b"], ["x", "y"])
    with pytest.raises(DataError, match="different classes"):
        align_scores(a, ClassScores(np.zeros((2, 2)), ["a", "c"], ["x", "y"]))
    with pytest.raises(DataError, match="not in the second"):
        align_scores(a, ClassScores(np.zeros((2, 2)), ["a", "b"], ["x", "z"]))
    with pytest.raises(DataError, match="without paths"):
        align_scores(
            ClassScores(np.zeros((2, 2)), ["a", "b"]), ClassScores(np.zeros((3, 2)), ["a", "b"])
        )
    with pytest.raises(DataError, match="repeat"):
        ClassScores(np.zeros((1, 2)), ["a", "a"])
    bad = tmp_path / "bad.npz"
    np.savez(bad, logits=np.zeros((2, 2)))
    with pytest.raises(DataError, match="lacks"):
        ClassScores.load(bad)
    with pytest.raises(DataError, match="does not exist"):
        ClassScores.load(tmp_path / "none.npz")
