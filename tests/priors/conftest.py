"""Shared inputs of the prior tests: small synthetic clips (deterministic)."""

from __future__ import annotations

import numpy as np
import pytest
from priors_reference import synth_clip

from signssl.pose.sequence import PoseSequence


@pytest.fixture(scope="session")
def clip() -> PoseSequence:
    """A noisy clip with extra masked joints: low confidence and missing points."""
    seq = synth_clip(0)
    xyz, conf = seq.xyz.copy(), seq.conf.copy()
    lay = seq.layout
    rng = np.random.default_rng(0)
    low = rng.random(conf.shape) < 0.03  # scattered low confidences
    conf[low] = np.minimum(conf[low], 0.3)
    conf[5, lay.index("left_hand.index_finger_pip")] = 0.2  # one hand joint
    conf[6, lay.index("body_world.left_shoulder")] = 0.4  # the root of the body tree
    conf[7, lay.index("right_hand.wrist")] = 0.0  # a hand's own wrist
    xyz[7, lay.index("right_hand.wrist")] = 0.0
    return PoseSequence(xyz, conf, lay, seq.fps)


@pytest.fixture(scope="session")
def clean_clip() -> PoseSequence:
    """A clip without estimator noise or dropouts."""
    return synth_clip(1, noise=0.0)
