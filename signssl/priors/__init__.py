"""SignRep sign priors (docs/methods.md#signrep-priors): per-frame 3D pose targets for pretraining.

* :mod:`.joints` - the 61-point prior skeleton of the MediaPipe Holistic layouts and its
  3D frame (:func:`lift_holistic`);
* :mod:`.bones` - kinematic tree, standard bone lengths (:func:`standard_bone_lengths`,
  :class:`BoneLengths`) and re-lengthening (:func:`rebuild`);
* :mod:`.compute` - the seven prior families (:func:`compute_priors`, :class:`Priors`),
  with :mod:`.specs` (:data:`PRIOR_SPECS`, the joint lists) and :mod:`.families` (the
  per-prior computations).

Whole manifests (``signssl priors``, ``signssl bone-lengths``) are read by
:mod:`signssl.data.priors`, above this package.
"""

from signssl.priors.bones import (
    BONE_NAMES,
    BONES,
    BoneLengthAccumulator,
    BoneLengths,
    default_bone_lengths,
    rebuild,
    standard_bone_lengths,
)
from signssl.priors.compute import Priors, compute_priors, compute_priors_batch
from signssl.priors.families import hand_activity
from signssl.priors.joints import SKELETON_POINTS, UPPER_BODY_19, Lifted, lift_holistic
from signssl.priors.specs import (
    BODY_ANGLES,
    FINGERTIP_TARGETS,
    FINGERTIPS,
    HAND_ANGLES,
    INTERACTION_SOURCES,
    INTERACTION_TARGETS,
    PRIOR_NAMES,
    PRIOR_SPECS,
    PriorSpec,
)

__all__ = [
    "BODY_ANGLES",
    "BONES",
    "BONE_NAMES",
    "BoneLengthAccumulator",
    "BoneLengths",
    "FINGERTIPS",
    "FINGERTIP_TARGETS",
    "HAND_ANGLES",
    "INTERACTION_SOURCES",
    "INTERACTION_TARGETS",
    "Lifted",
    "PRIOR_NAMES",
    "PRIOR_SPECS",
    "PriorSpec",
    "Priors",
    "SKELETON_POINTS",
    "UPPER_BODY_19",
    "compute_priors",
    "compute_priors_batch",
    "default_bone_lengths",
    "hand_activity",
    "lift_holistic",
    "rebuild",
    "standard_bone_lengths",
]
