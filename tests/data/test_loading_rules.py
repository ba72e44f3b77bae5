"""One reading pipeline: ``manifest check`` and ``PoseDataset`` agree on every clip, invalid
coordinates become missing joints (counted), ``normalize="auto"`` follows the clip, and a
run that keeps nothing says the most common reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from signssl.data import Manifest, ManifestRow, PoseDataset, check_manifest, manifest_from_folder
from signssl.data.loading import FALLBACK_NOTE, INVALID_NOTE
from signssl.errors import DataError
from signssl.io import write_pose
from signssl.pose.layouts import get_layout
from signssl.pose.sequence import PoseSequence

HOLISTIC, HANDS = get_layout("holistic"), get_layout("hands")
SHOULDERS = [HOLISTIC.index("body.left_shoulder"), HOLISTIC.index("body.right_shoulder")]


def _clip(layout, seed: int, frames: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(0.2, 0.8, size=(frames, layout.num_joints, 3)).astype(np.float32)
    return xyz, np.ones((frames, layout.num_joints), np.float32)


def _write_npz(path: Path, xyz: np.ndarray, conf: np.ndarray, layout) -> Path:
    """Write a clip, then put the raw (possibly invalid) coordinates back into the file."""
    write_pose(PoseSequence(np.zeros_like(xyz), conf, layout), path)
    with np.load(path, allow_pickle=False) as z:
        arrays = dict(z)
    arrays["xyz"] = xyz
    np.savez(path, **arrays)
    return path


@pytest.fixture
def odd_clips(tmp_path: Path) -> Manifest:
    """good | inf shoulders | 1e38 shoulders | 1e38 on the nose only | hands-only layout."""
    rows = []
    for i, (what, value) in enumerate([("good", None), ("inf", np.inf), ("huge", 1e38),
                                       ("nose", 1e38)]):
        xyz, conf = _clip(HOLISTIC, i)
        if what == "nose":
            xyz[:, HOLISTIC.index("body.nose"), 0] = value
        elif value is not None:
            xyz[:, SHOULDERS, 1] = value
        rows.append(ManifestRow(_write_npz(tmp_path / f"{what}.npz", xyz, conf, HOLISTIC).name, "a"))
    xyz, conf = _clip(HANDS, 9)
    write_pose(PoseSequence(xyz, conf, HANDS), tmp_path / "hands.pose")  # two hand components
    rows.append(ManifestRow("hands.pose", "a"))
    return Manifest(rows, tmp_path)


def test_invalid_coordinates_are_missing_joints_counted_once() -> None:
    xyz, conf = _clip(HANDS, 0, frames=3)
    xyz[0, 0] = np.inf
    xyz[1, 1, 0] = -2e6
    xyz[2, 2, 1] = np.nan  # NaN is the usual "not detected": missing, not counted
    seq = PoseSequence(xyz, conf, HANDS)
    assert seq.invalid == 2 and np.isfinite(seq.xyz).all()
    assert seq.conf[0, 0] == seq.conf[1, 1] == seq.conf[2, 2] == 0
    assert (seq.xyz[[0, 1, 2], [0, 1, 2]] == 0).all() and seq.conf.sum() == 3 * 42 - 3
    xyz[1, 1, 0] = 9e5  # large but plausible (pixels of a huge frame) stays
    assert PoseSequence(xyz, conf, HANDS).conf[1, 1] == 1


@pytest.mark.parametrize("normalize", ["auto", "shoulders", "hands", "none"])
def test_check_and_dataset_agree_on_every_clip(odd_clips: Manifest, normalize: str) -> None:
    check = check_manifest(odd_clips, normalize=normalize, progress=False).report
    ds = PoseDataset(odd_clips, layout=None, dims=None, normalize=normalize, on_error="skip")
    rep = ds.scan(progress=False)
    assert check.kept == rep.kept
    assert {k: sorted(v) for k, v in check.problems.items()} == \
           {k: sorted(v) for k, v in rep.problems.items()}
    assert check.notes == rep.notes


def test_auto_keeps_every_clip_and_says_what_it_did(odd_clips: Manifest) -> None:
    rep = check_manifest(odd_clips, progress=False).report  # default: auto
    assert rep.kept == 5 and rep.num_problems == 0
    # inf, 1e38 shoulders and the 1e38 nose were set missing; three clips lack shoulders
    assert rep.notes == {INVALID_NOTE: 3, FALLBACK_NOTE: 3}


def test_shoulders_names_the_invalid_coordinates(odd_clips: Manifest) -> None:
    rep = check_manifest(odd_clips, normalize="shoulders", progress=False).report
    assert rep.kept == 2  # good and nose-only
    details = dict(rep.problems["cannot normalise"])
    huge = details[str(odd_clips.root / "huge.npz")]
    assert "no frame has both shoulders" in huge and "12 joint-frame(s) had an infinite" in huge
    assert "normalize 'auto'" in huge
    hands = details[str(odd_clips.root / "hands.pose")]
    assert "layout 'hands' has no shoulders" in hands and "infinite" not in hands


def test_hands_only_data_works_with_every_default(odd_clips: Manifest, tmp_path: Path,
                                                   capsys) -> None:
    from signssl.cli.main import main

    hands = Manifest([ManifestRow("hands.pose", "g")], odd_clips.root)
    csv_path = hands.write(tmp_path / "hands.csv").source
    for baseline in ("raw-keypoints", "raw-hand-keypoints", "raw-hand-angles"):
        with pytest.raises(SystemExit) as e:
            main(["embed", "--baseline", baseline, "--data", str(csv_path), "-o",
                  str(tmp_path / f"{baseline}.npz")])
        out = " ".join(capsys.readouterr().out.split())
        assert e.value.code == 0, out
        assert "1 x" in out and f"{FALLBACK_NOTE} 1" in out, (baseline, out)


def test_an_all_skipped_run_names_the_most_common_reason(odd_clips: Manifest) -> None:
    from signssl.engine.config import load_config
    from signssl.engine.pretraining import pretrain

    hands_only = Manifest([odd_clips.rows[4]], odd_clips.root)
    cfg = load_config("sl_fpn", "tiny", ["data.normalize=shoulders"])
    with pytest.raises(DataError) as e:
        pretrain(cfg, hands_only, odd_clips.root / "run", progress=False)
    msg = str(e.value)
    assert "no usable clips in the manifest" in msg
    assert "most common reason: cannot normalise (1 of 1)" in msg
    assert "no frame has both shoulders detected" in msg and "normalize 'auto'" in msg


def test_real_wlasl4_keeps_every_clip_by_default(shared_data: Path, tmp_path: Path) -> None:
    """25 of the 51 clips never show the body (MediaPipe wrote zeros for the pose whenever
    the left hand was lost): shoulders drop them, auto normalises them per hand."""
    root = shared_data / "wlasl4-holistic1662" / "MP_Data"
    yaml = Path(__file__).resolve().parents[2] / "examples" / "layouts" / "holistic1662.yaml"
    if not root.is_dir():
        pytest.skip("wlasl4-holistic1662 not found")
    manifest, _ = manifest_from_folder(root)
    auto = PoseDataset(manifest, source_layout=yaml, on_error="skip").scan(progress=False)
    assert auto.kept == 51 and auto.notes == {FALLBACK_NOTE: 25}
    shoulders = PoseDataset(manifest, source_layout=yaml, on_error="skip",
                            normalize="shoulders").scan(progress=False)
    assert shoulders.kept == 26 and shoulders.count("cannot normalise") == 25
