"""Recognition fine-tuning of a video encoder (docs/methods.md#signrep-recognition, Eq. 13)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from eval_toys import export_video_run, run_cli

from signssl.data import Manifest
from signssl.data.signrep import require_video_manifest
from signssl.data.video import VideoDataset
from signssl.errors import ConfigError, DataError
from signssl.eval.class_distribution import ClassDistribution, save_class_distribution
from signssl.eval.finetune_video import (
    VideoFinetuneConfig,
    align_class_distribution,
    finetune_video,
    inflate_for_frames,
    recognition_loss,
)
from signssl.models import create_model
from signssl.store.model import load_model
from signssl.synth import generate_dataset


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("two")
    return generate_dataset(
        root, classes=2, signers=2, reps=2, frames=16, video=True, size=32, progress=False
    )


@pytest.fixture(scope="module")
def video_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("run")
    export_video_run(run)
    return run


def test_tiny_hiera_learns_two_synthetic_classes(two_classes: Path) -> None:
    torch.manual_seed(0)
    enc = create_model("hiera_test")  # 4-frame clips: inflated x4 to the 16-frame videos
    m = require_video_manifest(Manifest.read(two_classes))
    classes = m.labels()
    train = VideoDataset(
        m, clip_len=16, sampling="random", size=32, split="train", classes=classes, seed=0
    )
    test = VideoDataset(m, clip_len=16, sampling="center", size=32, split="test", classes=classes)
    cfg = VideoFinetuneConfig(
        frames=16, epochs=8, batch_size=2, lr=1e-3, weight_decay=0.05, warmup_steps=2
    )
    res = finetune_video(enc, train, test, classes, cfg, device="cpu")
    assert res.model.encoder.input_size[0] == 16 and res.model_kwargs["patch_stride"] == [8, 4, 4]
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 8 and all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0], losses  # it learns
    assert res.result is not None and res.metrics["n_test"] == 4
    assert {"top1_per_instance", "top1_per_class"} <= set(res.metrics)


def test_inflation_needs_a_whole_multiple() -> None:
    enc = create_model("hiera_test")
    assert inflate_for_frames(enc, 4) == {}
    with pytest.raises(ConfigError, match="not a multiple"):
        inflate_for_frames(enc, 10)


def test_class_distribution_is_matched_by_name() -> None:
    P = np.array([[0.4, 0.35, 0.25], [0.3, 0.45, 0.25], [0.2, 0.3, 0.5]])
    out = align_class_distribution(P, ["a", "b", "c"], ["c", "a", "b"])
    # row c of the classifier = row c of P, columns in the order c, a, b
    assert torch.allclose(out[0], torch.tensor([0.5, 0.2, 0.3], dtype=torch.float32))
    assert torch.allclose(out[1], torch.tensor([0.25, 0.4, 0.35], dtype=torch.float32))
    with pytest.raises(DataError, match="missing \\['d'\\]"):
        align_class_distribution(P, ["a", "b", "c"], ["a", "b", "d"])


def test_recognition_loss_matches_a_per_sample_loop() -> None:
    torch.manual_seed(0)
    logits, y = torch.randn(4, 3), torch.tensor([0, 2, 1, 2])
    P = torch.tensor([[0.4, 0.35, 0.25], [0.3, 0.45, 0.25], [0.2, 0.3, 0.5]])
    total = 0.0
    for i in range(4):
        log_q = F.log_softmax(logits[i], dim=0)
        target = torch.full((3,), 0.1 / 3)
        target[y[i]] += 0.9
        ce = -(target * log_q).sum()
        row = P[y[i]]
        kl = (row * (row.log() - log_q)).sum()
        total += float(ce + 0.2 * row[y[i]] * kl)
    got = recognition_loss(logits, y, P, 0.2, 0.1)
    assert float(got) == pytest.approx(total / 4, rel=1e-5)
    plain = recognition_loss(logits, y, None, 0.2, 0.1)
    assert float(plain) == pytest.approx(float(F.cross_entropy(logits, y, label_smoothing=0.1)))


def test_cli_writes_metrics_and_a_loadable_inflated_model(
    capsys, two_classes: Path, video_run: Path, tmp_path: Path
) -> None:
    P = tmp_path / "P.npz"
    save_class_distribution(
        P, ClassDistribution(np.array([[0.6, 0.4], [0.3, 0.7]]), np.ones(2), ["sign001", "sign000"])
    )
    code, stdout, err = run_cli(
        capsys,
        "finetune-video",
        "--checkpoint",
        video_run,
        "--data",
        two_classes,
        "--frames",
        16,
        "--epochs",
        2,
        "--batch-size",
        2,
        "--class-distribution",
        P,
        "--lambda-cd",
        0.2,
        "--warmup-steps",
        1,
        "--device",
        "cpu",
        "--out",
        tmp_path / "ft",
    )
    assert code == 0, err
    assert "top-1 per instance" in stdout
    m = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert len(m["history"]) == 2 and m["config"]["lambda_cd"] == 0.2 and m["n_test"] == 4
    enc = load_model(tmp_path / "ft")
    assert enc.input_size == (16, 32, 32)  # type: ignore[attr-defined]
    assert (tmp_path / "ft" / "model" / "classifier_head.safetensors").is_file()


def test_cli_error_names_the_class_distribution_file(
    capsys, two_classes: Path, video_run: Path, tmp_path: Path
) -> None:
    P = tmp_path / "P.npz"
    P.write_bytes(b"not an npz")
    code, _, err = run_cli(
        capsys,
        "finetune-video",
        "--checkpoint",
        video_run,
        "--data",
        two_classes,
        "--frames",
        16,
        "--epochs",
        1,
        "--class-distribution",
        P,
        "--out",
        tmp_path / "ft",
    )
    assert code == 2 and str(P) in err and err.count("\n") == 1
