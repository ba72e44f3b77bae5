"""benchmarks/loss_curve.py: block means of a logged column and the plateau's exit step."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from script_loader import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "loss_curve.py"


@pytest.fixture(scope="module")
def curve() -> ModuleType:
    return load_script(SCRIPT)


def _run(tmp_path: Path, values: list[str]) -> Path:
    """A run folder whose metrics.csv logs ``train/rec`` = values[step] (blank = not logged)."""
    log = tmp_path / "run" / "logs" / "csv"
    log.mkdir(parents=True)
    lines = ["epoch,step,train/loss,train/rec"]
    lines += [f"0,{i},1.0,{v}" for i, v in enumerate(values)]
    (log / "metrics.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "run"


def test_block_means_and_exit_step_by_hand(curve: ModuleType, tmp_path: Path) -> None:
    # steps 0-1: 20, 12 | 2-3: 11, 11 | 4-5: 11, blank | 6-7: 9, 7 | 8: nan
    run = _run(tmp_path, ["20", "12", "11", "11", "11", "", "9", "7", "nan"])
    rows, bad = curve.read_column(run, "train/rec")
    assert bad == 0
    assert [s for s, _ in rows] == [0, 1, 2, 3, 4, 6, 7]  # blank and nan rows skipped
    blocks = curve.block_means(rows, 2)
    assert blocks == [(0, 16.0), (2, 11.0), (4, 11.0), (6, 8.0)]
    # plateau level = block 1 (11.0); 8.0 < 0.9 * 11 at step 6, never below 0.5 * 11
    assert curve.plateau_exit(blocks, 0.9) == 6
    assert curve.plateau_exit(blocks, 0.5) is None
    # the first block (the fall from the initial loss) is not the level and is not checked
    assert curve.plateau_exit([(0, 3.0), (2, 11.0), (4, 10.5)], 0.9) is None
    assert curve.plateau_exit([(0, 30.0), (2, 11.0)], 0.9) is None
    assert curve.plateau_exit([(0, 30.0), (2, 11.0), (4, 5.0)], 0.9, skip=0) == 2


def test_cli_prints_one_line_per_run(tmp_path: Path) -> None:
    run = _run(tmp_path, ["20", "12", "11", "11", "9", "7"])
    out = subprocess.run([sys.executable, str(SCRIPT), str(run), "--every", "2"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert out.strip() == (f"{run}: left the plateau at step 4 (of 6 steps); "
                           "means per 2 steps: 16.00 11.00 8.00")  # fmt: skip


def test_missing_log_or_column_is_one_line_error(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True, text=True
    )
    assert res.returncode != 0 and "no logs/csv/metrics.csv" in res.stderr
    assert "Traceback" not in res.stderr
    run = _run(tmp_path, ["1"])
    res = subprocess.run([sys.executable, str(SCRIPT), str(run), "--column", "train/x"],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode != 0 and "no column(s) ['train/x']" in res.stderr
    # a bad folder among good ones is skipped and counted; the good ones are still read
    res = subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "none"), str(run)],
        capture_output=True,
        text=True,
    )
    assert res.returncode != 0 and "1 of 2 run(s) skipped" in res.stderr
    assert res.stdout.startswith(f"{run}: left the plateau at step - (of 1 steps)")


def test_cut_off_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    run = _run(tmp_path, ["20", "12", "11", "11", "9", "7"])
    with (run / "logs" / "csv" / "metrics.csv").open("a") as fh:
        fh.write("0,6,1.0,8.5e\n0,7")  # a bad number (counted), a line cut off before the value
    out = subprocess.run(
        [sys.executable, str(SCRIPT), str(run), "--every", "2"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        f"{run}: left the plateau at step 4 (of 6 steps); "
        "means per 2 steps: 16.00 11.00 8.00 (1 unreadable row(s) skipped)"
    )
