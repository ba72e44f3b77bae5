"""Seeded, stratified sample selection for the evaluation protocols.

* :func:`stratified_fraction` keeps a fraction of each class's samples (the
  semi-supervised protocol: fine-tune or probe with e.g. 30 % of the training labels);
* :func:`stratified_split` holds out a fraction of each class as a test set, for data
  without a split column and without signer ids (for signer-independent splits use
  ``signssl.data.signer_independent_split``).

Both are deterministic for a seed and independent of the order in which classes appear.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from signssl.errors import ConfigError


def _class_groups(labels: Sequence[Hashable] | np.ndarray) -> dict[str, np.ndarray]:
    """Class name -> sorted sample indices, classes in sorted order."""
    labels = np.asarray([str(x) for x in labels])
    return {c: np.nonzero(labels == c)[0] for c in sorted(set(labels.tolist()))}


def _rng(seed: int, cls: str) -> np.random.Generator:
    """One generator per (seed, class), so a class's draw ignores the other classes."""
    return np.random.default_rng([int(seed) % 2**32, *cls.encode("utf-8")])


def stratified_fraction(
    labels: Sequence[Hashable] | np.ndarray, fraction: float, seed: int = 0, min_per_class: int = 1
) -> np.ndarray:
    """Sorted indices of a per-class random subset of ``round(fraction * n_c)`` samples.

    Each class keeps at least ``min_per_class`` samples (or all it has).

    Args:
        labels: ``(N,)`` class of each sample.
        fraction: share kept, in ``(0, 1]``.
        seed: random seed.
    """
    if not 0.0 < float(fraction) <= 1.0:
        raise ConfigError(f"label fraction must be in (0, 1], got {fraction}")
    keep: list[np.ndarray] = []
    for cls, idx in _class_groups(labels).items():
        n = min(idx.size, max(int(min_per_class), int(round(fraction * idx.size))))
        keep.append(_rng(seed, cls).choice(idx, size=n, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def stratified_split(
    labels: Sequence[Hashable] | np.ndarray, test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(train_idx, test_idx)``: ``round(test_fraction * n_c)`` test samples per class.

    A class with at least 2 samples keeps at least one sample on each side; a class with
    a single sample goes to training (it could not be scored as a test sample anyway).
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ConfigError(f"test fraction must be in (0, 1), got {test_fraction}")
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for cls, idx in _class_groups(labels).items():
        n_test = int(round(test_fraction * idx.size))
        n_test = 0 if idx.size < 2 else min(max(n_test, 1), idx.size - 1)
        perm = _rng(seed, cls).permutation(idx)
        test.append(perm[:n_test])
        train.append(perm[n_test:])
    return _sorted_cat(train), _sorted_cat(test)


def _sorted_cat(parts: list[np.ndarray]) -> np.ndarray:
    return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)
