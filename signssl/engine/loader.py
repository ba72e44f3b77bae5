"""Deterministic, resumable batching for pretraining.

:class:`EpochBatchSampler` draws one permutation per epoch from ``(seed, epoch)`` and
gives rank ``r`` of ``W`` the items ``perm[r::W]`` cut into local batches, so the union
of the ranks' ``k``-th batches is ``perm[k*B:(k+1)*B]`` with ``B = W * local_batch``: a
multi-device run sees the same global batches as a single-device run with batch ``B``.

:class:`ResumableLoader` is a ``DataLoader`` with ``state_dict``/``load_state_dict``
(Lightning saves it in ``last.ckpt``): after a restart it skips the batches of the
current epoch that were already trained on, without loading them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from signssl.data.collate import share_batches_by_file
from signssl.errors import ConfigError


class EpochBatchSampler(Sampler[list[int]]):
    """Per-epoch seeded shuffling, sharded by rank, whole batches only (``drop_last``)."""

    def __init__(
        self,
        num_items: int,
        local_batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world of size {world_size}")
        global_batch = local_batch_size * world_size
        if num_items < global_batch:
            raise ConfigError(
                f"the dataset has {num_items} clips, fewer than one global batch of "
                f"{global_batch}: lower data.batch_size or add data"
            )
        self.num_items = num_items
        self.local_batch_size = local_batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        self.epoch = 0
        self.start_batch = 0  # batches of the current epoch to skip (set on resume)

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_items // (self.local_batch_size * self.world_size)

    def epoch_order(self) -> np.ndarray:
        """The permutation of all items for the current epoch, ``(num_items,)``."""
        if not self.shuffle:
            return np.arange(self.num_items)
        rng = np.random.default_rng([self.seed, self.epoch])
        return rng.permutation(self.num_items)

    def __iter__(self) -> Iterator[list[int]]:
        return self._batches(self.start_batch)  # the skip is taken now...

    def _batches(self, start: int) -> Iterator[list[int]]:
        # ...the epoch at the first next(): Lightning may call set_epoch after iter()
        b = self.local_batch_size
        n_batches = len(self)
        mine = self.epoch_order()[: n_batches * b * self.world_size][self.rank :: self.world_size]
        for k in range(start, n_batches):
            yield mine[k * b : (k + 1) * b].tolist()


class MixedBatchSampler(EpochBatchSampler):
    """:class:`EpochBatchSampler` whose epoch order comes from ``order(epoch)`` (the codes
    of :meth:`signssl.data.mixed.MixedDataset.epoch_order`) instead of a permutation of
    ``range(num_items)``; rank sharding, batching and resuming are unchanged."""

    def __init__(
        self,
        order: Callable[[int], np.ndarray],
        num_items: int,
        local_batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        super().__init__(num_items, local_batch_size, seed=seed, rank=rank, world_size=world_size)
        self.order = order

    def epoch_order(self) -> np.ndarray:
        return self.order(self.epoch)


def batch_sampler_for(
    dataset: Dataset, local_batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1
) -> EpochBatchSampler:
    """A :class:`MixedBatchSampler` for a dataset with ``epoch_order`` (a mixture of
    sources), else an :class:`EpochBatchSampler` over ``range(len(dataset))``."""
    order = getattr(dataset, "epoch_order", None)
    n = len(dataset)  # type: ignore[arg-type]
    if callable(order):
        return MixedBatchSampler(order, n, local_batch_size, seed=seed, rank=rank, world_size=world_size)
    return EpochBatchSampler(n, local_batch_size, seed=seed, rank=rank, world_size=world_size)


class ResumableLoader(DataLoader):
    """A ``DataLoader`` over an :class:`EpochBatchSampler` that remembers its position.

    ``state_dict()`` -> ``{"epoch", "batches_done"}``; ``load_state_dict`` makes the next
    iteration start after those batches.  Before each batch loaded in the main process
    the global RNGs are seeded from ``(seed, epoch, batch)``, so random dataset
    transforms repeat after a restart (with workers, each worker is seeded per epoch).
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_sampler: EpochBatchSampler,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
    ) -> None:
        generator = torch.Generator()
        generator.manual_seed(batch_sampler.seed)
        if num_workers > 0:
            share_batches_by_file()
        super().__init__(
            dataset,
            batch_sampler=batch_sampler,
            collate_fn=collate_fn,
            num_workers=num_workers,
            pin_memory=pin_memory,
            generator=generator,  # keeps DataLoader from drawing on the global RNG
            persistent_workers=num_workers > 0,  # no process start-up at every epoch
        )
        self._batches_done = 0
        self._pending_skip = 0

    @property
    def sampler_state(self) -> EpochBatchSampler:
        assert isinstance(self.batch_sampler, EpochBatchSampler)
        return self.batch_sampler

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.sampler_state.epoch, "batches_done": self._batches_done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Position the next iteration right after the last trained batch."""
        epoch, done = int(state["epoch"]), int(state["batches_done"])
        if done >= len(self.sampler_state):  # saved on the epoch's last batch
            epoch, done = epoch + 1, 0
        self.sampler_state.set_epoch(epoch)
        self._pending_skip = done

    def __iter__(self) -> Iterator[Any]:
        sampler = self.sampler_state
        skip, self._pending_skip = self._pending_skip, 0
        sampler.start_batch = skip
        self.generator.manual_seed(_mix(sampler.seed, sampler.epoch))  # worker seeds
        self._batches_done = skip
        inner = super().__iter__()  # may call iter(batch_sampler) more than once
        sampler.start_batch = 0
        return self._counting(inner, skip)

    def _counting(self, inner: Iterator[Any], start: int) -> Iterator[Any]:
        sampler = self.sampler_state
        for k in range(start, len(sampler)):
            if self.num_workers == 0:
                seed_all(_mix(sampler.seed, sampler.epoch, k))
            try:
                batch = next(inner)
            except StopIteration:
                return
            self._batches_done = k + 1
            yield batch


def _mix(*values: int) -> int:
    """A 63-bit seed from non-negative integers (order-sensitive)."""
    state = np.random.SeedSequence([abs(int(v)) for v in values]).generate_state(1, np.uint64)
    return int(state[0]) & (2**63 - 1)


def seed_all(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (all devices)."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def step_seed(seed: int, step: int, rank: int) -> int:
    """Seed for optimiser step ``step`` on ``rank``: augmentations repeat after a resume."""
    return _mix(seed, step, rank, 7)
