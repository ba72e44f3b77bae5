"""Format detection and the ``read_pose`` / ``write_pose`` entry points."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from signssl.errors import DataError
from signssl.io._common import LayoutArg, existing_path
from signssl.io.arrays import read_npy, read_npz, write_npz
from signssl.io.mp_data import is_mp_data_root, read_mp_data
from signssl.io.openpose import read_openpose
from signssl.io.parquet import read_parquet
from signssl.io.pose_file import read_pose_file, write_pose_file
from signssl.pose.sequence import PoseSequence
from signssl.utils import require_regular_file

#: format name -> what it is (``signssl info`` prints the name)
FORMATS: dict[str, str] = {
    "pose": ".pose file (pose-format)",
    "npy": ".npy array: (T, D) flat vectors or (T, J, C) coordinates",
    "npz": ".npz arrays: xyz [+ conf, fps, layout]",
    "mp_data": "MP_Data sequence folder of <n>.npy flat vectors",
    "parquet": "Kaggle ISLR landmark parquet (long format)",
    "openpose": "OpenPose JSON: a folder of *_keypoints.json (or one file)",
}
_BY_SUFFIX = {".pose": "pose", ".npy": "npy", ".npz": "npz", ".parquet": "parquet", ".json": "openpose"}
WRITE_SUFFIXES = (".pose", ".npz")


def _detect_folder(d: Path) -> str:
    with os.scandir(d) as it:
        entries = list(it)
    names = [e.name for e in entries if e.is_file()]
    if any(n.endswith(".npy") for n in names):
        return "mp_data"
    if any(n.endswith(".json") for n in names):
        return "openpose"
    if is_mp_data_root(d):
        raise DataError(
            "is an MP_Data root (<gloss>/<sequence>/ folders); give one sequence folder, "
            "e.g. <root>/<gloss>/0, list them with signssl.io.iter_mp_data, or convert them "
            "all with: signssl convert ROOT OUT_FOLDER",
            d,
        )
    if not entries:
        raise DataError("is an empty folder; expected pose files or frame files", d)
    raise DataError(
        "holds no frame files: expected <n>.npy (MP_Data) or *_keypoints.json (OpenPose); "
        "for a folder of pose files use: signssl convert FOLDER OUT_FOLDER",
        d,
    )


def detect_format(path: str | Path) -> str:
    """The format name of ``path`` (a key of :data:`FORMATS`).

    Files are recognised by extension; folders by what they hold (``<n>.npy`` frames ->
    ``mp_data``, ``*.json`` frames -> ``openpose``).  Raises :class:`DataError` for a
    missing path, a path that is neither a regular file nor a folder (a named pipe would
    block the reader), an unknown extension, or a folder holding neither.
    """
    src = os.fspath(path)  # plain strings: pathlib costs show when reading many files
    try:
        mode = os.stat(src).st_mode
    except (FileNotFoundError, NotADirectoryError):
        existing_path(src)  # raises the standard "does not exist" error
        raise
    if stat.S_ISDIR(mode):
        return _detect_folder(Path(src))
    if not stat.S_ISREG(mode):  # a named pipe or device: reading it would block or never end
        require_regular_file(src)  # raises, naming what the path is
    suffix = os.path.splitext(src)[1]
    fmt = _BY_SUFFIX.get(suffix.lower())
    if fmt is None:
        raise DataError(
            f"unknown file type '{suffix or '(no extension)'}'; readable: "
            f"{sorted(_BY_SUFFIX)} files and MP_Data / OpenPose folders",
            src,
        )
    return fmt


_READERS: dict[str, Callable[..., PoseSequence]] = {
    "pose": read_pose_file,
    "npy": read_npy,
    "npz": read_npz,
    "mp_data": read_mp_data,
    "parquet": read_parquet,
    "openpose": read_openpose,
}


def read_pose(
    path: str | Path, layout: LayoutArg = None, fps: float | None = None, *, person: int = 0
) -> PoseSequence:
    """Read any supported pose file or folder into a :class:`PoseSequence`.

    Args:
        path: a file or folder (see :data:`FORMATS`; :func:`detect_format` picks the reader).
        layout: a layout name, :class:`~signssl.pose.layouts.Layout` or YAML path.  Flat
            formats (MP_Data, ``(T, D)`` arrays) are decoded with it; formats that name
            their joints are converted to it by joint name (joints the file lacks get
            confidence 0).  ``None``: the file's own layout.
        fps: frame rate to record, overriding the file's.
        person: for multi-person formats (``.pose``, OpenPose), which person (0 = first).
    Returns:
        xyz ``(T, J, C)`` float32, conf ``(T, J)``; missing joints have confidence 0.
    Raises:
        DataError / LayoutError naming the file and what to do.
    """
    fmt = detect_format(path)
    if fmt in ("pose", "openpose"):
        return _READERS[fmt](path, layout=layout, fps=fps, person=person)
    return _READERS[fmt](path, layout=layout, fps=fps)


def write_pose(seq: PoseSequence, path: str | Path) -> Path:
    """Write ``seq`` atomically as ``.pose`` or ``.npz`` (by extension); returns the path."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".pose":
        return write_pose_file(seq, p)
    if suffix == ".npz":
        return write_npz(seq, p)
    raise DataError(
        f"cannot write '{p.suffix or '(no extension)'}' files; choose an output ending in "
        f"{' or '.join(WRITE_SUFFIXES)}",
        p,
    )
