"""Deterministic sharded batching and the resumable loader."""

from __future__ import annotations

import pytest
import torch
from engine_toys import ToyDataset

from signssl.engine.loader import EpochBatchSampler, ResumableLoader, step_seed
from signssl.errors import ConfigError


def test_sampler_drops_the_tail_and_covers_distinct_items() -> None:
    s = EpochBatchSampler(num_items=23, local_batch_size=5, seed=3)
    batches = list(s)
    assert len(s) == len(batches) == 4  # 23 // 5, the partial batch is dropped
    flat = [i for b in batches for i in b]
    assert len(set(flat)) == 20 and set(flat) <= set(range(23))


def test_sampler_is_seeded_per_epoch() -> None:
    a, b = EpochBatchSampler(40, 8, seed=1), EpochBatchSampler(40, 8, seed=1)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(EpochBatchSampler(40, 8, seed=2)) != first


@pytest.mark.parametrize("world", [2, 3])
def test_ranks_together_see_the_single_process_global_batches(world: int) -> None:
    """The union of the ranks' k-th local batches is the k-th batch of one process with
    the global batch size: multi-device runs train on the same global batches."""
    n, local = 50, 4
    single = EpochBatchSampler(n, local * world, seed=7)
    single.set_epoch(2)
    ranks = [EpochBatchSampler(n, local, seed=7, rank=r, world_size=world) for r in range(world)]
    for s in ranks:
        s.set_epoch(2)
    per_rank = [list(s) for s in ranks]
    assert all(len(p) == len(single) for p in per_rank)
    for k, global_batch in enumerate(single):
        union = sorted(i for p in per_rank for i in p[k])
        assert union == sorted(global_batch)


def test_sampler_rejects_a_dataset_smaller_than_a_batch() -> None:
    with pytest.raises(ConfigError, match="fewer than one global batch of 16"):
        EpochBatchSampler(10, 8, world_size=2)


def _indices(loader: ResumableLoader) -> list[list[int]]:
    return [batch["index"].tolist() for batch in loader]


@pytest.mark.parametrize("num_workers", [0, 1])
def test_loader_resumes_after_the_last_trained_batch(num_workers: int) -> None:
    data = ToyDataset(n=30)

    def make() -> ResumableLoader:
        return ResumableLoader(data, EpochBatchSampler(30, 4, seed=5), num_workers=num_workers)

    reference = make()
    reference.sampler_state.set_epoch(1)
    full = _indices(reference)  # 7 batches
    # consume 3 batches of epoch 1, save, restore into a fresh loader
    loader = make()
    loader.sampler_state.set_epoch(1)
    it = iter(loader)
    seen = [next(it)["index"].tolist() for _ in range(3)]
    state = loader.state_dict()
    assert state == {"epoch": 1, "batches_done": 3}
    fresh = make()
    fresh.load_state_dict(state)
    assert fresh.sampler_state.epoch == 1
    assert seen + _indices(fresh) == full
    assert _indices(fresh) == full  # the next epoch iteration starts from the beginning again


def test_loader_state_at_epoch_end_rolls_over() -> None:
    data = ToyDataset(n=16)
    loader = ResumableLoader(data, EpochBatchSampler(16, 4, seed=0))
    loader.sampler_state.set_epoch(2)
    _indices(loader)
    state = loader.state_dict()
    assert state == {"epoch": 2, "batches_done": 4}
    fresh = ResumableLoader(data, EpochBatchSampler(16, 4, seed=0))
    fresh.load_state_dict(state)
    assert fresh.sampler_state.epoch == 3
    nxt = ResumableLoader(data, EpochBatchSampler(16, 4, seed=0))
    nxt.sampler_state.set_epoch(3)
    assert _indices(fresh) == _indices(nxt)


def test_main_process_loading_is_seeded_per_batch() -> None:
    """Random dataset transforms draw the same numbers for a batch whatever ran before."""

    class Noisy(ToyDataset):
        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {"index": torch.tensor(i), "noise": torch.rand(())}

    data = Noisy(n=12)
    a = ResumableLoader(data, EpochBatchSampler(12, 3, seed=0))
    first = [b["noise"] for b in a]
    torch.rand(100)  # disturb the global generator
    b = ResumableLoader(data, EpochBatchSampler(12, 3, seed=0))
    b.load_state_dict({"epoch": 0, "batches_done": 2})
    assert all(torch.equal(x, y) for x, y in zip(first[2:], list(bb["noise"] for bb in b), strict=True))


def test_step_seed_depends_on_step_and_rank() -> None:
    seeds = {step_seed(0, s, r) for s in range(50) for r in range(4)}
    assert len(seeds) == 200
    assert step_seed(3, 10, 1) == step_seed(3, 10, 1)
    assert all(0 <= s < 2**63 for s in seeds)
