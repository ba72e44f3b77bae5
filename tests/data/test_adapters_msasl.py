"""MS-ASL adapter on a small fake of MSASL_{train,val}.json + MSASL_classes.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signssl.data.msasl import manifest_from_msasl, youtube_id
from signssl.errors import DataError

A, B, C = "AAAAAAAAAAA", "B-b_BBBBBBB", "CCCCCCCCCCC"


def _entry(vid: str, label: object, t0: float, t1: float, fps: float, signer: int, **kw) -> dict:
    return {"url": f"https://www.youtube.com/watch?v={vid}", "label": label, "start_time": t0,
            "end_time": t1, "fps": fps, "signer_id": signer, "clean_text": f"text{label}",
            "org_text": "ORG", "box": [0.1, 0.2, 0.9, 0.8], "width": 640, "height": 360, **kw}


def _fake(tmp_path: Path, classes: bool = True) -> tuple[Path, Path]:
    jd, videos = tmp_path / "json", tmp_path / "videos"
    jd.mkdir()
    videos.mkdir()
    train = [
        _entry(A, 0, 1.0, 2.5, 30, 3),          # frames [30, 75)
        _entry(A, 1, 0.0, 1.0, 30, 4),          # [0, 30) -> start None
        _entry(B, 150, 2.0, 3.0, 25, 5),        # class 150: only in MSASL200+
        _entry(C, 0, 0.0, 1.0, 30, 6),          # video not downloaded
        _entry(A, 0, 1.0, 2.5, 30, 3),          # duplicate of the first
        _entry(A, "x", 0.0, 1.0, 30, 3),        # bad label
        {**_entry(A, 2, 0.0, 1.0, 30, 3), "url": "not a link"},
        _entry(A, 2, 3.0, 2.0, 30, 3),          # end before start
    ]
    val = [{**_entry(B, 1, 0.5, 1.5, 29.97, 7), "url": f"https://youtu.be/{B}"}]  # [14, 45)
    (jd / "MSASL_train.json").write_text(json.dumps(train))
    (jd / "MSASL_val.json").write_text(json.dumps(val))
    if classes:
        names = [f"w{i}" for i in range(1000)]
        names[:3] = ["hello", "nice", "meet"]
        (jd / "MSASL_classes.json").write_text(json.dumps(names))
    for vid in (A, B):
        (videos / f"{vid}.mp4").write_bytes(b"")
    return jd, videos


def test_youtube_id() -> None:
    assert youtube_id(f"https://www.youtube.com/watch?v={B}&t=3") == B
    assert youtube_id(f"youtu.be/{A}") == A
    assert youtube_id("https://example.com/video.mp4") is None


def test_msasl100_rows_frames_and_counts(tmp_path: Path) -> None:
    jd, videos = _fake(tmp_path)
    m, report = manifest_from_msasl(jd, videos_dir=videos, subset=100)
    got = [(r.path, r.label, r.signer, r.split, r.start, r.end, r.extra["class_id"]) for r in m]
    assert got == [
        (f"{A}.mp4", "hello", "3", "train", 30, 75, "0"),
        (f"{A}.mp4", "nice", "4", "train", None, 30, "1"),
        (f"{B}.mp4", "nice", "7", "val", 14, 45, "1"),
    ]
    assert m.rows[2].extra == {"class_id": "1", "youtube_id": B, "fps": "29.97"}
    assert report.counts() == {"kept": 3, "missing file": 1, "duplicate": 1, "bad entry": 3,
                               "missing split file": 1}
    assert report.notes == {"samples of classes outside MSASL100 (not read)": 1}
    assert report.items("missing file") == [str(videos / C)]


def test_msasl200_keeps_class_150_and_clean_text_without_class_list(tmp_path: Path) -> None:
    jd, videos = _fake(tmp_path, classes=False)
    m, report = manifest_from_msasl(jd, videos_dir=videos, subset=200)
    assert [(r.label, r.start, r.end) for r in m.filter(split="train")] == [
        ("text0", 30, 75), ("text1", None, 30), ("text150", 50, 75)]
    assert report.kept == 4 and report.notes == {}


def test_msasl_pose_folder_and_errors(tmp_path: Path) -> None:
    jd, _ = _fake(tmp_path)
    poses = tmp_path / "poses"
    poses.mkdir()
    (poses / f"{A}.pose").write_bytes(b"")
    m, report = manifest_from_msasl(jd, poses_dir=poses, subset=100)
    assert [r.path for r in m] == [f"{A}.pose", f"{A}.pose"] and report.count("missing file") == 2
    with pytest.raises(DataError, match=r"must be one of \[100, 200, 500, 1000\], got 300"):
        manifest_from_msasl(jd, poses_dir=poses, subset=300)
    (jd / "MSASL_val.json").write_text("[{broken")
    with pytest.raises(DataError, match=r"MSASL_val.json: .*not valid JSON"):
        manifest_from_msasl(jd, poses_dir=poses)
    (jd / "MSASL_val.json").write_text('{"a": 1}')
    with pytest.raises(DataError, match=r"MSASL_val.json: expected a JSON list"):
        manifest_from_msasl(jd, poses_dir=poses)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"none of \['MSASL_train.json'"):
        manifest_from_msasl(tmp_path / "empty", poses_dir=poses)
    with pytest.raises(DataError, match="give the folder"):
        manifest_from_msasl(jd)
