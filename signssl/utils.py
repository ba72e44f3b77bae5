"""Small shared helpers: atomic file writes, JSON, seeding, output-folder locks."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import random
import re
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from signssl.errors import DataError, FolderInUseError

if TYPE_CHECKING:
    from tqdm import tqdm


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


#: names :func:`atomic_path` gives its temporaries: ``.<name>.<random>.tmp<name's suffix>``
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]+\.tmp(?P<suffix>.*)$")


def is_atomic_temporary(name: str) -> bool:
    """Whether a file name is one :func:`atomic_path` gives its temporaries.

    >>> is_atomic_temporary(".a.pose.x1y2z3_4.tmp.pose"), is_atomic_temporary("a.pose")
    (True, False)
    """
    m = _TEMPORARY.match(name)
    return m is not None and m["suffix"] == Path(m["name"]).suffix


def remove_stale_temporaries(targets: Iterable[str | Path]) -> int:
    """Delete the :func:`atomic_path` temporaries of ``targets`` (the files a job writes)
    that a killed run of the job left next to them; returns how many.  Call it only while
    holding :func:`folder_lock`, so no live writer's temporary is removed."""
    names_by_dir: dict[Path, set[str]] = {}
    for target in targets:
        path = Path(target)
        names_by_dir.setdefault(path.parent, set()).add(path.name)
    removed = 0
    for folder, names in names_by_dir.items():
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            m = _TEMPORARY.match(entry.name)
            if m and m["name"] in names and is_atomic_temporary(entry.name) and entry.is_file():
                entry.unlink(missing_ok=True)
                removed += 1
    return removed


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


@functools.cache
def import_package(package: str) -> tuple[str, ...]:
    """Import every module of ``package`` and of its sub-packages (names starting with
    ``_`` left out), so that the registration decorators in them run (a new recipe,
    encoder or loss file joins its registry without being listed); returns their names.
    Once per package and process.
    """
    import importlib
    import pkgutil

    pkg = importlib.import_module(package)
    names = tuple(
        m.name
        for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")
        if not m.name.rpartition(".")[2].startswith("_")
    )
    for name in names:
        importlib.import_module(name)
    return names


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


# ----------------------------------------------------------------------------- progress

#: seconds between two progress lines when stderr is not a terminal (CI, nohup, a log)
PLAIN_PROGRESS_SECONDS = 30.0
_PLAIN_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
_PLAIN_FORMAT_OPEN = "{desc}: {n_fmt} [{elapsed}, {rate_fmt}{postfix}]"  # no known total


def interactive(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default ``sys.stderr``) is a terminal someone watches."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _Lines:
    """A file for tqdm that turns each redraw (``"\\r" + status``) into one plain line."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._last = ""

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        count = line.split(" [", 1)[0]  # the final redraw repeats the last count: once is enough
        if line and count != self._last:
            self.stream.write(line + "\n")
            self._last = count

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(iterable: Iterable[Any] | None = None, **kwargs: Any) -> tqdm:
    """A tqdm progress bar (same arguments, e.g. ``total``, ``desc``, ``unit``, ``disable``)
    on stderr (or ``file``) that suits where it goes: redrawn in place on a terminal;
    elsewhere (CI, ``nohup``, a redirected log) a plain line at the start, at most every
    :data:`PLAIN_PROGRESS_SECONDS` seconds and at the end, with no bar and no ``\\r``.
    """
    from tqdm import tqdm

    stream = kwargs.get("file") or sys.stderr
    if not interactive(stream):
        kwargs.update(file=_Lines(stream), ascii=True, dynamic_ncols=False)
        kwargs.setdefault("mininterval", PLAIN_PROGRESS_SECONDS)
        known = kwargs.get("total") is not None or hasattr(iterable, "__len__")
        kwargs.setdefault("bar_format", _PLAIN_FORMAT if known else _PLAIN_FORMAT_OPEN)
    return tqdm(iterable, **kwargs)


# ----------------------------------------------------------------------------- messages


def warn(message: str) -> None:
    """A warning for the user on the ``signssl`` logger (the CLI prints it as
    ``warning: ...`` on stderr; without a handler Python prints the bare message)."""
    logging.getLogger("signssl").warning(message)


# ----------------------------------------------------------------------------- locks

LOCK_FILE = ".signssl.lock"
_HAVE_PROC = os.path.isdir("/proc/self")
_HELD: set[str] = set()  # lock files this process holds (re-entrant locking)


#: seconds between two looks of an orphan watch at its main process
WATCH_INTERVAL = 0.2


def die_with_parent(parent_pid: int) -> None:
    """Process-pool initializer: the worker ends within :data:`WATCH_INTERVAL` seconds of
    the death of ``parent_pid`` (the main process that started the pool).

    A killed main process cannot stop its workers, and a worker waiting for work (or
    still training) would go on writing into a folder nobody owns any more, so each
    worker watches ``parent_pid`` (with ``forkserver`` the direct parent is the fork
    server, which outlives the main process).  On Linux the kernel also kills a worker
    whose direct parent dies (``PR_SET_PDEATHSIG``).
    """
    import ctypes
    import signal
    import threading

    if sys.platform.startswith("linux"):
        try:  # PR_SET_PDEATHSIG = 1: SIGKILL when the direct parent dies
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch, args=(parent_pid,), name="parent-watch", daemon=True).start()


def _watch(pid: int) -> None:
    import signal
    import time

    while process_alive(pid):
        time.sleep(WATCH_INTERVAL)
    # Runs in an orphaned worker process, not in the caller's: a watchdog thread cannot
    # raise into the main thread, and the pool that would receive an error is gone, so
    # the worker is stopped the way a supervisor stops a process.
    os.kill(os.getpid(), signal.SIGTERM)


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (a killed one not yet reaped, a zombie, does
    not count)."""
    if _HAVE_PROC:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
        except FileNotFoundError:
            return False
        except (OSError, IndexError):
            pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_owner(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def _try_flock(fd: int) -> bool:
    """An exclusive ``flock`` without waiting (always granted where there is none)."""
    try:
        import fcntl
    except ImportError:  # no flock: the pid in the file decides alone
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _open_lock(path: Path) -> tuple[int, int | None]:
    """``(fd, previous owner)`` of the lock file ``path``, locked by this process;
    raises :class:`FolderInUseError` naming the live owner."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        owner = _lock_owner(fd)
        locked = _try_flock(fd)
        if locked:
            owner = _lock_owner(fd)  # written before its owner let go
        if not locked or (owner not in (None, os.getpid()) and process_alive(owner)):
            os.close(fd)
            who = f"pid {owner}" if owner else "another process"
            raise FolderInUseError(who)
        try:  # the previous owner may have deleted the file after we opened it
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, owner
        os.close(fd)


@contextlib.contextmanager
def folder_lock(folder: str | Path, job: str = "job", name: str = LOCK_FILE) -> Iterator[Path]:
    """One writer per output folder: ``folder/name`` holds this process's pid while the
    block runs (an exclusive ``flock`` on it where the OS has one) and is removed after
    (with ``folder`` itself when the block created it and left it empty).

    A second job on the same folder raises :class:`~signssl.errors.FolderInUseError`
    naming the folder and the pid holding it.  A lock file left by a killed job (its pid
    no longer runs) is taken over with a :func:`warn` message.  Re-entrant: a block
    inside another block on the same folder of the same process just runs.  Yields the
    lock file's path.
    """
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    key = os.path.abspath(path)
    if key in _HELD:
        yield path
        return
    try:
        fd, previous = _open_lock(path)
    except FolderInUseError as e:
        raise FolderInUseError(
            f"{folder}: another {job} ({e}) is writing to this folder; wait for it to finish "
            f"or choose another output folder (delete {path} if no such job runs)"
        ) from None
    if previous not in (None, os.getpid()):
        warn(f"{folder}: took over the lock of a {job} that no longer runs (pid {previous})")
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD.add(key)
    try:
        yield path
    finally:
        _HELD.discard(key)
        with contextlib.suppress(OSError):
            if _lock_owner(fd) == os.getpid():
                path.unlink(missing_ok=True)  # before the flock goes: no one else holds it
        os.close(fd)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty: a job that failed before writing
