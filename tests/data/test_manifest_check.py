"""check_manifest: every sample read, each problem counted with its path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signssl.data import Manifest, ManifestRow, check_manifest
from signssl.errors import ConfigError


@pytest.fixture
def problems(mp_data, h170_yaml: Path) -> tuple[Manifest, Path]:
    root = mp_data({"a": [4, 6], "b": [3]})
    zeros = root / "b" / "zeros"
    zeros.mkdir()
    for t in range(3):
        np.save(zeros / f"{t}.npy", np.zeros(170))
    sparse = root / "b" / "sparse"  # only the nose detected: 1 of 53 joints
    sparse.mkdir()
    for t in range(2):
        frame = np.zeros(170)
        frame[:4] = [0.5, 0.5, 0.1, 1.0]
        np.save(sparse / f"{t}.npy", frame)
    (root / "b" / "empty_folder").mkdir()
    (root / "b" / "garbage.npz").write_bytes(b"not a zip file")
    rows = [
        ManifestRow("a/0", "a"),
        ManifestRow("a/missing", "a"),
        ManifestRow("b/empty_folder", "b"),
        ManifestRow("b/garbage.npz", "b"),
        ManifestRow("b/zeros", "b"),
        ManifestRow("b/sparse", "b"),
        ManifestRow("a/1", "a", start=2, end=5),
        ManifestRow("b/0", "b", start=3),  # 3 frames: none left
    ]
    return Manifest(rows, root), h170_yaml


def test_check_reports_every_problem(problems) -> None:
    m, yaml = problems
    res = check_manifest(m, layout=yaml, min_present=0.1, progress=False)
    rep = res.report
    root = m.root
    assert sorted(rep.items("unreadable")) == sorted(
        str(root / p) for p in ("a/missing", "b/empty_folder", "b/garbage.npz"))
    assert rep.items("mostly missing") == [str(root / "b/zeros"), str(root / "b/sparse")]
    assert rep.items("empty") == [str(root / "b/0")]
    assert rep.kept == 2 and res.frames == [4, 3]  # a/0 whole, a/1 frames [2, 5)
    assert res.num_unreadable == 3
    assert res.frame_stats() == {"min": 3, "mean": 3.5, "max": 4}
    assert all(p == pytest.approx(1.0) for p in res.present)
    missing_msg = dict(rep.problems["unreadable"])[str(root / "a/missing")]
    assert "not found" in missing_msg


def test_min_present_threshold_and_measure_layout(problems) -> None:
    m, yaml = problems
    sparse = str(m.root / "b/sparse")
    # the nose alone is 1/53 of the file's joints, 1/49 of masa49's: below 10%, above 1%
    low = check_manifest(m, layout=yaml, min_present=0.01, progress=False).report
    assert low.items("mostly missing") == [str(m.root / "b/zeros")]  # all-missing is always reported
    hands = check_manifest(m, layout=yaml, min_present=0.01, measure_layout="hands",
                           progress=False).report
    assert sparse in hands.items("mostly missing")  # no hand joint at all


def test_check_reads_a_csv_path_and_validates_threshold(problems, tmp_path: Path) -> None:
    m, yaml = problems
    csv_path = tmp_path / "sub" / "m.csv"
    m.write(csv_path)
    res = check_manifest(csv_path, layout=yaml, progress=False)
    assert res.report.total == len(m)
    with pytest.raises(ConfigError):
        check_manifest(csv_path, min_present=1.5)
