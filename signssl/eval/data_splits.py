"""Which rows an evaluation trains on and which it tests (:func:`choose_splits`).

``--data`` / ``--test-data`` are manifests (CSV or :class:`~signssl.data.Manifest`) or
shard folders (``signssl shard``; a split is a set of shards).  With ``--test-data`` the
test set is that source's ``test_split`` rows if it has any, else all of it (transfer);
otherwise the source's ``train_split`` / ``test_split`` rows; a source without splits is
evaluated by leave-one-out or hold-out, decided by the protocol.
"""

from __future__ import annotations

from typing import Any

from signssl.data import Manifest, check_split_names
from signssl.data.shards import ShardIndex
from signssl.errors import ConfigError
from signssl.eval.shard_data import check_shard_split_names, is_shards, shard_splits


def read_data(data: Any) -> Any:
    """A :class:`Manifest` (given, or read from its CSV), or a shard folder's
    :class:`ShardIndex`."""
    if isinstance(data, Manifest | ShardIndex):
        return data
    return ShardIndex.read(data) if is_shards(data) else Manifest.read(data)


def split_names(source: Manifest | ShardIndex) -> set[str]:
    """The split names of a manifest's rows or of a shard folder's shards."""
    if isinstance(source, ShardIndex):
        return set(shard_splits(source))
    return {r.split for r in source if r.split}


def _check_split_names(source: Manifest | ShardIndex, used: tuple[str, ...], what: str) -> None:
    if isinstance(source, ShardIndex):
        check_shard_split_names(source, used, what)
    else:
        check_split_names(source, used, what)


def choose_splits(data: Any, test_data: Any | None, train_split: str,
                  test_split: str) -> tuple[Any, str | None, Any | None, str | None, str]:
    """``(train_manifest, train_split, test_manifest, test_split, description)``.

    ``data`` / ``test_data``: manifests or shard folders (returned as :class:`Manifest` /
    :class:`ShardIndex`).  ``test_manifest`` is ``None`` when the manifest has no split
    column (leave-one-out or hold-out, decided by the protocol).
    """
    m = read_data(data)
    splits = split_names(m)
    _check_split_names(m, (train_split, test_split), "evaluation (--train-split/--test-split)")
    if test_data is not None:
        t = read_data(test_data)
        _check_split_names(t, (test_split,), "evaluation (--test-split)")
        t_split = test_split if test_split in split_names(t) else None
        tr_split = train_split if train_split in splits else None
        desc = (f"transfer: train on {tr_split or 'all'} rows of the first manifest, test on "
                f"{t_split or 'all'} rows of the second")
        return m, tr_split, t, t_split, desc
    if not splits:
        return m, None, None, None, "no split column"
    missing = [s for s in (train_split, test_split) if s not in splits]
    if missing:
        where = f"the shards in {m.root} have" if isinstance(m, ShardIndex) else "the manifest has"
        raise ConfigError(
            f"{where} splits {sorted(splits)} but not {missing}; pass "
            "--train-split/--test-split with existing names"
        )
    return m, train_split, m, test_split, f"splits {train_split!r} / {test_split!r}"
