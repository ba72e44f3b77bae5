"""``masa`` through the pretraining engine: pose files -> run -> exported encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from masa_helpers import synthetic_clip

from signssl.data import Manifest, ManifestRow, PoseDataset, collate_poses
from signssl.engine.config import load_config
from signssl.engine.pretraining import pretrain
from signssl.io import write_pose
from signssl.models.masa import MASAEncoder
from signssl.pose.layouts import get_layout
from signssl.pose.sequence import PoseSequence
from signssl.store.model import load_model


@pytest.mark.slow
def test_pretrain_masa_end_to_end(tmp_path: Path) -> None:
    rows = []
    for i in range(8):
        x, c = synthetic_clip(T=20 + i, seed=i)
        write_pose(PoseSequence(x, c, get_layout("masa49"), fps=25.0), tmp_path / f"c{i}.npz")
        rows.append(ManifestRow(f"c{i}.npz", label=f"g{i % 2}", signer=f"s{i % 4}", split="train"))
    manifest = Manifest(rows, tmp_path)
    user = tmp_path / "cfg.yaml"
    user.write_text(
        yaml.safe_dump(
            {
                "model": {
                    "name": "masa_test",
                    "kwargs": {"layout": "masa49", "in_dims": 2, "max_frames": 32},
                },
                "data": {
                    "max_frames": 32,
                    "batch_size": 4,
                    "num_workers": 0,
                    "normalize": "shoulders",
                },
                "method": {"kwargs": {"decoder_depth": 1, "proj_dim": 16, "queue_size": 16}},
                "optim": {"lr": 1.0e-3, "warmup_epochs": 0},
                "trainer": {"max_epochs": 2, "progress_bar": False},
            }
        )
    )
    cfg = load_config("masa", user)
    result = pretrain(cfg, manifest, tmp_path / "run", progress=False)
    assert result.global_step == 4 and result.final_loss is not None
    assert "train/loss_motion" in result.metrics and "train/loss_semantic" in result.metrics
    encoder = load_model(tmp_path / "run")
    assert isinstance(encoder, MASAEncoder)
    data = PoseDataset(manifest, normalize="shoulders")
    batch = collate_poses([data[i] for i in range(4)], max_frames=32)
    raw = collate_poses(
        [
            {**data[i], "pose": PoseSequence(*synthetic_clip(20 + i, seed=i), get_layout("masa49"))}
            for i in range(4)
        ],
        max_frames=32,
    )
    with torch.no_grad():
        emb = encoder.embed(batch)
        # the encoder's own MASA-49 pipeline makes the dataset normalisation irrelevant
        assert torch.allclose(emb, encoder.embed(raw), atol=1e-4)
    assert torch.isfinite(emb).all()
