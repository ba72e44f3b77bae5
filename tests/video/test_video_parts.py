"""``extract-poses --part I/N``: parts in one folder merge to the unsplit run's manifests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from video_helpers import make_gray_video

from signssl.data.parts import merge_csv_parts, part_path
from signssl.extract import MANIFEST_NAME, VIDEO_MANIFEST_NAME, extract_poses

FAKE = "video_helpers:FakeEstimator"


def _poses(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*.pose"))}


def test_extract_poses_parts_merge_to_the_unsplit_manifests(tmp_path: Path) -> None:
    src = tmp_path / "videos"
    for k in range(4):
        make_gray_video(src / ("a" if k % 2 else "b") / f"v{k}.mp4", frames=5 + k, height=16, width=24)
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert extract_poses(src, whole, estimator=FAKE, progress=False).extracted == 4
    n = 5  # more parts than videos: part 5 is empty
    for i in range(n, 0, -1):
        rep = extract_poses(src, split, estimator=FAKE, progress=False, part=(i, n))
        assert rep.extracted == (1 if i < n else 0)
    assert not (split / MANIFEST_NAME).exists()
    for name in (MANIFEST_NAME, VIDEO_MANIFEST_NAME):
        parts = [part_path(split / name, (i, n)) for i in range(1, n + 1)]
        assert merge_csv_parts(split / name, parts) == 4
        assert (split / name).read_text() == (whole / name).read_text()
    assert _poses(split) == _poses(whole) and len(_poses(whole)) == 4
