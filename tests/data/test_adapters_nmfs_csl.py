"""NMFs-CSL adapter on a small fake of its train.txt / test.txt lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from signssl.data.nmfs_csl import manifest_from_nmfs_csl
from signssl.errors import DataError


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def _fake(tmp_path: Path) -> tuple[Path, Path]:
    lists, data = tmp_path / "lists", tmp_path / "data"
    lists.mkdir()
    (lists / "train.txt").write_text(
        "videos/000/P01_000_1.mp4 0\n"
        "videos/001/P02_001_1.mp4 1\n"
        "\n"
        "videos/000/P03_000_1.mp4 0\n"     # no file
        "videos/000/P04_000_1.mp4 zero\n"  # bad line: class id
        "videos/000/P04_000_2.mp4\n"       # bad line: no class id
        "videos/000/P01_000_1.mp4 0\n"     # duplicate
    )
    (lists / "test.txt").write_text("videos/001/P09_001_2.mp4 1\nvideos/001/clip7.mp4 1\n")
    (lists / "classes.txt").write_text("0 什么\n1 为什么\n", encoding="utf-8")
    for name in ("000/P01_000_1", "001/P02_001_1", "001/P09_001_2", "001/clip7"):
        _touch(data / "videos" / f"{name}.mp4")
    return lists, data


def test_nmfs_csl_rows_and_counts(tmp_path: Path) -> None:
    lists, data = _fake(tmp_path)
    m, report = manifest_from_nmfs_csl(lists, data_dir=data)
    got = [(r.path, r.label, r.signer, r.split, r.extra.get("word")) for r in m]
    assert got == [
        ("videos/000/P01_000_1.mp4", "0", "01", "train", "什么"),
        ("videos/001/P02_001_1.mp4", "1", "02", "train", "为什么"),
        ("videos/001/P09_001_2.mp4", "1", "09", "test", "为什么"),
        ("videos/001/clip7.mp4", "1", None, "test", "为什么"),  # no P<n>_: signer unknown
    ]
    assert report.counts() == {"kept": 4, "missing file": 1, "bad line": 2, "duplicate": 1}
    assert report.problems["bad line"][0][0] == f"{lists / 'train.txt'}, line 5"
    assert m.splits() == {"test": 2, "train": 2}


def test_nmfs_csl_paths_outside_the_data_folder(tmp_path: Path) -> None:
    lists, data = _fake(tmp_path)
    _touch(tmp_path / "elsewhere" / "P05_000_1.mp4")
    target = tmp_path / "elsewhere" / "P05_000_1.mp4"
    (lists / "test.txt").write_text(f"../elsewhere/P05_000_1.mp4 0\n{target} 0\n")
    m, report = manifest_from_nmfs_csl(lists, data_dir=data)
    relative, absolute = m.filter(split="test").rows
    assert (relative.path, absolute.path) == ("../elsewhere/P05_000_1.mp4", target.as_posix())
    assert m.resolve(relative) == m.resolve(absolute) == target


def test_nmfs_csl_pose_folder_and_errors(tmp_path: Path) -> None:
    lists, _ = _fake(tmp_path)
    poses = tmp_path / "poses"
    _touch(poses / "P02_001_1.pose")
    m, report = manifest_from_nmfs_csl(lists, poses_dir=poses)
    assert [(r.path, r.split) for r in m] == [("P02_001_1.pose", "train")]
    assert report.count("missing file") == 4
    (lists / "test.txt").write_bytes(b"videos/a.mp4 1\n\xff\xfe\n")
    with pytest.raises(DataError, match=r"test.txt: cannot read the NMFs-CSL list file as UTF-8"):
        manifest_from_nmfs_csl(lists, poses_dir=poses)
    (lists / "test.txt").unlink()
    (lists / "train.txt").unlink()
    with pytest.raises(DataError, match=r"none of \['train.txt', 'test.txt'\] found"):
        manifest_from_nmfs_csl(lists, poses_dir=poses)
    with pytest.raises(DataError, match=r"give the folder of the videos \(--data\)"):
        manifest_from_nmfs_csl(lists)
