"""``.pose`` reading and writing, checked against the pose-format library itself."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.ma as ma
import pytest
from io_helpers import assert_same_sequence, random_sequence
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions

from signssl.errors import DataError, LayoutError
from signssl.io import read_pose, read_pose_file, write_pose
from signssl.pose.layouts import HAND_21, MEDIAPIPE_POSE_33, get_layout, layout_from_dict
from signssl.pose.sequence import PoseSequence


def _component(name: str, points: list[str], fmt: str = "XYZC") -> PoseHeaderComponent:
    return PoseHeaderComponent(name, points, [(0, 1)], [(255, 0, 0)], fmt)


def _write_pf(path: Path, components: list[PoseHeaderComponent], data: np.ndarray,
              conf: np.ndarray, fps: float = 30.0) -> Path:
    """A file made with pose-format's own API: data (T, P, N, D), conf (T, P, N)."""
    header = PoseHeader(0.2, PoseHeaderDimensions(640, 480, 0), components)
    mask = np.repeat((conf == 0)[..., None], data.shape[-1], axis=-1)
    body = NumPyPoseBody(fps, ma.masked_array(data.astype(np.float32), mask), conf.astype(np.float32))
    buf = io.BytesIO()
    Pose(header, body).write(buf)
    path.write_bytes(buf.getvalue())
    return path


# ----------------------------------------------------------------------------- round trips

@pytest.mark.parametrize(
    ("layout", "dims", "fps"),
    [("holistic_iris_world", 3, 25.0), ("holistic", 3, 29.97), ("masa49", 2, None),
     ("hands", 3, 50.0), ("openpose_body25_hands", 2, 12.5)],
)
def test_write_read_round_trip_is_exact(tmp_path, layout, dims, fps):
    seq = random_sequence(layout, frames=7, dims=dims, fps=fps)
    back = read_pose(write_pose(seq, tmp_path / "x.pose"))
    assert_same_sequence(seq, back)
    assert back.layout is get_layout(layout)  # built-in layouts are recognised by joint names


def test_round_trip_custom_layout_keeps_joints_and_restores_with_layout_arg(tmp_path):
    custom = layout_from_dict({"name": "mine", "parts": [
        {"name": "body", "joints": ["nose", "left_wrist", "right_wrist"], "values": ["x", "y", "score"]},
        {"name": "extra", "joints": ["a", "b"], "values": ["x", "y"]},
    ]})
    seq = random_sequence(custom, frames=4, dims=2, fps=30.0)
    path = write_pose(seq, tmp_path / "c.pose")
    plain = read_pose(path)
    assert_same_sequence(seq, plain)
    assert plain.layout.name == "pose:body+extra"
    restored = read_pose(path, layout=custom)
    assert restored.layout is custom
    assert_same_sequence(seq, restored)


def test_pose_format_reads_our_files(tmp_path):
    seq = random_sequence("holistic_iris_world", frames=6, fps=25.0)
    path = write_pose(seq, tmp_path / "x.pose")
    pose = Pose.read(path.read_bytes())
    assert [c.name for c in pose.header.components] == [
        "POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS",
        "POSE_WORLD_LANDMARKS"]
    assert pose.header.components[0].points == [n.upper() for n in MEDIAPIPE_POSE_33]
    assert all(c.format == "XYZC" for c in pose.header.components)
    assert pose.body.fps == 25.0
    np.testing.assert_array_equal(pose.body.data.data[:, 0], seq.xyz)
    np.testing.assert_array_equal(pose.body.confidence[:, 0], seq.conf)
    # limbs are the layout's bones, local to each component
    lay = seq.layout
    hand = lay.part_slice("left_hand")
    want = sorted((a - hand.start, b - hand.start) for a, b in lay.bones if hand.start <= a < hand.stop)
    assert sorted(tuple(x) for x in pose.header.components[2].limbs) == want
    assert len(want) == 5 * 4 + 3  # wrist-to-tip chains of 4 bones + the 3-bone knuckle bar


def test_written_2d_files_use_xyc(tmp_path):
    path = write_pose(random_sequence("masa49", dims=2), tmp_path / "m.pose")
    pose = Pose.read(path.read_bytes())
    assert {c.format for c in pose.header.components} == {"XYC"}
    assert pose.body.data.shape[-1] == 2


# ----------------------------------------------------------------------------- reading

def test_reads_pose_format_file_by_component_name(tmp_path):
    rng = np.random.default_rng(1)
    T, n_body = 3, 33
    comps = [_component("POSE_LANDMARKS", [n.upper() for n in MEDIAPIPE_POSE_33]),
             _component("LEFT_HAND_LANDMARKS", [n.upper() for n in HAND_21]),
             _component("RIGHT_HAND_LANDMARKS", [n.upper() for n in HAND_21]),
             _component("MY_MARKERS", ["TIP_A", "TIP_B"])]
    N = n_body + 21 + 21 + 2
    data = rng.uniform(1, 100, (T, 1, N, 3))
    conf = rng.uniform(0.1, 1, (T, 1, N))
    conf[1, 0, 40] = 0.0  # a masked left-hand point (index 40 - 33 = 7)
    path = _write_pf(tmp_path / "a.pose", comps, data, conf, fps=24.0)
    seq = read_pose(path)
    assert seq.layout.part_names == ("body", "left_hand", "right_hand", "my_markers")
    assert seq.layout.part("my_markers").joints == ("tip_a", "tip_b")
    assert seq.fps == 24.0
    i = seq.layout.index("body.left_shoulder")
    np.testing.assert_allclose(seq.xyz[:, i], data[:, 0, 11].astype(np.float32))
    j = seq.layout.index(f"left_hand.{HAND_21[7]}")
    assert seq.conf[1, j] == 0 and (seq.xyz[1, j] == 0).all()  # masked -> missing
    np.testing.assert_array_equal(seq.xyz[0, j], data[0, 0, 40].astype(np.float32))


def test_hands_only_file_and_component_order(tmp_path):
    """Components in another order are reordered into the built-in 'hands' layout."""
    T = 2
    comps = [_component("RIGHT_HAND_LANDMARKS", [n.upper() for n in HAND_21]),
             _component("LEFT_HAND_LANDMARKS", [n.upper() for n in HAND_21])]
    data = np.arange(T * 42 * 3, dtype=np.float64).reshape(T, 1, 42, 3) + 1
    conf = np.ones((T, 1, 42))
    seq = read_pose(_write_pf(tmp_path / "h.pose", comps, data, conf))
    assert seq.layout is get_layout("hands")
    # the file's first component (right hand) lands in the layout's right_hand part
    np.testing.assert_array_equal(seq.xyz[:, seq.layout.index("right_hand.wrist")], data[:, 0, 0])
    np.testing.assert_array_equal(seq.xyz[:, seq.layout.index("left_hand.wrist")], data[:, 0, 21])


def test_component_without_points_is_left_out(tmp_path):
    comps = [PoseHeaderComponent("NOTHING", [], [], [], "XYZC"),
             _component("LEFT_HAND_LANDMARKS", [n.upper() for n in HAND_21])]
    seq = read_pose(_write_pf(tmp_path / "e.pose", comps, np.ones((2, 1, 21, 3)), np.ones((2, 1, 21))))
    assert seq.layout.part_names == ("left_hand",) and seq.num_joints == 21


def test_person_option(tmp_path):
    comps = [_component("LEFT_HAND_LANDMARKS", [n.upper() for n in HAND_21])]
    data = np.ones((2, 2, 21, 3))
    data[:, 1] *= 7.0
    path = _write_pf(tmp_path / "two.pose", comps, data, np.ones((2, 2, 21)))
    assert (read_pose(path).xyz == 1).all()
    assert (read_pose_file(path, person=1).xyz == 7).all()
    assert (read_pose(path, person=1).xyz == 7).all()
    with pytest.raises(DataError, match="person=2 is out of range"):
        read_pose(path, person=2)


def test_file_without_people_is_all_missing(tmp_path):
    comps = [_component("LEFT_HAND_LANDMARKS", [n.upper() for n in HAND_21])]
    path = _write_pf(tmp_path / "nobody.pose", comps, np.zeros((4, 0, 21, 3)), np.zeros((4, 0, 21)))
    seq = read_pose(path)
    assert seq.num_frames == 4 and seq.missing_fraction() == 1.0


def test_all_missing_sequence_is_readable(tmp_path):
    seq = random_sequence("hands", frames=3, missing=1.0)
    back = read_pose(write_pose(seq, tmp_path / "empty.pose"))
    assert back.missing_fraction() == 1.0 and back.num_frames == 3


def test_layout_argument_converts_by_name(tmp_path):
    seq = random_sequence("holistic", frames=3, dims=3, missing=0.0)
    path = write_pose(seq, tmp_path / "h.pose")
    masa = read_pose(path, layout="masa49")
    assert masa.layout.name == "masa49"
    np.testing.assert_array_equal(masa.xyz, seq.to_layout("masa49").xyz)
    with pytest.raises(LayoutError, match="shares no joint"):
        read_pose(write_pose(random_sequence("hands"), tmp_path / "hands.pose"),
                  layout=layout_from_dict({"parts": [{"name": "face", "joints": ["0", "1"]}]}))


def test_fps_override(tmp_path):
    path = write_pose(random_sequence("hands", fps=25.0), tmp_path / "x.pose")
    assert read_pose(path, fps=50).fps == 50.0
    with pytest.raises(DataError, match="fps must be a positive number"):
        read_pose(path, fps=-1)


# ----------------------------------------------------------------------------- bad input

def test_truncated_and_garbage_files(tmp_path):
    good = write_pose(random_sequence("hands", frames=5), tmp_path / "good.pose").read_bytes()
    for name, content in [("cut.pose", good[: len(good) - 100]), ("head.pose", good[:30]),
                          ("junk.pose", b"hello, not a pose file at all"), ("zero.pose", b"")]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(DataError, match="not a readable .pose file") as e:
            read_pose(path)
        assert name in str(e.value)


def test_zero_length_pose_file(tmp_path):
    seq = PoseSequence(np.zeros((0, 42, 3)), np.zeros((0, 42)), get_layout("hands"))
    path = write_pose(seq, tmp_path / "none.pose")
    with pytest.raises(DataError, match="no frames"):
        read_pose(path)


def test_write_refuses_names_it_cannot_keep(tmp_path):
    lay = layout_from_dict({"parts": [{"name": "body", "joints": ["Nose", "neck"]}]},
                           check_joints=False)  # a YAML layout would be refused earlier
    with pytest.raises(DataError, match="upper-case"):
        write_pose(random_sequence(lay), tmp_path / "x.pose")


# ----------------------------------------------------------------------------- real files

def test_real_pose_file(real_pose_files):
    path = real_pose_files[0]
    seq = read_pose(path)
    assert seq.layout.name == "holistic_iris_world" and seq.num_joints == 586
    ref = Pose.read(Path(path).read_bytes())  # pose-format as the reference
    conf = np.asarray(ref.body.confidence[:, 0])
    np.testing.assert_array_equal(seq.conf, np.clip(conf, 0, 1))
    present = conf > 0
    np.testing.assert_array_equal(seq.xyz[present], np.asarray(ref.body.data.data[:, 0])[present])
    assert (seq.xyz[~present] == 0).all()
    assert seq.fps == float(ref.body.fps)


def test_real_pose_files_round_trip(real_pose_files, tmp_path):
    for path in real_pose_files[:: len(real_pose_files) // 5]:
        seq = read_pose(path)
        assert_same_sequence(seq, read_pose(write_pose(seq, tmp_path / "rt.pose")))
