"""Small shared helpers: atomic file writes, JSON, seeding."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from signssl.errors import DataError


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


# ----------------------------------------------------------------------------- reading


def _user_error(error: type[Exception], message: str, path: str | Path) -> Exception:
    """``error`` naming ``path``: :class:`~signssl.errors.DataError` keeps the path as an
    attribute, other error classes get it as a ``"path: "`` prefix."""
    if issubclass(error, DataError):
        return error(message, path)
    return error(f"{path}: {message}")


def _file_kind(mode: int) -> str:
    """What a non-regular file is, for messages ('named pipe', 'socket', ...)."""
    kinds = (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "named pipe (FIFO)"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    )
    return next((name for test, name in kinds if test(mode)), "special file")


def _missing(error: type[Exception], path: str | Path) -> Exception:
    return _user_error(error, "does not exist; check the path (and the current directory)", path)


def _special(error: type[Exception], mode: int, path: str | Path) -> Exception:
    return _user_error(
        error, f"is a {_file_kind(mode)}, not a regular file; only regular files are read", path
    )


def _unreadable(error: type[Exception], e: OSError, path: str | Path) -> Exception:
    return _user_error(error, f"cannot be read ({e.strerror or e})", path)


def regular_file_error(path: str | Path, error: type[Exception] | None = None) -> Exception | None:
    """``None`` when ``path`` is a regular file (or a link to one), else the error to raise:
    missing, or a folder / named pipe / socket / device, which a reader would block on or
    misread.  ``error`` defaults to :class:`~signssl.errors.DataError`."""
    error = error or DataError
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return _missing(error, path)
    except OSError as e:
        return _unreadable(error, e, path)
    return None if stat.S_ISREG(mode) else _special(error, mode, path)


def require_regular_file(path: str | Path, error: type[Exception] | None = None) -> Path:
    """``path`` as a :class:`Path` when it is a regular file; otherwise raise
    :func:`regular_file_error` (a named pipe would block the reader forever)."""
    problem = regular_file_error(path, error)
    if problem is not None:
        raise problem
    return Path(path)


def read_file_bytes(path: str | Path, error: type[Exception] | None = None) -> bytes:
    """The bytes of a regular file; anything else raises ``error`` naming it.

    The file is opened without blocking and checked on the open descriptor, so a named
    pipe (which would block a plain ``open`` until a writer comes) or a device (``/dev/zero``
    never ends) is refused at no extra cost; a missing path, a folder and a read failure
    are refused too.  ``error`` defaults to :class:`~signssl.errors.DataError`.
    """
    error = error or DataError
    src = os.fspath(path)  # plain strings: pathlib costs show when reading many files
    try:
        fd = os.open(src, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (FileNotFoundError, NotADirectoryError):
        raise _missing(error, src) from None
    except OSError as e:
        raise _unreadable(error, e, src) from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _special(error, mode, src)
        try:
            return fh.read()
        except OSError as e:
            raise _unreadable(error, e, src) from None


def read_text_file(path: str | Path, error: type[Exception] | None = None) -> str:
    """The UTF-8 text of a regular file (a leading BOM is dropped); a missing or special
    file, an unreadable one, or one that is not UTF-8 raises ``error`` naming it."""
    error = error or DataError
    data = read_file_bytes(path, error)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _user_error(
            error,
            f"is not UTF-8 text (byte 0x{data[e.start]:02x} at position {e.start}); "
            "save it with UTF-8 encoding",
            path,
        ) from None


#: why a JSON / YAML file nested thousands of levels deep cannot be parsed
TOO_DEEP = (
    "nests lists or mappings too deeply to parse (thousands of levels); it is corrupt or not "
    "the expected kind of file"
)


def parse_json(text: str | bytes, source: str | Path, error: type[Exception] | None = None) -> Any:
    """``json.loads(text)``; invalid or absurdly nested JSON raises ``error`` naming ``source``."""
    error = error or DataError
    try:
        return json.loads(text)
    except RecursionError:
        raise _user_error(error, TOO_DEEP, source) from None
    except ValueError as e:  # JSONDecodeError, and UnicodeDecodeError for bytes
        raise _user_error(error, f"is not valid JSON ({e})", source) from None


def read_json_file(path: str | Path, error: type[Exception] | None = None) -> Any:
    """The JSON value of a regular UTF-8 file; every failure raises ``error`` naming it."""
    return parse_json(read_text_file(path, error), path, error)


def read_yaml_file(path: str | Path, error: type[Exception] | None = None) -> Any:
    """The YAML value of a regular UTF-8 file (``yaml.safe_load``); every failure raises
    ``error`` naming it."""
    import yaml

    error = error or DataError
    text = read_text_file(path, error)
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise _user_error(error, TOO_DEEP, path) from None
    except yaml.YAMLError as e:
        raise _user_error(error, f"is not valid YAML: {e}", path) from None
