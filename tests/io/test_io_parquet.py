"""Kaggle ISLR parquet files, built here with pyarrow in the competition's schema."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from signssl.errors import DataError
from signssl.io import detect_format, read_pose

SIZES = {"face": 468, "left_hand": 21, "pose": 33, "right_hand": 21}


def _rows(frames: list[int], seed: int = 0) -> dict[str, list]:
    """All 543 landmarks per frame in Kaggle's order (face, left_hand, pose, right_hand)."""
    rng = np.random.default_rng(seed)
    cols: dict[str, list] = {k: [] for k in ("frame", "row_id", "type", "landmark_index", "x", "y", "z")}
    for f in frames:
        for typ, n in SIZES.items():
            for i in range(n):
                cols["frame"].append(f)
                cols["row_id"].append(f"{f}-{typ}-{i}")
                cols["type"].append(typ)
                cols["landmark_index"].append(i)
                for c in "xyz":
                    cols[c].append(float(rng.uniform(0.05, 1.0)))
    return cols


def _write(path, cols: dict[str, list]) -> None:
    table = pa.table({
        "frame": pa.array(cols["frame"], pa.int16()),
        "row_id": pa.array(cols["row_id"], pa.string()),
        "type": pa.array(cols["type"], pa.string()),
        "landmark_index": pa.array(cols["landmark_index"], pa.int16()),
        **{c: pa.array(cols[c], pa.float64()) for c in "xyz" if c in cols},
    })
    pq.write_table(table, path)


def _value(cols, frame, typ, i):
    k = next(r for r in range(len(cols["frame"]))
             if (cols["frame"][r], cols["type"][r], cols["landmark_index"][r]) == (frame, typ, i))
    return [cols[c][k] for c in "xyz"], k


def test_reads_into_holistic(tmp_path):
    cols = _rows([20, 21, 23])
    # the right hand is not detected in frame 21 (NaN, as in the competition files)
    for r in range(len(cols["frame"])):
        if cols["frame"][r] == 21 and cols["type"][r] == "right_hand":
            cols["x"][r] = cols["y"][r] = cols["z"][r] = float("nan")
    path = tmp_path / "1000.parquet"
    _write(path, cols)
    assert detect_format(path) == "parquet"
    seq = read_pose(path)
    lay = seq.layout
    assert lay.name == "holistic" and seq.num_frames == 3 and seq.fps is None
    for frame, t in ((20, 0), (23, 2)):
        (want, _) = _value(cols, frame, "pose", 11)
        np.testing.assert_allclose(seq.xyz[t, lay.index("body.left_shoulder")], want, rtol=1e-6)
        (want, _) = _value(cols, frame, "face", 5)
        np.testing.assert_allclose(seq.xyz[t, lay.index("face.5")], want, rtol=1e-6)
        (want, _) = _value(cols, frame, "left_hand", 20)
        np.testing.assert_allclose(seq.xyz[t, lay.index("left_hand.pinky_tip")], want, rtol=1e-6)
    hand = lay.part_slice("right_hand")
    assert (seq.conf[1, hand] == 0).all() and (seq.xyz[1, hand] == 0).all()
    assert seq.conf[0, hand].min() == 1.0
    assert seq.missing_fraction() == pytest.approx(21 / (3 * 543))


def test_row_order_and_absent_rows(tmp_path):
    cols = _rows([0, 1])
    order = np.random.default_rng(3).permutation(len(cols["frame"]))
    shuffled = {k: [v[i] for i in order] for k, v in cols.items()}
    _write(tmp_path / "a.parquet", cols)
    _write(tmp_path / "b.parquet", shuffled)
    a, b = read_pose(tmp_path / "a.parquet"), read_pose(tmp_path / "b.parquet")
    np.testing.assert_array_equal(a.xyz, b.xyz)
    # drop one row: that landmark is missing in that frame only
    _, k = _value(cols, 1, "face", 7)
    dropped = {key: v[:k] + v[k + 1:] for key, v in cols.items()}
    _write(tmp_path / "c.parquet", dropped)
    c = read_pose(tmp_path / "c.parquet")
    j = c.layout.index("face.7")
    assert c.conf[1, j] == 0 and c.conf[0, j] == 1 and c.missing_fraction() == pytest.approx(1 / (2 * 543))


def test_layout_argument_converts(tmp_path):
    _write(tmp_path / "a.parquet", _rows([0]))
    seq = read_pose(tmp_path / "a.parquet", layout="masa49", fps=30)
    assert seq.layout.name == "masa49" and seq.fps == 30.0
    np.testing.assert_array_equal(seq.xyz, read_pose(tmp_path / "a.parquet").to_layout("masa49").xyz)


def test_bad_parquet(tmp_path):
    cols = _rows([0])
    _write(tmp_path / "good.parquet", cols)
    raw = (tmp_path / "good.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="not a readable parquet file") as e:
        read_pose(tmp_path / "cut.parquet")
    assert "cut.parquet" in str(e.value)

    no_z = {k: v for k, v in cols.items() if k != "z"}
    _write(tmp_path / "noz.parquet", no_z)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['z'\]"):
        read_pose(tmp_path / "noz.parquet")

    odd = dict(cols, type=["hand" if t == "left_hand" else t for t in cols["type"]])
    _write(tmp_path / "odd.parquet", odd)
    with pytest.raises(DataError, match="unknown landmark type"):
        read_pose(tmp_path / "odd.parquet")

    big = dict(cols, landmark_index=[i + 40 if t == "left_hand" else i
                                     for t, i in zip(cols["type"], cols["landmark_index"], strict=True)])
    _write(tmp_path / "big.parquet", big)
    with pytest.raises(DataError, match="landmark_index 40 is out of range for type 'left_hand'"):
        read_pose(tmp_path / "big.parquet")

    _write(tmp_path / "empty.parquet", {k: [] for k in cols})
    with pytest.raises(DataError, match="no frames"):
        read_pose(tmp_path / "empty.parquet")
