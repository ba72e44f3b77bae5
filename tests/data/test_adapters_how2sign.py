"""How2Sign adapter on a small fake of how2sign_realigned_{train,val}.csv (tab-separated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signssl.data.how2sign import COLUMNS, manifest_from_how2sign
from signssl.errors import DataError


def _line(video: str, n: int, t0: str, t1: str, text: str) -> str:
    return "\t".join([video[:11], video, f"{video[:11]}_{n}", f"{video[:11]}_{n}-5-rgb_front",
                      t0, t1, text]) + "\n"


def _fake(tmp_path: Path) -> tuple[Path, Path]:
    csvs, videos = tmp_path / "csv", tmp_path / "videos"
    csvs.mkdir()
    videos.mkdir()
    v1, v2, v3 = "--7E2sU6zP4-5-rgb_front", "-fZc293MpJk-5-rgb_front", "zzzzzzzzzzz-5-rgb_front"
    head = "\t".join(COLUMNS) + "\n"
    (csvs / "how2sign_realigned_train.csv").write_text(
        head
        + _line(v1, 10, "129.06", "142.48", 'He said "hi, and left.')  # clip present
        + _line(v2, 0, "10.0", "12.5", "From the raw video.")          # raw video only
        + _line(v3, 1, "1.0", "2.0", "Nothing on disk.")               # missing
        + _line(v1, 11, "abc", "2.0", "Bad time.")                     # bad row
        + _line(v1, 10, "129.06", "142.48", "Again.")                  # duplicate
    )
    (csvs / "how2sign_realigned_val.csv").write_text(head + _line(v1, 3, "0.0", "1.0", "Val."))
    for name in (f"{v1[:11]}_10-5-rgb_front", f"{v1[:11]}_3-5-rgb_front", v2):
        (videos / f"{name}.mp4").write_bytes(b"")
    return csvs, videos


def test_how2sign_segments_with_fps(tmp_path: Path) -> None:
    csvs, videos = _fake(tmp_path)
    m, report = manifest_from_how2sign(csvs, videos_dir=videos, fps=24)
    got = [(r.path, r.label, r.signer, r.split, r.start, r.end, r.extra["text"]) for r in m]
    assert got == [
        ("--7E2sU6zP4_10-5-rgb_front.mp4", None, None, "train", None, None, 'He said "hi, and left.'),
        ("-fZc293MpJk-5-rgb_front.mp4", None, None, "train", 240, 300, "From the raw video."),
        ("--7E2sU6zP4_3-5-rgb_front.mp4", None, None, "val", None, None, "Val."),
    ]
    assert m.rows[1].extra["start_s"] == "10.0" and m.rows[1].extra["sentence_name"] == "-fZc293MpJk_0-5-rgb_front"
    assert m.labels() == []
    assert report.counts() == {"kept": 3, "missing file": 1, "bad row": 1, "duplicate": 1,
                               "missing split file": 1}


def test_how2sign_raw_video_without_fps_is_counted_and_errors(tmp_path: Path) -> None:
    csvs, videos = _fake(tmp_path)
    m, report = manifest_from_how2sign(csvs, videos_dir=videos)
    assert len(m) == 2 and report.count("needs fps") == 1
    (csvs / "how2sign_realigned_val.csv").write_text("VIDEO_ID\tSENTENCE\nx\ty\n")
    with pytest.raises(DataError, match=r"how2sign_realigned_val.csv: missing column\(s\)"):
        manifest_from_how2sign(csvs, videos_dir=videos)
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match=r"none of \['how2sign_realigned_train.csv'"):
        manifest_from_how2sign(tmp_path / "none", videos_dir=videos)
