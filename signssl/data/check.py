"""Checking every sample of a manifest before training on it.

:func:`check_manifest` reads every row (it never stops at the first problem) and sorts
the samples into

* ``unreadable``: missing file, unknown format, corrupt data, wrong layout;
* ``empty``: no frame, or a frame range selecting none;
* ``mostly missing``: fewer than ``min_present`` of the joint-frames detected
  (confidence > 0), all-missing sequences included;

and keeps the frame counts and detected shares of the usable ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from signssl.data.loading import UNREADABLE, SampleError, apply_frame_range, read_sample
from signssl.data.manifest import Manifest
from signssl.data.report import ItemReport
from signssl.errors import ConfigError, SignSSLError
from signssl.pose.layouts import Layout, get_layout

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
    """
    if not 0.0 <= min_present <= 1.0:
        raise ConfigError(f"min_present must be in [0, 1], got {min_present}")
    m = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
    target = get_layout(measure_layout) if measure_layout is not None else None
    layout = get_layout(layout) if layout is not None else None  # read a YAML file once
    result = ManifestCheck(ItemReport())
    for row in tqdm(m.rows, desc="checking samples", unit="sample", disable=not progress):
        path = m.resolve(row)
        try:
            seq = apply_frame_range(read_sample(path, layout, fps), row, path)
            if target is not None:
                seq = seq.to_layout(target)
        except SampleError as e:
            result.report.add(e.reason, str(path), str(e))
            continue
        except SignSSLError as e:  # no joint shared with measure_layout
            result.report.add(UNREADABLE, str(path), str(e))
            continue
        present = 1.0 - seq.missing_fraction()
        if present == 0.0 or present < min_present:
            result.report.add(
                MOSTLY_MISSING, str(path), f"{present:.1%} of joint-frames detected (< {min_present:.0%})"
            )
            continue
        result.frames.append(seq.num_frames)
        result.present.append(present)
    result.report.kept = len(result.frames)
    return result
