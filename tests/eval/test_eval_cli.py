"""``signssl embed | evaluate | dictionary build | retrieve`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from eval_toys import TinyEncoder, run_cli, synthetic_sequence

from signssl.data import Manifest, ManifestRow
from signssl.eval.features import Features
from signssl.eval.retrieval import retrieval_eval
from signssl.io import read_pose, write_pose
from signssl.models.baselines import RawHandKeypoints

CLASSES = ["g_0", "g_1", "g_2"]


run = run_cli


def _write_set(root: Path, with_split: bool = True, per_class: int = 6) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for c, lab in enumerate(CLASSES):
        for i in range(per_class):
            path = write_pose(synthetic_sequence(c, rng, frames=6 + i), root / lab / f"{i}.npz")
            split = ("test" if i % 3 == 0 else "train") if with_split else None
            rows.append(ManifestRow(str(path), label=lab, split=split))
    Manifest(rows).write(root / "manifest.csv")
    return root / "manifest.csv"


@pytest.fixture
def dataset_csv(tmp_path: Path) -> Path:
    return _write_set(tmp_path / "set")


def test_embed_writes_features_in_manifest_order(tmp_path, capsys, dataset_csv) -> None:
    out = tmp_path / "feats.npz"
    code, stdout, err = run(capsys, "embed", "--baseline", "raw-hand-keypoints", "--data",
                            str(dataset_csv), "-o", str(out))
    assert code == 0, err
    assert "18 x 80" in stdout
    with np.load(out, allow_pickle=False) as z:
        feats, labels, paths = z["features"], z["labels"], z["paths"]
    assert feats.shape == (18, 80) and feats.dtype == np.float32
    manifest = Manifest.read(dataset_csv)
    assert paths.tolist() == [str(manifest.resolve(r)) for r in manifest]
    assert labels.tolist() == [r.label for r in manifest]
    # wrist-centred, hand-scaled keypoints ignore the shoulder normalisation: the raw file
    # gives the same descriptor
    enc = RawHandKeypoints()
    for i in (0, 7, 17):
        seq = read_pose(paths[i])
        ref = enc.embed(torch.from_numpy(seq.xyz)[None]).numpy()[0]
        np.testing.assert_allclose(feats[i], ref, rtol=1e-4, atol=1e-5)


def test_evaluate_retrieval_with_splits_matches_the_library(tmp_path, capsys, dataset_csv) -> None:
    out = tmp_path / "report"
    code, stdout, err = run(capsys, "evaluate", "retrieval", "--baseline", "raw-hand-keypoints",
                            "--data", str(dataset_csv), "--out", str(out))
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["n_queries"] == 6 and m["n_dictionary"] == 12
    run(capsys, "embed", "--baseline", "raw-hand-keypoints", "--data", str(dataset_csv), "-o",
        str(tmp_path / "f.npz"))
    f = Features.load(tmp_path / "f.npz")
    split = np.array([r.split for r in Manifest.read(dataset_csv)])
    ref = retrieval_eval(f.subset(split == "train"), f.subset(split == "test")).metrics
    for key in ("top1_per_instance", "top5_per_class", "dcg", "mrr", "recall@1", "recall@10"):
        assert m[key] == pytest.approx(ref[key]), key
    for name in ("report.md", "embedding_map.png", "per_class_accuracy.png", "retrieval_examples.png",
                 "inertia.png"):
        assert (out / name).is_file(), name
    assert "dcg" in stdout and "per-instance" in (out / "report.md").read_text()


def test_evaluate_without_split_column(tmp_path, capsys) -> None:
    csv = _write_set(tmp_path / "nosplit", with_split=False)
    code, _, err = run(capsys, "evaluate", "knn", "--baseline", "raw-keypoints", "--k", "3",
                       "--data", str(csv), "--out", str(tmp_path / "knn"), "--no-plots")
    assert code == 0, err
    m = json.loads((tmp_path / "knn" / "metrics.json").read_text())
    assert m["n_test"] == 18 and m["leave_one_out"] == 1
    assert m["config"]["split"].startswith("leave-one-out")
    code, _, err = run(capsys, "evaluate", "linear", "--baseline", "raw-hand-angles", "--seeds", "2",
                       "--data", str(csv), "--out", str(tmp_path / "lin"), "--no-plots")
    assert code == 0, err
    m = json.loads((tmp_path / "lin" / "metrics.json").read_text())
    assert len(m["per_seed"]) == 2 and "top1_per_instance" in m["ci95"]
    assert m["n_test"] == 6  # 25 % hold-out of 6 per class, rounded: 2 per class
    assert not list((tmp_path / "lin").glob("*.png"))


def test_transfer_and_label_fraction(tmp_path, capsys, dataset_csv) -> None:
    other = _write_set(tmp_path / "other", with_split=False, per_class=4)
    code, _, err = run(capsys, "evaluate", "retrieval", "--baseline", "raw-hand-keypoints",
                       "--data", str(dataset_csv), "--test-data", str(other),
                       "--out", str(tmp_path / "t"), "--no-plots")
    assert code == 0, err
    m = json.loads((tmp_path / "t" / "metrics.json").read_text())
    assert m["n_dictionary"] == 12 and m["n_queries"] == 12
    code, _, err = run(capsys, "evaluate", "retrieval", "--baseline", "raw-hand-keypoints",
                       "--data", str(dataset_csv), "--label-fraction", "0.5", "--seeds", "2",
                       "--out", str(tmp_path / "f"), "--no-plots")
    assert code == 0, err
    m = json.loads((tmp_path / "f" / "metrics.json").read_text())
    assert m["n_dictionary"] == 6  # half of the 4 training rows per class


def test_dictionary_build_and_retrieve(tmp_path, capsys, dataset_csv) -> None:
    dic = tmp_path / "d.safetensors"
    code, out, err = run(capsys, "dictionary", "build", "--baseline", "raw-hand-keypoints",
                         "--data", str(dataset_csv), "--split", "train", "-o", str(dic))
    assert code == 0, err
    assert "12 entries, 3 labels" in out
    query = Manifest.read(dataset_csv)
    train_row = next(r for r in query if r.split == "train" and r.label == "g_2")
    code, out, err = run(capsys, "retrieve", "--dictionary", str(dic), "--query",
                         str(query.resolve(train_row)), "-k", "2")
    assert code == 0, err
    lines = [ln for ln in out.splitlines() if "│" in ln and "g_" in ln]
    assert "g_2" in lines[0] and "1.0000" in lines[0]  # a dictionary entry finds itself
    feats = tmp_path / "q.npz"
    run(capsys, "embed", "--baseline", "raw-hand-keypoints", "--data", str(dataset_csv),
        "--split", "test", "-o", str(feats))
    code, out, err = run(capsys, "retrieve", "--dictionary", str(dic), "--query", str(feats))
    assert code == 0, err
    assert "6 queries" in out


def test_retrieve_says_what_is_wrong_with_the_query_and_what_to_run(
    tmp_path, capsys, dataset_csv
) -> None:
    """A video query against a pose dictionary names the extract-poses command; a missing
    query and a manifest given as the query are named too (not "none of the samples")."""
    dic = tmp_path / "d.safetensors"
    code, _, err = run(capsys, "dictionary", "build", "--baseline", "raw-hand-keypoints",
                       "--data", str(dataset_csv), "--split", "train", "-o", str(dic))
    assert code == 0, err
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 64)
    for query, words in [
        (video, ["is a video but the dictionary was built from poses",
                 f"signssl extract-poses {video} POSES", "POSES/clip.pose"]),
        (tmp_path / "gone.pose", ["query does not exist"]),
        (dataset_csv, ["is a manifest, not one query", "signssl embed"]),
    ]:
        code, _, err = run(capsys, "retrieve", "--dictionary", str(dic), "--query", str(query))
        text = " ".join(err.split())
        assert code == 2 and err.count("\n") == 1 and str(query) in text, err
        assert "none of the samples" not in text
        for w in words:
            assert w in text, (w, err)


def test_checkpoint_encoder(tmp_path, capsys, dataset_csv, tiny_model) -> None:
    from signssl.store.model import export_model

    torch.manual_seed(0)
    enc = TinyEncoder(out_dim=6)
    export_model(enc, tmp_path / "run" / "model", tiny_model, {"out_dim": 6}, layout="masa49",
                 dims=2, normalize="shoulders", max_frames=64)
    code, _, err = run(capsys, "embed", "--checkpoint", str(tmp_path / "run"), "--data",
                       str(dataset_csv), "-o", str(tmp_path / "f.npz"))
    assert code == 0, err
    f = Features.load(tmp_path / "f.npz")
    assert f.features.shape == (18, 6)
    assert f.info["encoder"]["checkpoint"] == str((tmp_path / "run").resolve())


def test_finetune_command_uses_masa_recipe(tmp_path, capsys, dataset_csv) -> None:
    from signssl.cli.eval_cmds import step_milestones

    assert step_milestones(60, 20) == [pytest.approx(1 / 3), pytest.approx(2 / 3)]
    assert step_milestones(10, 20) == [] and step_milestones(50, 20) == [0.4, 0.8]
    code, _, err = run(capsys, "finetune", "--baseline", "raw-keypoints", "--epochs", "3",
                       "--step-every", "1", "--data", str(dataset_csv),
                       "--out", str(tmp_path / "ft"), "--no-plots")
    assert code == 0, err
    m = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    cfg = m["config"]
    assert (cfg["optimizer"], cfg["schedule"], cfg["train_crop"], cfg["lr"]) == ("sgd", "step", "random", 0.01)
    assert cfg["step_milestones"] == [pytest.approx(1 / 3), pytest.approx(2 / 3)]
    assert m["n_test"] == 6 and (tmp_path / "ft" / "scores.npz").is_file()
    code, _, err = run(capsys, "finetune", "--baseline", "raw-keypoints", "--step-every", "0",
                       "--data", str(dataset_csv), "--out", str(tmp_path / "bad"))
    assert code != 0 and "--step-every" in err


def test_finetune_command(tmp_path, capsys, dataset_csv) -> None:
    code, _, err = run(capsys, "evaluate", "finetune", "--baseline", "raw-hand-keypoints",
                       "--epochs", "2", "--data", str(dataset_csv), "--out", str(tmp_path / "ft"),
                       "--no-plots")
    assert code == 0, err
    m = json.loads((tmp_path / "ft" / "metrics.json").read_text())
    assert m["protocol"] == "finetune" and m["n_test"] == 6 and m["n_train"] == 12
    # MASA's recipe switches run, and the class scores are written for late fusion
    code, _, err = run(capsys, "evaluate", "finetune", "--baseline", "raw-keypoints",
                       "--epochs", "2", "--optimizer", "sgd", "--schedule", "step",
                       "--train-crop", "random", "--data", str(dataset_csv),
                       "--out", str(tmp_path / "ft2"), "--no-plots")
    assert code == 0, err
    from signssl.eval.fusion import ClassScores, fuse, fusion_eval

    a, b = ClassScores.load(tmp_path / "ft" / "scores.npz"), ClassScores.load(tmp_path / "ft2" / "scores.npz")
    assert a.scores.shape == (6, len(a.classes)) and (a.labels != "").all()
    code, out, err = run(capsys, "fuse", str(tmp_path / "ft" / "scores.npz"),
                         str(tmp_path / "ft2" / "scores.npz"), "--weight", "0.5",
                         "-o", str(tmp_path / "fused.npz"))
    assert code == 0, err
    # by hand: softmax(a) + 0.5 softmax(b), rows matched by path
    sa = np.exp(a.scores - a.scores.max(1, keepdims=True))
    sa /= sa.sum(1, keepdims=True)
    order = [list(b.paths).index(p) for p in a.paths]
    cols = [list(b.classes).index(c) for c in a.classes]
    sb = b.scores[order][:, cols]
    sb = np.exp(sb - sb.max(1, keepdims=True))
    sb /= sb.sum(1, keepdims=True)
    np.testing.assert_allclose(ClassScores.load(tmp_path / "fused.npz").scores, sa + 0.5 * sb, rtol=1e-5)
    top1 = fusion_eval(fuse(a, b, 0.5)).metrics["top1_per_instance"]
    assert f"{top1:.3f}" in out


@pytest.mark.parametrize("argv, message", [
    (["embed", "--baseline", "raw-keypoints", "--checkpoint", "x", "-o", "f.npz"], "exactly one"),
    (["embed", "--baseline", "raw-face", "-o", "f.npz"], "unknown baseline"),
    (["evaluate", "knn", "--baseline", "random-init"], "--model"),
    (["evaluate", "knn", "--baseline", "raw-keypoints", "--train-split", "dev"], "splits"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, dataset_csv, argv, message) -> None:
    argv = [*argv, "--data", str(dataset_csv)]
    if argv[0] == "evaluate":
        argv += ["--out", str(tmp_path / "o")]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_single_seed_metrics_json_is_strict_and_the_summary_names_only_written_files(
        tmp_path, capsys, dataset_csv) -> None:
    def reject(token: str) -> object:
        raise ValueError(f"metrics.json holds {token}")

    out = tmp_path / "lin"
    code, stdout, err = run(capsys, "evaluate", "linear", "--baseline", "raw-hand-angles",
                            "--data", str(dataset_csv), "--out", str(out), "--no-plots")
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text(), parse_constant=reject)
    assert m["ci95"]["top1_per_instance"] is None  # one seed: the spread is unknown
    assert 0.0 <= m["top1_per_instance"] <= 1.0
    flat = "".join(stdout.split())  # the console wraps long lines at its width
    assert "".join(f"wrote {out}/metrics.json, report.md and scores.npz".split()) in flat
    assert "figure" not in stdout
    code, stdout, err = run(capsys, "evaluate", "retrieval", "--baseline", "raw-hand-angles",
                            "--data", str(dataset_csv), "--out", str(tmp_path / "ret"))
    assert code == 0, err
    figures = len(list((tmp_path / "ret").glob("*.png")))
    assert figures >= 3 and f"and{figures}figures" in "".join(stdout.split())
