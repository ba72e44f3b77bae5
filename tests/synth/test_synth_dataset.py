"""generate_dataset: files, manifest columns, signer-independent split, resume, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from signssl.data import Manifest, PoseDataset, collate_poses
from signssl.errors import ConfigError, DataError, SignSSLError
from signssl.io import read_pose
from signssl.synth import SYNTH_LAYOUT, generate_dataset, read_report, save_video


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    path = generate_dataset(
        out, classes=3, signers=4, reps=2, frames=32, video=True, size=32, seed=1, progress=False
    )
    return out, path


def test_files_manifest_and_report(small_set) -> None:
    out, path = small_set
    m = Manifest.read(path)
    assert len(m) == 3 * 4 * 2
    assert set(m.labels()) == {"sign000", "sign001", "sign002"}
    for col in (
        "sign_start",
        "sign_end",
        "core_start",
        "core_end",
        "handshape",
        "location",
        "movement",
        "orientation",
        "hands",
        "style_background",
        "style_clothing",
        "style_skin",
        "style_lighting",
        "video",
        "left_handed",
    ):
        assert col in m.extra_columns(), col
    for row in m:
        assert row.start is None and row.end is None  # whole clips
        a, b = int(row.extra["sign_start"]), int(row.extra["sign_end"])
        assert 0 < a < int(row.extra["core_start"]) < int(row.extra["core_end"]) < b <= 32
        assert m.resolve(row).is_file() and (out / row.extra["video"]).is_file()
    rep = read_report(out)
    assert (rep.samples, rep.written, rep.kept, rep.failed) == (24, 48, 0, 0)
    vocab = json.loads((out / "vocabulary.json").read_text())
    assert [s["name"] for s in vocab["signs"]] == ["sign000", "sign001", "sign002"]
    assert len(json.loads((out / "signers.json").read_text())) == 4


def test_split_is_signer_independent(small_set) -> None:
    _, path = small_set
    m = Manifest.read(path)
    split_of: dict[str, set[str]] = {}
    for row in m:
        split_of.setdefault(row.signer, set()).add(row.split)
    assert all(len(v) == 1 for v in split_of.values())
    assert {r.split for r in m} == {"train", "test"}


def test_pose_files_read_back_and_batch(small_set) -> None:
    out, path = small_set
    m = Manifest.read(path)
    seq = read_pose(m.resolve(m[0]))
    assert seq.layout.joint_names == SYNTH_LAYOUT.joint_names and seq.xyz.shape == (32, 108, 3)
    assert seq.fps == 30.0
    ds = PoseDataset(m, split="train")
    batch = collate_poses([ds[i] for i in range(4)], max_frames=32)
    assert tuple(batch["x"].shape) == (4, 32, 49, 2)
    assert (batch["conf"][:, :, :3] > 0).all()  # nose and shoulders always seen


def test_videos_decode(small_set) -> None:
    av = pytest.importorskip("av")
    out, path = small_set
    row = Manifest.read(path)[0]
    with av.open(str(out / row.extra["video"])) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 32 and frames[0].shape == (32, 32, 3)


def test_resume_keeps_files_and_gives_the_same_manifest(small_set, tmp_path) -> None:
    out, path = small_set
    before = path.read_text()
    mtime = {p: p.stat().st_mtime_ns for p in (out / "poses").rglob("*.pose")}
    generate_dataset(
        out, classes=3, signers=4, reps=2, frames=32, video=True, size=32, seed=1, progress=False
    )
    rep = read_report(out)
    assert (rep.written, rep.kept) == (0, 48)
    assert path.read_text() == before
    assert all(p.stat().st_mtime_ns == t for p, t in mtime.items())


def test_same_seed_same_files_with_workers(tmp_path) -> None:
    kw = dict(classes=2, signers=2, reps=1, frames=24, seed=4, pose_format="npz", progress=False)
    a = generate_dataset(tmp_path / "a", **kw)
    b = generate_dataset(tmp_path / "b", **kw, workers=2)
    assert a.read_text() == b.read_text()
    for row in Manifest.read(a):
        np.testing.assert_array_equal(
            read_pose(tmp_path / "a" / row.path).xyz, read_pose(tmp_path / "b" / row.path).xyz
        )


def test_continuous_mode_rows(tmp_path) -> None:
    path = generate_dataset(
        tmp_path,
        classes=6,
        signers=2,
        reps=1,
        frames=96,
        continuous=True,
        signs_per_sequence=3,
        seed=2,
        progress=False,
        test_fraction=0.5,
    )
    m = Manifest.read(path)
    assert len(m) == 2 * 2 and all(r.label is None for r in m)
    for row in m:
        glosses = row.extra["glosses"].split()
        starts = [int(x) for x in row.extra["core_starts"].split()]
        ends = [int(x) for x in row.extra["core_ends"].split()]
        assert len(glosses) == len(starts) == len(ends) == 3
        assert int(row.extra["sign_start"]) < starts[0] and ends[-1] < int(row.extra["sign_end"])
        assert all(e <= s for e, s in zip(ends[:-1], starts[1:], strict=True))
        assert read_pose(m.resolve(row)).num_frames == 96
    # each signer signs every class once per repetition
    per_signer = {}
    for row in m:
        per_signer.setdefault(row.signer, []).extend(row.extra["glosses"].split())
    assert all(sorted(g) == [f"sign{i:03d}" for i in range(6)] for g in per_signer.values())


def test_minimal_pair_rate_reaches_the_vocabulary(tmp_path) -> None:
    from signssl.synth import Vocabulary

    kw = dict(classes=6, signers=1, reps=1, frames=24, seed=3, pose_format="npz", progress=False)
    generate_dataset(tmp_path / "fresh", **kw, minimal_pair_rate=0.0)
    generate_dataset(tmp_path / "pairs", **kw, minimal_pair_rate=1.0)
    fresh = json.loads((tmp_path / "fresh" / "vocabulary.json").read_text())
    pairs = json.loads((tmp_path / "pairs" / "vocabulary.json").read_text())
    assert fresh["minimal_pairs"] == []
    assert len(pairs["minimal_pairs"]) == 5  # every class but the first derives from another
    assert json.loads((tmp_path / "fresh" / "config.json").read_text())["minimal_pair_rate"] == 0.0
    expected = Vocabulary.sample(6, 3, minimal_pair_rate=0.0)
    assert [s["handshape"] for s in fresh["signs"]] == [s.handshape for s in expected.signs]
    with pytest.raises(ConfigError, match="minimal_pair_rate"):
        generate_dataset(tmp_path / "bad", **kw, minimal_pair_rate=1.5)
    assert not (tmp_path / "bad").exists()


def test_bad_arguments_raise_config_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="classes"):
        generate_dataset(tmp_path, classes=0, progress=False)
    with pytest.raises(ConfigError, match="pose_format"):
        generate_dataset(tmp_path, classes=1, signers=1, reps=1, pose_format="csv", progress=False)
    with pytest.raises(ConfigError, match="frames"):
        generate_dataset(tmp_path, classes=1, signers=1, reps=1, frames=4, progress=False)


def test_save_video_npy_mp4_and_errors(tmp_path) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)
    save_video(frames, tmp_path / "v.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "v.npy"), frames)
    flat = np.full((6, 16, 16, 3), 128, np.uint8)
    from signssl.io.video import read_video

    clip = read_video(save_video(flat, tmp_path / "v.mp4"))
    assert clip.frames.shape == (6, 16, 16, 3) and abs(int(clip.frames.mean()) - 128) <= 2
    with pytest.raises(DataError, match="uint8"):
        save_video(frames.astype(np.float32), tmp_path / "w.npy")
    with pytest.raises(SignSSLError, match="gif"):
        save_video(frames, tmp_path / "w.gif")
    with pytest.raises(ConfigError, match="even size"):
        generate_dataset(tmp_path / "odd", classes=1, signers=1, reps=1, video=True, size=33)


def test_cli_synth_and_preview(tmp_path, capsys) -> None:
    from signssl.cli.main import main

    with pytest.raises(SystemExit) as e:
        main(
            [
                "synth",
                "--out",
                str(tmp_path / "d"),
                "--classes",
                "2",
                "--signers",
                "2",
                "--reps",
                "1",
                "--frames",
                "24",
            ]
        )
    assert e.value.code == 0
    assert "manifest" in capsys.readouterr().out
    assert len(Manifest.read(tmp_path / "d" / "manifest.csv")) == 4
    with pytest.raises(SystemExit) as e:
        main(["synth", "--out", str(tmp_path / "e"), "--frames", "3"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "frames must be >= 8" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as e:
        main(
            [
                "synth-preview",
                "--out",
                str(tmp_path / "png"),
                "--classes",
                "2",
                "--signers",
                "1",
                "--size",
                "32",
            ]
        )
    assert e.value.code == 0
    assert (tmp_path / "png" / "synth_grid.png").stat().st_size > 1000
    assert (tmp_path / "png" / "synth_trajectories.png").stat().st_size > 1000


def test_cli_minimal_pairs_option(tmp_path) -> None:
    from signssl.cli.main import main

    args = ["synth", "--out", str(tmp_path / "d"), "--classes", "3", "--signers", "1",
            "--reps", "1", "--frames", "24", "--pose-format", "npz", "--minimal-pairs", "0"]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 0
    assert json.loads((tmp_path / "d" / "vocabulary.json").read_text())["minimal_pairs"] == []


def test_a_rerun_removes_the_temporaries_a_killed_run_left(tmp_path, lock_holder) -> None:
    """A kill during an atomic write leaves a hidden ``.<name>.<random>.tmp<suffix>``; the
    next run on the folder deletes those of the files it writes and nothing else."""
    import os
    import tempfile

    from signssl.errors import FolderInUseError

    kw = dict(classes=2, signers=2, reps=1, frames=16, seed=2, progress=False)
    path = generate_dataset(tmp_path, **kw)
    pose = tmp_path / Manifest.read(path)[0].path
    orphans = []
    for target in (pose, path):
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}",
                                    dir=target.parent)  # fmt: skip
        os.close(fd)
        orphans.append(name)
    mine = pose.parent / f".{pose.name}.notes"  # hidden, but not a temporary of the job
    mine.write_text("kept")
    holder = lock_holder(tmp_path)  # another job on the folder: refused, nothing removed
    with pytest.raises(FolderInUseError, match=f"another synth job \\(pid {holder.pid}\\)"):
        generate_dataset(tmp_path, **kw)
    assert all(os.path.exists(o) for o in orphans)
    holder.kill()
    holder.wait()
    generate_dataset(tmp_path, **kw)
    assert not any(os.path.exists(o) for o in orphans)
    assert mine.read_text() == "kept"
    assert not [p for p in tmp_path.rglob(".*") if p != mine]  # no temporary, no lock file
