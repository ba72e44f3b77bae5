"""Tar shards (signssl.data.shards): the folder reader's samples bit for bit, every clip
once per epoch across ranks and workers, exact mid-epoch resume, one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from signssl.data import Manifest, PoseDataset
from signssl.data.shard_write import merge_shard_parts, write_shards
from signssl.data.shards import (
    INDEX_NAME,
    ShardDataset,
    ShardStream,
    epoch_order,
    shuffle_buffer,
    stream_indices,
    verify_shards,
)
from signssl.errors import ConfigError, DataError
from signssl.synth import generate_dataset


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 synthetic .pose clips (3 classes x 2 signers x 2 reps) with train/test splits,
    plus a row whose file is missing and one whose file is not a pose file."""
    root = tmp_path_factory.mktemp("synth")
    manifest = generate_dataset(root, classes=3, signers=2, reps=2, frames=16, progress=False)
    (root / "broken.pose").write_bytes(b"not a pose file")
    with open(manifest, "a", newline="") as f:
        w = csv.writer(f)
        header = next(csv.reader(open(manifest)))
        blank = dict.fromkeys(header, "")
        for path in ("missing.pose", "broken.pose"):
            w.writerow([{**blank, "path": path, "split": "train"}[h] for h in header])
    return manifest


@pytest.fixture(scope="module")
def shards(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shards") / "s"
    write_shards(corpus, out, shard_size=3, progress=False)
    return out


def _same(a: dict, b: dict) -> None:
    assert (a["label"], a["signer"], a["index"], a["path"]) == (b["label"], b["signer"], b["index"], b["path"])
    pa, pb = a["pose"], b["pose"]
    assert pa.xyz.dtype == pb.xyz.dtype == np.float32
    np.testing.assert_array_equal(pa.xyz, pb.xyz)  # bit-exact
    np.testing.assert_array_equal(pa.conf, pb.conf)
    assert (pa.layout.name, pa.fps) == (pb.layout.name, pb.fps)


def test_shards_give_the_folder_readers_samples_bit_for_bit(corpus: Path, shards: Path) -> None:
    folder = PoseDataset(corpus, on_error="skip")
    report = folder.scan(progress=False)
    sharded = ShardDataset(shards)
    assert len(sharded) == len(folder) == 12 and sharded.classes == folder.classes
    by_row = {sharded[i]["index"]: sharded[i] for i in range(len(sharded))}
    assert sorted(by_row) == [folder[i]["index"] for i in range(len(folder))]
    for i in range(len(folder)):
        _same(folder[i], by_row[folder[i]["index"]])
    # the bad rows are counted by reason, in the returned report and in the index
    index = json.loads((shards / INDEX_NAME).read_text())
    assert index["report"]["counts"] == report.counts() == {"kept": 12, "unreadable": 2}


def test_a_split_is_a_set_of_shards(corpus: Path, shards: Path) -> None:
    test = ShardDataset(shards, split="test")
    folder = PoseDataset(corpus, split="test", on_error="skip")
    folder.scan(progress=False)
    assert {s.split for s in test.shards} == {"test"}
    assert [test[i]["index"] for i in range(len(test))] == [folder[i]["index"] for i in range(len(folder))]
    with pytest.raises(DataError, match="no shard of split 'val'; the shards hold: test, train"):
        ShardDataset(shards, split="val")


def test_shuffle_buffer_is_a_local_permutation() -> None:
    rng = np.random.default_rng(0)
    out = shuffle_buffer(np.arange(1000), 16, rng)
    assert sorted(out.tolist()) == list(range(1000))
    position = np.empty(1000, dtype=int)
    position[out] = np.arange(1000)
    assert (position >= np.arange(1000) - 16).all()  # never emitted before its window
    assert not (out == np.arange(1000)).all()
    order = epoch_order([5, 3, 4], seed=1, epoch=2, buffer=4)
    assert sorted(order.tolist()) == list(range(12))
    assert np.array_equal(order, epoch_order([5, 3, 4], seed=1, epoch=2, buffer=4))
    assert not np.array_equal(order, epoch_order([5, 3, 4], seed=1, epoch=3, buffer=4))


@pytest.mark.parametrize("n", [24, 23])
def test_every_clip_once_per_epoch_across_2_ranks_x_2_workers(n: int) -> None:
    order = epoch_order([7, 7, 7, n - 21], seed=0, epoch=0, buffer=5)
    seen = [stream_indices(order, rank, 2, worker, 2, block=3).tolist()
            for rank in range(2) for worker in range(2)]  # fmt: skip
    flat = sorted(i for part in seen for i in part)
    assert flat == sorted(order[: n - n % 2].tolist())  # each once; an odd last clip dropped
    assert len(seen[0]) + len(seen[1]) == len(seen[2]) + len(seen[3]) == n // 2  # ranks even
    # workers take blocks of 3 in turn: round-robin of their blocks is the rank's order
    blocks = [[w[k:k + 3] for k in range(0, len(w), 3)] for w in seen[:2]]  # rank 0's workers
    merged = [x for pair in zip(*blocks, strict=False) for block in pair for x in block]
    merged += [x for extra in blocks[0][len(blocks[1]):] for x in extra]
    assert merged == order[: n - n % 2][0::2].tolist()


def test_a_resumed_epoch_yields_exactly_the_rest(shards: Path) -> None:
    ds = ShardDataset(shards, buffer=4)
    stream = ShardStream(ds, block=2, rank=1, world_size=2)
    stream.set_epoch(3)
    it = iter(stream)
    first = [next(it)["index"] for _ in range(2)]
    state = stream.state_dict()
    rest = [s["index"] for s in it]
    resumed = ShardStream(ShardDataset(shards, buffer=4), block=2, rank=1, world_size=2)
    resumed.load_state_dict(state)
    assert state == {"epoch": 3, "consumed": 2}
    assert [s["index"] for s in resumed] == rest and len(first + rest) == len(ds) // 2


def test_a_loader_gives_the_ranks_clips_in_one_order_for_any_number_of_workers(shards: Path) -> None:
    from torch.utils.data import DataLoader

    from signssl.data.collate import collate_poses

    stream = ShardStream(ShardDataset(shards, buffer=4), block=2, rank=0, world_size=2)
    stream.set_epoch(1)
    got = {w: [i for b in DataLoader(stream, batch_size=2, num_workers=w, collate_fn=collate_poses)
                for i in b["index"].tolist()] for w in (0, 2)}  # fmt: skip
    ds = stream.dataset
    expected = [ds[int(i)]["index"] for i in ds.epoch_order(1)[0::2]]  # 12 clips: rank 0 of 2
    assert got[0] == got[2] == expected


def test_a_truncated_or_corrupt_shard_is_a_one_line_error_naming_it(shards: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "s"
    shutil.copytree(shards, copy)
    shard = copy / ShardDataset(copy).shards[0].name
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError) as e:
        ShardDataset(copy)[0]
    assert str(shard) in str(e.value) and "truncated" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(DataError, match="differs from its index"):
        verify_shards(copy)
    shard.write_bytes(b"\0" * 100 + data[100:])  # same size, header garbage
    with pytest.raises(DataError, match="not a readable tar shard|holds 0 clips") as e:
        ShardDataset(copy)[0]
    assert str(shard) in str(e.value)
    assert verify_shards(shards) == 12


def test_parts_merge_into_the_whole_corpus(corpus: Path, shards: Path, tmp_path: Path) -> None:
    out = tmp_path / "parts"
    for i in (1, 2, 3):
        write_shards(corpus, out, shard_size=3, part=(i, 3), progress=False)
    with pytest.raises(ConfigError, match="exists"):
        write_shards(corpus, out, shard_size=3, part=(2, 3), progress=False)
    merged = ShardDataset(merge_shard_parts(out).root)
    whole = ShardDataset(shards)
    assert sorted(merged[i]["index"] for i in range(len(merged))) == sorted(
        whole[i]["index"] for i in range(len(whole)))


def test_options_must_match_the_shards(shards: Path) -> None:
    ds = ShardDataset(shards)
    ds.check_options("masa49", 2, "auto", True)
    with pytest.raises(ConfigError, match="dims=2 \\(asked 3\\)"):
        ds.check_options("masa49", 3, "auto", True)


def test_webdataset_reads_the_shards_too(shards: Path) -> None:
    import webdataset as wds

    ds = ShardDataset(shards)
    urls = [str(shards / s.name) for s in ds.shards]
    got = {int(s["__key__"]): s for s in wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode()}
    for i in range(len(ds)):
        np.testing.assert_array_equal(got[ds[i]["index"]]["xyz.npy"], ds[i]["pose"].xyz)


def test_manifest_fixture_has_what_the_tests_assume(corpus: Path) -> None:
    m = Manifest.read(corpus)
    assert len(m) == 14 and {r.split for r in m} == {"train", "test"}


def test_buffer_0_draws_the_folder_runs_order(shards: Path) -> None:
    from signssl.engine.loader import EpochBatchSampler

    ds = ShardDataset(shards, buffer=0, seed=5)
    sampler = EpochBatchSampler(len(ds), 2, seed=5)
    sampler.set_epoch(3)
    assert np.array_equal(ds.epoch_order(3), sampler.epoch_order())


def test_pretraining_reads_a_shard_folder_in_its_streaming_order(shards: Path) -> None:
    from signssl.engine.config import load_config
    from signssl.engine.datasets import build_dataset
    from signssl.engine.loader import MixedBatchSampler, batch_sampler_for

    cfg = load_config("simclr", "tiny", ["data.batch_size=4", "trainer.seed=3"])
    ds, skipped = build_dataset(cfg, shards)
    assert isinstance(ds, ShardDataset) and skipped == 0
    assert len(ds) == 6 and {s.split for s in ds.shards} == {"train"}  # data.split: train
    sampler = batch_sampler_for(ds, 2, seed=3, rank=0, world_size=2)
    assert isinstance(sampler, MixedBatchSampler)
    sampler.set_epoch(1)
    assert [i for b in sampler for i in b] == ds.epoch_order(1)[:4][0::2].tolist()
    bad = load_config("simclr", "tiny", ["data.dims=3"])
    with pytest.raises(ConfigError, match="written with dims=2 \\(asked 3\\); re-shard"):
        build_dataset(bad, shards)


def test_synthetic_source_generates_each_index_once_per_epoch_across_ranks_and_workers() -> None:
    """Every rank and DataLoader worker: indices of the epoch's own block, each once, and
    sample i is what a fresh generator makes for i (seeded by index, not by worker)."""
    from torch.utils.data import DataLoader

    from signssl.data.collate import collate_poses
    from signssl.data.mixed import STRIDE, MixedDataset
    from signssl.engine.loader import batch_sampler_for
    from signssl.synth.stream import SyntheticPoseDataset

    synth = SyntheticPoseDataset(classes=4, signers=2, frames=16)
    mixed = MixedDataset([synth], [1.0], samples_per_epoch=12, seed=0)
    seen = []
    for rank in range(2):
        sampler = batch_sampler_for(mixed, 3, seed=0, rank=rank, world_size=2)
        sampler.set_epoch(1)
        loader = DataLoader(mixed, batch_sampler=sampler, num_workers=2, collate_fn=collate_poses)
        for batch in loader:
            for code, x in zip(batch["index"].tolist(), batch["x"], strict=True):
                seen.append(code)
                expected = collate_poses([synth[code % STRIDE]])["x"][0]
                assert torch.equal(x, expected)
    assert sorted(seen) == list(range(12, 24))  # epoch 1's block, every index once


def test_cli_shards_verifies_and_refuses_an_existing_index(corpus: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from signssl.cli.main import app, main

    out = tmp_path / "s"
    run = CliRunner().invoke(app, ["shard", "--data", str(corpus), "--out", str(out), "--shard-size", "4",
                                   "--no-progress"], catch_exceptions=False)  # fmt: skip
    assert run.exit_code == 0 and "kept 12; skipped 2 (unreadable 2)" in run.output
    index = json.loads((out / INDEX_NAME).read_text())
    assert index["count"] == 12 and [s["count"] for s in index["shards"]] == [4, 2, 4, 2]  # test 6, train 6
    run = CliRunner().invoke(app, ["shard", "--verify", "--out", str(out)], catch_exceptions=False)
    assert run.exit_code == 0 and "12 clips, every shard matches its index" in run.output
    with pytest.raises(SystemExit) as e:
        main(["shard", "--data", str(corpus), "--out", str(out), "--no-progress"])
    assert e.value.code == 2
