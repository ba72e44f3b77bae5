"""Magnitudes of the per-sample variation and of the simulated estimator noise."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from signssl.errors import ConfigError

#: named random streams of one sample; each stream is seeded from (sample seed, id) so the
#: draws of one concern never shift those of another (e.g. changing the handshape of a
#: class leaves timing, path, camera and noise untouched)
STREAMS = {
    "timing": 1,
    "path": 2,
    "orient": 3,
    "shape": 4,
    "rest": 5,
    "head": 6,
    "camera": 7,
    "noise": 8,
    "dropout": 9,
    "style": 10,
}


def stream(seed: int, name: str, index: int = 0) -> np.random.Generator:
    """The random generator of one concern (``STREAMS``) of the sample ``seed``.

    A counter-based generator (Philox) keyed by ``(seed, concern, index)``: distinct keys
    give independent streams, and making one is cheap.
    """
    if not 0 <= int(seed) < 2**64:
        raise ConfigError(f"seed must be an integer in [0, 2**64), got {seed}")
    key = np.array([int(seed), (STREAMS[name] << 32) | (int(index) & 0xFFFFFFFF)], np.uint64)
    return np.random.Generator(np.random.Philox(key=key))


@dataclass(frozen=True)
class SynthConfig:
    """Variation and noise of generated samples (the defaults are the tuned difficulty).

    Lengths in metres, image quantities in normalised image units (1 = image width),
    angles in degrees.  ``scaled(k)`` multiplies every noise/variation magnitude by k.
    """

    fps: float = 30.0
    # signer and performance variation
    signer_variation: float = 1.0  # spread of body proportions and personal style
    location_noise: float = 0.02  # per-sample offset of each location target
    orientation_noise: float = 12.0  # per-sample random rotation of the hand
    handshape_noise: float = 7.0  # per-sample offset of each finger angle
    amplitude: tuple[float, float] = (0.7, 1.35)  # movement size factor
    speed: tuple[float, float] = (0.8, 1.25)  # tempo factor (times the signer's tempo)
    time_warp: float = 0.6  # strength of the random monotone time warp of the movement
    transition: tuple[float, float] = (6.0, 11.0)  # frames rest <-> sign at tempo 1
    min_rest: int = 2  # frames of rest kept before and after the sign
    head_motion: float = 3.0  # head rotation (degrees)
    # estimator noise on the observed keypoints
    jitter_body: float = 0.003  # white noise on body landmarks
    jitter_hand: float = 0.003  # white noise on hand landmarks
    drift: float = 0.006  # slow (correlated over frames) error per landmark
    hand_drift: float = 0.01  # slow error of a whole hand
    world_noise: float = 0.012  # white noise on body_world (metres)
    hand_dropout: float = 0.08  # mean share of frames a visible hand is lost
    glitch_rate: float = 0.01  # frames in which a whole hand jumps
    low_confidence: float = 0.05  # share of arm landmarks whose visibility drops
    # camera
    zoom: tuple[float, float] = (0.85, 1.15)
    shift: float = 0.04  # translation of the principal point
    rotation: float = 4.0  # roll/pitch (yaw is twice this)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            vals = v if isinstance(v, tuple) else (v,)
            if any(x < 0 for x in vals):
                raise ConfigError(f"SynthConfig.{f.name} must be >= 0, got {v}")
            if isinstance(v, tuple) and (len(v) != 2 or v[0] > v[1]):
                raise ConfigError(f"SynthConfig.{f.name} must be a (low, high) pair, got {v}")
        if self.fps <= 0:
            raise ConfigError(f"SynthConfig.fps must be > 0, got {self.fps}")

    _NOISE = (
        "signer_variation",
        "location_noise",
        "orientation_noise",
        "handshape_noise",
        "time_warp",
        "head_motion",
        "jitter_body",
        "jitter_hand",
        "drift",
        "hand_drift",
        "world_noise",
        "hand_dropout",
        "glitch_rate",
        "low_confidence",
        "shift",
        "rotation",
    )

    def scaled(self, k: float) -> SynthConfig:
        """A copy with every noise and variation magnitude multiplied by ``k``."""
        if k < 0:
            raise ConfigError(f"noise scale must be >= 0, got {k}")
        kw = {n: getattr(self, n) * k for n in self._NOISE}
        kw["hand_dropout"] = min(kw["hand_dropout"], 0.9)
        return replace(self, **kw)

    def to_dict(self) -> dict:
        return asdict(self)
