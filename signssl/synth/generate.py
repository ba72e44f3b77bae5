"""One synthetic sample in memory: ground-truth skeleton, observed keypoints, style.

>>> from signssl.synth import Vocabulary, sample_signers, synthesize, render
>>> vocab = Vocabulary.sample(10, seed=0)
>>> signer = sample_signers(1, seed=0)[0]
>>> s = synthesize(vocab[0], signer, seed=123)      # 64 frames
>>> s.pose.xyz.shape, s.sign_start < s.sign_end
((64, 108, 3), True)
>>> render(s, size=64).shape
(64, 64, 64, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from signssl.errors import ConfigError
from signssl.pose.sequence import PoseSequence
from signssl.synth.camera import Camera, observe
from signssl.synth.config import SynthConfig, stream
from signssl.synth.motion import Performance, perform
from signssl.synth.phonology import SignSpec
from signssl.synth.render import Style, render_skeleton
from signssl.synth.skeleton import Signer


@dataclass
class SynthSample:
    """A generated clip.

    ``pose``: the observed keypoints (``camera.SYNTH_LAYOUT``, noisy, with dropouts);
    ``performance``: the ground truth (clean 3D skeleton, sign boundaries);
    ``camera`` and ``style``: how it is seen and rendered.
    """

    pose: PoseSequence
    performance: Performance
    camera: Camera
    style: Style
    seed: int

    @property
    def signer(self) -> Signer:
        return self.performance.signer

    @property
    def specs(self) -> list[SignSpec]:
        return self.performance.specs

    @property
    def label(self) -> str | None:
        """The class name of an isolated sign (``None`` for continuous signing)."""
        return self.specs[0].name if len(self.specs) == 1 else None

    @property
    def sign_start(self) -> int:
        """First frame in which a hand has left its rest pose."""
        return self.performance.sign_start

    @property
    def sign_end(self) -> int:
        """Frame after the last one away from rest (hands back at rest from here)."""
        return self.performance.sign_end

    @property
    def world(self) -> np.ndarray:
        """Clean 3D skeleton ``(T, 75, 3)`` (``skeleton.SKELETON_JOINTS``, internal frame)."""
        return self.performance.points


def synthesize(
    specs: SignSpec | Sequence[SignSpec],
    signer: Signer,
    seed: int,
    frames: int | None = 64,
    config: SynthConfig | None = None,
    coarticulation: float = 0.15,
    source: str | None = None,
) -> SynthSample:
    """Perform, film and observe one clip (see :func:`motion.perform` for the arguments).

    Deterministic: the same arguments give the same sample, bit for bit.
    """
    if frames is not None and frames < 8:
        raise ConfigError(f"frames must be >= 8, got {frames}")
    cfg = config or SynthConfig()
    perf = perform(specs, signer, seed, frames, cfg, coarticulation)
    camera = Camera.sample(stream(seed, "camera"), signer, cfg)
    pose = observe(perf.points, camera, seed, cfg, fps=cfg.fps, source=source)
    style = Style.sample(stream(seed, "style"))
    return SynthSample(pose, perf, camera, style, seed)


def render(sample: SynthSample, size: int = 112, style: Style | None = None) -> np.ndarray:
    """RGB video ``(T, size, size, 3)`` uint8 of a sample (its own style by default)."""
    return render_skeleton(sample.world, sample.camera, sample.signer, style or sample.style, size)
