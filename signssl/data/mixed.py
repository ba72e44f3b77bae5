"""Several datasets drawn from with fixed probabilities: :class:`MixedDataset`.

An *epoch* is ``samples_per_epoch`` draws.  For epoch ``e`` (:meth:`MixedDataset.epoch_order`)
each position picks source ``k`` with probability ``probabilities[k]`` (a generator seeded
by ``(seed, e)``); a finite source of ``n`` samples serves its picks from seeded
permutations of ``range(n)`` (one after another when it is picked more than ``n`` times),
an unbounded source (``size None``) serves indices ``e * samples_per_epoch + p`` for a
seeded permutation ``p`` of ``range(samples_per_epoch)``, so no index repeats across epochs.

The order holds *codes* ``k * STRIDE + i`` (sample ``i`` of source ``k``), and
``dataset[code]`` returns that sample with ``"source": k`` added; ``len(dataset)`` is
``samples_per_epoch``.  Everything is a function of ``(seed, epoch)``: a resumed run and
every rank compute the same order.

>>> import numpy as np
>>> ds = MixedDataset([list(range(10)), list(range(100))], [0.5, 0.5], 8, seed=0)
>>> order = ds.epoch_order(0)
>>> len(order), sorted({int(c) // STRIDE for c in order})
(8, [0, 1])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from signssl.errors import ConfigError

#: code = source * STRIDE + index (an unbounded source runs ~1e12 / samples_per_epoch epochs)
STRIDE = 2**40


class MixedDataset(Dataset):
    """Sources mixed with ``probabilities`` over epochs of ``samples_per_epoch`` draws.

    Args:
        sources: datasets; one without ``__len__`` is unbounded (any index >= 0 is valid).
        probabilities: one per source, >= 0, summing to 1 (renormalised).
        samples_per_epoch: draws per epoch (``len()``).
        seed: seed of the draws.
    Raises:
        ConfigError: mismatched lengths, a negative probability, no positive one, or an
            empty finite source with a positive probability.
    """

    def __init__(
        self,
        sources: Sequence[Any],
        probabilities: Sequence[float],
        samples_per_epoch: int,
        seed: int = 0,
    ) -> None:
        if len(sources) != len(probabilities) or not sources:
            raise ConfigError(f"need one probability per source, got {len(probabilities)} for {len(sources)}")
        p = np.asarray(probabilities, dtype=np.float64)
        if (p < 0).any() or not np.isfinite(p).all() or p.sum() <= 0:
            raise ConfigError(f"source probabilities must be >= 0 and not all 0, got {list(probabilities)}")
        if samples_per_epoch < 1:
            raise ConfigError(f"samples_per_epoch must be >= 1, got {samples_per_epoch}")
        self.sources = list(sources)
        self.sizes: list[int | None] = [len(s) if hasattr(s, "__len__") else None for s in self.sources]
        for k, (n, pk) in enumerate(zip(self.sizes, p, strict=True)):
            if n == 0 and pk > 0:
                raise ConfigError(f"source {k} has no samples but probability {pk:g}")
        self.probabilities = p / p.sum()
        self.samples_per_epoch = int(samples_per_epoch)
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.samples_per_epoch

    def epoch_order(self, epoch: int) -> np.ndarray:
        """Codes of the ``samples_per_epoch`` draws of ``epoch``, ``(samples_per_epoch,)`` int64."""
        n_draws = self.samples_per_epoch
        rng = np.random.default_rng([self.seed, epoch, 0])
        choice = rng.choice(len(self.sources), size=n_draws, p=self.probabilities)  # (E,)
        codes = np.empty(n_draws, dtype=np.int64)
        for k, size in enumerate(self.sizes):
            where = np.flatnonzero(choice == k)
            sub = np.random.default_rng([self.seed, epoch, 1, k])
            if size is None:  # unbounded: indices of this epoch's own block
                local = epoch * n_draws + sub.permutation(n_draws)[: len(where)]
            else:
                rounds = -(-len(where) // size)
                local = np.concatenate([sub.permutation(size) for _ in range(rounds)] or [np.empty(0, np.int64)])
            codes[where] = k * STRIDE + local[: len(where)]
        return codes

    def __getitem__(self, code: int) -> dict[str, Any]:
        k, i = divmod(int(code), STRIDE)
        sample = dict(self.sources[k][i])
        sample["source"] = k
        return sample

    def __repr__(self) -> str:
        probs = ", ".join(f"{p:.3g}" for p in self.probabilities)
        return f"MixedDataset({len(self.sources)} sources, p=[{probs}], {self.samples_per_epoch} per epoch)"
