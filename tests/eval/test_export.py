"""``signssl export``: a run as a portable folder that loads anywhere and checks its hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from eval_toys import run_cli
from safetensors.torch import load_file

from signssl.errors import DataError
from signssl.store.model import load_model, resolve_model_files

FLOAT_METRICS = ("top1_per_instance", "top1_per_class", "top5_per_instance", "mrr", "dcg",
                 "recall@1", "recall@5", "n_queries", "n_dictionary")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(manifest, run)``: a tiny pose model pretrained for one step on synthetic clips."""
    from signssl.engine.config import load_config
    from signssl.engine.pretraining import pretrain
    from signssl.synth import generate_dataset

    root = tmp_path_factory.mktemp("export")
    manifest = generate_dataset(root / "data", 3, 2, 1, 16, seed=0, progress=False)
    run = root / "run"
    pretrain(load_config("simclr", "tiny", ["data.batch_size=2", "trainer.max_steps=1"]),
             manifest, run, progress=False)
    return Path(manifest), run


@pytest.fixture()
def exported(trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "shared" / "my-model"
    code, stdout, err = run_cli(capsys, "export", trained[1], "--out", out)
    assert code == 0, err
    assert "sha256" in stdout
    return out


def _embed(capsys: pytest.CaptureFixture[str], checkpoint: Path, manifest: Path, out: Path) -> np.ndarray:
    with np.load(_write_npz(capsys, checkpoint, manifest, out)) as f:
        return f["features"]


def test_folder_has_the_hub_layout(exported: Path, trained: tuple[Path, Path]) -> None:
    """config.json + model.safetensors + README.md at the top level, nothing else."""
    assert sorted(p.name for p in exported.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert resolve_model_files(exported) == (exported / "model.safetensors", exported / "config.json")
    config = json.loads((exported / "config.json").read_text())
    run_config = json.loads((trained[1] / "model" / "config.json").read_text())
    assert {k: v for k, v in config.items() if k != "sha256"} == run_config
    plain = load_file(str(exported / "model.safetensors"))  # a plain safetensors reader
    want = load_file(str(trained[1] / "model" / "model.safetensors"))
    assert plain.keys() == want.keys() and all(torch.equal(plain[k], want[k]) for k in want)


def test_card_and_config_record_the_files_sha256(exported: Path) -> None:
    digest = hashlib.sha256((exported / "model.safetensors").read_bytes()).hexdigest()
    assert json.loads((exported / "config.json").read_text())["sha256"] == {"model.safetensors": digest}
    card = (exported / "README.md").read_text()
    front = card.split("---")[1]
    assert "library_name: signssl" in front and "license:" in front and "- simclr" in front
    assert digest in card
    for fact in ("pose_transformer_tiny", "masa49", "49 joints", "hand_shape", "normalisation",
                 "steps: 1", "## Training data"):
        assert fact in card, fact


def test_loads_from_another_directory_with_the_runs_embeddings(
    exported: Path, trained: tuple[Path, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    manifest, run = trained
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    import signssl

    model = signssl.load_model(exported.resolve())
    reference = load_model(run)
    for (k, a), (k2, b) in zip(model.state_dict().items(), reference.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b), k
    ours = _embed(capsys, exported.resolve(), manifest, elsewhere / "a.npz")
    theirs = _embed(capsys, run, manifest, elsewhere / "b.npz")
    assert ours.shape[0] == 6 and np.array_equal(ours, theirs)


def test_retrieval_metrics_equal_the_runs(
    exported: Path, trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    manifest, run = trained
    metrics = []
    for name, checkpoint in (("a", exported), ("b", run)):
        code, _, err = run_cli(capsys, "evaluate", "retrieval", "--checkpoint", checkpoint,
                               "--data", manifest, "-o", tmp_path / name, "--no-plots")
        assert code == 0, err
        metrics.append(json.loads((tmp_path / name / "metrics.json").read_text()))
    assert [{k: m[k] for k in FLOAT_METRICS} for m in metrics][0] == {k: metrics[1][k] for k in FLOAT_METRICS}
    assert metrics[0]["per_seed"] == metrics[1]["per_seed"]


def test_a_flipped_byte_is_a_hash_error(
    exported: Path, trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    weights = exported / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF  # inside the last tensor: safetensors alone would load it silently
    weights.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"model\.safetensors: sha256 .* differs .* damaged or were replaced"):
        load_model(exported)
    code, out, err = run_cli(capsys, "embed", "--checkpoint", exported, "--data", trained[0],
                             "-o", tmp_path / "f.npz")
    message = (out + err).strip()
    assert code == 2 and "sha256" in message and "Traceback" not in message
    assert len(message.splitlines()) == 1 and str(weights) in " ".join(message.split())


def test_existing_folder_is_refused_without_force(
    exported: Path, trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str],
) -> None:
    (exported / "notes.txt").write_text("mine")
    code, out, err = run_cli(capsys, "export", trained[1], "--out", exported)
    assert code == 2 and "exists and is not empty" in err and "--force" in err
    assert (exported / "notes.txt").is_file()
    code, out, err = run_cli(capsys, "export", trained[1], "--out", exported, "--force")
    assert code == 0, err
    assert sorted(p.name for p in exported.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")]  # no temporaries left


@pytest.mark.parametrize("what, message", [
    ("missing", "does not exist"),
    ("data", "not a pretraining run (no config.yaml)"),
    ("inside", "overlaps the run"),
])
def test_bad_runs_are_one_line_errors(
    what: str, message: str, trained: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    manifest, run = trained
    source = {"missing": tmp_path / "nope", "data": manifest.parent, "inside": run}[what]
    out = run / "export" if what == "inside" else tmp_path / "out"
    code, _, err = run_cli(capsys, "export", source, "--out", out)
    assert code == 2 and message in " ".join(err.split()) and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_unfinished_run_names_its_checkpoint(trained: tuple[Path, Path], tmp_path: Path) -> None:
    from signssl.store.export import export_run

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text((trained[1] / "config.yaml").read_text())
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    with pytest.raises(DataError, match="training has not finished"):
        export_run(run, tmp_path / "out")


def test_card_lists_validation_metrics_and_data_sources(trained: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    from signssl.store.export import export_run

    run = tmp_path / "run"
    shutil.copytree(trained[1], run)
    summary = json.loads((run / "summary.json").read_text())
    summary["metrics"]["val/mrr"] = 0.625
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "run.json").write_text(json.dumps({"data": str(trained[0]), "method": "simclr"}))
    result = export_run(run, tmp_path / "out")
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| val/mrr (last validation) | 0.6250 |" in card
    assert f"manifest `{trained[0].name}`" in card and str(trained[0].parent) not in card
    assert result.sha256 in card and result.parameters > 0


def test_embed_per_file_mirrors_the_manifest_and_resumes(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    from signssl.data import Manifest

    manifest, run = trained
    out = tmp_path / "per-file"
    code, stdout, err = run_cli(capsys, "embed", "--checkpoint", run, "--data", manifest, "--per-file", out)
    assert code == 0, err
    assert "6 new .npy, 0 kept" in " ".join(stdout.split())
    with np.load(_write_npz(capsys, run, manifest, tmp_path / "all.npz")) as f:
        want = {Path(p).resolve(): (v, label) for p, v, label in zip(f["paths"], f["features"], f["labels"], strict=True)}
    source = Manifest.read(manifest)
    listed = Manifest.read(out / "manifest.csv")
    assert len(listed) == len(source) == 6
    for row, entry in zip(source, listed, strict=True):
        npy = out / Path(row.path).with_suffix(".npy")
        assert listed.resolve(entry) == npy.resolve() and entry.label == row.label and entry.split == row.split
        vector, label = want[source.resolve(row)]
        assert np.array_equal(np.load(npy), vector) and label == row.label
    first = out / Path(source.rows[0].path).with_suffix(".npy")
    kept = out / Path(source.rows[1].path).with_suffix(".npy")
    before = (np.load(first), kept.stat().st_mtime_ns)
    first.unlink()
    code, stdout, err = run_cli(capsys, "embed", "--checkpoint", run, "--data", manifest, "--per-file", out)
    assert code == 0 and "1 new .npy, 5 kept" in " ".join(stdout.split()), err
    # the clip is re-embedded in a batch of one instead of six: equal up to float32 rounding
    # (matrix products of a different batch size may round differently)
    np.testing.assert_allclose(np.load(first), before[0], rtol=1e-5, atol=1e-6)
    assert kept.stat().st_mtime_ns == before[1]
    code, _, err = run_cli(capsys, "embed", "--baseline", "raw-keypoints", "--data", manifest, "--per-file", out)
    assert code == 2 and "another encoder" in err


def _write_npz(capsys: pytest.CaptureFixture[str], checkpoint: Path, manifest: Path, out: Path) -> Path:
    code, _, err = run_cli(capsys, "embed", "--checkpoint", checkpoint, "--data", manifest, "-o", out)
    assert code == 0, err
    return out


@pytest.mark.parametrize("options", [[], ["--out", "f.npz", "--per-file", "d"]])
def test_embed_takes_out_or_per_file(options: list[str], trained: tuple[Path, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "embed", "--checkpoint", trained[1], "--data", trained[0], *options)
    assert code == 2 and "either --out FEATURES.npz or --per-file DIR" in err
