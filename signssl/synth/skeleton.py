"""3D skeleton of a synthetic signer: proportions, body landmarks, arm IK, hand FK.

World frame (metres, "internal"): origin at the hip midpoint, **X towards the signer's
left** (image right for a camera facing the signer), **Y up**, **Z forward** (towards
the camera).  Signs are built for a right-dominant signer; a left-handed signer is the
exact mirror image (:func:`mirror_points`: X -> -X and left/right joints swapped).

Joints (``SKELETON_JOINTS``, 75): the 33 MediaPipe pose landmarks (``body.*``; the face
landmarks of the pose model, nose, eyes, ears and mouth corners, are the only face
points), then the left and right hands, 21 MediaPipe hand landmarks each.

Hands are built by forward kinematics from 20 joint angles (:data:`ANGLE_NAMES`) in a
hand-local frame whose unit is the hand length (wrist to middle fingertip):
x radial (thumb side, for a right hand), y along the fingers, z the palm normal (the
side the palm faces; fingers flex towards +z).  Arms are placed by analytic two-bone
inverse kinematics: phonology specifies where the hand is, the elbow follows.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

from signssl.pose.layouts import HAND_21, MEDIAPIPE_POSE_33
from signssl.synth.rotations import cross, normalize

# ----------------------------------------------------------------------------- joints

SKELETON_JOINTS: tuple[str, ...] = (
    tuple(f"body.{j}" for j in MEDIAPIPE_POSE_33)
    + tuple(f"left_hand.{j}" for j in HAND_21)
    + tuple(f"right_hand.{j}" for j in HAND_21)
)
NUM_JOINTS = len(SKELETON_JOINTS)  # 75
BODY = {name: i for i, name in enumerate(MEDIAPIPE_POSE_33)}
LEFT_HAND0, RIGHT_HAND0 = 33, 54  # first index of each hand in SKELETON_JOINTS
HAND = {name: i for i, name in enumerate(HAND_21)}


def _mirror_permutation() -> np.ndarray:
    idx = {n: i for i, n in enumerate(SKELETON_JOINTS)}
    perm = []
    for n in SKELETON_JOINTS:
        m = n.replace("left", "@").replace("right", "left").replace("@", "right")
        perm.append(idx[m])
    return np.array(perm)


MIRROR_PERM: np.ndarray = _mirror_permutation()  # (75,) index of each joint's mirror joint


def mirror_points(points: np.ndarray) -> np.ndarray:
    """Mirror ``(..., 75, 3)`` skeleton points through the sagittal plane (X -> -X).

    Left/right joints swap, so a right-handed performance becomes a left-handed one.
    """
    out = points[..., MIRROR_PERM, :].copy()
    out[..., 0] *= -1
    return out


# ----------------------------------------------------------------------------- signer


@dataclass(frozen=True)
class Signer:
    """Body proportions and personal style of one synthetic signer (lengths in metres)."""

    id: str
    scale: float = 1.0  # overall size (1 = an adult of about 1.75 m)
    shoulder_width: float = 0.30  # between the shoulder joints
    torso: float = 0.52  # hip midpoint to shoulder line
    hip_width: float = 0.18
    neck: float = 0.23  # shoulder line to nose height
    head_radius: float = 0.095
    upper_arm: float = 0.29
    forearm: float = 0.255
    hand_length: float = 0.185
    left_handed: bool = False
    space: float = 1.0  # personal signing-space scale (amplitude, distance from the body)
    tempo: float = 1.0  # personal speed factor (> 1 faster)
    elbow_out: float = 0.4  # how far the elbows swing out (IK pole)
    rest: str = "lap"  # rest pose: "lap" (hands in front of the hips) or "low" (at the sides)
    location_bias: tuple[float, float, float] = (0.0, 0.0, 0.0)  # habitual offset of locations
    shoulder_tilt: float = 0.0  # right shoulder higher (+) or lower (-), metres

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        id: str,
        left_handed: bool | None = None,
        variation: float = 1.0,
    ) -> Signer:
        """A random signer; ``variation`` scales the spread of every proportion."""
        v = variation

        def u(lo: float, hi: float) -> float:  # uniform around 1, spread scaled by v
            return float(1 + v * (rng.uniform(lo, hi) - 1))

        s = float(np.clip(1 + v * rng.normal(0, 0.07), 0.8, 1.2))
        lh = bool(rng.random() < 0.2) if left_handed is None else left_handed
        return cls(
            id=id,
            scale=s,
            shoulder_width=0.30 * s * u(0.88, 1.14),
            torso=0.52 * s * u(0.92, 1.08),
            hip_width=0.18 * s * u(0.9, 1.15),
            neck=0.23 * s * u(0.9, 1.1),
            head_radius=0.095 * s * u(0.92, 1.08),
            upper_arm=0.29 * s * u(0.93, 1.07),
            forearm=0.255 * s * u(0.93, 1.07),
            hand_length=0.185 * s * u(0.9, 1.1),
            left_handed=lh,
            space=u(0.75, 1.3),
            tempo=u(0.75, 1.3),
            elbow_out=float(0.4 + v * rng.uniform(-0.3, 0.3)),
            rest="low" if rng.random() < 0.45 else "lap",
            location_bias=tuple(float(x) for x in rng.normal(0, 0.02 * v, 3)),
            shoulder_tilt=float(rng.normal(0, 0.012 * v)),
        )

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- body

# face landmarks relative to the head centre, in head radii (right-handed X = signer's left)
_FACE = {
    "nose": (0.0, -0.2, 1.05),
    "left_eye_inner": (0.2, 0.1, 0.92),
    "left_eye": (0.35, 0.12, 0.88),
    "left_eye_outer": (0.52, 0.1, 0.78),
    "right_eye_inner": (-0.2, 0.1, 0.92),
    "right_eye": (-0.35, 0.12, 0.88),
    "right_eye_outer": (-0.52, 0.1, 0.78),
    "left_ear": (0.95, 0.0, 0.05),
    "right_ear": (-0.95, 0.0, 0.05),
    "mouth_left": (0.3, -0.55, 0.85),
    "mouth_right": (-0.3, -0.55, 0.85),
}
#: extra face anchors (location targets), head radii from the head centre
FACE_ANCHORS = {
    "chin": (0.0, -0.95, 0.72),
    "forehead": (0.0, 0.55, 0.86),
    "mouth": (0.0, -0.55, 0.9),
    "eyes": (0.0, 0.12, 0.95),
    "right_cheek": (-0.62, -0.35, 0.7),
    "right_temple": (-0.78, 0.45, 0.42),
}


def head_centre(s: Signer) -> np.ndarray:
    """Centre of the head sphere ``(3,)``."""
    return np.array([0.0, s.torso + s.neck + 0.2 * s.head_radius, 0.01 * s.scale])


def face_point(s: Signer, rel: tuple[float, float, float]) -> np.ndarray:
    return head_centre(s) + np.asarray(rel) * s.head_radius


@functools.lru_cache(maxsize=256)
def body_template(s: Signer) -> np.ndarray:
    """Static body landmarks ``(33, 3)``, read-only (the arms are filled by the caller)."""
    p = np.zeros((33, 3))
    sw, sy = s.shoulder_width / 2, s.torso
    p[BODY["left_shoulder"]] = (sw, sy - s.shoulder_tilt / 2, -0.01)
    p[BODY["right_shoulder"]] = (-sw, sy + s.shoulder_tilt / 2, -0.01)
    for name, rel in _FACE.items():
        p[BODY[name]] = face_point(s, rel)
    hw = s.hip_width / 2
    p[BODY["left_hip"]], p[BODY["right_hip"]] = (hw, 0, 0), (-hw, 0, 0)
    leg = 0.45 * s.scale  # standing: knees and feet below the frame
    for side, x in (("left", hw * 1.05), ("right", -hw * 1.05)):
        p[BODY[f"{side}_knee"]] = (x, -leg, 0.04)
        p[BODY[f"{side}_ankle"]] = (x, -2 * leg, 0.0)
        p[BODY[f"{side}_heel"]] = (x, -2 * leg - 0.05, -0.05)
        p[BODY[f"{side}_foot_index"]] = (x, -2 * leg - 0.07, 0.15)
    p.setflags(write=False)
    return p


def shoulder_line_y(s: Signer) -> float:
    return s.torso


# ----------------------------------------------------------------------------- arms


def solve_elbow(
    shoulder: np.ndarray, wrist: np.ndarray, upper: float, fore: float, pole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK.

    Args:
        shoulder: ``(T, 3)``; wrist: ``(T, 3)`` wrist targets.
        upper, fore: bone lengths; pole: ``(3,)`` or ``(T, 3)`` direction the elbow points to.
    Returns:
        ``(elbow (T, 3), wrist (T, 3))``; targets out of reach are pulled onto the
        reachable shell along the shoulder-target line, so ``|elbow - shoulder| = upper``
        and ``|wrist - elbow| = fore`` always hold.
    """
    d = wrist - shoulder  # (T, 3)
    dist = np.linalg.norm(d, axis=-1, keepdims=True)  # (T, 1)
    dhat = d / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(upper - fore) + 1e-4, upper + fore - 1e-5)
    a = (upper**2 - fore**2 + dist**2) / (2 * dist)  # distance to the elbow circle's centre
    h = np.sqrt(np.maximum(upper**2 - a**2, 0.0))  # its radius
    pole = np.broadcast_to(pole, d.shape)
    perp = pole - np.sum(pole * dhat, -1, keepdims=True) * dhat
    fallback = cross(
        dhat, np.broadcast_to(np.array([1.0, 0.0, 0.0]), dhat.shape)
    )  # pole parallel to the arm
    bad = np.linalg.norm(perp, axis=-1, keepdims=True) < 1e-6
    perp = normalize(np.where(bad, fallback, perp))
    elbow = shoulder + a * dhat + h * perp
    return elbow, shoulder + dist * dhat


# ----------------------------------------------------------------------------- hands

FINGERS = ("index_finger", "middle_finger", "ring_finger", "pinky")
#: the 20 hand angles (degrees in templates): 4 per finger, then the thumb
ANGLE_NAMES: tuple[str, ...] = tuple(
    f"{f}_{a}" for f in FINGERS for a in ("mcp", "pip", "dip", "abduct")
) + ("thumb_spread", "thumb_abduct", "thumb_mcp", "thumb_ip")

# right-hand local geometry in hand lengths: x radial, y along the fingers, z palm normal
_MCP_BASE = np.array(
    [[0.10, 0.45, 0.0], [0.015, 0.47, 0.0], [-0.07, 0.44, 0.0], [-0.145, 0.39, 0.0]]
)
_PHALANX = np.array(
    [[0.215, 0.13, 0.105], [0.24, 0.15, 0.11], [0.225, 0.145, 0.105], [0.175, 0.105, 0.095]]
)  # (4 fingers, 3 bones)
_SPLAY = np.radians([5.0, 0.0, -6.0, -13.0])  # natural fan of the fingers (towards the thumb +)
_THUMB_CMC = np.array([0.10, 0.12, -0.01])
_THUMB_LEN = np.array([0.20, 0.16, 0.13])  # metacarpal, proximal, distal
#: centre of the palm in hand-local units (the point that locations refer to)
PALM_CENTRE = np.array([0.0, 0.28, 0.0])


def hand_local(angles: np.ndarray) -> np.ndarray:
    """Forward kinematics of a right hand.

    Args:
        angles: ``(T, 20)`` radians, ordered as :data:`ANGLE_NAMES`.
    Returns:
        ``(T, 21, 3)`` MediaPipe hand landmarks in hand-local units (wrist at the origin).
    """
    T = angles.shape[0]
    out = np.zeros((T, 21, 3))
    fa = angles[:, :16].reshape(T, 4, 4)  # (T, finger, [mcp, pip, dip, abduct])
    ab = _SPLAY[None] + fa[..., 3]  # (T, 4) in-plane direction, towards the thumb +
    d_plane = np.stack([np.sin(ab), np.cos(ab), np.zeros_like(ab)], -1)  # (T, 4, 3)
    flex = np.cumsum(fa[..., :3], -1)  # (T, 4, 3) cumulative flexion per bone
    z = np.array([0.0, 0.0, 1.0])
    seg = np.cos(flex)[..., None] * d_plane[:, :, None, :] + np.sin(flex)[..., None] * z
    # seg: (T, finger, bone, 3) unit bone directions
    bones = seg * _PHALANX[None, :, :, None]
    chain = _MCP_BASE[None, :, None, :] + np.concatenate(
        [np.zeros((T, 4, 1, 3)), np.cumsum(bones, 2)], 2
    )  # (T, 4 fingers, 4 joints [mcp, pip, dip, tip], 3)
    out[:, 5:21] = chain.reshape(T, 16, 3)
    # thumb: metacarpal direction from spread (in-plane, from +y towards +x) and abduction
    # (out of the palm plane, towards +z); its joints flex towards the ulnar side of the palm
    spread, abduct, mcp, ip = (angles[:, 16 + k] for k in range(4))
    d0 = np.stack([np.sin(spread), np.cos(spread), np.zeros(T)], -1)
    d = np.cos(abduct)[:, None] * d0 + np.sin(abduct)[:, None] * z  # (T, 3)
    bend = np.array([-0.8, 0.1, 0.6])
    b = normalize(bend - np.sum(bend * d, -1, keepdims=True) * d)
    p1 = _THUMB_CMC + _THUMB_LEN[0] * d
    d1 = np.cos(mcp)[:, None] * d + np.sin(mcp)[:, None] * b
    p2 = p1 + _THUMB_LEN[1] * d1
    d2 = np.cos(mcp + ip)[:, None] * d + np.sin(mcp + ip)[:, None] * b
    p3 = p2 + _THUMB_LEN[2] * d2
    out[:, 1] = _THUMB_CMC
    out[:, 2], out[:, 3], out[:, 4] = p1, p2, p3
    return out


def place_hand(
    local: np.ndarray, wrist: np.ndarray, frame: np.ndarray, length: float, left: bool
) -> np.ndarray:
    """Hand-local points ``(T, 21, 3)`` -> world ``(T, 21, 3)``.

    ``frame`` ``(T, 3, 3)`` has columns ``[finger x palm, finger, palm]``; a left hand is
    the mirror image of the right-hand model (its local x is negated).
    """
    loc = local * length
    if left:
        loc = loc * np.array([-1.0, 1.0, 1.0])
    return wrist[:, None, :] + np.matmul(
        loc, np.swapaxes(frame, 1, 2)
    )  # (T, 21, 3): R @ p per point


def wrist_from_palm(palm: np.ndarray, frame: np.ndarray, length: float) -> np.ndarray:
    """Wrist position ``(T, 3)`` that puts the palm centre at ``palm`` ``(T, 3)``."""
    return palm - length * (frame @ PALM_CENTRE)  # (T, 3, 3) @ (3,) -> (T, 3)
