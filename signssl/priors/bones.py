"""Kinematic tree of the prior skeleton, standard bone lengths and re-lengthening.

docs/methods.md#signrep-priors: bones are normalised to a standard length per bone (dataset medians)
before keypoints are rebuilt, so the person's proportions do not leak into the
keypoint and distance priors.  :func:`rebuild` places every point at

    K_j = Σ_{b ∈ path(root → j)} L_b · u_b,        u_b = (P_child − P_parent) / |…|

(the root, ``shoulder_mid``, at the origin; ``u_b`` the observed bone direction, ``L_b``
the standard length).  The sum is one matrix product with the ``(61, 61)`` path matrix
(:func:`path_matrix`), so all frames and bones are done at once.

The tree (:data:`BONES`, 61 bones, one per point; names ``"<parent>-><child>"``)::

    shoulder_mid ─ left/right_shoulder ─ elbow ─ wrist ═ <hand>.wrist ─ 5 finger chains
                 │                     └ hip             (4 bones each: wrist → cmc/mcp
                 └ nose ─ eye_inner ─ eye ─ eye_outer ─ ear   → … → tip)
                        └ mouth_left / mouth_right

``═`` is the zero-length bone from the pose model's wrist to the hand model's wrist
(:data:`FIXED_LENGTHS`): the rebuilt hand hangs from the rebuilt arm.

Lengths are in **shoulder widths**: every sequence is divided by its median 3D shoulder
width before its bones are measured, so ``shoulder_mid -> left_shoulder`` is about 0.5.
:func:`standard_bone_lengths` returns dataset medians (from a histogram with bins of
0.001, constant memory); :func:`default_bone_lengths` are the medians of the synthetic
generator's signers (``signssl.synth``, 240 clips: 12 classes x 10 signers x 2
repetitions, 64 frames, seed 7), whose proportions follow adult anthropometric tables:
upper arm ≈ 0.96, forearm ≈ 0.81, wrist to middle fingertip ≈ 0.66 shoulder widths
(the MediaPipe shoulder landmarks are ≈ 0.30 m apart).  Hands come out ≈ 8 % larger
than in the generator's 3D skeleton: they are nearer the camera than the shoulders
whose image width sets their scale.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signssl.errors import DataError
from signssl.pose.layouts import HAND_21
from signssl.pose.sequence import PoseSequence
from signssl.priors.joints import (
    HAND0,
    HANDS,
    MIN_CONF,
    NUM_POINTS,
    POINT_INDEX,
    ROOT,
    Lifted,
    extend,
    lift_holistic,
)
from signssl.utils import read_json_file, save_json

_FINGERS = ("thumb", "index_finger", "middle_finger", "ring_finger", "pinky")


def _tree() -> tuple[tuple[str, str], ...]:
    b = [("shoulder_mid", "body.left_shoulder"), ("shoulder_mid", "body.right_shoulder"),
         ("shoulder_mid", "body.nose")]  # fmt: skip
    for side in HANDS:
        chain = ["body.nose"] + [f"body.{side}_eye{s}" for s in ("_inner", "", "_outer")]
        chain.append(f"body.{side}_ear")
        b += list(zip(chain[:-1], chain[1:], strict=True))
        b.append(("body.nose", f"body.mouth_{side}"))
    for side in HANDS:
        b += [
            (f"body.{side}_shoulder", f"body.{side}_elbow"),
            (f"body.{side}_elbow", f"body.{side}_wrist"),
            (f"body.{side}_shoulder", f"body.{side}_hip"),
            (f"body.{side}_wrist", f"{side}_hand.wrist"),
        ]
        for finger in _FINGERS:
            chain = ["wrist"] + [n for n in HAND_21 if n.startswith(finger + "_")]
            b += [
                (f"{side}_hand.{p}", f"{side}_hand.{c}")
                for p, c in zip(chain[:-1], chain[1:], strict=True)
            ]
    return tuple(b)


#: ``(parent, child)`` point names of the 61 bones, parents before children
BONES: tuple[tuple[str, str], ...] = _tree()
BONE_NAMES: tuple[str, ...] = tuple(f"{p}->{c}" for p, c in BONES)
NUM_BONES = len(BONES)  # 61
#: bones whose length is fixed (not measured): pose-model wrist -> hand-model wrist
FIXED_LENGTHS: dict[str, float] = {f"body.{s}_wrist->{s}_hand.wrist": 0.0 for s in HANDS}
MEASURED_BONES: tuple[str, ...] = tuple(n for n in BONE_NAMES if n not in FIXED_LENGTHS)
_PARENT = np.array([POINT_INDEX[p] for p, _ in BONES])  # (B,) extended-point index
_CHILD = np.array([POINT_INDEX[c] for _, c in BONES])  # (B,)
_HAND_BONE = np.array([p.split(".")[0].endswith("_hand") for p, _ in BONES])  # (B,)
_FIXED = np.array([n in FIXED_LENGTHS for n in BONE_NAMES])  # (B,)

UNIT = "shoulder widths (each sequence divided by its median 3D shoulder width)"

_DEFAULTS: dict[str, float] = {}  # filled from _DEFAULT_TABLE at the end of the module


@functools.lru_cache(maxsize=1)
def path_matrix() -> tuple[np.ndarray, np.ndarray]:
    """``(A, A_hand)``, both ``(61, 61)`` float32 (points x bones).

    ``A[j, b] = 1`` when bone ``b`` lies on the path from the root to point ``j``;
    ``A_hand`` keeps only the bones inside a hand (path from that hand's wrist), so
    ``A_hand @ offsets`` gives hand points relative to their wrist.
    """
    a = np.zeros((NUM_POINTS, NUM_BONES), np.float32)
    bone_of = {int(c): b for b, c in enumerate(_CHILD)}  # child point -> its bone
    for j in range(NUM_POINTS):
        k = j
        while k != ROOT:
            b = bone_of[k]
            a[j, b] = 1.0
            k = int(_PARENT[b])
    return a, a * _HAND_BONE[None].astype(np.float32)


@functools.lru_cache(maxsize=1)
def _stacked_paths() -> np.ndarray:
    a, a_hand = path_matrix()
    return np.concatenate([a, a_hand])  # (2J, B)


_HAND_POINT = np.arange(NUM_POINTS) >= HAND0["left"]  # (61,)


def bone_vectors(points: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed bones.

    Args:
        points: ``(T, 66, 3)`` extended points; valid: ``(T, 66)``.
    Returns:
        ``vec (T, B, 3)`` child minus parent and ``ok (T, B)``: both ends valid.
    """
    vec = points[:, _CHILD] - points[:, _PARENT]  # (T, 66, 3) -> (T, B, 3)
    return vec, valid[:, _CHILD] & valid[:, _PARENT]


def rebuild(
    points: np.ndarray, valid: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints rebuilt from observed bone directions and standard lengths.

    Args:
        points: ``(T, 66, 3)`` extended points (any scale and position); valid: ``(T, 66)``.
        lengths: ``(B,)`` standard length per bone (:meth:`BoneLengths.as_array`).
    Returns:
        ``body (T, 61, 3)``: points relative to the root (``shoulder_mid``);
        ``body_ok (T, 61)``: every bone on the path from the root is valid;
        ``hand (T, 61, 3)``: hand points relative to their own wrist (body rows 0);
        ``hand_ok (T, 61)``: the hand's wrist and every bone from it are valid.
        A bone of non-zero standard length is valid when both ends are valid and its
        observed length is > 0.
    """
    vec, ok = bone_vectors(points, valid)
    norm = np.sqrt(np.einsum("tbc,tbc->tb", vec, vec))  # (T, B, 3) -> (T, B)
    ok &= (norm > 0) | (lengths == 0)[None]
    scale = np.divide(lengths.astype(np.float32), norm, out=np.zeros_like(norm), where=norm > 0)
    offsets = vec * scale[..., None]  # (T, B, 3): unit direction x standard length
    both = _stacked_paths()  # (2J, B): body paths, then hand-local paths
    J = NUM_POINTS
    pos = np.tensordot(offsets, both, axes=([1], [1]))  # (T, B, 3) x (2J, B) -> (T, 3, 2J)
    pos = pos.transpose(0, 2, 1)  # (T, 3, 2J) -> (T, 2J, 3)
    good = ((~ok).astype(np.float32) @ both.T) == 0  # (T, B) x (B, 2J) -> (T, 2J)
    body, hand = pos[:, :J], pos[:, J:]
    body_ok, hand_ok = good[:, :J], good[:, J:] & _HAND_POINT[None]
    for side in HANDS:  # the hand's own wrist anchors its local frame
        h0 = HAND0[side]
        hand_ok[:, h0 : h0 + 21] &= valid[:, h0 : h0 + 1]
    return body, body_ok, hand, hand_ok


def measure(lifted: Lifted) -> tuple[np.ndarray, np.ndarray]:
    """Observed bone lengths in shoulder widths (each sequence by its own width).

    Returns:
        ``lengths (N, B)`` and ``ok (N, B)``; nothing is ok in a sequence whose shoulder
        width is unknown, hand bones are not ok when its hand scale is unknown, fixed
        bones never.
    """
    pts, val = extend(lifted.points, lifted.valid)
    vec, ok = bone_vectors(pts, val)
    lengths = np.sqrt(np.einsum("tbc,tbc->tb", vec, vec))  # (N, B, 3) -> (N, B)
    sw = lifted.shoulder_width[lifted.segment]  # (n,) -> (N,)
    known = np.isfinite(sw) & (sw > 0)
    ok &= known[:, None] & ~_FIXED[None]
    ok &= lifted.hand_scale_known[lifted.segment][:, None] | ~_HAND_BONE[None]
    return lengths / np.where(known, sw, 1.0).astype(np.float32)[:, None], ok


# ----------------------------------------------------------------------------- lengths


@dataclass(frozen=True)
class BoneLengths:
    """Standard length per bone, in shoulder widths (immutable: build a new one to change).

    Attributes:
        lengths: bone name (:data:`MEASURED_BONES`) -> length.
        counts: bone name -> number of measured frames (0 for built-in defaults).
        source: where the numbers come from (a manifest, ``"default"``).
        defaulted: bones that had no measurement and took the default.
    """

    lengths: dict[str, float]
    counts: dict[str, int] = field(default_factory=dict)
    source: str = "default"
    defaulted: list[str] = field(default_factory=list)
    _array: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = [n for n in MEASURED_BONES if n not in self.lengths]
        unknown = [n for n in self.lengths if n not in MEASURED_BONES]
        if missing or unknown:
            raise DataError(
                f"bone lengths ({self.source}) do not match the prior skeleton: missing "
                f"{missing[:4]}{'…' if len(missing) > 4 else ''}, unknown {unknown[:4]}; "
                "recompute them with  signssl bone-lengths"
            )
        bad = {n: v for n, v in self.lengths.items() if not (math.isfinite(v) and v > 0)}
        if bad:
            raise DataError(
                f"bone lengths ({self.source}) must be finite and > 0, got {bad}; recompute "
                "them with  signssl bone-lengths"
            )
        object.__setattr__(self, "lengths", dict(self.lengths))  # own copy, never edited
        arr = np.array(
            [FIXED_LENGTHS[n] if n in FIXED_LENGTHS else self.lengths[n] for n in BONE_NAMES],
            np.float32,
        )
        arr.flags.writeable = False
        object.__setattr__(self, "_array", arr)

    def as_array(self) -> np.ndarray:
        """``(B,)`` float32 (read-only) in :data:`BONE_NAMES` order, fixed bones included."""
        return self._array

    def to_dict(self) -> dict:
        return {
            "unit": UNIT,
            "source": self.source,
            "defaulted": list(self.defaulted),
            "bones": {
                n: {"length": round(float(self.lengths[n]), 6), "count": int(self.counts.get(n, 0))}
                for n in MEASURED_BONES
            },
        }

    def save(self, path: str | Path) -> Path:
        """Write JSON atomically (see :meth:`to_dict`)."""
        save_json(path, self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> BoneLengths:
        """Read a file written by :meth:`save` (``signssl bone-lengths``)."""
        p = Path(path)
        if not p.exists():
            raise DataError(
                "bone-length file does not exist; make one with  signssl bone-lengths", p
            )
        data = read_json_file(p)
        try:
            bones = data["bones"]
            lengths = {n: float(v["length"]) for n, v in bones.items()}
            counts = {n: int(v.get("count", 0)) for n, v in bones.items()}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
            raise DataError(
                f"not a bone-length file ({type(e).__name__}: {e}); make one with  "
                "signssl bone-lengths",
                p,
            ) from None
        return cls(lengths, counts, str(data.get("source", p)), list(data.get("defaulted", [])))


@functools.lru_cache(maxsize=1)
def default_bone_lengths() -> BoneLengths:
    """The built-in standard lengths (module docstring)."""
    return BoneLengths(dict(_DEFAULTS), {}, "default")


def as_bone_lengths(value: BoneLengths | str | Path | None) -> BoneLengths:
    """``None`` -> defaults, a path -> :meth:`BoneLengths.load`, else ``value``."""
    if value is None:
        return default_bone_lengths()
    if isinstance(value, BoneLengths):
        return value
    return BoneLengths.load(value)


class BoneLengthAccumulator:
    """Streaming per-bone medians over many sequences (constant memory).

    Lengths are counted in a histogram of :attr:`BIN` wide bins over ``[0, MAX)``
    shoulder widths (longer ones fall in the last bin); the median is interpolated
    inside the bin holding half the count, so it lies between the two middle samples
    to within one bin.
    """

    BIN = 1e-3
    MAX = 4.0

    def __init__(self, min_conf: float = MIN_CONF, image_aspect: float = 1.0) -> None:
        self.nbins = int(round(self.MAX / self.BIN))
        self.hist = np.zeros((NUM_BONES, self.nbins), np.int64)
        self.min_conf, self.image_aspect = min_conf, image_aspect
        self.sequences = 0

    def add(self, seq: PoseSequence) -> int:
        """Count the valid bones of every frame; returns how many lengths were added."""
        lengths, ok = measure(lift_holistic(seq, self.min_conf, self.image_aspect))
        bins = np.minimum((lengths / self.BIN).astype(np.int64), self.nbins - 1)  # (T, B)
        flat = (np.arange(NUM_BONES)[None] * self.nbins + bins)[ok]  # (N,)
        self.hist += np.bincount(flat, minlength=self.hist.size).reshape(self.hist.shape)
        self.sequences += 1
        return int(ok.sum())

    def result(self, source: str = "dataset") -> BoneLengths:
        """Medians; bones never measured take :func:`default_bone_lengths` (listed in
        ``defaulted``)."""
        counts = self.hist.sum(1)  # (B,)
        cum = np.cumsum(self.hist, axis=1)  # (B, nbins)
        lengths, defaulted, n_by_name = {}, [], {}
        for b, name in enumerate(BONE_NAMES):
            if name in FIXED_LENGTHS:
                continue
            n = int(counts[b])
            n_by_name[name] = n
            if n == 0:
                lengths[name] = _DEFAULTS[name]
                defaulted.append(name)
                continue
            half = n / 2.0
            k = int(np.searchsorted(cum[b], half))  # first bin reaching half the mass
            below = cum[b, k - 1] if k > 0 else 0
            frac = (half - below) / max(int(self.hist[b, k]), 1)
            lengths[name] = max((k + frac) * self.BIN, self.BIN / 2)
        return BoneLengths(lengths, n_by_name, source, defaulted)


def standard_bone_lengths(
    sequences: Iterable[PoseSequence],
    min_conf: float = MIN_CONF,
    image_aspect: float = 1.0,
    source: str = "dataset",
) -> BoneLengths:
    """Dataset medians of every bone (docs/methods.md#signrep-priors), in shoulder widths.

    >>> lengths = standard_bone_lengths(seqs)             # doctest: +SKIP
    >>> lengths.save("lengths.json")                      # doctest: +SKIP
    """
    acc = BoneLengthAccumulator(min_conf, image_aspect)
    for seq in sequences:
        acc.add(seq)
    return acc.result(source)


# Medians of the synthetic signers (module docstring), shoulder widths.
_DEFAULT_TABLE: dict[str, float] = {
    "shoulder_mid->body.left_shoulder": 0.500,
    "shoulder_mid->body.right_shoulder": 0.500,
    "shoulder_mid->body.nose": 0.842,
    "body.nose->body.left_eye_inner": 0.189,
    "body.left_eye_inner->body.left_eye": 0.158,
    "body.left_eye->body.left_eye_outer": 0.160,
    "body.left_eye_outer->body.left_ear": 0.304,
    "body.nose->body.mouth_left": 0.208,
    "body.nose->body.right_eye_inner": 0.185,
    "body.right_eye_inner->body.right_eye": 0.154,
    "body.right_eye->body.right_eye_outer": 0.160,
    "body.right_eye_outer->body.right_ear": 0.298,
    "body.nose->body.mouth_right": 0.210,
    "body.left_shoulder->body.left_elbow": 0.958,
    "body.left_elbow->body.left_wrist": 0.808,
    "body.left_shoulder->body.left_hip": 1.654,
    "left_hand.wrist->left_hand.thumb_cmc": 0.106,
    "left_hand.thumb_cmc->left_hand.thumb_mcp": 0.136,
    "left_hand.thumb_mcp->left_hand.thumb_ip": 0.109,
    "left_hand.thumb_ip->left_hand.thumb_tip": 0.088,
    "left_hand.wrist->left_hand.index_finger_mcp": 0.321,
    "left_hand.index_finger_mcp->left_hand.index_finger_pip": 0.146,
    "left_hand.index_finger_pip->left_hand.index_finger_dip": 0.086,
    "left_hand.index_finger_dip->left_hand.index_finger_tip": 0.070,
    "left_hand.wrist->left_hand.middle_finger_mcp": 0.326,
    "left_hand.middle_finger_mcp->left_hand.middle_finger_pip": 0.163,
    "left_hand.middle_finger_pip->left_hand.middle_finger_dip": 0.099,
    "left_hand.middle_finger_dip->left_hand.middle_finger_tip": 0.072,
    "left_hand.wrist->left_hand.ring_finger_mcp": 0.304,
    "left_hand.ring_finger_mcp->left_hand.ring_finger_pip": 0.150,
    "left_hand.ring_finger_pip->left_hand.ring_finger_dip": 0.094,
    "left_hand.ring_finger_dip->left_hand.ring_finger_tip": 0.069,
    "left_hand.wrist->left_hand.pinky_mcp": 0.281,
    "left_hand.pinky_mcp->left_hand.pinky_pip": 0.116,
    "left_hand.pinky_pip->left_hand.pinky_dip": 0.069,
    "left_hand.pinky_dip->left_hand.pinky_tip": 0.063,
    "body.right_shoulder->body.right_elbow": 0.956,
    "body.right_elbow->body.right_wrist": 0.808,
    "body.right_shoulder->body.right_hip": 1.625,
    "right_hand.wrist->right_hand.thumb_cmc": 0.105,
    "right_hand.thumb_cmc->right_hand.thumb_mcp": 0.135,
    "right_hand.thumb_mcp->right_hand.thumb_ip": 0.108,
    "right_hand.thumb_ip->right_hand.thumb_tip": 0.088,
    "right_hand.wrist->right_hand.index_finger_mcp": 0.315,
    "right_hand.index_finger_mcp->right_hand.index_finger_pip": 0.145,
    "right_hand.index_finger_pip->right_hand.index_finger_dip": 0.087,
    "right_hand.index_finger_dip->right_hand.index_finger_tip": 0.071,
    "right_hand.wrist->right_hand.middle_finger_mcp": 0.320,
    "right_hand.middle_finger_mcp->right_hand.middle_finger_pip": 0.161,
    "right_hand.middle_finger_pip->right_hand.middle_finger_dip": 0.099,
    "right_hand.middle_finger_dip->right_hand.middle_finger_tip": 0.073,
    "right_hand.wrist->right_hand.ring_finger_mcp": 0.299,
    "right_hand.ring_finger_mcp->right_hand.ring_finger_pip": 0.151,
    "right_hand.ring_finger_pip->right_hand.ring_finger_dip": 0.095,
    "right_hand.ring_finger_dip->right_hand.ring_finger_tip": 0.070,
    "right_hand.wrist->right_hand.pinky_mcp": 0.276,
    "right_hand.pinky_mcp->right_hand.pinky_pip": 0.116,
    "right_hand.pinky_pip->right_hand.pinky_dip": 0.070,
    "right_hand.pinky_dip->right_hand.pinky_tip": 0.064,
}
_DEFAULTS.update(_DEFAULT_TABLE)
