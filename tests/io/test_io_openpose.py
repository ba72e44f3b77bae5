"""OpenPose JSON folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from signssl.errors import DataError
from signssl.io import detect_format, read_pose
from signssl.pose.layouts import OPENPOSE_BODY_25


def _person(frame: int, scale: float = 1.0) -> dict:
    """Body joint k at (100 f + k, 200 f + k) with c = 0.5; hands at (f, k) with c = 0.9."""
    body = []
    for k in range(25):
        body += [scale * (100 * frame + k + 1), scale * (200 * frame + k + 1), 0.5]
    hand = []
    for k in range(21):
        hand += [float(frame + 1), float(k + 1), 0.9]
    return {"person_id": [-1], "pose_keypoints_2d": body, "face_keypoints_2d": [],
            "hand_left_keypoints_2d": hand, "hand_right_keypoints_2d": list(hand)}


def _write(folder, frame: int, people: list[dict], name: str = "clip") -> None:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}_{frame}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))


def test_reads_folder_in_numeric_frame_order(tmp_path):
    d = tmp_path / "op"
    for f in (0, 1, 2, 10, 11):  # unpadded: text order would be 0, 1, 10, 11, 2
        _write(d, f, [_person(f)])
    assert detect_format(d) == "openpose"
    seq = read_pose(d)
    lay = seq.layout
    assert lay.name == "openpose_body25_hands" and seq.num_frames == 5 and seq.num_dims == 2
    k = OPENPOSE_BODY_25.index("left_wrist")
    np.testing.assert_array_equal(seq.xyz[:, lay.index("body.left_wrist"), 0],
                                  [100 * f + k + 1 for f in (0, 1, 2, 10, 11)])
    assert (seq.conf[:, lay.part_slice("body")] == 0.5).all()
    np.testing.assert_array_equal(seq.xyz[3, lay.index("right_hand.pinky_tip")], [11, 21])


def test_missing_people_parts_and_points(tmp_path):
    d = tmp_path / "op"
    _write(d, 0, [_person(0)])
    _write(d, 1, [])  # nobody
    p = _person(2)
    del p["hand_left_keypoints_2d"]
    p["hand_right_keypoints_2d"] = []
    p["pose_keypoints_2d"][0:3] = [0.0, 0.0, 0.0]  # nose not detected
    _write(d, 2, [p])
    seq = read_pose(d)
    lay = seq.layout
    assert (seq.conf[1] == 0).all()
    assert (seq.conf[2, lay.part_slice("left_hand")] == 0).all()
    assert (seq.conf[2, lay.part_slice("right_hand")] == 0).all()
    assert seq.conf[2, lay.index("body.nose")] == 0 and seq.conf[2, lay.index("body.neck")] == 0.5
    assert seq.missing_fraction() == pytest.approx((67 + 42 + 1) / (3 * 67))


def test_person_single_file_and_layout(tmp_path):
    d = tmp_path / "op"
    _write(d, 0, [_person(0), _person(0, scale=2.0)])
    seq = read_pose(d, person=1)
    assert seq.xyz[0, seq.layout.index("body.nose"), 0] == 2.0
    assert read_pose(d, person=5).missing_fraction() == 1.0  # that person is never there
    one = read_pose(d / "clip_0_keypoints.json", layout="masa49", fps=30)
    assert one.num_frames == 1 and one.layout.name == "masa49" and one.fps == 30.0
    np.testing.assert_array_equal(one.xyz[0, one.layout.index("body.left_wrist")], [8.0, 8.0])


def test_bad_openpose(tmp_path):
    d = tmp_path / "short"
    p = _person(0)
    p["pose_keypoints_2d"] = p["pose_keypoints_2d"][:54]  # an 18-joint (COCO) body
    _write(d, 0, [p])
    with pytest.raises(DataError, match="75.*BODY_18"):
        read_pose(d)
    bad = tmp_path / "bad"
    _write(bad, 0, [_person(0)])
    (bad / "clip_1_keypoints.json").write_text('{"people": [')
    with pytest.raises(DataError, match="clip_1_keypoints.json.*truncated or corrupt"):
        read_pose(bad)
    nope = tmp_path / "nope"
    nope.mkdir()
    (nope / "x_keypoints.json").write_text('{"people": []}')
    with pytest.raises(DataError, match="no frame number"):
        read_pose(nope)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "a_1_keypoints.json").write_text('[1, 2]')
    with pytest.raises(DataError, match="no 'people' list"):
        read_pose(wrong)


def test_openpose_json_nested_too_deep_is_a_data_error(tmp_path):
    """A frame file nested 200,000 lists deep: a DataError naming it, not RecursionError."""
    deep = tmp_path / "deep"
    _write(deep, 0, [_person(0)])
    frame = deep / "clip_1_keypoints.json"
    frame.write_text("[" * 200_000 + "]" * 200_000)
    for path in (deep, frame):
        with pytest.raises(DataError, match="nests lists or mappings too deeply") as exc:
            read_pose(path)
        assert exc.value.path == str(frame)
