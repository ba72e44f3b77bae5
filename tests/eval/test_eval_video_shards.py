"""Evaluation of video encoders from video shard folders (``signssl shard --kind video``):
the same pooled window vectors and metrics as the video manifest they were written from;
one-line errors for pose shards with a video encoder and video shards with a pose one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from eval_toys import export_video_run
from typer.testing import CliRunner

from signssl.cli.main import app
from signssl.data import Manifest
from signssl.data.shard_write import write_shards
from signssl.data.shards import ShardIndex
from signssl.data.signrep import video_manifest
from signssl.data.video_shards import write_video_shards
from signssl.errors import ConfigError
from signssl.eval import run_options as opt
from signssl.eval.features import Features
from signssl.eval.pipeline import EncoderSpec, embed_manifest, run_evaluation
from signssl.eval.shard_data import VideoShardWindowReader
from signssl.eval.window_reader import ClipInput, WindowReader
from signssl.synth import generate_dataset

RAW = "raw-keypoints"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 synthetic clips (3 classes x 2 signers), 16 frames of 32 x 32 video: the pose
    manifest (``path`` = pose, ``video`` column)."""
    root = tmp_path_factory.mktemp("video_synth")
    return generate_dataset(root, classes=3, signers=2, reps=1, frames=16, video=True, size=32,
                            progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def videos(synth: Path) -> Path:
    """The video manifest of ``synth``; row 1 reads frames [2, 12) only."""
    m = video_manifest(Manifest.read(synth))
    m.rows[1] = replace(m.rows[1], start=2, end=12)
    return m.write(synth.parent / "videos.csv").source or synth.parent / "videos.csv"


@pytest.fixture(scope="module")
def shards(videos: Path) -> Path:
    out = videos.parent / "video_shards"
    write_video_shards(videos, out, shard_size=2, progress=False)
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported ``hiera_test`` video run (4-frame 32 x 32 clips)."""
    root = tmp_path_factory.mktemp("video_run")
    export_video_run(root)
    return root


def _metrics(protocol: opt.ProtocolOptions, spec: EncoderSpec, data: opt.EvalData,
             out: Path) -> dict[str, Any]:
    """``metrics.json`` of one evaluation, without the fields that name the input."""
    run_evaluation(protocol, spec, data, opt.EvalOutput(out, plots=False, progress=False))
    m = json.loads((out / "metrics.json").read_text())
    return {k: v for k, v in m.items() if k not in ("manifest", "test_manifest", "shards")}


def _same_features(a: Features, b: Features) -> None:
    np.testing.assert_allclose(a.features, b.features, rtol=0, atol=1e-6)  # (N, D)
    assert a.labels.tolist() == b.labels.tolist()
    assert a.paths.tolist() == b.paths.tolist()
    assert a.signers.tolist() == b.signers.tolist()


def test_shard_reader_gives_the_manifest_readers_rows_and_windows(videos: Path, shards: Path,
                                                                  run: Path) -> None:
    clip_input = ClipInput("video", (32, 32))
    folder = WindowReader(Manifest.read(videos), clip_input, window=4, stride=3, batch_size=2)
    sharded = VideoShardWindowReader(ShardIndex.read(shards), None, clip_input, 4, 3, 2)
    assert len(sharded) == len(folder) == 6
    for r in range(len(folder)):
        assert sharded.path(r) == folder.path(r)
        assert replace(sharded.row(r), path="v") == replace(folder.row(r), path="v")  # path: stored resolved
        assert sharded.fps(r) == folder.fps(r)
        want, got = list(folder.batches(r)), list(sharded.batches(r))  # each (b, 3, 4, 32, 32)
        assert len(got) == len(want) > 0
        assert all(torch.equal(a, b) for a, b in zip(want, got, strict=True))


@pytest.mark.parametrize("split", [None, "train", "test"])
def test_embedding_video_shards_equals_the_manifest(videos: Path, shards: Path, run: Path,
                                                    split: str | None) -> None:
    spec = EncoderSpec(checkpoint=str(run))
    from_manifest, _ = embed_manifest(spec, videos, split, progress=False)
    from_shards, report = embed_manifest(spec, shards, split, progress=False)
    _same_features(from_manifest, from_shards)
    assert len(from_shards) == (6 if split is None else 3)
    assert report.kept == len(from_shards) and report.num_problems == 0


@pytest.mark.parametrize("protocol", [opt.Retrieval(), opt.Knn(), opt.LinearProbe()],
                         ids=lambda p: p.protocol)
def test_video_run_evaluated_from_shards_equals_the_manifest(
    videos: Path, shards: Path, run: Path, tmp_path: Path, protocol: opt.ProtocolOptions
) -> None:
    spec = EncoderSpec(checkpoint=str(run))
    want = _metrics(protocol, spec, opt.EvalData(videos), tmp_path / "manifest")
    got = _metrics(protocol, spec, opt.EvalData(shards), tmp_path / "shards")
    assert got == want
    recorded = json.loads((tmp_path / "shards" / "metrics.json").read_text())
    assert recorded["shards"] == {str(shards): {"kept": 6}}


def _invoke(*args: object, ok: bool = True) -> Any:
    """``signssl ARGS`` through typer's runner; its exit code is 0 when ``ok``."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert (result.exit_code == 0) == ok, result.output
    return result


def _cli_metrics(out: Path, *args: object) -> dict[str, Any]:
    """``metrics.json`` of ``signssl evaluate ARGS --out OUT`` without the input's names."""
    _invoke("evaluate", *args, "--out", out, "--no-plots")
    return {k: v for k, v in json.loads((out / "metrics.json").read_text()).items()
            if k not in ("manifest", "shards")}  # fmt: skip


def test_cli_evaluate_embed_and_dictionary_from_video_shards(videos: Path, shards: Path, run: Path,
                                                             tmp_path: Path) -> None:
    args = ("retrieval", "--checkpoint", run, "--data")
    assert _cli_metrics(tmp_path / "s", *args, shards) == _cli_metrics(tmp_path / "m", *args, videos)
    assert json.loads((tmp_path / "s" / "metrics.json").read_text())["manifest"] == str(shards)
    _invoke("embed", "--checkpoint", run, "--data", shards, "-o", tmp_path / "f.npz")
    manifest = Manifest.read(videos)
    assert Features.load(tmp_path / "f.npz").paths.tolist() == [str(manifest.resolve(r)) for r in manifest]
    _invoke("dictionary", "build", "--checkpoint", run, "--data", shards, "--split", "train",
            "-o", tmp_path / "d.safetensors")  # fmt: skip
    assert (tmp_path / "d.safetensors").is_file()
    result = _invoke("evaluate", "knn", "--baseline", RAW, "--data", shards, "--out", tmp_path / "bad",
                     ok=False)  # fmt: skip
    assert isinstance(result.exception, ConfigError)
    assert not (tmp_path / "bad" / "metrics.json").exists()


def _one_line(e: pytest.ExceptionInfo[ConfigError], root: Path, *said: str) -> None:
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(root)), msg
    assert all(s in msg for s in said), msg


def test_pose_shards_with_a_video_encoder_are_refused_in_one_line(synth: Path, run: Path,
                                                                  tmp_path: Path) -> None:
    pose_shards = tmp_path / "pose_shards"
    write_shards(synth, pose_shards, progress=False)
    spec = EncoderSpec(checkpoint=str(run))
    out = opt.EvalOutput(tmp_path / "out", progress=False)
    for call in (lambda: run_evaluation(opt.Knn(), spec, opt.EvalData(pose_shards), out),
                 lambda: embed_manifest(spec, pose_shards, progress=False)):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            call()
        _one_line(e, pose_shards, "holds pose clips only", "--kind video")


def test_video_shards_with_a_pose_encoder_are_refused_in_one_line(shards: Path, synth: Path,
                                                                  tmp_path: Path) -> None:
    raw = EncoderSpec(baseline=RAW)
    out = opt.EvalOutput(tmp_path / "out", progress=False)
    calls = (lambda: run_evaluation(opt.Retrieval(), raw, opt.EvalData(shards), out),
             lambda: run_evaluation(opt.Retrieval(), raw, opt.EvalData(synth, test_data=shards), out),
             lambda: run_evaluation(opt.Retrieval(), raw, opt.EvalData(shards), out,
                                    opt.Embedding(pooling="avg")),
             lambda: run_evaluation(opt.Retrieval(), EncoderSpec(baseline="dtw"), opt.EvalData(shards), out),
             lambda: embed_manifest(raw, shards, progress=False))  # fmt: skip
    for call in calls:
        with pytest.raises(ConfigError) as e:
            call()
        _one_line(e, shards, "reads poses", "signssl shard --data MANIFEST")
    assert not (tmp_path / "out" / "metrics.json").exists()
