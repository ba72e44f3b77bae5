"""AUTSL adapter on a small fake of {train,val}_labels.csv + SignList_ClassId_TR_EN.csv."""

from __future__ import annotations

from pathlib import Path

import pytest

from signssl.data import signer_overlap
from signssl.data.autsl import manifest_from_autsl, parse_autsl_sample
from signssl.errors import DataError


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def _fake(tmp_path: Path) -> tuple[Path, Path]:
    labels, videos = tmp_path / "labels", tmp_path / "videos"
    labels.mkdir()
    (labels / "train_labels.csv").write_text(
        "signer0_sample1,0\nsigner0_sample2,1\nsigner1_sample1,0\n"
        "signer1_sample1,0\n"      # duplicate
        "badname,3\n"              # bad row: not signerN_sampleM
        "signer2_sample9,x\n"      # bad row: class id
        "\n"
        "signer3_sample4,1\n"      # no clip
    )
    (labels / "val_labels.csv").write_text("signer5_sample1,1\n")
    (labels / "SignList_ClassId_TR_EN.csv").write_text("ClassId,TR,EN\n0,abla,sister\n1,acele,hurry\n")
    for name in ("train/signer0_sample1_color", "train/signer0_sample1_depth",
                 "train/signer0_sample2_color", "train/signer1_sample1_color",
                 "val/signer5_sample1_color"):
        _touch(videos / f"{name}.mp4")
    return labels, videos


def test_parse_autsl_sample() -> None:
    assert parse_autsl_sample("signer12_sample345") == ("12", "345")
    assert parse_autsl_sample("signer12_sample345_color") is None
    assert parse_autsl_sample("sample1") is None


def test_autsl_rows_counts_and_signer_independence(tmp_path: Path) -> None:
    labels, videos = _fake(tmp_path)
    m, report = manifest_from_autsl(labels, videos_dir=videos)
    got = [(r.path, r.label, r.signer, r.split, r.extra["class_id"]) for r in m]
    assert got == [
        ("train/signer0_sample1_color.mp4", "sister", "0", "train", "0"),
        ("train/signer0_sample2_color.mp4", "hurry", "0", "train", "1"),
        ("train/signer1_sample1_color.mp4", "sister", "1", "train", "0"),
        ("val/signer5_sample1_color.mp4", "hurry", "5", "val", "1"),
    ]
    assert report.counts() == {"kept": 4, "duplicate": 1, "bad row": 2, "missing file": 1,
                               "missing split file": 1}
    assert report.problems["bad row"][0][0] == f"{labels / 'train_labels.csv'}, line 5"
    assert report.items("missing file") == [str(videos / "signer3_sample4_color")]
    assert signer_overlap(m) == {}


def test_autsl_poses_named_by_sample_and_errors(tmp_path: Path) -> None:
    labels, _ = _fake(tmp_path)
    poses = tmp_path / "poses"
    _touch(poses / "signer0_sample1.pose")
    m, report = manifest_from_autsl(labels, poses_dir=poses)
    assert [(r.path, r.label) for r in m] == [("signer0_sample1.pose", "sister")]
    assert report.count("missing file") == 4
    (labels / "SignList_ClassId_TR_EN.csv").unlink()
    m, _ = manifest_from_autsl(labels, poses_dir=poses)
    assert m.rows[0].label == "0"  # no sign list: the class id
    (labels / "val_labels.csv").write_bytes(b"signer5_sample1,\xff\xfe\n")
    with pytest.raises(DataError, match=r"val_labels.csv: cannot read the AUTSL labels file"):
        manifest_from_autsl(labels, poses_dir=poses)
    (tmp_path / "none").mkdir()
    with pytest.raises(DataError, match=r"none of \['train_labels.csv'"):
        manifest_from_autsl(tmp_path / "none", poses_dir=poses)
