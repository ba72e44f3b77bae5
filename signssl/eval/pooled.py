"""Pooled window features: one L2-normalised vector per manifest row.

:func:`pooled_features` gives one L2-normalised vector per row (Eq. 12, ``avg`` or
activity-``weighted``) as :class:`~signssl.eval.features.Features`, which
``signssl evaluate retrieval --pooling`` and ``signssl class-distribution`` use.
Rows are read as window batches by :class:`~signssl.eval.window_reader.WindowReader`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signssl.data.manifest import Manifest
from signssl.data.report import ItemReport
from signssl.errors import ConfigError, DataError
from signssl.eval.features import Features
from signssl.eval.window_reader import ClipInput, WindowReader, default_window, error_reason
from signssl.eval.windows import DEFAULT_STRIDE, WindowEmbedder, load_activity_head
from signssl.models.activity_head import activity_head_files
from signssl.models.base import Encoder
from signssl.store.model import load_described_model
from signssl.utils import progress_bar


def pooled_features(
    embedder: WindowEmbedder, reader: WindowReader, progress: bool = True
) -> tuple[Features, ItemReport]:
    """One pooled, L2-normalised vector per readable row (Eq. 12) + the skipped rows.

    ``Features.info["pooling"]`` records the pooling, window, stride and
    :class:`~signssl.eval.windows.PoolingStats` (weighted-pooling fall-backs).
    """
    report = ItemReport()
    vectors: list[np.ndarray] = []
    labels: list[str] = []
    paths: list[str] = []
    signers: list[str] = []
    for row_index in progress_bar(
        range(len(reader)), desc="window features", unit="video", disable=not progress, leave=False
    ):
        try:
            z, a = embedder.embed_batches(reader.batches(row_index))
        except DataError as e:  # a bad row; configuration errors stop the job
            report.add(error_reason(e), str(reader.path(row_index)), str(e))
            continue
        vectors.append(embedder.pool(z, a).vector.numpy())
        row = reader.row(row_index)
        labels.append(row.label or "")
        paths.append(str(reader.path(row_index)))
        signers.append(row.signer or "")
        report.kept += 1
    if not vectors:
        first = next((f"; first: {detail if item in detail else f'{item}: {detail}'}"
                      for probs in report.problems.values() for item, detail in probs), "")  # fmt: skip
        raise DataError(f"none of the {len(reader)} rows could be read ({report.summary()}){first}")
    info = {
        "pooling": {
            "mode": embedder.pooling,
            "window": embedder.window,
            "stride": embedder.stride,
            **embedder.stats.to_dict(),
        }
    }
    return Features(np.stack(vectors), labels, paths, signers, info), report


def make_embedder(
    encoder: Encoder,
    checkpoint: str | Path | None,
    pooling: str | None,
    window: int | None = None,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 64,
    device: str | None = None,
) -> WindowEmbedder:
    """A :class:`WindowEmbedder` for an encoder, with its run's activity head if any.

    ``pooling=None`` picks ``"weighted"`` when the run (``checkpoint``) has an activity
    head, else ``"avg"``; ``"weighted"`` without a head raises :class:`ConfigError`
    naming the missing file.
    """
    scorer = None if checkpoint is None else load_activity_head(checkpoint, encoder)
    if pooling is None:
        pooling = "weighted" if scorer is not None else "avg"
    if pooling == "weighted" and scorer is None:
        where = (
            "a training-free encoder has none"
            if checkpoint is None
            else f"{activity_head_files(checkpoint)[0]} does not exist"
        )
        raise ConfigError(
            f"pooling 'weighted' needs the run's activity head, but {where}; use pooling 'avg'"
        )
    return WindowEmbedder(
        encoder,
        default_window(encoder, window),
        stride,
        pooling,
        scorer if pooling == "weighted" else None,
        batch_size,
        device,
    )


def run_features(
    checkpoint: str | Path,
    manifest: str | Path | Manifest,
    split: str | None = None,
    pooling: str | None = None,
    window: int | None = None,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 64,
    device: str | None = None,
    progress: bool = True,
) -> tuple[Features, ItemReport]:
    """Pooled window features of a manifest's rows (one ``split`` or all) with a run."""
    m = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
    rows = m.filter(split=split) if split is not None else m
    if len(rows) == 0:
        raise DataError(
            f"no row of split {split!r} in the manifest (splits: {m.splits()})",
            None if isinstance(manifest, Manifest) else manifest,
        )
    encoder, description = load_described_model(checkpoint)
    embedder = make_embedder(encoder, checkpoint, pooling, window, stride, batch_size, device)
    reader = WindowReader(
        rows,
        ClipInput.of_description(description, encoder),
        embedder.window,
        stride,
        batch_size,
        classes=m.labels(),
    )
    feats, report = pooled_features(embedder, reader, progress)
    feats.info["checkpoint"] = str(Path(checkpoint).resolve())
    return feats, report
