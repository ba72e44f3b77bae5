"""Skeleton previews: a few key frames of a pose sequence as small JSON for the page.

Only joints on a bone of the layout (body and hands; the face has no bones) are sent, in
image coordinates (no ``*_world`` part) and without leg joints (signing happens above the
hips).
Coordinates are scaled into the unit square over the whole clip (x right, y down, aspect
kept), rounded to 3 decimals; a joint with confidence 0 in a frame is ``null``.

>>> import numpy as np
>>> from signssl.pose.layouts import get_layout
>>> lay = get_layout("masa49")
>>> from signssl.pose.sequence import PoseSequence
>>> seq = PoseSequence(np.random.rand(10, lay.num_joints, 2), np.ones((10, lay.num_joints)), lay)
>>> p = skeleton_preview(seq, frames=4)
>>> len(p["frames"]), p["frame_index"]
(4, [0, 3, 6, 9])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from signssl.pose.sequence import PoseSequence

#: key frames per preview
DEFAULT_FRAMES = 6
#: joints left out of previews (words in their names)
LEG_WORDS: tuple[str, ...] = ("knee", "ankle", "heel", "foot")


def key_frames(conf: np.ndarray, frames: int) -> list[int]:
    """``frames`` frame indices spread evenly over the frames that have any joint
    (all frames when none has); ``conf`` is ``(T, J)``."""
    seen = np.flatnonzero((conf > 0).any(axis=1))  # (T',)
    if seen.size == 0:
        seen = np.arange(conf.shape[0])
    pick = np.linspace(0, seen.size - 1, num=min(frames, seen.size)).round().astype(int)
    return [int(seen[i]) for i in np.unique(pick)]


def skeleton_preview(seq: PoseSequence, frames: int = DEFAULT_FRAMES) -> dict[str, Any]:
    """``{"frames": F x J' x ([x, y] | null), "bones": [[a, b], ...], "frame_index": F}``
    with joints renumbered ``0..J'-1`` over the joints that lie on a bone."""
    names = seq.layout.joint_names
    bones = [b for b in seq.layout.bones
             if not any(w in names[j] for j in b for w in LEG_WORDS)
             and not names[b[0]].split(".")[0].endswith("_world")]
    used = sorted({j for bone in bones for j in bone}) or list(range(seq.num_joints))
    renum = {j: i for i, j in enumerate(used)}
    idx = key_frames(seq.conf, frames)
    xy = seq.xyz[:, used, :2]  # (T, J', 2)
    ok = seq.conf[:, used] > 0  # (T, J')
    pts = xy[ok] if ok.any() else np.zeros((1, 2), np.float32)
    lo, span = pts.min(axis=0), float(np.ptp(pts, axis=0).max()) or 1.0
    unit = (xy - lo) / span  # (T, J', 2) in [0, 1], aspect kept
    out = []
    for t in idx:
        out.append([[round(float(x), 3), round(float(y), 3)] if v else None
                    for (x, y), v in zip(unit[t], ok[t], strict=True)])
    return {"frames": out, "bones": [[renum[a], renum[b]] for a, b in bones],
            "frame_index": idx}
