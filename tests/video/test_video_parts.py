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
            for p in sorted(out.rglob("*.pose")) if not p.name.startswith(".")}


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


def test_a_video_named_by_two_parts_is_extracted_by_both_and_not_cleaned(tmp_path: Path) -> None:
    from signssl.data import Manifest, ManifestRow

    videos = [make_gray_video(tmp_path / f"v{k}.mp4", frames=6, height=16, width=24) for k in range(2)]
    rows = [ManifestRow("v0.mp4", "a", start=0, end=3), ManifestRow("v0.mp4", "a", start=2, end=5),
            ManifestRow("v1.mp4", "b"), ManifestRow("v1.mp4", "b", start=1, end=4)]
    src = Manifest(rows, tmp_path).write(tmp_path / "videos.csv").source
    whole, split = tmp_path / "whole", tmp_path / "split"
    extract_poses(src, whole, estimator=FAKE, progress=False)
    # a stale temporary of each video, as a killed run (or a live other part) leaves
    stale = [split / f".{v.stem}.pose.dead0.tmp.pose" for v in videos]
    split.mkdir()
    for p in stale:
        p.write_bytes(b"")
    # parts 1/3: rows 0-1 (v0 only), 2/3: row 2 (v1), 3/3: row 3 (v1): v1 is in two parts
    assert extract_poses(src, split, estimator=FAKE, progress=False, part=(1, 3)).extracted == 1
    assert not stale[0].exists() and stale[1].exists()  # v0 is part 1's alone: cleaned
    for i in (2, 3):
        assert extract_poses(src, split, estimator=FAKE, progress=False, part=(i, 3)).total == 1
    assert stale[1].exists()  # v1 may be another part's live temporary: kept
    parts = [part_path(split / MANIFEST_NAME, (i, 3)) for i in (1, 2, 3)]
    assert merge_csv_parts(split / MANIFEST_NAME, parts) == 4
    assert (split / MANIFEST_NAME).read_text() == (whole / MANIFEST_NAME).read_text()
    assert _poses(split) == _poses(whole) and len(_poses(whole)) == 2
