"""Signer-independent splits: invariants checked with plain loops over many random manifests."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from signssl.data import (
    Manifest,
    ManifestRow,
    classes_missing_from,
    describe_splits,
    signer_independent_split,
    signer_overlap,
)
from signssl.errors import ConfigError, DataError


def random_manifest(seed: int, n_signers: int = 12, n_classes: int = 8, n_rows: int = 150,
                    unknown: int = 0) -> Manifest:
    """Rows with uneven signer sizes; some classes signed by one signer only."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(n_signers) * 0.7)
    rows = []
    for i in range(n_rows):
        s = int(rng.choice(n_signers, p=weights))
        c = int(rng.integers(n_classes))
        rows.append(ManifestRow(f"r{i}.npz", f"c{c}", f"s{s}", split="old"))
    rows.append(ManifestRow("solo.npz", "only_one_signer", "s0"))  # a class of one signer
    rows += [ManifestRow(f"u{i}.npz", f"c{i % n_classes}") for i in range(unknown)]
    rows.append(ManifestRow("nolabel.npz", None, "s1"))
    return Manifest(rows)


def splits_of_signers(m: Manifest) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for r in m:
        if r.signer is not None:
            out[r.signer].add(r.split)
    return out


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(("test_fraction", "val_fraction"), [(0.25, 0.0), (0.2, 0.15), (0.5, 0.2)])
def test_split_invariants(seed: int, test_fraction: float, val_fraction: float) -> None:
    m = random_manifest(seed)
    out = signer_independent_split(m, test_fraction, val_fraction, seed=seed)
    # same rows, same order; only the split changes, and every row gets one
    assert [(r.path, r.label, r.signer) for r in out] == [(r.path, r.label, r.signer) for r in m]
    assert {r.split for r in out} <= {"train", "val", "test"}
    # no signer in two splits (naive loop)
    assert all(len(v) == 1 for v in splits_of_signers(out).values())
    assert signer_overlap(out) == {}
    # every class is represented in train (possible here: every class has a signer)
    train_labels = {r.label for r in out if r.split == "train" and r.label is not None}
    assert train_labels == set(m.labels())
    assert classes_missing_from(out, "train") == []
    # the held-out sizes are as close to the target as whole signers allow
    sizes = defaultdict(int)
    for r in m:
        sizes[r.signer] += 1
    biggest = max(sizes.values())
    n = len(m)
    for split, f in (("test", test_fraction), ("val", val_fraction)):
        count = sum(r.split == split for r in out)
        if f == 0:
            assert count == 0
        else:
            assert count > 0
            assert abs(count - f * n) <= biggest + 1


def test_split_is_deterministic_by_seed_and_varies_with_it() -> None:
    m = random_manifest(3)
    a = signer_independent_split(m, 0.3, seed=7)
    b = signer_independent_split(m, 0.3, seed=7)
    assert [r.split for r in a] == [r.split for r in b]
    others = {tuple(r.split for r in signer_independent_split(m, 0.3, seed=s)) for s in range(8)}
    assert len(others) > 1


def test_a_class_of_one_signer_stays_in_train() -> None:
    # signer A alone signs "rare"; even when A would fill the test split, A stays in train
    rows = [ManifestRow(f"a{i}", "rare" if i == 0 else "common", "A") for i in range(5)]
    rows += [ManifestRow(f"{s}{i}", "common", s) for s in "BCD" for i in range(5)]
    for seed in range(10):
        out = signer_independent_split(Manifest(rows), 0.25, seed=seed)
        assert {r.split for r in out if r.signer == "A"} == {"train"}
        assert sum(r.split == "test" for r in out) == 5


def test_two_signers_still_give_a_test_split() -> None:
    rows = [ManifestRow(f"{s}{i}", f"c{i % 3}", s) for s in "AB" for i in range(6)]
    out = signer_independent_split(Manifest(rows), 0.25, seed=0)
    assert sorted(describe_splits(out)) == ["test", "train"]
    assert all(len(v) == 1 for v in splits_of_signers(out).values())


def test_unknown_signer_modes() -> None:
    m = random_manifest(1, unknown=40)
    unknown = {r.path for r in m if r.signer is None}
    own = signer_independent_split(m, 0.3, seed=0)  # unknown rows split one by one
    assert {r.split for r in own if r.path in unknown} == {"train", "test"}
    assert all(len(v) == 1 for v in splits_of_signers(own).values())
    to_train = signer_independent_split(m, 0.3, seed=0, unknown_signer="train")
    assert {r.split for r in to_train if r.path in unknown} == {"train"}
    with pytest.raises(DataError, match="has no signer"):
        signer_independent_split(m, 0.3, unknown_signer="error")
    with pytest.raises(ConfigError, match="unknown_signer"):
        signer_independent_split(m, 0.3, unknown_signer="drop")  # type: ignore[arg-type]


@pytest.mark.parametrize(("test_fraction", "val_fraction"), [(1.0, 0.0), (-0.1, 0.0), (0.6, 0.4)])
def test_bad_fractions(test_fraction: float, val_fraction: float) -> None:
    with pytest.raises(ConfigError, match="fraction"):
        signer_independent_split(random_manifest(0), test_fraction, val_fraction)


def test_describe_splits_counts() -> None:
    rows = [ManifestRow("1", "a", "x", "train"), ManifestRow("2", "b", "y", "train"),
            ManifestRow("3", "a", None, "test"), ManifestRow("4", None, None)]
    assert describe_splits(Manifest(rows)) == {
        "": {"rows": 1, "signers": 0, "classes": 0, "unknown_signer": 1},
        "test": {"rows": 1, "signers": 0, "classes": 1, "unknown_signer": 1},
        "train": {"rows": 2, "signers": 2, "classes": 2, "unknown_signer": 0},
    }
