"""Checking every sample of a manifest before training on it.

:func:`check_manifest` reads every row (it never stops at the first problem) with the
dataset's own reading pipeline (:func:`~signssl.data.loading.load_pose`: the same
invalid-coordinate rule and the same normalisation), and sorts the samples into

* ``unreadable``: missing file, unknown format, corrupt data, wrong layout;
* ``empty``: no frame, or a frame range selecting none;
* ``cannot normalise``: the chosen normalisation does not apply (e.g. ``shoulders`` on a
  clip without them);
* ``mostly missing``: fewer than ``min_present`` of the joint-frames detected
  (confidence > 0), all-missing sequences included;

and keeps the frame counts and detected shares of the usable ones; notes on usable ones
(invalid coordinates set missing, per-hand fallback of ``auto``) are counted in
``report.notes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from signssl.data.loading import ALL_MISSING, UNREADABLE, WRONG_LAYOUT, SampleError, load_pose
from signssl.data.manifest import Manifest
from signssl.data.report import ItemReport
from signssl.errors import ConfigError
from signssl.pose.layouts import Layout, get_layout
from signssl.pose.normalize import AUTO, check_normalize_mode
from signssl.utils import progress_bar

MOSTLY_MISSING = "mostly missing"


@dataclass
class ManifestCheck:
    """Result of :func:`check_manifest`.

    Attributes:
        report: ``kept`` = usable samples; problems ``unreadable`` / ``empty`` /
            ``mostly missing`` with (path, message).
        frames: frame count of every usable sample (after the frame range).
        present: detected share of joint-frames of every usable sample.
    """

    report: ItemReport
    frames: list[int] = field(default_factory=list)
    present: list[float] = field(default_factory=list)

    @property
    def num_unreadable(self) -> int:
        return self.report.count(UNREADABLE)

    def frame_stats(self) -> dict[str, float]:
        """min / mean / max frames of the usable samples (empty dict when none)."""
        if not self.frames:
            return {}
        f = np.asarray(self.frames)
        return {"min": int(f.min()), "mean": float(f.mean()), "max": int(f.max())}

    def to_dict(self) -> dict:
        return {**self.report.to_dict(), "frames": self.frame_stats()}


def check_manifest(
    manifest: Manifest | str | Path,
    layout: str | Path | Layout | None = None,
    min_present: float = 0.1,
    measure_layout: str | Path | Layout | None = None,
    fps: float | None = None,
    progress: bool = True,
    normalize: str = AUTO,
) -> ManifestCheck:
    """Read every sample of ``manifest`` and report the unusable ones.

    Args:
        manifest: a :class:`Manifest` or a manifest CSV path.
        layout: layout of flat-vector files (``read_pose``'s ``layout``).
        min_present: a sample with a smaller detected share is ``mostly missing``.
        measure_layout: measure the detected share on this layout's joints (e.g.
            ``"masa49"``, what the model sees) instead of the file's own layout, whose
            face points would otherwise dominate.
        fps: frame rate for formats that store none.
        progress: show a progress bar.
        normalize: the normalisation the data will be read with (``PoseDataset``'s).
    """
    if not 0.0 <= min_present <= 1.0:
        raise ConfigError(f"min_present must be in [0, 1], got {min_present}")
    m = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
    target = get_layout(measure_layout) if measure_layout is not None else None
    normalize = check_normalize_mode(normalize)
    layout = get_layout(layout) if layout is not None else None  # read a YAML file once
    result = ManifestCheck(ItemReport())
    for row in progress_bar(m.rows, desc="checking samples", unit="sample", disable=not progress):
        path = m.resolve(row)
        try:
            seq, notes = load_pose(path, row, layout, fps, target, normalize=normalize)
        except SampleError as e:
            reason = {ALL_MISSING: MOSTLY_MISSING, WRONG_LAYOUT: UNREADABLE}.get(e.reason, e.reason)
            result.report.add(reason, str(path), str(e))
            continue
        present = 1.0 - seq.missing_fraction()
        if present == 0.0 or present < min_present:
            result.report.add(
                MOSTLY_MISSING, str(path), f"{present:.1%} of joint-frames detected (< {min_present:.0%})"
            )
            continue
        result.frames.append(seq.num_frames)
        result.present.append(present)
        for note in notes:
            result.report.note(note)
    result.report.kept = len(result.frames)
    return result
