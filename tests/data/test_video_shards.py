"""Video shards (signssl.data.video_shards): `signssl shard` of a video manifest, read back as
PairClipDataset's samples, bad videos skipped and counted, one-line option errors, and
`signssl pretrain --method mae --data SHARDS` end to end."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from signssl.cli.main import app
from signssl.data import Manifest
from signssl.data.priors import precompute_priors
from signssl.data.shards import INDEX_NAME, ShardDataset, verify_shards
from signssl.data.signrep import PairClipDataset, collate_pairs, video_manifest
from signssl.data.video_shards import VideoShardDataset, manifest_kind, write_video_shards
from signssl.errors import ConfigError

FRAMES, SIZE = 16, 32
CROP = {"clip_len": 8, "size": (16, 16), "crops": 2}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A video manifest (``path`` = video, ``pose_path``) of 4 synthetic 16-frame 32 px
    videos (train 2, test 2), plus a train row whose .mp4 is not a video."""
    from signssl.synth import generate_dataset

    root = tmp_path_factory.mktemp("video_synth")
    synth = generate_dataset(root, 2, 2, 1, FRAMES, video=True, size=SIZE, seed=0, progress=False)
    videos = video_manifest(Manifest.read(synth))
    (root / "videos" / "broken.mp4").write_bytes(b"not a video" * 20)
    videos.rows.append(replace(videos.rows[0], path="videos/broken.mp4", split="train"))
    return videos.write(root / "videos.csv").source or root / "videos.csv"


@pytest.fixture(scope="module")
def priors_dir(corpus: Path) -> Path:
    out = corpus.parent / "priors"
    precompute_priors(corpus.parent / "manifest.csv", out, progress=False)
    return out


@pytest.fixture(scope="module")
def shards(corpus: Path, priors_dir: Path) -> Path:
    out = corpus.parent / "shards"
    result = CliRunner().invoke(app, ["shard", "--data", str(corpus), "--out", str(out), "--shard-size", "1",
                                      "--priors-dir", str(priors_dir), "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 videos in 4 shards" in result.output and "unreadable 1" in result.output
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key, x in a.items():
        if isinstance(x, torch.Tensor):
            assert x.dtype == b[key].dtype and torch.equal(x, b[key]), key
        elif isinstance(x, dict):  # priors, priors_valid: {name: (K, T, dim)}
            assert x.keys() == b[key].keys()
            assert all(torch.equal(x[n], b[key][n]) for n in x), key
        else:
            assert x == b[key], key


@pytest.mark.parametrize(("split", "priors"), [(None, "computed"), ("train", "stored"), ("test", None)])
def test_shards_give_pair_clip_datasets_samples(
    corpus: Path, shards: Path, priors_dir: Path, split: str | None, priors: str | None
) -> None:
    stored = priors == "stored"
    folder = PairClipDataset(corpus, split=split, priors=priors is not None,
                             priors_dir=priors_dir if stored else None, seed=5, **CROP)  # fmt: skip
    sharded = VideoShardDataset(shards, split=split, priors=priors is not None, stored_priors=stored,
                                seed=5, **CROP)  # fmt: skip
    folder.scan(progress=False)
    sharded.scan(progress=False)
    assert len(sharded) == len(folder) == (4 if split is None else 2)
    assert sharded.classes == folder.classes
    for i in [*range(len(folder)), 0]:  # the second read of 0 draws new crops on both
        _same(folder[i], sharded[i])
    if priors is not None:  # the global torch generator (seed=None), as pretraining draws
        folder._rng = sharded._rng = None
        torch.manual_seed(1)
        a = folder[1]
        torch.manual_seed(1)
        _same(a, sharded[1])


def test_bad_video_is_skipped_and_counted(shards: Path) -> None:
    index = json.loads((shards / INDEX_NAME).read_text())
    assert index["kind"] == "video" and index["report"]["counts"] == {"kept": 4, "unreadable": 1}
    assert index["report"]["problems"]["unreadable"][0]["item"].endswith("broken.mp4")
    assert {s["split"] for s in index["shards"]} == {"train", "test"}
    assert verify_shards(shards) == 4
    names = sorted(p.name for p in shards.iterdir())
    assert names[-1] == INDEX_NAME and len(names) == 5


def test_option_mismatches_are_one_line_errors(corpus: Path, shards: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"  # no --priors-dir, and rows without pose_path
    no_pose = Manifest([replace(r, extra={}) for r in Manifest.read(corpus).rows], corpus.parent)
    index, report = write_video_shards(no_pose, bare, shard_size=8, progress=False)
    assert index.count == 4 and report.notes == {"pose not stored (no pose file)": 4}
    with pytest.raises(ConfigError, match="hold no precomputed priors.*--priors-dir"):
        VideoShardDataset(bare, stored_priors=True, **CROP)
    with pytest.raises(ConfigError, match="hold no pose"):
        VideoShardDataset(bare, **CROP)
    assert len(VideoShardDataset(bare, priors=False, **CROP)) == 4  # MAE needs none
    with pytest.raises(ConfigError, match="holds video shards, this reader needs pose"):
        ShardDataset(shards)
    synth = corpus.parent / "manifest.csv"  # pose files in `path`, videos in `video`
    assert (manifest_kind(Manifest.read(synth)), manifest_kind(Manifest.read(corpus))) == ("pose", "video")


def test_pretrain_mae_on_video_shards(shards: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    sets = ["model.name=hiera_test", f"model.kwargs.num_frames={FRAMES}", "data.batch_size=2",
            "trainer.max_steps=1", "trainer.progress_bar=false", "method.kwargs.decoder_dim=16",
            "method.kwargs.decoder_heads=2"]  # fmt: skip
    args = ["pretrain", "--method", "mae", "--config", "tiny", "--data", str(shards), "--out", str(run)]
    result = CliRunner().invoke(app, [*args, *[a for s in sets for a in ("--set", s)]])
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["global_step"] == 1 and summary["clips"] == 2  # the train split's videos


def test_video_shard_samples_batch_with_workers(shards: Path) -> None:
    ds = VideoShardDataset(shards, split="test", priors=False, **CROP)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=1, collate_fn=collate_pairs)
    (batch,) = list(loader)
    assert batch["video"].shape == (2, 2, 8, 3, 16, 16) and batch["video"].dtype == torch.uint8
