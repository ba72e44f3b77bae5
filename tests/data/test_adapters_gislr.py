"""Kaggle GISLR adapter on a small fake of train.csv + sign map + landmark parquet files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from signssl.cli.manifest_cmds import register
from signssl.data import Manifest, signer_overlap
from signssl.data.gislr import manifest_from_gislr
from signssl.errors import DataError
from signssl.io import read_pose

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

P1 = "train_landmark_files/26734/1000035562.parquet"
P2 = "train_landmark_files/28656/1000106739.parquet"


def _landmarks(path: Path, frames: list[int]) -> None:
    """A GISLR parquet: per frame, 2 right-hand landmarks (x = frame / 100, index / 10)."""
    rows = [(f, f"{f}-right_hand-{i}", "right_hand", i, f / 100, i / 10, 0.0)
            for f in frames for i in (0, 1)]
    cols = list(zip(*rows, strict=True))
    names = ["frame", "row_id", "type", "landmark_index", "x", "y", "z"]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(dict(zip(names, cols, strict=True))), path)


def _fake(tmp_path: Path) -> Path:
    root = tmp_path / "gislr"
    root.mkdir()
    (root / "train.csv").write_text(
        "path,participant_id,sequence_id,sign\n"
        f"{P1},26734,1000035562,blow\n{P2},28656,1000106739,wait\n"
        "train_landmark_files/16069/100015657.parquet,16069,100015657,cloud\n"  # no file
        f"{P1},26734,1000035562,blow\n"                                          # duplicate
        "train_landmark_files/1/2.parquet,1,2,zebra\n"                            # not in map
        "train_landmark_files/1/3.parquet,,3,blow\n"                              # bad row
    )
    (root / "sign_to_prediction_index_map.json").write_text(json.dumps({"blow": 0, "wait": 1, "cloud": 2}))
    _landmarks(root / P1, [20, 21, 22])
    _landmarks(root / P2, [0])
    return root


def test_gislr_rows_counts_and_parquet_reading(tmp_path: Path) -> None:
    root = _fake(tmp_path)
    m, report = manifest_from_gislr(root)
    got = [(r.path, r.label, r.signer, r.split, r.extra) for r in m]
    assert got == [
        (P1, "blow", "26734", None, {"sequence_id": "1000035562", "class_id": "0"}),
        (P2, "wait", "28656", None, {"sequence_id": "1000106739", "class_id": "1"}),
    ]
    assert report.counts() == {"kept": 2, "missing file": 1, "duplicate": 1, "unknown sign": 1,
                               "bad row": 1}
    seq = read_pose(m.resolve(0))  # the manifest's path is a readable keypoint file
    assert seq.xyz.shape[0] == 3
    hand = seq.layout.part_slice("right_hand").start
    np.testing.assert_allclose(seq.xyz[:, hand, 0], [0.20, 0.21, 0.22], rtol=1e-6)


def test_gislr_command_makes_a_participant_disjoint_split(tmp_path: Path) -> None:
    root = _fake(tmp_path)
    with (root / "train.csv").open("a") as f:  # 4 participants with 2 sequences each
        for part in (26734, 28656, 30001, 30002):
            for seq in (1, 2):
                rel = f"train_landmark_files/{part}/{seq}.parquet"
                _landmarks(root / rel, [0])
                f.write(f"{rel},{part},{part}{seq},wait\n")
    app = typer.Typer()
    register(app)
    app.callback()(lambda: None)
    out = tmp_path / "m.csv"
    res = CliRunner().invoke(app, ["manifest", "gislr", str(root), "-o", str(out),
                                   "--split-seed", "0", "--test-fraction", "0.5"])
    assert res.exit_code == 0, res.output
    m = Manifest.read(out)
    assert len(m) == 2 + 8 and signer_overlap(m) == {}
    assert {s: len({r.signer for r in m.filter(split=s)}) for s in ("train", "test")} == {
        "train": 2, "test": 2}


def test_gislr_errors(tmp_path: Path) -> None:
    root = _fake(tmp_path)
    (root / "sign_to_prediction_index_map.json").write_text("[1, 2]")
    with pytest.raises(DataError, match=r"sign_to_prediction_index_map.json: expected a JSON object"):
        manifest_from_gislr(root)
    (root / "train.csv").write_text("path,sign\nx,y\n")
    with pytest.raises(DataError, match=r"train.csv: missing column\(s\) \['participant_id', 'sequence_id'\]"):
        manifest_from_gislr(root)
    with pytest.raises(DataError, match="GISLR data folder does not exist"):
        manifest_from_gislr(tmp_path / "none")
