"""Every real file reads, with the sizes the data sets document (skipped when absent)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from signssl.io import iter_mp_data, read_pose
from signssl.pose.layouts import load_layout_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "layouts"


def test_all_wlasl50_sequences(shared_data):
    layout = load_layout_yaml(EXAMPLES / "wlasl50-holistic170.yaml")
    seqs = list(iter_mp_data(shared_data / "wlasl50-holistic170"))
    assert len(seqs) == 423 and len({g for g, _ in seqs}) == 50  # data/README.md
    real_frames = []
    for _, d in seqs:
        seq = read_pose(d, layout=layout)
        assert (seq.num_frames, seq.num_joints, seq.num_dims) == (30, 53, 3)
        # zero-padded frames at the end have every joint missing
        real_frames.append(int((seq.conf > 0).any(1).sum()))
    assert 20 < np.mean(real_frames) < 27  # README: mean 23.7 real frames


def test_all_wlasl4_sequences(shared_data):
    seqs = list(iter_mp_data(shared_data / "wlasl4-holistic1662"))
    per_gloss = Counter(g for g, _ in seqs)
    assert per_gloss == {"before": 16, "book": 6, "computer": 14, "drink": 15}  # README
    lengths = [read_pose(d).num_frames for _, d in seqs]
    assert min(lengths) >= 26 and max(lengths) <= 108


def test_all_real_pose_files(real_pose_files):
    assert len(real_pose_files) == 600
    for path in real_pose_files:
        seq = read_pose(path)
        assert seq.layout.name == "holistic_iris_world" and seq.num_joints == 586
        assert seq.num_frames > 0 and seq.fps is not None and seq.fps > 0
