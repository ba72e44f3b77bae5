"""MP_Data folders: ``<root>/<gloss>/<sequence>/<frame>.npy``, one flat vector per frame.

This is the layout of the widespread MediaPipe Holistic tutorials: each frame is a
float vector laid out as a :class:`~signssl.pose.layouts.Layout` says (the common
1662-value vector is the built-in ``holistic`` layout; other sizes need a layout name
or a layout YAML file, e.g. ``examples/layouts/wlasl50-holistic170.yaml``).  Frames
are ordered by their number (0, 1, 2, ..., 10 - not text order); gaps in the
numbering are allowed.  Missing parts are written as zeros by these datasets and come
out with confidence 0.  MP_Data stores no frame rate: ``fps`` is ``None`` unless given.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from signssl.errors import DataError, LayoutError
from signssl.io._common import LayoutArg, existing_path, pick_fps, resolve_layout
from signssl.io._npy import load_npy
from signssl.pose.layouts import Layout, get_layout
from signssl.pose.sequence import PoseSequence

#: flat vector length -> built-in layout used when no layout is given
DEFAULT_FLAT_LAYOUTS: dict[int, str] = {1662: "holistic"}


def default_flat_layout(size: int, source: str | Path) -> Layout:
    """The built-in layout for a flat vector of ``size`` values, or a :class:`LayoutError`."""
    if size in DEFAULT_FLAT_LAYOUTS:
        return get_layout(DEFAULT_FLAT_LAYOUTS[size])
    raise LayoutError(
        f"{source}: {size} values per frame and no layout given; only "
        f"{sorted(DEFAULT_FLAT_LAYOUTS)} are recognised by length - pass --layout NAME or a "
        "layout YAML file (e.g. examples/layouts/wlasl50-holistic170.yaml)"
    )


def _numeric_key(name: str) -> tuple[int, int | str]:
    """Sort key: numbers numerically first, then other names as text."""
    return (0, int(name)) if name.isdigit() else (1, name)


def frame_files(seq_dir: str | Path) -> list[str]:
    """The ``<n>.npy`` frame files of one sequence folder, in numeric order.

    Raises :class:`DataError` for an empty folder, a ``.npy`` file whose name is not a
    frame number, or two files with the same number (``1.npy`` and ``01.npy``).
    """
    d = existing_path(seq_dir)
    if not d.is_dir():
        raise DataError("is not a folder; an MP_Data sequence is a folder of <n>.npy files", d)
    numbered: dict[int, str] = {}
    with os.scandir(d) as it:
        for entry in it:
            if not entry.name.endswith(".npy"):
                continue
            stem = entry.name[:-4]
            if not stem.isdigit():
                raise DataError(
                    f"frame file '{entry.name}' is not named <frame number>.npy; rename or "
                    "move it",
                    d,
                )
            n = int(stem)
            if n in numbered:
                raise DataError(
                    f"frame {n} appears twice ('{os.path.basename(numbered[n])}', "
                    f"'{entry.name}'); keep one",
                    d,
                )
            numbered[n] = entry.path  # a str: pathlib costs show with thousands of files
    if not numbered:
        raise DataError(
            "holds no <n>.npy frame files (empty folder); an MP_Data sequence folder is "
            "<root>/<gloss>/<sequence>/ with 0.npy, 1.npy, ...",
            d,
        )
    return [numbered[n] for n in sorted(numbered)]


def load_flat_frames(files: list[str]) -> np.ndarray:
    """Stack per-frame vectors into ``(T, D)`` float32; :class:`DataError` naming a bad file."""
    rows: list[np.ndarray] = []
    size = None
    for f in files:
        a = load_npy(f)
        if a.ndim == 2 and a.shape[0] == 1:
            a = a[0]  # (1, D) -> (D,)
        if a.ndim != 1:
            raise DataError(f"expected one flat vector per frame, got shape {a.shape}", f)
        if a.dtype.kind not in "fiub":  # float, int, unsigned, bool
            raise DataError(f"holds {a.dtype} values, expected real numbers", f)
        if size is None:
            size = a.shape[0]
        elif a.shape[0] != size:
            raise DataError(
                f"has {a.shape[0]} values but earlier frames of this sequence have {size}; "
                "the frames of one sequence must share a layout - re-export the sequence",
                f,
            )
        rows.append(a)
    return np.stack(rows).astype(np.float32, copy=False)  # (T, D)


def read_mp_data(
    seq_dir: str | Path, layout: LayoutArg = None, fps: float | None = None
) -> PoseSequence:
    """Read one MP_Data sequence folder (``<root>/<gloss>/<sequence>/``).

    Args:
        seq_dir: folder of ``0.npy, 1.npy, ...`` flat vectors.
        layout: how a flat vector is laid out (name, :class:`Layout` or YAML path);
            default by vector length (:data:`DEFAULT_FLAT_LAYOUTS`).
        fps: frame rate to record (MP_Data stores none).
    Returns:
        the sequence in ``layout``: xyz ``(T, J, C)``, conf ``(T, J)``; all-zero joints
        are missing (confidence 0).
    """
    files = frame_files(seq_dir)
    flat = load_flat_frames(files)  # (T, D)
    lay = resolve_layout(layout) or default_flat_layout(flat.shape[1], seq_dir)
    return PoseSequence.from_flat(
        flat, lay, fps=pick_fps(None, fps, seq_dir), source=str(seq_dir)
    )


def is_mp_data_root(path: str | Path) -> bool:
    """Whether ``path`` looks like an MP_Data root: it holds an ``MP_Data`` folder, or its
    first ``<gloss>/<sequence>/`` folder holds ``<n>.npy`` frame files."""
    p = Path(path)
    if (p / "MP_Data").is_dir():
        return True
    if not p.is_dir():
        return False
    for gloss in sorted(_subdirs(p)):
        for seq in sorted(_subdirs(p / gloss)):
            return any(n.endswith(".npy") and n[:-4].isdigit() for n in os.listdir(p / gloss / seq))
    return False


def iter_mp_data(root: str | Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(gloss, sequence_folder)`` for every sequence under an MP_Data root.

    ``root`` is the ``MP_Data`` folder itself or a folder containing it.  Glosses are
    yielded in name order, sequences in numeric order.  Folders are not opened here, so
    a bad sequence only fails when it is read.
    """
    r = existing_path(root)
    if (r / "MP_Data").is_dir():
        r = r / "MP_Data"
    if not r.is_dir():
        raise DataError("is not a folder; an MP_Data root holds <gloss>/<sequence>/ folders", r)
    glosses = _subdirs(r)
    if not glosses:
        raise DataError("holds no gloss folders; expected <root>/<gloss>/<sequence>/<n>.npy", r)
    for gloss in sorted(glosses):
        for seq in sorted(_subdirs(r / gloss), key=_numeric_key):
            yield gloss, r / gloss / seq


def _subdirs(folder: Path) -> list[str]:
    with os.scandir(folder) as it:
        return [e.name for e in it if e.is_dir()]
