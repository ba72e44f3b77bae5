"""Window features of a manifest: per-window sequences on disk, pooled video vectors.

Both jobs read every manifest row as a stream of window batches (:class:`WindowReader`),
windows as in :mod:`signssl.eval.windows` (``window`` frames every ``stride`` frames,
docs/methods.md#signrep-retrieval):

* video rows are decoded incrementally with :func:`signssl.io.video.iter_windows`, at
  most one batch of windows in memory, never the whole video; frames are plainly resized
  to the encoder's input size, resampled to the run's ``fps`` when it records one, and,
  with ``frame_step`` ``k > 1``, a window takes every ``k``-th frame of
  ``(window - 1) k + 1`` consecutive ones;
* pose rows are read whole (a pose file is small) the way the encoder was trained (its
  recorded layout, dims and normalisation) and cut into windows over pose frames.

:func:`extract_window_features` (``signssl extract-features``) writes one ``(N_windows,
D)`` float32 ``.npy`` per row, for downstream translation models, into ``OUT``::

    OUT/<row path without suffix>[_f<start>-<end>].npy   window i starts at frame i * stride
    OUT/index.csv        path, output, n_windows, fps, window, stride, start, end, label, signer
    OUT/report.json      counts (written, skipped as already done, failed by reason), speed
    OUT/extraction.json  encoder and window settings; a rerun with other settings is refused

Outputs are written atomically and an existing one is skipped, so an interrupted job is
resumed by running it again.  A row outside the manifest's folder is written under
``OUT/_external/<hash>_<name>``.  Unreadable rows are skipped and counted.

:func:`pooled_features` gives one L2-normalised vector per row (Eq. 12, ``avg`` or
activity-``weighted``) as :class:`~signssl.eval.features.Features`, which
``signssl evaluate retrieval --pooling`` and ``signssl class-distribution`` use.
"""

from __future__ import annotations

import csv
import hashlib
import io
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from signssl.data import PoseDataset
from signssl.data.loading import UNREADABLE, SampleError
from signssl.data.manifest import Manifest, ManifestRow
from signssl.data.parts import WHOLE, part_path, select_part
from signssl.data.report import ItemReport
from signssl.data.signrep import require_video_manifest
from signssl.errors import ConfigError, DataError
from signssl.eval.features import Features
from signssl.eval.windows import (
    DEFAULT_STRIDE,
    DEFAULT_WINDOW,
    WindowEmbedder,
    iter_window_batches,
    load_activity_head,
    video_window_batch,
)
from signssl.io import video as video_io
from signssl.io.video import probe_video
from signssl.models.activity_head import activity_head_files
from signssl.models.base import Encoder
from signssl.store.model import load_model, load_model_config, spec_of_run
from signssl.utils import (
    LOCK_FILE,
    atomic_path,
    atomic_write_text,
    folder_lock,
    json_ready,
    progress_bar,
    save_json,
)

INDEX_FILE, REPORT_FILE, SETTINGS_FILE = "index.csv", "report.json", "extraction.json"
INDEX_COLUMNS = (
    "path",
    "output",
    "n_windows",
    "fps",
    "window",
    "stride",
    "start",
    "end",
    "label",
    "signer",
)
EXTERNAL_DIR = "_external"
DUPLICATE = "duplicate row"


# ----------------------------------------------------------------------------- input


@dataclass(frozen=True)
class ClipInput:
    """How an encoder reads clips (what a run's ``model/config.json`` records).

    ``modality="video"``: ``frame_size`` ``(H, W)``, ``frame_step``, ``fps`` (``None`` =
    the file's rate).  ``modality="pose"``: ``layout``, ``dims``, ``normalize``,
    ``source_layout`` (layout of flat-vector files) and ``trim_empty``.
    """

    modality: str = "pose"
    frame_size: tuple[int, int] | None = None
    frame_step: int = 1
    fps: float | None = None
    layout: str | None = "masa49"
    dims: int | None = 2
    normalize: str = "auto"  # shoulders, or per hand for a clip without them
    source_layout: str | None = None
    trim_empty: bool = True  # drop leading / trailing frames without any joint

    def __post_init__(self) -> None:
        if self.modality not in ("video", "pose"):
            raise ConfigError(f"modality must be 'video' or 'pose', got {self.modality!r}")
        if self.frame_step < 1:
            raise ConfigError(f"frame_step must be >= 1, got {self.frame_step}")

    @classmethod
    def of_run(cls, checkpoint: str | Path, encoder: Encoder) -> ClipInput:
        """The input recorded with an exported run (``spec_of_run``)."""
        spec = spec_of_run(checkpoint)
        if spec.modality == "video":
            return cls.for_video(encoder, spec.frame_size, spec.frame_step, spec.fps)
        return cls("pose", layout=spec.layout, dims=spec.dims, normalize=spec.normalize,
                   trim_empty=spec.trim_empty)

    @classmethod
    def for_video(
        cls, encoder: Encoder, frame_size: Any = None, frame_step: int = 1, fps: float | None = None
    ) -> ClipInput:
        """Video input; ``frame_size`` defaults to the encoder's ``input_size[1:]``."""
        if frame_size is None:
            size = getattr(encoder, "input_size", None)
            if size is None:
                raise ConfigError(f"{type(encoder).__name__} has no input_size: give frame_size")
            frame_size = (int(size[1]), int(size[2]))
        return cls("video", (int(frame_size[0]), int(frame_size[1])), int(frame_step), fps)


def run_modality(checkpoint: str | Path) -> str:
    """``"video"`` or ``"pose"``: the modality recorded with an exported run."""
    return "video" if load_model_config(checkpoint).get("modality") == "video" else "pose"


def default_window(encoder: Encoder, window: int | None) -> int:
    """``window``, or the encoder's clip length (``input_size[0]``), or 16."""
    if window is not None:
        return int(window)
    size = getattr(encoder, "input_size", None)
    return int(size[0]) if size is not None else DEFAULT_WINDOW


# ----------------------------------------------------------------------------- reading


def _reason(e: DataError) -> str:
    return str(getattr(e, "reason", "unreadable"))


class WindowReader:
    """The window batches of every row of a manifest (module docstring).

    Args:
        manifest: the rows to read (a synthetic manifest naming poses in ``path`` and
            videos in ``video`` is read as a video manifest for video input).
        clip_input: how the encoder reads clips.
        window, stride: window length and stride (frames).
        batch_size: windows per batch.
        classes: class list of the pose dataset (default: the manifest's labels).
    """

    def __init__(
        self,
        manifest: Manifest,
        clip_input: ClipInput,
        window: int = DEFAULT_WINDOW,
        stride: int = DEFAULT_STRIDE,
        batch_size: int = 64,
        classes: list[str] | None = None,
    ) -> None:
        if window < 1 or stride < 1 or batch_size < 1:
            raise ConfigError(
                f"window, stride and batch size must be >= 1, got {window}, {stride}, {batch_size}"
            )
        self.input, self.window, self.stride, self.batch_size = (
            clip_input,
            window,
            stride,
            batch_size,
        )
        self.poses: Any = None
        self._last_pose: tuple[int, Any] | None = None  # (row, PoseSequence): read once per row
        if clip_input.modality == "video":
            self.manifest = require_video_manifest(manifest)
        else:
            self.manifest = manifest
            self.poses = PoseDataset(
                manifest,
                layout=clip_input.layout,
                dims=clip_input.dims,
                normalize=clip_input.normalize,  # type: ignore[arg-type]
                on_error="raise",
                source_layout=clip_input.source_layout,
                classes=classes,
                trim_empty=clip_input.trim_empty,
            )

    def __len__(self) -> int:
        return len(self.manifest)

    def row(self, row_index: int) -> ManifestRow:
        return self.manifest.rows[row_index]

    def path(self, row_index: int) -> Path:
        return self.manifest.resolve(self.manifest.rows[row_index])

    def fps(self, row_index: int) -> float:
        """Frame rate of the frames the windows are cut from."""
        if self.input.modality == "video":
            return float(self.input.fps or probe_video(self.path(row_index)).fps)
        return float(self._pose(row_index).fps or 0.0)

    def _pose(self, row_index: int) -> Any:
        if self._last_pose is None or self._last_pose[0] != row_index:
            self._last_pose = (row_index, self.poses.load(row_index))
        return self._last_pose[1]

    def batches(self, row_index: int) -> Iterator[Any]:
        """Encoder-ready window batches of one row; a bad row raises a ``DataError``
        naming its file (before any batch for a missing or truncated video)."""
        if self.input.modality == "video":
            return self._video_batches(row_index)
        return self._pose_batches(row_index)

    def _pose_batches(self, row_index: int) -> Iterator[Any]:
        seq = self._pose(row_index)
        x = torch.tensor(seq.xyz, dtype=torch.float32)  # (T, J, C)
        conf = torch.tensor(seq.conf, dtype=torch.float32)  # (T, J)
        return iter_window_batches(x, self.window, self.stride, self.batch_size, conf)

    def _video_batches(self, row_index: int) -> Iterator[Any]:
        path, row = self.path(row_index), self.row(row_index)
        if not path.is_file():
            raise SampleError(
                UNREADABLE, "file not found (fix the manifest path or remove the row)", path
            )
        video_io.count_frames(path)  # a truncated file fails here, before any window
        step = self.input.frame_step
        span = (self.window - 1) * step + 1
        windows = video_io.iter_windows(
            path, span, self.stride, row.start, row.end, self.input.fps, self.input.frame_size
        )
        return self._batched(windows, step)

    def _batched(self, windows: Iterator[Any], step: int) -> Iterator[Any]:
        held: list[np.ndarray] = []
        for clip in windows:
            held.append(clip.frames[::step])  # (window, H, W, 3)
            if len(held) == self.batch_size:
                yield _video_batch(held)
                held = []
        if held:
            yield _video_batch(held)


def _video_batch(frames: list[np.ndarray]) -> torch.Tensor:
    """``b`` windows ``(window, H, W, 3)`` uint8 -> ``(b, 3, window, H, W)`` uint8."""
    x = torch.from_numpy(np.stack(frames))  # (b, W, H, Wd, 3)
    return video_window_batch(x.permute(0, 1, 4, 2, 3))  # -> (b, W, 3, H, Wd) -> (b, 3, W, H, Wd)


# ----------------------------------------------------------------------------- pooled vectors


def pooled_features(
    embedder: WindowEmbedder, reader: WindowReader, progress: bool = True
) -> tuple[Features, ItemReport]:
    """One pooled, L2-normalised vector per readable row (Eq. 12) + the skipped rows.

    ``Features.info["pooling"]`` records the pooling, window, stride and
    :class:`~signssl.eval.windows.PoolingStats` (weighted-pooling fall-backs).
    """
    report = ItemReport()
    vectors: list[np.ndarray] = []
    labels: list[str] = []
    paths: list[str] = []
    signers: list[str] = []
    for row_index in progress_bar(
        range(len(reader)), desc="window features", unit="video", disable=not progress, leave=False
    ):
        try:
            z, a = embedder.embed_batches(reader.batches(row_index))
        except DataError as e:  # a bad row; configuration errors stop the job
            report.add(_reason(e), str(reader.path(row_index)), str(e))
            continue
        vectors.append(embedder.pool(z, a).vector.numpy())
        row = reader.row(row_index)
        labels.append(row.label or "")
        paths.append(str(reader.path(row_index)))
        signers.append(row.signer or "")
        report.kept += 1
    if not vectors:
        first = next((f"; first: {detail if item in detail else f'{item}: {detail}'}"
                      for probs in report.problems.values() for item, detail in probs), "")  # fmt: skip
        raise DataError(f"none of the {len(reader)} rows could be read ({report.summary()}){first}")
    info = {
        "pooling": {
            "mode": embedder.pooling,
            "window": embedder.window,
            "stride": embedder.stride,
            **embedder.stats.to_dict(),
        }
    }
    return Features(np.stack(vectors), labels, paths, signers, info), report


def make_embedder(
    encoder: Encoder,
    checkpoint: str | Path | None,
    pooling: str | None,
    window: int | None = None,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 64,
    device: str | None = None,
) -> WindowEmbedder:
    """A :class:`WindowEmbedder` for an encoder, with its run's activity head if any.

    ``pooling=None`` picks ``"weighted"`` when the run (``checkpoint``) has an activity
    head, else ``"avg"``; ``"weighted"`` without a head raises :class:`ConfigError`
    naming the missing file.
    """
    scorer = None if checkpoint is None else load_activity_head(checkpoint, encoder)
    if pooling is None:
        pooling = "weighted" if scorer is not None else "avg"
    if pooling == "weighted" and scorer is None:
        where = (
            "a training-free encoder has none"
            if checkpoint is None
            else f"{activity_head_files(checkpoint)[0]} does not exist"
        )
        raise ConfigError(
            f"pooling 'weighted' needs the run's activity head, but {where}; use pooling 'avg'"
        )
    return WindowEmbedder(
        encoder,
        default_window(encoder, window),
        stride,
        pooling,
        scorer if pooling == "weighted" else None,
        batch_size,
        device,
    )


def run_features(
    checkpoint: str | Path,
    manifest: str | Path | Manifest,
    split: str | None = None,
    pooling: str | None = None,
    window: int | None = None,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 64,
    device: str | None = None,
    progress: bool = True,
) -> tuple[Features, ItemReport]:
    """Pooled window features of a manifest's rows (one ``split`` or all) with a run."""
    m = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
    rows = m.filter(split=split) if split is not None else m
    if len(rows) == 0:
        raise DataError(
            f"no row of split {split!r} in the manifest (splits: {m.splits()})",
            None if isinstance(manifest, Manifest) else manifest,
        )
    encoder = load_model(checkpoint)
    embedder = make_embedder(encoder, checkpoint, pooling, window, stride, batch_size, device)
    reader = WindowReader(
        rows,
        ClipInput.of_run(checkpoint, encoder),
        embedder.window,
        stride,
        batch_size,
        classes=m.labels(),
    )
    feats, report = pooled_features(embedder, reader, progress)
    feats.info["checkpoint"] = str(Path(checkpoint).resolve())
    return feats, report


# ----------------------------------------------------------------------------- extraction


@dataclass
class ExtractionReport:
    """What :func:`extract_window_features` did.

    Attributes:
        out_dir: the output folder.
        rows: manifest rows seen.
        written: outputs written by this run.
        skipped_existing: outputs already there (left untouched).
        windows_written: windows embedded by this run.
        seconds: wall time of this run.
        problems: rows that could not be used, by reason.
    """

    out_dir: Path
    rows: int = 0
    written: int = 0
    skipped_existing: int = 0
    windows_written: int = 0
    seconds: float = 0.0
    problems: ItemReport = field(default_factory=ItemReport)

    @property
    def failed(self) -> int:
        return self.problems.num_problems

    @property
    def windows_per_second(self) -> float:
        return self.windows_written / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "rows": self.rows,
            "written": self.written,
            "skipped_existing": self.skipped_existing,
            "failed": self.failed,
            "windows_written": self.windows_written,
            "seconds": round(self.seconds, 3),
            "windows_per_second": round(self.windows_per_second, 3),
            "problems": self.problems.to_dict(),
        }

    def summary(self) -> str:
        return (
            f"{self.rows} rows: {self.written} written, {self.skipped_existing} already "
            f"done, {self.failed} failed; {self.windows_written} windows in "
            f"{self.seconds:.1f} s ({self.windows_per_second:.1f} windows/s)"
        )


def output_name(manifest: Manifest, row: ManifestRow) -> str:
    """Output file of a row, relative to the output folder (module docstring).

    >>> output_name(Manifest([], "/data"), ManifestRow("a/b.mp4", start=3, end=40))
    'a/b_f3-40.npy'
    """
    p = Path(row.path)
    rel: Path | None = None
    if not p.is_absolute():
        rel = p
    elif manifest.root is not None:
        try:
            rel = p.relative_to(Path(manifest.root).resolve())
        except ValueError:
            rel = None
    if rel is None or ".." in rel.parts:
        digest = hashlib.sha1(str(p).encode("utf-8")).hexdigest()[:10]
        rel = Path(EXTERNAL_DIR) / f"{digest}_{p.name}"
    stem = rel.with_suffix("").as_posix()
    if row.start is not None or row.end is not None:
        stem += f"_f{'' if row.start is None else row.start}-{'' if row.end is None else row.end}"
    return stem + ".npy"


def _settings(
    checkpoint: str, encoder: Encoder, window: int, stride: int, clip_input: ClipInput
) -> dict[str, Any]:
    return {
        "checkpoint": checkpoint,
        "model": load_model_config(checkpoint).get("name"),
        "out_dim": int(encoder.out_dim),
        "window": window,
        "stride": stride,
        "input": asdict(clip_input),
    }


def _check_settings(out_dir: Path, settings: dict[str, Any]) -> None:
    """Refuse to resume an output folder made with other settings."""
    import json

    path = out_dir / SETTINGS_FILE
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DataError(
            "cannot read the settings of the previous extraction; delete the file to start over",
            path,
        ) from None
    keys = ("model", "out_dim", "window", "stride", "input", "checkpoint")
    changed = [k for k in keys if json.dumps(old.get(k)) != json.dumps(json_ready(settings.get(k)))]
    if changed:
        raise ConfigError(
            f"{path}: this folder holds features made with other settings ({', '.join(changed)} "
            "differ); choose another --out folder or delete it"
        )


def _read_index(path: Path) -> dict[str, dict[str, str]]:
    """Previous ``index.csv`` entries by output file (empty when there is none)."""
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {r["output"]: r for r in csv.DictReader(f) if r.get("output")}


def _write_index(path: Path, entries: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(INDEX_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({k: "" if e.get(k) is None else e[k] for k in INDEX_COLUMNS})
    atomic_write_text(path, buf.getvalue())


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)


def extract_window_features(
    embedder: WindowEmbedder,
    reader: WindowReader,
    out_dir: str | Path,
    settings: dict[str, Any] | None = None,
    progress: bool = True,
    part: tuple[int, int] = WHOLE,
) -> ExtractionReport:
    """Write one ``(N_windows, D)`` float32 ``.npy`` per row of ``reader`` (module docstring).

    Existing outputs are skipped (resume); ``index.csv`` and ``report.json`` are rewritten
    at the end, also when the job is interrupted.  ``settings`` are stored in
    ``extraction.json``; a folder made with different settings raises :class:`ConfigError`.
    One job writes a folder at a time (:func:`signssl.utils.folder_lock`); ``part`` names a
    ``--part I/N`` job part (``reader`` holds its rows), which writes ``index.partIofN.csv``
    and ``report.partIofN.json`` under a lock of its own, so the parts share the folder.
    """
    with folder_lock(out_dir, "feature extraction", part_path(LOCK_FILE, part).name):
        return _extract_window_features(embedder, reader, Path(out_dir), settings, progress, part)


def _extract_window_features(
    embedder: WindowEmbedder,
    reader: WindowReader,
    out: Path,
    settings: dict[str, Any] | None,
    progress: bool,
    part: tuple[int, int] = WHOLE,
) -> ExtractionReport:
    if settings is not None:
        _check_settings(out, settings)
        save_json(out / SETTINGS_FILE, settings)
    index, report_file = part_path(out / INDEX_FILE, part), part_path(out / REPORT_FILE, part)
    old_index = _read_index(index)
    rep = ExtractionReport(out)
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    t0 = time.perf_counter()
    bar = progress_bar(range(len(reader)), desc="extract features", unit="video", disable=not progress)
    try:
        for row_index in bar:
            rep.rows += 1
            entry = _extract_row(embedder, reader, row_index, out, old_index, seen, rep)
            if entry is not None:
                entries.append(entry)
            bar.set_postfix(windows=rep.windows_written, failed=rep.failed, refresh=False)
    finally:
        rep.seconds = time.perf_counter() - t0
        rep.problems.kept = rep.written + rep.skipped_existing
        # rows not reached (an interrupted job) keep their entries from the previous run
        done = {e["output"] for e in entries}
        kept = [e for name, e in old_index.items() if name not in done and (out / name).is_file()]
        _write_index(index, entries + kept)
        save_json(report_file, {**rep.to_dict(), "settings": settings or {}})
    return rep


def _extract_row(
    embedder: WindowEmbedder,
    reader: WindowReader,
    row_index: int,
    out: Path,
    old_index: dict[str, dict[str, str]],
    seen: set[str],
    rep: ExtractionReport,
) -> dict[str, Any] | None:
    """Extract (or skip) one row; returns its ``index.csv`` entry, ``None`` when it failed."""
    row, path = reader.row(row_index), reader.path(row_index)
    name = output_name(reader.manifest, row)
    entry: dict[str, Any] = {
        "path": str(path),
        "output": name,
        "window": reader.window,
        "stride": reader.stride,
        "start": row.start,
        "end": row.end,
        "label": row.label or "",
        "signer": row.signer or "",
    }
    if name in seen:
        rep.problems.add(DUPLICATE, str(path), f"a previous row already writes {name}")
        return None
    seen.add(name)
    target = out / name
    try:
        if target.is_file():
            entry["n_windows"] = _existing_windows(target)
            previous = old_index.get(name, {})
            entry["fps"] = previous.get("fps") or _fps_text(reader.fps(row_index))
            rep.skipped_existing += 1
            return entry
        z, _ = embedder.embed_batches(reader.batches(row_index))
        entry["fps"] = _fps_text(reader.fps(row_index))
    except DataError as e:  # a bad row; configuration errors (ConfigError) stop the job
        rep.problems.add(_reason(e), str(path), str(e))
        return None
    _save_npy(target, z.numpy().astype(np.float32, copy=False))  # (N_windows, D)
    entry["n_windows"] = int(z.shape[0])
    rep.written += 1
    rep.windows_written += int(z.shape[0])
    return entry


def _existing_windows(target: Path) -> int:
    """Window count of a finished output (``DataError`` when it cannot be read)."""
    try:
        return int(np.load(target, mmap_mode="r").shape[0])
    except (OSError, ValueError) as e:
        raise DataError(
            f"existing output is damaged ({e}); delete it to redo the row", target
        ) from None


def _fps_text(fps: float) -> str:
    return f"{fps:g}"


def extract_run_features(
    checkpoint: str | Path,
    manifest: str | Path,
    out_dir: str | Path,
    window: int | None = None,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 64,
    split: str | None = None,
    device: str | None = None,
    progress: bool = True,
    part: tuple[int, int] = WHOLE,
) -> ExtractionReport:
    """``signssl extract-features``: a run's encoder over a manifest (module docstring);
    ``part``: only these rows of the manifest (``--part I/N``, :mod:`signssl.data.parts`)."""
    m = Manifest.read(manifest)
    rows = Manifest(select_part(m.rows, part), m.root, m.source)
    rows = rows.filter(split=split) if split is not None else rows
    if len(rows) == 0 and part == WHOLE:
        raise DataError(f"no row{f' of split {split!r}' if split else ''} to extract", manifest)
    encoder = load_model(checkpoint)
    clip_input = ClipInput.of_run(checkpoint, encoder)
    embedder = WindowEmbedder(
        encoder, default_window(encoder, window), stride, "avg", None, batch_size, device
    )
    reader = WindowReader(rows, clip_input, embedder.window, stride, batch_size, classes=m.labels())
    settings = _settings(
        str(Path(checkpoint).resolve()), encoder, embedder.window, stride, clip_input
    )
    return extract_window_features(embedder, reader, out_dir, settings, progress, part)
