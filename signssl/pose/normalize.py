"""Spatial normalisation of pose sequences.

All functions return a new :class:`PoseSequence`; missing joints (confidence 0) keep
coordinates 0.  Scale is measured in the image plane (x, y) because z from monocular
estimators is noisy; the same factor scales all coordinates.

:func:`normalize_sequence` applies a mode by name (:data:`NORMALIZE_MODES`); ``"auto"``,
the default of every command, chooses per clip: ``"shoulders"`` when some frame of the
clip has both shoulders detected, else ``"hands"`` (hands-only layouts, clips in which the
body was never detected).
"""

from __future__ import annotations

from collections.abc import Callable
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
            f"layout '{seq.layout.name}' has no shoulders; use normalize 'auto' or "
            "'hands' (per-hand normalisation) instead",
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
            "use normalize 'auto' (per-hand for such clips) or 'hands'",
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


AUTO, AUTO_FALLBACK = "auto", "hands"
_MODES: dict[str, Callable[[PoseSequence], PoseSequence]] = {
    "shoulders": lambda s: normalize_shoulders(s, mode="clip"),
    "shoulders_frame": lambda s: normalize_shoulders(s, mode="frame"),
    "hands": lambda s: normalize_hands(s),
    "shoulders_hands": lambda s: normalize_hands(normalize_shoulders(s, mode="clip")),
    "none": lambda s: s,
}
#: the names :func:`normalize_sequence` accepts
NORMALIZE_MODES: tuple[str, ...] = (AUTO, *_MODES)


def check_normalize_mode(mode: str | None) -> str:
    """``mode`` (``None`` -> ``"none"``) if it is a known name, else :class:`ConfigError`."""
    mode = mode or "none"
    if mode not in NORMALIZE_MODES:
        raise ConfigError(f"normalize must be one of {', '.join(NORMALIZE_MODES)}, got {mode!r}")
    return mode


def has_both_shoulders(seq: PoseSequence) -> bool:
    """Whether some frame has both shoulders detected, a usable width apart."""
    if not (seq.layout.has(LEFT_SHOULDER) and seq.layout.has(RIGHT_SHOULDER)):
        return False
    (l_xyz, l_c), (r_xyz, r_c) = (seq.select_joints([j]) for j in (LEFT_SHOULDER, RIGHT_SHOULDER))
    width = np.linalg.norm(l_xyz[:, 0, :2] - r_xyz[:, 0, :2], axis=-1)  # (T,)
    return bool(((l_c[:, 0] > 0) & (r_c[:, 0] > 0) & (width > 1e-6)).any())


def normalize_sequence(seq: PoseSequence, mode: str = AUTO) -> tuple[PoseSequence, str]:
    """Normalise by the mode named ``mode``; returns the sequence and the mode used.

    ``"auto"`` uses ``"shoulders"`` when :func:`has_both_shoulders`, else ``"hands"``
    (module docstring); any other name is applied as is and may raise
    :class:`~signssl.errors.DataError` (e.g. ``"shoulders"`` on a clip without them).
    """
    mode = check_normalize_mode(mode)
    if mode == AUTO:
        mode = "shoulders" if has_both_shoulders(seq) else AUTO_FALLBACK
    return _MODES[mode](seq), mode


def normalize_image(seq: PoseSequence, width: float, height: float) -> PoseSequence:
    """Pixel coordinates -> [0, 1]: x / width, y / height, z / width."""
    if width <= 0 or height <= 0:
        raise ConfigError(f"image size must be positive, got {width}x{height}")
    div = np.array([width, height, width][: seq.num_dims], np.float32)
    xyz = np.where((seq.conf > 0)[..., None], seq.xyz / div, 0.0)
    return replace(seq, xyz=xyz.astype(np.float32))
