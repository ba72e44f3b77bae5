"""``.pose`` files (the `pose-format <https://github.com/sign-language-processing/pose>`_
binary format), read and written with the ``pose_format`` library.

Reading
    Components become parts by name: ``POSE_LANDMARKS`` -> ``body``, ``FACE_LANDMARKS`` ->
    ``face``, ``LEFT_HAND_LANDMARKS`` -> ``left_hand``, ``RIGHT_HAND_LANDMARKS`` ->
    ``right_hand``, ``POSE_WORLD_LANDMARKS`` -> ``body_world`` (and pose-format's OpenPose
    components ``pose_keypoints_2d``, ``hand_left_keypoints_2d``,
    ``hand_right_keypoints_2d``, ``face_keypoints_2d`` likewise).  Point names are
    lower-cased (``LEFT_SHOULDER`` -> ``left_shoulder``; face points stay ``"0"`` ..
    ``"477"``).  Any other component is **kept** as an extra part named after the
    component in lower case, so nothing in the file is lost.  When the joints equal a
    built-in layout's (``holistic``, ``holistic_iris``, ``holistic_world``,
    ``holistic_iris_world``, ``hands``, ...) that layout is used, in its joint order;
    otherwise a layout named ``pose:<components>`` is built from the components, with
    values ``x, y[, z], confidence`` per joint.

    One person is read: ``person=0`` by default (pose-format stores people on an axis of
    its body).  Confidence comes from the file; masked points (confidence 0) get
    coordinates 0.  ``fps`` comes from the body (``None`` when 0).

Writing
    One component per part (the names above, other parts upper-cased), points upper-cased,
    limbs from ``layout.bones``, format ``XYZC`` (``XYC`` for 2D sequences), one person.
    A write -> read round trip gives the same coordinates, confidences, fps and joint names
    (and the same layout when it is a built-in one; pass ``layout=`` to restore a custom
    one), and ``pose_format.Pose.read`` reads the files.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signssl.errors import DataError, LayoutError
from signssl.io._common import (
    LayoutArg,
    apply_layout,
    clean_fps,
    pick_fps,
    require_frames,
)
from signssl.pose.layouts import HAND_21, OPENPOSE_BODY_25, Layout, Part, get_layout, list_layouts
from signssl.pose.sequence import PoseSequence
from signssl.utils import atomic_path, read_file_bytes

#: pose-format component name -> our part name
COMPONENT_TO_PART: dict[str, str] = {
    "POSE_LANDMARKS": "body",
    "FACE_LANDMARKS": "face",
    "LEFT_HAND_LANDMARKS": "left_hand",
    "RIGHT_HAND_LANDMARKS": "right_hand",
    "POSE_WORLD_LANDMARKS": "body_world",
    "pose_keypoints_2d": "body",
    "face_keypoints_2d": "face",
    "hand_left_keypoints_2d": "left_hand",
    "hand_right_keypoints_2d": "right_hand",
}
#: our part name -> pose-format component name used when writing
PART_TO_COMPONENT: dict[str, str] = {
    "body": "POSE_LANDMARKS",
    "face": "FACE_LANDMARKS",
    "left_hand": "LEFT_HAND_LANDMARKS",
    "right_hand": "RIGHT_HAND_LANDMARKS",
    "body_world": "POSE_WORLD_LANDMARKS",
}
# pose-format's OpenPose components use CamelCase point names: map them by position
_POSITIONAL_NAMES: dict[str, tuple[str, ...]] = {
    "pose_keypoints_2d": OPENPOSE_BODY_25,
    "hand_left_keypoints_2d": HAND_21,
    "hand_right_keypoints_2d": HAND_21,
}
_PART_COLORS = [(255, 64, 64), (64, 200, 64), (64, 64, 255), (255, 180, 0), (180, 0, 255)]


# ----------------------------------------------------------------------------- reading

def _raw_body_class():  # -> type[PoseBody]
    """A pose-format body that keeps the raw arrays (no masked-array construction)."""
    from pose_format.pose_body import PoseBody

    class _RawBody(PoseBody):
        tensor_reader = "unpack_numpy"

        def __init__(self, fps: float, data: np.ndarray, confidence: np.ndarray) -> None:
            super().__init__(fps, data, confidence)

    return _RawBody


_RAW_BODY = None


@dataclass(frozen=True)
class _Resolved:
    """How a header maps onto a layout: ``layout`` and, per layout joint, the file point."""

    layout: Layout
    order: np.ndarray | None  # (J,) point index per layout joint; None = identity


_RESOLVED: dict[int, tuple[object, _Resolved]] = {}  # id(header) -> (header, resolution)


def _component_part(comp, path: str) -> Part:
    name = str(comp.name)
    part = COMPONENT_TO_PART.get(name, name.lower())
    points = [str(p) for p in comp.points]
    positional = _POSITIONAL_NAMES.get(name)
    if positional is not None and len(positional) == len(points):
        joints = positional
    else:
        joints = tuple(p.lower() for p in points)
    if len(set(joints)) != len(joints):
        raise DataError(f"component '{name}' repeats a point name; cannot name its joints", path)
    try:
        return Part(part, joints)
    except LayoutError as e:
        raise DataError(f"component '{name}' cannot be used: {e}", path) from None


def _builtin_by_joints() -> dict[frozenset[str], Layout]:
    return {frozenset(get_layout(n).joint_names): get_layout(n) for n in list_layouts()}


def _resolve(header, dims: int, path: str) -> _Resolved:
    """Layout of a header (cached per header object; pose-format reuses equal headers)."""
    hit = _RESOLVED.get(id(header))
    if hit is not None and hit[0] is header:
        return hit[1]
    # components without points hold no data: they are left out
    parts = [_component_part(c, path) for c in header.components if len(c.points)]
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise DataError(f"two components map to the same part: {names}", path)
    values = ("x", "y", "z", "confidence") if dims == 3 else ("x", "y", "confidence")
    joint_names = tuple(f"{p.name}.{j}" for p in parts for j in p.joints)
    builtin = _builtin_by_joints().get(frozenset(joint_names))
    if builtin is not None:
        file_index = {n: i for i, n in enumerate(joint_names)}
        order = np.array([file_index[n] for n in builtin.joint_names], np.int64)
        res = _Resolved(builtin, None if np.array_equal(order, np.arange(len(order))) else order)
    else:
        parts = [Part(p.name, p.joints, values) for p in parts]
        layout = Layout("pose:" + "+".join(names), tuple(parts), f"read from {os.path.basename(path)}")
        res = _Resolved(layout, None)
    if len(_RESOLVED) >= 64:
        _RESOLVED.pop(next(iter(_RESOLVED)))
    _RESOLVED[id(header)] = (header, res)
    return res


def _parse(buffer: bytes, path: str):  # -> pose_format.Pose
    global _RAW_BODY
    from pose_format import Pose

    if _RAW_BODY is None:
        _RAW_BODY = _raw_body_class()
    body_cls = _RAW_BODY
    if len(buffer) >= 4 and struct.unpack_from("<f", buffer)[0] == 0:  # version 0.0 files
        from pose_format.numpy import NumPyPoseBody as body_cls  # noqa: N813
    try:
        return Pose.read(buffer, pose_body=body_cls)
    except (struct.error, ValueError, TypeError, IndexError, UnicodeDecodeError,
            NotImplementedError, OverflowError, MemoryError) as e:
        raise DataError(
            f"is not a readable .pose file ({type(e).__name__}: {e}); it is truncated, "
            "corrupt or not a pose-format file - re-export it",
            path,
        ) from None


def read_pose_file(
    path: str | Path, layout: LayoutArg = None, fps: float | None = None, person: int = 0
) -> PoseSequence:
    """Read a ``.pose`` file (see the module docstring for the mapping).

    Args:
        path: the ``.pose`` file.
        layout: convert the result by joint name (or relabel when the joints are the
            same, e.g. to restore a custom layout written earlier).
        fps: override the file's frame rate.
        person: which person to read (0 = the first).
    Returns:
        xyz ``(T, J, C)`` with C = the file's dimensions (2 or 3), conf ``(T, J)``.
    """
    src = os.fspath(path)  # plain strings on the hot path: pathlib costs show per file
    pose = _parse(read_file_bytes(src), src)  # a regular file only: a named pipe would block
    data = np.asarray(pose.body.data)  # (T, P, N, D) float32
    conf = np.asarray(pose.body.confidence)  # (T, P, N)
    if data.ndim != 4 or conf.shape != data.shape[:3]:
        raise DataError(f"body has shape {data.shape} / {conf.shape}; file is corrupt", src)
    T, people, _, dims = data.shape
    require_frames(T, src)
    if dims not in (2, 3):
        raise DataError(f"points have {dims} dimensions; only 2D and 3D are supported", src)
    if person < 0 or (people > 0 and person >= people):
        raise DataError(f"holds {people} person(s); person={person} is out of range", src)
    res = _resolve(pose.header, dims, src)
    if res.layout.num_joints != data.shape[2]:
        raise DataError(
            f"header names {res.layout.num_joints} points but the body has {data.shape[2]}", src
        )
    if people == 0:  # nobody was detected in the clip: readable, every joint missing
        xyz = np.zeros((T, data.shape[2], dims), np.float32)
        c = np.zeros((T, data.shape[2]), np.float32)
    else:
        # (T, N, D), (T, N); pose-format hands us fresh copies, so in-place edits are safe
        xyz = np.ascontiguousarray(data[:, person])
        c = np.ascontiguousarray(conf[:, person])
        if res.order is not None:
            xyz, c = xyz[:, res.order], c[:, res.order]  # file order -> layout order
        # masked points (conf 0 or NaN) are missing: coordinates 0, conf 0 (PoseSequence
        # does the same for non-finite coordinates)
        bad = ~(c > 0)  # (T, N)
        idx = np.flatnonzero(bad)  # few points; fancy indexing beats a broadcast where()
        if idx.size:
            xyz.reshape(-1, dims)[idx] = 0.0  # (T*N, D) view
            c.reshape(-1)[idx] = 0.0
    rate = pick_fps(clean_fps(pose.body.fps, stored_as_float32=True), fps, src)
    seq = PoseSequence(xyz, c, res.layout, rate, src)
    return apply_layout(seq, layout)


# ----------------------------------------------------------------------------- writing

def _header(layout: Layout, dims: int, xyz: np.ndarray, conf: np.ndarray):  # -> PoseHeader
    from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

    fmt = "XYZC" if dims == 3 else "XYC"
    components = []
    for k, part in enumerate(layout.parts):
        sl = layout.part_slice(part.name)
        limbs = [(a - sl.start, b - sl.start) for a, b in layout.bones if sl.start <= a < sl.stop]
        color = _PART_COLORS[k % len(_PART_COLORS)]
        components.append(PoseHeaderComponent(
            name=PART_TO_COMPONENT.get(part.name, part.name.upper()),
            points=[j.upper() for j in part.joints],
            limbs=limbs,
            colors=[color] * len(limbs),
            point_format=fmt,
        ))
    # canvas size for viewers: the extent of the present points (at least 1 x 1)
    present = xyz[conf > 0]  # (K, C)
    extent = np.clip(np.ceil(present.max(0)), 1, 65535) if present.size else np.ones(dims)
    dimensions = PoseHeaderDimensions(int(extent[0]), int(extent[1]), 0)
    return PoseHeader(0.2, dimensions, components)


def write_pose_file(seq: PoseSequence, path: str | Path) -> Path:
    """Write ``seq`` as a pose-format ``.pose`` file, atomically; returns the path."""
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody

    p = Path(path)
    if p.suffix != ".pose":
        raise DataError("a .pose output file must end in .pose", p)
    for part in seq.layout.parts:
        if part.name != part.name.lower() or any(j != j.lower() for j in part.joints):
            raise DataError(
                f"part '{part.name}' has upper-case part or joint names, which .pose files do "
                "not keep (they are upper-cased on write, lower-cased on read); rename them",
                p,
            )
    xyz = np.ascontiguousarray(seq.xyz, np.float32)  # (T, J, C)
    conf = np.ascontiguousarray(seq.conf, np.float32)  # (T, J)
    header = _header(seq.layout, seq.num_dims, xyz, conf)
    # pose-format body: (frames, people, points, dims) and (frames, people, points)
    body = NumPyPoseBody(0.0 if seq.fps is None else float(seq.fps), xyz[:, None], conf[:, None])
    with atomic_path(p) as tmp:
        with open(tmp, "wb") as fh:
            Pose(header, body).write(fh)
    return p
