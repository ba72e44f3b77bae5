"""SLR500 adapter on a small fake of its class-folder layout (signers 1-36 train, 37-50 test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signssl.data.slr500 import manifest_from_slr500, slr500_signer
from signssl.errors import DataError


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def _fake(tmp_path: Path) -> Path:
    root = tmp_path / "color"
    for name in ("000000/P01_01_00_0_color.avi", "000000/P36_01_00_4_color.avi",
                 "000000/P37_01_00_0_color.avi", "000001/P50_01_01_2_color.pose",
                 "000001/P50_01_01_2_color.mp4",   # same clip as the .pose: duplicate
                 "000001/clip.mp4",                 # bad name: no P<n>_
                 "000001/P51_01_01_0_color.mp4",    # bad name: signer 51
                 "000001/notes.txt",                # unrecognised
                 "readme.txt"):                     # not a class folder
        _touch(root / name)
    (root / "abc").mkdir()                           # not a class folder
    (root / "000002" / "P40_02_00_1").mkdir(parents=True)  # a pose sequence folder
    np.save(root / "000002" / "P40_02_00_1" / "0.npy", np.zeros(3))
    return root


def test_slr500_signer() -> None:
    assert slr500_signer("P07_s3_00_1._color") == 7
    assert slr500_signer("p50_x") == 50
    assert slr500_signer("07_P1") is None


def test_slr500_signer_split_and_counts(tmp_path: Path) -> None:
    root = _fake(tmp_path)
    dictionary = tmp_path / "dictionary.txt"
    dictionary.write_text("000000\t你好\n000001 谢谢\nheader line\n", encoding="utf-8")
    m, report = manifest_from_slr500(root, dictionary=dictionary)
    got = [(r.path, r.label, r.signer, r.split, r.extra.get("word")) for r in m]
    assert got == [
        ("000000/P01_01_00_0_color.avi", "000000", "01", "train", "你好"),
        ("000000/P36_01_00_4_color.avi", "000000", "36", "train", "你好"),
        ("000000/P37_01_00_0_color.avi", "000000", "37", "test", "你好"),
        ("000001/P50_01_01_2_color.pose", "000001", "50", "test", "谢谢"),
        ("000002/P40_02_00_1", "000002", "40", "test", None),
    ]
    assert report.counts() == {"kept": 5, "bad class folder": 2, "duplicate": 1,
                               "unrecognised file": 1, "bad name": 2}
    assert report.items("duplicate") == [str(root / "000001" / "P50_01_01_2_color.mp4")]
    # signers 1..36 only in train, 37..50 only in test
    assert all((int(r.signer) <= 36) == (r.split == "train") for r in m)


def test_slr500_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="SLR500 folder does not exist"):
        manifest_from_slr500(tmp_path / "nope")
    (tmp_path / "empty" / "000000").mkdir(parents=True)
    with pytest.raises(DataError, match="no usable row: kept 0; skipped 0"):
        manifest_from_slr500(tmp_path / "empty")
    root = _fake(tmp_path)
    with pytest.raises(DataError, match="dictionary.txt: SLR500 dictionary does not exist"):
        manifest_from_slr500(root, dictionary=tmp_path / "dictionary.txt")
