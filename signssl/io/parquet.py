"""Kaggle "Isolated Sign Language Recognition" (Google ASL Signs) parquet files.

One file per sign, long format: one row per (frame, landmark) with columns ``frame``,
``type`` (``face``, ``left_hand``, ``pose``, ``right_hand``), ``landmark_index``, ``x``,
``y``, ``z`` (``row_id`` is optional and ignored).  Missing landmarks are NaN (or absent
rows) and come out with confidence 0; present ones have confidence 1 (the files carry no
visibility).  The result is in the built-in ``holistic`` layout (pose 33 -> ``body``,
face 468, hands 21 each); frames are ordered by their ``frame`` number (which need not
start at 0) and numbers absent from the file are not filled in.  No frame rate is
stored: ``fps`` is ``None`` unless given.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signssl.errors import DataError
from signssl.io._common import LayoutArg, apply_layout, pick_fps, require_frames
from signssl.pose.layouts import get_layout
from signssl.pose.sequence import PoseSequence, sanitize
from signssl.utils import require_regular_file

REQUIRED_COLUMNS = ("frame", "type", "landmark_index", "x", "y", "z")
#: Kaggle ``type`` value -> part of the ``holistic`` layout
TYPE_TO_PART = {"pose": "body", "face": "face", "left_hand": "left_hand", "right_hand": "right_hand"}


def _read_table(path: Path):  # -> pyarrow.Table
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"is not a readable parquet file ({e}); it is truncated or corrupt", path) from None
    missing = [c for c in REQUIRED_COLUMNS if c not in schema.names]
    if missing:
        raise DataError(
            f"lacks column(s) {missing}; a Kaggle ISLR landmark file has columns "
            f"{list(REQUIRED_COLUMNS)} (+ row_id)",
            path,
        )
    try:
        return pq.read_table(path, columns=list(REQUIRED_COLUMNS))
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"is not a readable parquet file ({e}); it is truncated or corrupt", path) from None


def _type_codes(column, path: Path) -> tuple[np.ndarray, list[str]]:
    """Per-row integer codes and the distinct ``type`` strings they index."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if not pa.types.is_dictionary(col.type):
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            raise DataError(f"column 'type' must hold strings, got {col.type}", path)
        col = pc.dictionary_encode(col)
    if col.null_count:
        raise DataError(f"column 'type' has {col.null_count} empty value(s)", path)
    codes = col.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, [str(v) for v in col.dictionary.to_pylist()]


def _column(table, name: str, path: Path, dtype: type) -> np.ndarray:
    """A numeric column as numpy (nulls -> NaN for floats; not allowed for integers)."""
    import pyarrow as pa

    col = table.column(name)
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(f"column '{name}' must be numeric, got {col.type}", path)
    if dtype is np.int64 and col.null_count:
        raise DataError(f"column '{name}' has {col.null_count} empty value(s)", path)
    return col.to_numpy().astype(dtype)


def read_parquet(path: str | Path, layout: LayoutArg = None, fps: float | None = None) -> PoseSequence:
    """Read one Kaggle ISLR parquet file into the ``holistic`` layout.

    ``layout`` converts the result by joint name (e.g. ``masa49``); ``fps`` is recorded.
    """
    p = require_regular_file(path)  # the parquet reader would block on a named pipe
    table = _read_table(p)
    holistic = get_layout("holistic")
    frame = _column(table, "frame", p, np.int64)  # (R,)
    landmark = _column(table, "landmark_index", p, np.int64)  # (R,)
    coords = np.stack([_column(table, c, p, np.float64) for c in ("x", "y", "z")], -1)  # (R, 3)
    codes, names = _type_codes(table.column("type"), p)
    unknown = [n for n in names if n not in TYPE_TO_PART]
    if unknown:
        raise DataError(f"unknown landmark type(s) {unknown}; known: {sorted(TYPE_TO_PART)}", p)
    starts = np.array([holistic.part_slice(TYPE_TO_PART[n]).start for n in names], np.int64)
    sizes = np.array([len(holistic.part(TYPE_TO_PART[n]).joints) for n in names], np.int64)
    if len(frame):
        row_size = sizes[codes]  # (R,)
        bad = (landmark < 0) | (landmark >= row_size)
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"landmark_index {int(landmark[i])} is out of range for type "
                f"'{names[codes[i]]}' (0..{int(row_size[i]) - 1})",
                p,
            )
    frames, t_index = np.unique(frame, return_inverse=True)  # (T,), (R,)
    require_frames(len(frames), p)
    joint = starts[codes] + landmark  # (R,) index into the holistic joints
    xyz = np.full((len(frames), holistic.num_joints, 3), np.nan, np.float32)  # (T, J, 3)
    xyz[t_index, joint] = coords  # rows absent from the file stay NaN (missing)
    xyz, conf = sanitize(xyz, None, zero_is_missing=False)
    seq = PoseSequence(xyz, conf, holistic, pick_fps(None, fps, p), str(p))
    return apply_layout(seq, layout)
