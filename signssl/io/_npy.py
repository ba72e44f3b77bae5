"""A fast, pickle-free ``.npy`` loader for the many-small-files datasets.

``np.load`` parses every file's header with a Python literal evaluator, which costs
tens of microseconds per file; MP_Data folders hold one tiny file per frame, so that
dominates reading.  Here each distinct header is parsed once (with NumPy's own parser)
and cached; the data is then a single ``np.frombuffer``.  Object arrays are refused.
"""

from __future__ import annotations

import io
import math
import os
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np

from signssl.errors import DataError
from signssl.utils import read_file_bytes

_MAGIC = b"\x93NUMPY"
_PREFIX = len(_MAGIC) + 2  # magic + major + minor version bytes


@lru_cache(maxsize=256)
def _parse_header(version: tuple[int, int], header: bytes) -> tuple[np.dtype, tuple[int, ...], bool]:
    """``(dtype, shape, fortran_order)`` of one header (cached: frames share headers)."""
    fake = io.BytesIO(header)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fake)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fake)
    return dtype, tuple(int(n) for n in shape), bool(fortran)


def _corrupt(path: str | Path, what: str) -> DataError:
    return DataError(
        f"is not a readable .npy file ({what}); it is truncated or corrupt - re-export it "
        "or remove it",
        path,
    )


def load_npy(path: str | Path) -> np.ndarray:
    """Read a ``.npy`` file without pickles; :class:`DataError` naming the file otherwise.

    Returns the array (read-only view of the file bytes when C-ordered).
    """
    p = os.fspath(path)  # plain strings: pathlib costs show with thousands of files
    raw = read_file_bytes(p)  # a regular file only: a named pipe would block
    if len(raw) < _PREFIX + 2 or not raw.startswith(_MAGIC):
        raise _corrupt(p, "no .npy signature")
    version = (raw[6], raw[7])
    if version == (1, 0):
        hlen_size, (hlen,) = 2, struct.unpack_from("<H", raw, _PREFIX)
    elif version in ((2, 0), (3, 0)):
        if len(raw) < _PREFIX + 4:
            raise _corrupt(p, "header cut short")
        hlen_size, (hlen,) = 4, struct.unpack_from("<I", raw, _PREFIX)
    else:
        raise _corrupt(p, f"unknown format version {version}")
    start = _PREFIX + hlen_size + hlen
    if len(raw) < start:
        raise _corrupt(p, "header cut short")
    # NumPy's parser expects the length field and the header text
    header = raw[_PREFIX:start]
    try:
        dtype, shape, fortran = _parse_header((1, 0) if version == (1, 0) else (2, 0), header)
    except (ValueError, SyntaxError, TypeError, UnicodeDecodeError) as e:
        raise _corrupt(p, f"bad header: {e}") from None
    if dtype.hasobject:
        raise DataError(
            "holds Python objects (a pickle); such files are not loaded for safety - "
            "save plain numeric arrays",
            p,
        )
    count = math.prod(shape)
    expected = count * dtype.itemsize
    if len(raw) - start != expected:
        raise _corrupt(p, f"{len(raw) - start} data bytes, header says {expected}")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=start)
    if fortran:
        return arr.reshape(shape[::-1]).T
    return arr.reshape(shape)
