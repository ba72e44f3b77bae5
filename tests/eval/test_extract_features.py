"""Window-feature extraction, pooled retrieval vectors and the class-distribution CLI."""

from __future__ import annotations

import csv
import json
import shutil
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
from eval_toys import export_video_run, run_cli

from signssl.data import Manifest, ManifestRow, PoseDataset
from signssl.data.signrep import video_manifest
from signssl.eval.class_distribution import class_distribution, load_class_distribution
from signssl.eval.extract import extract_run_features, output_name
from signssl.eval.features import Features
from signssl.eval.pooled import run_features
from signssl.eval.retrieval import retrieval_eval
from signssl.eval.windows import WindowEmbedder, load_activity_head
from signssl.io import video as video_io
from signssl.models import create_model
from signssl.models.activity_head import ActivityHead, save_activity_head
from signssl.models.sign_decoder import SignDecoder
from signssl.store.model import export_model, load_model
from signssl.synth import generate_dataset


@pytest.fixture(scope="module")
def iso(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 isolated synthetic clips (3 classes x 2 signers), 16 frames of 32 x 32 video."""
    root = tmp_path_factory.mktemp("iso")
    return generate_dataset(
        root, classes=3, signers=2, reps=1, frames=16, video=True, size=32, progress=False
    )


@pytest.fixture(scope="module")
def video_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported ``hiera_test`` run (4-frame clips) with an activity head."""
    run = tmp_path_factory.mktemp("video_run")
    model_dir = export_video_run(run)
    enc = load_model(run)
    dec = SignDecoder(
        in_dim=enc.out_dim,
        latent_dim=12,
        hidden=8,
        up_dim=6,
        num_frames=4,
        prior_dims={"hand_keypoints": 5},
        activity_hidden=7,
    )
    save_activity_head(ActivityHead.from_decoder(dec), model_dir)
    return run


@pytest.fixture(scope="module")
def pose_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("pose_run")
    torch.manual_seed(0)
    export_model(
        create_model("pose_transformer_test"),
        run / "model",
        "pose_transformer_test",
        {},
        layout="masa49",
        dims=2,
        normalize="shoulders",
        max_frames=64,
    )
    return run


def in_memory_windows(run: Path, video: Path | str) -> torch.Tensor:
    """Reference: the whole video decoded, windows cut in memory."""
    clip = video_io.read_video(video).to_tensor()  # (T, 3, H, W) uint8
    return WindowEmbedder(load_model(run), window=4, stride=2).embed_clip(clip).windows


def read_index(out: Path) -> list[dict[str, str]]:
    with open(out / "index.csv", newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- extraction


def test_one_sequence_per_row_equal_to_in_memory_windows(
    iso: Path, video_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "feats"
    rep = extract_run_features(video_run, iso, out, batch_size=3, progress=False)
    assert (rep.rows, rep.written, rep.failed, rep.windows_written) == (6, 6, 0, 42)
    index = read_index(out)
    assert len(index) == 6
    for entry in index:
        assert (entry["n_windows"], entry["fps"], entry["window"], entry["stride"]) == (
            "7",
            "30",
            "4",
            "2",
        )  # (16 - 4) // 2 + 1 windows of the 30 fps synthetic videos
        z = np.load(out / entry["output"])
        assert z.shape == (7, 32) and z.dtype == np.float32
    m = video_manifest(Manifest.read(iso))
    for row in m.rows[:2]:
        z = np.load(out / output_name(m, row))
        ref = in_memory_windows(video_run, m.resolve(row))
        np.testing.assert_allclose(z, ref.numpy(), atol=1e-5)
    assert json.loads((out / "report.json").read_text())["written"] == 6


def test_rerun_skips_finished_outputs_and_redoes_a_deleted_one(
    iso: Path, video_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "feats"
    extract_run_features(video_run, iso, out, progress=False)
    files = sorted(out.rglob("*.npy"))
    stamps = {p: p.stat().st_mtime_ns for p in files}
    again = extract_run_features(video_run, iso, out, progress=False)
    assert (again.written, again.skipped_existing, again.windows_written) == (0, 6, 0)
    assert {p: p.stat().st_mtime_ns for p in files} == stamps
    victim = files[3]
    before = np.load(victim)
    victim.unlink()
    third = extract_run_features(video_run, iso, out, progress=False)
    assert (third.written, third.skipped_existing) == (1, 5)
    np.testing.assert_allclose(np.load(victim), before, atol=1e-6)
    assert all(p.stat().st_mtime_ns == stamps[p] for p in files if p != victim)
    assert len(read_index(out)) == 6 and not list(out.rglob("*.tmp*"))


def test_a_folder_another_job_writes_is_refused(
    iso: Path, video_run: Path, tmp_path: Path, lock_holder
) -> None:
    from signssl.errors import FolderInUseError

    out = tmp_path / "feats"
    holder = lock_holder(out)
    with pytest.raises(FolderInUseError, match=f"another feature extraction \\(pid {holder.pid}\\)"):
        extract_run_features(video_run, iso, out, progress=False)
    assert [p.name for p in out.iterdir()] == [".signssl.lock"]


def test_an_interrupted_run_leaves_whole_outputs_and_their_index(
    iso: Path, video_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "feats"
    original, calls = WindowEmbedder.embed_batches, [0]

    def interrupted(self: WindowEmbedder, batches: object) -> object:
        calls[0] += 1
        if calls[0] == 3:
            raise KeyboardInterrupt
        return original(self, batches)

    monkeypatch.setattr(WindowEmbedder, "embed_batches", interrupted)
    with pytest.raises(KeyboardInterrupt):
        extract_run_features(video_run, iso, out, progress=False)
    assert len(list(out.rglob("*.npy"))) == 2 and not list(out.rglob("*.tmp*"))
    assert len(read_index(out)) == 2
    assert json.loads((out / "report.json").read_text())["written"] == 2
    monkeypatch.setattr(WindowEmbedder, "embed_batches", original)
    rep = extract_run_features(video_run, iso, out, progress=False)
    assert (rep.written, rep.skipped_existing) == (4, 2) and len(read_index(out)) == 6


def test_bad_rows_are_skipped_and_counted(iso: Path, video_run: Path, tmp_path: Path) -> None:
    good = video_manifest(Manifest.read(iso))
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    rows = [
        ManifestRow(str(good.resolve(good.rows[0]))),
        ManifestRow(str(tmp_path / "gone.mp4")),
        ManifestRow(str(corrupt)),
    ]
    csv_path = tmp_path / "m.csv"
    Manifest(rows).write(csv_path)
    rep = extract_run_features(video_run, csv_path, tmp_path / "out", progress=False)
    assert (rep.written, rep.failed) == (1, 2)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    problems = [p["item"] for items in report["problems"]["problems"].values() for p in items]
    assert sorted(Path(p).name for p in problems) == ["corrupt.mp4", "gone.mp4"]
    assert report["failed"] == 2 and len(read_index(tmp_path / "out")) == 1


def test_damaged_videos_are_skipped_with_their_reason_by_every_bulk_command(
    capsys, iso: Path, video_run: Path, tmp_path: Path
) -> None:
    """One video whose header names no decodable codec, one with its bytes flipped from one
    third on: extract-features and dictionary build (the window features evaluate also
    uses) skip and count both, naming the file and why; retrieve with a damaged query is
    a one-line error."""
    data = Path(shutil.copytree(iso.parent, tmp_path / "ds")) / iso.name
    m = video_manifest(Manifest.read(data))
    by_split = {row.split: m.resolve(row) for row in m.rows}
    no_codec, flipped = Path(by_split["train"]), Path(by_split["test"])
    no_codec.write_bytes(no_codec.read_bytes().replace(b"avc1", b"zzzz"))
    raw = flipped.read_bytes()
    flipped.write_bytes(raw[: len(raw) // 3] + bytes(255 - b for b in raw[len(raw) // 3 :]))

    code, out, err = run_cli(capsys, "extract-features", "--checkpoint", video_run, "--data",
                             data, "--out", tmp_path / "f")  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "f" / "report.json").read_text())
    assert (report["written"], report["failed"]) == (len(m) - 2, 2)
    details = {p["item"]: p["detail"] for items in report["problems"]["problems"].values()
               for p in items}  # fmt: skip
    assert sorted(details) == sorted([str(no_codec), str(flipped)])
    for detail in details.values():
        assert "NoneType" not in detail and "re-encode" in detail
    assert "no decoder can read" in details[str(no_codec)]

    code, out, err = run_cli(capsys, "dictionary", "build", "--checkpoint", video_run, "--data",
                             data, "--out", tmp_path / "d.safetensors")  # fmt: skip
    assert code == 0, err
    assert "unreadable 2" in " ".join((out + err).split())
    code, _, err = run_cli(capsys, "retrieve", "--dictionary", tmp_path / "d.safetensors",
                           "--query", no_codec)  # fmt: skip
    assert code == 2 and err.count("\n") == 1
    assert str(no_codec) in err and "no decoder can read" in err


def test_a_long_video_is_streamed_not_decoded_whole(
    video_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (10, 32, 32, 3), dtype=np.uint8)
    long = video_io.write_video(tmp_path / "long.mp4", (base[i % 10] for i in range(300)), fps=25)
    Manifest([ManifestRow(str(long))]).write(tmp_path / "m.csv")

    def whole(*args: object, **kw: object) -> None:
        raise AssertionError("the whole video was decoded")

    monkeypatch.setattr(video_io, "read_video", whole)
    monkeypatch.setattr(video_io, "read_frames", whole)
    original, alive, peak = video_io.iter_windows, [], [0]

    def counting(*args: object, **kw: object):
        for clip in original(*args, **kw):
            alive.append(weakref.ref(clip.frames))
            peak[0] = max(peak[0], sum(r() is not None for r in alive))
            yield clip

    monkeypatch.setattr(video_io, "iter_windows", counting)
    rep = extract_run_features(
        video_run, tmp_path / "m.csv", tmp_path / "out", batch_size=4, progress=False
    )
    z = np.load(tmp_path / "out" / "long.npy")
    assert z.shape == ((300 - 4) // 2 + 1, 32) and rep.windows_written == 149
    assert len(alive) == 149 and peak[0] <= 4 + 2  # one batch of windows held, never the video


def test_pose_encoder_windows_over_pose_frames(iso: Path, pose_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "pose_feats"
    rep = extract_run_features(pose_run, iso, out, window=4, progress=False)
    assert rep.written == 6
    m = Manifest.read(iso)
    z = np.load(out / output_name(m, m.rows[1]))
    seq = PoseDataset(m, layout="masa49", dims=2, normalize="shoulders").load(1)
    ref = (
        WindowEmbedder(load_model(pose_run), window=4, stride=2)
        .embed_clip(torch.tensor(seq.xyz), torch.tensor(seq.conf))
        .windows
    )
    assert z.shape == (7, 32)
    np.testing.assert_allclose(z, ref.numpy(), atol=1e-5)


# ----------------------------------------------------------------------------- CLI


def test_cli_errors_are_one_line_and_name_the_file(
    capsys, iso: Path, video_run: Path, pose_run: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.csv"
    code, _, err = run_cli(
        capsys,
        "extract-features",
        "--checkpoint",
        video_run,
        "--data",
        missing,
        "--out",
        tmp_path / "o",
    )
    assert code == 2 and str(missing) in err and err.count("\n") == 1
    code, _, err = run_cli(
        capsys,
        "extract-features",
        "--checkpoint",
        tmp_path / "norun",
        "--data",
        iso,
        "--out",
        tmp_path / "o",
    )
    assert code == 2 and str(tmp_path / "norun") in err and err.count("\n") == 1
    code, _, err = run_cli(
        capsys,
        "evaluate",
        "retrieval",
        "--checkpoint",
        pose_run,
        "--data",
        iso,
        "--out",
        tmp_path / "r",
        "--pooling",
        "weighted",
    )
    assert code == 2 and "activity_head.safetensors" in err and err.count("\n") == 1


def test_evaluate_retrieval_with_pooling_matches_the_library(
    capsys, iso: Path, video_run: Path, tmp_path: Path
) -> None:
    code, stdout, err = run_cli(
        capsys,
        "evaluate",
        "retrieval",
        "--checkpoint",
        video_run,
        "--data",
        iso,
        "--out",
        tmp_path / "r",
        "--pooling",
        "weighted",
        "--no-plots",
    )
    assert code == 0, err
    got = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert got["pooling"]["mode"] == "weighted" and got["pooling"]["videos"] == 6
    # reference: whole videos decoded, windows in memory, weights from the head, Eq. 12 by hand
    enc = load_model(video_run)
    scorer = load_activity_head(video_run, enc)
    m = video_manifest(Manifest.read(iso))
    feats = {}
    for split in ("train", "test"):
        vecs, labels = [], []
        for row in m.filter(split=split).rows:
            emb = WindowEmbedder(enc, 4, 2, "weighted", scorer)
            out = emb.embed_clip(video_io.read_video(m.resolve(row)).to_tensor())
            a, z = out.weights, out.windows
            v = (a[:, None] * z).sum(0) / a.sum()
            vecs.append((v / v.norm()).numpy())
            labels.append(row.label)
        feats[split] = Features(np.stack(vecs), labels, [""] * len(labels), [""] * len(labels))
    ref = retrieval_eval(feats["train"], feats["test"]).metrics
    for key in ("mrr", "dcg", "top1_per_instance", "n_queries", "n_dictionary"):
        assert got[key] == pytest.approx(ref[key], abs=1e-6), key


def test_class_distribution_cli(capsys, iso: Path, video_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "P.npz"
    code, stdout, err = run_cli(
        capsys,
        "class-distribution",
        "--checkpoint",
        video_run,
        "--data",
        iso,
        "--out",
        out,
        "--split",
        "train",
    )
    assert code == 0, err
    assert "weighted pooling" in stdout and "mean tau" in stdout
    dist = load_class_distribution(out)
    feats, _ = run_features(video_run, iso, "train", "weighted", progress=False)
    ref = class_distribution(feats.features, feats.labels)
    assert dist.classes == ref.classes == ["sign000", "sign001", "sign002"]
    np.testing.assert_allclose(dist.P, ref.P, atol=1e-6)
    assert (dist.P.max(axis=1) < 0.5).all()


def test_video_run_without_pooling_uses_its_activity_head_everywhere(
    capsys, iso: Path, video_run: Path, tmp_path: Path
) -> None:
    """evaluate / embed / dictionary build on a video run pool windows (weighted: it has an
    activity head); retrieve embeds a video query the same way; fine-tuning is refused."""
    code, stdout, err = run_cli(capsys, "evaluate", "retrieval", "--checkpoint", video_run,
                                "--data", iso, "--out", tmp_path / "r", "--no-plots")  # fmt: skip
    assert code == 0, err
    assert "weighted pooling of 6 videos" in stdout
    got = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert got["pooling"]["mode"] == "weighted"
    ref, _ = run_features(video_run, iso, "test", "weighted", progress=False)

    code, _, err = run_cli(capsys, "embed", "--checkpoint", video_run, "--data", iso, "--split",
                           "test", "--out", tmp_path / "f.npz")  # fmt: skip
    assert code == 0, err
    emb = Features.load(tmp_path / "f.npz")
    np.testing.assert_allclose(emb.features, ref.features, rtol=0, atol=1e-6)

    code, _, err = run_cli(capsys, "dictionary", "build", "--checkpoint", video_run, "--data", iso,
                           "--out", tmp_path / "d.safetensors")  # fmt: skip
    assert code == 0, err
    query = Path(ref.paths[0])
    code, stdout, err = run_cli(capsys, "retrieve", "--dictionary", tmp_path / "d.safetensors",
                                "--query", query, "-k", "2")  # fmt: skip
    assert code == 0, err
    first = stdout.split("│    1 │")[1].split("\n")[0]  # the query is in the dictionary: itself first
    assert ref.labels[0] in first and "1.0000" in first
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    code, _, err = run_cli(capsys, "retrieve", "--dictionary", tmp_path / "d.safetensors",
                           "--query", tmp_path / "bad.mp4")  # fmt: skip
    assert code == 2 and str(tmp_path / "bad.mp4") in err and "not a readable video" in err
    pose_query = iso.parent / Manifest.read(iso).rows[0].path
    code, _, err = run_cli(capsys, "retrieve", "--dictionary", tmp_path / "d.safetensors",
                           "--query", pose_query)  # fmt: skip
    assert code == 2 and "is a pose file but the dictionary was built from videos" in err

    code, _, err = run_cli(capsys, "evaluate", "finetune", "--checkpoint", video_run, "--data",
                           iso, "--out", tmp_path / "ft")  # fmt: skip
    assert code == 2 and "finetune-video" in err


def test_random_init_hiera_baseline_evaluates_videos(capsys, iso: Path, tmp_path: Path) -> None:
    code, stdout, err = run_cli(capsys, "evaluate", "knn", "--baseline", "random-init", "--model",
                                "hiera_test", "--data", iso, "--out", tmp_path / "k",
                                "--no-plots")  # fmt: skip
    assert code == 0, err
    got = json.loads((tmp_path / "k" / "metrics.json").read_text())
    assert got["pooling"]["mode"] == "avg" and got["pooling"]["videos"] == 6
