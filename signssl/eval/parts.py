"""Features files of a bulk job split with ``--part I/N`` (``signssl embed --out``).

Each part's ``.npz`` (:func:`signssl.data.parts.part_path` names it) records in its
``info["part"]`` which input rows it covered: ``{"part": [I, N], "rows": [start, stop,
total]}``.  :func:`merge_feature_parts` checks that those ranges tile ``[0, total)``
exactly (every input row in exactly one part) and concatenates the parts in part order,
which gives the unsplit run's features, row for row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from signssl.data import Manifest
from signssl.data.parts import WHOLE, order_parts, part_bounds, select_part
from signssl.errors import ConfigError, DataError
from signssl.eval.features import Features
from signssl.eval.pipeline import embed_manifest
from signssl.eval.shard_data import is_shards

PART_KEY = "part"


def part_info(part: tuple[int, int], n_rows: int) -> dict[str, Any]:
    """``info["part"]`` of a part covering its rows of ``n_rows`` input rows (``{}`` when whole)."""
    if part == WHOLE:
        return {}
    start, stop = part_bounds(n_rows, part)
    return {PART_KEY: {"part": list(part), "rows": [start, stop, n_rows]}}


def empty_features(info: dict[str, Any]) -> Features:
    """The features of a part with no row to embed (N > rows, or no row of ``--split``)."""
    none = np.zeros(0, dtype=str)
    return Features(np.zeros((0, 0), np.float32), none, none.copy(), none.copy(), info)


def merge_feature_parts(paths: Sequence[str | Path]) -> Features:
    """One :class:`Features` from the part files ``paths`` (any order; see the module docstring)."""
    ordered = order_parts(paths)
    parts = [Features.load(p) for p in ordered]
    expected_start, total = 0, None
    for path, feats in zip(ordered, parts, strict=True):
        meta = feats.info.get(PART_KEY)
        if not isinstance(meta, dict) or "rows" not in meta:
            raise DataError("has no part record (info['part']): write it with signssl embed "
                            "--part I/N", path)
        start, stop, n = (int(v) for v in meta["rows"])
        if total is not None and n != total:
            raise DataError(f"covers rows of a {n}-row manifest, the other parts of a {total}-row "
                            "one: rerun the parts of one manifest", path)
        total = n
        if start != expected_start:
            what = "missing" if start > expected_start else "in two parts"
            raise DataError(f"input rows {min(start, expected_start)}..{max(start, expected_start) - 1} "
                            f"are {what}: rerun the parts of one manifest", path)
        expected_start = stop
    if expected_start != total:
        raise DataError(f"input rows {expected_start}..{total} are in no part", ordered[-1])
    full = [(p, f) for p, f in zip(ordered, parts, strict=True) if len(f)]
    if not full:
        return empty_features({})
    info = {k: v for k, v in full[0][1].info.items() if k != PART_KEY}
    for path, feats in full[1:]:
        other = {k: v for k, v in feats.info.items() if k != PART_KEY}
        if other != info or feats.dim != full[0][1].dim:
            raise DataError(f"made by another encoder or settings than {full[0][0]}", path)
    cat = [f for _, f in full]
    return Features(
        np.concatenate([f.features for f in cat]), np.concatenate([f.labels for f in cat]),
        np.concatenate([f.paths for f in cat]), np.concatenate([f.signers for f in cat]), info,
    )


def embed_part(spec: Any, manifest: str | Path, part: tuple[int, int], split: str | None = None,
               **embed_options: Any) -> tuple[Features, Any]:
    """``signssl embed --out --part I/N``: features of part ``part`` of the manifest's rows
    (rows of ``split`` among them), with the part record in ``info``; the report is
    ``None`` for a part with no such row (it writes an empty file, merged as nothing).
    A shard folder is embedded whole (``part`` must be the whole)."""
    if is_shards(manifest):
        if part != WHOLE:
            raise ConfigError(f"{manifest}: --part splits a manifest's rows; embed a shard folder "
                              "whole (drop --part), or pass its manifest")
        return embed_manifest(spec, manifest, split, **embed_options)
    m = Manifest.read(manifest)
    rows = select_part(m.rows, part)
    record = part_info(part, len(m))
    if not any(split is None or r.split == split for r in rows):
        return empty_features(record), None
    feats, report = embed_manifest(spec, Manifest(rows, m.root, m.source), split, **embed_options)
    feats.info.update(record)
    return feats, report
