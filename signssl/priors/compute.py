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

The table and the joint lists are in :mod:`signssl.priors.specs`, the per-prior
computations (angles, distances, activity, the per-frame families) in
:mod:`signssl.priors.families` (``signssl.priors`` exports the public names of all
three); this module batches sequences and stores the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signssl.errors import ConfigError, DataError
from signssl.pose.sequence import PoseSequence
from signssl.priors.bones import BoneLengths, as_bone_lengths
from signssl.priors.families import (
    ACTIVITY_THRESHOLD,
    ACTIVITY_WINDOW,
    _frame_families,
    hand_activity,
)
from signssl.priors.joints import MIN_CONF, Lifted, lift_holistic
from signssl.priors.specs import PRIOR_NAMES, PRIOR_SPECS
from signssl.utils import atomic_savez

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
