"""``signssl bone-lengths`` and ``signssl priors`` on a tiny synthetic set."""

from __future__ import annotations

import json

import numpy as np
import pytest

from signssl.data import Manifest, ManifestRow
from signssl.data.priors import priors_relpath
from signssl.io import read_pose
from signssl.priors import BoneLengths, Priors, compute_priors
from signssl.synth import generate_dataset


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    path = generate_dataset(
        out, classes=2, signers=2, reps=1, frames=16, video=False, progress=False
    )
    return out, path


def _run(argv: list[str]) -> int:
    from signssl.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    return int(e.value.code or 0)


def test_bone_lengths_and_priors_commands(tiny, tmp_path, capsys) -> None:
    root, manifest_path = tiny
    lengths_file = tmp_path / "lengths.json"
    assert _run(["bone-lengths", "--data", str(manifest_path), "--out", str(lengths_file)]) == 0
    lengths = BoneLengths.load(lengths_file)
    assert "kept 4" in capsys.readouterr().out
    assert lengths.counts["body.left_shoulder->body.left_elbow"] > 0

    # a manifest with the 4 clips, one clip again with a frame range, and a missing file
    man = Manifest.read(manifest_path)
    rows = list(man) + [
        ManifestRow(man[0].path, label=man[0].label, start=2, end=10),
        ManifestRow("poses/nope.pose", label="x"),
    ]
    data = Manifest(rows, root=man.root).write(root / "with_bad.csv")
    out = tmp_path / "priors"
    argv = ["priors", "--data", str(root / "with_bad.csv"), "--out", str(out),
            "--bone-lengths", str(lengths_file)]  # fmt: skip
    assert _run(argv) == 0
    report = json.loads((out / "priors_report.json").read_text())
    assert (report["total"], report["computed"], report["kept"], report["failed"]) == (6, 5, 0, 1)
    assert "nope.pose" in next(iter(report["errors"]))
    index = Manifest.read(out / "index.csv")
    assert len(index) == 5 and index.extra_columns()[-1] == "priors"
    for row in index:  # each file equals compute_priors on the row's frames
        pri = Priors.load(out / row.extra["priors"])
        seq = read_pose(index.resolve(row)).frames(row.start, row.end)
        ref = compute_priors(seq, lengths)
        assert pri.num_frames == seq.num_frames
        for name in ref.values:
            np.testing.assert_allclose(pri.values[name], ref.values[name], atol=1e-6)
            np.testing.assert_array_equal(pri.valid[name], ref.valid[name])
    assert index[4].extra["priors"] == priors_relpath(data, data[4])
    assert index[4].extra["priors"].endswith(".2-10.npz")
    assert index[0].label == man[0].label  # the manifest columns travel along

    # resume: everything kept; other settings are refused; --overwrite recomputes
    assert _run(argv) == 0
    report = json.loads((out / "priors_report.json").read_text())
    assert (report["computed"], report["kept"], report["failed"]) == (0, 5, 1)
    capsys.readouterr()
    assert _run(argv[:-2]) == 2  # default bone lengths differ from the folder's
    assert "other settings or bone lengths" in capsys.readouterr().err
    assert _run(argv + ["--overwrite", "--workers", "2"]) == 0
    report = json.loads((out / "priors_report.json").read_text())
    assert (report["computed"], report["kept"], report["failed"]) == (5, 0, 1)


def test_bone_lengths_without_usable_rows(tmp_path, capsys) -> None:
    Manifest([ManifestRow("missing.pose")], root=tmp_path).write(tmp_path / "m.csv")
    argv = ["bone-lengths", "--data", str(tmp_path / "m.csv"), "--out", str(tmp_path / "l.json")]
    assert _run(argv) == 2
    assert "no row of the manifest could be measured" in capsys.readouterr().err
    assert not (tmp_path / "l.json").exists()


def test_two_samples_for_one_output_file_are_refused(tmp_path) -> None:
    from signssl.data.priors import precompute_priors
    from signssl.errors import DataError

    man = Manifest([ManifestRow("clips/a.pose"), ManifestRow("clips/a.npz")], root=tmp_path)
    with pytest.raises(DataError, match="would both write"):
        precompute_priors(man, tmp_path / "out", progress=False)


def test_a_rerun_removes_the_temporaries_a_killed_run_left(tiny, tmp_path) -> None:
    """A kill during an atomic write leaves a hidden ``.<name>.<random>.tmp.npz``; the
    rerun deletes the temporaries of the files it writes."""
    import os
    import tempfile

    root, manifest_path = tiny
    out = tmp_path / "priors"
    argv = ["priors", "--data", str(manifest_path), "--out", str(out)]
    assert _run(argv) == 0
    index = Manifest.read(out / "index.csv")
    orphans = []
    for target in (out / index[0].extra["priors"], out / "index.csv"):
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}",
                                    dir=target.parent)  # fmt: skip
        os.close(fd)
        orphans.append(name)
    assert _run(argv) == 0
    assert not any(os.path.exists(o) for o in orphans)
    assert not list(out.rglob(".*"))  # no temporary, no lock file
    assert len(Manifest.read(out / "index.csv")) == len(index)
