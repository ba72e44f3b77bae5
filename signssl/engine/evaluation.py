"""Glue between a pretraining run and the evaluation suite (``signssl.eval``).

:func:`split_features` embeds the ``train`` and ``test`` splits of a manifest with an
encoder, reading the clips the way the encoder was trained (layout, dims,
normalisation, frame budget); :func:`frozen_eval` runs the frozen-feature protocols
(retrieval, linear probe) on them and returns flat metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signssl.errors import DataError


@dataclass
class DataSpec:
    """How clips are read for an encoder (what ``model/config.json`` records)."""

    layout: str = "masa49"
    dims: int = 2
    normalize: str = "shoulders"
    max_frames: int = 64


def ensure_splits(manifest: Any, test_fraction: float = 0.25, seed: int = 0) -> Any:
    """The manifest itself when it has ``train`` and ``test`` rows, else a
    signer-independent split of it (signers never shared between train and test)."""
    from signssl.data import signer_independent_split

    splits = {row.split for row in manifest.rows}
    if {"train", "test"} <= splits:
        return manifest
    return signer_independent_split(manifest, test_fraction=test_fraction, seed=seed)


def split_features(
    encoder: Any, manifest: Any, spec: DataSpec, batch_size: int = 64, progress: bool = False
) -> tuple[Any, Any]:
    """``(train Features, test Features)`` of ``manifest``'s splits (bad clips skipped).

    Labels use the class list of the whole manifest, so both splits share indices.
    """
    from signssl.data import PoseDataset
    from signssl.eval import extract_features

    classes = manifest.labels()
    out = []
    for split in ("train", "test"):
        ds = PoseDataset(
            manifest,
            layout=spec.layout,
            dims=spec.dims,
            normalize=spec.normalize,
            split=split,
            on_error="skip",
            cache=False,
            classes=classes,
        )
        ds.scan(progress=False)
        if len(ds) == 0:
            raise DataError(f"no usable clip in the '{split}' split of the manifest")
        out.append(
            extract_features(
                encoder, ds, batch_size=batch_size, progress=progress, max_frames=spec.max_frames
            )
        )
    return out[0], out[1]


def frozen_eval(
    train: Any, test: Any, protocols: tuple[str, ...] = ("retrieval", "linear"), seed: int = 0
) -> dict[str, float]:
    """Flat metrics ``{"<protocol>/<metric>": value}`` of frozen-feature protocols.

    ``retrieval``: the training clips are the dictionary, test clips the queries
    (DCG, MRR, Recall@k, top-k); ``linear``: logistic regression on the training
    features, scored on the test features (top-k per instance / per class).
    """
    from signssl.eval import linear_probe, retrieval_eval

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


def spec_of_run(path: str | Path) -> DataSpec:
    """The :class:`DataSpec` recorded with an exported model."""
    from signssl.engine.checkpoint import load_model_config

    config = load_model_config(path)
    return DataSpec(
        layout=str(config.get("layout", "masa49")),
        dims=int(config.get("dims", 2)),
        normalize=str(config.get("normalize", "shoulders")),
        max_frames=int(config.get("max_frames", 64)),
    )
