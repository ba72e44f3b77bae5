"""Small shared helpers: atomic file writes, JSON, seeding."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    A killed process leaves either the old file or the new one, never a partial file
    (the temporary is removed on error).  The temporary keeps ``path``'s suffix so
    libraries that choose a format by extension still work.

    >>> with atomic_path("out.npz") as tmp:          # doctest: +SKIP
    ...     np.savez(tmp, a=1)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; use the usual file mode
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_savez(path: str | Path, **arrays: Any) -> Path:
    """Write an uncompressed ``.npz`` of ``arrays`` atomically (file handle, so numpy
    adds no ``.npz`` suffix to the temporary name); returns ``path``."""
    import numpy as np

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_json(path: str | Path, obj: Any) -> None:
    """Write strict JSON atomically (indent 2, numpy values converted, NaN and +-inf
    written as ``null``: strict parsers reject the ``NaN`` token)."""
    text = json.dumps(json_ready(obj), indent=2, default=_json_default, allow_nan=False)
    atomic_write_text(path, text + "\n")


def json_ready(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays as Python values, tuples as lists and every
    non-finite float as ``None`` (recursively through dicts, lists and tuples).

    >>> json_ready({"a": float("nan"), "b": [1.5, np.float32("inf")]})
    {'a': None, 'b': [1.5, None]}
    """
    if isinstance(obj, np.ndarray | np.generic):
        obj = obj.tolist()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_ready(v) for v in obj]
    return obj


def _json_default(o: Any) -> Any:
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def json_float(value: Any, default: float = float("nan")) -> float:
    """A float read back from JSON: ``null`` (a non-finite value written by
    :func:`save_json`) gives ``default``."""
    return default if value is None else float(value)


def json_floats(values: dict[str, Any]) -> dict[str, float]:
    """A ``{name: float}`` mapping read back from JSON, ``null`` as ``nan``."""
    return {k: json_float(v) for k, v in values.items()}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
