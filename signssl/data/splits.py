"""Signer-independent train / val / test splits.

Sign recognisers overfit to signers, so evaluation sets must hold signers never seen in
training.  :func:`signer_independent_split` assigns whole signers to splits:

1. rows are grouped by signer;
2. the groups are visited in an order shuffled by ``seed``; a group goes to *test* while
   that brings the test row count closer to ``test_fraction * N``, else to *val* likewise
   (``val_fraction``), else to *train*;
3. a group is never held out when it holds the last train-eligible rows of one of its
   classes, so every class stays represented in train whenever some signer of it can be
   kept there (a class signed by one signer only is therefore always train-only);
4. a held-out split asked for but left empty (every group was too big) receives the
   smallest group that can leave train, unless that would empty train.

Rows with an unknown signer (``signer`` empty) follow ``unknown_signer``:

* ``"own_group"`` (default): each such row is its own group, i.e. those rows are split
  at random (no guarantee about who signed them: the split is only signer-independent
  for the known signers);
* ``"train"``: they all go to train;
* ``"error"``: raise :class:`~signssl.errors.DataError`.

The result is deterministic for a given manifest and seed; :func:`split_warnings` says
what it cannot guarantee (rows without a signer id).

:func:`select_split` is how a command picks the rows of one split (pretraining's
``data.split``): a manifest without split names gives every row, and split names
outside ``train`` / ``val`` / ``test`` (a misspelt ``tset``) are an error naming them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from typing import Literal

import numpy as np

from signssl.data.manifest import KNOWN_SPLITS, Manifest
from signssl.errors import ConfigError, DataError

UnknownSigner = Literal["own_group", "train", "error"]
SPLIT_NAMES = KNOWN_SPLITS


def _groups(manifest: Manifest, unknown_signer: UnknownSigner) -> tuple[list[list[int]], list[int]]:
    """Row-index groups that must stay together, and the rows forced into train."""
    if unknown_signer not in ("own_group", "train", "error"):
        raise ConfigError(
            f"unknown_signer must be 'own_group', 'train' or 'error', got {unknown_signer!r}"
        )
    by_signer: dict[str, list[int]] = defaultdict(list)
    singles: list[list[int]] = []
    forced: list[int] = []
    for i, row in enumerate(manifest.rows):
        if row.signer is not None:
            by_signer[row.signer].append(i)
        elif unknown_signer == "own_group":
            singles.append([i])
        elif unknown_signer == "train":
            forced.append(i)
        else:
            raise DataError(
                f"row {i + 1} has no signer; fill the signer column or pass "
                "unknown_signer='own_group' (split those rows at random) or 'train'",
                row.path,
            )
    return [by_signer[s] for s in sorted(by_signer)] + singles, forced


def _closer(count: int, size: int, target: int) -> bool:
    """Whether adding ``size`` rows moves ``count`` strictly closer to ``target``."""
    return count < target and abs(count + size - target) < target - count


def signer_independent_split(
    manifest: Manifest,
    test_fraction: float = 0.25,
    val_fraction: float = 0.0,
    seed: int = 0,
    unknown_signer: UnknownSigner = "own_group",
) -> Manifest:
    """A copy of ``manifest`` whose ``split`` column is ``train`` / ``val`` / ``test``,
    with no signer in two splits (see the module docstring for the rules).

    Args:
        manifest: the rows; any existing split is replaced.
        test_fraction: wanted share of rows in test (reached as closely as whole signers
            allow).
        val_fraction: wanted share of rows in val (0 = no val split).
        seed: shuffles the signer order; same seed, same split.
        unknown_signer: what to do with rows without a signer (module docstring).
    Raises:
        ConfigError: fractions outside [0, 1) or summing to 1 or more.
    """
    for name, f in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if not 0.0 <= f < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {f}")
    if test_fraction + val_fraction >= 1.0:
        raise ConfigError(
            f"test_fraction + val_fraction must leave rows for train, got "
            f"{test_fraction} + {val_fraction}"
        )
    rows = manifest.rows
    groups, forced = _groups(manifest, unknown_signer)
    order = np.random.default_rng(seed).permutation(len(groups))
    targets = {"test": round(test_fraction * len(rows)), "val": round(val_fraction * len(rows))}
    counts = {"train": 0, "val": 0, "test": 0}
    # rows of each class not (yet) held out: train keeps >= 1 while this stays >= 1
    in_train = Counter(r.label for r in rows if r.label is not None)
    assigned: dict[int, str] = {}  # group index -> split

    def can_leave_train(g: int) -> bool:
        need = Counter(rows[i].label for i in groups[g] if rows[i].label is not None)
        return all(in_train[c] > n for c, n in need.items())

    def hold_out(g: int, split: str) -> None:
        assigned[g] = split
        counts[split] += len(groups[g])
        for i in groups[g]:
            if rows[i].label is not None:
                in_train[rows[i].label] -= 1

    for g in (int(k) for k in order):
        for split in ("test", "val"):
            if _closer(counts[split], len(groups[g]), targets[split]) and can_leave_train(g):
                hold_out(g, split)
                break
    for split, fraction in (("test", test_fraction), ("val", val_fraction)):
        if fraction > 0 and counts[split] == 0:
            train_groups = [int(g) for g in order if int(g) not in assigned]
            movable = [g for g in train_groups if can_leave_train(g)]
            if movable and (len(train_groups) > 1 or forced):
                hold_out(min(movable, key=lambda g: len(groups[g])), split)
    split_of = {i: assigned.get(g, "train") for g, members in enumerate(groups) for i in members}
    split_of.update(dict.fromkeys(forced, "train"))
    return Manifest([replace(r, split=split_of[i]) for i, r in enumerate(rows)], manifest.root,
                    manifest.source)


def split_warnings(manifest: Manifest) -> list[str]:
    """What a signer-independent split of ``manifest`` cannot guarantee: rows without a
    signer id (split at random or put in train, so their signers may be anywhere)."""
    unknown = sum(r.signer is None for r in manifest.rows)
    if not unknown:
        return []
    if unknown == len(manifest):
        return [f"no row of {manifest.where()} has a signer id: the split is random, NOT "
                "signer-independent (test scores include signers seen in training); fill "
                "the signer column to keep signers apart"]
    return [f"{unknown} of {len(manifest)} rows have no signer id: the split is "
            f"signer-independent only for the {len(manifest.signers())} known signers; fill "
            "the signer column of those rows"]


def check_split_names(manifest: Manifest, used: Iterable[str] = (), what: str = "this command"
                      ) -> None:
    """Raise :class:`DataError` when the manifest has split names outside
    ``train``/``val``/``test`` and ``used`` (the names the caller selects by)."""
    bad = manifest.unknown_splits(also=used)
    if bad:
        names = ", ".join(f"{s!r} ({n} rows)" for s, n in bad.items())
        raise DataError(
            f"unknown split name(s) {names}; known: {', '.join(KNOWN_SPLITS)}. {what} "
            "selects rows by split, so these rows would be used in the wrong role or not at "
            "all: fix the split column (e.g. 'tset' -> 'test')",
            manifest.where(),
        )


def select_split(manifest: Manifest, split: str | None, what: str = "pretraining") -> str | None:
    """The split name to keep rows of, or ``None`` for every row.

    ``None`` when ``split`` is ``None`` or the manifest has no split names; raises
    :class:`DataError` when it has unknown split names (:func:`check_split_names`) or
    none named ``split`` (using every row would include the held-out clips).
    """
    names = {r.split for r in manifest.rows if r.split}
    if split is None or not names:
        return None
    check_split_names(manifest, [split], what)
    if split not in names:
        raise DataError(
            f"the manifest has splits {sorted(names)} but no {split!r} rows, and {what} reads "
            f"the {split!r} rows; name that split in the manifest, or choose another (null = "
            "every row)",
            manifest.where(),
        )
    return split


def describe_splits(manifest: Manifest) -> dict[str, dict[str, int]]:
    """Per split (``""`` = none): numbers of ``rows``, ``signers``, ``classes`` and rows
    with an ``unknown_signer``."""
    out: dict[str, dict[str, int]] = {}
    for split in manifest.splits():
        sub = [r for r in manifest.rows if (r.split or "") == split]
        out[split] = {
            "rows": len(sub),
            "signers": len({r.signer for r in sub if r.signer is not None}),
            "classes": len({r.label for r in sub if r.label is not None}),
            "unknown_signer": sum(r.signer is None for r in sub),
        }
    return out


def signer_overlap(manifest: Manifest) -> dict[str, list[str]]:
    """Signers appearing in more than one split -> their splits (empty when independent)."""
    where: dict[str, set[str]] = defaultdict(set)
    for r in manifest.rows:
        if r.signer is not None:
            where[r.signer].add(r.split or "")
    return {s: sorted(v) for s, v in sorted(where.items()) if len(v) > 1}


def classes_missing_from(manifest: Manifest, split: str = "train") -> list[str]:
    """Labels that occur in the manifest but in no row of ``split``."""
    present = {r.label for r in manifest.rows if r.split == split}
    return [c for c in manifest.labels() if c not in present]
