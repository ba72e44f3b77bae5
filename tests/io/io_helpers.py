"""Small synthetic pose sequences and a CLI runner for the I/O tests."""

from __future__ import annotations

import numpy as np

from signssl.pose.layouts import Layout, get_layout
from signssl.pose.sequence import PoseSequence


def random_sequence(
    layout: str | Layout = "holistic",
    frames: int = 5,
    dims: int = 3,
    fps: float | None = 25.0,
    missing: float = 0.2,
    seed: int = 0,
) -> PoseSequence:
    """Random coordinates in (0, 500), confidences in (0, 1], ``missing`` share set to 0."""
    lay = get_layout(layout)
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(0.5, 500.0, (frames, lay.num_joints, dims)).astype(np.float32)
    conf = rng.uniform(0.05, 1.0, (frames, lay.num_joints)).astype(np.float32)
    gone = rng.random((frames, lay.num_joints)) < missing
    xyz[gone] = 0.0
    conf[gone] = 0.0
    return PoseSequence(xyz, conf, lay, fps)


def assert_same_sequence(a: PoseSequence, b: PoseSequence) -> None:
    """Bit-exact equality of coordinates, confidences, fps and joint names."""
    assert a.layout.joint_names == b.layout.joint_names
    assert a.xyz.shape == b.xyz.shape
    np.testing.assert_array_equal(a.xyz, b.xyz)
    np.testing.assert_array_equal(a.conf, b.conf)
    assert a.fps == b.fps


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``signssl argv`` run in-process."""
    from signssl.cli.main import main

    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err
