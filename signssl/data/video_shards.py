"""Video shards: a video manifest's clips as tar shards (``signssl shard`` of a video
manifest) and :class:`VideoShardDataset`, which reads them for ``signssl pretrain
--method signrep|mae --data SHARDS``.

The index is :mod:`signssl.data.shards`' ``shards.json`` with ``kind: "video"`` (the pose
options ``layout``, ``dims``, ``normalize`` are ``null``) and ``video: {"priors_dir": ...}``.
Per clip (key = manifest row, 9 digits) a shard holds ::

    <key>.mp4          the video file's bytes as they are (no re-encoding; the file's own
                       suffix: .mp4, .mov, .avi, .mkv or .webm)
    <key>.xyz.npy      (T', J, C) float32  the row's pose file (``pose_path``) as the
    <key>.conf.npy     (T', J) float32     folder reader reads it (whole file, own layout)
    <key>.priors.npz   the row's precomputed priors file (only with ``--priors-dir``)
    <key>.json         row, split_row, label, signer, split, start, end, extra, path (the
                       video's absolute path), frames and fps (as the folder reader counts
                       them), pose (path, layout, fps, source) or pose_error, priors

Writing (:func:`write_video_shards`) checks every row as the folder reader's
``scan`` does (the file opens, its packets are all there, the frame range selects a
frame): a row that fails is skipped and counted by reason.  A pose file that cannot be
read does not skip the video (MAE needs no pose): its error is stored and raised when
the priors are asked for, as the folder reader would, and counted in the report's notes.

Reading (:class:`VideoShardDataset`) is :class:`~signssl.data.signrep.PairClipDataset`
over the stored rows in manifest order, decoding each video from its bytes in memory
(:class:`~signssl.io.video.VideoBytes`) and taking the pose or precomputed priors from the
shard: for the same row and random state it gives the folder reader's sample.
:class:`VideoClipShardDataset` is :class:`~signssl.data.video.VideoDataset` over them the
same way (``signssl finetune-video --data SHARDS``); both serve the stored rows through the
:class:`StoredVideoRows` hooks.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from signssl.data.loading import UNREADABLE, SampleError
from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.parts import WHOLE
from signssl.data.report import ItemReport
from signssl.data.samples import VIDEO_EXTENSIONS
from signssl.data.shard_write import (
    check_kept,
    check_new_shards,
    clip_record,
    part_rows,
    rows_within_split,
    write_clips,
)
from signssl.data.shards import (
    CONF,
    META,
    XYZ,
    ShardDataset,
    ShardIndex,
    ShardInfo,
    npy_member,
    stored_sequence,
)
from signssl.data.signrep import (
    NO_PRIORS_FILE,
    PairClipDataset,
    check_pose,
    require_video_manifest,
)
from signssl.data.video import POSE_MISMATCH, VideoDataset, _as_sample_error
from signssl.errors import ConfigError, LayoutError, SignSSLError
from signssl.io.video import VideoBytes, probe_video
from signssl.pose.layouts import get_layout
from signssl.pose.sequence import PoseSequence
from signssl.priors import Priors
from signssl.utils import progress_bar

KIND = "video"
VIDEO, PRIORS = "video", "priors.npz"
#: tar member suffixes of a video clip (the video under its own suffix, see ALIASES)
VIDEO_MEMBERS = (VIDEO, XYZ, CONF, META, PRIORS)
ALIASES = {ext.lstrip("."): VIDEO for ext in VIDEO_EXTENSIONS}
_PRIOR_TOLERANCE = 2  # as signssl.data.signrep: frames a priors file may be shorter than its video


def manifest_kind(manifest: Manifest) -> str:
    """``"video"`` when every row's ``path`` is a video file, else ``"pose"``.

    A synthetic manifest (pose files in ``path``, videos in the ``video`` column) is a pose
    manifest here: ``signssl shard --kind video`` shards its videos.
    """
    rows = manifest.rows
    return KIND if rows and all(Path(r.path).suffix.lower() in VIDEO_EXTENSIONS for r in rows) else "pose"


# ----------------------------------------------------------------------------- writing


def _known_video(ds: VideoDataset | StoredVideoRows, row_index: int, frames: int, fps: float) -> None:
    """Give ``ds`` a row's frame count and rate (what ``VideoDataset.frames_of`` would
    probe the file for on first use; ``_meta`` is its cache)."""
    ds._meta[row_index] = (int(frames), float(fps))


def _video_bytes(ds: PairClipDataset, r: int) -> tuple[bytes, int, float]:
    """The row's video file bytes, frame count and rate; ``SampleError`` when the folder
    reader could not use it (missing, not a video, truncated, empty frame range)."""
    path = ds.video_path(r)
    if not path.is_file():
        raise SampleError(UNREADABLE, "file not found (fix the manifest path or remove the row)", path)
    try:
        data = path.read_bytes()
        info = probe_video(VideoBytes(data, str(path)), count=True)  # demuxes every packet
        _known_video(ds, r, info.num_frames, info.fps)
        ds.frames_of(r)  # the frame range check
    except OSError as e:
        raise SampleError(UNREADABLE, f"cannot read: {e}", path) from None
    except SignSSLError as e:
        raise _as_sample_error(e, path) from None
    return data, info.num_frames, info.fps


def _stored_pose(ds: PairClipDataset, r: int) -> tuple[PoseSequence | None, dict[str, Any]]:
    """The row's pose as the folder reader reads it and its json entry; ``(None,
    {"pose_error": [reason, message, path]})`` when it cannot be read."""
    try:
        seq, path = ds.read_pose(r)
        try:
            get_layout(seq.layout.name)
        except LayoutError:
            raise SampleError(POSE_MISMATCH, f"layout '{seq.layout.name}' is not a registered layout "
                              "name, which shards store", path) from None
    except SignSSLError as e:
        err = _as_sample_error(e, ds.video_path(r))
        message = str(err).removeprefix(f"{err.path}: ")
        return None, {"pose": None, "pose_error": [err.reason, message, err.path]}
    fps = None if seq.fps is None else float(seq.fps)
    return seq, {"pose": {"path": str(path), "layout": seq.layout.name, "fps": fps, "source": seq.source}}


def video_clip_record(ds: PairClipDataset, r: int, split_row: int, report: ItemReport) -> dict[str, Any] | None:
    """The tar members of row ``r`` (module docstring); ``None`` (counted in ``report``)
    when the video cannot be used."""
    row = ds.manifest.rows[r]
    path = ds.video_path(r)
    try:
        data, frames, fps = _video_bytes(ds, r)
    except SampleError as e:
        report.add(e.reason, str(path), str(e))
        return None
    seq, pose = _stored_pose(ds, r)
    if seq is None:
        report.note(f"pose not stored ({pose['pose_error'][0]})")
    priors = ds.priors_file(r) if ds.priors_dir is not None else None
    has_priors = priors is not None and priors.is_file()
    if priors is not None and not has_priors:
        report.note(NO_PRIORS_FILE)
    meta = {"row": r, "split_row": split_row, "label": row.label, "signer": row.signer, "split": row.split,
            "start": row.start, "end": row.end, "extra": row.extra, "path": str(path), "frames": frames,
            "fps": fps, "priors": has_priors, **pose}  # fmt: skip
    key = f"{r:09d}"
    record = clip_record(key, seq, meta) if seq is not None else {
        "__key__": key, META: json.dumps(meta, sort_keys=True).encode("utf-8")}  # fmt: skip
    record[path.suffix.lower().lstrip(".")] = data
    if has_priors:
        assert priors is not None
        record[PRIORS] = priors.read_bytes()
    return record


def write_video_shards(
    manifest: Manifest | str | Path,
    out: str | Path,
    *,
    priors_dir: str | Path | None = None,
    split: str | None = None,
    shard_size: int = 1000,
    part: tuple[int, int] = WHOLE,
    progress: bool = True,
) -> tuple[ShardIndex, ItemReport]:
    """Write the clips of a video ``manifest`` (rows of ``split``; ``None`` = all) to ``out``.

    Args:
        manifest: a video manifest (``path`` = video, ``pose_path`` = its pose file) or a
            synthetic one (converted by :func:`~signssl.data.signrep.video_manifest`).
        priors_dir: the folder of ``signssl priors`` on the pose files: each row's ``.npz``
            is stored too (for ``data.video.priors_dir`` runs).
        split, shard_size, part: as :func:`~signssl.data.shard_write.write_shards`.
    Returns:
        ``(index, report)``: the written index and the kept / skipped clips by reason.
    Raises:
        ConfigError: ``shard_size < 1``; ``out`` already holds this index; a row naming
            no video; ``priors_dir`` not a folder.
        DataError: a missing manifest; no usable clip.
    """
    check_new_shards(out, shard_size, part)
    full = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
    videos = require_video_manifest(full, full.source or manifest)
    ds = PairClipDataset(videos, clip_len=1, size=(8, 8), crops=1, priors=priors_dir is not None,
                         priors_dir=priors_dir, split=split, on_error="raise", seed=0)  # fmt: skip
    rows = part_rows(ds.manifest, part)
    split_row = rows_within_split(ds.manifest)
    report = ItemReport()

    def clips() -> Iterable[tuple[dict[str, Any], str | None]]:
        for r in progress_bar(rows, desc="sharding", unit="video", disable=not progress):
            record = video_clip_record(ds, r, split_row[r], report)
            if record is not None:
                report.kept += 1
                yield record, ds.manifest.rows[r].split

    def index_of(infos: list[ShardInfo]) -> ShardIndex:
        source = check_kept(infos, part, report, full, manifest)
        return ShardIndex(Path(out), infos, None, None, None, False, ds.classes, kind=KIND, manifest=source,
                          report=report.to_dict(),
                          video={"priors_dir": None if priors_dir is None else str(priors_dir)})  # fmt: skip

    return write_clips(out, shard_size, part, clips(), index_of), report


# ----------------------------------------------------------------------------- reading


class VideoShards(ShardDataset):
    """The clips of a video shard folder, by index: their members' bytes."""

    kind = KIND
    members = VIDEO_MEMBERS
    aliases = ALIASES

    def member(self, i: int, name: str) -> bytes | None:
        """Member ``name`` of clip ``i`` (in shard order); ``None`` when it has none."""
        s = int(np.searchsorted(self.starts, i, side="right")) - 1
        return self._shard(s).member(i - int(self.starts[s]), name)

    def __getitem__(self, i: int) -> dict[str, Any]:
        raise TypeError("VideoShards gives members (member()); VideoShardDataset gives samples")


def _row(meta: dict[str, Any]) -> ManifestRow:
    return ManifestRow(meta["path"], meta.get("label"), meta.get("signer"), meta.get("split"),
                       meta.get("start"), meta.get("end"), dict(meta.get("extra") or {}))  # fmt: skip


class StoredVideoRows:
    """Serves a video dataset's rows from a video shard folder (mixed in before
    :class:`~signssl.data.video.VideoDataset` or a subclass): the stored rows in manifest
    order, each video decoded from its stored bytes, with the folder reader's ``index``.

    :meth:`open_stored` gives the manifest for the dataset's ``__init__``;
    :meth:`know_stored_frames` follows it.
    """

    shards: VideoShards
    _meta: dict[int, tuple[int, float]]  # VideoDataset's row -> (frames, fps) cache

    def open_stored(self, root: str | Path, split: str | None, max_open: int) -> Manifest:
        """Open the shards of ``split`` (``None``: all); the manifest of their rows."""
        shards = VideoShards(root, split=split, max_open=max_open)
        metas = [json.loads(shards.member(i, META) or b"{}") for i in range(len(shards))]
        order = sorted(range(len(metas)), key=lambda i: metas[i]["row"])  # manifest order
        self.shards, self._clip = shards, order  # row of the manifest -> clip in the shards
        self._metas = [metas[i] for i in order]
        manifest = Manifest([_row(m) for m in self._metas])
        for m in self._metas:
            m.pop("extra", None)  # held once, by the manifest rows
        self._row_key = "row" if split is None else "split_row"  # the folder reader's `index`
        return manifest

    def know_stored_frames(self) -> None:
        """Give the dataset every row's stored frame count and rate (no probing)."""
        for r, m in enumerate(self._metas):
            _known_video(self, r, m["frames"], m["fps"])

    def video_path(self, row_index: int) -> Path:
        return Path(self._metas[row_index]["path"])

    def _member(self, row_index: int, name: str) -> bytes | None:
        return self.shards.member(self._clip[row_index], name)

    def check_source(self, row_index: int) -> None:
        """Nothing to check: the writer checked the file and stored its bytes."""

    def video_source(self, row_index: int) -> VideoBytes:
        """The row's video file bytes, as stored in its shard."""
        data = self._member(row_index, VIDEO)
        if data is None:
            raise SampleError(UNREADABLE, "its shard clip has no video member; re-run `signssl shard`",
                              self.shards.index.root)
        return VideoBytes(data, str(self.video_path(row_index)))

    def sample_index(self, row_index: int) -> int:
        """The folder reader's ``index`` of the row (its manifest row, among its split's)."""
        return int(self._metas[row_index][self._row_key])


def check_video_shards(shards: VideoShards, metas: list[dict[str, Any]], priors: bool,
                       stored_priors: bool) -> None:
    """Raise ``ConfigError`` when the shards cannot give the priors the reader asks for."""
    root = shards.index.root
    have = (shards.index.video or {}).get("priors_dir")
    if priors and stored_priors and have is None:
        raise ConfigError(f"{root}: data.video.priors_dir is set but these shards hold no precomputed "
                          "priors: re-shard with `signssl shard --priors-dir DIR`, or unset "
                          "data.video.priors_dir to compute the priors from the stored poses")
    if priors and not stored_priors and metas and not any(m.get("pose") for m in metas):
        raise ConfigError(f"{root}: the method needs sign priors but these shards hold no pose (no "
                          "row's pose_path file could be read when sharded): re-shard a manifest whose "
                          "pose_path names the pose files, or shard with --priors-dir and set "
                          "data.video.priors_dir")


class VideoShardDataset(StoredVideoRows, PairClipDataset):
    """:class:`~signssl.data.signrep.PairClipDataset` over a video shard folder (module
    docstring): the same samples, read from the shards.

    Args:
        root: the shard folder.
        split: keep only the shards of this split; ``None`` keeps all.
        stored_priors: read the precomputed priors stored in the shards (the folder
            reader's ``priors_dir`` mode) instead of computing them from the stored poses.
        clip_len, size, crops, priors, bone_lengths, frame_step, fps, on_error, seed:
            as :class:`~signssl.data.signrep.PairClipDataset`.
        max_open: shards kept open per process.
    Raises:
        ConfigError: not video shards; priors asked that the shards cannot give.
        DataError: a bad index or shard; no shard of ``split``.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        *,
        stored_priors: bool = False,
        clip_len: int = 16,
        size: tuple[int, int] = (224, 224),
        crops: int = 2,
        priors: bool = True,
        bone_lengths: Any = None,
        frame_step: int = 1,
        fps: float | None = None,
        on_error: str = "skip",
        seed: int | None = None,
        max_open: int = 8,
    ) -> None:
        manifest = self.open_stored(root, split, max_open)
        check_video_shards(self.shards, self._metas, priors, stored_priors)
        super().__init__(manifest, clip_len=clip_len, size=size, crops=crops, priors=priors,
                         bone_lengths=bone_lengths, frame_step=frame_step, fps=fps,
                         classes=self.shards.classes, on_error=on_error, seed=seed)  # fmt: skip
        self.know_stored_frames()
        self.stored_priors = bool(priors) and stored_priors
        if self.stored_priors:
            self.with_pose = False
            self.priors_dir = self.shards.index.root  # crop_priors -> _stored_priors (the members)

    # ------------------------------------------------------------------ stored members

    def read_pose(self, row_index: int) -> tuple[PoseSequence, Path]:
        """The row's stored pose (as the folder reader read its pose file)."""
        meta = self._metas[row_index]
        if meta.get("pose") is None:
            reason, message, path = meta.get("pose_error") or [UNREADABLE, "no pose stored", None]
            raise SampleError(reason, message, path or self.video_path(row_index))
        pose = meta["pose"]
        xyz, conf = self._member(row_index, XYZ), self._member(row_index, CONF)
        if xyz is None or conf is None:
            raise SampleError(UNREADABLE, "its shard clip lacks the pose members; re-run `signssl shard`",
                              self.shards.index.root)
        seq = stored_sequence(npy_member(xyz, 0, len(xyz)), npy_member(conf, 0, len(conf)),
                               get_layout(pose["layout"]), pose["fps"], pose["source"])  # fmt: skip
        return seq, Path(pose["path"])

    def stored_priors_of(self, row_index: int) -> tuple[Priors, str]:
        """The row's precomputed priors, from the clip's ``priors.npz`` member."""
        data = self._member(row_index, PRIORS)
        if data is None:
            raise self._no_priors(row_index)
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            pri = Priors.from_arrays({k: z[k] for k in z.files}, source=f"{self.video_path(row_index)} priors")
        return pri, "the stored priors"

    def _no_priors(self, row_index: int) -> SampleError:
        return SampleError(NO_PRIORS_FILE, "no precomputed priors stored for this video (its priors "
                           "file was missing when sharded); run `signssl priors` on the pose files and "
                           "re-shard, or unset data.video.priors_dir", self.video_path(row_index))

    # ------------------------------------------------------------------ checks

    def check_row(self, row_index: int) -> None:
        """``PairClipDataset.check_row`` on the stored clip: frame range, then the stored
        priors or pose."""
        path = self.video_path(row_index)
        try:
            self.frames_of(row_index)
            if not self.priors:
                return
            if self.stored_priors:
                if not self._metas[row_index].get("priors"):
                    raise self._no_priors(row_index)
                return
            seq, _ = self.read_pose(row_index)
            check_pose(seq, path)
        except SignSSLError as e:
            raise _as_sample_error(e, path) from e

    def __repr__(self) -> str:
        return (f"VideoShardDataset({len(self)} videos, crops={self.crops}, clip_len={self.clip_len}, "
                f"size={self.size}, priors={'stored' if self.stored_priors else self.priors}, "
                f"root={self.shards.index.root})")


class VideoClipShardDataset(StoredVideoRows, VideoDataset):
    """:class:`~signssl.data.video.VideoDataset` over a video shard folder: one clip per
    stored video, for the same rows and random state the same sample as the video manifest
    the shards were written from (``finetune-video --data SHARDS``); no ``pose``.

    Args:
        root: the shard folder.
        split: keep only the shards of this split; ``None`` keeps all.
        classes: the class list for label indices (default: the shards', i.e. the
            manifest's labels).
        max_open: shards kept open per process.
        options: :class:`~signssl.data.video.VideoDataset`'s ``clip_len``, ``sampling``,
            ``frame_step``, ``fps``, ``size``, ``dtype``, ``normalize``, ``transform``,
            ``on_error``, ``seed``.
    Raises:
        ConfigError: not video shards; ``with_pose``.  DataError: a bad index or shard; no
            shard of ``split``.
    """

    def __init__(self, root: str | Path, split: str | None = None, *, classes: Sequence[str] | None = None,
                 max_open: int = 8, **options: Any) -> None:  # fmt: skip
        if options.get("with_pose"):
            raise ConfigError(f"{root}: VideoClipShardDataset gives no pose; VideoShardDataset reads "
                              "the stored poses (as priors), a video manifest gives them with with_pose")
        manifest = self.open_stored(root, split, max_open)
        super().__init__(manifest, classes=self.shards.classes if classes is None else classes, **options)
        self.know_stored_frames()

    def __repr__(self) -> str:
        return (f"VideoClipShardDataset({len(self)} videos, {self.num_classes} classes, "
                f"clip_len={self.clip_len}, sampling={self.sampling}, size={self.size}, "
                f"root={self.shards.index.root})")
