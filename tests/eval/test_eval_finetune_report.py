"""Fine-tuning (Lightning) on synthetic poses, and the report files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from eval_toys import TinyEncoder

from signssl.errors import ConfigError
from signssl.eval.features import Features
from signssl.eval.finetune import FinetuneModule, finetune_eval
from signssl.eval.plots import project_2d, representative_frame
from signssl.eval.report import write_report
from signssl.eval.runner import evaluate_features, evaluate_finetune

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_lr_schedule_warms_up_then_decays_to_zero() -> None:
    m = FinetuneModule(TinyEncoder(), 3, warmup_steps=4, total_steps=14)
    assert [m._lr_factor(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert m._lr_factor(9) == pytest.approx(0.5)  # half-way through the cosine
    assert m._lr_factor(14) == pytest.approx(0.0, abs=1e-12)


def test_step_schedule_divides_by_ten_at_each_milestone() -> None:
    m = FinetuneModule(TinyEncoder(), 3, warmup_steps=2, total_steps=20, schedule="step")
    f = [m._lr_factor(s) for s in range(20)]
    assert f[:2] == [0.5, 1.0] and set(f[2:10]) == {1.0}
    assert f[10:15] == [pytest.approx(0.1)] * 5 and f[15:] == [pytest.approx(0.01)] * 5
    with pytest.raises(ConfigError, match="schedule"):
        FinetuneModule(TinyEncoder(), 3, schedule="linear")  # type: ignore[arg-type]


def test_step_schedule_custom_milestones() -> None:
    # MASA: x0.1 every 20 of 60 epochs -> milestones at 1/3 and 2/3 of training
    m = FinetuneModule(TinyEncoder(), 3, total_steps=30, schedule="step", step_milestones=(1 / 3, 2 / 3))
    f = [m._lr_factor(s) for s in range(30)]
    assert set(f[:10]) == {1.0} and f[10:20] == [pytest.approx(0.1)] * 10
    assert f[20:] == [pytest.approx(0.01)] * 10


def test_training_loss_is_label_smoothed_cross_entropy() -> None:
    torch.manual_seed(0)
    m = FinetuneModule(TinyEncoder(), 3, label_smoothing=0.2)
    batch = {"x": torch.randn(4, 5, 49, 2), "frame_mask": torch.zeros(4, 5, dtype=torch.bool),
             "label": torch.tensor([0, 2, 1, -1])}
    loss = m.training_step(batch, 0)
    logp = torch.log_softmax(m(batch), dim=1)[:3]
    y = torch.tensor([0, 2, 1])
    nll = -logp[torch.arange(3), y]
    ref = (0.8 * nll + 0.2 * (-logp.mean(dim=1))).mean()  # (1-e) CE + e * uniform CE
    torch.testing.assert_close(loss, ref)


def test_label_map_matches_classes_by_name() -> None:
    m = FinetuneModule(TinyEncoder(), 2, label_map=torch.tensor([1, -1, 0]))
    y = m.targets({"label": torch.tensor([0, 1, 2, -1, 7])})
    assert y.tolist() == [1, -1, 0, -1, -1]


def test_finetune_learns_and_scores_a_test_set_with_other_class_indices(make_dataset) -> None:
    labels = [f"g_{c}" for c in range(3) for _ in range(6)]
    train = make_dataset(labels, seed=0)
    # the test set numbers its classes in reverse order: matched by name
    test = make_dataset([f"g_{c}" for c in range(3) for _ in range(3)], seed=1,
                        classes=["g_2", "g_1", "g_0"], prefix="test")
    torch.manual_seed(0)
    res = finetune_eval(TinyEncoder(), train, test, epochs=30, batch_size=6, lr=0.05,
                        label_smoothing=0.1, warmup_epochs=1)
    assert res.classes == ["g_0", "g_1", "g_2"]
    assert res.metrics["top1_per_instance"] == 1.0
    assert res.labels.tolist() == [f"g_{c}" for c in range(3) for _ in range(3)]


def test_finetune_runs_with_label_fraction_and_holdout(make_dataset) -> None:
    labels = [f"g_{c}" for c in range(3) for _ in range(8)]
    ds = make_dataset(labels)
    runs = evaluate_finetune(lambda seed: TinyEncoder(), ds, None, seeds=(0, 1),
                             label_fraction=0.5, epochs=2, batch_size=8)
    assert [r["n_test"] for r in runs.runs] == [6, 6]  # 25 % of 8 per class
    assert [r["n_train"] for r in runs.runs] == [9, 9]  # half of the 6 left per class
    assert runs.protocol == "finetune" and "top5_per_class" in runs.summary


def _runs_and_features():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 5)) * 2
    x = np.concatenate([c + rng.normal(0, 0.5, size=(6, 5)) for c in centres]).astype(np.float32)
    labels = [f"g{c}" for c in range(4) for _ in range(6)]
    feats = Features(x, labels, [f"p{i}" for i in range(24)], [f"s{i % 2}" for i in range(24)])
    return evaluate_features("retrieval", feats, seeds=(0, 1), holdout=0.25), feats


def test_write_report_files(tmp_path) -> None:
    runs, feats = _runs_and_features()
    drawn = []

    def lookup(path: str):
        drawn.append(path)
        xyz = np.random.default_rng(len(drawn)).normal(size=(4, 3, 2))
        return xyz, np.ones((4, 3)), [(0, 1), (1, 2)]

    written = write_report(tmp_path, runs, feats, title="test report", lookup=lookup,
                           extra={"skipped_samples": 2})
    for name in ("metrics.json", "report.md", "embedding_map.png", "per_class_accuracy.png",
                 "confusion.png", "inertia.png", "retrieval_examples.png"):
        assert (tmp_path / name).is_file(), name
        assert name in written
    for png in tmp_path.glob("*.png"):
        assert png.read_bytes()[:8] == PNG_MAGIC
    m = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("top1_per_instance", "top5_per_instance", "top1_per_class", "top5_per_class",
                "dcg", "mrr", "recall@1", "recall@5", "recall@10", "n_queries", "n_dictionary"):
        assert isinstance(m[key], float | int), key
    assert m["skipped_samples"] == 2 and set(m["per_signer"]) == {"s0", "s1"}
    assert 0.0 <= m["intra_class_inertia"] <= 1.0
    assert m["top1_per_instance"] == pytest.approx(np.mean([r["top1_per_instance"] for r in m["per_seed"]]))
    md = (tmp_path / "report.md").read_text()
    assert "per-instance" in md and "per-class" in md and "![" in md and "± " in md
    assert len(drawn) >= 4 * 4  # 4 queries + 3 hits each


def test_pca_projection_matches_sklearn_up_to_sign() -> None:
    from sklearn.decomposition import PCA

    x = np.random.default_rng(1).normal(size=(30, 6))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    ours = project_2d(x, "pca")
    ref = PCA(2).fit_transform(xn)
    for k in range(2):
        assert math.isclose(abs(np.corrcoef(ours[:, k], ref[:, k])[0, 1]), 1.0, rel_tol=1e-6)


def test_representative_frame_prefers_complete_frames_near_the_middle() -> None:
    conf = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 1], [1, 1, 1], [0, 0, 0]])
    assert representative_frame(conf) == 2
