"""``signssl finetune-video --data VIDEO_SHARDS``: the shards' clips are the video manifest's
(:class:`~signssl.data.video_shards.VideoClipShardDataset` gives VideoDataset's samples), a
fine-tuning run gives the manifest run's metrics, and mismatched data is refused in one line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from eval_toys import export_video_run, run_cli

from signssl.data import Manifest
from signssl.data.shard_write import write_shards
from signssl.data.signrep import video_manifest
from signssl.data.video import VideoDataset
from signssl.data.video_shards import VideoClipShardDataset, write_video_shards
from signssl.errors import ConfigError
from signssl.eval.finetune_video import VideoFinetuneConfig, run_finetune_video
from signssl.models import create_model
from signssl.store.model import export_model
from signssl.synth import generate_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """``(pose manifest, video manifest, video shards)`` of 4 synthetic clips (2 classes x 2
    signers; train 2, test 2) of 16 frames of 32 x 32 video; row 1 reads frames [2, 12) only."""
    root = tmp_path_factory.mktemp("ft_video_synth")
    synth = generate_dataset(root, classes=2, signers=2, reps=1, frames=16, video=True, size=32,
                             seed=0, progress=False)  # fmt: skip
    m = video_manifest(Manifest.read(synth))
    m.rows[1] = replace(m.rows[1], start=2, end=12)
    videos = m.write(root / "videos.csv").source or root / "videos.csv"
    write_video_shards(videos, root / "shards", shard_size=1, progress=False)
    return synth, videos, root / "shards"


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    tensors = [k for k, v in a.items() if isinstance(v, torch.Tensor)]
    assert all(a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]) for k in tensors), tensors
    assert {k: a[k] for k in a.keys() - tensors} == {k: b[k] for k in b.keys() - tensors}


@pytest.mark.parametrize(
    ("split", "options"),
    [("train", {"sampling": "random", "seed": 3}),
     (None, {"sampling": "center", "frame_step": 2, "dtype": "float32", "normalize": "imagenet"}),
     ("test", {"sampling": "uniform", "fps": 12.5})],
)  # fmt: skip
def test_shard_clips_are_the_manifests_samples(data: tuple[Path, Path, Path], split: str | None,
                                                options: dict[str, Any]) -> None:  # fmt: skip
    _, videos, shards = data
    folder = VideoDataset(videos, clip_len=4, size=16, split=split, **options)
    sharded = VideoClipShardDataset(shards, split=split, clip_len=4, size=16, **options)
    assert folder.scan(progress=False).num_problems == sharded.scan(progress=False).num_problems == 0
    assert len(sharded) == len(folder) == (4 if split is None else 2)
    assert sharded.classes == folder.classes
    for i in [*range(len(folder)), 0]:  # the second read of 0 draws a new random clip on both
        _same(folder[i], sharded[i])


def _finetune(run: Path, data: Path, out: Path) -> Any:
    cfg = VideoFinetuneConfig(frames=4, epochs=1, batch_size=2, warmup_steps=1, seed=1)
    return run_finetune_video(run, data, out, cfg, device="cpu", progress=False)


def test_finetune_on_shards_equals_the_manifest(data: tuple[Path, Path, Path], tmp_path: Path) -> None:
    _, videos, shards = data
    run = export_video_run(tmp_path / "run").parent
    a, b = _finetune(run, videos, tmp_path / "a"), _finetune(run, shards, tmp_path / "b")
    assert a.classes == b.classes and a.metrics["n_test"] == 2
    assert a.metrics == b.metrics
    assert [h["loss"] for h in a.history] == [h["loss"] for h in b.history]
    head_a, head_b = a.model.head.state_dict(), b.model.head.state_dict()
    assert all(torch.equal(head_a[k], head_b[k]) for k in head_a)


def _one_line(e: pytest.ExceptionInfo[ConfigError], root: Path, *said: str) -> None:
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(root)), msg
    assert all(s in msg for s in said), msg


def test_mismatched_data_is_refused_in_one_line(data: tuple[Path, Path, Path], tmp_path: Path,
                                                capsys: Any) -> None:  # fmt: skip
    synth, videos, shards = data
    run = export_video_run(tmp_path / "run").parent
    pose_shards = tmp_path / "pose_shards"
    write_shards(synth, pose_shards, progress=False)
    code, _, err = run_cli(capsys, "finetune-video", "--checkpoint", run, "--data", pose_shards,
                           "--epochs", 1, "--frames", 4, "--out", tmp_path / "ft")  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and str(pose_shards) in err and "--kind video" in err, err
    pose_run = tmp_path / "pose_run"
    export_model(create_model("pose_transformer_test"), pose_run / "model", "pose_transformer_test", {},
                 layout="masa49", dims=2, normalize="shoulders", max_frames=64)  # fmt: skip
    with pytest.raises(ConfigError) as e:
        _finetune(pose_run, shards, tmp_path / "ft")
    _one_line(e, shards, "reads poses", "video encoder run")
    train_only = tmp_path / "train_only"
    write_video_shards(videos, train_only, split="train", progress=False)
    with pytest.raises(ConfigError) as e:
        _finetune(run, train_only, tmp_path / "ft")
    _one_line(e, train_only, "no shards of split(s) ['test']", "re-shard")
    assert not (tmp_path / "ft").exists()
