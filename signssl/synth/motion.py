"""Performing signs: timeline, hand trajectories and the 3D skeleton (ground truth).

A clip is a list of segments: ``rest`` (hands still, relaxed), ``trans`` (minimum-jerk
repositioning between rest and a sign, or between two signs) and ``core`` (the sign's
own movement).  Frames ``[sign_start, sign_end)`` are exactly those in which a hand is
away from its rest pose: every rest frame equals the rest pose bit for bit, and every
transition frame differs from it.

Everything is built for a right-dominant signer in the internal world frame
(``skeleton`` module docstring) and mirrored at the end for a left-handed signer.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from signssl.errors import ConfigError
from signssl.synth.config import SynthConfig, stream
from signssl.synth.handshapes import handshape_angles
from signssl.synth.phonology import (
    DIRECTIONS,
    LOCATIONS,
    ORIENTATIONS,
    SignSpec,
    location_point,
)
from signssl.synth.rotations import axis_angle, euler_xyz, frame_from_vectors, normalize, slerp
from signssl.synth.skeleton import (
    BODY,
    HAND,
    LEFT_HAND0,
    NUM_JOINTS,
    PALM_CENTRE,
    RIGHT_HAND0,
    Signer,
    body_template,
    hand_local,
    mirror_points,
    place_hand,
    solve_elbow,
    wrist_from_palm,
)

_MIRROR = np.array([-1.0, 1.0, 1.0])
# natural duration of one movement cycle at tempo 1 (frames at 30 fps)
_BASE_FRAMES = {
    "straight": 13,
    "arc": 15,
    "circle": 20,
    "zigzag": 19,
    "twist": 13,
    "tap": 9,
    "wiggle": 18,
}
_PLANE_AXES = {
    "frontal": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "horizontal": ((1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),
    "sagittal": ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0)),
}


@dataclass
class HandTrack:
    """Per-frame state of one hand: palm centre ``(n, 3)``, frame ``(n, 3, 3)`` (columns
    ``[finger x palm, finger, palm]``), finger angles ``(n, 20)`` radians."""

    palm: np.ndarray
    frame: np.ndarray
    angles: np.ndarray

    @classmethod
    def constant(cls, palm: np.ndarray, frame: np.ndarray, angles: np.ndarray, n: int) -> HandTrack:
        return cls(
            np.repeat(palm[None], n, 0), np.repeat(frame[None], n, 0), np.repeat(angles[None], n, 0)
        )

    def __len__(self) -> int:
        return len(self.palm)


@dataclass
class Performance:
    """Ground truth of one clip.

    ``points``: ``(T, 75, 3)`` skeleton (``skeleton.SKELETON_JOINTS``) in the internal
    world frame, metres, with the signer's real handedness.  ``sign_start``/``sign_end``:
    frames ``[start, end)`` away from rest.  ``cores``: ``(start, end)`` of each sign's own
    movement (the lexical part, without the transitions).
    """

    points: np.ndarray
    sign_start: int
    sign_end: int
    cores: list[tuple[int, int]]
    signer: Signer
    specs: list[SignSpec]
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.points.shape[0])


# ----------------------------------------------------------------------------- helpers


def min_jerk(u: np.ndarray) -> np.ndarray:
    """Minimum-jerk profile ``10u^3 - 15u^4 + 6u^5`` (0 -> 1 with zero end velocities)."""
    return u**3 * (10 - 15 * u + 6 * u**2)


def triangle(x: np.ndarray) -> np.ndarray:
    """0 -> 1 -> 0 -> ... with period 2 (back-and-forth progress)."""
    return 1 - np.abs(np.mod(x, 2.0) - 1)


def time_warp(u: np.ndarray, a: float, b: float) -> np.ndarray:
    """Monotone warp of ``u`` in [0, 1] fixing 0 and 1 (needs ``|a| + |b| < 1``)."""
    return u + a * np.sin(2 * np.pi * u) / (2 * np.pi) + b * np.sin(4 * np.pi * u) / (4 * np.pi)


def _orientation(name: str, mirror: bool = False) -> np.ndarray:
    finger, palm = (np.asarray(v) for v in ORIENTATIONS[name])
    if mirror:
        finger, palm = finger * _MIRROR, palm * _MIRROR
    return frame_from_vectors(finger, palm)


def _random_rotation(rng: np.random.Generator, sigma_deg: float) -> np.ndarray:
    axis = rng.normal(size=3)
    return axis_angle(axis, np.radians(rng.normal(0.0, sigma_deg)))


def _mirror_frame(frame: np.ndarray) -> np.ndarray:
    """Frame of the mirrored hand: finger and palm directions reflected (X -> -X)."""
    return frame_from_vectors(frame[..., 1] * _MIRROR, frame[..., 2] * _MIRROR)


@functools.lru_cache(maxsize=64)
def _perp_in_plane(direction: str, plane: str) -> np.ndarray:
    """A unit vector of ``plane`` perpendicular to ``direction`` (falls back to up/forward)."""
    d = np.asarray(DIRECTIONS[direction])
    a1, a2 = (np.asarray(v) for v in _PLANE_AXES[plane])
    b = np.cross(np.cross(a1, a2), d)
    if np.linalg.norm(b) < 1e-6:
        b = np.cross(d, np.array([1.0, 0.0, 0.0]))
        if np.linalg.norm(b) < 1e-6:
            b = np.array([0.0, 1.0, 0.0])
    out = normalize(b)
    out.setflags(write=False)
    return out


# ----------------------------------------------------------------------------- rest


def rest_track(signer: Signer, rng: np.random.Generator, left: bool) -> tuple[np.ndarray, ...]:
    """Rest pose of one hand: ``(palm (3,), frame (3, 3), angles (20,))``.

    The right hand is built and mirrored for the left one.
    """
    # the wrist is placed relative to the shoulder, always within reach, so that the
    # rest pose is exactly still (an unreachable target would follow the breathing)
    shoulder = body_template(signer)[BODY["right_shoulder"]]
    reach = signer.upper_arm + signer.forearm
    if signer.rest == "low":  # arms hanging, hands beside the thighs
        wrist = shoulder + 0.95 * reach * normalize(np.array([-0.08, -1.0, 0.1]))
        frame = frame_from_vectors(np.array([0.05, -1.0, 0.1]), np.array([1.0, 0.0, 0.1]))
    else:  # hands in front of the hips
        wrist = shoulder + 0.86 * reach * normalize(np.array([0.1, -0.92, 0.36]))
        frame = frame_from_vectors(np.array([0.5, -0.7, 0.35]), np.array([0.3, 0.25, -1.0]))
    wrist = wrist + rng.normal(0.0, 0.01, 3)
    palm = wrist + signer.hand_length * frame @ PALM_CENTRE
    angles = handshape_angles("relaxed") + np.radians(rng.normal(0.0, 4.0, 20))
    if left:
        palm, frame = palm * _MIRROR, _mirror_frame(frame)
    return palm, frame, angles


# ----------------------------------------------------------------------------- sign cores


@dataclass
class _Draws:
    """Per-sign random draws, taken in a fixed order from the concern streams."""

    speed: float
    warp: tuple[float, float]
    amp: float
    loc_noise: np.ndarray  # (3, 3): location, location2, passive base
    rot_noise: tuple[np.ndarray, np.ndarray]  # dominant, passive
    twist_sign: float
    shape_noise: np.ndarray  # (3, 20): handshape, handshape2, passive handshape


def _draw(signer: Signer, cfg: SynthConfig, rngs: dict[str, np.random.Generator]) -> _Draws:
    t, p, o, h = rngs["timing"], rngs["path"], rngs["orient"], rngs["shape"]
    speed = signer.tempo * t.uniform(*cfg.speed)
    w = cfg.time_warp
    warp = (float(t.uniform(-0.7, 0.7) * w), float(t.uniform(-0.25, 0.25) * w))
    amp = signer.space * p.uniform(*cfg.amplitude)
    loc_noise = p.normal(0.0, cfg.location_noise, (3, 3))
    rot = (
        _random_rotation(o, cfg.orientation_noise),
        _random_rotation(o, cfg.orientation_noise / 2),
    )
    twist_sign = 1.0 if o.random() < 0.5 else -1.0
    shape_noise = np.radians(h.normal(0.0, cfg.handshape_noise, (3, 20)))
    return _Draws(float(speed), warp, float(amp), loc_noise, rot, twist_sign, shape_noise)


def core_frames(spec: SignSpec, speed: float) -> int:
    """Natural length in frames of a sign's own movement at ``speed``."""
    base = _BASE_FRAMES[spec.movement]
    n = base * (1 + 0.75 * (spec.repeat - 1))
    if spec.location2 is not None:
        n = max(n, 16)
    if spec.handshape2 is not None:
        n += 5
    return max(6, int(round(n / speed)))


def _path(
    spec: SignSpec, s: np.ndarray, amp: float, approach: np.ndarray, phase: float, twist_sign: float
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets ``(n, 3)`` of the palm from the location and the twist angle ``(n,)``."""
    n = len(s)
    off = np.zeros((n, 3))
    twist = np.zeros(n)
    d = np.asarray(DIRECTIONS[spec.direction])
    sense = 1.0 if spec.direction in ("up", "forward", "ipsi") else -1.0
    x = s * spec.repeat + phase
    q = triangle(x)[:, None]  # (n, 1) back-and-forth progress
    length = 0.15 * amp
    b = _perp_in_plane(spec.direction, spec.plane)
    m = spec.movement
    if m == "straight":
        off = (q - 0.5) * length * d
    elif m == "arc":
        off = (q - 0.5) * length * d + np.sin(np.pi * q) * 0.35 * length * b
    elif m == "zigzag":
        zig = 4 * np.abs(np.mod(3 * q + 0.25, 1.0) - 0.5) - 1  # (n, 1) triangle wave in [-1, 1]
        off = (q - 0.5) * length * d + zig * 0.2 * length * b
    elif m == "circle":
        a1, a2 = (np.asarray(v) for v in _PLANE_AXES[spec.plane])
        theta = sense * 2 * np.pi * x[:, None]  # (n, 1)
        off = 0.06 * amp * (np.cos(theta) * a1 + np.sin(theta) * a2)
    elif m == "tap":
        off = approach * 0.045 * amp * 0.5 * (1 + np.cos(2 * np.pi * x))[:, None]
    elif m == "twist":
        twist = twist_sign * np.radians(100.0) * (triangle(x) - 0.5)
    elif m == "wiggle":
        off = 0.01 * amp * np.sin(2 * np.pi * x)[:, None] * d
    return off, twist


def _core(
    spec: SignSpec,
    signer: Signer,
    n: int,
    dr: _Draws,
    shift: np.ndarray,
    next_angles: np.ndarray | None,
    coartic: float,
) -> tuple[HandTrack, HandTrack | None]:
    """Dominant and non-dominant (``None`` = at rest) tracks of one sign's movement."""
    u = np.linspace(0.0, 1.0, n)
    s = np.clip(time_warp(u, *dr.warp), 0.0, 1.0)
    s = 0.5 * s + 0.5 * min_jerk(s)  # movements accelerate and decelerate
    dom_frame0 = dr.rot_noise[0] @ _orientation(spec.orientation)
    approach = np.array([0.0, 0.0, 1.0])
    passive: HandTrack | None = None
    if spec.hands == "passive":
        assert spec.passive_orientation is not None and spec.passive_handshape is not None
        p_palm = location_point("passive_base", signer) + dr.loc_noise[2] + shift
        p_frame = dr.rot_noise[1] @ _orientation(spec.passive_orientation, mirror=True)
        p_angles = handshape_angles(spec.passive_handshape) + dr.shape_noise[2]
        fing, nrm = p_frame[:, 1], p_frame[:, 2]
        if spec.location == "passive_palm":
            loc, approach = p_palm + 0.04 * nrm, nrm
        elif spec.location == "passive_back":
            loc, approach = p_palm - 0.045 * nrm, -nrm
        else:  # passive_fingers
            loc, approach = p_palm + 0.55 * signer.hand_length * fing + 0.035 * nrm, nrm
        loc = loc + 0.3 * dr.loc_noise[0]
        passive = HandTrack.constant(p_palm, p_frame, p_angles, n)
    else:
        loc = location_point(spec.location, signer) + dr.loc_noise[0] + shift
        if spec.hands in ("symmetric", "alternating") and abs(loc[0]) < 0.08 * signer.scale:
            loc = loc.copy()
            loc[0] = min(loc[0], 0.0) - 0.08 * signer.scale  # keep the two hands apart
    off, twist = _path(spec, s, dr.amp, approach, 0.0, dr.twist_sign)
    if spec.location2 is not None:
        loc2 = location_point(spec.location2, signer) + dr.loc_noise[1] + shift
        q = min_jerk(s)[:, None]
        bulge = (
            0.25 * np.linalg.norm(loc2 - loc) * np.array([0.0, 0.3, 1.0])
            if spec.movement == "arc"
            else 0.0
        )
        palm = loc + q * (loc2 - loc) + np.sin(np.pi * q) * bulge
    else:
        palm = loc + off
    frame = np.repeat(dom_frame0[None], n, 0)
    if spec.movement == "twist":
        frame = frame @ axis_angle(np.array([0.0, 1.0, 0.0]), twist)  # about the finger axis
    angles = np.repeat((handshape_angles(spec.handshape) + dr.shape_noise[0])[None], n, 0)
    if spec.handshape2 is not None:
        a2 = handshape_angles(spec.handshape2) + dr.shape_noise[1]
        w = min_jerk(np.clip((s - 0.3) / 0.4, 0.0, 1.0))[:, None]
        angles = angles + w * (a2 - angles)
    if spec.movement == "wiggle":
        x = s * (spec.repeat + 2)
        for f in range(4):
            angles[:, 4 * f] += 0.4 * np.sin(2 * np.pi * x + f * np.pi / 2)
    if next_angles is not None and coartic > 0:  # anticipate the next sign's handshape
        w = coartic * np.clip((u - 0.7) / 0.3, 0.0, 1.0)[:, None]
        angles = angles + w * (next_angles - angles)
    dom = HandTrack(palm, frame, angles)
    if spec.hands in ("symmetric", "alternating"):
        if spec.hands == "alternating":
            phase = 0.5 if spec.movement == "circle" else 1.0
            off2, twist2 = _path(spec, s, dr.amp, approach, phase, dr.twist_sign)
            palm2 = loc + off2
            frame2 = np.repeat(dom_frame0[None], n, 0)
            if spec.movement == "twist":
                frame2 = frame2 @ axis_angle(np.array([0.0, 1.0, 0.0]), twist2)
        else:
            palm2, frame2 = palm, frame
        return dom, HandTrack(palm2 * _MIRROR, _mirror_frame(frame2), angles.copy())
    return dom, passive


# ----------------------------------------------------------------------------- timeline


def _timeline(
    core_lens: list[int],
    speed: float,
    frames: int | None,
    cfg: SynthConfig,
    rng: np.random.Generator,
) -> list[tuple[str, int, int]]:
    """Segments ``(kind, length, sign index)``; lengths sum to ``frames`` when given."""
    k = len(core_lens)
    lo, hi = cfg.transition
    t_rest = [rng.uniform(lo, hi) / speed for _ in range(2)]  # rest -> sign, sign -> rest
    t_mid = [rng.uniform(0.6 * lo, 0.6 * hi) / speed for _ in range(k - 1)]  # sign -> sign
    active = (
        [t_rest[0]]
        + [x for i in range(k) for x in ([core_lens[i]] + ([t_mid[i]] if i < k - 1 else []))]
        + [t_rest[1]]
    )
    active = [float(a) for a in active]
    min_rest = cfg.min_rest
    split = rng.uniform(0.15, 0.85)
    if frames is None:  # natural length, rests of a third of a second on average
        rests = [min_rest + int(rng.integers(4, 16)), min_rest + int(rng.integers(4, 16))]
    else:
        budget = frames - 2 * min_rest
        if budget < 3 * (2 * k + 1):
            raise ConfigError(
                f"{frames} frames are too few for {k} sign(s); use at least "
                f"{3 * (2 * k + 1) + 2 * min_rest}"
            )
        total = sum(active)
        if total > budget:  # compress the signing (signers speed up to fit)
            active = [a * budget / total for a in active]
        active = [max(3.0, a) for a in active]
    lens = [max(3, int(round(a))) for a in active]
    if frames is not None:
        # fix rounding so the active part fits, taking frames from the longest segments
        while sum(lens) > frames - 2 * min_rest:
            lens[int(np.argmax(lens))] -= 1
        spare = frames - sum(lens) - 2 * min_rest
        before = int(round(spare * split))
        rests = [min_rest + before, min_rest + spare - before]
    segs: list[tuple[str, int, int]] = [("rest", rests[0], -1), ("trans", lens[0], 0)]
    for i in range(k):
        segs.append(("core", lens[1 + 2 * i], i))
        segs.append(("trans", lens[2 + 2 * i], i + 1))
    segs.append(("rest", rests[1], k))
    return segs


def _assemble(
    segs: list[tuple[str, int, int]],
    cores: list[HandTrack | None],
    rest: tuple[np.ndarray, ...],
    bump: np.ndarray,
) -> tuple[HandTrack, np.ndarray]:
    """One hand's track over the whole clip and its ``away from rest`` mask ``(T,)``."""
    T = sum(n for _, n, _ in segs)
    palm, frame, angles = np.empty((T, 3)), np.empty((T, 3, 3)), np.empty((T, 20))
    r_palm, r_frame, r_angles = rest
    states: list[HandTrack | None] = []
    away = np.zeros(T, bool)
    t = 0
    for kind, n, i in segs:  # rest and core segments first
        if kind == "core" and cores[i] is not None:
            c = cores[i]
            assert c is not None and len(c) == n
            palm[t : t + n], frame[t : t + n], angles[t : t + n] = c.palm, c.frame, c.angles
            away[t : t + n] = True
            states.append(c)
        elif kind != "trans":
            palm[t : t + n], frame[t : t + n], angles[t : t + n] = r_palm, r_frame, r_angles
            states.append(None)
        else:
            states.append(None)
        t += n
    t = 0
    for j, (kind, n, _) in enumerate(segs):
        if kind == "trans":
            prev, nxt = states[j - 1], states[j + 1]
            a = (
                (r_palm, r_frame, r_angles)
                if prev is None
                else (prev.palm[-1], prev.frame[-1], prev.angles[-1])
            )
            b = (
                (r_palm, r_frame, r_angles)
                if nxt is None
                else (nxt.palm[0], nxt.frame[0], nxt.angles[0])
            )
            if prev is None and nxt is None:  # stays at rest
                palm[t : t + n], frame[t : t + n], angles[t : t + n] = r_palm, r_frame, r_angles
            else:
                u = np.arange(1, n + 1) / (n + 1)  # never exactly at either end
                w = min_jerk(u)[:, None]
                lift = bump if (prev is None or nxt is None) else 0.4 * bump
                palm[t : t + n] = a[0] + w * (b[0] - a[0]) + np.sin(np.pi * u)[:, None] * lift
                frame[t : t + n] = slerp(a[1], b[1], w[:, 0])
                wa = min_jerk(np.clip(u / 0.8, 0.0, 1.0))[:, None]  # the hand forms early
                angles[t : t + n] = a[2] + wa * (b[2] - a[2])
                away[t : t + n] = True
        t += n
    return HandTrack(palm, frame, angles), away


# ----------------------------------------------------------------------------- body


def _head_rotation(T: int, cfg: SynthConfig, rng: np.random.Generator) -> np.ndarray:
    """Small head rotations ``(T, 3, 3)``: a per-clip pose plus a slow oscillation."""
    base = rng.normal(0.0, cfg.head_motion, 3)
    amp = rng.uniform(0.0, cfg.head_motion, 3)
    freq = rng.uniform(0.3, 1.2, 3) * 2 * np.pi / 30.0
    ph = rng.uniform(0, 2 * np.pi, 3)
    t = np.arange(T)[:, None]
    ang = np.radians(base + amp * np.sin(freq * t + ph))  # (T, 3) pitch, yaw, roll
    return euler_xyz(ang[:, 0], ang[:, 1], ang[:, 2])


_FACE_IDX = np.array(
    [
        BODY[n]
        for n in (
            "nose",
            "left_eye_inner",
            "left_eye",
            "left_eye_outer",
            "right_eye_inner",
            "right_eye",
            "right_eye_outer",
            "left_ear",
            "right_ear",
            "mouth_left",
            "mouth_right",
        )
    ]
)


def build_skeleton(
    signer: Signer,
    dom: HandTrack,
    nondom: HandTrack,
    cfg: SynthConfig,
    rng_head: np.random.Generator,
) -> np.ndarray:
    """Skeleton ``(T, 75, 3)`` of a right-dominant performance (dominant = right hand)."""
    T = len(dom)
    pts = np.zeros((T, NUM_JOINTS, 3))
    body = body_template(signer)  # (33, 3)
    pts[:, :33] = body
    # breathing lifts the shoulders; the head turns a little around the top of the neck
    breath = (
        0.004
        * signer.scale
        * np.sin(2 * np.pi * np.arange(T) / (3.5 * cfg.fps) + rng_head.uniform(0, 6.3))
    )
    for sh in ("left_shoulder", "right_shoulder"):
        pts[:, BODY[sh], 1] += breath
    pivot = np.array([0.0, signer.torso + 0.08 * signer.scale, 0.0])
    rot = _head_rotation(T, cfg, rng_head)  # (T, 3, 3)
    pts[:, _FACE_IDX] = np.einsum("tij,fj->tfi", rot, body[_FACE_IDX] - pivot) + pivot
    L = signer.hand_length
    local = hand_local(np.concatenate([dom.angles, nondom.angles]))  # (2T, 21, 3) both hands
    for k, (side, track, h0, sgn) in enumerate(
        (("right", dom, RIGHT_HAND0, -1.0), ("left", nondom, LEFT_HAND0, 1.0))
    ):
        shoulder = pts[:, BODY[f"{side}_shoulder"]]
        wrist = wrist_from_palm(track.palm, track.frame, L)
        pole = normalize(np.array([sgn * signer.elbow_out, -1.0, -0.25]))
        elbow, wrist = solve_elbow(shoulder, wrist, signer.upper_arm, signer.forearm, pole)
        hand = place_hand(local[k * T : (k + 1) * T], wrist, track.frame, L, left=side == "left")
        pts[:, h0 : h0 + 21] = hand
        pts[:, BODY[f"{side}_elbow"]] = elbow
        pts[:, BODY[f"{side}_wrist"]] = wrist
        pts[:, BODY[f"{side}_pinky"]] = hand[:, HAND["pinky_mcp"]]
        pts[:, BODY[f"{side}_index"]] = hand[:, HAND["index_finger_mcp"]]
        pts[:, BODY[f"{side}_thumb"]] = hand[:, HAND["thumb_mcp"]]
    return pts


# ----------------------------------------------------------------------------- perform


def perform(
    specs: SignSpec | Sequence[SignSpec],
    signer: Signer,
    seed: int,
    frames: int | None = 64,
    config: SynthConfig | None = None,
    coarticulation: float = 0.15,
) -> Performance:
    """Perform one sign (isolated) or several in a row (continuous signing).

    Args:
        specs: one sign class, or a sequence of them for continuous signing.
        signer: who signs.
        seed: sample seed; every random choice comes from its named streams
            (``config.STREAMS``), so the same seed gives the same clip.
        frames: clip length (the signing is compressed to fit and the rest fills the
            remainder); ``None`` keeps the natural length.
        config: variation magnitudes (:class:`SynthConfig`).
        coarticulation: in continuous signing, how far each sign's location moves towards
            its neighbours' and its handshape towards the next one (0 = none).
    """
    cfg = config or SynthConfig()
    spec_list = [specs] if isinstance(specs, SignSpec) else list(specs)
    if not spec_list:
        raise ConfigError("perform() needs at least one sign")
    rngs = {k: stream(seed, k) for k in ("timing", "path", "orient", "shape", "rest", "head")}
    draws = [_draw(signer, cfg, rngs) for _ in spec_list]
    speed = float(np.mean([d.speed for d in draws]))
    core_lens = [core_frames(sp, d.speed) for sp, d in zip(spec_list, draws, strict=True)]
    segs = _timeline(core_lens, speed, frames, cfg, rngs["timing"])
    core_n = [n for kind, n, _ in segs if kind == "core"]
    # co-articulation: shift each sign towards the average location of its neighbours
    k = len(spec_list)
    centres = [
        location_point(sp.location if sp.location in LOCATIONS else "neutral", signer)
        for sp in spec_list
    ]
    dom_cores: list[HandTrack | None] = []
    nd_cores: list[HandTrack | None] = []
    for i, (sp, dr) in enumerate(zip(spec_list, draws, strict=True)):
        nb = [centres[j] for j in (i - 1, i + 1) if 0 <= j < k]
        shift = coarticulation * (np.mean(nb, 0) - centres[i]) if (nb and k > 1) else np.zeros(3)
        nxt = handshape_angles(spec_list[i + 1].handshape) if i + 1 < k else None
        dom, nd = _core(sp, signer, core_n[i], dr, shift, nxt, coarticulation if k > 1 else 0.0)
        dom_cores.append(dom)
        nd_cores.append(nd)
    rest_r = rest_track(signer, rngs["rest"], left=False)
    rest_l = rest_track(signer, rngs["rest"], left=True)
    bump = np.array([0.0, 0.03, 0.06]) * signer.scale
    dom, away_r = _assemble(segs, dom_cores, rest_r, bump)
    nondom, away_l = _assemble(segs, nd_cores, rest_l, bump)
    pts = build_skeleton(signer, dom, nondom, cfg, rngs["head"])
    if signer.left_handed:
        pts = mirror_points(pts)
    away = np.flatnonzero(away_r | away_l)
    starts = np.cumsum([0] + [n for _, n, _ in segs])
    cores = [
        (int(starts[j]), int(starts[j + 1]))
        for j, (kind, _, _) in enumerate(segs)
        if kind == "core"
    ]
    return Performance(pts, int(away[0]), int(away[-1]) + 1, cores, signer, spec_list, cfg.fps)


__all__ = [
    "HandTrack",
    "Performance",
    "build_skeleton",
    "core_frames",
    "min_jerk",
    "perform",
    "rest_track",
]
