"""Toys of the evaluation tests: a tiny encoder of our own and synthetic pose data."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from signssl.models import Encoder
from signssl.pose import PoseSequence, get_layout

MASA = get_layout("masa49")
TINY_MODEL = "eval_tiny_encoder"


class TinyEncoder(Encoder):
    """Per-frame linear embedding of the flattened pose, one token per frame.

    ``forward_features``: ``(B, T, J, C) -> (B, T, D)``; padded frames are zeroed and
    ``embed`` averages the real frames.
    """

    def __init__(self, joints: int = 49, dims: int = 2, out_dim: int = 8) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.proj = nn.Linear(joints * dims, out_dim)

    def _unpack(self, x: Any) -> tuple[Tensor, Tensor]:
        if isinstance(x, dict):
            fm = x.get("frame_mask")
            xx = x["x"].float()
            valid = torch.ones(xx.shape[:2], dtype=torch.bool) if fm is None else ~fm
            return xx, valid.to(xx.device)
        return x.float(), torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)

    def forward_features(self, x: Any, mask: Tensor | None = None) -> Tensor:
        xx, valid = self._unpack(x)
        tok = self.proj(xx.flatten(2))  # (B, T, J*C) -> (B, T, D)
        return tok * valid[..., None]

    def embed(self, x: Any) -> Tensor:
        _, valid = self._unpack(x)
        tok = self.forward_features(x)
        return tok.sum(1) / valid.sum(1, keepdim=True).clamp_min(1)  # (B, D)


def synthetic_sequence(label_id: int, rng: np.random.Generator, frames: int = 12,
                       missing: float = 0.0) -> PoseSequence:
    """A masa49 clip whose right wrist traces a class-specific direction."""
    xyz = rng.normal(0, 0.02, size=(frames, MASA.num_joints, 2)).astype(np.float32)
    base = {"body.left_shoulder": (0.5, 0.0), "body.right_shoulder": (-0.5, 0.0)}
    for name, (x, y) in base.items():
        xyz[:, MASA.index(name)] += (x, y)
    angle = 2 * np.pi * label_id / 5
    t = np.linspace(0, 1, frames)[:, None]
    sl = MASA.part_slice("right_hand")
    xyz[:, sl] += (t * np.array([np.cos(angle), np.sin(angle)]))[:, None, :].astype(np.float32)
    conf = np.ones((frames, MASA.num_joints), np.float32)
    if missing:
        conf[rng.random(conf.shape) < missing] = 0.0
        xyz[conf == 0] = 0.0
    return PoseSequence(xyz, conf, MASA, fps=25.0)


class SyntheticPoses(Dataset):
    """Map-style dataset of synthetic clips, in the sample format of ``PoseDataset``."""

    def __init__(self, labels: list[str], seed: int = 0, classes: list[str] | None = None,
                 prefix: str = "clip") -> None:
        self.classes = classes if classes is not None else sorted(set(labels))
        rng = np.random.default_rng(seed)
        self.items = []
        for i, lab in enumerate(labels):
            seq = synthetic_sequence(int(lab.split("_")[-1]), rng, frames=8 + i % 5)
            self.items.append({
                "pose": seq, "label": self.classes.index(lab), "path": f"{prefix}_{i}",
                "signer": f"s{i % 2}", "index": i,
            })

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


def run_cli(capsys: Any, *argv: object) -> tuple[int, str, str]:
    """Run ``signssl ARGV`` in-process: ``(exit code, stdout, stderr)``."""
    from signssl.cli.main import main

    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def export_video_run(run_dir: Any, seed: int = 0) -> Any:
    """Export a freshly initialised ``hiera_test`` encoder as a video run; returns the
    ``RUN/model`` folder."""
    from pathlib import Path

    from signssl.models import create_model
    from signssl.store.model import export_model

    torch.manual_seed(seed)
    enc = create_model("hiera_test")
    return export_model(
        enc, Path(run_dir) / "model", "hiera_test", {}, modality="video",
        input_size=list(enc.input_size), frame_step=1, fps=None,
    )
