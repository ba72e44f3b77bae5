"""``signssl manifest …`` commands, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from signssl.cli.manifest_cmds import register
from signssl.data import Manifest, signer_overlap
from signssl.errors import DataError, SignSSLError


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()
    register(a)

    @a.callback()
    def _root() -> None:  # keep "manifest" a sub-command even when it is the only group
        pass

    return a


def run(app: typer.Typer, *args: str):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)


def test_folder_command_writes_a_split_manifest(app, mp_data, tmp_path: Path) -> None:
    root = mp_data({"a": [3, 3, 3, 3], "b": [2, 2, 2, 2]})
    out = tmp_path / "out" / "m.csv"
    res = run(app, "manifest", "folder", root, "-o", out, "--split-seed", "1", "--test-fraction", "0.25")
    assert res.exit_code == 0, res.output
    m = Manifest.read(out)
    assert len(m) == 8 and m.labels() == ["a", "b"]
    assert m.splits() == {"test": 2, "train": 6}  # no signers: rows are split one by one
    assert {r.label for r in m.filter(split="train")} == {"a", "b"}
    assert "wrote" in res.output and "8 rows" in res.output


def test_folder_command_on_an_empty_folder_is_a_user_error(app, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    res = run(app, "manifest", "folder", tmp_path / "empty", "-o", tmp_path / "m.csv")
    assert isinstance(res.exception, DataError) and "no samples found" in str(res.exception)
    assert not (tmp_path / "m.csv").exists()


def test_wlasl_command_reports_missing_files(app, tmp_path: Path) -> None:
    js = tmp_path / "w.json"
    js.write_text(json.dumps([{"gloss": "book", "instances": [
        {"video_id": "1", "signer_id": 5, "split": "train", "frame_start": 3, "frame_end": 9},
        {"video_id": "2", "signer_id": 6, "split": "test", "frame_start": 1, "frame_end": -1},
    ]}]))
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "1.mp4").write_bytes(b"")
    out, rep = tmp_path / "w.csv", tmp_path / "rep.json"
    res = run(app, "manifest", "wlasl", js, "--videos", videos, "-o", out, "--report", rep)
    assert res.exit_code == 0, res.output
    assert "missing file" in res.output
    [row] = Manifest.read(out).rows
    assert (row.label, row.signer, row.split, row.start, row.end) == ("book", "5", "train", 2, 9)
    saved = json.loads(rep.read_text())
    assert saved["counts"] == {"kept": 1, "missing file": 1}
    assert saved["problems"]["missing file"][0]["item"] == str(videos / "2")


def test_asl_citizen_and_lsa64_commands(app, tmp_path: Path) -> None:
    splits, videos = tmp_path / "splits", tmp_path / "videos"
    splits.mkdir()
    videos.mkdir()
    (splits / "train.csv").write_text("Participant ID,Video file,Gloss,ASL-LEX Code\nP1,x.mp4,DOG,D\n")
    (videos / "x.mp4").write_bytes(b"")
    res = run(app, "manifest", "asl-citizen", splits, "--videos", videos, "-o", tmp_path / "c.csv")
    assert res.exit_code == 0, res.output
    assert [(r.label, r.signer, r.split) for r in Manifest.read(tmp_path / "c.csv")] == [("DOG", "P1", "train")]
    lsa = tmp_path / "lsa"
    lsa.mkdir()
    for c in range(1, 3):
        for s in range(1, 5):
            (lsa / f"{c:03d}_{s:03d}_001.mp4").write_bytes(b"")
    res = run(app, "manifest", "lsa64", lsa, "-o", tmp_path / "l.csv", "--split-seed", "0")
    assert res.exit_code == 0, res.output
    m = Manifest.read(tmp_path / "l.csv")
    assert len(m) == 8 and m.signers() == ["001", "002", "003", "004"]
    assert signer_overlap(m) == {} and m.splits() == {"test": 2, "train": 6}


def test_split_and_info_commands(app, tmp_path: Path) -> None:
    src = tmp_path / "m.csv"
    lines = ["path,label,signer"] + [f"{s}{i}.npz,c{i % 2},{s}" for s in "ABCD" for i in range(4)]
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "s.csv"
    res = run(app, "manifest", "split", src, "-o", out, "--seed", "3", "--test-fraction", "0.25")
    assert res.exit_code == 0, res.output
    m = Manifest.read(out)
    assert signer_overlap(m) == {} and m.splits() == {"test": 4, "train": 12}
    # same seed, same file
    out2 = tmp_path / "s2.csv"
    run(app, "manifest", "split", src, "-o", out2, "--seed", "3", "--test-fraction", "0.25")
    assert out2.read_text() == out.read_text()
    res = run(app, "manifest", "info", out)
    assert res.exit_code == 0 and "16 rows" in res.output
    res = run(app, "manifest", "split", src, "-o", out, "--unknown-signer", "drop")
    assert isinstance(res.exception, SignSSLError)


def test_check_command_exit_code_and_table(
    app, mp_data, h170_yaml: Path, tmp_path: Path, prose
) -> None:
    root = mp_data({"a": [3, 3]})
    zeros = root / "a" / "zeros"
    zeros.mkdir()
    np.save(zeros / "0.npy", np.zeros(170))
    good = tmp_path / "good.csv"
    good.write_text(f"path\n{root}/a/0\n{root}/a/1\n{root}/a/zeros\n")
    res = run(app, "manifest", "check", good, "--layout", h170_yaml)
    assert res.exit_code == 0, res.output  # mostly-missing is reported, not fatal
    assert "mostly missing" in prose(res.output) and "usable: 2" in prose(res.output)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"path\n{root}/a/0\n{root}/a/nope\n{root}/a/also_nope\n")
    rep = tmp_path / "check.json"
    res = run(app, "manifest", "check", bad, "--layout", h170_yaml, "--report", rep)
    assert res.exit_code == 1
    assert "2 unreadable" in res.output
    assert json.loads(rep.read_text())["counts"] == {"kept": 1, "unreadable": 2}


def test_user_errors_exit_with_code_2_through_the_main_command(tmp_path: Path, capsys) -> None:
    from signssl.cli.main import main

    bad = tmp_path / "bad.csv"
    bad.write_text("label\nx\n")
    with pytest.raises(SystemExit) as e:
        main(["manifest", "check", str(bad)])
    assert e.value.code == 2
    assert "no 'path' column" in capsys.readouterr().err
