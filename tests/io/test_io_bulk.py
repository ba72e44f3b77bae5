"""Converting whole folders: bad items are skipped and counted, reruns resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from io_helpers import assert_same_sequence, random_sequence, run

from signssl.errors import DataError
from signssl.io import convert_tree, read_pose, write_pose


def _mp_root(tmp_path):
    root = tmp_path / "MP_Data"
    rng = np.random.default_rng(0)
    for gloss, seq in (("apple", "0"), ("apple", "1"), ("book", "0")):
        d = root / gloss / seq
        d.mkdir(parents=True)
        for t in range(3):
            np.save(d / f"{t}.npy", rng.uniform(0.1, 1, 1662))
    cut = root / "book" / "0" / "2.npy"
    cut.write_bytes(cut.read_bytes()[:-10])  # one broken sequence
    return root


def test_mp_data_root_with_a_bad_item(tmp_path):
    root = _mp_root(tmp_path)
    out = tmp_path / "out"
    report = convert_tree(root, out, progress=False)
    assert (report.converted, report.failed, report.skipped_existing) == (2, 1, 0)
    (bad, message), = report.errors.items()
    assert bad.endswith("book/0") and "2.npy" in message
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.pose")) == [
        "apple/0.pose", "apple/1.pose"]
    np.testing.assert_array_equal(read_pose(out / "apple" / "1.pose").to_flat(),
                                  read_pose(root / "apple" / "1").to_flat())
    saved = json.loads((out / "convert_report.json").read_text())
    assert saved["failed"] == 1 and saved["total"] == 3
    again = convert_tree(tmp_path, out, progress=False)  # the parent of MP_Data works too
    assert (again.converted, again.skipped_existing, again.failed) == (0, 2, 1)
    redo = convert_tree(root, out, overwrite=True, progress=False)
    assert redo.converted == 2


def test_folder_of_files(tmp_path):
    src = tmp_path / "src"
    seqs = {"a/x.npz": random_sequence("hands", seed=1), "b/c/y.pose": random_sequence("masa49", dims=2, seed=2)}
    for rel, seq in seqs.items():
        write_pose(seq, src / rel)
    (src / "notes.txt").write_text("ignored")
    report = convert_tree(src, tmp_path / "out", suffix=".npz", progress=False)
    assert report.converted == 2 and report.failed == 0
    assert_same_sequence(seqs["a/x.npz"], read_pose(tmp_path / "out" / "a" / "x.npz"))
    assert_same_sequence(seqs["b/c/y.pose"], read_pose(tmp_path / "out" / "b" / "c" / "y.npz"))


def test_bulk_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="holds no MP_Data sequences"):
        convert_tree(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(DataError, match="output type"):
        convert_tree(tmp_path / "empty", tmp_path / "out", suffix=".csv")


def test_cli_bulk_convert(tmp_path, capsys):
    root = _mp_root(tmp_path)
    code, out, _ = run(capsys, "convert", str(root), str(tmp_path / "out"), "--to", "npz")
    assert code == 0
    assert "3 items: converted 2" in out and "failed 1" in out and "2.npy" in out
    assert len(list((tmp_path / "out").rglob("*.npz"))) == 2
    code, _, err = run(capsys, "convert", str(root), str(tmp_path / "out2"), "--to", "csv")
    assert code == 2 and err.startswith("error:")
