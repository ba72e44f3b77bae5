"""Frozen-feature evaluation of an encoder on the splits of a manifest.

:func:`split_features` embeds the ``train`` and ``test`` splits of a manifest with an
encoder, reading the clips the way the encoder was trained (layout, dims,
normalisation, frame budget); :func:`frozen_eval` runs the frozen-feature protocols
(retrieval, linear probe) on them and returns flat metrics.

Video encoders (``DataSpec.modality == "video"``, e.g. a SignRep or pixel-MAE Hiera) embed
one clip per video: the central window of ``clip_len`` frames (the encoder's
``num_frames``, 16; every ``frame_step``-th frame, resampled to ``fps`` when given; a
shorter video repeats its last frame), plainly resized to the encoder's input size
(docs/methods.md#signrep-model: no crop at inference), through ``encoder.embed`` (mean
of the unmasked tokens, final LayerNorm).  Video manifests name the video in ``path``; synthetic
manifests (pose in ``path``, video in the ``video`` column) are converted with
:func:`signssl.data.signrep.video_manifest`.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import DataLoader

from signssl.data import PoseDataset, check_split_names, signer_independent_split
from signssl.data.signrep import require_video_manifest
from signssl.data.video import VideoDataset, collate_videos
from signssl.errors import DataError
from signssl.eval.features import extract_features
from signssl.eval.linear_probe import linear_probe
from signssl.eval.retrieval import retrieval_eval
from signssl.models.base import Encoder
from signssl.store.spec import DataSpec


def ensure_splits(manifest: Any, test_fraction: float = 0.25, seed: int = 0) -> Any:
    """The manifest itself when it has ``train`` and ``test`` rows, else a
    signer-independent split of it (signers never shared between train and test).
    Unknown split names (``tset``) are an error rather than silently re-split."""
    check_split_names(manifest, (), "evaluation")
    splits = {row.split for row in manifest.rows}
    if {"train", "test"} <= splits:
        return manifest
    return signer_independent_split(manifest, test_fraction=test_fraction, seed=seed)


def split_features(
    encoder: Any,
    manifest: Any,
    spec: DataSpec,
    batch_size: int = 64,
    progress: bool = False,
    splits: tuple[str, str] = ("train", "test"),
) -> tuple[Any, Any]:
    """``(train Features, test Features)`` of ``manifest``'s splits (bad clips skipped).

    Labels use the class list of the whole manifest, so both splits share indices.
    ``splits`` names the two splits (e.g. ``("train", "val")`` for validation).
    """
    classes = manifest.labels()
    if spec.modality == "video":
        train, test = (
            video_features(encoder, manifest, spec, split, classes, batch_size, progress)
            for split in splits
        )
        return train, test
    out = []
    for split in splits:
        ds = split_dataset(manifest, spec, split, classes)
        out.append(
            extract_features(
                encoder, ds, batch_size=batch_size, progress=progress, max_frames=spec.max_frames
            )
        )
    return out[0], out[1]


def split_dataset(
    manifest: Any, spec: DataSpec, split: str, classes: list[str], cache: bool = False
) -> Any:
    """The pose clips of one split, read as ``spec`` says (bad clips skipped and counted by
    the scan; an empty split raises :class:`DataError`)."""
    ds = PoseDataset(
        manifest,
        layout=spec.layout,
        dims=spec.dims,
        normalize=spec.normalize,
        split=split,
        on_error="skip",
        cache=cache,
        classes=classes,
        trim_empty=spec.trim_empty,
    )
    report = ds.scan(progress=False)
    if len(ds) == 0:
        raise DataError(f"no usable clip in the '{split}' split of the manifest "
                        f"({report.summary()}; {report.explain_none_kept()})")
    return ds


class VideoClipEncoder(Encoder):
    """Adapter: ``embed(batch)`` of a video batch dict (``video (B, T, 3, H, W)``, as
    :func:`signssl.data.video.collate_videos` gives) with a video encoder taking
    ``(B, 3, T, H, W)``.  Keeps the wrapped encoder's train / eval mode."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.out_dim = int(encoder.out_dim)
        self.train(encoder.training)

    def forward_features(self, x: Any, mask: Any = None) -> Any:
        return self.encoder.forward_features(_clips(x), mask)

    def embed(self, x: Any) -> Any:
        return self.encoder.embed(_clips(x))


def _clips(x: Any) -> Any:
    video = x["video"] if isinstance(x, dict) else x
    return video.permute(0, 2, 1, 3, 4)  # (B, T, 3, H, W) -> (B, 3, T, H, W)


def video_features(
    encoder: Any,
    manifest: Any,
    spec: DataSpec,
    split: str,
    classes: list[str],
    batch_size: int = 64,
    progress: bool = False,
) -> Any:
    """Features of the videos of one split (module docstring: centre clip, plain resize)."""
    size = getattr(encoder, "input_size", None)
    if size is None and (spec.clip_len is None or spec.frame_size is None):
        raise DataError(
            f"{type(encoder).__name__} has no input_size: give DataSpec.clip_len and frame_size"
        )
    clip_len = spec.clip_len or int(size[0])
    frame_size = tuple(spec.frame_size) if spec.frame_size else (int(size[1]), int(size[2]))
    ds = VideoDataset(
        require_video_manifest(manifest),
        clip_len=clip_len,
        sampling="center",
        frame_step=spec.frame_step,
        fps=spec.fps,
        size=frame_size,  # type: ignore[arg-type]
        split=split,
        classes=classes,
        on_error="skip",
        seed=0,
    )
    ds.scan(progress=False)
    if len(ds) == 0:
        raise DataError(f"no usable video in the '{split}' split of the manifest")
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate_videos)
    return extract_features(
        VideoClipEncoder(encoder), loader, label_names=classes, progress=progress
    )


def frozen_eval(
    train: Any, test: Any, protocols: tuple[str, ...] = ("retrieval", "linear"), seed: int = 0
) -> dict[str, float]:
    """Flat metrics ``{"<protocol>/<metric>": value}`` of frozen-feature protocols.

    ``retrieval``: the training clips are the dictionary, test clips the queries
    (DCG, MRR, Recall@k, top-k); ``linear``: logistic regression on the training
    features, scored on the test features (top-k per instance / per class).
    """
    metrics: dict[str, float] = {}
    for protocol in protocols:
        if protocol == "retrieval":
            result = retrieval_eval(train, test)
        elif protocol == "linear":
            result = linear_probe(train, test, seed=seed)
        else:
            raise ValueError(f"unknown protocol {protocol!r}")
        for name, value in result.metrics.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                metrics[f"{protocol}/{name}"] = float(value)
    return metrics
