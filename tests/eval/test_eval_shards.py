"""Evaluation from pose shard folders (``signssl shard``): the same features and metrics as
the folder reader on the manifest they were written from; one-line errors otherwise."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eval_toys import export_video_run
from typer.testing import CliRunner

from signssl.cli.main import app
from signssl.data import Manifest
from signssl.data.shard_write import write_shards
from signssl.errors import ConfigError
from signssl.eval.features import Features
from signssl.eval.parts import embed_part
from signssl.eval.per_file import embed_per_file
from signssl.eval.pipeline import (
    EncoderSpec,
    embed_manifest,
    open_dataset,
    pose_lookup,
    run_evaluation,
)
from signssl.eval.run_options import (
    Embedding,
    EvalData,
    EvalOutput,
    Finetune,
    Knn,
    LinearProbe,
    ProtocolOptions,
    Retrieval,
)
from signssl.synth import generate_dataset

RAW = "raw-keypoints"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 synthetic clips (3 classes x 2 signers x 2 reps), train / test rows interleaved."""
    root = tmp_path_factory.mktemp("synth")
    return generate_dataset(root, classes=3, signers=2, reps=2, frames=16, progress=False)


@pytest.fixture(scope="module")
def shards(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shards") / "s"
    write_shards(corpus, out, shard_size=4, progress=False)  # the encoders' reading options
    return out


def _metrics(protocol: ProtocolOptions, spec: EncoderSpec, data: EvalData,
             out: Path) -> dict[str, Any]:
    """``metrics.json`` of one evaluation, without the fields that name the input."""
    run_evaluation(protocol, spec, data, EvalOutput(out, plots=False, progress=False))
    m = json.loads((out / "metrics.json").read_text())
    return {k: v for k, v in m.items() if k not in ("manifest", "test_manifest", "shards")}


def _pooled_metrics(spec: EncoderSpec, data: Path, out: Path, pooled: Embedding) -> dict[str, Any]:
    run_evaluation(Retrieval(), spec, EvalData(data), EvalOutput(out, plots=False, progress=False),
                   pooled)
    m = json.loads((out / "metrics.json").read_text())
    return {k: v for k, v in m.items() if k not in ("manifest", "test_manifest", "shards")}


def _same_features(a: Features, b: Features) -> None:
    np.testing.assert_array_equal(a.features, b.features)
    assert a.labels.tolist() == b.labels.tolist()
    assert a.paths.tolist() == b.paths.tolist()
    assert a.signers.tolist() == b.signers.tolist()


@pytest.mark.parametrize("split", [None, "train", "test"])
def test_embedding_shards_equals_the_manifest_row_for_row(corpus: Path, shards: Path,
                                                          split: str | None) -> None:
    spec = EncoderSpec(baseline=RAW)
    from_manifest, _ = embed_manifest(spec, corpus, split, progress=False)
    from_shards, report = embed_manifest(spec, shards, split, progress=False)
    _same_features(from_manifest, from_shards)  # all splits: the manifest's order, not the shards'
    assert report.kept == len(from_shards) and report.num_problems == 0
    part, _ = embed_part(spec, shards, (1, 1), split, progress=False)
    _same_features(from_manifest, part)


def test_report_pose_lookup_reads_shard_clips(corpus: Path, shards: Path) -> None:
    spec = EncoderSpec(baseline=RAW)
    folder, _ = open_dataset(corpus, spec, "test", progress=False)
    clips, _ = open_dataset(shards, spec, "test", progress=False)
    from_folder, from_shards = pose_lookup(folder), pose_lookup(clips)
    assert len(clips.paths()) == 6
    for path in clips.paths():
        (xyz_a, conf_a, bones_a), (xyz_b, conf_b, bones_b) = from_folder(path), from_shards(path)
        np.testing.assert_array_equal(xyz_a, xyz_b)  # (T, J, C)
        np.testing.assert_array_equal(conf_a, conf_b)  # (T, J)
        assert bones_a == bones_b
    assert from_shards("not/a/clip.pose") is None


def test_raw_baseline_retrieval_from_shards_equals_the_manifest(corpus: Path, shards: Path,
                                                                tmp_path: Path) -> None:
    spec = EncoderSpec(baseline=RAW)
    want = _metrics(Retrieval(), spec, EvalData(corpus), tmp_path / "manifest")
    got = _metrics(Retrieval(), spec, EvalData(shards), tmp_path / "shards")
    assert got == want
    assert got["n_queries"] == 6 and got["n_dictionary"] == 6
    recorded = json.loads((tmp_path / "shards" / "metrics.json").read_text())
    assert recorded["shards"] == {str(shards): {"kept": 12}}


@pytest.mark.parametrize("protocol", [Retrieval(), Knn(), LinearProbe()], ids=lambda p: p.protocol)
def test_random_init_model_from_shards_equals_the_manifest(
    corpus: Path, shards: Path, tmp_path: Path, tiny_model: str, protocol: ProtocolOptions,
) -> None:
    spec = EncoderSpec(baseline="random-init", model=tiny_model, seed=3)
    data = {"seeds": 2}
    want = _metrics(protocol, spec, EvalData(corpus, **data), tmp_path / "manifest")
    got = _metrics(protocol, spec, EvalData(shards, **data), tmp_path / "shards")
    assert got == want


def test_transfer_and_dtw_read_shards(corpus: Path, shards: Path, tmp_path: Path) -> None:
    raw = EncoderSpec(baseline=RAW)
    want = _metrics(Retrieval(), raw, EvalData(corpus, test_data=corpus), tmp_path / "m")
    got = _metrics(Retrieval(), raw, EvalData(corpus, test_data=shards), tmp_path / "s")
    assert got == want and "transfer" in got["config"]["data"]
    dtw = EncoderSpec(baseline="dtw")
    assert (_metrics(Retrieval(), dtw, EvalData(shards), tmp_path / "ds")
            == _metrics(Retrieval(), dtw, EvalData(corpus), tmp_path / "dm"))


def test_finetune_from_shards_equals_the_manifest(corpus: Path, shards: Path, tmp_path: Path,
                                                  tiny_model: str) -> None:
    spec = EncoderSpec(baseline="random-init", model=tiny_model)
    protocol = Finetune(epochs=1, batch_size=4)
    want = _metrics(protocol, spec, EvalData(corpus), tmp_path / "manifest")
    got = _metrics(protocol, spec, EvalData(shards), tmp_path / "shards")
    assert got == want


def test_shards_written_with_other_options_are_refused_in_one_line(shards: Path,
                                                                   tmp_path: Path) -> None:
    spec = EncoderSpec(baseline=RAW, dims=3, normalize="none")
    with pytest.raises(ConfigError) as e:
        run_evaluation(Retrieval(), spec, EvalData(shards), EvalOutput(tmp_path, progress=False))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(shards))
    assert "dims=2 (the encoder reads 3)" in msg
    assert "normalize='auto' (the encoder reads 'none')" in msg
    assert "signssl shard --data" in msg and "--dims 3 --normalize none" in msg


def test_shards_need_the_named_splits(corpus: Path, tmp_path: Path) -> None:
    train_only = tmp_path / "train_only"
    write_shards(corpus, train_only, split="train", progress=False)
    with pytest.raises(ConfigError, match=r"splits \['train'\] but not \['test'\]"):
        run_evaluation(Retrieval(), EncoderSpec(baseline=RAW), EvalData(train_only),
                       EvalOutput(tmp_path / "out", progress=False))


def test_shards_without_split_names_are_evaluated_leave_one_out(corpus: Path,
                                                                tmp_path: Path) -> None:
    m = Manifest.read(corpus)
    no_split = Manifest([replace(r, split=None) for r in m], m.root).write(tmp_path / "all.csv")
    shards = tmp_path / "all_shards"
    write_shards(no_split.source, shards, shard_size=5, progress=False)
    spec = EncoderSpec(baseline=RAW)
    want = _metrics(Retrieval(), spec, EvalData(no_split.source), tmp_path / "m")
    got = _metrics(Retrieval(), spec, EvalData(shards), tmp_path / "s")
    assert got == want and got["leave_one_out"] == 1 and got["n_queries"] == 12


def test_embed_per_file_and_part_need_the_manifest(shards: Path, tmp_path: Path) -> None:
    spec = EncoderSpec(baseline=RAW)
    with pytest.raises(ConfigError, match="--part splits a manifest's rows"):
        embed_part(spec, shards, (1, 2), progress=False)
    with pytest.raises(ConfigError, match="--per-file mirrors the manifest's paths"):
        embed_per_file(spec, shards, tmp_path / "per_file", progress=False)


def test_a_video_encoder_needs_video_shards(shards: Path, tmp_path: Path) -> None:
    video = EncoderSpec(checkpoint=str(export_video_run(tmp_path / "run")))
    out = EvalOutput(tmp_path / "out", progress=False)
    with pytest.raises(ConfigError, match="holds pose clips only; the video encoder") as e:
        run_evaluation(Retrieval(), video, EvalData(shards), out)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="holds pose clips only; the video encoder"):
        embed_manifest(video, shards, progress=False)


@pytest.mark.parametrize("split", [None, "test"])
def test_pooled_windows_from_shards_equal_the_manifest(corpus: Path, shards: Path,
                                                       split: str | None) -> None:
    """``--pooling``: the windows are cut from the stored clips, as from the files."""
    spec = EncoderSpec(baseline="random-init", model="pose_transformer_test")
    kw: dict[str, Any] = dict(pooling="avg", window=8, stride=4, progress=False)
    from_manifest, _ = embed_manifest(spec, corpus, split, **kw)
    from_shards, _ = embed_manifest(spec, shards, split, **kw)
    np.testing.assert_allclose(from_shards.features, from_manifest.features, atol=1e-6)
    assert from_shards.labels.tolist() == from_manifest.labels.tolist()
    assert from_shards.paths.tolist() == from_manifest.paths.tolist()
    assert from_shards.signers.tolist() == from_manifest.signers.tolist()


def test_pooled_retrieval_from_shards_equals_the_manifest(corpus: Path, shards: Path,
                                                          tmp_path: Path) -> None:
    spec = EncoderSpec(baseline="random-init", model="pose_transformer_test")
    pooled = Embedding(pooling="avg", window=8, stride=4)
    got, want = (_pooled_metrics(spec, data, tmp_path / name, pooled)
                 for name, data in (("s", shards), ("m", corpus)))
    assert got == want and got["n_queries"] > 0


def test_cli_evaluate_embed_and_dictionary_from_shards(corpus: Path, shards: Path,
                                                       tmp_path: Path) -> None:
    runner = CliRunner()

    def invoke(*args: object) -> Any:
        return runner.invoke(app, [str(a) for a in args])

    for name, data in (("m", corpus), ("s", shards)):
        result = invoke("evaluate", "knn", "--baseline", RAW, "--data", data, "--out",
                        tmp_path / name, "--no-plots")
        assert result.exit_code == 0, result.output
    m, s = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("m", "s"))
    assert s["manifest"] == str(shards)
    assert {k: v for k, v in s.items() if k not in ("manifest", "shards")} == {
        k: v for k, v in m.items() if k != "manifest"}
    result = invoke("embed", "--baseline", RAW, "--data", shards, "-o", tmp_path / "f.npz")
    assert result.exit_code == 0, result.output
    paths = Features.load(tmp_path / "f.npz").paths.tolist()
    manifest = Manifest.read(corpus)
    assert paths == [str(manifest.resolve(r)) for r in manifest]
    result = invoke("dictionary", "build", "--baseline", RAW, "--data", shards, "--split", "train",
                    "-o", tmp_path / "d.safetensors")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d.safetensors").is_file()
    result = invoke("evaluate", "retrieval", "--baseline", RAW, "--dims", "3", "--data", shards,
                    "--out", tmp_path / "bad")
    assert result.exit_code != 0 and isinstance(result.exception, ConfigError)
    assert not (tmp_path / "bad" / "metrics.json").exists()
