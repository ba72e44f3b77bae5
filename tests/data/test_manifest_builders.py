"""Manifest builders: folder-per-gloss, WLASL JSON, ASL Citizen CSVs, LSA64 names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from signssl.data import (
    manifest_from_asl_citizen,
    manifest_from_folder,
    manifest_from_lsa64,
    manifest_from_wlasl,
    parse_lsa64_name,
    wlasl_frame_range,
)
from signssl.errors import DataError

# ----------------------------------------------------------------------------- folder


def _touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _sequence(folder: Path) -> Path:
    """A one-frame MP_Data sequence folder."""
    folder.mkdir(parents=True)
    np.save(folder / "0.npy", np.zeros(3))
    return folder


def test_folder_builder_finds_files_and_sequence_folders(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    _touch(root / "book" / "b1.pose")
    _touch(root / "book" / "b2.npz")
    _sequence(root / "book" / "10")
    _sequence(root / "book" / "2")
    _touch(root / "book" / "notes.txt")  # unrecognised
    _touch(root / "book" / ".DS_Store")  # hidden: ignored
    (root / "drink" / "7").mkdir(parents=True)  # empty sample folder -> class has no sample
    (root / "empty_gloss").mkdir()
    _touch(root / "README.md")  # a file outside any class folder
    m, report = manifest_from_folder(root)
    # natural order: 2 before 10
    assert [r.path for r in m] == ["book/2", "book/10", "book/b1.pose", "book/b2.npz"]
    assert {r.label for r in m} == {"book"}
    assert all(r.signer is None and r.split is None for r in m)
    assert m.resolve(m.rows[0]) == root / "book" / "2"
    assert report.kept == 4
    assert report.counts() == {
        "kept": 4, "unrecognised file": 2, "empty sample folder": 1, "empty class folder": 2,
    }
    assert sorted(report.items("empty class folder")) == [str(root / "drink"), str(root / "empty_gloss")]


def test_folder_builder_on_empty_or_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        manifest_from_folder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no samples found"):
        manifest_from_folder(tmp_path / "empty")
    (tmp_path / "only_empty_classes" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="empty class folder 1"):
        manifest_from_folder(tmp_path / "only_empty_classes")


def test_folder_builder_descends_into_a_lone_mp_data_folder(mp_data) -> None:
    root = mp_data({"hello": [3, 4], "thanks": [2]})
    m, report = manifest_from_folder(root.parent)  # the folder holding MP_Data
    assert [(r.path, r.label) for r in m] == [("hello/0", "hello"), ("hello/1", "hello"), ("thanks/0", "thanks")]
    assert m.root == root and report.num_problems == 0


def test_folder_builder_on_real_wlasl50(shared_data: Path) -> None:
    root = shared_data / "wlasl50-holistic170" / "MP_Data"
    m, report = manifest_from_folder(root)
    # independent count: every sub-folder of every gloss folder
    expected = {g: len(os.listdir(root / g)) for g in os.listdir(root)}
    assert len(m) == sum(expected.values()) == 423
    assert m.labels() == sorted(expected) and len(m.labels()) == 50
    counts = {g: sum(r.label == g for r in m) for g in expected}
    assert counts == expected
    assert report.num_problems == 0


# ----------------------------------------------------------------------------- WLASL


def _wlasl_json(path: Path) -> Path:
    data = [
        {"gloss": "book", "instances": [
            {"video_id": "00001", "signer_id": 11, "split": "train", "frame_start": 1,
             "frame_end": -1, "fps": 25, "instance_id": 0, "source": "aslu", "bbox": [0, 0, 9, 9]},
            {"video_id": "00002", "signer_id": 12, "split": "test", "frame_start": 12,
             "frame_end": 60, "fps": 25, "instance_id": 1},
            {"video_id": "00003", "signer_id": 13, "split": "val", "frame_start": 1,
             "frame_end": 40, "fps": 25, "instance_id": 2},  # file absent
        ]},
        {"gloss": "drink", "instances": [
            {"video_id": "00004", "signer_id": 11, "split": "train", "frame_start": 5,
             "frame_end": -1},
            {"signer_id": 3},  # no video_id
        ]},
        {"instances": []},  # no gloss
    ]
    path.write_text(json.dumps(data))
    return path


def test_wlasl_frame_range_conversion() -> None:
    # 1-based inclusive -> 0-based end-exclusive: frames 12..60 are indices 11..59
    assert wlasl_frame_range(12, 60) == (11, 60)
    assert wlasl_frame_range(1, -1) == (None, None)
    assert wlasl_frame_range(5, -1) == (4, None)
    assert wlasl_frame_range(1, 1) == (None, 1)
    with pytest.raises(ValueError):
        wlasl_frame_range(0, 10)
    with pytest.raises(ValueError):
        wlasl_frame_range(10, 5)


def test_wlasl_from_videos_counts_missing_files(tmp_path: Path) -> None:
    js = _wlasl_json(tmp_path / "WLASL_v0.3.json")
    videos = tmp_path / "videos"
    for name in ("00001.mp4", "00002.mp4", "00004.mkv", "00003.txt"):
        _touch(videos / name)
    m, report = manifest_from_wlasl(js, videos_dir=videos)
    got = [(r.path, r.label, r.signer, r.split, r.start, r.end) for r in m]
    assert got == [
        ("00001.mp4", "book", "11", "train", None, None),
        ("00002.mp4", "book", "12", "test", 11, 60),
        ("00004.mkv", "drink", "11", "train", 4, None),
    ]
    assert m.rows[0].extra == {"video_id": "00001", "instance_id": "0", "source": "aslu", "fps": "25"}
    assert m.root == videos
    assert report.counts() == {"kept": 3, "missing file": 1, "bad entry": 2}
    assert report.items("missing file") == [str(videos / "00003")]
    # trimmed clips: no frame range
    m2, _ = manifest_from_wlasl(js, videos_dir=videos, trimmed=True)
    assert all(r.start is None and r.end is None for r in m2)


def test_wlasl_from_pose_dir_matches_by_stem(tmp_path: Path) -> None:
    js = _wlasl_json(tmp_path / "w.json")
    poses = tmp_path / "poses"
    _touch(poses / "00001.pose")
    _touch(poses / "00001.npz")  # same id in a later-preferred format: .pose wins
    _sequence(poses / "00002")
    m, report = manifest_from_wlasl(js, poses_dir=poses)
    assert [r.path for r in m] == ["00001.pose", "00002"]
    assert report.count("missing file") == 2  # 00003 and 00004


def test_wlasl_bad_inputs(tmp_path: Path) -> None:
    videos = tmp_path / "v"
    videos.mkdir()
    with pytest.raises(DataError, match="does not exist"):
        manifest_from_wlasl(tmp_path / "none.json", videos_dir=videos)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        manifest_from_wlasl(bad, videos_dir=videos)
    bad.write_text('{"gloss": "x"}')
    with pytest.raises(DataError, match="expected a JSON list"):
        manifest_from_wlasl(bad, videos_dir=videos)
    js = _wlasl_json(tmp_path / "w.json")
    with pytest.raises(DataError, match="no usable instance.*missing file 4"):
        manifest_from_wlasl(js, videos_dir=videos)  # empty video folder
    with pytest.raises(DataError, match="give the folder"):
        manifest_from_wlasl(js)


# ----------------------------------------------------------------------------- ASL Citizen


def _asl_citizen(tmp_path: Path) -> tuple[Path, Path]:
    splits, videos = tmp_path / "splits", tmp_path / "videos"
    header = "Participant ID,Video file,Gloss,ASL-LEX Code\n"
    _touch(splits / "train.csv", header + "P1,111-HOUSE.mp4,HOUSE,A_01_001\nP2,222-DOG.mp4,DOG,B_02_002\n"
           "P2,,DOG,B_02_002\n")
    _touch(splits / "test.csv", header + "P9,999-HOUSE.mp4,HOUSE,A_01_001\nP9,998-CAT.mp4,CAT,\n")
    for name in ("111-HOUSE.mp4", "222-DOG.mp4", "999-HOUSE.mp4"):
        _touch(videos / name)
    return splits, videos


def test_asl_citizen_splits(tmp_path: Path) -> None:
    splits, videos = _asl_citizen(tmp_path)
    m, report = manifest_from_asl_citizen(splits, videos_dir=videos)
    got = [(r.path, r.label, r.signer, r.split, r.extra) for r in m]
    assert got == [
        ("111-HOUSE.mp4", "HOUSE", "P1", "train", {"asl_lex_code": "A_01_001"}),
        ("222-DOG.mp4", "DOG", "P2", "train", {"asl_lex_code": "B_02_002"}),
        ("999-HOUSE.mp4", "HOUSE", "P9", "test", {"asl_lex_code": "A_01_001"}),
    ]
    assert report.counts() == {"kept": 3, "missing split file": 1, "bad row": 1, "missing file": 1}
    assert report.items("missing file") == [str(videos / "998-CAT.mp4")]
    assert report.problems["bad row"][0][0] == f"{splits / 'train.csv'}, line 4"


def test_asl_citizen_pose_dir_and_errors(tmp_path: Path) -> None:
    splits, _ = _asl_citizen(tmp_path)
    poses = tmp_path / "poses"
    _touch(poses / "111-HOUSE.pose")
    m, report = manifest_from_asl_citizen(splits, poses_dir=poses)
    assert [r.path for r in m] == ["111-HOUSE.pose"]
    assert report.count("missing file") == 3
    _touch(splits / "val.csv", "Participant,Video,Gloss\nP1,a.mp4,X\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['Participant ID', 'Video file'\]"):
        manifest_from_asl_citizen(splits, poses_dir=poses)
    (tmp_path / "nosplits").mkdir()
    with pytest.raises(DataError, match="none of"):
        manifest_from_asl_citizen(tmp_path / "nosplits", poses_dir=poses)


# ----------------------------------------------------------------------------- LSA64


def test_parse_lsa64_name() -> None:
    assert parse_lsa64_name("001_002_003") == ("001", "002", "003")
    assert parse_lsa64_name("064_010_005") == ("064", "010", "005")
    for bad in ("1_2_3", "001_002", "001_002_003_x", "abc_def_ghi"):
        assert parse_lsa64_name(bad) is None


def test_lsa64_builder(tmp_path: Path) -> None:
    root = tmp_path / "all"
    for name in ("001_002_003.mp4", "001_001_001.mp4", "064_010_005.mp4", "002_003_001.pose"):
        _touch(root / name)
    _touch(root / "002_003_001.mp4")  # same clip as the .pose: duplicate
    _touch(root / "clip.mp4")  # bad name
    _touch(root / "001_002_004.txt")  # unrecognised extension
    _sequence(root / "003_004_002")
    m, report = manifest_from_lsa64(root)
    got = sorted((r.path, r.label, r.signer, r.extra["repetition"]) for r in m)
    assert got == [
        ("001_001_001.mp4", "001", "001", "001"),
        ("001_002_003.mp4", "001", "002", "003"),
        ("002_003_001.pose", "002", "003", "001"),
        ("003_004_002", "003", "004", "002"),
        ("064_010_005.mp4", "064", "010", "005"),
    ]
    assert report.counts() == {"kept": 5, "duplicate": 1, "unrecognised file": 1, "bad name": 1}
    assert report.items("duplicate") == [str(root / "002_003_001.mp4")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no LSA64 clip"):
        manifest_from_lsa64(tmp_path / "empty")
