"""``MixedDataset``: draw frequencies, coverage of finite sources, seeded epoch orders."""

from __future__ import annotations

import numpy as np
import pytest

from signssl.data.mixed import STRIDE, MixedDataset
from signssl.engine.loader import MixedBatchSampler, batch_sampler_for
from signssl.errors import ConfigError


class Unbounded:
    """An unbounded source (no ``__len__``): sample ``i`` is ``{"i": i}``."""

    def __getitem__(self, i: int) -> dict[str, int]:
        return {"i": i}


def _finite(n: int) -> list[dict[str, int]]:
    return [{"i": i} for i in range(n)]


def test_sources_are_drawn_with_the_configured_frequencies() -> None:
    p = [0.5, 0.3, 0.2]
    ds = MixedDataset([_finite(7), _finite(50), Unbounded()], p, 2000, seed=3)
    draws = np.concatenate([ds.epoch_order(e) for e in range(10)]) // STRIDE  # (20000,) source ids
    freq = np.bincount(draws, minlength=3) / len(draws)
    # binomial standard deviation <= sqrt(0.25 / 20000) = 0.0035: 5 sigma
    assert freq == pytest.approx(p, abs=0.018)
    assert ds[int(ds.epoch_order(0)[0])]["source"] in (0, 1, 2)


def test_a_finite_source_is_served_as_whole_permutations() -> None:
    ds = MixedDataset([_finite(6), Unbounded()], [0.5, 0.5], 400, seed=0)
    order = ds.epoch_order(1)
    local = order[order // STRIDE == 0] % STRIDE  # the small source's picks, in order
    assert len(local) > 12
    for k in range(len(local) // 6):  # each run of 6 picks is one permutation
        assert sorted(local[6 * k : 6 * k + 6].tolist()) == list(range(6))


def test_unbounded_indices_never_repeat_across_epochs() -> None:
    ds = MixedDataset([Unbounded(), _finite(3)], [0.9, 0.1], 50, seed=1)
    seen = [c % STRIDE for e in range(4) for c in ds.epoch_order(e) if c // STRIDE == 0]
    assert len(seen) == len(set(seen))
    code = int(ds.epoch_order(2)[0])
    assert ds[code]["i"] == code % STRIDE


def test_epoch_order_is_a_function_of_seed_and_epoch() -> None:
    def make(seed: int) -> MixedDataset:
        return MixedDataset([_finite(10), Unbounded()], [0.4, 0.6], 64, seed=seed)

    a, b = make(5), make(5)
    assert np.array_equal(a.epoch_order(2), b.epoch_order(2))
    assert not np.array_equal(a.epoch_order(2), a.epoch_order(3))
    assert not np.array_equal(a.epoch_order(2), make(6).epoch_order(2))


def test_sampler_resumes_inside_a_mixed_epoch() -> None:
    ds = MixedDataset([_finite(10), Unbounded()], [0.4, 0.6], 64, seed=2)
    sampler = batch_sampler_for(ds, 8, seed=2)
    assert isinstance(sampler, MixedBatchSampler)
    sampler.set_epoch(1)
    full = list(sampler)
    assert [c for batch in full for c in batch] == ds.epoch_order(1).tolist()
    sampler.start_batch = 3  # what ResumableLoader sets after 3 trained batches
    assert list(sampler) == full[3:]


@pytest.mark.parametrize(
    ("probabilities", "message"),
    [([1.0], "one probability per source"), ([-1.0, 2.0], ">= 0"), ([0.0, 0.0], "not all 0")],
)
def test_bad_mixtures_are_refused(probabilities: list[float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MixedDataset([_finite(3), Unbounded()], probabilities, 10)
