"""What the SignRep sign priors are: :data:`PRIOR_SPECS` (name, dim, weight, scale of
every family member) and the joint lists the families are computed from, with their
point-index arrays (built once).  The priors themselves are described in
:mod:`signssl.priors.compute`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from signssl.pose.layouts import HAND_BONES
from signssl.priors.joints import HANDS, point

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
