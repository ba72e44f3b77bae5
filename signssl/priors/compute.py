"""The seven SignRep sign-prior families, per frame, with validity masks.

See docs/methods.md#signrep-priors.

:func:`compute_priors` turns a :class:`~signssl.pose.PoseSequence` in a MediaPipe
Holistic layout into :class:`Priors`: ``values[name]`` ``(T, dim)`` float32 and
``valid[name]`` ``(T, dim)`` bool (**True = valid**, a usable target; invalid entries
hold 0, never NaN).  The 3D frame is :func:`~signssl.priors.joints.lift_holistic`'s.

=====================  ====  ======  =====  ============================================
name                   dim   weight  scale  what (joint lists: the constants below)
=====================  ====  ======  =====  ============================================
hand_kp_left/right     63    10      2.0    K_h: 21 hand points, wrist at the origin
body_kp                183   10      1.0    K_b: the 61 skeleton points, origin at the
                                            shoulder midpoint
hand_angles_l/r        82    10      1.0    A_h: 41 angles (:data:`HAND_ANGLES`), sin, cos
body_angles            44    10      1.0    A_b: 22 angles (:data:`BODY_ANGLES`), sin, cos
fingertip_dist_l/r     55    20      4.0    D_h: 5 tips x 11 points (:data:`FINGERTIP_TARGETS`)
interaction_dist       264   20      1.0    D_b: 12 points x 22 (:data:`INTERACTION_SOURCES`,
                                            :data:`INTERACTION_TARGETS`)
activity               2     0.2     1.0    a: left, right; 1 = active
=====================  ====  ======  =====  ============================================

Weights and scales are paper Tab. 9 in docs/methods.md#signrep-total-loss (``λ_p`` and
``s_p`` of Eq. 2); :data:`PRIOR_SPECS` holds them.  The priors are invariant to
translating and uniformly scaling the person:

* **keypoints and distances** use the *re-lengthened* skeleton
  (:func:`signssl.priors.bones.rebuild`): observed bone directions times standard bone
  lengths, in shoulder widths, so neither position, size nor the person's proportions
  reach them.  Axes are the camera's (x right, y down, z away);
* **angles** (unsigned, in [0, π], between two vectors ``a→b`` and ``c→d``) are
  encoded ``[sin, cos]`` per angle, interleaved: ``sin = |u×w| / r``,
  ``cos = u·w / r``, ``r = sqrt(|u×w|² + (u·w)²) = |u||w|``; a right angle gives
  (1, 0).  Angles depend on directions only, so they use the observed skeleton;
* **activity** (:func:`hand_activity`): hand ``h`` is *inactive* in frame ``t`` when,
  over the centred window of ``activity_window`` frames (16, the pretraining crop
  length; ``None`` = the whole sequence),
  (1) the mean image height of its valid points is below the mean height of the
  reference points ``stomach``, ``left_hip`` and ``right_hip`` (image y points down;
  reference points count when estimated at all, confidence > 0, because the hips of a
  signer framed from the waist up are often outside the image with low visibility), and
  (2) ``Σ_{21 points} std_t(p) < 0.26`` in **normalised units**, where ``std_t(p)`` is
  the standard deviation over the window of the point's 2D image position,
  ``sqrt(var(x) + var(y))``.  Normalised units are image coordinates divided by the
  signer's median 2D shoulder width and multiplied by :data:`REFERENCE_SHOULDER_WIDTH`
  = 0.3, the shoulder width of a signer in MediaPipe's normalised image coordinates
  when framed from the waist up (median of the synthetic set: 0.30).  So the paper's
  threshold, stated in MediaPipe's normalised coordinates, applies unchanged while the
  rule does not depend on the distance to the camera.  A hand not detected in any frame
  of the window is inactive (MediaPipe loses hands that rest outside the image).
  Otherwise active.  The activity is invalid only when a hand is seen but the
  reference points or the shoulders are not.

Joint lists (MediaPipe Holistic names; the constants of this module and of
:mod:`signssl.priors.joints`):

* keypoints: the 21 hand landmarks (``HAND_21`` order); the 61 ``SKELETON_POINTS``;
* :data:`HAND_ANGLES` (41 per hand): every pair of the 23 hand bones (4 per finger from
  the wrist, plus the knuckle bar index-middle-ring-pinky MCP) that share a joint, both
  vectors leaving the shared joint (39: 10 at the wrist, 3 along the thumb, 3 + 6 + 6 +
  3 at the four MCPs, 8 at the PIPs and DIPs), plus thumb opposition (thumb CMC→MCP vs
  index MCP→pinky MCP) and palm arch (index→middle MCP vs ring→pinky MCP);
* :data:`BODY_ANGLES` (22): per arm, arm vs shoulder line, arm vs torso side, elbow,
  wrist flexion (wrist→elbow vs hand wrist→middle MCP), hand roll (forearm vs knuckle
  line), forearm vs shoulder line, shrug (shoulder_mid→shoulder vs shoulder_mid→nose);
  then torso twist (shoulder line vs hip line), head lean, head roll (eye line), head
  yaw (ear line), head tilt (eye_mid→mouth_mid vs hip_mid→shoulder_mid), mouth line vs
  eye line, upper arm vs upper arm, forearm vs forearm;
* :data:`FINGERTIP_TARGETS` (11): wrist, the 5 MCPs (thumb MCP included) and the 5 tips
  (a tip's distance to itself is 0 and kept, so the 5 x 11 grid is the same per tip);
* :data:`INTERACTION_SOURCES` (12: each hand's wrist and 5 tips) x
  :data:`INTERACTION_TARGETS` (22, relative to the source's hand): 7 face points (nose,
  eyes, ears, mouth corners), 5 body points (shoulders, shoulder_mid, stomach, the
  *other* arm's elbow) and 10 points of the *other* hand (wrist, 5 tips, index to pinky
  MCP).

Masks: points with confidence < ``min_conf`` (0.5) and missing points are invalid, and
every entry computed from an invalid point (or, for rebuilt keypoints, from any
invalid bone on its path from the root) is masked out.

:func:`compute_priors_batch` does many sequences in one pass (what ``signssl priors``
uses); the per-frame families run on blocks of :data:`BLOCK_FRAMES` frames.

Example::

    >>> from signssl.io import read_pose                      # doctest: +SKIP
    >>> pri = compute_priors(read_pose("clip.pose"))          # doctest: +SKIP
    >>> pri.values["hand_kp_left"].shape, pri.valid["activity"].dtype   # doctest: +SKIP
    ((64, 63), dtype('bool'))
    >>> pri.save("clip.priors.npz")                           # doctest: +SKIP
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signssl.errors import ConfigError, DataError
from signssl.pose.layouts import HAND_BONES
from signssl.pose.sequence import PoseSequence
from signssl.priors.bones import BoneLengths, as_bone_lengths, rebuild
from signssl.priors.joints import (
    HAND0,
    HANDS,
    MIN_CONF,
    POINT_INDEX,
    Lifted,
    extend,
    lift_holistic,
    point,
)
from signssl.utils import atomic_savez

# ----------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class PriorSpec:
    """One prior family member.

    Attributes:
        name: key in :attr:`Priors.values`.
        dim: flattened size per frame.
        weight: ``λ_p`` of docs/methods.md#signrep-reconstruction (paper Tab. 9).
        scale: ``s_p`` of Eq. 2: the loss compares the head output with ``s_p · y``.
        kind: ``keypoints``, ``angles``, ``distances`` or ``activity``.
        description: what the entries are.
    """

    name: str
    dim: int
    weight: float
    scale: float
    kind: str
    description: str


_SPEC_TABLE = (
    ("hand_kp_left", 63, 10.0, 2.0, "keypoints", "21 left-hand points x xyz, wrist = origin"),
    ("hand_kp_right", 63, 10.0, 2.0, "keypoints", "21 right-hand points x xyz, wrist = origin"),
    ("body_kp", 183, 10.0, 1.0, "keypoints", "61 skeleton points x xyz, shoulder_mid = origin"),
    ("hand_angles_left", 82, 10.0, 1.0, "angles", "41 left-hand angles x (sin, cos)"),
    ("hand_angles_right", 82, 10.0, 1.0, "angles", "41 right-hand angles x (sin, cos)"),
    ("body_angles", 44, 10.0, 1.0, "angles", "22 body angles x (sin, cos)"),
    ("fingertip_dist_left", 55, 20.0, 4.0, "distances", "5 left tips x 11 left-hand points"),
    ("fingertip_dist_right", 55, 20.0, 4.0, "distances", "5 right tips x 11 right-hand points"),
    ("interaction_dist", 264, 20.0, 1.0, "distances", "12 hand points x 22 targets"),
    ("activity", 2, 0.2, 1.0, "activity", "left, right: 1 = active"),
)  # fmt: skip

#: name -> :class:`PriorSpec`, in storage order
PRIOR_SPECS: dict[str, PriorSpec] = {row[0]: PriorSpec(*row) for row in _SPEC_TABLE}
PRIOR_NAMES: tuple[str, ...] = tuple(PRIOR_SPECS)

# ----------------------------------------------------------------------------- joint lists

FINGERTIPS: tuple[str, ...] = (
    "thumb_tip", "index_finger_tip", "middle_finger_tip", "ring_finger_tip", "pinky_tip",
)  # fmt: skip
#: the 11 points each fingertip is measured to (the tip itself included: distance 0)
FINGERTIP_TARGETS: tuple[str, ...] = (
    "wrist", "thumb_mcp", "index_finger_mcp", "middle_finger_mcp", "ring_finger_mcp",
    "pinky_mcp",
) + FINGERTIPS  # fmt: skip

#: 12 sources of the interaction distances: wrist + 5 tips of the left, then right hand
INTERACTION_SOURCES: tuple[str, ...] = tuple(
    f"{h}_hand.{j}" for h in HANDS for j in ("wrist",) + FINGERTIPS
)
#: 22 targets, written for a source on hand ``{this}``; ``{other}`` is the other hand
INTERACTION_TARGETS: tuple[str, ...] = (
    # face (7)
    "body.nose", "body.left_eye", "body.right_eye", "body.left_ear", "body.right_ear",
    "body.mouth_left", "body.mouth_right",
    # body (5)
    "body.left_shoulder", "body.right_shoulder", "shoulder_mid", "stomach",
    "body.{other}_elbow",
    # the other hand (10)
    "{other}_hand.wrist", "{other}_hand.thumb_tip", "{other}_hand.index_finger_tip",
    "{other}_hand.middle_finger_tip", "{other}_hand.ring_finger_tip",
    "{other}_hand.pinky_tip", "{other}_hand.index_finger_mcp",
    "{other}_hand.middle_finger_mcp", "{other}_hand.ring_finger_mcp", "{other}_hand.pinky_mcp",
)  # fmt: skip


def _hand_angle_list() -> tuple[tuple[str, tuple[str, str, str, str]], ...]:
    """Every pair of hand bones (:data:`signssl.pose.layouts.HAND_BONES`, 23 bones:
    4 per finger + the 3-bone knuckle bar) that share a joint, both vectors leaving the
    shared joint (39), plus thumb opposition and palm arch (2): 41 angles."""
    out = []
    for i, a in enumerate(HAND_BONES):
        for b in HAND_BONES[i + 1 :]:
            shared = set(a) & set(b)
            if shared:
                j = shared.pop()
                ea, eb = a[0] if a[1] == j else a[1], b[0] if b[1] == j else b[1]
                out.append((f"{j}:{ea}|{eb}", (j, ea, j, eb)))
    out.append(("thumb_opposition", ("thumb_cmc", "thumb_mcp", "index_finger_mcp", "pinky_mcp")))
    out.append(
        ("palm_arch", ("index_finger_mcp", "middle_finger_mcp", "ring_finger_mcp", "pinky_mcp"))
    )
    return tuple(out)


#: ``(name, (a, b, c, d))``: the angle between hand vectors ``a→b`` and ``c→d``
HAND_ANGLES: tuple[tuple[str, tuple[str, str, str, str]], ...] = _hand_angle_list()


def _body_angle_list() -> tuple[tuple[str, tuple[str, str, str, str]], ...]:
    out = []
    for s, o in (("left", "right"), ("right", "left")):
        sh, el, wr, hip = (f"body.{s}_{j}" for j in ("shoulder", "elbow", "wrist", "hip"))
        hand = f"{s}_hand"
        out += [
            (f"{s}_arm_vs_shoulder_line", (sh, f"body.{o}_shoulder", sh, el)),
            (f"{s}_arm_vs_torso", (sh, hip, sh, el)),
            (f"{s}_elbow", (el, sh, el, wr)),
            (f"{s}_wrist_flexion", (wr, el, f"{hand}.wrist", f"{hand}.middle_finger_mcp")),
            (f"{s}_hand_roll", (el, wr, f"{hand}.index_finger_mcp", f"{hand}.pinky_mcp")),
            (
                f"{s}_forearm_vs_shoulder_line",
                (el, wr, "body.left_shoulder", "body.right_shoulder"),
            ),
            (f"{s}_shrug", ("shoulder_mid", sh, "shoulder_mid", "body.nose")),
        ]
    ls, rs, lh, rh = "body.left_shoulder", "body.right_shoulder", "body.left_hip", "body.right_hip"
    out += [
        ("torso_twist", (ls, rs, lh, rh)),
        ("head_lean", ("shoulder_mid", "body.nose", "shoulder_mid", "hip_mid")),
        ("head_roll", ("body.left_eye", "body.right_eye", ls, rs)),
        ("head_yaw", ("body.left_ear", "body.right_ear", ls, rs)),
        ("head_tilt", ("eye_mid", "mouth_mid", "hip_mid", "shoulder_mid")),
        (
            "mouth_vs_eyes",
            ("body.mouth_left", "body.mouth_right", "body.left_eye", "body.right_eye"),
        ),
        ("upper_arms", (ls, "body.left_elbow", rs, "body.right_elbow")),
        (
            "forearms",
            ("body.left_elbow", "body.left_wrist", "body.right_elbow", "body.right_wrist"),
        ),
    ]
    return tuple(out)


#: ``(name, (a, b, c, d))`` over the extended points: 7 per arm + 8 torso/head = 22
BODY_ANGLES: tuple[tuple[str, tuple[str, str, str, str]], ...] = _body_angle_list()

#: normalised units of the activity rule (module docstring)
REFERENCE_SHOULDER_WIDTH = 0.3
ACTIVITY_THRESHOLD = 0.26
ACTIVITY_WINDOW = 16


@dataclass(frozen=True)
class _Index:
    """Point-index arrays of every family (built once); hands in :data:`HANDS` order.

    The 104 angles (41 + 41 + 22: left hand, right hand, body) use ``V`` distinct vectors
    ``vec_from → vec_to``; angle ``i`` is between vectors ``ang_u[i]`` and ``ang_w[i]``
    times ``ang_sign[i]`` (-1 when one of them is used reversed: that flips the cosine
    and leaves the sine, |u × w|, unchanged).
    """

    vec_from: np.ndarray  # (V,)
    vec_to: np.ndarray  # (V,)
    ang_u: np.ndarray  # (104,)
    ang_w: np.ndarray  # (104,)
    ang_sign: np.ndarray  # (104,) float32, +-1
    tips: np.ndarray  # (10,): left then right fingertips
    tip_targets: np.ndarray  # (10, 11)
    sources: np.ndarray  # (12,)
    targets: np.ndarray  # (12, 22)


@functools.lru_cache(maxsize=1)
def _index() -> _Index:
    def hand_idx(h: str, names: tuple[str, ...]) -> list[int]:
        return [point(f"{h}_hand.{n}") for n in names]

    targets = []
    for src in INTERACTION_SOURCES:
        this = src.split("_hand.")[0]
        other = "right" if this == "left" else "left"
        targets.append([point(t.format(other=other)) for t in INTERACTION_TARGETS])
    quads = [hand_idx(h, q) for h in HANDS for _, q in HAND_ANGLES]
    quads += [[point(n) for n in q] for _, q in BODY_ANGLES]
    vectors: dict[tuple[int, int], int] = {}  # (from, to) with from < to -> vector index

    def vector(a: int, b: int) -> tuple[int, float]:
        key = (min(a, b), max(a, b))
        return vectors.setdefault(key, len(vectors)), 1.0 if a < b else -1.0

    u, w, sign = [], [], []
    for a, b, c, d in quads:
        (iu, su), (iw, sw) = vector(a, b), vector(c, d)
        u.append(iu)
        w.append(iw)
        sign.append(su * sw)
    ends = np.array(list(vectors))  # (V, 2)
    return _Index(
        vec_from=ends[:, 0],
        vec_to=ends[:, 1],
        ang_u=np.array(u),
        ang_w=np.array(w),
        ang_sign=np.array(sign, np.float32),
        tips=np.array([i for h in HANDS for i in hand_idx(h, FINGERTIPS)]),
        tip_targets=np.array([hand_idx(h, FINGERTIP_TARGETS) for h in HANDS for _ in FINGERTIPS]),
        sources=np.array([point(n) for n in INTERACTION_SOURCES]),
        targets=np.array(targets),
    )


# ----------------------------------------------------------------------------- families


def _coords_first(points: np.ndarray) -> np.ndarray:
    """``(T, P, 3)`` -> contiguous ``(3, T, P)``: per-coordinate arithmetic on whole planes."""
    return np.ascontiguousarray(points.transpose(2, 0, 1))  # (T, P, 3) -> (3, T, P)


def vector_angles(
    points: np.ndarray,
    valid: np.ndarray,
    vec_from: np.ndarray,
    vec_to: np.ndarray,
    ang_u: np.ndarray,
    ang_w: np.ndarray,
    ang_sign: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``[sin, cos]`` of the angles between pairs of vectors.

    Vector ``k`` runs from point ``vec_from[k]`` to ``vec_to[k]``; angle ``i`` is between
    vectors ``u = ang_u[i]`` and ``w = ang_w[i]``, the cosine multiplied by
    ``ang_sign[i]`` (±1, for a vector used reversed).  ``sin = |u×w| / r``,
    ``cos = u·w / r`` with ``r = sqrt(|u×w|² + (u·w)²) = |u||w|``.

    Args:
        points: ``(T, P, 3)``; valid: ``(T, P)``; vec_from, vec_to: ``(V,)`` point
            indices; ang_u, ang_w: ``(N,)`` vector indices; ang_sign: ``(N,)`` or None.
    Returns:
        ``(T, 2N)`` interleaved ``sin_0, cos_0, sin_1, …`` and its ``(T, 2N)`` validity
        (all points valid and both vectors non-zero).
    """
    x = _coords_first(points)  # (3, T, P)
    vec = x[:, :, vec_to] - x[:, :, vec_from]  # (3, T, V)
    vec_ok = valid[:, vec_to] & valid[:, vec_from]  # (T, V)
    u, w = vec[:, :, ang_u], vec[:, :, ang_w]  # (3, T, N) each
    cx = u[1] * w[2] - u[2] * w[1]
    cy = u[2] * w[0] - u[0] * w[2]
    cz = u[0] * w[1] - u[1] * w[0]
    sin = np.sqrt(cx * cx + cy * cy + cz * cz)  # (T, N) = |u x w|
    cos = u[0] * w[0] + u[1] * w[1] + u[2] * w[2]  # (T, N) = u . w
    r = np.sqrt(sin * sin + cos * cos)  # (T, N) = |u| |w|
    ok = vec_ok[:, ang_u] & vec_ok[:, ang_w] & (r > 0)  # (T, N)
    inv = np.divide(1.0, r, out=np.zeros_like(r), where=ok)  # 0 where invalid
    T, N = ok.shape
    out = np.empty((T, N, 2), np.float32)
    out[..., 0] = sin * inv
    out[..., 1] = cos * inv if ang_sign is None else cos * inv * ang_sign
    return (
        out.reshape(T, 2 * N),  # (T, N, 2) -> (T, 2N)
        np.repeat(ok, 2, axis=1),  # (T, N) -> (T, 2N)
    )


def pair_distances(
    points: np.ndarray, valid: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances from ``src[i]`` to each ``dst[i, k]``.

    Args:
        points: ``(T, P, 3)``; valid: ``(T, P)``; src: ``(S,)``; dst: ``(S, D)`` or ``(D,)``
            (the same targets for every source).
    Returns:
        ``(T, S*D)`` distances (row-major: source, then target; 0 where invalid) and
        their validity.
    """
    if dst.ndim == 1:
        dst = np.broadcast_to(dst, (src.size, dst.size))
    x = _coords_first(points)  # (3, T, P)
    d = np.zeros((points.shape[0],) + dst.shape, np.float32)  # (T, S, D)
    for plane in x:  # x, y, z planes (T, P): squared differences accumulated in place
        diff = plane[:, dst]  # (T, P) -> (T, S, D)
        diff -= plane[:, src][:, :, None]  # minus the source, (T, S, 1)
        diff *= diff
        d += diff
    np.sqrt(d, out=d)
    ok = valid[:, dst] & valid[:, src][:, :, None]  # (T, S, D)
    d *= ok
    T = d.shape[0]
    return d.reshape(T, dst.size), ok.reshape(T, dst.size)  # (T, S, D) -> (T, S*D)


def window_sums(x: np.ndarray, window: int | None, bounds: np.ndarray) -> np.ndarray:
    """Sum of ``x`` ``(N, K)`` over the centred window of each frame.

    The window of frame ``t`` is ``[t - window//2, t - window//2 + window)`` clipped to
    its own sequence (``bounds`` ``(n + 1,)``: first frame of each sequence, then N);
    ``window=None`` sums over the whole sequence.  Accumulates in float64 (prefix sums
    lose precision in float32).  Returns ``(N, K)`` float64.
    """
    N = x.shape[0]
    c = np.empty((N + 1,) + x.shape[1:], np.float64)
    c[0] = 0
    np.cumsum(x, axis=0, out=c[1:])  # (N, K) -> (N + 1, K) prefix sums: c[i] = sum x[:i]
    if bounds.size == 2 and window is not None:
        # one sequence: c[clip(t - half)] = cp[t], c[clip(t - half + window)] = cp[t + window]
        # with cp[k] = c[clip(k - half, 0, N)], built by slicing (no gathers)
        half = window // 2
        cp = np.empty((N + window,) + x.shape[1:], np.float64)
        cp[:half] = 0
        cp[half : half + N + 1] = c[: window + N - half]
        cp[half + N + 1 :] = c[N]
        return cp[window : window + N] - cp[:N]
    lengths = np.diff(bounds)  # (n,)
    start = np.repeat(bounds[:-1], lengths)  # (N,) first frame of each frame's sequence
    end = np.repeat(bounds[1:], lengths)  # (N,) one past its last frame
    if window is None:
        lo, hi = start, end
    else:
        t = np.arange(N) - window // 2
        lo, hi = np.clip(t, start, end), np.clip(t + window, start, end)
    return c[hi] - c[lo]


# reference height of the activity rule: the mean of stomach (= mean of the shoulders and
# hips), left hip and right hip, as weights on the four real points
_REFERENCE = np.array(
    [POINT_INDEX[f"body.{n}"] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
)
_REFERENCE_WEIGHTS = np.array([1 / 12, 1 / 12, 1 / 12 + 1 / 3, 1 / 12 + 1 / 3], np.float32)


def hand_activity(
    lifted: Lifted,
    window: int | None = ACTIVITY_WINDOW,
    threshold: float = ACTIVITY_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """Signer activity per hand and frame (module docstring, docs/methods.md#signrep-priors).

    Returns:
        ``(N, 2)`` float32 (left, right; 1 = active) and ``(N, 2)`` validity.
    """
    if window is not None and window < 1:
        raise ConfigError(f"activity window must be >= 1 frame (or None), got {window}")
    N, seg, bounds = lifted.num_frames, lifted.segment, lifted.bounds
    h0 = HAND0["left"]
    xy = lifted.image_points[:, h0 : h0 + 42, :2]  # (N, 42, 2), both hands
    valid = lifted.image_valid[:, h0 : h0 + 42]  # (N, 42)
    m = valid.astype(np.float32)
    # centre each point on its mean position in its sequence, so that the windowed
    # moments keep their precision
    if bounds.size == 2:
        mean = (xy * m[..., None]).sum(0) / np.maximum(m.sum(0), 1)[:, None]  # (42, 2)
    else:
        count = np.add.reduceat(m, bounds[:-1], axis=0)  # (n, 42)
        total = np.add.reduceat(xy * m[..., None], bounds[:-1], axis=0)  # (n, 42, 2)
        mean = (total / np.maximum(count, 1)[..., None])[seg]  # (N, 42, 2)
    xc = (xy - mean) * m[..., None]  # (N, 42, 2), 0 where invalid
    sq = xc[..., 0] * xc[..., 0] + xc[..., 1] * xc[..., 1]  # (N, 42) squared distance
    hand_frame = valid.reshape(N, 2, 21).any(-1).astype(np.float32)  # (N, 2)
    n_pts = np.maximum(m.reshape(N, 2, 21).sum(-1), 1)  # (N, 2)
    hand_y = (xy[..., 1] * m).reshape(N, 2, 21).sum(-1) / n_pts  # (N, 2) mean image y
    ref_ok = lifted.image_present[:, _REFERENCE].all(-1)  # (N,)
    ref_y = lifted.image_points[:, _REFERENCE, 1] @ _REFERENCE_WEIGHTS  # (N, 4) -> (N,)
    # one prefix-sum pass over every windowed quantity: (N, 42 + 84 + 42 + 2 + 2 + 1 + 1)
    cols = np.concatenate(
        [
            m,
            xc.reshape(N, 84),  # (N, 42, 2) -> (N, 84)
            sq,
            hand_frame,
            hand_y * hand_frame,
            ref_ok[:, None],
            (ref_y * ref_ok)[:, None],
        ],
        axis=1,
    )
    win = window_sums(cols, window, bounds)  # (N, 174) float64
    n = win[:, :42]  # (N, 42) valid frames of each point in the window
    s1 = win[:, 42:126]  # (N, 84) sums of x and y
    s2 = win[:, 126:168]  # (N, 42) sums of x² + y²
    n_hand, sum_hand_y = win[:, 168:170], win[:, 170:172]  # (N, 2)
    n_ref, sum_ref_y = win[:, 172], win[:, 173]  # (N,)
    s1 = s1 * s1
    s1sq = s1.reshape(N, 42, 2).sum(-1)  # (N, 84) -> (N, 42, 2) -> (N, 42): sx² + sy²
    nn = np.maximum(n, 1)
    var = np.maximum((s2 - s1sq / nn) / nn, 0.0)  # (N, 42): var(x) + var(y)
    std = np.sqrt(var) * (n > 0)
    n_seen = (n > 0).reshape(N, 2, 21).sum(-1)  # (N, 2) points seen in the window
    spread = std.reshape(N, 2, 21).sum(-1) * 21 / np.maximum(n_seen, 1)  # (N, 2)
    unit = REFERENCE_SHOULDER_WIDTH / lifted.image_shoulder_width[seg]  # (N,), nan = unknown
    known = np.isfinite(unit)
    spread = np.where(known[:, None], spread * np.where(known, unit, 0)[:, None], np.inf)
    low = sum_hand_y / np.maximum(n_hand, 1) > (sum_ref_y / np.maximum(n_ref, 1))[:, None]
    unseen = n_hand == 0  # (N, 2)
    inactive = unseen | (low & (spread < threshold))
    ok = unseen | ((n_ref > 0) & known)[:, None]
    return np.where(ok & ~inactive, np.float32(1), np.float32(0)), ok


# ----------------------------------------------------------------------------- priors


@dataclass
class Priors:
    """Sign priors of one sequence.

    Attributes:
        values: name (:data:`PRIOR_NAMES`) -> ``(T, dim)`` float32; invalid entries 0.
        valid: name -> ``(T, dim)`` bool, **True = valid** (use it in the loss).  These
            are validity flags, the opposite polarity of the project's hiding masks
            (True = hidden): pass ``~valid`` where a mask is expected.
        frame: the 3D frame they come from: ``world`` or ``image``.
    """

    values: dict[str, np.ndarray]
    valid: dict[str, np.ndarray]
    frame: str = "world"

    @property
    def num_frames(self) -> int:
        return int(next(iter(self.values.values())).shape[0])

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat dict for ``np.savez``: ``<name>``, ``<name>__valid`` and ``frame``."""
        out: dict[str, np.ndarray] = {}
        for name in PRIOR_NAMES:
            out[name] = self.values[name]
            out[f"{name}__valid"] = self.valid[name]
        out["frame"] = np.array(self.frame)
        return out

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` file atomically (uncompressed; :meth:`to_arrays` keys)."""
        return atomic_savez(path, **self.to_arrays())

    @classmethod
    def load(cls, path: str | Path) -> Priors:
        """Read a file written by :meth:`save`; checks names, dimensions and frames."""
        p = Path(path)
        if not p.is_file():
            raise DataError("priors file does not exist; make it with  signssl priors", p)
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise DataError(
                f"not a priors .npz file ({e}); recompute it with  signssl priors", p
            ) from None
        return cls.from_arrays(arrays, source=str(p))

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str = "arrays") -> Priors:
        """Inverse of :meth:`to_arrays` (raises :class:`DataError` on a mismatch)."""
        values, valid, T = {}, {}, None
        for name, spec in PRIOR_SPECS.items():
            v, m = arrays.get(name), arrays.get(f"{name}__valid")
            if v is None or m is None:
                raise DataError(
                    f"{source}: no '{name}' prior; the file was made by another version, "
                    "recompute it with  signssl priors"
                )
            T = v.shape[0] if T is None else T
            if v.shape != (T, spec.dim) or m.shape != (T, spec.dim):
                raise DataError(
                    f"{source}: prior '{name}' has shape {v.shape} / mask {m.shape}, expected "
                    f"({T}, {spec.dim}); recompute it with  signssl priors"
                )
            values[name], valid[name] = v.astype(np.float32), m.astype(bool)
        frame = str(arrays["frame"]) if "frame" in arrays else "world"
        return cls(values, valid, frame)

    def concat(self, names: tuple[str, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(T, Σ dim)`` values and validity of ``names`` (default all), in that order."""
        names = PRIOR_NAMES if names is None else names
        unknown = [n for n in names if n not in PRIOR_SPECS]
        if unknown:
            raise ConfigError(f"unknown prior(s) {unknown}; known: {list(PRIOR_NAMES)}")
        return (
            np.concatenate([self.values[n] for n in names], axis=1),
            np.concatenate([self.valid[n] for n in names], axis=1),
        )


def compute_priors(
    seq: PoseSequence,
    bone_lengths: BoneLengths | str | Path | None = None,
    *,
    min_conf: float = MIN_CONF,
    image_aspect: float = 1.0,
    activity_window: int | None = ACTIVITY_WINDOW,
    activity_threshold: float = ACTIVITY_THRESHOLD,
) -> Priors:
    """The sign priors of one sequence (module docstring; docs/methods.md#signrep-priors).

    Args:
        seq: a MediaPipe Holistic sequence (``holistic_world``, ``holistic_world_noface``,
            ``holistic_iris_world``; layouts without ``body_world`` use image coordinates).
        bone_lengths: standard lengths (:class:`BoneLengths` or a JSON path from
            ``signssl bone-lengths``); ``None`` = the built-in defaults.
        min_conf: points below this confidence are masked out.
        image_aspect: image width / height when x, y are normalised image coordinates.
        activity_window: frames of the centred activity window (``None`` = whole clip).
        activity_threshold: threshold of the summed per-point std (normalised units).
    Returns:
        :class:`Priors` with ``(T, dim)`` values and validity for every
        :data:`PRIOR_SPECS` entry.
    Raises:
        LayoutError: the layout has no body or hand part.
    """
    return compute_priors_batch(
        [seq],
        bone_lengths,
        min_conf=min_conf,
        image_aspect=image_aspect,
        activity_window=activity_window,
        activity_threshold=activity_threshold,
    )[0]


def compute_priors_batch(
    seqs: Sequence[PoseSequence],
    bone_lengths: BoneLengths | str | Path | None = None,
    *,
    min_conf: float = MIN_CONF,
    image_aspect: float = 1.0,
    activity_window: int | None = ACTIVITY_WINDOW,
    activity_threshold: float = ACTIVITY_THRESHOLD,
) -> list[Priors]:
    """:func:`compute_priors` of many sequences at once (same arguments).

    Sequences sharing a layout are processed together, their frames concatenated, so
    the fixed cost of a call is paid once per layout; the results equal those of
    :func:`compute_priors` on each sequence (sequence statistics, such as the shoulder
    width and the activity window, stay within each sequence).
    """
    lengths = as_bone_lengths(bone_lengths).as_array()  # (B,)
    groups: dict[int, list[int]] = {}
    layouts = {}
    out: list[Priors | None] = [None] * len(seqs)
    for i, s in enumerate(seqs):  # group by layout (identity first: layouts are shared)
        if s.num_frames == 0:
            lift_holistic(s)  # the layout must still be usable
            out[i] = Priors(
                {n: np.zeros((0, p.dim), np.float32) for n, p in PRIOR_SPECS.items()},
                {n: np.zeros((0, p.dim), bool) for n, p in PRIOR_SPECS.items()},
                "world" if "body_world" in s.layout.part_names else "image",
            )
            continue
        key = next((k for k, lay in layouts.items() if lay is s.layout or lay == s.layout), None)
        if key is None:
            key = len(layouts)
            layouts[key] = s.layout
        groups.setdefault(key, []).append(i)
    for members in groups.values():
        for chunk in _by_frames(members, [seqs[i].num_frames for i in members]):
            lifted = lift_holistic([seqs[i] for i in chunk], min_conf, image_aspect)
            values, valid = _families(lifted, lengths, activity_window, activity_threshold)
            b = lifted.bounds
            for k, i in enumerate(chunk):
                out[i] = Priors(
                    {n: v[b[k] : b[k + 1]] for n, v in values.items()},
                    {n: v[b[k] : b[k + 1]] for n, v in valid.items()},
                    lifted.frame,
                )
    return out  # type: ignore[return-value]


#: frames processed together by the per-frame families (and, as a target, by one batch):
#: large enough to amortise the fixed cost of the NumPy calls, small enough for the
#: temporaries to stay in cache (measured optimum 200-400 frames)
BLOCK_FRAMES = 256


def _by_frames(members: list[int], frames: list[int]) -> list[list[int]]:
    """Consecutive groups of ``members`` of about :data:`BLOCK_FRAMES` frames in all (a
    longer sequence forms a group of its own)."""
    groups: list[list[int]] = [[]]
    total = 0
    for i, t in zip(members, frames, strict=True):
        if groups[-1] and total + t > BLOCK_FRAMES:
            groups.append([])
            total = 0
        groups[-1].append(i)
        total += t
    return groups


def _families(
    lifted: Lifted,
    lengths: np.ndarray,
    activity_window: int | None,
    activity_threshold: float,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every prior of the (concatenated) frames of ``lifted``: ``(N, dim)`` each.

    The per-frame families run on blocks of :data:`BLOCK_FRAMES` frames (their
    temporaries then stay in cache); the activity needs whole sequences.
    """
    N = lifted.num_frames
    blocks = [
        _frame_families(
            lifted.points[a : a + BLOCK_FRAMES], lifted.valid[a : a + BLOCK_FRAMES], lengths
        )
        for a in range(0, N, BLOCK_FRAMES)
    ] or [_frame_families(lifted.points, lifted.valid, lengths)]
    if len(blocks) == 1:
        values, valid = blocks[0]
    else:
        values = {n: np.concatenate([b[0][n] for b in blocks]) for n in blocks[0][0]}
        valid = {n: np.concatenate([b[1][n] for b in blocks]) for n in blocks[0][1]}
    values["activity"], valid["activity"] = hand_activity(
        lifted, activity_window, activity_threshold
    )
    return values, valid


def _frame_families(
    points: np.ndarray, point_ok: np.ndarray, lengths: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The per-frame families (all but the activity) of ``(N, 61, 3)`` lifted points."""
    idx = _index()
    pts, val = extend(points, point_ok)  # (N, 66, 3), (N, 66)
    body, body_ok, hand, hand_ok = rebuild(pts, val, lengths)  # (N, 61, 3) x2, (N, 61) x2
    N, h0 = points.shape[0], HAND0["left"]
    values: dict[str, np.ndarray] = {}
    valid: dict[str, np.ndarray] = {}
    # keypoints: hand-local (both hands at once), then the whole rebuilt skeleton
    kp = (hand[:, h0:] * hand_ok[:, h0:, None]).reshape(N, 126)  # (N, 42, 3) -> (N, 126)
    kp_ok = np.repeat(hand_ok[:, h0:], 3, axis=1)  # (N, 42) -> (N, 126), as (N, 42, 3)
    _split(values, valid, ("hand_kp_left", "hand_kp_right"), kp, kp_ok)
    values["body_kp"] = (body * body_ok[..., None]).reshape(N, 183)  # (N, 61, 3) -> (N, 183)
    valid["body_kp"] = np.repeat(body_ok, 3, axis=1)
    # angles (one pass over 41 + 41 + 22)
    ang, ang_ok = vector_angles(
        pts, val, idx.vec_from, idx.vec_to, idx.ang_u, idx.ang_w, idx.ang_sign
    )
    _split(values, valid, ("hand_angles_left", "hand_angles_right", "body_angles"), ang, ang_ok)
    # distances on the rebuilt skeleton
    tip, tip_ok = pair_distances(hand, hand_ok, idx.tips, idx.tip_targets)  # (N, 110)
    _split(values, valid, ("fingertip_dist_left", "fingertip_dist_right"), tip, tip_ok)
    rebuilt, rebuilt_ok = extend(body, body_ok)  # + virtual points on the rebuilt skeleton
    values["interaction_dist"], valid["interaction_dist"] = pair_distances(
        rebuilt, rebuilt_ok, idx.sources, idx.targets
    )
    return values, valid


def _split(
    values: dict[str, np.ndarray],
    valid: dict[str, np.ndarray],
    names: tuple[str, ...],
    v: np.ndarray,
    ok: np.ndarray,
) -> None:
    """Cut ``(T, Σ dim)`` columns into the named priors (views)."""
    start = 0
    for n in names:
        d = PRIOR_SPECS[n].dim
        values[n], valid[n] = v[:, start : start + d], ok[:, start : start + d]
        start += d
    assert start == v.shape[1], (names, v.shape)
