"""Video pretraining data: pairs of crops of one video, their sign priors, batch augmentation.

SignRep (docs/methods.md#signrep-style-adversary) trains on batches of ``N`` videos, each
seen through two random 16-frame crops ``a_i`` and ``b_i``; the pixel-MAE baseline reads
the same batches without priors.  :class:`PairClipDataset` gives one sample per video
row::

    video            (K, T, 3, H, W) uint8   K crops (default 2) of T frames, plain resize
    frame_indices    (K, T) int64            source frame number of every frame
    priors           {name: (K, T, dim)}     per-frame priors (float32), without activity
    priors_valid     {name: (K, T, dim)}     bool, True = valid target
    activity         (K, 2) float32          clip-level (left, right) hand activity, 0/1
    activity_valid   (K, 2) bool
    label, index, path, signer               as in :class:`~signssl.data.video.VideoDataset`

(the ``priors*`` and ``activity*`` keys only with ``priors=True``).  The crops are drawn
independently (uniform start, :func:`~signssl.data.video.clip_positions`) and decoded in
one pass over the file.  :func:`collate_pairs` stacks ``N`` samples into
``video (N, K, T, 3, H, W)``, ``priors[name] (N, K, T, dim)``, ``activity (N, K, 2)`` ...;
crop ``k`` of video ``i`` is entry ``[i, k]``, so crops of different entries ``i`` always
come from different rows of the manifest.

Priors (docs/methods.md#signrep-priors) come from the row's 3D pose, aligned with the
crop's frames (:func:`~signssl.data.video.align_pose_frames`), through
:func:`signssl.priors.compute_priors_batch` with ``activity_window=None``: the activity of
a crop is decided over the crop's own frames (the pretraining clip), so every frame of a
crop carries the same value.  With ``priors_dir`` (the output folder of ``signssl
priors``, computed on the pose files) they are read from the precomputed ``.npz`` of the
row's pose file instead (frame ``f`` of the video = frame ``f - start`` of the file, the
pose sampled at the video's rate) and the activity there is per frame (centred 16-frame
windows).  Either way the clip-level target is :func:`clip_activity`: a hand is active in
a crop when it is active in the majority (more than half) of the crop's frames whose
activity is valid; the target is valid when at least one frame's is.

Manifests: a video manifest names the video in ``path`` and its pose file in the column
``pose_path`` (``signssl extract-poses``); a synthetic manifest (``signssl synth
--video``) names the pose file in ``path`` and the video in the column ``video``:
:func:`video_manifest` turns the second form into the first.

Clips that cannot be used are skipped and counted (``on_error="skip"``,
:meth:`PairClipDataset.report`): unreadable or missing videos, missing or mismatched pose
files, poses in a layout without body and hands, and poses without any detected point
(reason ``no usable pose``).  :meth:`PairClipDataset.scan` checks every row up front so
the epoch length is exact.

:class:`VideoAugment` is the batch augmentation (kornia, run where the batch is, e.g. on
the GPU): Planckian jitter, random resized crop (scale 0.8-1), Gaussian blur and
grayscale (p 0.1), with the same parameters on every frame of a crop and independent
parameters for every crop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from signssl.data.loading import SampleError
from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.priors import priors_relpath
from signssl.data.report import ItemReport
from signssl.data.samples import POSE_EXTENSIONS, VIDEO_EXTENSIONS
from signssl.data.video import (
    POSE_COLUMN,
    POSE_MISMATCH,
    VideoDataset,
    _as_sample_error,
    align_pose_frames,
)
from signssl.errors import ConfigError, SignSSLError
from signssl.io.video import read_frames
from signssl.io.video_frames import frames_to_tensor
from signssl.pose.sequence import PoseSequence
from signssl.priors import Priors, compute_priors, compute_priors_batch
from signssl.utils import progress_bar

#: manifest column of the synthetic sets naming the video of a pose row
SYNTH_VIDEO_COLUMN = "video"
NO_USABLE_POSE = "no usable pose"
NO_PRIORS_FILE = "no priors file"
ACTIVITY = "activity"
_PRIOR_TOLERANCE = 2  # frames a precomputed priors file may be shorter than its video


# ----------------------------------------------------------------------------- manifests


def video_manifest(manifest: Manifest, video_column: str = SYNTH_VIDEO_COLUMN) -> Manifest:
    """The manifest with the video of every row in ``path`` and its pose in ``pose_path``.

    A row whose ``path`` is a pose file and which names a video in ``video_column`` (the
    synthetic sets) becomes ``path = <video>``, ``pose_path = <pose file>``; other rows
    (already video rows) are kept as they are.  Paths stay relative to the same root.

    >>> m = Manifest([ManifestRow("poses/a.pose", "x", extra={"video": "videos/a.mp4"})])
    >>> row = video_manifest(m).rows[0]
    >>> row.path, row.extra["pose_path"]
    ('videos/a.mp4', 'poses/a.pose')
    """
    rows = []
    for row in manifest.rows:
        video = row.extra.get(video_column, "").strip()
        is_pose = Path(row.path).suffix.lower() in POSE_EXTENSIONS
        if video and is_pose and not row.extra.get(POSE_COLUMN, "").strip():
            extra = {k: v for k, v in row.extra.items() if k != video_column}
            extra[POSE_COLUMN] = row.path
            row = replace(row, path=video, extra=extra)
        rows.append(row)
    return Manifest(rows, manifest.root)


def is_video_manifest(manifest: Manifest) -> bool:
    """True when the rows (after :func:`video_manifest`) name video files."""
    rows = video_manifest(manifest).rows
    return bool(rows) and all(Path(r.path).suffix.lower() in VIDEO_EXTENSIONS for r in rows)


def require_video_manifest(manifest: Manifest, where: str | Path | None = None) -> Manifest:
    """:func:`video_manifest`, raising :class:`ConfigError` when a row names no video."""
    out = video_manifest(manifest)
    bad = [r.path for r in out.rows if Path(r.path).suffix.lower() not in VIDEO_EXTENSIONS]
    if not out.rows or bad:
        first = bad[0] if bad else "-"
        arrays = any(Path(p).suffix.lower() == ".npy" for p in bad)
        hint = (" (`.npy` frame arrays from `signssl synth --video-format npy` carry no frame "
                "rate and are for your own analysis: render mp4, the default, for training)"
                if arrays else "")
        raise ConfigError(
            f"{where or 'the manifest'}: a video method needs rows naming videos "
            f"({', '.join(VIDEO_EXTENSIONS)}), e.g. from `signssl synth --video` or "
            f"`signssl extract-poses`; {len(bad)} row(s) do not (first: {first}){hint}"
        )
    return out


# ----------------------------------------------------------------------------- activity


def clip_activity(activity: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clip-level hand activity from per-frame values (majority of the valid frames).

    Args:
        activity: ``(T, 2)`` per-frame 0/1 activity (left, right).
        valid: ``(T, 2)`` bool, True = valid.
    Returns:
        ``(target (2,) float32, valid (2,) bool)``: a hand is active when active in more
        than half of its valid frames; valid when at least one frame is.

    >>> a = np.array([[1, 0], [1, 1], [0, 1]]); v = np.array([[1, 1], [1, 1], [0, 1]], bool)
    >>> clip_activity(a, v)
    (array([1., 1.], dtype=float32), array([ True,  True]))
    """
    ok = valid.astype(bool)
    votes = ((activity > 0.5) & ok).sum(axis=0)  # (T, 2) -> (2,) active valid frames
    counts = ok.sum(axis=0)  # (2,)
    target = (2 * votes > counts).astype(np.float32)
    return target, counts > 0


# ----------------------------------------------------------------------------- dataset


class PairClipDataset(VideoDataset):
    """``crops`` random crops of one video per sample, with their priors (module docstring).

    Args:
        manifest: a video manifest, or a synthetic one (converted by :func:`video_manifest`).
        clip_len: frames per crop (the encoder's ``num_frames``, 16).
        size: ``(height, width)`` of the frames (plain resize; the encoder's input size).
        crops: crops per video (2 for SignRep's pairs).
        priors: compute / read the sign priors of every crop.
        priors_dir: folder written by ``signssl priors``; ``None`` = compute from the pose.
        bone_lengths: standard bone lengths for the priors (``None`` = built-in).
        frame_step, fps, split, classes, on_error, seed: as :class:`VideoDataset`.
    """

    def __init__(
        self,
        manifest: Manifest | str | Path,
        clip_len: int = 16,
        size: tuple[int, int] = (224, 224),
        crops: int = 2,
        priors: bool = True,
        priors_dir: str | Path | None = None,
        bone_lengths: Any = None,
        frame_step: int = 1,
        fps: float | None = None,
        split: str | None = None,
        classes: Sequence[str] | None = None,
        on_error: str = "skip",
        seed: int | None = None,
    ) -> None:
        full = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
        if crops < 1:
            raise ConfigError(f"crops must be >= 1, got {crops}")
        if priors_dir is not None and not Path(priors_dir).is_dir():
            raise ConfigError(
                f"priors_dir {priors_dir} is not a folder; make it with `signssl priors` or "
                "leave it unset to compute the priors from the pose files"
            )
        with_pose = bool(priors) and priors_dir is None
        where = full.root if isinstance(manifest, Manifest) else manifest
        super().__init__(
            require_video_manifest(full, where),
            clip_len=clip_len,
            sampling="random",
            frame_step=frame_step,
            fps=fps,
            size=(int(size[0]), int(size[1])),
            with_pose=with_pose,
            split=split,
            classes=classes,
            on_error=on_error,  # type: ignore[arg-type]
            seed=seed,
        )
        self.crops, self.priors = int(crops), bool(priors)
        self.priors_dir = None if priors_dir is None else Path(priors_dir)
        self.bone_lengths = bone_lengths

    # ------------------------------------------------------------------ one sample

    def load(self, row_index: int) -> dict[str, Any]:
        """The sample of row ``row_index``; raises ``SampleError`` for a bad row."""
        path = self.video_path(row_index)
        try:
            source = self.video_source(row_index)
            wanted = np.stack([self.frames_of(row_index) for _ in range(self.crops)])  # (K, T)
            clip = read_frames(source, wanted.reshape(-1), size=self.size, tolerance=1)  # K T frames
            assert clip.frame_indices is not None
            frames = frames_to_tensor(clip.frames, "uint8")  # (K T, 3, H, W)
            K, T = self.crops, self.clip_len
            video = frames.view(K, T, *frames.shape[1:])  # (K T, 3, H, W) -> (K, T, 3, H, W)
            read = clip.frame_indices.reshape(K, T)  # (K T,) -> (K, T)
            row = self.manifest.rows[row_index]
            sample: dict[str, Any] = {
                "video": video,
                "frame_indices": torch.from_numpy(read.copy()),
                "label": self.labels[row_index],
                "path": str(path),
                "signer": row.signer or "",
                "index": self.sample_index(row_index),
            }
            if self.priors:
                sample.update(self.crop_priors(row_index, read))
        except SignSSLError as e:
            raise _as_sample_error(e, path) from e
        return sample

    def crop_priors(self, row_index: int, read: np.ndarray) -> dict[str, Any]:
        """Priors of the crops whose source frames are ``read (K, T)`` (module docstring)."""
        if self.priors_dir is not None:
            values, valid = self._stored_priors(row_index, read)
        else:
            values, valid = self._computed_priors(row_index, read)
        if not any(bool(v.any()) for n, v in valid.items() if n != ACTIVITY):
            raise SampleError(
                NO_USABLE_POSE,
                "no valid sign prior in the sampled frames (no body or hand point with "
                "confidence >= 0.5); check the pose file",
                self.video_path(row_index),
            )
        acts = [clip_activity(values[ACTIVITY][k], valid[ACTIVITY][k]) for k in range(self.crops)]
        return {
            "priors": {n: torch.from_numpy(v) for n, v in values.items() if n != ACTIVITY},
            "priors_valid": {n: torch.from_numpy(v) for n, v in valid.items() if n != ACTIVITY},
            "activity": torch.from_numpy(np.stack([a for a, _ in acts])),  # (K, 2)
            "activity_valid": torch.from_numpy(np.stack([v for _, v in acts])),  # (K, 2)
        }

    def _computed_priors(
        self, row_index: int, read: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        seq, pose_path = self.read_pose(row_index)
        fps = self.source_fps(row_index)
        crops = [align_pose_frames(read[k], fps, seq, pose_path) for k in range(self.crops)]
        pri = compute_priors_batch(crops, self.bone_lengths, activity_window=None)
        names = pri[0].values.keys()
        values = {n: np.stack([p.values[n] for p in pri]) for n in names}  # (K, T, dim)
        valid = {n: np.stack([p.valid[n] for p in pri]) for n in names}
        return values, valid

    def priors_file(self, row_index: int) -> Path:
        """The precomputed ``.npz`` of a row: its pose file's entry under ``priors_dir``."""
        assert self.priors_dir is not None
        row = self.manifest.rows[row_index]
        pose = row.extra.get(POSE_COLUMN, "").strip() or row.path
        pose_row = ManifestRow(pose, start=row.start, end=row.end)
        return self.priors_dir / priors_relpath(Manifest([pose_row], self.manifest.root), pose_row)

    def stored_priors_of(self, row_index: int) -> tuple[Priors, str]:
        """The row's precomputed priors and where they come from (for messages): its
        ``.npz`` under ``priors_dir`` (a shard reader: the stored member)."""
        path = self.priors_file(row_index)
        if not path.is_file():
            raise SampleError(
                NO_PRIORS_FILE,
                f"no precomputed priors file {path}; run `signssl priors` on the pose files "
                "or leave data.video.priors_dir unset",
                self.video_path(row_index),
            )
        return Priors.load(path), f"priors file {path}"

    def _stored_priors(
        self, row_index: int, read: np.ndarray
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        pri, origin = self.stored_priors_of(row_index)
        idx = read - (self.manifest.rows[row_index].start or 0)  # (K, T) file frames
        last = pri.num_frames - 1
        if int(idx.max()) > last + _PRIOR_TOLERANCE:
            raise SampleError(
                POSE_MISMATCH,
                f"{origin} has {pri.num_frames} frames but frame {int(idx.max())} is "
                "needed; recompute the priors of this video's pose",
                self.video_path(row_index),
            )
        idx = np.clip(idx, 0, last)
        values = {n: v[idx] for n, v in pri.values.items()}  # (T', dim) -> (K, T, dim)
        valid = {n: v[idx] for n, v in pri.valid.items()}
        return values, valid

    # ------------------------------------------------------------------ checks

    def check_row(self, row_index: int) -> None:
        """Raise ``SampleError`` when row ``row_index`` cannot give a sample (no decoding)."""
        path = self.video_path(row_index)
        self.check_source(row_index)
        try:
            self.frames_of(row_index)
            if not self.priors:
                return
            if self.priors_dir is not None:
                file = self.priors_file(row_index)
                if not file.is_file():
                    raise SampleError(
                        NO_PRIORS_FILE,
                        f"no precomputed priors file {file}; run `signssl priors` on the pose "
                        "files or leave data.video.priors_dir unset",
                        path,
                    )
                return
            seq, _ = self.read_pose(row_index)
            check_pose(seq, path)
        except SignSSLError as e:
            raise _as_sample_error(e, path) from e

    def scan(self, progress: bool = True) -> ItemReport:
        """Check every row once (video frames, pose or priors file, usable pose) and keep
        only the good ones; returns :meth:`report`."""
        rows = list(self._indices)
        for row_index in progress_bar(rows, desc="checking videos", unit="video", disable=not progress):
            try:
                self.check_row(row_index)
            except SampleError as e:
                self.record(row_index, e)
                continue
            self._ok.add(row_index)
        self._indices = [i for i in self._indices if i not in self._bad]
        return self.report()

    def __repr__(self) -> str:
        return (
            f"PairClipDataset({len(self)} videos, crops={self.crops}, clip_len={self.clip_len}, "
            f"size={self.size}, priors={'file' if self.priors_dir else self.priors})"
        )


def check_pose(seq: PoseSequence, path: Path) -> None:
    """Raise ``SampleError`` when ``seq`` has no detected point or cannot give priors."""
    if seq.num_frames == 0 or not bool((seq.conf > 0).any()):
        raise SampleError(NO_USABLE_POSE, "the pose file has no detected point", path)
    head = replace(seq, xyz=seq.xyz[:2], conf=seq.conf[:2])  # 2 frames: layout check only
    try:
        compute_priors(head, activity_window=None)
    except SignSSLError as e:
        raise SampleError(NO_USABLE_POSE, f"no sign priors from this pose: {e}", path) from e


# ----------------------------------------------------------------------------- batching


def collate_pairs(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Stack :class:`PairClipDataset` samples (module docstring for the shapes)."""
    if not samples:
        raise ValueError("collate_pairs got an empty list of samples")
    shapes = {tuple(s["video"].shape) for s in samples}
    if len(shapes) > 1:
        raise ValueError(f"crops have different shapes {sorted(shapes)}; use one clip_len and size")
    batch: dict[str, Any] = {
        "video": torch.stack([s["video"] for s in samples]),  # (N, K, T, 3, H, W)
        "frame_indices": torch.stack([s["frame_indices"] for s in samples]),  # (N, K, T)
        "label": torch.tensor([s["label"] for s in samples], dtype=torch.long),
        "index": torch.tensor([s["index"] for s in samples], dtype=torch.long),
        "path": [s["path"] for s in samples],
        "signer": [s["signer"] for s in samples],
    }
    if "priors" in samples[0]:
        names = list(samples[0]["priors"])
        batch["priors"] = {n: torch.stack([s["priors"][n] for s in samples]) for n in names}
        batch["priors_valid"] = {
            n: torch.stack([s["priors_valid"][n] for s in samples]) for n in names
        }  # (N, K, T, dim) each
        batch["activity"] = torch.stack([s["activity"] for s in samples])  # (N, K, 2)
        batch["activity_valid"] = torch.stack([s["activity_valid"] for s in samples])
    return batch


# ----------------------------------------------------------------------------- augmentation


def blur_kernel(height: int) -> int:
    """Odd Gaussian-blur kernel of about a tenth of the frame height (at least 3)."""
    k = max(3, int(round(0.1 * height)))
    return k if k % 2 else k + 1


class VideoAugment(nn.Module):
    """Batch augmentation of crops ``(M, T, 3, H, W)`` -> float ``(M, T, 3, H, W)`` in [0, 1].

    Planckian jitter (black-body illuminants, probability ``jitter_p``), random resized
    crop back to ``(H, W)`` (area ``crop_scale``, aspect 3/4-4/3), Gaussian blur (kernel
    :func:`blur_kernel`, sigma 0.1-2, probability ``blur_p``) and grayscale
    (``gray_p``); kornia's ``VideoSequential`` with ``same_on_frame=True``: one draw per
    crop, applied to all its frames.  ``uint8`` input is divided by 255 first.  Random
    numbers come from torch's global generator (seeded per step by the engine).

    The paper lists the four transforms (docs/methods.md#signrep-training); the
    probabilities, the blur size and the jitter mode are our choice, the crop scale (0.8-1)
    and the grayscale probability (0.1) are the project's defaults.
    """

    def __init__(
        self,
        size: tuple[int, int],
        jitter_p: float = 0.8,
        crop_scale: tuple[float, float] = (0.8, 1.0),
        blur_p: float = 0.5,
        gray_p: float = 0.1,
    ) -> None:
        super().__init__()
        import kornia.augmentation as K

        for name, p in (("jitter_p", jitter_p), ("blur_p", blur_p), ("gray_p", gray_p)):
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {p}")
        lo, hi = float(crop_scale[0]), float(crop_scale[1])
        if not 0.0 < lo <= hi <= 1.0:
            raise ConfigError(f"crop_scale must satisfy 0 < min <= max <= 1, got {crop_scale}")
        H, W = int(size[0]), int(size[1])
        k = blur_kernel(H)
        self.size = (H, W)
        self.pipeline = K.VideoSequential(
            K.RandomPlanckianJitter(mode="blackbody", p=jitter_p),
            K.RandomResizedCrop((H, W), scale=(lo, hi)),
            K.RandomGaussianBlur((k, k), (0.1, 2.0), p=blur_p),
            K.RandomGrayscale(p=gray_p),
            data_format="BTCHW",
            same_on_frame=True,
        )

    def forward(self, clips: Tensor) -> Tensor:
        if clips.ndim != 5 or clips.shape[2] != 3:
            raise ConfigError(
                f"VideoAugment expects crops (M, T, 3, H, W), got {tuple(clips.shape)}"
            )
        x = clips.float() / 255.0 if clips.dtype == torch.uint8 else clips.float()
        return self.pipeline(x).clamp_(0.0, 1.0)  # (M, T, 3, H, W)
