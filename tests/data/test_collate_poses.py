"""collate_poses: padding, shortening, masks and metadata against a naive per-sample loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from signssl.data import collate_poses, crop_indices
from signssl.pose import PoseSequence, get_layout

HANDS = get_layout("hands")  # 42 joints


def sample(num_frames: int, seed: int, label: int = 0, signer: str = "s") -> dict:
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(num_frames, HANDS.num_joints, 2)).astype(np.float32)
    conf = rng.uniform(0.1, 1.0, (num_frames, HANDS.num_joints)).astype(np.float32)
    return {"pose": PoseSequence(xyz, conf, HANDS), "label": label, "path": f"p{seed}",
            "signer": signer, "index": seed}


def test_padding_mask_and_metadata() -> None:
    samples = [sample(3, 0, label=2), sample(7, 1, label=-1, signer=""), sample(5, 2, label=0)]
    b = collate_poses(samples, max_frames=64)
    assert b["x"].shape == (3, 7, 42, 2) and b["x"].dtype == torch.float32
    assert b["conf"].shape == (3, 7, 42) and b["frame_mask"].dtype == torch.bool
    assert b["label"].tolist() == [2, -1, 0] and b["label"].dtype == torch.long
    assert b["length"].tolist() == [3, 7, 5]
    assert b["path"] == ["p0", "p1", "p2"] and b["signer"] == ["s", "", "s"]
    assert b["index"].tolist() == [0, 1, 2]
    for i, s in enumerate(samples):  # naive reference
        n = s["pose"].num_frames
        for t in range(7):
            real = t < n
            assert bool(b["frame_mask"][i, t]) is (not real)  # True = padded
            if real:
                assert torch.equal(b["x"][i, t], torch.from_numpy(s["pose"].xyz[t]))
                assert torch.equal(b["conf"][i, t], torch.from_numpy(s["pose"].conf[t]))
            else:
                assert not b["x"][i, t].any() and not b["conf"][i, t].any()


def test_long_samples_are_shortened_uniformly_by_default() -> None:
    s = sample(10, 3)
    b = collate_poses([s, sample(2, 4)], max_frames=4)
    assert b["x"].shape[1] == 4 and b["length"].tolist() == [4, 2]
    # evenly spaced over the whole clip, first and last frame included: 0, 3, 6, 9
    np.testing.assert_array_equal(b["x"][0].numpy(), s["pose"].xyz[[0, 3, 6, 9]])
    center = collate_poses([s], max_frames=4, crop="center")
    np.testing.assert_array_equal(center["x"][0].numpy(), s["pose"].xyz[3:7])
    start = collate_poses([s], max_frames=4, crop="start")
    np.testing.assert_array_equal(start["x"][0].numpy(), s["pose"].xyz[:4])
    whole = collate_poses([s], max_frames=None)
    assert whole["x"].shape[1] == 10


@pytest.mark.parametrize("n", [1, 5, 17, 64, 65, 200])
@pytest.mark.parametrize("k", [1, 16, 64])
def test_crop_indices_invariants(n: int, k: int) -> None:
    for crop in ("uniform", "center", "start"):
        idx = crop_indices(n, k, crop)  # type: ignore[arg-type]
        assert len(idx) == min(n, k)
        assert np.all(np.diff(idx) > 0)  # increasing, no repeats
        assert idx.min() >= 0 and idx.max() < n
    if n > k > 1:
        u = crop_indices(n, k)
        assert u[0] == 0 and u[-1] == n - 1


def test_bad_batches() -> None:
    with pytest.raises(ValueError, match="empty"):
        collate_poses([])
    other = {"pose": PoseSequence(np.zeros((2, 49, 2)), np.ones((2, 49)), get_layout("masa49")),
             "label": 0, "path": "q", "signer": ""}
    with pytest.raises(ValueError, match="different"):
        collate_poses([sample(2, 0), other])
    with pytest.raises(ValueError, match="crop"):
        collate_poses([sample(2, 0)], crop="shuffle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_frames"):
        collate_poses([sample(2, 0)], max_frames=0)


def test_random_crop_draws_one_frame_per_segment() -> None:
    import numpy as np
    import torch

    from signssl.data.collate import crop_indices

    torch.manual_seed(0)
    draws = np.stack([crop_indices(50, 8, "random") for _ in range(300)])  # (300, 8)
    edges = np.round(np.linspace(0, 50, 9))
    for k in range(8):  # frame k comes from segment k, and every frame of it is drawn
        assert set(draws[:, k].tolist()) == set(range(int(edges[k]), int(edges[k + 1])))
    assert (np.diff(draws, axis=1) > 0).all()
    assert len({tuple(d) for d in draws}) > 100  # really random
    torch.manual_seed(1)
    a = crop_indices(50, 8, "random")
    torch.manual_seed(1)
    assert (crop_indices(50, 8, "random") == a).all()  # torch's generator reproduces it
    assert crop_indices(6, 8, "random").tolist() == list(range(6))  # short clips kept whole
