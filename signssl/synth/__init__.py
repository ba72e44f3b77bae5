"""Procedural sign generator with ground truth (3D skeleton -> pose files + RGB video).

Pieces, from the inside out:

* :mod:`.skeleton` - signer proportions (:class:`Signer`), MediaPipe body landmarks,
  analytic arm IK and hand forward kinematics from 20 finger angles;
* :mod:`.handshapes` - 28 handshape templates; :mod:`.phonology` - locations,
  movements, orientations, :class:`SignSpec` (one class) and :class:`Vocabulary`
  (classes with minimal pairs);
* :mod:`.motion` - the timeline (rest, transition, sign, transition, rest) and the clean
  3D performance with its true sign boundaries;
* :mod:`.camera` - camera and simulated estimator (noise, dropped hands, visibilities)
  producing a :class:`~signssl.pose.PoseSequence` in :data:`SYNTH_LAYOUT`;
* :mod:`.render` - numpy capsule renderer with a per-video :class:`Style`;
* :mod:`.generate` - :func:`synthesize` / :func:`render` for one sample in memory;
* :mod:`.dataset` - :func:`generate_dataset` writes pose files, videos and a manifest.
"""

from signssl.synth.camera import SYNTH_LAYOUT, Camera, observe
from signssl.synth.config import SynthConfig
from signssl.synth.dataset import (
    SynthReport,
    derive_seed,
    generate_dataset,
    read_report,
    sample_signers,
    save_video,
)
from signssl.synth.generate import SynthSample, render, synthesize
from signssl.synth.handshapes import HANDSHAPES, list_handshapes
from signssl.synth.motion import Performance, perform
from signssl.synth.phonology import LOCATIONS, MOVEMENTS, ORIENTATIONS, SignSpec, Vocabulary
from signssl.synth.render import Style, render_skeleton
from signssl.synth.skeleton import SKELETON_JOINTS, Signer

__all__ = [
    "HANDSHAPES",
    "LOCATIONS",
    "MOVEMENTS",
    "ORIENTATIONS",
    "SKELETON_JOINTS",
    "SYNTH_LAYOUT",
    "Camera",
    "Performance",
    "SignSpec",
    "Signer",
    "Style",
    "SynthConfig",
    "SynthReport",
    "SynthSample",
    "Vocabulary",
    "derive_seed",
    "generate_dataset",
    "list_handshapes",
    "observe",
    "perform",
    "read_report",
    "render",
    "render_skeleton",
    "sample_signers",
    "synthesize",
    "save_video",
]
