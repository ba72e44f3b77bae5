"""Fixtures for the data tests: a tiny MP_Data-style dataset in the WLASL50 170-value layout."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

#: the per-frame layout of ../shared/data/wlasl50-holistic170 (see its README)
H170_YAML = """\
name: wlasl50-holistic170
parts:
  - name: body
    joints: [nose, left_shoulder, right_shoulder, left_elbow, right_elbow, left_wrist,
             right_wrist, left_hip, right_hip, left_knee, right_knee]
    values: [x, y, z, visibility]
  - name: left_hand
    joints: hand21
    values: [x, y, z]
  - name: right_hand
    joints: hand21
    values: [x, y, z]
"""
BODY = ["nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee"]
FLAT = 11 * 4 + 21 * 3 * 2  # 170 values per frame


@pytest.fixture
def h170_yaml(tmp_path: Path) -> Path:
    p = tmp_path / "h170.yaml"
    p.write_text(H170_YAML)
    return p


def random_flat(num_frames: int, seed: int) -> np.ndarray:
    """``(T, 170)`` frames with every joint detected: coords in [0.2, 0.8], visibility 1."""
    flat = np.random.default_rng(seed).uniform(0.2, 0.8, (num_frames, FLAT))
    flat[:, 3:44:4] = 1.0  # body visibility
    return flat


def write_sequence(folder: Path, flat: np.ndarray) -> Path:
    """An MP_Data sequence folder: ``<folder>/<t>.npy`` per frame (float64, like the real sets)."""
    folder.mkdir(parents=True, exist_ok=True)
    for t, frame in enumerate(flat):
        np.save(folder / f"{t}.npy", frame.astype(np.float64))
    return folder


@pytest.fixture
def mp_data(tmp_path: Path) -> Callable[..., Path]:
    """Make ``tmp_path/MP_Data/<gloss>/<i>/`` for a ``{gloss: [num_frames, ...]}`` spec;
    frame values are ``random_flat(T, seed=hash of (gloss, i))``."""

    def make(spec: dict[str, list[int]]) -> Path:
        root = tmp_path / "MP_Data"
        for g, (gloss, lengths) in enumerate(sorted(spec.items())):
            for i, n in enumerate(lengths):
                write_sequence(root / gloss / str(i), random_flat(n, seed=100 * g + i))
        return root

    return make
