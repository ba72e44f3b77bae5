"""Synthetic masa49 clips for the MASA tests: a signer whose arms swing and whose hands
turn and curl, in pixel coordinates, with known confidences and padding."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

J = 49
BODY = slice(0, 7)  # nose, l_shoulder, l_elbow, l_wrist, r_shoulder, r_elbow, r_wrist
LEFT = slice(7, 28)
RIGHT = slice(28, 49)


def hand_template(curl: float) -> np.ndarray:
    """21 hand joints (wrist first, then 4 per finger) for a hand of ~40 px, ``(21, 2)``."""
    pts = [np.zeros(2)]
    for f in range(5):
        a = math.radians(-60 + 30 * f)
        for j in range(1, 5):
            r = 10.0 * j * (1.0 - 0.15 * curl * (j - 1))
            bend = a + 0.3 * curl * (j - 1)
            pts.append(r * np.array([math.sin(bend), -math.cos(bend)]))
    return np.stack(pts).astype(np.float32)


def rotate(p: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return p @ np.array([[c, s], [-s, c]], dtype=np.float32)


def synthetic_clip(T: int = 24, seed: int = 0, speed: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``(x (T, 49, 2), conf (T, 49))`` in pixels; ``speed=0`` gives a static clip."""
    rng = np.random.default_rng(seed)
    x = np.zeros((T, J, 2), np.float32)
    shift = rng.uniform(-30, 30, size=2).astype(np.float32)
    for t in range(T):
        ph = speed * 0.35 * t + rng.uniform(0, 0.05)
        body = np.array(
            [
                [320, 100],
                [380, 200],
                [400, 300 - 40 * math.sin(ph)],
                [380, 330 - 90 * math.sin(ph)],
                [260, 200],
                [240, 300 - 40 * math.cos(ph)],
                [260, 330 - 90 * math.cos(ph)],
            ],
            np.float32,
        )
        x[t, BODY] = body + shift
        for sl, wrist, sign in ((LEFT, 3, 1.0), (RIGHT, 6, -1.0)):
            h = rotate(hand_template(0.5 + 0.5 * math.sin(ph)), sign * 0.6 * math.sin(ph))
            x[t, sl] = h + x[t, wrist]
    conf = rng.uniform(0.5, 1.0, size=(T, J)).astype(np.float32)
    return x, conf


def synthetic_batch(
    B: int = 4, T: int = 24, seed: int = 0, lengths: list[int] | None = None, speed: float = 1.0
) -> dict[str, Any]:
    """A collate-style batch of synthetic clips with padded tails (``True`` = padded)."""
    lengths = lengths or [T - (3 * b) % 9 for b in range(B)]
    xs, cs = zip(*(synthetic_clip(T, seed + b, speed) for b in range(B)), strict=True)
    x = torch.from_numpy(np.stack(xs))
    conf = torch.from_numpy(np.stack(cs))
    pad = torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]  # (B, T)
    conf = conf.masked_fill(pad[..., None], 0.0)
    x = x * (~pad)[..., None, None]
    return {
        "x": x,
        "conf": conf,
        "frame_mask": pad,
        "label": torch.zeros(B, dtype=torch.long),
        "length": torch.tensor(lengths),
        "path": [f"clip{b}" for b in range(B)],
        "signer": ["s"] * B,
    }
