"""LSFB-ISOL adapter on a small fake of instances.csv + metadata/splits/{train,test}.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signssl.data import signer_overlap
from signssl.data.lsfb_isol import manifest_from_lsfb_isol
from signssl.errors import DataError

T1, T2 = "CLSFBI0103A_S001_B_286114_286297", "CLSFBI0103A_S001_B_300000_300400"
E1, E2 = "CLSFBI0201A_S003_B_1000_1200", "CLSFBI0201A_S003_B_2000_2200"
NOSPLIT, BOTH = "CLSFBI0301A_S005_B_1_2", "CLSFBI0401A_S007_B_5_9"


def _fake(tmp_path: Path) -> Path:
    root = tmp_path / "isol"
    (root / "metadata" / "splits").mkdir(parents=True)
    (root / "videos").mkdir()
    (root / "instances.csv").write_text(
        "id,sign,signer,start,end\n"
        f"{T1},MAISON,1,286114,286297\n{T2},AVOIR,1,300000,300400\n"
        f"{E1},MAISON,3,1000,1200\n{E2},AVOIR,3,2000,2200\n"   # E2: no video
        f"{NOSPLIT},X,5,1,2\n{T1},MAISON,1,286114,286297\n"   # in no split; duplicate
        ",MAISON,1,,\n"                                       # bad row
        f"{BOTH},Y,7,5,9\n"                                   # in both split files
    )
    (root / "metadata" / "splits" / "train.json").write_text(json.dumps([T1, T2, BOTH]))
    (root / "metadata" / "splits" / "test.json").write_text(json.dumps([E1, E2, BOTH, "CLSFBI9999"]))
    for i in (T1, T2, E1, NOSPLIT, BOTH):
        (root / "videos" / f"{i}.mp4").write_bytes(b"")
    return root


def test_lsfb_isol_official_split_and_counts(tmp_path: Path) -> None:
    root = _fake(tmp_path)
    m, report = manifest_from_lsfb_isol(root)
    got = [(r.path, r.label, r.signer, r.split, r.start, r.end) for r in m]
    assert got == [
        (f"{T1}.mp4", "MAISON", "1", "train", None, None),
        (f"{T2}.mp4", "AVOIR", "1", "train", None, None),
        (f"{E1}.mp4", "MAISON", "3", "test", None, None),
    ]
    assert m.rows[0].extra == {"start_ms": "286114", "end_ms": "286297"}
    assert m.root == root / "videos"
    assert report.counts() == {"kept": 3, "split conflict": 1, "missing file": 1, "no split": 1,
                               "duplicate": 1, "bad row": 1, "unknown id": 1}
    assert report.items("unknown id") == ["CLSFBI9999"]
    assert signer_overlap(m) == {}


def test_lsfb_isol_errors(tmp_path: Path) -> None:
    root = _fake(tmp_path)
    (root / "metadata" / "splits" / "test.json").write_text('{"ids": []}')
    with pytest.raises(DataError, match=r"test.json: expected a JSON list of instance ids"):
        manifest_from_lsfb_isol(root)
    (root / "metadata" / "splits" / "test.json").unlink()
    with pytest.raises(DataError, match=r"test.json: split file does not exist"):
        manifest_from_lsfb_isol(root)
    (root / "instances.csv").write_text("identifier,gloss\nx,y\n")
    with pytest.raises(DataError, match=r"instances.csv: missing column\(s\) \['id', 'sign', 'signer'\]"):
        manifest_from_lsfb_isol(root)
    (root / "instances.csv").unlink()
    with pytest.raises(DataError, match=r"instances.csv: LSFB-ISOL instances.csv does not exist"):
        manifest_from_lsfb_isol(root)
