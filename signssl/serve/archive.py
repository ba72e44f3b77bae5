"""Compressed uploads checked by the sizes they declare, before anything is inflated.

A ``.npz`` is a zip of ``.npy`` arrays and a parquet file holds compressed column
chunks: a few kilobytes can inflate to gigabytes.  :func:`declared_bytes` adds up what
the headers announce (nothing is decompressed but each ``.npy`` member's header), and the
server refuses an upload announcing more than its limit:

* ``.npz``: per member, the larger of the zip entry's uncompressed size (Python's zip
  reader never inflates past it) and the array its ``.npy`` header declares
  (``prod(shape) * itemsize``: NumPy allocates that before reading the data);
* ``.parquet``: from the footer, the larger of the row groups' uncompressed size and
  8 bytes per value (rows x columns: dictionary or run-length encoded columns decode to
  at least that).

>>> import io, numpy as np
>>> buf = io.BytesIO()
>>> np.savez_compressed(buf, xyz=np.zeros((1000, 10, 3), np.float32))
>>> _ = buf.seek(0)
>>> declared_bytes(buf, ".npz")  # 1000 * 10 * 3 float32 and the 128-byte .npy header
120128
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO

import numpy as np

from signssl.errors import DataError

#: how many times the upload limit an upload may inflate to
INFLATE_FACTOR = 8


def declared_bytes(source: str | Path | IO[bytes], suffix: str) -> int:
    """Bytes a ``.npz`` or ``.parquet`` declares it inflates to; 0 for other formats.

    Raises:
        DataError: an archive whose directory or headers cannot be read.
    """
    if suffix == ".npz":
        return _npz_bytes(source)
    if suffix == ".parquet":
        return _parquet_bytes(source)
    return 0


def _npz_bytes(source: str | Path | IO[bytes]) -> int:
    try:
        with zipfile.ZipFile(source) as z:
            return sum(max(info.file_size, _npy_bytes(z, info)) for info in z.infolist())
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as e:
        raise DataError(f"is not a readable .npz file ({e}); it is truncated or corrupt") from None


def _npy_bytes(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The array size a ``.npy`` member's header declares (0 for other members)."""
    if not info.filename.endswith(".npy") or info.file_size < 10:
        return 0
    with z.open(info) as f:  # inflates the first few hundred bytes only
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(f)
    return math.prod(int(n) for n in shape) * int(dtype.itemsize)


def _parquet_bytes(source: str | Path | IO[bytes]) -> int:
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(source).metadata
    except Exception as e:  # pyarrow raises its own error types for a bad footer
        raise DataError(f"is not a readable parquet file ({type(e).__name__}); it is "
                        "truncated or corrupt") from None
    stored = sum(int(meta.row_group(i).total_byte_size) for i in range(meta.num_row_groups))
    return max(stored, 8 * int(meta.num_rows) * int(meta.num_columns))
