"""MP_Data folders: numeric frame order, layouts by length, bad folders, real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signssl.errors import DataError, LayoutError
from signssl.io import iter_mp_data, read_mp_data, read_pose, write_pose
from signssl.pose.layouts import get_layout

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "layouts"


def _write_frames(folder: Path, frames: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(frames):
        np.save(folder / f"{i}.npy", row)
    return folder


def _holistic_frames(T: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.01, 1.0, (T, 1662))  # (T, 1662) float64 like the real data


def test_frames_are_sorted_numerically(tmp_path):
    frames = _holistic_frames(12)
    frames[:, 0] = np.arange(12)  # body.nose x = the frame number
    seq = read_mp_data(_write_frames(tmp_path / "seq", frames))
    assert seq.layout is get_layout("holistic")  # 1662 values -> holistic
    # text order would give 0, 1, 10, 11, 2, ...
    np.testing.assert_array_equal(seq.xyz[:, seq.layout.index("body.nose"), 0], np.arange(12))


def test_values_match_a_hand_computed_decoding(tmp_path):
    frames = _holistic_frames(3, seed=4)
    seq = read_mp_data(_write_frames(tmp_path / "s", frames))
    lay = seq.layout
    # body (33 x 4) = 132 values, then face 468 x 3, then left hand at 132 + 1404 = 1536
    t, k = 2, 11  # body.left_shoulder
    np.testing.assert_allclose(seq.xyz[t, lay.index("body.left_shoulder")], frames[t, 4 * k: 4 * k + 3], rtol=1e-6)
    assert seq.conf[t, lay.index("body.left_shoulder")] == np.float32(frames[t, 4 * k + 3])
    np.testing.assert_allclose(seq.xyz[t, lay.index("left_hand.thumb_cmc")], frames[t, 1536 + 3: 1536 + 6], rtol=1e-6)
    np.testing.assert_allclose(seq.xyz[t, lay.index("face.2")], frames[t, 132 + 6: 132 + 9], rtol=1e-6)
    assert seq.fps is None
    assert read_mp_data(tmp_path / "s", fps=30).fps == 30.0


def test_zero_parts_are_missing(tmp_path):
    frames = _holistic_frames(4)
    frames[1, 1536:1599] = 0.0  # no left hand in frame 1
    seq = read_mp_data(_write_frames(tmp_path / "s", frames))
    hand = seq.layout.part_slice("left_hand")
    assert (seq.conf[1, hand] == 0).all() and (seq.conf[0, hand] == 1).all()
    assert seq.part_missing_fractions()["left_hand"] == pytest.approx(1 / 4)


def test_all_zero_sequence_is_readable_and_fully_missing(tmp_path):
    seq = read_mp_data(_write_frames(tmp_path / "z", np.zeros((5, 1662))))
    assert seq.num_frames == 5 and seq.missing_fraction() == 1.0


def test_other_lengths_need_a_layout(tmp_path):
    folder = _write_frames(tmp_path / "s170", np.random.default_rng(0).uniform(0.1, 1, (4, 170)))
    with pytest.raises(LayoutError, match="170 values per frame and no layout given"):
        read_mp_data(folder)
    seq = read_mp_data(folder, layout=EXAMPLES / "wlasl50-holistic170.yaml")
    assert (seq.num_frames, seq.num_joints) == (4, 53)
    with pytest.raises(LayoutError, match="expects 1662"):
        read_mp_data(folder, layout="holistic")


def test_bad_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty folder"):
        read_mp_data(empty)
    with pytest.raises(DataError, match="does not exist"):
        read_mp_data(tmp_path / "nowhere")

    mixed = _write_frames(tmp_path / "mixed", _holistic_frames(3))
    np.save(mixed / "3.npy", np.ones(170))
    with pytest.raises(DataError, match="has 170 values but earlier frames .* have 1662") as e:
        read_mp_data(mixed)
    assert "3.npy" in str(e.value)

    cut = _write_frames(tmp_path / "cut", _holistic_frames(3))
    raw = (cut / "1.npy").read_bytes()
    (cut / "1.npy").write_bytes(raw[:-50])
    with pytest.raises(DataError, match="truncated or corrupt") as e:
        read_mp_data(cut)
    assert "1.npy" in str(e.value)

    junk = _write_frames(tmp_path / "junk", _holistic_frames(2))
    (junk / "0.npy").write_bytes(b"not numpy")
    with pytest.raises(DataError, match="0.npy"):
        read_mp_data(junk)

    named = _write_frames(tmp_path / "named", _holistic_frames(2))
    np.save(named / "extra.npy", np.ones(1662))
    with pytest.raises(DataError, match="extra.npy"):
        read_mp_data(named)

    twice = _write_frames(tmp_path / "twice", _holistic_frames(2))
    np.save(twice / "01.npy", np.ones(1662))
    with pytest.raises(DataError, match="frame 1 appears twice"):
        read_mp_data(twice)

    matrix = tmp_path / "matrix"
    matrix.mkdir()
    np.save(matrix / "0.npy", np.ones((3, 4)))
    with pytest.raises(DataError, match="one flat vector per frame"):
        read_mp_data(matrix)


def test_pickled_frame_is_refused(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    np.save(folder / "0.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="pickle"):
        read_mp_data(folder)


def test_iter_mp_data(tmp_path):
    root = tmp_path / "data" / "MP_Data"
    for gloss, seqs in {"book": [0, 2, 10], "apple": [1]}.items():
        for s in seqs:
            _write_frames(root / gloss / str(s), _holistic_frames(1))
    got = [(g, p.name) for g, p in iter_mp_data(root)]
    assert got == [("apple", "1"), ("book", "0"), ("book", "2"), ("book", "10")]
    assert [(g, p.name) for g, p in iter_mp_data(tmp_path / "data")] == got  # parent works too
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match="no gloss folders"):
        list(iter_mp_data(tmp_path / "none"))


# ----------------------------------------------------------------------------- real data

def _raw(folder: Path) -> np.ndarray:
    files = sorted(folder.glob("*.npy"), key=lambda f: int(f.stem))
    return np.stack([np.load(f) for f in files]).astype(np.float32)  # (T, D)


def test_real_1662_sequence_survives_pose_round_trip(shared_data, tmp_path):
    folder = shared_data / "wlasl4-holistic1662" / "MP_Data" / "book" / "0"
    seq = read_pose(folder)
    assert seq.layout.name == "holistic"
    raw = _raw(folder)
    # independent reference: the raw vectors (missing parts are zeros in both)
    np.testing.assert_array_equal(seq.to_flat(), raw)
    back = read_pose(write_pose(seq, tmp_path / "book0.pose"))
    assert back.layout is seq.layout
    np.testing.assert_array_equal(back.to_flat(), seq.to_flat())
    np.testing.assert_array_equal(back.conf, seq.conf)


def test_real_170_sequence_with_yaml_layout(shared_data):
    gloss_dir = shared_data / "wlasl50-holistic170" / "MP_Data" / "book"
    folder = sorted(p for p in gloss_dir.iterdir() if p.is_dir())[0]
    seq = read_pose(folder, layout=EXAMPLES / "wlasl50-holistic170.yaml")
    assert (seq.num_frames, seq.num_joints) == (30, 53)
    raw = _raw(folder)
    lay = seq.layout
    # body joint 1 (left_shoulder) is values 4..7; the left hand starts at 44
    np.testing.assert_array_equal(seq.xyz[:, lay.index("body.left_shoulder")], raw[:, 4:7])
    wrist = raw[:, 44:47]
    have = (wrist != 0).any(-1)
    np.testing.assert_array_equal(seq.xyz[have, lay.index("left_hand.wrist")], wrist[have])
    assert (seq.conf[~have, lay.index("left_hand.wrist")] == 0).all()
    np.testing.assert_array_equal(seq.to_flat(), raw)
