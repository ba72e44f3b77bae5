"""Camera projection and a simulated pose estimator (noise, dropouts, confidences).

The observed keypoints imitate MediaPipe Holistic (layout :data:`SYNTH_LAYOUT`):

* ``body`` (33 pose landmarks): x, y normalised image coordinates (0..1, y down), z the
  depth relative to the hip midpoint in the same unit as x (smaller = nearer the camera),
  visibility ~0.9-1 inside the image and ~0.02-0.3 outside it;
* ``left_hand`` / ``right_hand`` (21 each): x, y as above, z relative to the wrist; a
  hand is either fully present (confidence 1) or missing in a frame (confidence 0,
  coordinates 0), as with the real estimator, which loses hands during fast movements,
  near the face and outside the image;
* ``body_world`` (33): metric 3D, origin at the hip midpoint, axes of the camera
  (x right, y down, z away from the camera), with the body's visibilities.

There is no face mesh: the face landmarks of the pose model (nose, eyes, ears, mouth
corners) are the face points, and the rest of the 468-point mesh would be missing anyway.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np

from signssl.pose.layouts import (
    Layout,
    get_layout,
)
from signssl.pose.sequence import PoseSequence
from signssl.synth.config import SynthConfig, stream
from signssl.synth.rotations import euler_xyz
from signssl.synth.skeleton import BODY, HAND, LEFT_HAND0, RIGHT_HAND0, Signer

SYNTH_LAYOUT_NAME = "holistic_world_noface"
#: body 33 + left hand 21 + right hand 21 + body_world 33 = 108 joints
SYNTH_LAYOUT: Layout = get_layout(SYNTH_LAYOUT_NAME)
_M0 = np.diag([1.0, -1.0, -1.0])  # internal (X left-of-signer, Y up, Z to camera) -> camera axes
_HIP_L, _HIP_R = BODY["left_hip"], BODY["right_hip"]


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking at the signer (square images).

    The camera looks at ``target`` (internal world frame) from ``distance`` metres;
    ``rotation`` maps internal world axes to camera axes (x right, y down, z forward) and
    includes the small yaw/pitch/roll of the view, which orbits the camera around the
    target.  ``focal`` is in image widths, ``centre`` the principal point in normalised
    image coordinates.
    """

    focal: float
    target: tuple[float, float, float]
    distance: float
    rotation: tuple[tuple[float, float, float], ...]
    centre: tuple[float, float] = (0.5, 0.5)

    @classmethod
    def sample(cls, rng: np.random.Generator, signer: Signer, cfg: SynthConfig) -> Camera:
        """Frame the upper body as sign-language videos do (hips at the bottom edge)."""
        dist = rng.uniform(2.2, 3.0)
        zoom = rng.uniform(*cfg.zoom)
        focal = 0.96 * dist * zoom * 0.52 / signer.torso
        aim = (0.0, 0.94 * signer.torso, 0.0)
        rot = euler_xyz(
            *np.radians(rng.uniform(-1, 1, 3) * cfg.rotation * np.array([1.0, 2.0, 1.0]))
        )
        R = rot @ _M0
        shift = rng.uniform(-cfg.shift, cfg.shift, 2)
        return cls(
            float(focal),
            aim,
            float(dist),
            tuple(tuple(float(x) for x in r) for r in R),  # type: ignore[arg-type]
            (float(0.5 + shift[0]), float(0.5 + shift[1])),
        )

    @functools.cached_property
    def R(self) -> np.ndarray:
        return np.asarray(self.rotation)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Internal world ``(..., 3)`` -> camera coordinates ``(..., 3)`` (metres)."""
        flat = (points - np.asarray(self.target)).reshape(-1, 3) @ self.R.T  # (N, 3) one product
        flat[:, 2] += self.distance
        return flat.reshape(points.shape)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(uv (..., 2) normalised image coordinates, depth (...,) metres)``."""
        pc = self.to_camera(points)
        depth = np.maximum(pc[..., 2], 1e-3)
        uv = self.focal * pc[..., :2] / depth[..., None] + np.asarray(self.centre)
        return uv, depth

    def to_dict(self) -> dict:
        return asdict(self)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], T: int) -> np.ndarray:
    """Slow noise ``(T, *shape)`` of about unit scale: random values at a knot every ~12
    frames, linearly interpolated in between."""
    n_knots = max(2, T // 12 + 2)
    knots = rng.normal(0.0, 1.0, (n_knots, int(np.prod(shape))))
    return (_hat_basis(T, n_knots) @ knots).reshape((T,) + shape)


@functools.lru_cache(maxsize=32)
def _hat_basis(T: int, n_knots: int) -> np.ndarray:
    """``(T, n_knots)`` linear-interpolation weights from knots spread over T frames."""
    pos = np.linspace(0, n_knots - 1, T)
    return np.maximum(0.0, 1 - np.abs(pos[:, None] - np.arange(n_knots)[None]))


def _dropouts(rng: np.random.Generator, T: int, rate: float, weight: np.ndarray) -> np.ndarray:
    """Frames ``(T,)`` in which a hand is lost: runs of a few frames (mean 2.5), starting
    preferably where ``weight`` ``(T,)`` is high (fast motion, near the face or the other
    hand, at the bottom edge of the image, as with MediaPipe)."""
    lost = np.zeros(T, bool)
    n_runs = rng.poisson(rate * T / 2.5)
    if n_runs:
        starts = rng.choice(T, size=n_runs, p=weight / weight.sum())
        lengths = rng.geometric(0.4, n_runs)
        for s, n in zip(starts, lengths, strict=True):
            lost[s : s + n] = True
    return lost


def _hand_difficulty(uv: np.ndarray, h0: int, other0: int) -> np.ndarray:
    """Per-frame weight ``(T,)`` of losing the hand starting at joint ``h0``."""
    wrist, other = uv[:, h0], uv[:, other0]
    step = np.diff(wrist, axis=0)
    speed = np.r_[0.0, np.sqrt((step * step).sum(-1))]  # (T,) image widths per frame
    near_face = np.sqrt(((wrist - uv[:, BODY["nose"]]) ** 2).sum(-1)) < 0.12
    near_hand = np.sqrt(((wrist - other) ** 2).sum(-1)) < 0.08
    at_edge = wrist[:, 1] > 0.88  # partly below the frame, e.g. resting in the lap
    return (
        0.3
        + speed / max(float(speed.mean()), 1e-9)
        + 1.5 * near_face
        + 1.0 * near_hand
        + 2.0 * at_edge
    )


def observe(
    points: np.ndarray,
    camera: Camera,
    seed: int,
    config: SynthConfig | None = None,
    fps: float = 30.0,
    source: str | None = None,
) -> PoseSequence:
    """Simulate the pose estimator on a skeleton.

    Args:
        points: ``(T, 75, 3)`` skeleton (internal world frame, metres).
        camera: the camera.
        seed: sample seed (noise and dropout streams).
    Returns:
        :class:`PoseSequence` in :data:`SYNTH_LAYOUT` (``(T, 108, 3)``).
    """
    cfg = config or SynthConfig()
    rng, rd = stream(seed, "noise"), stream(seed, "dropout")
    T = points.shape[0]
    uv, depth = camera.project(points)  # (T, 75, 2), (T, 75)
    hip = (points[:, _HIP_L] + points[:, _HIP_R]) / 2  # (T, 3)
    hip_depth = camera.to_camera(hip)[:, 2]  # (T,)
    f = camera.focal
    level = rng.uniform(0.5, 1.5)  # this clip's estimator quality

    def normal(sigma: float, shape: tuple[int, ...]) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma * level)

    xyz = np.zeros((T, SYNTH_LAYOUT.num_joints, 3), np.float32)
    conf = np.zeros((T, SYNTH_LAYOUT.num_joints), np.float32)
    # -- body
    b_uv = (
        uv[:, :33]
        + normal(cfg.jitter_body, (T, 33, 2))
        + level * cfg.drift * _smooth_noise(rng, (33, 2), T)
    )
    b_z = f * (depth[:, :33] - hip_depth[:, None]) / hip_depth[:, None] + normal(
        3 * cfg.jitter_body, (T, 33)
    )
    inside = ((uv[:, :33] > 0.0) & (uv[:, :33] < 1.0)).all(-1)  # (T, 33)
    u = rng.random((T, 33), dtype=np.float32)
    vis = np.where(inside, 0.88 + 0.119 * u, 0.02 + 0.28 * u)
    arms = np.array(
        [
            BODY[f"{s}_{j}"]
            for s in ("left", "right")
            for j in ("elbow", "wrist", "pinky", "index", "thumb")
        ]
    )
    low = rng.random((T, arms.size), dtype=np.float32) < cfg.low_confidence
    vis[:, arms] = np.where(low, 0.3 + 0.3 * u[:, arms], vis[:, arms])
    xyz[:, :33, :2], xyz[:, :33, 2], conf[:, :33] = b_uv, b_z, vis
    # -- hands
    for h0, j0 in ((LEFT_HAND0, 33), (RIGHT_HAND0, 54)):
        w_depth = depth[:, h0 + HAND["wrist"]][:, None]
        h_z = f * (depth[:, h0 : h0 + 21] - w_depth) / w_depth + normal(cfg.jitter_hand, (T, 21))
        h_uv = (
            uv[:, h0 : h0 + 21]
            + normal(cfg.jitter_hand, (T, 21, 2))
            + level * cfg.hand_drift * _smooth_noise(rng, (1, 2), T)
        )  # (T, 21, 2)
        glitch = rng.random(T) < cfg.glitch_rate
        h_uv[glitch] += rng.normal(0, 0.03, (int(glitch.sum()), 1, 2))
        weight = _hand_difficulty(uv, h0, LEFT_HAND0 + RIGHT_HAND0 - h0)
        lost = _dropouts(rd, T, cfg.hand_dropout * rd.uniform(0.0, 2.0), weight)
        wrist = uv[:, h0]
        lost |= ~((wrist > 0.0) & (wrist < 1.0)).all(-1)  # the wrist left the image
        keep = ~lost
        xyz[keep, j0 : j0 + 21, :2] = h_uv[keep]
        xyz[keep, j0 : j0 + 21, 2] = h_z[keep]
        conf[keep, j0 : j0 + 21] = 1.0
    # -- body_world (metric, camera axes, hip-centred)
    w = ((points[:, :33] - hip[:, None]).reshape(-1, 3) @ camera.R.T).reshape(T, 33, 3)
    w = (
        w
        + normal(cfg.world_noise, (T, 33, 3))
        + 2 * level * cfg.world_noise * _smooth_noise(rng, (33, 3), T)
    )
    xyz[:, 75:108], conf[:, 75:108] = w, vis
    return PoseSequence(xyz, conf, SYNTH_LAYOUT, fps, source)
