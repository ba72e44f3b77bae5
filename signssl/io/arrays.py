"""Plain NumPy arrays: ``.npy`` and ``.npz`` files (never unpickled).

Accepted shapes:

* ``(T, D)`` flat vectors, decoded with a layout (``PoseSequence.from_flat``; the
  1662-value vector defaults to ``holistic``);
* ``(T, J, C)`` coordinates with C = 2 or 3 and a layout of J joints.

A ``.npz`` holds the coordinates under ``xyz`` (or as its only array) and optionally:
``conf`` ``(T, J)`` confidences, ``fps`` (a scalar, NaN = unknown) and ``layout`` (the
JSON of :func:`~signssl.pose.layouts.layout_to_dict`).  :func:`write_npz` writes all four,
so ``.npz`` round-trips a :class:`PoseSequence` exactly.  Without ``conf``, joints with
NaN or all-zero coordinates are missing (confidence 0), the others have confidence 1.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from signssl.errors import DataError, LayoutError
from signssl.io._common import (
    LayoutArg,
    apply_layout,
    clean_fps,
    existing_path,
    pick_fps,
    require_frames,
    resolve_layout,
)
from signssl.io._npy import load_npy
from signssl.io.mp_data import default_flat_layout
from signssl.pose.layouts import Layout, get_layout, layout_from_dict, layout_to_dict, list_layouts
from signssl.pose.sequence import PoseSequence, sanitize
from signssl.utils import TOO_DEEP, atomic_path, require_regular_file

#: keys of a ``.npz`` written by :func:`write_npz`
NPZ_KEYS = ("xyz", "conf", "fps", "layout")


def _check_numeric(a: np.ndarray, what: str, path: Path) -> None:
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool) or np.iscomplexobj(a):
        raise DataError(f"{what} holds {a.dtype} values, expected real numbers", path)


def _layout_for_joints(num_joints: int, path: Path) -> LayoutError:
    same = [n for n in list_layouts() if get_layout(n).num_joints == num_joints]
    hint = f" (built-in layouts with {num_joints} joints: {same})" if same else ""
    return LayoutError(
        f"{path}: a (T, J, C) array with J={num_joints} needs --layout NAME or a layout "
        f"YAML file naming its joints{hint}"
    )


def sequence_from_array(
    arr: np.ndarray,
    path: Path,
    layout: Layout | None,
    conf: np.ndarray | None = None,
    fps: float | None = None,
) -> PoseSequence:
    """A sequence from a ``(T, D)`` flat or ``(T, J, C)`` array read from ``path``."""
    _check_numeric(arr, "the array", path)
    if arr.ndim == 2:
        if conf is not None:
            raise DataError("a 'conf' array goes with (T, J, C) coordinates, not flat vectors", path)
        require_frames(arr.shape[0], path)
        lay = layout or default_flat_layout(arr.shape[1], path)
        return PoseSequence.from_flat(arr.astype(np.float32), lay, fps=fps, source=str(path))
    if arr.ndim != 3 or arr.shape[-1] not in (2, 3):
        raise DataError(
            f"array of shape {arr.shape} is neither (T, D) flat vectors nor (T, J, 2|3) "
            "coordinates; reshape it before saving",
            path,
        )
    require_frames(arr.shape[0], path)
    if layout is None:
        raise _layout_for_joints(arr.shape[1], path)
    if arr.shape[1] != layout.num_joints:
        raise LayoutError(
            f"{path}: {arr.shape[1]} joints per frame but layout '{layout.name}' has "
            f"{layout.num_joints} ({layout.summary()}); pick the matching --layout"
        )
    if conf is None:
        xyz, c = sanitize(arr, None, zero_is_missing=True)
    else:
        _check_numeric(conf, "'conf'", path)
        if conf.shape != arr.shape[:2]:
            raise DataError(f"'conf' has shape {conf.shape}, expected {arr.shape[:2]}", path)
        xyz, c = arr.astype(np.float32), conf.astype(np.float32)
    return PoseSequence(xyz, c, layout, fps, str(path))


def _npz_layout(value: np.ndarray, path: Path) -> Layout:
    """Decode the ``layout`` entry; a built-in layout when the stored one equals it."""
    try:
        data = json.loads(str(value.item() if value.ndim == 0 else value))
    except (ValueError, TypeError) as e:
        raise DataError(f"its 'layout' entry is not layout JSON ({e})", path) from None
    except RecursionError:
        raise DataError(f"its 'layout' entry {TOO_DEEP}", path) from None
    # the names the file was written with, checked or not: a stored layout is read as it is
    stored = layout_from_dict(data, source=f"{path}: 'layout'", check_joints=False)
    if stored.name in list_layouts():
        builtin = get_layout(stored.name)
        if layout_to_dict(builtin) == layout_to_dict(stored):
            return builtin
    return stored


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:  # object arrays (pickles) end up here too
        raise DataError(
            f"cannot be read without unpickling or is malformed ({e}); save plain arrays", path
        ) from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as e:
        raise DataError(f"is not a readable .npz file ({e}); it is truncated or corrupt", path) from None


def read_npz(path: str | Path, layout: LayoutArg = None, fps: float | None = None) -> PoseSequence:
    """Read a ``.npz`` (see the module docstring for the keys).

    ``layout`` decodes flat vectors or names the J joints of an array without a stored
    layout; with a stored layout it converts the result by joint name.
    """
    p = require_regular_file(path)  # np.load would block on a named pipe
    entries = _load_npz(p)
    if "xyz" in entries:
        arr = entries["xyz"]
    else:
        data_keys = [k for k in entries if k not in NPZ_KEYS]
        if len(data_keys) != 1:
            raise DataError(
                f"has arrays {sorted(entries)}; expected the coordinates under 'xyz' (or a "
                "single array), optionally with 'conf', 'fps' and 'layout'",
                p,
            )
        arr = entries[data_keys[0]]
    file_fps = None
    if "fps" in entries:
        f = entries["fps"]
        if f.size != 1 or not np.issubdtype(f.dtype, np.number):
            raise DataError(f"its 'fps' entry must be one number, got {f.dtype} {f.shape}", p)
        file_fps = clean_fps(float(f.reshape(())))
    rate = pick_fps(file_fps, fps, p)
    want = resolve_layout(layout)
    if "layout" in entries:
        seq = sequence_from_array(arr, p, _npz_layout(entries["layout"], p), entries.get("conf"), rate)
        return apply_layout(seq, want)
    return sequence_from_array(arr, p, want, entries.get("conf"), rate)


def read_npy(path: str | Path, layout: LayoutArg = None, fps: float | None = None) -> PoseSequence:
    """Read a ``.npy`` array: ``(T, D)`` flat vectors or ``(T, J, C)`` coordinates."""
    p = existing_path(path)
    return sequence_from_array(load_npy(p), p, resolve_layout(layout), None, pick_fps(None, fps, p))


def write_npz(seq: PoseSequence, path: str | Path, compress: bool = False) -> Path:
    """Write ``seq`` to a ``.npz`` atomically (keys ``xyz, conf, fps, layout``).

    Returns the path written.  Reading it back gives the same coordinates, confidences,
    frame rate and layout.
    """
    p = Path(path)
    if p.suffix != ".npz":
        raise DataError("a .npz output file must end in .npz", p)
    payload = {
        "xyz": np.ascontiguousarray(seq.xyz, np.float32),  # (T, J, C)
        "conf": np.ascontiguousarray(seq.conf, np.float32),  # (T, J)
        "fps": np.float64(np.nan if seq.fps is None else seq.fps),
        "layout": np.str_(json.dumps(layout_to_dict(seq.layout))),
    }
    save = np.savez_compressed if compress else np.savez
    with atomic_path(p) as tmp:
        with open(tmp, "wb") as fh:
            save(fh, **payload)
    return p
