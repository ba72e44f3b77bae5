"""``signssl info``, ``convert`` and ``layouts`` through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from io_helpers import assert_same_sequence, random_sequence, run

from signssl.io import read_pose, write_pose
from signssl.pose.layouts import get_layout, list_layouts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "layouts"


def test_info_json_and_table(tmp_path, capsys):
    seq = random_sequence("holistic", frames=3, fps=30.0)
    path = write_pose(seq, tmp_path / "a.pose")
    code, out, _ = run(capsys, "info", str(path), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["format"] == "pose" and info["layout"] == "holistic"
    assert (info["frames"], info["joints"], info["dims"], info["fps"]) == (3, 543, 3, 30.0)
    assert info["missing_fraction"] == pytest.approx(seq.missing_fraction())
    assert info["part_missing_fractions"]["face"] == pytest.approx(seq.part_missing_fractions()["face"])
    code, out, _ = run(capsys, "info", str(path))
    assert code == 0
    for word in ("format", "pose", "holistic", "543", "missing in left_hand"):
        assert word in out
    code, out, _ = run(capsys, "info", str(path), "--layout", "masa49", "--json")
    assert code == 0 and json.loads(out)["joints"] == 49


def test_convert(tmp_path, capsys):
    seq = random_sequence("holistic", frames=4, fps=None)
    src = tmp_path / "seq"
    src.mkdir()
    for t, row in enumerate(seq.to_flat()):
        np.save(src / f"{t}.npy", row)
    code, out, _ = run(capsys, "convert", str(src), str(tmp_path / "out.pose"))
    assert code == 0 and "out.pose" in out
    back = read_pose(tmp_path / "out.pose")
    np.testing.assert_array_equal(back.to_flat(), seq.to_flat())
    code, _, _ = run(capsys, "convert", str(tmp_path / "out.pose"), str(tmp_path / "out.npz"),
                     "--fps", "25")
    assert code == 0
    again = read_pose(tmp_path / "out.npz")
    assert again.fps == 25.0
    np.testing.assert_array_equal(again.xyz, back.xyz)


def test_convert_with_yaml_layout(tmp_path, capsys):
    lay = get_layout(EXAMPLES / "wlasl50-holistic170.yaml")
    seq = random_sequence(lay, frames=3)
    src = tmp_path / "s"
    src.mkdir()
    for t, row in enumerate(seq.to_flat()):
        np.save(src / f"{t}.npy", row)
    code, _, err = run(capsys, "convert", str(src), str(tmp_path / "o.npz"),
                       "--layout", str(EXAMPLES / "wlasl50-holistic170.yaml"))
    assert code == 0, err
    back = read_pose(tmp_path / "o.npz")
    assert back.layout.name == "wlasl50-holistic170"
    np.testing.assert_array_equal(back.to_flat(), seq.to_flat())


def test_layouts(capsys):
    code, out, _ = run(capsys, "layouts")
    assert code == 0
    for name in list_layouts():
        assert name in out
        assert str(get_layout(name).flat_size) in out


def _bad_inputs(tmp_path: Path) -> list[list[str]]:
    write_pose(random_sequence("hands", frames=2), tmp_path / "ok.npz")
    np.save(tmp_path / "cut.npy", np.ones((3, 1662)))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "cut.npy").read_bytes()[:-20])
    np.save(tmp_path / "zero.npy", np.zeros((0, 1662)))
    (tmp_path / "bad.pose").write_bytes(b"\x00\x01garbage")
    (tmp_path / "x.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    np.save(tmp_path / "short.npy", np.ones((3, 170)))
    (tmp_path / "cut.parquet").write_bytes(b"PAR1" + b"\x00" * 40)
    (tmp_path / "badlist.yaml").write_text("parts:\n  - name: body\n    joints: nosuch\n")
    (tmp_path / "typo.yaml").write_text("parts:\n  - name: body\n    joints: [nose, left_elbw]\n")
    (tmp_path / "latin1.yaml").write_bytes("parts:\n  - name: body  # é\n".encode("latin-1"))
    return [
        ["info", str(tmp_path / "ok.npz"), "--layout", str(tmp_path / "typo.yaml")],
        ["convert", str(tmp_path / "ok.npz"), str(tmp_path / "o.pose"), "--layout",
         str(tmp_path / "typo.yaml")],
        ["info", str(tmp_path / "ok.npz"), "--layout", str(tmp_path / "latin1.yaml")],
        ["info", str(tmp_path / "cut.parquet")],
        ["info", str(tmp_path / "ok.npz"), "--layout", str(tmp_path / "badlist.yaml")],
        ["info", str(tmp_path / "nowhere.pose")],
        ["info", str(tmp_path / "x.txt")],
        ["info", str(tmp_path / "empty")],
        ["info", str(tmp_path / "cut.npy")],
        ["info", str(tmp_path / "zero.npy")],
        ["info", str(tmp_path / "bad.pose")],
        ["info", str(tmp_path / "short.npy"), "--layout", "holistic"],
        ["info", str(tmp_path / "ok.npz"), "--layout", "no_such_layout"],
        ["convert", str(tmp_path / "ok.npz"), str(tmp_path / "out.csv")],
    ]


def test_bad_input_gives_one_line_and_exit_2(tmp_path, capsys):
    for argv in _bad_inputs(tmp_path):
        code, out, err = run(capsys, *argv)
        assert code == 2, (argv, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), (argv, err)
        assert "Traceback" not in err + out


def test_all_missing_sequence_is_reported(tmp_path, capsys):
    path = write_pose(random_sequence("hands", frames=3, missing=1.0), tmp_path / "gone.pose")
    code, out, _ = run(capsys, "info", str(path), "--json")
    assert code == 0 and json.loads(out)["missing_fraction"] == 1.0


def test_subprocess_error_has_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "signssl.cli", "info", str(tmp_path / "nowhere.pose")],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nowhere.pose" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_convert_is_exact_for_pose_files(tmp_path, capsys):
    seq = random_sequence("holistic_iris_world", frames=3, fps=25.0)
    src = write_pose(seq, tmp_path / "a.pose")
    assert run(capsys, "convert", str(src), str(tmp_path / "b.npz"))[0] == 0
    assert run(capsys, "convert", str(tmp_path / "b.npz"), str(tmp_path / "c.pose"))[0] == 0
    assert_same_sequence(seq, read_pose(tmp_path / "c.pose"))
