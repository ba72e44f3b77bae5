"""Small encoder, method and dataset for engine tests (no dependence on method recipes).

Used in-process by the tests and by the subprocess scripts (kill-and-resume, DDP), which
put this directory on ``sys.path``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from signssl.models import Encoder

T, J, C = 6, 5, 2


class ToyEncoder(Encoder):
    """Per-frame linear embedding, ``depth`` residual MLP blocks, LayerNorm, mean pool."""

    def __init__(self, dim: int = 16, depth: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.out_dim = dim
        self.embed_in = nn.Linear(J * C, dim)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.GELU(), nn.Dropout(dropout))
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward_features(self, x: Any, mask: Tensor | None = None) -> Tensor:
        xyz = x["x"] if isinstance(x, dict) else x  # (B, T, J, C)
        tok = self.embed_in(xyz.flatten(2))  # (B, T, J, C) -> (B, T, J*C) -> (B, T, D)
        for blk in self.blocks:
            tok = tok + blk(tok)
        return self.norm(tok)


def nt_xent_reference(a: Tensor, b: Tensor, temperature: float = 0.5) -> Tensor:
    """Naive NT-Xent over the 2N views (SimCLR), mean over anchors."""
    z = F.normalize(torch.cat([a, b]), dim=1)  # (2N, D)
    n = a.shape[0]
    sim = z @ z.T / temperature  # (2N, 2N)
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


class ToyMethod(nn.Module):
    """Two noisy views -> projector (online) and EMA projector (target) -> a loss.

    ``loss="mse"``: MSE between online and target projections (needs the EMA update of
    ``on_step_end``); ``loss="nt_xent"``: SimCLR's NT-Xent through
    ``signssl.losses.nt_xent`` (negatives gathered across ranks), with ``noise=0`` the
    views are deterministic so any process layout sees identical inputs.
    """

    def __init__(
        self,
        encoder: nn.Module,
        proj_dim: int = 8,
        noise: float = 0.05,
        loss: str = "mse",
        base_momentum: float = 0.9,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        d = encoder.out_dim
        self.projector = nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, proj_dim))
        self.target = copy.deepcopy(self.projector).requires_grad_(False)
        self.noise = noise
        self.loss = loss
        self.base_momentum = base_momentum
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.long))
        self.step_calls: list[tuple[int, int]] = []

    def _views(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self.noise == 0:
            return x, x.flip(1)  # (B, T, J, C): second view plays the clip backwards
        return x + self.noise * torch.randn_like(x), x + self.noise * torch.randn_like(x)

    def training_loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        v1, v2 = self._views(batch["x"])
        h1, h2 = self.encoder.embed(v1), self.encoder.embed(v2)  # (B, D)
        if self.loss == "nt_xent":
            from signssl.losses.nt_xent import nt_xent_loss

            loss = nt_xent_loss(self.projector(h1), self.projector(h2), temperature=0.5)
        else:
            loss = F.mse_loss(self.projector(h1), self.target(h2).detach())
        return {"loss": loss, "embedding": h1.detach(), "proj_norm": self.projector(h1).norm(dim=1).mean()}

    @torch.no_grad()
    def on_step_end(self, step: int, max_steps: int) -> None:
        m = 1 - (1 - self.base_momentum) * (1 + torch.cos(torch.tensor(torch.pi * step / max_steps))) / 2
        for pt, po in zip(self.target.parameters(), self.projector.parameters(), strict=True):
            pt.mul_(m).add_(po, alpha=1 - m)
        self.steps_seen += 1
        self.step_calls.append((step, max_steps))


class ToyDataset(Dataset):
    """``n`` random clips ``{"x": (T, J, C)}`` from a fixed seed (default collate works)."""

    def __init__(self, n: int = 24, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, T, J, C, generator=g)

    def __len__(self) -> int:
        return self.x.shape[0]

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        return {"x": self.x[i], "index": torch.tensor(i)}


def toy_config(**sets: Any) -> Any:
    """A small CPU configuration; keyword ``section__key=value`` overrides."""
    from signssl.engine.config import config_from_dict, deep_merge

    tree = {
        "method": {"name": "toy"},
        "model": {"name": "toy"},
        "data": {"batch_size": 8},
        "optim": {"name": "sgd", "lr": 0.05, "warmup_steps": 2},
        "trainer": {
            "max_epochs": 2,
            "seed": 0,
            "progress_bar": False,
            "checkpoint_every_n_steps": 1,
        },
    }
    overlay: dict[str, Any] = {}
    for key, value in sets.items():
        section, name = key.split("__")
        overlay.setdefault(section, {})[name] = value
    return config_from_dict(deep_merge(tree, overlay))


def write_pose_manifest(
    root: Any,
    classes: int = 3,
    signers: int = 4,
    reps: int = 2,
    frames: int = 12,
    seed: int = 0,
    test_signers: int = 1,
    bad: int = 0,
) -> Any:
    """Labelled ``masa49`` clips as ``.npz`` + ``manifest.csv``; returns the CSV path.

    Class ``c`` moves the right hand on a circle of frequency ``c + 1``; the last
    ``test_signers`` signers form the ``test`` split.  ``bad`` extra rows point at
    unreadable files (to exercise skipping).
    """
    from pathlib import Path

    import numpy as np

    from signssl.data import Manifest, ManifestRow
    from signssl.io import write_pose
    from signssl.pose import PoseSequence, get_layout

    root = Path(root)
    layout = get_layout("masa49")
    rng = np.random.default_rng(seed)
    rows = []
    t = np.linspace(0, 1, frames, dtype=np.float32)
    for c in range(classes):
        for s in range(signers):
            for r in range(reps):
                xyz = np.zeros((frames, layout.num_joints, 2), np.float32)
                xyz[:, layout.index("body.left_shoulder")] = (0.6, 0.5)
                xyz[:, layout.index("body.right_shoulder")] = (0.4, 0.5)
                xyz[:, layout.index("body.nose")] = (0.5, 0.3)
                centre = np.stack([0.35 + 0.1 * np.cos(2 * np.pi * (c + 1) * t),
                                   0.6 + 0.1 * np.sin(2 * np.pi * (c + 1) * t)], -1)
                hand = layout.part_slice("right_hand")
                offsets = rng.normal(0, 0.02, (1, hand.stop - hand.start, 2)).astype(np.float32)
                xyz[:, hand] = centre[:, None] + offsets + rng.normal(0, 0.003, (frames, 1, 2))
                lhand = layout.part_slice("left_hand")
                xyz[:, lhand] = (0.65, 0.7) + rng.normal(0, 0.02, (1, 21, 2))
                conf = np.ones(xyz.shape[:2], np.float32)
                name = f"c{c}_s{s}_r{r}.npz"
                write_pose(PoseSequence(xyz, conf, layout, fps=25.0), root / name)
                split = "test" if s >= signers - test_signers else "train"
                rows.append(ManifestRow(name, label=f"sign{c}", signer=f"p{s}", split=split))
    for b in range(bad):
        (root / f"bad{b}.npz").write_bytes(b"not a pose file")
        rows.append(ManifestRow(f"bad{b}.npz", label="sign0", signer="p0", split="train"))
    out = root / "manifest.csv"
    Manifest(rows, root).write(out)
    return out
