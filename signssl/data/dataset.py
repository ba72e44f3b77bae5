"""``PoseDataset``: the rows of a manifest as model-ready pose sequences.

Per sample, in order (the result of steps 1-5 is what ``cache=True`` keeps):

1. read the file with ``signssl.io.read_pose`` (``source_layout`` for flat formats);
2. keep the manifest's frame range ``[start, end)``;
3. convert to ``layout`` by joint name (joints the source lacks get confidence 0) and
   keep ``dims`` coordinates;
4. reject a sequence with no frame (``empty``) or no detected joint (``all missing``);
   with ``trim_empty``, drop the leading and trailing frames in which no joint is
   detected (e.g. the zero padding at the end of MP_Data sequences);
5. normalise (``"auto"``, the default: ``"shoulders"`` for a clip with both shoulders
   in some frame, else ``"hands"``, counted in the report's notes; ``"shoulders"``:
   centre on the shoulder midpoint, divide by the shoulder width, one frame for the
   clip; ``"shoulders_frame"``: per frame; ``"hands"``: each hand relative to its wrist;
   ``"shoulders_hands"``: body as ``"shoulders"``, each hand relative to its wrist and
   scaled by its own size, so hand shape is read apart from where the hand is, which the
   body's wrist joints still give; ``"none"``);
6. apply ``transform`` (augmentations; a function ``PoseSequence -> PoseSequence`` that
   returns new arrays: cached arrays are read-only).

A sample is a dict ``{"pose": PoseSequence, "label": int (-1 = unlabeled), "path": str
(absolute), "signer": str ("" = unknown), "index": int (row of ``dataset.manifest``)}``; batch
it with :func:`~signssl.data.collate.collate_poses`.

Errors: with ``on_error="raise"`` a bad sample raises
:class:`~signssl.data.loading.SampleError` (a ``DataError`` naming the file).  With
``on_error="skip"`` it is recorded (:meth:`PoseDataset.report`) and the next good
sample is returned in its place; :meth:`PoseDataset.scan` reads every sample once up
front and drops the bad ones, so that ``len()`` is exact and the report complete.  The
report and the cache live in the process that reads: with DataLoader workers, call
``scan()`` before building the loader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from torch.utils.data import Dataset

from signssl.data.loading import SampleError, load_pose, trim_empty_frames
from signssl.data.manifest import Manifest
from signssl.data.report import ItemReport
from signssl.errors import ConfigError, DataError
from signssl.pose.layouts import DEFAULT_LAYOUT, Layout, get_layout
from signssl.pose.normalize import check_normalize_mode
from signssl.pose.sequence import PoseSequence
from signssl.utils import progress_bar

__all__ = ["PoseDataset", "trim_empty_frames"]

Normalize = Literal["auto", "shoulders", "shoulders_frame", "hands", "shoulders_hands", "none"]
OnError = Literal["raise", "skip"]


def _frozen(seq: PoseSequence) -> PoseSequence:
    """Read-only arrays, so a cached sequence cannot be changed in place."""
    xyz, conf = seq.xyz.copy(), seq.conf.copy()
    xyz.setflags(write=False)
    conf.setflags(write=False)
    return replace(seq, xyz=xyz, conf=conf)


class PoseDataset(Dataset):
    """Pose sequences of a manifest (module docstring for the pipeline and errors).

    Args:
        manifest: a :class:`Manifest` or the path of a manifest CSV.
        layout: layout the model consumes (``"masa49"`` by default; a name, a YAML
            path or a Layout); ``None`` keeps each file's own layout.
        dims: coordinates kept (2 or 3; 2 -> 3 pads z with 0); ``None`` keeps them.
        normalize: ``"auto"`` (shoulders, or per hand for a clip without them),
            ``"shoulders"``, ``"shoulders_frame"``, ``"hands"``, ``"shoulders_hands"`` or
            ``"none"``.
        transform: applied to every sample's ``PoseSequence`` after the cache.
        split: keep only rows of this split (e.g. ``"train"``); ``None`` keeps all.
        on_error: ``"raise"`` or ``"skip"`` (skip and count bad samples).
        cache: keep decoded sequences in memory (steps 1-5).
        classes: the class list giving label indices; ``None`` = all labels of
            ``manifest`` (before ``split`` filtering, so every split of one manifest
            shares the indices).  Evaluate with the training class list.
        source_layout: layout of flat-vector files (e.g. an MP_Data layout YAML).
        fps: frame rate for formats that store none.
        trim_empty: drop leading/trailing frames without any detected joint (default:
            the zero padding at the end of MP_Data clips is not read as frames).
    Raises:
        DataError: a labelled row whose label is not in ``classes``; a missing manifest.
        ConfigError: a bad ``normalize``, ``on_error`` or ``dims``.
        LayoutError: an unknown ``layout`` or ``source_layout``.
    """

    def __init__(
        self,
        manifest: Manifest | str | Path,
        layout: str | Path | Layout | None = DEFAULT_LAYOUT,
        dims: int | None = 2,
        normalize: Normalize | None = "auto",
        transform: Callable[[PoseSequence], Any] | None = None,
        split: str | None = None,
        on_error: OnError = "raise",
        cache: bool = False,
        classes: Sequence[str] | None = None,
        source_layout: str | Path | Layout | None = None,
        fps: float | None = None,
        trim_empty: bool = True,
    ) -> None:
        full = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
        normalize = check_normalize_mode(normalize)
        if on_error not in ("raise", "skip"):
            raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        if dims not in (None, 2, 3):
            raise ConfigError(f"dims must be 2, 3 or None, got {dims!r}")
        self.classes: list[str] = list(classes) if classes is not None else full.labels()
        self.manifest = full.filter(split=split) if split is not None else full
        self.labels: list[int] = self.manifest.label_indices(self.classes)  # raises on unknown
        self.layout = get_layout(layout) if layout is not None else None
        self.dims, self.normalize, self.transform = dims, normalize, transform
        self.on_error, self.cache = on_error, cache
        # resolved once: a bad name fails here, and a YAML file is not re-read per sample
        self.source_layout = get_layout(source_layout) if source_layout is not None else None
        self.fps, self.trim_empty = fps, trim_empty
        self._indices: list[int] = list(range(len(self.manifest)))  # rows served, in order
        self._cache: dict[int, PoseSequence] = {}
        self._ok: set[int] = set()
        self._bad: dict[int, SampleError] = {}
        self._notes: dict[int, list[str]] = {}  # row -> what happened to the good sample

    # -- size / classes
    def __len__(self) -> int:
        return len(self._indices)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # -- loading
    def load(self, row_index: int) -> PoseSequence:
        """Steps 1-5 for manifest row ``row_index`` (cached when ``cache``).

        Raises:
            SampleError: the file is unreadable, empty, all missing or cannot be
                normalised.
        """
        if row_index in self._cache:
            return self._cache[row_index]
        row = self.manifest.rows[row_index]
        path = self.manifest.resolve(row)
        seq, notes = load_pose(path, row, self.source_layout, self.fps, self.layout, self.dims,
                               self.trim_empty, self.normalize)  # fmt: skip
        self._notes[row_index] = notes
        seq = replace(seq, source=str(path))
        if self.cache:
            seq = _frozen(seq)
            self._cache[row_index] = seq
        return seq

    def _try_load(self, row_index: int) -> PoseSequence | None:
        """``load`` that records the outcome; ``None`` when the sample is bad (skip mode)."""
        if row_index in self._bad:
            if self.on_error == "raise":
                raise self._bad[row_index]
            return None
        try:
            seq = self.load(row_index)
        except SampleError as e:
            self._bad[row_index] = e
            if self.on_error == "raise":
                raise
            return None
        self._ok.add(row_index)
        return seq

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self._indices)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a dataset of {n} samples")
        i %= n
        for k in range(n):  # skip mode: the next good sample replaces a bad one
            row_index = self._indices[(i + k) % n]
            seq = self._try_load(row_index)
            if seq is not None:
                return self._sample(row_index, seq)
        raise DataError(
            f"none of the {n} samples could be used ({self.report().summary()}; "
            f"{self.report().explain_none_kept()}); "
            "run `signssl manifest check` on the manifest"
        )

    def _sample(self, row_index: int, seq: PoseSequence) -> dict[str, Any]:
        row = self.manifest.rows[row_index]
        pose = self.transform(seq) if self.transform is not None else seq
        return {
            "pose": pose,
            "label": self.labels[row_index],
            "path": str(self.manifest.resolve(row)),
            "signer": row.signer or "",
            "index": row_index,
        }

    # -- bulk
    def scan(self, progress: bool = True) -> ItemReport:
        """Read every sample once (filling the cache), then serve only the good ones.

        With ``on_error="raise"`` the first bad sample raises; with ``"skip"`` all bad
        ones are counted in the returned :meth:`report` and removed from the dataset.
        """
        for row_index in progress_bar(list(self._indices), desc="reading poses", disable=not progress,
                              unit="sample"):
            self._try_load(row_index)
        self._indices = [i for i in self._indices if i not in self._bad]
        return self.report()

    def report(self) -> ItemReport:
        """Samples read so far: ``kept`` = good ones, problems by reason (path, message)."""
        rep = ItemReport(kept=len(self._ok))
        for row_index in sorted(self._bad):
            e = self._bad[row_index]
            rep.add(e.reason, str(self.manifest.resolve(row_index)), str(e))
        for row_index in sorted(self._ok):
            for note in self._notes.get(row_index, ()):
                rep.note(note)
        return rep

    def class_counts(self) -> np.ndarray:
        """Samples per class index, ``(num_classes,)`` int64 (unlabeled rows ignored)."""
        labels = np.array([self.labels[i] for i in self._indices], dtype=np.int64)
        return np.bincount(labels[labels >= 0], minlength=self.num_classes)

    def __repr__(self) -> str:
        layout = self.layout.name if self.layout is not None else "source"
        return (
            f"PoseDataset({len(self)} samples, {self.num_classes} classes, layout={layout}, "
            f"dims={self.dims}, normalize={self.normalize}, on_error={self.on_error}, "
            f"cache={self.cache})"
        )
