"""Joint layouts: sizes, names, by-name conversion, YAML, bones."""

from __future__ import annotations

import numpy as np
import pytest

from signssl.errors import LayoutError
from signssl.pose.layouts import (
    BODY_BONES,
    HAND_21,
    MEDIAPIPE_POSE_33,
    Layout,
    Part,
    get_layout,
    layout_from_dict,
    layout_to_dict,
    list_layouts,
    load_layout_yaml,
    register_layout,
)
from signssl.pose.sequence import PoseSequence

# (joints, flat size) worked out by hand from the documented part sizes and values
EXPECTED = {
    "holistic": (33 + 468 + 42, 33 * 4 + 468 * 3 + 42 * 3),
    "holistic_iris": (33 + 478 + 42, 33 * 4 + 478 * 3 + 42 * 3),
    "holistic_world": (33 + 468 + 42 + 33, 33 * 4 + 468 * 3 + 42 * 3 + 33 * 4),
    "holistic_iris_world": (586, 33 * 4 + 478 * 3 + 42 * 3 + 33 * 4),
    "hands": (42, 126),
    "coco_wholebody": (133, 133 * 3),
    "openpose_body25_hands": (67, 67 * 3),
    "masa49": (49, 49 * 3),
    "holistic_world_noface": (33 + 42 + 33, 33 * 4 + 42 * 3 + 33 * 4),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_sizes(name):
    lay = get_layout(name)
    assert (lay.num_joints, lay.flat_size) == EXPECTED[name]
    assert len(set(lay.joint_names)) == lay.num_joints
    assert name in list_layouts()


def test_every_builtin_layout_is_in_the_module_table_and_the_readme():
    import re
    from pathlib import Path

    import signssl.pose.layouts as layouts_module

    table = re.findall(r"^(\w+)\s+\d+\s", layouts_module.__doc__ or "", flags=re.M)
    assert set(table) == set(EXPECTED)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    paragraph = readme[readme.index("Built-in layouts:"):]
    paragraph = paragraph[: paragraph.index("\n\n")]
    missing = [name for name in EXPECTED if f"`{name}`" not in paragraph]
    assert not missing, f"README's built-in layout list lacks {missing}"


def test_holistic_flat_size_is_the_common_vector():
    assert get_layout("holistic").flat_size == 1662


def test_qualified_names_and_slices():
    lay = get_layout("holistic")
    assert lay.joint_names[0] == "body.nose"
    assert lay.index("body.left_shoulder") == MEDIAPIPE_POSE_33.index("left_shoulder")
    assert lay.index("face.0") == 33
    assert lay.index("left_hand.wrist") == 33 + 468
    assert lay.index("right_hand.pinky_tip") == 542
    assert lay.part_slice("left_hand") == slice(501, 522)
    assert lay.indices(["body.nose", "face.1"]) == [0, 34]
    for p in lay.parts:  # a part's slice holds exactly its joints
        assert lay.joint_names[lay.part_slice(p.name)] == tuple(f"{p.name}.{j}" for j in p.joints)


def test_unknown_names_raise_with_hints():
    lay = get_layout("masa49")
    with pytest.raises(LayoutError, match="has no joint 'body.left_hip'.*part 'body' has joints"):
        lay.index("body.left_hip")
    with pytest.raises(LayoutError, match="known parts"):
        lay.index("face.0")
    with pytest.raises(LayoutError, match="has no part 'face'"):
        lay.part_slice("face")
    with pytest.raises(LayoutError, match="unknown layout 'nope'; known:"):
        get_layout("nope")
    with pytest.raises(LayoutError, match="already registered"):
        register_layout(get_layout("hands"))


def _numbered(layout: str) -> PoseSequence:
    """A sequence whose joint j at frame t has coordinates (j + 1, t + 1, 0.5)."""
    lay = get_layout(layout)
    T, J = 2, lay.num_joints
    xyz = np.zeros((T, J, 3), np.float32)
    xyz[..., 0] = np.arange(J) + 1
    xyz[..., 1] = (np.arange(T) + 1)[:, None]
    xyz[..., 2] = 0.5
    return PoseSequence(xyz, np.full((T, J), 0.8, np.float32), lay)


def test_conversion_by_name_against_a_loop():
    src = _numbered("holistic")
    out = src.to_layout("masa49")
    for j, name in enumerate(out.layout.joint_names):  # naive reference, one joint at a time
        k = src.layout.index(name)
        np.testing.assert_array_equal(out.xyz[:, j], src.xyz[:, k])
        np.testing.assert_array_equal(out.conf[:, j], src.conf[:, k])


def test_joints_the_source_lacks_get_confidence_zero():
    out = _numbered("masa49").to_layout("holistic")
    have = {f"body.{n}" for n in ("nose", "left_shoulder", "left_elbow", "left_wrist",
                                  "right_shoulder", "right_elbow", "right_wrist")}
    have |= {f"{h}.{n}" for h in ("left_hand", "right_hand") for n in HAND_21}
    for j, name in enumerate(out.layout.joint_names):
        if name in have:
            assert (out.conf[:, j] == 0.8).all()
        else:
            assert (out.conf[:, j] == 0).all() and (out.xyz[:, j] == 0).all(), name
    assert out.missing_fraction() == pytest.approx(1 - 49 / 543)


def test_conversion_with_nothing_shared_raises():
    face_only = layout_from_dict({"name": "face_only", "parts": [{"name": "face", "joints": ["0"]}]})
    with pytest.raises(LayoutError, match="shares no joint"):
        _numbered("hands").to_layout(face_only)


def test_openpose_and_coco_convert_to_masa49_fully():
    for name in ("openpose_body25_hands", "coco_wholebody"):
        out = _numbered(name).to_layout("masa49")
        assert out.missing_fraction() == 0.0, name


# ----------------------------------------------------------------------------- YAML

def test_yaml_round_trip(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "parts:\n"
        "  - name: body\n    joints: [nose, left_shoulder]\n    values: [x, y, visibility]\n"
        "  - name: left_hand\n    joints: hand21\n"
    )
    lay = load_layout_yaml(path)
    assert lay.name == "mine"  # defaults to the file name
    assert lay.flat_size == 2 * 3 + 21 * 3
    assert lay.part("left_hand").values == ("x", "y", "z")
    assert get_layout(str(path)).joint_names == lay.joint_names
    assert layout_from_dict(layout_to_dict(lay)) == lay


@pytest.mark.parametrize(("text", "match"), [
    ("parts: [", "not valid YAML"),
    ("name: x\n", "non-empty 'parts' list"),
    ("parts:\n  - name: body\n", "needs 'name' and 'joints'"),
    ("parts:\n  - name: body\n    joints: nosuch\n", "unknown joint list 'nosuch'"),
    ("parts:\n  - name: body\n    joints: [a, b]\n    values: [x, y, w]\n", "unknown value name"),
    ("parts:\n  - name: body\n    joints: [a, b]\n    values: [x, z]\n", "must include x and y"),
    ("parts:\n  - name: body\n    joints: [a, a]\n", "repeats a joint name"),
    ("parts:\n  - name: body\n    joints: [a]\n  - name: body\n    joints: [b]\n", "repeats a part name"),
    ("parts:\n  - name: body\n    joints: []\n", "has no joints"),
])
def test_yaml_errors(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(LayoutError, match=match):
        load_layout_yaml(path)


@pytest.mark.parametrize(("data", "match"), [
    ("parts:\n  - name: body\n    joints: [nose, café]\n".encode("latin-1"),
     r"is not UTF-8 text \(byte 0xe9"),
    (b"parts: " + b"[" * 1200 + b"]" * 1200 + b"\n", "nests lists or mappings too deeply"),
])
def test_unreadable_yaml_is_a_layout_error_naming_the_file(tmp_path, data, match):
    """A layout YAML saved as Latin-1, or nested absurdly deep: a LayoutError naming the
    file, not UnicodeDecodeError / RecursionError."""
    path = tmp_path / "bad.yaml"
    path.write_bytes(data)
    with pytest.raises(LayoutError, match=match) as exc:
        get_layout(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize(("part", "joints", "wrong", "suggestion"), [
    ("body", "[nose, left_elbw, right_elbow]", "left_elbw", "left_elbow"),
    ("body", "[nose, left_sholder]", "left_sholder", "left_shoulder"),
    ("body", "[nose, third_elbow]", "third_elbow", None),
    ("body_world", "[nose, Left_Shoulder]", "Left_Shoulder", "left_shoulder"),
    ("left_hand", "[wrist, thumb_tipp]", "thumb_tipp", "thumb_tip"),
    ("face", "['0', '1', '478']", "478", None),
])
def test_misspelt_joint_in_a_layout_yaml_is_an_error_naming_the_file(
    tmp_path, part, joints, wrong, suggestion
):
    """Layouts convert by joint name, so a misspelt joint of a built-in part would come out
    missing without a word: refused, naming the file, with the closest known name."""
    path = tmp_path / "typo.yaml"
    path.write_text(f"parts:\n  - name: {part}\n    joints: {joints}\n")
    with pytest.raises(LayoutError, match=f"part '{part}' has unknown joint name") as exc:
        get_layout(path)
    text = str(exc.value)
    assert text.startswith(f"{path}: ") and f"'{wrong}'" in text and "\n" not in text
    if suggestion:
        assert f"did you mean '{suggestion}'" in text


def test_custom_parts_and_names_from_every_builtin_list_are_accepted(tmp_path):
    from pathlib import Path

    lay = layout_from_dict({"parts": [
        {"name": "body", "joints": ["nose", "neck", "mid_hip", "left_big_toe"]},  # mixed lists
        {"name": "face", "joints": ["0", "477", "ibug_3"]},
        {"name": "markers", "joints": ["m1", "m2"]},  # a part of one's own: any names
    ]})
    assert lay.num_joints == 9
    with pytest.raises(LayoutError, match=r"part 'left_hnad' is not a built-in part name \(did you mean 'left_hand'"):
        layout_from_dict({"parts": [{"name": "left_hnad", "joints": "hand21"}]})
    examples = Path(__file__).resolve().parents[1] / "examples" / "layouts"
    for path in sorted(examples.glob("*.yaml")):
        assert get_layout(path).num_joints > 0


def test_missing_yaml_file(tmp_path):
    with pytest.raises(LayoutError, match="does not exist"):
        get_layout(tmp_path / "none.yaml")


# ----------------------------------------------------------------------------- bones

def _named_bones(lay: Layout) -> set[tuple[str, str]]:
    return {(lay.joint_names[a], lay.joint_names[b]) for a, b in lay.bones}


def test_hand_bones():
    lay = get_layout("hands")
    bones = _named_bones(lay)
    assert len(lay.bones) == 2 * (5 * 4 + 3)  # 4 bones per finger + the knuckle bar, per hand
    for h in ("left_hand", "right_hand"):
        assert (f"{h}.wrist", f"{h}.thumb_cmc") in bones
        assert (f"{h}.index_finger_dip", f"{h}.index_finger_tip") in bones
        assert (f"{h}.ring_finger_mcp", f"{h}.pinky_mcp") in bones
    # every joint is connected
    assert set(np.ravel(lay.bones)) == set(range(lay.num_joints))


def test_body_bones_are_those_with_both_ends_present():
    lay = get_layout("holistic")
    body = set(MEDIAPIPE_POSE_33)
    want = {(f"body.{a}", f"body.{b}") for a, b in BODY_BONES if a in body and b in body}
    got = {(a, b) for a, b in _named_bones(lay) if a.startswith("body.")}
    assert got == want
    # no bones across parts, none in the face
    assert all(a.split(".")[0] == b.split(".")[0] for a, b in _named_bones(lay))
    assert not any(a.startswith("face.") for a, _ in _named_bones(lay))


def test_fallback_head_bones_without_eye_landmarks():
    bones = _named_bones(get_layout("masa49"))
    assert ("body.nose", "body.left_shoulder") in bones
    assert ("body.left_shoulder", "body.left_elbow") in bones
    assert ("body.right_elbow", "body.right_wrist") in bones
    holistic = _named_bones(get_layout("holistic"))
    assert ("body.nose", "body.left_shoulder") not in holistic


def test_part_validation():
    with pytest.raises(LayoutError):
        Part("p", ())
    assert Part("p", ("a",)).values == ("x", "y", "z")
