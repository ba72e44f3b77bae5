"""Batching pose samples: pad or shorten to a common length, with a frame mask.

The batch every pose encoder consumes (``signssl.models.Encoder``)::

    x           (B, T, J, C) float32   coordinates; padded frames are 0
    conf        (B, T, J)    float32   confidence in [0, 1]; padded frames are 0
    frame_mask  (B, T)       bool      True = padded (hidden), False = a real frame
    label       (B,)         int64     class index, -1 = unlabeled
    length      (B,)         int64     real frames per sample (after shortening)
    path        list[str]    signer  list[str] ("" = unknown)   index  (B,) int64

``T = min(max_frames, longest sample)``.  A sample longer than ``max_frames`` is
shortened by ``crop``: ``"uniform"`` (default) keeps ``max_frames`` evenly spaced frames
from first to last, so the whole sign is seen at a lower frame rate; ``"center"`` keeps
the middle ``max_frames`` frames; ``"start"`` the first ones.  Real frames come first,
padding last.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from signssl.pose.sequence import PoseSequence

Crop = Literal["uniform", "center", "start", "random"]


def crop_indices(num_frames: int, max_frames: int, crop: Crop = "uniform") -> np.ndarray:
    """Frame indices kept from a clip of ``num_frames`` (all of them when it fits).

    ``random`` (training-time temporal sampling, as MASA and TSN do): the clip is cut
    into ``max_frames`` equal segments and one frame is drawn uniformly in each (torch's
    global generator, so DataLoader seeding reproduces it); frames stay in order.

    >>> crop_indices(10, 4).tolist(), crop_indices(10, 4, "center").tolist()
    ([0, 3, 6, 9], [3, 4, 5, 6])
    """
    if num_frames <= max_frames:
        return np.arange(num_frames)
    if crop == "random":
        # integer segment edges, strictly increasing since num_frames > max_frames
        edges = np.round(np.linspace(0, num_frames, max_frames + 1)).astype(np.int64)
        u = torch.rand(max_frames, dtype=torch.float64).numpy()
        idx = edges[:-1] + np.floor(u * (edges[1:] - edges[:-1])).astype(np.int64)
        return idx  # segment k = [edges[k], edges[k+1]), one frame each
    if crop == "uniform":
        return np.round(np.linspace(0, num_frames - 1, max_frames)).astype(np.int64)
    if crop == "center":
        start = (num_frames - max_frames) // 2
        return np.arange(start, start + max_frames)
    if crop == "start":
        return np.arange(max_frames)
    raise ValueError(f"crop must be 'uniform', 'center', 'start' or 'random', got {crop!r}")


def collate_poses(
    samples: Sequence[dict[str, Any]], max_frames: int | None = 64, crop: Crop = "uniform"
) -> dict[str, Any]:
    """Stack :class:`~signssl.data.dataset.PoseDataset` samples into one batch (module
    docstring for the keys and shapes).

    Args:
        samples: dicts with ``pose`` (a ``PoseSequence``), ``label``, ``path``, ``signer``.
        max_frames: longest T kept; ``None`` = the longest sample.
        crop: how a longer sample is shortened (``uniform`` / ``center`` / ``start``).
    Raises:
        ValueError: an empty batch, or samples with different joint/coordinate counts
            (build them with one ``layout`` and ``dims``).
    """
    if not samples:
        raise ValueError("collate_poses got an empty list of samples")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    if crop not in ("uniform", "center", "start", "random"):
        raise ValueError(f"crop must be 'uniform', 'center', 'start' or 'random', got {crop!r}")
    poses: list[PoseSequence] = [s["pose"] for s in samples]
    shapes = {p.xyz.shape[1:] for p in poses}
    if len(shapes) > 1:
        raise ValueError(
            f"samples have different (joints, coords) shapes {sorted(shapes)} (first: "
            f"{samples[0].get('path')}); read them with one layout and dims"
        )
    keep = [crop_indices(p.num_frames, max_frames or p.num_frames, crop) for p in poses]
    lengths = [len(k) for k in keep]
    B, T = len(poses), max(lengths)
    J, C = poses[0].xyz.shape[1:]
    x = np.zeros((B, T, J, C), np.float32)
    conf = np.zeros((B, T, J), np.float32)
    frame_mask = np.ones((B, T), bool)  # True = padded
    for b, (p, k) in enumerate(zip(poses, keep, strict=True)):
        x[b, : len(k)] = p.xyz[k]  # (t, J, C)
        conf[b, : len(k)] = p.conf[k]  # (t, J)
        frame_mask[b, : len(k)] = False
    return {
        "x": torch.from_numpy(x),
        "conf": torch.from_numpy(conf),
        "frame_mask": torch.from_numpy(frame_mask),
        "label": torch.tensor([int(s.get("label", -1)) for s in samples], dtype=torch.long),
        "length": torch.tensor(lengths, dtype=torch.long),
        "path": [str(s.get("path", "")) for s in samples],
        "signer": [str(s.get("signer") or "") for s in samples],
        "index": torch.tensor([int(s.get("index", -1)) for s in samples], dtype=torch.long),
    }


def share_batches_by_file() -> None:
    """Have DataLoader workers hand their batches over as named shared-memory files
    (torch's ``file_system`` sharing strategy) instead of file descriptors.

    With the default strategy the training process opens a connection to the worker's
    resource sharer for every tensor of every batch: 4-6 ms of wall time per batch of
    collated poses here, 1.6-2.0 ms with named files (``benchmarks/bench_scale.py``,
    docs/scale.md), against a 30 ms training step of the tiny model.  It also avoids
    running out of file descriptors on long runs.  Shared memory a killed run leaves
    behind is freed by torch's ``torch_shm_manager``.  Process-wide; called by the
    loaders below when they start worker processes.
    """
    if torch.multiprocessing.get_sharing_strategy() != "file_system":
        torch.multiprocessing.set_sharing_strategy("file_system")


def pose_loader(
    dataset: Dataset,
    batch_size: int = 64,
    shuffle: bool = False,
    max_frames: int | None = 64,
    crop: Crop = "uniform",
    num_workers: int = 0,
    drop_last: bool = False,
    seed: int | None = None,
) -> DataLoader:
    """A ``DataLoader`` batching with :func:`collate_poses` (``seed`` fixes the shuffle)."""
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    if num_workers > 0:
        share_batches_by_file()
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=partial(collate_poses, max_frames=max_frames, crop=crop),
        num_workers=num_workers,
        drop_last=drop_last,
        generator=generator,
        persistent_workers=num_workers > 0,
    )
