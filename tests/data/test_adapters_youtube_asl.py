"""YouTube-ASL adapter on a small fake of the video id list + WebVTT / JSON timed-text captions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signssl.data.youtube_asl import manifest_from_youtube_asl, parse_vtt, vtt_seconds
from signssl.errors import DataError

A, B, C, D, E = (c * 11 for c in "ABCDE")

VTT = """WEBVTT
Kind: captions
Language: en

00:00:01.000 --> 00:00:02.500
Hello there,
friend.

00:00:03.000 --> 00:00:04.000

00:01:00.000 --> 00:01:01.000 align:start position:0%
<c>hello</c> world

00:00:05.000 --> 00:00:05.000
zero length
"""
TIMED = {"events": [
    {"tStartMs": 0, "dDurationMs": 9000, "id": 1, "wpWinPosId": 1},   # a window event: no text
    {"tStartMs": 500, "dDurationMs": 1000, "segs": [{"utf8": "good "}, {"utf8": "morning"}]},
    {"tStartMs": 2000, "dDurationMs": 500, "segs": [{"utf8": "\n"}]},  # empty caption
]}


def _fake(tmp_path: Path) -> tuple[Path, Path, Path]:
    ids, caps, videos = tmp_path / "youtube_asl_video_ids.txt", tmp_path / "caps", tmp_path / "videos"
    caps.mkdir()
    videos.mkdir()
    ids.write_text(f"{A}\n{B}\n\n{C}\nshort\n{A}\n{D}\n# a comment\n{E}\n")
    (caps / f"{A}.en.vtt").write_text(VTT)
    (caps / f"{B}.json").write_text(json.dumps(TIMED))
    (caps / f"{E}.json").write_text("{not json")
    for vid in (A, B, D, E):  # C has no video; D has no captions
        (videos / f"{vid}.mp4").write_bytes(b"")
    return ids, caps, videos


def test_vtt_parsing() -> None:
    assert vtt_seconds("01:02:03.500") == 3723.5 and vtt_seconds("00:04,25") == 4.25
    caps, empty = parse_vtt(VTT)
    assert caps == [(1.0, 2.5, "Hello there, friend."), (60.0, 61.0, "hello world"),
                    (5.0, 5.0, "zero length")]
    assert empty == 1


def test_youtube_asl_segments_and_counts(tmp_path: Path) -> None:
    ids, caps, videos = _fake(tmp_path)
    m, report = manifest_from_youtube_asl(ids, caps, fps=30, videos_dir=videos)
    got = [(r.path, r.label, r.split, r.start, r.end, r.extra["text"]) for r in m]
    assert got == [
        (f"{A}.mp4", None, None, 30, 75, "Hello there, friend."),
        (f"{A}.mp4", None, None, 1800, 1830, "hello world"),
        (f"{B}.mp4", None, None, 15, 45, "good morning"),
    ]
    assert m.rows[2].extra == {"text": "good morning", "youtube_id": B, "start_s": "0.5", "end_s": "1.5"}
    assert report.counts() == {"kept": 3, "empty caption": 2, "bad cue": 1, "missing file": 1,
                               "bad id": 1, "duplicate": 1, "missing captions": 1,
                               "unreadable captions": 1}
    assert report.items("missing captions") == [str(caps / f"{D}.vtt")]


def test_youtube_asl_errors(tmp_path: Path) -> None:
    ids, caps, videos = _fake(tmp_path)
    with pytest.raises(DataError, match="video id list does not exist"):
        manifest_from_youtube_asl(tmp_path / "none.txt", caps, 30, videos)
    with pytest.raises(DataError, match="captions folder does not exist"):
        manifest_from_youtube_asl(ids, tmp_path / "nocaps", 30, videos)
    with pytest.raises(DataError, match="fps must be > 0"):
        manifest_from_youtube_asl(ids, caps, 0, videos)
    ids.write_text("short\n")
    with pytest.raises(DataError, match=r"no usable row: kept 0; skipped 1 \(bad id 1\)"):
        manifest_from_youtube_asl(ids, caps, 30, videos)
