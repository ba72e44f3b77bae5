"""Spatial normalisation of pose sequences.

All functions return a new :class:`PoseSequence`; missing joints (confidence 0) keep
coordinates 0.  Scale is measured in the image plane (x, y) because z from monocular
estimators is noisy; the same factor scales all coordinates.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from signssl.errors import ConfigError, DataError
from signssl.pose.sequence import PoseSequence

LEFT_SHOULDER, RIGHT_SHOULDER = "body.left_shoulder", "body.right_shoulder"


def _apply(seq: PoseSequence, centre: np.ndarray, scale: np.ndarray, joints: slice | None = None
           ) -> PoseSequence:
    """(xyz - centre) / scale on ``joints``; centre ``(T, 1, C)``, scale ``(T, 1, 1)``."""
    xyz = seq.xyz.copy()
    sl = joints if joints is not None else slice(None)
    present = (seq.conf[:, sl] > 0)[..., None]  # (T, Jp, 1)
    xyz[:, sl] = np.where(present, (xyz[:, sl] - centre) / scale, 0.0)
    return replace(seq, xyz=xyz.astype(np.float32))


def shoulder_frame(seq: PoseSequence, per_frame: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Centre (shoulder midpoint) ``(T, 1, C)`` and scale (shoulder width) ``(T, 1, 1)``.

    With ``per_frame=False`` one centre and scale for the clip: the mean over frames in
    which both shoulders are present.  With ``per_frame=True`` each frame uses its own
    shoulders, falling back to the clip value where they are missing.
    """
    if not (seq.layout.has(LEFT_SHOULDER) and seq.layout.has(RIGHT_SHOULDER)):
        raise DataError(
            f"layout '{seq.layout.name}' has no shoulders; use per-hand normalisation "
            "(normalize_hands) or image-size normalisation instead",
            seq.source,
        )
    (l_xyz, l_c), (r_xyz, r_c) = (seq.select_joints([j]) for j in (LEFT_SHOULDER, RIGHT_SHOULDER))
    ok = (l_c[:, 0] > 0) & (r_c[:, 0] > 0)  # (T,)
    mid = (l_xyz[:, 0] + r_xyz[:, 0]) / 2  # (T, C)
    width = np.linalg.norm(l_xyz[:, 0, :2] - r_xyz[:, 0, :2], axis=-1)  # (T,)
    ok &= width > 1e-6
    if not ok.any():
        raise DataError(
            "no frame has both shoulders detected, cannot normalise by shoulders; "
            "use normalize_image or normalize_hands",
            seq.source,
        )
    clip_mid, clip_width = mid[ok].mean(0), width[ok].mean()
    T = seq.num_frames
    if per_frame:
        centre = np.where(ok[:, None], mid, clip_mid)
        scale = np.where(ok, width, clip_width)
    else:
        centre = np.broadcast_to(clip_mid, (T, seq.num_dims))
        scale = np.full(T, clip_width)
    return centre[:, None, :].astype(np.float32), scale[:, None, None].astype(np.float32)


def normalize_shoulders(seq: PoseSequence, mode: Literal["clip", "frame"] = "clip") -> PoseSequence:
    """Centre on the shoulder midpoint and divide by the shoulder width."""
    if mode not in ("clip", "frame"):
        raise ConfigError(f"mode must be 'clip' or 'frame', got {mode!r}")
    centre, scale = shoulder_frame(seq, per_frame=mode == "frame")
    return _apply(seq, centre, scale)


def normalize_hands(seq: PoseSequence, scale: bool = True) -> PoseSequence:
    """Per-hand normalisation: each hand's wrist becomes the origin (per frame).

    With ``scale`` each hand is divided by its clip-mean wrist-to-middle-knuckle length,
    so hand shape is compared independently of distance to the camera.  Other parts are
    unchanged.  A frame whose wrist is missing leaves that hand missing.
    """
    xyz, conf = seq.xyz.copy(), seq.conf.copy()
    for hand in ("left_hand", "right_hand"):
        if hand not in seq.layout.part_names:
            continue
        s = seq.layout.part_slice(hand)
        w = seq.layout.index(f"{hand}.wrist")
        m = seq.layout.index(f"{hand}.middle_finger_mcp")
        wrist_ok = seq.conf[:, w] > 0  # (T,)
        conf[~wrist_ok, s] = 0.0
        centre = seq.xyz[:, w : w + 1]  # (T, 1, C)
        size = 1.0
        if scale:
            ok = wrist_ok & (seq.conf[:, m] > 0)
            lengths = np.linalg.norm(seq.xyz[ok, m, :2] - seq.xyz[ok, w, :2], axis=-1)
            lengths = lengths[lengths > 1e-6]
            size = float(lengths.mean()) if lengths.size else 1.0
        present = (conf[:, s] > 0)[..., None]
        xyz[:, s] = np.where(present, (seq.xyz[:, s] - centre) / size, 0.0)
    return replace(seq, xyz=xyz.astype(np.float32), conf=conf)


def normalize_image(seq: PoseSequence, width: float, height: float) -> PoseSequence:
    """Pixel coordinates -> [0, 1]: x / width, y / height, z / width."""
    if width <= 0 or height <= 0:
        raise ConfigError(f"image size must be positive, got {width}x{height}")
    div = np.array([width, height, width][: seq.num_dims], np.float32)
    xyz = np.where((seq.conf > 0)[..., None], seq.xyz / div, 0.0)
    return replace(seq, xyz=xyz.astype(np.float32))
