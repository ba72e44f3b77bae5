"""The example layout files in examples/layouts."""

from __future__ import annotations

from pathlib import Path

from signssl.pose.layouts import HAND_21, get_layout, load_layout_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "layouts"


def test_wlasl50_holistic170():
    lay = load_layout_yaml(EXAMPLES / "wlasl50-holistic170.yaml")
    assert lay.name == "wlasl50-holistic170"
    assert lay.flat_size == 11 * 4 + 21 * 3 + 21 * 3 == 170
    assert lay.num_joints == 53
    assert lay.part("body").joints == (
        "nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee")
    assert lay.part("body").values == ("x", "y", "z", "visibility")
    assert lay.part("left_hand").joints == HAND_21 and lay.part("right_hand").values == ("x", "y", "z")
    # every body joint name exists in MediaPipe's pose vocabulary, so conversion works
    holistic = get_layout("holistic")
    assert all(holistic.has(n) for n in lay.joint_names)


def test_holistic1662_equals_builtin():
    lay = load_layout_yaml(EXAMPLES / "holistic1662.yaml")
    ref = get_layout("holistic")
    assert lay.flat_size == 1662
    assert lay.joint_names == ref.joint_names
    assert [p.values for p in lay.parts] == [p.values for p in ref.parts]
