"""OpenPose JSON output: one ``<name>_<frame>_keypoints.json`` file per frame.

Each file holds ``{"people": [{"pose_keypoints_2d": [x, y, c, ...], "hand_left_keypoints_2d":
[...], "hand_right_keypoints_2d": [...]}, ...]}``.  The result is in the built-in
``openpose_body25_hands`` layout (BODY_25 + two hands; the face is not read).  One
person is read (``person=0``, the first listed); a frame without that person, or
without a part, has those joints missing.  OpenPose writes undetected points as
``0, 0, 0``: they get confidence 0.  Frames are ordered by the last number in the file
name (``clip_000000000012_keypoints.json`` is frame 12).  The JSON stores no frame rate:
``fps`` is ``None`` unless given.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from signssl.errors import DataError
from signssl.io._common import LayoutArg, apply_layout, existing_path, pick_fps
from signssl.pose.layouts import get_layout
from signssl.pose.sequence import PoseSequence
from signssl.utils import TOO_DEEP, read_file_bytes

#: JSON key of each part, in the order of the ``openpose_body25_hands`` layout
PART_KEYS = (
    ("body", "pose_keypoints_2d"),
    ("left_hand", "hand_left_keypoints_2d"),
    ("right_hand", "hand_right_keypoints_2d"),
)
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def frame_number(path: Path) -> int:
    """The frame number in an OpenPose file name (its last run of digits)."""
    stem = path.name.removesuffix(".json").removesuffix("_keypoints")
    m = _LAST_NUMBER.search(stem)
    if m is None:
        raise DataError(
            "has no frame number in its name; OpenPose names frames "
            "<video>_<frame number>_keypoints.json",
            path,
        )
    return int(m.group(1))


def json_frames(folder: Path) -> list[Path]:
    """The frame files of an OpenPose output folder, in frame order."""
    files = sorted(folder.glob("*_keypoints.json")) or sorted(folder.glob("*.json"))
    if not files:
        raise DataError(
            "holds no OpenPose *_keypoints.json files (empty folder?); point to the folder "
            "OpenPose wrote with --write_json",
            folder,
        )
    numbered: dict[int, Path] = {}
    for f in files:
        n = frame_number(f)
        if n in numbered:
            raise DataError(f"frame {n} appears twice ('{numbered[n].name}', '{f.name}')", folder)
        numbered[n] = f
    return [numbered[n] for n in sorted(numbered)]


def _frame_vector(path: Path, person: int, sizes: list[int]) -> np.ndarray:
    """One frame as a flat ``(sum(sizes),)`` vector of x, y, c triples (zeros = missing)."""
    raw = read_file_bytes(path)  # a regular file only: a named pipe would block
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise DataError(f"is not readable OpenPose JSON ({e}); it is truncated or corrupt", path) from None
    except RecursionError:
        raise DataError(f"is not OpenPose JSON: it {TOO_DEEP}", path) from None
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list):
        raise DataError("has no 'people' list; is it an OpenPose --write_json file?", path)
    out = np.zeros(sum(sizes), np.float32)
    if person >= len(people):
        return out  # nobody (or not that many people) in this frame: all joints missing
    who = people[person]
    offset = 0
    for (_part, key), size in zip(PART_KEYS, sizes, strict=True):
        values = who.get(key) if isinstance(who, dict) else None
        if values:  # absent or [] -> the part is missing
            try:
                arr = np.asarray(values, dtype=np.float32)
            except (TypeError, ValueError):
                raise DataError(f"'{key}' is not a list of numbers", path) from None
            if arr.shape != (size,):
                hint = " (the COCO/BODY_18 model?) - only BODY_25 is read" if key == PART_KEYS[0][1] else ""
                raise DataError(f"'{key}' has {arr.size} values, expected {size}{hint}", path)
            out[offset : offset + size] = arr
        offset += size
    return out


def read_openpose(
    path: str | Path, layout: LayoutArg = None, fps: float | None = None, person: int = 0
) -> PoseSequence:
    """Read an OpenPose JSON folder (or one JSON file as a one-frame sequence).

    Args:
        path: the folder OpenPose wrote with ``--write_json``, or one frame's file.
        layout: convert the result by joint name (e.g. ``masa49``); default
            ``openpose_body25_hands``.
        fps: frame rate to record.
        person: which listed person to read (0 = the first).
    """
    p = existing_path(path)
    if person < 0:
        raise DataError(f"person must be >= 0, got {person}", p)
    lay = get_layout("openpose_body25_hands")
    sizes = [len(lay.part(part).joints) * len(lay.part(part).values) for part, _ in PART_KEYS]
    files = json_frames(p) if p.is_dir() else [p]
    flat = np.stack([_frame_vector(f, person, sizes) for f in files])  # (T, 201)
    seq = PoseSequence.from_flat(flat, lay, fps=pick_fps(None, fps, p), source=str(p))
    return apply_layout(seq, layout)
