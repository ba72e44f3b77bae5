"""Sharded pose datasets: tar shards read by index or streamed, each clip once per epoch.

A shard folder (written by :func:`signssl.data.shard_write.write_shards`, ``signssl
shard``) holds ::

    SHARDS/
      shards.json          the index: counts, options, classes, one entry per shard
      shard-000000.tar     WebDataset tar shards; per clip (key = manifest row, 9 digits)
      shard-000001.tar       <key>.xyz.npy   (T, J, C) float32 coordinates
      ...                    <key>.conf.npy  (T, J) float32 confidence in [0, 1]
                             <key>.json      label, signer, path, row, split, start,
                                             end, fps, extra (the manifest's other columns)

A clip is stored as :class:`~signssl.data.PoseDataset` produces it before ``transform``
(read, frame range, ``layout``, ``dims``, edge trim, normalisation; the index records
those options), so a shard sample is bit-identical to the folder reader's.  Shards never
mix manifest splits (the index gives each shard's ``split``), so a split is a set of
shards.  The tars are plain WebDataset shards (``webdataset.WebDataset(urls).decode()``
reads them too).

Reading.  :class:`ShardDataset` is a map-style dataset: sample ``i`` is read from its
shard by the members' byte offsets (a tar header scan when the shard is first opened;
at most ``max_open`` shards open per process, so memory does not grow with the corpus).
Its :meth:`~ShardDataset.epoch_order` is a *streaming* order: the shards in a seeded
order, then a shuffle buffer of ``buffer`` clips (:func:`shuffle_buffer`), both seeded by
``(seed, epoch)``; pretraining's batch sampler gives rank ``r`` of ``W`` the clips
``order[r::W]`` and resumes mid-epoch (:mod:`signssl.engine.loader`), so every clip is
read once per epoch across ranks and workers.  :class:`ShardStream` is the same order as
an ``IterableDataset`` for loops without a sampler: split by (rank, world size, worker,
workers) with :func:`stream_indices`, resumable from the number of clips consumed.

Video shards (``kind: video``, :mod:`signssl.data.video_shards`) hold encoded video files
instead; they share this index, the tar layout and the reading by offsets.

Errors: a shard that is missing, truncated (size differs from the index), not a tar or
holding an unreadable clip raises :class:`~signssl.errors.DataError` naming the file and
saying to re-run ``signssl shard``; :func:`verify_shards` checks every shard's sha256.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tarfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from signssl.errors import ConfigError, DataError
from signssl.pose.layouts import Layout, get_layout
from signssl.pose.sequence import PoseSequence

INDEX_NAME = "shards.json"
FORMAT = "signssl-pose-shards"
VERSION = 1
#: tar member suffixes of one clip
XYZ, CONF, META = "xyz.npy", "conf.npy", "json"
MEMBERS = (XYZ, CONF, META)
RERUN = "re-run `signssl shard` to rewrite the shards"


@dataclass(frozen=True)
class ShardInfo:
    """One shard file: ``name`` (relative to the folder), clips, bytes, sha256, split."""

    name: str
    count: int
    bytes: int
    sha256: str
    split: str | None = None


@dataclass
class ShardIndex:
    """What ``shards.json`` holds (module docstring); ``root`` is the shard folder."""

    root: Path
    shards: list[ShardInfo]
    layout: str | None
    dims: int | None
    normalize: str | None
    trim_empty: bool
    classes: list[str]
    kind: str = "pose"
    manifest: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    video: dict[str, Any] | None = None  # kind "video": what the clips hold besides the video

    @property
    def count(self) -> int:
        return sum(s.count for s in self.shards)

    def differences(self, layout: str | None, dims: int | None, normalize: str | None,
                    trim_empty: bool) -> list[tuple[str, Any, Any]]:
        """``(option, stored, asked)`` for each reading option the shards were written
        with another value of (``normalize`` ``None`` and ``"none"`` are the same)."""
        want = {"layout": layout, "dims": dims, "normalize": normalize or "none",
                "trim_empty": bool(trim_empty)}
        have = {"layout": self.layout, "dims": self.dims, "normalize": self.normalize or "none",
                "trim_empty": self.trim_empty}
        return [(k, have[k], want[k]) for k in want if have[k] != want[k]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "kind": self.kind, "count": self.count,
            "layout": self.layout, "dims": self.dims, "normalize": self.normalize,
            "trim_empty": self.trim_empty, "classes": self.classes, "manifest": self.manifest,
            "report": self.report, **({} if self.video is None else {"video": self.video}),
            "shards": [s.__dict__ for s in self.shards],
        }  # fmt: skip

    @classmethod
    def read(cls, root: str | Path) -> ShardIndex:
        """Read ``root/shards.json``.

        Raises:
            DataError: no index, not JSON, another format or a missing key.
        """
        root = Path(root)
        path = root / INDEX_NAME
        if not path.is_file():
            raise DataError(f"not a shard folder (no {INDEX_NAME}); make one with `signssl shard`", root)
        try:
            d = json.loads(path.read_text())
            if d.get("format") != FORMAT:
                raise DataError(f"format {d.get('format')!r} is not {FORMAT!r}; {RERUN}", path)
            if int(d.get("version", 0)) > VERSION:
                raise DataError(f"version {d['version']} is newer than this signssl reads ({VERSION}); "
                                "upgrade signssl", path)
            shards = [ShardInfo(**s) for s in d["shards"]]
            return cls(root, shards, d["layout"], d["dims"], d["normalize"], bool(d["trim_empty"]),
                       list(d["classes"]), d.get("kind", "pose"), d.get("manifest"), d.get("report", {}),
                       d.get("video"))
        except (ValueError, KeyError, TypeError) as e:
            if isinstance(e, DataError):
                raise
            raise DataError(f"unreadable shard index ({type(e).__name__}: {e}); {RERUN}", path) from None


def is_shard_dir(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a shard index."""
    return Path(path).is_dir() and (Path(path) / INDEX_NAME).is_file()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify_shards(root: str | Path) -> int:
    """Check every shard's size and sha256 against the index; the number of clips.

    Raises:
        DataError: naming the first shard that is missing or differs.
    """
    index = ShardIndex.read(root)
    for info in index.shards:
        path = index.root / info.name
        if not path.is_file():
            raise DataError(f"shard missing; {RERUN}", path)
        if path.stat().st_size != info.bytes or file_sha256(path) != info.sha256:
            raise DataError(f"shard differs from its index (size or sha256); {RERUN}", path)
    return index.count


# ----------------------------------------------------------------------------- order


def shuffle_buffer(items: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``items`` passed through a shuffle buffer of ``size`` (a permutation of ``items``).

    The first ``size`` items fill the buffer; each further item replaces a uniformly
    drawn slot, whose item is emitted; the rest of the buffer is emitted in random order.
    An item is emitted at most ``size`` positions before it arrives, so a reader going
    through the output stays within a window of ``size`` items of the input.
    """
    if size <= 1 or len(items) <= 1:
        return np.asarray(items).copy()
    size = min(size, len(items))
    buf = np.asarray(items[:size]).copy()
    rest = np.asarray(items[size:])
    slots = rng.integers(0, size, len(rest))  # (n - size,) drawn at once
    out = np.empty(len(items), dtype=buf.dtype)
    for k, (item, j) in enumerate(zip(rest.tolist(), slots.tolist(), strict=True)):
        out[k] = buf[j]
        buf[j] = item
    out[len(rest):] = rng.permutation(buf)
    return out


def epoch_order(counts: Sequence[int], seed: int, epoch: int, buffer: int) -> np.ndarray:
    """Indices ``0..sum(counts)-1`` for ``epoch``: shards (of ``counts`` clips, stored one
    after another) in a seeded order, through a shuffle buffer of ``buffer`` clips."""
    rng = np.random.default_rng([seed, epoch, 17])
    starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])  # (S + 1,)
    parts = [np.arange(starts[s], starts[s + 1]) for s in rng.permutation(len(counts))]
    seq = np.concatenate(parts) if parts else np.empty(0, np.int64)
    return shuffle_buffer(seq, buffer, rng)


def stream_indices(
    order: np.ndarray, rank: int, world_size: int, worker: int, num_workers: int, block: int,
    consumed: int = 0,
) -> np.ndarray:
    """The clips of ``order`` that worker ``worker`` of rank ``rank`` reads.

    Rank ``r`` of ``W`` gets ``order[r::W]`` after the last ``len(order) % W`` are dropped
    (every rank the same number of clips, as DDP needs; the order is reshuffled each
    epoch); it skips the first ``consumed`` (a resumed epoch), then its workers take blocks
    of ``block`` clips in turn, so a ``DataLoader`` with ``batch_size=block`` returns the
    rank's clips in the same order whatever ``num_workers`` is.
    """
    if not 0 <= rank < world_size or not 0 <= worker < max(num_workers, 1) or block < 1:
        raise ValueError(f"bad split: rank {rank} of {world_size}, worker {worker} of "
                         f"{num_workers}, block {block}")
    usable = len(order) - len(order) % world_size
    mine = np.asarray(order[:usable][rank::world_size])[consumed:]
    if num_workers <= 1:
        return mine
    blocks = np.arange(len(mine)) // block  # (n,) block of each clip
    return mine[blocks % num_workers == worker]


# ----------------------------------------------------------------------------- reading


def _tar_members(fd: int, size: int, path: Path) -> list[tuple[str, int, int, int]]:
    """``(name, header offset, data offset, data size)`` of a tar's members.

    Plain ustar headers (what :mod:`signssl.data.shard_write` writes) are read directly,
    checksums checked; a tar with other header types (PAX, GNU long names) is read by
    :mod:`tarfile`, ~50x slower.
    """
    out, pos = [], 0
    while pos + 512 <= size:
        block = os.pread(fd, 512, pos)
        if block == bytes(512):  # end of archive
            break
        kind = block[156:157]
        if kind not in (b"0", b"\0"):
            with tarfile.open(path, mode="r:") as tf:
                return [(m.name, m.offset, m.offset_data, m.size) for m in tf.getmembers()]
        stored = int(block[148:156].split(b"\0")[0].strip() or b"0", 8)
        if stored != sum(block[:148]) + 8 * 32 + sum(block[156:]):
            raise tarfile.HeaderError(f"bad checksum at byte {pos}")
        name = block[:100].split(b"\0")[0].decode()
        prefix = block[345:500].split(b"\0")[0].decode() if block[257:262] == b"ustar" else ""
        n = int(block[124:136].split(b"\0")[0].strip() or b"0", 8)
        if pos + 512 + n > size:
            raise EOFError(f"member {name!r} runs past the end of the file")
        out.append((f"{prefix}/{name}" if prefix else name, pos, pos + 512, n))
        pos += 512 + -(-n // 512) * 512
    return out


class _OpenShard:
    """A shard's file descriptor and, per clip, its byte span and member offsets in it.

    ``members``: the member suffixes tabled; ``aliases`` maps other suffixes to one of them
    (a video shard's ``mp4``, ``webm``, ... to ``video``).
    """

    def __init__(self, path: Path, info: ShardInfo, members: Sequence[str] = MEMBERS,
                 aliases: Mapping[str, str] | None = None) -> None:
        if not path.is_file():
            raise DataError(f"shard missing; {RERUN}", path)
        size = path.stat().st_size
        if size != info.bytes:
            raise DataError(f"shard is {size} bytes, its index says {info.bytes} (truncated or "
                            f"changed); {RERUN}", path)
        self.path, self.members, aliases = path, tuple(members), aliases or {}
        self.fd = os.open(path, os.O_RDONLY)  # os.pread: no shared offset across forked workers
        keys: list[str] = []
        rows: list[list[int]] = []  # per clip: span start, span end, then (offset, size) per member
        try:
            for name, header, offset, n in _tar_members(self.fd, size, path):
                key, _, suffix = name.partition(".")
                suffix = aliases.get(suffix, suffix)
                if not keys or keys[-1] != key:
                    keys.append(key)
                    rows.append([header, header] + [-1, 0] * len(self.members))
                row = rows[-1]
                if suffix in self.members:
                    col = 2 + 2 * self.members.index(suffix)
                    row[col:col + 2] = [offset - row[0], n]
                row[1] = offset + n
        except (tarfile.TarError, OSError, EOFError, ValueError) as e:
            os.close(self.fd)
            raise DataError(f"not a readable tar shard ({type(e).__name__}: {e}); {RERUN}", path) from None
        if len(keys) != info.count:
            os.close(self.fd)
            raise DataError(f"shard holds {len(keys)} clips, its index says {info.count}; {RERUN}",
                            path)
        self.table = np.array(rows, dtype=np.int64).reshape(len(rows), 2 + 2 * len(self.members))  # (n, 2 + 2 M)

    def key(self, k: int) -> str:
        return f"#{k} of the shard"  # position; keys are manifest rows (in the clip's json)

    def read(self, k: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """Clip ``k``: ``(xyz (T, J, C), conf (T, J), meta)``."""
        start, end, *members = self.table[k].tolist()
        data = os.pread(self.fd, end - start, start)
        try:
            if min(members[0::2]) < 0:
                missing = [m for m, off in zip(MEMBERS, members[0::2], strict=True) if off < 0]
                raise KeyError(f"no member {missing[0]}")
            xyz = npy_member(data, members[0], members[1])
            conf = npy_member(data, members[2], members[3])
            meta = json.loads(data[members[4]:members[4] + members[5]])
        except (KeyError, ValueError, OSError, EOFError) as e:
            raise DataError(f"clip {self.key(k)} is unreadable ({type(e).__name__}: {e}); {RERUN}",
                            self.path) from None
        return xyz, conf, meta

    def member(self, k: int, name: str) -> bytes | None:
        """The bytes of member ``name`` of clip ``k``; ``None`` when the clip has none."""
        col = 2 + 2 * self.members.index(name)
        start, offset, size = (int(v) for v in self.table[k, [0, col, col + 1]])
        if offset < 0:
            return None
        data = os.pread(self.fd, size, start + offset)
        if len(data) != size:
            raise DataError(f"clip {self.key(k)} is cut short; {RERUN}", self.path)
        return data

    def close(self) -> None:
        os.close(self.fd)


_NPY_HEADERS: dict[bytes, tuple[np.dtype, tuple[int, ...]]] = {}  # header -> (dtype, shape)


def npy_member(data: bytes, offset: int, size: int) -> np.ndarray:
    """The array of the ``.npy`` bytes ``data[offset:offset + size]`` (a writable copy).

    ``numpy.lib.format.read_array`` parses every header with ``ast``; clips share a few
    headers, so each is parsed once (by numpy) and the data read with ``frombuffer``.
    """
    if data[offset:offset + 6] != b"\x93NUMPY":
        raise ValueError("not a .npy member")
    major = data[offset + 6]
    width = 2 if major == 1 else 4
    start = offset + 8 + width + int.from_bytes(data[offset + 8:offset + 8 + width], "little")
    header = data[offset:start]
    if header not in _NPY_HEADERS:
        arr = np.lib.format.read_array(io.BytesIO(data[offset:offset + size]), allow_pickle=False)
        if arr.flags.f_contiguous and arr.ndim > 1 or arr.dtype.hasobject:
            return arr
        if len(_NPY_HEADERS) < 4096:
            _NPY_HEADERS[header] = (arr.dtype, arr.shape)
        return arr
    dtype, shape = _NPY_HEADERS[header]
    count = math.prod(shape)
    if start + count * dtype.itemsize > offset + size:
        raise ValueError("truncated .npy member")
    return np.frombuffer(data, dtype, count, start).reshape(shape).copy()


def stored_sequence(xyz: np.ndarray, conf: np.ndarray, layout: Layout, fps: float | None,
                     source: str) -> PoseSequence:
    """A ``PoseSequence`` of stored arrays without ``__post_init__``'s checks: they ran on
    these very arrays before they were written (a shape mismatch is still refused)."""
    if xyz.ndim != 3 or conf.shape != xyz.shape[:2] or xyz.shape[1] != layout.num_joints:
        raise ValueError(f"stored arrays {xyz.shape} / {conf.shape} do not fit layout '{layout.name}'")
    seq = object.__new__(PoseSequence)
    seq.__dict__.update(xyz=xyz, conf=conf, layout=layout, fps=fps, source=source, invalid=0)
    return seq


class ShardDataset(Dataset):
    """The clips of a shard folder, by index (module docstring).

    A sample is :class:`~signssl.data.PoseDataset`'s dict: ``{"pose": PoseSequence,
    "label": int (-1 = unlabeled), "path": str, "signer": str, "index": int (the
    manifest row; with ``split``, the row among that split's rows, as ``PoseDataset``)}``.

    Args:
        root: the shard folder.
        split: keep only the shards of this split; ``None`` keeps all.
        classes: class list giving label indices; ``None`` = the index's.
        seed, buffer: seed and shuffle-buffer size of :meth:`epoch_order` (0: uniform).
        max_open: shards kept open per process.
    Raises:
        ConfigError: shards of another ``kind`` (video shards).
        DataError: a bad index; no shard of ``split``; a label not in ``classes``.
    """

    kind: ClassVar[str] = "pose"  # the index's kind this reader takes
    members: ClassVar[tuple[str, ...]] = MEMBERS
    aliases: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        classes: Sequence[str] | None = None,
        seed: int = 0,
        buffer: int = 1000,
        max_open: int = 32,
    ) -> None:
        self.index = ShardIndex.read(root)
        if self.index.kind != self.kind:
            raise ConfigError(f"{self.index.root} holds {self.index.kind} shards, this reader needs "
                              f"{self.kind} shards: shard a {self.kind} manifest with `signssl shard`")
        shards = self.index.shards
        if split is not None:
            shards = [s for s in shards if s.split == split]
            if not shards:
                splits = sorted({str(s.split) for s in self.index.shards})
                raise DataError(f"no shard of split '{split}'; the shards hold: {', '.join(splits)}",
                                self.index.root)
        self.shards = shards
        self._row_key = "row" if split is None else "split_row"  # as PoseDataset(split=...) counts
        self.classes: list[str] = list(classes) if classes is not None else list(self.index.classes)
        self._class_index = {c: i for i, c in enumerate(self.classes)}
        self.layout: Layout | None = get_layout(self.index.layout) if self.index.layout else None
        self.seed, self.buffer, self.max_open = seed, buffer, max(1, max_open)
        self.counts = np.array([s.count for s in shards], dtype=np.int64)  # (S,)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)])  # (S + 1,)
        self._open: OrderedDict[int, _OpenShard] = OrderedDict()

    def __len__(self) -> int:
        return int(self.starts[-1])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def check_options(self, layout: str | None, dims: int | None, normalize: str | None,
                      trim_empty: bool) -> None:
        """Raise ``ConfigError`` unless the shards were written with these options."""
        diff = [f"{k}={have!r} (asked {want!r})"
                for k, have, want in self.index.differences(layout, dims, normalize, trim_empty)]
        if diff:
            raise ConfigError(f"{self.index.root}: the shards were written with {', '.join(diff)}; "
                              "re-shard with `signssl shard` and the same options, or match them "
                              "with --set data.<option>=...")

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The streaming order of ``epoch`` (:func:`epoch_order`), ``(len(self),)`` int64.

        ``buffer=0``: a uniform permutation drawn as :class:`~signssl.engine.loader.EpochBatchSampler`
        draws it for a folder, so training on the shards repeats a folder run exactly.
        """
        if self.buffer == 0:
            return np.random.default_rng([self.seed, epoch]).permutation(len(self))
        return epoch_order(self.counts.tolist(), self.seed, epoch, self.buffer)

    def _shard(self, s: int) -> _OpenShard:
        if s in self._open:
            self._open.move_to_end(s)
            return self._open[s]
        if len(self._open) >= self.max_open:
            self._open.popitem(last=False)[1].close()
        info = self.shards[s]
        shard = self._open[s] = _OpenShard(self.index.root / info.name, info, self.members, self.aliases)
        return shard

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a dataset of {n} clips")
        i = int(i) % n
        s = int(np.searchsorted(self.starts, i, side="right")) - 1
        shard = self._shard(s)
        xyz, conf, meta = shard.read(i - int(self.starts[s]))
        label = meta.get("label")
        if label is not None and label not in self._class_index:
            raise DataError(f"label '{label}' of clip {shard.key(i - int(self.starts[s]))} is not "
                            f"among the {len(self.classes)} classes given", shard.path)
        layout = self.layout if self.layout is not None else get_layout(meta["layout"])
        try:
            pose = stored_sequence(xyz, conf, layout, meta.get("fps"), meta["path"])
        except ValueError as e:
            raise DataError(f"{e}; {RERUN}", shard.path) from None
        return {
            "pose": pose,
            "label": -1 if label is None else self._class_index[label],
            "path": meta["path"],
            "signer": meta.get("signer") or "",
            "index": int(meta[self._row_key]),
        }

    def close(self) -> None:
        while self._open:
            self._open.popitem()[1].close()

    def __getstate__(self) -> dict[str, Any]:  # open files stay in their process
        state = dict(self.__dict__)
        state["_open"] = OrderedDict()
        return state

    def __repr__(self) -> str:
        return (f"ShardDataset({len(self)} clips in {len(self.shards)} shards, "
                f"{self.num_classes} classes, layout={self.index.layout}, root={self.index.root})")


class ShardStream(IterableDataset):
    """A :class:`ShardDataset` streamed in :meth:`~ShardDataset.epoch_order`, split by
    rank and worker (:func:`stream_indices`).

    Args:
        dataset: the shards.
        block: clips a worker yields in turn (the ``DataLoader``'s ``batch_size``).
        rank, world_size: this process's place; ``None`` = from ``torch.distributed``
            when it is initialised, else 0 of 1.
    Resume: :meth:`state_dict` is ``{"epoch", "consumed"}`` (clips of this rank already
    trained on, counted by the caller with :meth:`advance`, or the iterations of a
    loader without workers, back to 0 once the epoch is complete); :meth:`load_state_dict`
    makes the next iteration yield exactly the rest of that epoch.
    """

    def __init__(self, dataset: ShardDataset, block: int = 1, rank: int | None = None,
                 world_size: int | None = None) -> None:
        dist = torch.distributed.is_available() and torch.distributed.is_initialized()
        self.dataset, self.block = dataset, block
        self.rank = rank if rank is not None else (torch.distributed.get_rank() if dist else 0)
        self.world_size = (world_size if world_size is not None
                           else (torch.distributed.get_world_size() if dist else 1))
        self.epoch, self.consumed = 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.consumed = epoch, 0

    def __len__(self) -> int:
        """Clips of this rank per epoch."""
        return len(self.dataset) // self.world_size

    def advance(self, n: int) -> None:
        """Count ``n`` more clips of this epoch as consumed."""
        self.consumed += n

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "consumed": self.consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.consumed = int(state["epoch"]), int(state["consumed"])

    def indices(self, worker: int = 0, num_workers: int = 1) -> np.ndarray:
        """The clips worker ``worker`` of ``num_workers`` yields this epoch (after resume)."""
        order = self.dataset.epoch_order(self.epoch)
        return stream_indices(order, self.rank, self.world_size, worker, num_workers,
                              self.block, self.consumed)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        for i in self.indices(worker, workers).tolist():
            if info is None:
                self.consumed += 1
            yield self.dataset[i]
        if info is None:
            self.consumed = 0  # the epoch is complete: a new iteration starts it again
