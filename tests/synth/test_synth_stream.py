"""``SyntheticPoseDataset``: sample i is a function of (seed, i) and equals the disk clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signssl.data import PoseDataset
from signssl.errors import ConfigError
from signssl.synth import generate_dataset
from signssl.synth.stream import SyntheticPoseDataset

ARGS = {"classes": 3, "signers": 2, "frames": 16, "seed": 4}


def test_sample_is_deterministic_per_index_and_differs_across_indices() -> None:
    a, b = SyntheticPoseDataset(**ARGS), SyntheticPoseDataset(**ARGS)
    s7 = a[7]
    assert np.array_equal(s7["pose"].xyz, b[7]["pose"].xyz)
    assert np.array_equal(s7["pose"].conf, b[7]["pose"].conf)
    assert s7["pose"].xyz.shape == (16, 49, 2) and s7["label"] == -1 and s7["path"] == "synth:7"
    # 7 = class 1, signer 0, repetition 1; 1 = the same class and signer, repetition 0
    assert a.clip_of(7) == (1, 0, 1) and a.clip_of(1) == (1, 0, 0)
    for other in (1, 8):
        assert not np.allclose(s7["pose"].xyz, a[other]["pose"].xyz)
    reseeded = SyntheticPoseDataset(**{**ARGS, "seed": 5})
    assert not np.allclose(s7["pose"].xyz, reseeded[7]["pose"].xyz)


def test_samples_equal_the_clips_generate_dataset_writes(tmp_path: Path) -> None:
    manifest = generate_dataset(tmp_path, reps=1, test_fraction=0.0, progress=False,
                                pose_format="npz", **ARGS)
    disk = PoseDataset(manifest, layout="masa49", dims=2)
    stream = SyntheticPoseDataset(**ARGS, layout="masa49", dims=2)
    by_clip = {(r.label, r.signer): k for k, r in enumerate(disk.manifest.rows)}
    assert len(by_clip) == 6
    for i in range(6):
        c, s, _ = stream.clip_of(i)
        want = disk[by_clip[(stream.vocabulary.signs[c].name, stream.people[s].id)]]["pose"]
        got = stream[i]["pose"]
        np.testing.assert_allclose(got.xyz, want.xyz, atol=1e-5)
        np.testing.assert_allclose(got.conf, want.conf, atol=1e-6)


@pytest.mark.parametrize(("kwargs", "message"), [({"frames": 4}, "frames must be >= 8"),
                                                 ({"classes": 0}, "classes must be >= 1")])
def test_bad_arguments_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SyntheticPoseDataset(**kwargs)


def test_too_few_frames_for_a_sign_fail_at_construction() -> None:
    with pytest.raises(ConfigError, match="synthetic source: 12 frames are too few"):
        SyntheticPoseDataset(classes=2, signers=1, frames=12)
