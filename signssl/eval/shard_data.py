"""Shard folders (``signssl shard``) as evaluation data.

A shard folder given where evaluation takes a manifest (``--data``, ``--test-data``) is
read by :class:`~signssl.data.shards.ShardDataset`: its clips were stored as the folder
reader returns them, so the embeddings and metrics are those of the manifest it was
written from, provided the shards were written with the encoder's reading options
(``layout``, ``dims``, ``normalize``, ``trim_empty``; :func:`check_shard_options` refuses
others with the ``signssl shard`` command that fits the encoder).

A split is a set of shards (:func:`shard_splits`).  :func:`open_shards` reads the clips of
the selected shards once and keeps them (as the folder reader's cache does), served in
manifest row order by :class:`ShardClips`, so a split's clips come in the order the
manifest lists them, as the folder reader gives them.  Clips the shard writer could not
use were skipped and counted then (``report`` in ``shards.json``): reading counts none.

Video shards (``signssl shard --kind video``) are read by video encoders, whose rows are
pooled sliding windows: :func:`open_window_reader` gives a
:class:`~signssl.eval.window_reader.WindowReader` over the stored rows in manifest order
(:class:`VideoShardWindowReader`, each video decoded from its stored bytes), so the
vectors are those of the video manifest the shards were written from.  ``--pooling`` of a
pose encoder cuts its windows from the stored pose clips (:class:`PoseShardWindowReader`).
Pose shards with a video encoder and video shards with a pose encoder are refused in one
line (:func:`check_window_data`, :func:`check_shard_options`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from torch.utils.data import Dataset

from signssl.data.manifest import KNOWN_SPLITS, Manifest, ManifestRow
from signssl.data.report import ItemReport
from signssl.data.shards import ShardDataset, ShardIndex, is_shard_dir
from signssl.data.video_shards import KIND as VIDEO_KIND
from signssl.data.video_shards import VideoClipShardDataset
from signssl.errors import ConfigError, DataError
from signssl.eval.window_reader import ClipInput, WindowReader
from signssl.io.video import VideoBytes
from signssl.pose.layouts import Layout
from signssl.pose.sequence import PoseSequence
from signssl.utils import progress_bar


class ReadingOptions(Protocol):
    """How an encoder reads clips (an :class:`~signssl.eval.pipeline.EncoderSpec`)."""

    layout: str | None
    dims: int | None
    normalize: str | None
    trim_empty: bool | None


def is_shards(data: Any) -> bool:
    """Whether ``data`` is a shard folder (its path, or its read :class:`ShardIndex`)."""
    if isinstance(data, ShardIndex):
        return True
    return isinstance(data, str | Path) and is_shard_dir(data)


def shard_splits(index: ShardIndex) -> dict[str, int]:
    """Split name -> clips, over the shards that name a split."""
    out: dict[str, int] = {}
    for info in index.shards:
        if info.split:
            out[info.split] = out.get(info.split, 0) + info.count
    return out


def check_shard_split_names(index: ShardIndex, used: Iterable[str] = (),
                            what: str = "this command") -> None:
    """:class:`DataError` when the shards hold split names outside ``train``/``val``/``test``
    and ``used``, as :func:`signssl.data.check_split_names` for a manifest."""
    known = set(KNOWN_SPLITS) | set(used)
    bad = {s: n for s, n in shard_splits(index).items() if s not in known}
    if bad:
        names = ", ".join(f"{s!r} ({n} clips)" for s, n in bad.items())
        raise DataError(
            f"unknown split name(s) {names}; known: {', '.join(KNOWN_SPLITS)}. {what} selects "
            "clips by split, so these clips would be used in the wrong role or not at all: fix "
            "the manifest's split column and re-shard it", index.root,
        )


def reshard_command(index: ShardIndex, spec: ReadingOptions) -> str:
    """The ``signssl shard`` command writing these shards' manifest as ``spec`` reads it."""
    manifest = index.manifest or "MANIFEST.csv"
    keep = "" if spec.trim_empty else " --keep-empty"
    return (f"signssl shard --data {manifest} --out NEW_SHARDS --layout {spec.layout} "
            f"--dims {spec.dims} --normalize {spec.normalize or 'none'}{keep}")


POSE_SHARDS = "signssl shard --data MANIFEST --out SHARDS"
VIDEO_SHARDS = "signssl shard --data VIDEO_MANIFEST --out SHARDS --kind video"


def _video_shards_for_poses(index: ShardIndex) -> ConfigError:
    return ConfigError(f"{index.root}: video shards hold videos, and this pose encoder reads poses: "
                       f"pass the pose manifest, or pose shards written by `{POSE_SHARDS}`")


def check_shard_options(index: ShardIndex, spec: ReadingOptions) -> None:
    """:class:`ConfigError` naming the shard folder unless its clips were stored as
    ``spec`` reads them (layout, dims, normalize, trim_empty), and pose clips at all."""
    if index.kind == VIDEO_KIND:
        raise _video_shards_for_poses(index)
    if index.kind != "pose":
        raise ConfigError(f"{index.root}: shards of kind {index.kind!r}; evaluation reads pose "
                          "shards (`signssl shard`) or a manifest")
    diff = index.differences(spec.layout, spec.dims, spec.normalize, bool(spec.trim_empty))
    if diff:
        said = ", ".join(f"{k}={have!r} (the encoder reads {want!r})" for k, have, want in diff)
        raise ConfigError(f"{index.root}: the shards were written with {said}; re-shard the "
                          f"manifest with the encoder's options: {reshard_command(index, spec)}")


def refuse_shards(why: str, *data: Any) -> None:
    """:class:`ConfigError` naming the first of ``data`` that is a shard folder, ``why``
    saying what needs the manifest instead."""
    for item in data:
        if is_shards(item):
            root = item.root if isinstance(item, ShardIndex) else item
            raise ConfigError(f"{root}: a shard folder holds clips, not the manifest's files; {why}")


def check_window_data(video: bool, encoder: str, *data: Any) -> None:
    """:class:`ConfigError` naming the first shard folder among ``data`` whose rows cannot
    be read as pooled windows by ``encoder`` (``video``: a video encoder, which reads video
    shards; a pose encoder reads no shards then, ``--pooling`` cutting windows from the
    manifest's pose files)."""
    for item in data:
        if not is_shards(item):
            continue
        index = item if isinstance(item, ShardIndex) else ShardIndex.read(item)
        if video and index.kind != VIDEO_KIND:
            raise ConfigError(f"{index.root}: this shard folder holds pose clips only; the video "
                              f"encoder {encoder} reads videos: pass the video manifest, or video "
                              f"shards written by `{VIDEO_SHARDS}`")
        if not video and index.kind == VIDEO_KIND:
            raise _video_shards_for_poses(index)


def data_labels(data: Manifest | ShardIndex) -> list[str]:
    """The class list of a manifest (its sorted labels) or of a shard folder (its index's)."""
    return list(data.classes) if isinstance(data, ShardIndex) else data.labels()


class VideoShardWindowReader(WindowReader):
    """:class:`WindowReader` over a video shard folder (the shards of ``split``, ``None``:
    all): the stored rows in manifest order, with the manifest's paths, labels, signers and
    frame ranges, each video decoded from its stored bytes."""

    def __init__(self, index: ShardIndex, split: str | None, clip_input: ClipInput, window: int,
                 stride: int, batch_size: int) -> None:  # fmt: skip
        self.clips = VideoClipShardDataset(index.root, split=split, on_error="raise")
        super().__init__(self.clips.manifest, clip_input, window, stride, batch_size)

    def video_source(self, row_index: int) -> VideoBytes:
        return self.clips.video_source(row_index)


class PoseShardWindowReader(WindowReader):
    """:class:`WindowReader` over a pose shard folder (the shards of ``split``, ``None``:
    all): each stored clip, already read as the encoder reads clips
    (:func:`check_shard_options`), cut into windows, in manifest row order with the
    manifest's paths, labels and signers."""

    def __init__(self, index: ShardIndex, split: str | None, clip_input: ClipInput, window: int,
                 stride: int, batch_size: int) -> None:  # fmt: skip
        clips, _ = open_shards(index, clip_input, split, progress=False)
        rows = [ManifestRow(str(x["path"]), label=_label_name(clips, x["label"]),
                            signer=x.get("signer") or None) for x in clips.samples]  # fmt: skip
        super().__init__(Manifest(rows), clip_input, window, stride, batch_size,
                         classes=list(clips.classes))  # fmt: skip
        self.poses = clips  # load(i): the stored PoseSequence of row i


def _label_name(clips: ShardClips, label: int) -> str | None:
    """A stored clip's class name (``None``: unlabeled, ``label < 0``)."""
    return str(clips.classes[label]) if label >= 0 else None


def open_window_reader(data: Manifest | ShardIndex, split: str | None, clip_input: ClipInput,
                       encoder: str, window: int, stride: int, batch_size: int,
                       classes: list[str] | None = None) -> WindowReader:
    """The window reader of the rows of ``split`` (``None``: all) of a manifest or a video
    shard folder (:func:`check_window_data` for ``encoder``, the encoder's name);
    ``classes``: the pose dataset's class list (default: the manifest's labels).

    Raises:
        ConfigError: shards ``encoder`` cannot read.  DataError: no row of ``split``.
    """
    if isinstance(data, ShardIndex):
        video = clip_input.modality == "video"
        check_window_data(video, encoder, data)
        reader = VideoShardWindowReader if video else PoseShardWindowReader
        return reader(data, split, clip_input, window, stride, batch_size)
    rows = data.filter(split=split) if split is not None else data
    if len(rows) == 0:
        raise DataError(f"no sample{f' in split {split!r}' if split else ''} of the manifest")
    return WindowReader(rows, clip_input, window, stride, batch_size, classes=classes or data.labels())


class ShardClips(Dataset):
    """The clips of a :class:`ShardDataset` read once and kept, in manifest row order.

    Samples are the folder reader's dicts (``pose``, ``label``, ``path``, ``signer``,
    ``index``); ``classes`` and ``layout`` are the shards' (what
    :func:`~signssl.eval.features.extract_features` and the DTW baseline read).
    """

    def __init__(self, shards: ShardDataset, progress: bool = True) -> None:
        read = [shards[i] for i in progress_bar(range(len(shards)), desc="reading shards",
                                                unit="clip", disable=not progress)]
        shards.close()
        # "index": the manifest row (among its split's rows when one split is read)
        self.samples: list[dict[str, Any]] = sorted(read, key=lambda s: s["index"])
        self.classes: list[str] = list(shards.classes)
        self.layout: Layout | None = shards.layout
        self.root: Path = shards.index.root

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return dict(self.samples[i])

    def load(self, i: int) -> PoseSequence:
        """The pose of clip ``i``."""
        return self.samples[i]["pose"]

    def paths(self) -> list[str]:
        """Each clip's path (the manifest row's file, resolved), in order."""
        return [str(s["path"]) for s in self.samples]

    def __repr__(self) -> str:
        return f"ShardClips({len(self)} clips, {len(self.classes)} classes, root={self.root})"


def open_shards(index: ShardIndex, spec: ReadingOptions, split: str | None = None,
                progress: bool = True) -> tuple[ShardClips, ItemReport]:
    """``(ShardClips, ItemReport)`` of the shards of ``split`` (``None``: every shard),
    checked against ``spec``'s reading options (:func:`check_shard_options`).

    Raises:
        ConfigError: shards written with other options.  DataError: no shard of ``split``.
    """
    check_shard_options(index, spec)
    clips = ShardClips(ShardDataset(index.root, split=split, buffer=0), progress)
    if len(clips) == 0:
        where = f" in split {split!r}" if split else ""
        raise DataError(f"no clip{where} in the shards", index.root)
    return clips, ItemReport(kept=len(clips))
