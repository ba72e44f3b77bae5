"""The prior skeleton: which Holistic joints the sign priors use, and their 3D frame.

Sign priors (docs/methods.md#signrep-priors) are computed from one 3D skeleton of **61 points**
(:data:`SKELETON_POINTS`), the paper's count (21 + 21 + 19):

=======  ==========================================================================
index    points
=======  ==========================================================================
0-18     upper body (:data:`UPPER_BODY_19`): MediaPipe pose landmarks 0-16 (nose,
         eyes inner/centre/outer, ears, mouth corners, shoulders, elbows, wrists)
         and 23-24 (hips); the pose model's own hand points (17-22) are left out,
         the hand models describe the hands
19-39    ``left_hand.*``: the 21 MediaPipe hand landmarks (:data:`HAND_21` order)
40-60    ``right_hand.*``: idem
=======  ==========================================================================

Five *virtual* points follow them in the extended array (:data:`VIRTUAL_POINTS`, each
the mean of real points, valid when all of them are): ``shoulder_mid`` (the root of
the kinematic tree and the origin of the normalised frame), ``hip_mid``, ``eye_mid``,
``mouth_mid`` and ``stomach`` (the mean of both shoulders and both hips, i.e. halfway
between ``shoulder_mid`` and ``hip_mid``).

Names are the layouts' qualified names (``body.left_shoulder``, ``left_hand.thumb_tip``);
"left" is the signer's left, as in MediaPipe Holistic.

One consistent 3D frame (:func:`lift_holistic`)
    MediaPipe Holistic gives the body twice (``body``: image x, y and a depth z in x
    units; ``body_world``: metric 3D, hip-centred, camera axes x right, y down, z away)
    but the hands only in the image (x, y, and z relative to the hand's wrist in x
    units).  When the layout has a ``body_world`` part (``holistic_world``,
    ``holistic_world_noface``, ``holistic_iris_world``) the frame is **metric world**:

    * upper body = the ``body_world`` points;
    * each hand = its image shape relative to its own wrist, times the factor
      ``s = median_t |world shoulder width| / median_t |image shoulder width|``
      (3D widths, medians over the frames where both shoulders are valid), placed
      with its wrist on the ``body_world`` wrist:
      ``P_hand[j] = W_wrist + s * (H[j] - H[wrist])``.
      Both use camera-aligned axes, so no rotation is needed; the error is the depth
      difference between hand and shoulders (perspective), small at signing distance.

    Without a ``body_world`` part the frame is **image** coordinates (body x, y, z;
    hands x, y and z + the body wrist's z), a fallback whose depth is MediaPipe's rough
    image-space estimate.  Every prior except the activity depends only on bone
    *directions* (keypoints and distances are rebuilt from directions and standard bone
    lengths, :mod:`signssl.priors.bones`), so ``s`` only matters when bone lengths are
    measured.  Image x and y must share one unit: pixel coordinates (pose-format files)
    do; MediaPipe's normalised coordinates of a non-square video do not (pass
    ``image_aspect`` = width / height).

Validity: a point is valid when its confidence is >= ``min_conf`` (0.5) and, for
a hand point in the world frame, its hand's wrist (the origin of its shape) and the
``body_world`` wrist it hangs from are valid too.
Joints the layout lacks are invalid (never an error); a layout without ``body``,
``left_hand`` and ``right_hand`` parts raises :class:`~signssl.errors.LayoutError`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from signssl.errors import ConfigError, LayoutError
from signssl.pose.layouts import HAND_21, Layout
from signssl.pose.sequence import PoseSequence

#: MediaPipe pose landmarks 0-16, 23, 24: the upper body of the priors (19 points)
UPPER_BODY_19: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer", "left_ear", "right_ear",
    "mouth_left", "mouth_right", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
)  # fmt: skip
HANDS: tuple[str, str] = ("left", "right")

#: the 61 skeleton points (qualified names), in storage order
SKELETON_POINTS: tuple[str, ...] = (
    tuple(f"body.{j}" for j in UPPER_BODY_19)
    + tuple(f"left_hand.{j}" for j in HAND_21)
    + tuple(f"right_hand.{j}" for j in HAND_21)
)
NUM_POINTS = len(SKELETON_POINTS)  # 61
HAND0: dict[str, int] = {"left": len(UPPER_BODY_19), "right": len(UPPER_BODY_19) + 21}

#: virtual point -> the real points it is the mean of
VIRTUAL_POINTS: dict[str, tuple[str, ...]] = {
    "shoulder_mid": ("body.left_shoulder", "body.right_shoulder"),
    "hip_mid": ("body.left_hip", "body.right_hip"),
    "eye_mid": ("body.left_eye", "body.right_eye"),
    "mouth_mid": ("body.mouth_left", "body.mouth_right"),
    "stomach": ("body.left_shoulder", "body.right_shoulder", "body.left_hip", "body.right_hip"),
}
#: names of the extended point array: 61 skeleton points, then the virtual points
EXTENDED_POINTS: tuple[str, ...] = SKELETON_POINTS + tuple(VIRTUAL_POINTS)
POINT_INDEX: dict[str, int] = {n: i for i, n in enumerate(EXTENDED_POINTS)}
ROOT = POINT_INDEX["shoulder_mid"]

MIN_CONF = 0.5  # docs/methods.md#signrep-priors: keypoints below this confidence are masked out


def point(name: str) -> int:
    """Index of a point in the extended array; ``"body.x"`` may be written ``"x"``."""
    key = name if name in POINT_INDEX else f"body.{name}"
    if key not in POINT_INDEX:
        raise ConfigError(f"unknown prior skeleton point '{name}'; known: {list(POINT_INDEX)}")
    return POINT_INDEX[key]


def hand_point(hand: str, joint: str) -> int:
    """Index of ``<hand>_hand.<joint>`` (``hand`` is ``left`` or ``right``)."""
    return point(f"{hand}_hand.{joint}")


# the first four virtual points are midpoints of (_MID_A[k], _MID_B[k]); stomach is the
# midpoint of shoulder_mid and hip_mid (= the mean of both shoulders and both hips)
_MID_A = [
    POINT_INDEX[VIRTUAL_POINTS[v][0]] for v in ("shoulder_mid", "hip_mid", "eye_mid", "mouth_mid")
]
_MID_B = [
    POINT_INDEX[VIRTUAL_POINTS[v][1]] for v in ("shoulder_mid", "hip_mid", "eye_mid", "mouth_mid")
]


def extend(points: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Append the virtual points.

    Args:
        points: ``(T, 61, 3)``; valid: ``(T, 61)`` bool.
    Returns:
        ``(T, 66, 3)`` points and ``(T, 66)`` validity (a virtual point is valid when
        all its members are).
    """
    T = points.shape[0]
    out = np.empty((T, len(EXTENDED_POINTS), 3), points.dtype)
    ok = np.empty((T, len(EXTENDED_POINTS)), bool)
    out[:, :NUM_POINTS], ok[:, :NUM_POINTS] = points, valid
    mids = out[:, NUM_POINTS : NUM_POINTS + 4]  # (T, 4, 3) view
    np.add(points[:, _MID_A], points[:, _MID_B], out=mids)
    mids *= 0.5
    np.logical_and(valid[:, _MID_A], valid[:, _MID_B], out=ok[:, NUM_POINTS : NUM_POINTS + 4])
    out[:, -1] = 0.5 * (mids[:, 0] + mids[:, 1])  # stomach
    ok[:, -1] = ok[:, NUM_POINTS] & ok[:, NUM_POINTS + 1]
    return out, ok


# ----------------------------------------------------------------------------- lifting


@dataclass(frozen=True)
class _Plan:
    """Gather indices of one layout (``-1`` = the layout lacks the joint)."""

    image: np.ndarray  # (61,) body (image) for 0-18, hands for 19-60
    world: np.ndarray | None  # (19,) body_world, None when the layout has no world part


def _index(layout: Layout, name: str) -> int:
    return layout._index.get(name, -1)


@functools.lru_cache(maxsize=64)
def _plan(layout: Layout) -> _Plan:
    missing = [p for p in ("body", "left_hand", "right_hand") if p not in layout.part_names]
    if missing:
        raise LayoutError(
            f"layout '{layout.name}' has no part(s) {missing}; sign priors need a MediaPipe "
            "Holistic layout (holistic_world, holistic_world_noface, holistic_iris_world, or "
            "holistic without 3D); convert the file with PoseSequence.to_layout"
        )
    world = None
    if "body_world" in layout.part_names:
        world = np.array([_index(layout, f"body_world.{j}") for j in UPPER_BODY_19])
    return _Plan(np.array([_index(layout, n) for n in SKELETON_POINTS]), world)


def _gather(seqs: list[PoseSequence], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points ``(N, K, 3)`` and confidences ``(N, K)`` at ``idx`` of every sequence,
    frames concatenated (``-1`` -> confidence 0, 2D sequences get z = 0)."""
    safe = np.maximum(idx, 0)
    pts = []
    for s in seqs:  # one gather per sequence, not per frame
        p = s.xyz[:, safe]  # (T, J, C) -> (T, K, C)
        if p.shape[-1] == 2:
            p = np.concatenate([p, np.zeros(p.shape[:2] + (1,), np.float32)], axis=-1)
        pts.append(p)
    conf = (
        np.concatenate([s.conf[:, safe] for s in seqs]) if len(seqs) > 1 else seqs[0].conf[:, safe]
    )
    if (idx < 0).any():
        conf = np.where(idx[None] >= 0, conf, np.float32(0))
    return (np.concatenate(pts) if len(pts) > 1 else pts[0]), conf


def segment_medians(values: np.ndarray, segment: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` ``(M,)`` within each segment id ``segment`` ``(M,)`` in
    ``[0, n)``; ``nan`` for a segment without values.  Vectorised (one sort)."""
    if n == 1:  # one sequence: a partial sort is enough
        if values.size == 0:
            return np.full(1, np.nan)
        k = values.size // 2
        part = np.partition(values.astype(np.float64), [k - 1, k] if values.size % 2 == 0 else k)
        return np.array([part[k] if values.size % 2 else 0.5 * (part[k - 1] + part[k])])
    order = np.lexsort((values, segment))  # by segment, then value
    v = values[order].astype(np.float64)
    counts = np.bincount(segment, minlength=n)  # (n,)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    out = np.full(n, np.nan)
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = 0.5 * (v[lo] + v[hi])
    return out


def _shoulder_widths(
    pts: np.ndarray, ok: np.ndarray, segment: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-sequence median 2D and 3D shoulder widths over the frames where ``ok``.

    Args:
        pts: ``(N, 2, 3)`` left and right shoulder; ok: ``(N,)``; segment: ``(N,)``.
    Returns:
        ``(n,)`` 2D and ``(n,)`` 3D medians, ``nan`` where no frame has a width > 0.
    """
    d = pts[:, 0] - pts[:, 1]  # (N, 3)
    sq = d * d
    w2 = np.sqrt(sq[:, 0] + sq[:, 1])  # (N,)
    w3 = np.sqrt(sq.sum(-1))
    k2, k3 = ok & (w2 > 0), ok & (w3 > 0)
    return segment_medians(w2[k2], segment[k2], n), segment_medians(w3[k3], segment[k3], n)


_SHOULDERS = [POINT_INDEX["body.left_shoulder"], POINT_INDEX["body.right_shoulder"]]
_BODY_WRISTS = [POINT_INDEX["body.left_wrist"], POINT_INDEX["body.right_wrist"]]


@dataclass(frozen=True)
class Lifted:
    """The 61-point skeleton of one or more sequences in one 3D frame (module docstring).

    Frames of several sequences are concatenated; ``bounds`` ``(n + 1,)`` holds the
    first frame of each and the total, ``segment`` ``(N,)`` each frame's sequence.

    Attributes:
        points: ``(N, 61, 3)`` float32, world metres or image units (see ``frame``).
        valid: ``(N, 61)`` bool, True = usable (confidence >= ``min_conf``).
        frame: ``"world"`` or ``"image"``.
        shoulder_width: ``(n,)`` median 3D shoulder width of each sequence, in the unit
            of ``points`` (``nan`` when no frame has both shoulders).
        image_points: ``(N, 61, 3)`` image coordinates (hands: z relative to the wrist)
            with ``y`` in the unit of ``x``; image_valid: ``(N, 61)`` bool.
        image_present: ``(N, 61)`` bool, confidence > 0 (estimated at all).
        image_shoulder_width: ``(n,)`` median 2D image shoulder width (``nan``: unknown).
        hand_scale_known: ``(n,)`` whether ``s`` could be measured (world frame); when
            not, hands are attached with ``s = 1`` (directions right, lengths not).
    """

    points: np.ndarray
    valid: np.ndarray
    frame: str
    shoulder_width: np.ndarray
    image_points: np.ndarray
    image_valid: np.ndarray
    image_present: np.ndarray
    image_shoulder_width: np.ndarray
    hand_scale_known: np.ndarray
    bounds: np.ndarray
    segment: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])

    @property
    def num_sequences(self) -> int:
        return int(self.bounds.size - 1)


def lift_holistic(
    seqs: PoseSequence | Sequence[PoseSequence],
    min_conf: float = MIN_CONF,
    image_aspect: float = 1.0,
) -> Lifted:
    """The 61-point skeleton in one 3D frame (module docstring).

    Args:
        seqs: a sequence, or several sharing one layout (frames are concatenated), in a
            layout with ``body``, ``left_hand`` and ``right_hand`` parts (MediaPipe names);
            ``body_world`` selects the metric frame.  2D sequences get z = 0.
        min_conf: points with a lower confidence are invalid.
        image_aspect: image width / height when x, y are normalised image coordinates
            (y is divided by it so both share x's unit); 1 for pixel coordinates.
    Raises:
        LayoutError: the layout lacks a body or hand part, or the sequences' layouts differ.
        ConfigError: ``image_aspect`` <= 0, or no sequence is given.
    """
    if not image_aspect > 0:
        raise ConfigError(f"image_aspect must be > 0 (width / height), got {image_aspect}")
    seqs = [seqs] if isinstance(seqs, PoseSequence) else list(seqs)
    if not seqs:
        raise ConfigError("lift_holistic needs at least one sequence")
    layout = seqs[0].layout
    if any(s.layout is not layout and s.layout != layout for s in seqs[1:]):
        raise LayoutError("lift_holistic: the sequences must share one layout; group them first")
    plan = _plan(layout)
    n, nb = len(seqs), len(UPPER_BODY_19)
    lengths = np.array([s.num_frames for s in seqs])
    bounds = np.concatenate([[0], np.cumsum(lengths)])  # (n + 1,)
    segment = np.repeat(np.arange(n), lengths)  # (N,)
    img, c_img = _gather(seqs, plan.image)  # (N, 61, 3), (N, 61)
    N = img.shape[0]
    if image_aspect != 1.0:
        img = img * np.array([1.0, 1.0 / image_aspect, 1.0], np.float32)
    img_valid = c_img >= min_conf
    sh_ok = img_valid[:, _SHOULDERS].all(-1)  # (N,)
    img_sw2, img_sw3 = _shoulder_widths(img[:, _SHOULDERS], sh_ok, segment, n)  # (n,) each
    hands = img[:, nb:].reshape(N, 2, 21, 3)  # (N, 42, 3) -> (N, hand, 21, 3)
    hand_valid = img_valid[:, nb:]  # (N, 42)
    if plan.world is not None:
        frame = "world"
        body, wc = _gather(seqs, plan.world)  # (N, 19, 3), (N, 19)
        body_valid = wc >= min_conf
        shoulder_width = _shoulder_widths(
            body[:, _SHOULDERS], body_valid[:, _SHOULDERS].all(-1), segment, n
        )[1]
        s = shoulder_width / img_sw3  # (n,)
        hand_scale_known = np.isfinite(s)
        s = np.where(hand_scale_known, s, 1.0).astype(np.float32)
        # P_hand[j] = W_wrist + s * (H[j] - H[wrist]), both hands at once
        rel = hands - hands[:, :, :1]  # (N, 2, 21, 3) wrist-relative
        hands = body[:, _BODY_WRISTS][:, :, None] + s[segment][:, None, None, None] * rel
        # a hand point needs its hand's wrist (its origin) and the body wrist (its anchor)
        anchor = body_valid[:, _BODY_WRISTS] & hand_valid[:, [0, 21]]  # (N, 2)
        hand_valid = hand_valid & np.repeat(anchor, 21, axis=1)
    else:
        frame = "image"
        body, body_valid = img[:, :nb], img_valid[:, :nb]
        shoulder_width = img_sw3
        hand_scale_known = np.ones(n, bool)
        # hand z is relative to its wrist: put it at the body wrist's depth
        dz = np.where(c_img[:, _BODY_WRISTS] > 0, img[:, _BODY_WRISTS, 2], np.float32(0))  # (N, 2)
        hands = hands.copy()
        hands[..., 2] += dz[:, :, None]
    points = np.concatenate([body, hands.reshape(N, 42, 3)], axis=1)  # (N, 61, 3)
    valid = np.concatenate([body_valid, hand_valid], axis=1)  # (N, 61)
    points *= valid[..., None]  # invalid points -> 0
    return Lifted(
        points=points.astype(np.float32, copy=False),
        valid=valid,
        frame=frame,
        shoulder_width=shoulder_width,
        image_points=img,
        image_valid=img_valid,
        image_present=c_img > 0,
        image_shoulder_width=img_sw2,
        hand_scale_known=hand_scale_known,
        bounds=bounds,
        segment=segment,
    )
