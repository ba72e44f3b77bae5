"""``.npy`` / ``.npz`` arrays: shapes, stored metadata, exact round trips, bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from io_helpers import assert_same_sequence, random_sequence

from signssl.errors import DataError, LayoutError
from signssl.io import read_npy, read_npz, read_pose, write_npz, write_pose
from signssl.pose.layouts import get_layout, layout_from_dict, layout_to_dict


@pytest.mark.parametrize(("layout", "dims", "fps"),
                         [("holistic", 3, 30.0), ("masa49", 2, None), ("hands", 3, 29.97002997)])
def test_npz_round_trip_is_exact(tmp_path, layout, dims, fps):
    seq = random_sequence(layout, frames=6, dims=dims, fps=fps)
    back = read_pose(write_pose(seq, tmp_path / "x.npz"))
    assert_same_sequence(seq, back)
    assert back.layout is get_layout(layout)


def test_npz_keeps_custom_layout_and_odd_confidences(tmp_path):
    custom = layout_from_dict({"name": "mine", "parts": [
        {"name": "body", "joints": ["nose", "neck"], "values": ["x", "y", "z", "visibility"]},
        {"name": "left_hand", "joints": "hand21", "values": ["x", "y"]}]})
    seq = random_sequence(custom, frames=3)
    seq.conf[0, 0] = 0.7
    seq.xyz[0, 0] = 0.0  # a present joint exactly at the origin stays present
    back = read_npz(write_npz(seq, tmp_path / "c.npz", compress=True))
    assert_same_sequence(seq, back)
    assert layout_to_dict(back.layout) == layout_to_dict(custom)
    assert back.layout.part("body").values == ("x", "y", "z", "visibility")


def test_npz_written_keys(tmp_path):
    seq = random_sequence("hands", frames=2, fps=None)
    with np.load(write_npz(seq, tmp_path / "k.npz"), allow_pickle=False) as z:
        assert sorted(z.files) == ["conf", "fps", "layout", "xyz"]
        assert np.isnan(z["fps"])
        assert json.loads(str(z["layout"]))["name"] == "hands"


def test_npy_flat_and_coordinates(tmp_path):
    rng = np.random.default_rng(0)
    flat = rng.uniform(0.1, 1, (4, 1662))
    np.save(tmp_path / "flat.npy", flat)
    seq = read_npy(tmp_path / "flat.npy")  # 1662 -> holistic by default
    assert seq.layout.name == "holistic"
    np.testing.assert_array_equal(seq.to_flat(), flat.astype(np.float32))

    xyz = rng.uniform(1, 2, (3, 42, 2))
    xyz[1, 5] = np.nan  # NaN -> missing
    xyz[2, 6] = 0.0  # all-zero -> missing
    np.save(tmp_path / "xyz.npy", xyz)
    seq = read_pose(tmp_path / "xyz.npy", layout="hands", fps=10)
    assert seq.fps == 10.0 and seq.num_dims == 2
    assert seq.conf[1, 5] == 0 and seq.conf[2, 6] == 0 and seq.conf.sum() == 3 * 42 - 2
    assert (seq.xyz[1, 5] == 0).all()
    with pytest.raises(LayoutError, match="built-in layouts with 42 joints: \\['hands'\\]"):
        read_pose(tmp_path / "xyz.npy")
    with pytest.raises(LayoutError, match="42 joints per frame but layout 'masa49' has 49"):
        read_pose(tmp_path / "xyz.npy", layout="masa49")


def test_foreign_npz(tmp_path):
    xyz = np.random.default_rng(0).uniform(1, 2, (3, 49, 3))
    np.savez(tmp_path / "one.npz", keypoints=xyz)
    seq = read_pose(tmp_path / "one.npz", layout="masa49")
    np.testing.assert_array_equal(seq.xyz, xyz.astype(np.float32))
    np.savez(tmp_path / "two.npz", a=xyz, b=xyz)
    with pytest.raises(DataError, match="expected the coordinates under 'xyz'"):
        read_pose(tmp_path / "two.npz", layout="masa49")
    np.savez(tmp_path / "conf.npz", xyz=xyz, conf=np.ones((3, 48)))
    with pytest.raises(DataError, match="'conf' has shape"):
        read_pose(tmp_path / "conf.npz", layout="masa49")


def test_npz_layout_argument_converts(tmp_path):
    seq = random_sequence("holistic", frames=3)
    got = read_pose(write_npz(seq, tmp_path / "h.npz"), layout="masa49")
    ref = seq.to_layout("masa49")
    np.testing.assert_array_equal(got.xyz, ref.xyz)
    np.testing.assert_array_equal(got.conf, ref.conf)


def test_bad_arrays(tmp_path):
    np.save(tmp_path / "four.npy", np.ones((3, 42, 4)))
    with pytest.raises(DataError, match="neither"):
        read_pose(tmp_path / "four.npy", layout="hands")
    np.save(tmp_path / "empty.npy", np.zeros((0, 1662)))
    with pytest.raises(DataError, match="no frames"):
        read_pose(tmp_path / "empty.npy")
    np.save(tmp_path / "text.npy", np.array([["a", "b"]]))
    with pytest.raises(DataError, match="expected real numbers"):
        read_pose(tmp_path / "text.npy")
    np.save(tmp_path / "obj.npy", np.array([1, "x"], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickle"):
        read_pose(tmp_path / "obj.npy")
    np.savez(tmp_path / "obj.npz", xyz=np.array([None, 1], dtype=object))
    with pytest.raises(DataError, match="unpickling"):
        read_pose(tmp_path / "obj.npz")
    np.save(tmp_path / "cut.npy", np.ones((5, 1662)))
    raw = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(raw[:-8])
    with pytest.raises(DataError, match="truncated or corrupt") as e:
        read_pose(tmp_path / "cut.npy")
    assert "cut.npy" in str(e.value)
    write_npz(random_sequence("hands"), tmp_path / "cut.npz")
    raw = (tmp_path / "cut.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="cut.npz"):
        read_pose(tmp_path / "cut.npz")
    np.savez(tmp_path / "badlayout.npz", xyz=np.ones((2, 42, 3)), layout=np.str_("{not json"))
    with pytest.raises(DataError, match="not layout JSON"):
        read_pose(tmp_path / "badlayout.npz")


def test_write_npz_requires_suffix(tmp_path):
    with pytest.raises(DataError, match="must end in .npz"):
        write_npz(random_sequence("hands"), tmp_path / "x.npy")
