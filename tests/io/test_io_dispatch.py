"""Format detection, the read_pose/write_pose dispatch and pose_info."""

from __future__ import annotations

import json

import numpy as np
import pytest
from io_helpers import random_sequence

from signssl.errors import DataError, LayoutError
from signssl.io import FORMATS, detect_format, pose_info, read_pose, write_pose


def test_detect_format(tmp_path):
    for name, fmt in [("a.pose", "pose"), ("a.NPY", "npy"), ("a.npz", "npz"),
                      ("a.parquet", "parquet"), ("a_0_keypoints.json", "openpose")]:
        (tmp_path / name).write_bytes(b"")
        assert detect_format(tmp_path / name) == fmt
        assert fmt in FORMATS
    seq_dir = tmp_path / "MP_Data" / "hello" / "0"
    seq_dir.mkdir(parents=True)
    np.save(seq_dir / "0.npy", np.ones(1662))
    assert detect_format(seq_dir) == "mp_data"
    assert detect_format(str(seq_dir)) == "mp_data"


def test_detect_format_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist") as e:
        detect_format(tmp_path / "missing.pose")
    assert "missing.pose" in str(e.value)
    (tmp_path / "clip.mp4").write_bytes(b"")
    with pytest.raises(DataError, match="unknown file type '.mp4'"):
        read_pose(tmp_path / "clip.mp4")
    (tmp_path / "noext").write_bytes(b"")
    with pytest.raises(DataError, match="no extension"):
        read_pose(tmp_path / "noext")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty folder"):
        read_pose(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="holds no frame files"):
        read_pose(tmp_path / "other")
    root = tmp_path / "MP_Data"
    (root / "book" / "0").mkdir(parents=True)
    np.save(root / "book" / "0" / "0.npy", np.ones(1662))
    for where in (root, tmp_path):
        with pytest.raises(DataError, match="is an MP_Data root"):
            read_pose(where)


def test_unknown_layout_names(tmp_path):
    path = write_pose(random_sequence("hands"), tmp_path / "h.npz")
    with pytest.raises(LayoutError, match="unknown layout 'nope'; known: .*masa49"):
        read_pose(path, layout="nope")
    with pytest.raises(LayoutError, match="layout file .* does not exist"):
        read_pose(path, layout=tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("parts:\n  - name: body\n    joints: no_such_list\n")
    with pytest.raises(LayoutError, match="unknown joint list 'no_such_list'"):
        read_pose(path, layout=bad)


def test_write_pose_dispatch(tmp_path):
    seq = random_sequence("hands")
    assert detect_format(write_pose(seq, tmp_path / "a.pose")) == "pose"
    assert detect_format(write_pose(seq, tmp_path / "sub" / "a.npz")) == "npz"
    with pytest.raises(DataError, match="choose an output ending in .pose or .npz"):
        write_pose(seq, tmp_path / "a.csv")
    # atomic: no temporary files are left next to the outputs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pose", "sub"]


def test_pose_info(tmp_path):
    seq = random_sequence("masa49", frames=4, dims=2, fps=25.0, missing=0.0)
    seq.conf[:, seq.layout.part_slice("left_hand")] = 0.0  # no left hand at all
    seq.xyz[:, seq.layout.part_slice("left_hand")] = 0.0
    seq.conf[0, 0] = 0.0
    seq.xyz[0, 0] = 0.0
    info = pose_info(write_pose(seq, tmp_path / "m.pose"))
    assert info["format"] == "pose" and info["layout"] == "masa49"
    assert (info["frames"], info["joints"], info["dims"], info["fps"]) == (4, 49, 2, 25.0)
    assert info["missing_fraction"] == pytest.approx((4 * 21 + 1) / (4 * 49))
    assert info["part_missing_fractions"] == pytest.approx(
        {"body": 1 / (4 * 7), "left_hand": 1.0, "right_hand": 0.0})
    json.dumps(info)  # JSON-serialisable as is


def test_all_missing_is_reported_not_rejected(tmp_path):
    seq = random_sequence("hands", frames=2, missing=1.0)
    for suffix in (".pose", ".npz"):
        info = pose_info(write_pose(seq, tmp_path / f"x{suffix}"))
        assert info["missing_fraction"] == 1.0
        assert set(info["part_missing_fractions"].values()) == {1.0}
