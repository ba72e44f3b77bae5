"""PoseSequence: one signer's keypoints over time, in a named layout.

Conventions (ARCHITECTURE.md):

* ``xyz``: ``(T, J, C)`` float32, C = 2 or 3, always finite;
* ``conf``: ``(T, J)`` float32 in ``[0, 1]``; a missing joint has confidence 0 (and
  coordinates 0) — never NaN;
* invalid coordinates (NaN, ±inf, or beyond ±:data:`MAX_ABS_COORD`, which no pixel,
  normalised or metric coordinate reaches) make the joint missing, in one place
  (:func:`sanitize`); ``invalid`` counts the joint-frames set missing for inf or absurd
  values (NaN is the usual "not detected" marker and is not counted);
* ``fps``: frames per second, ``None`` when unknown;
* ``layout``: the :class:`~signssl.pose.layouts.Layout` naming the J joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from signssl.errors import DataError, LayoutError
from signssl.pose.layouts import CONF_VALUES, Layout, get_layout

#: a coordinate beyond this magnitude is invalid (the joint is treated as missing)
MAX_ABS_COORD = 1e6


def invalid_joints(xyz: np.ndarray) -> np.ndarray:
    """``(T, J)`` True where a coordinate is NaN, ±inf or beyond ±``MAX_ABS_COORD``."""
    with np.errstate(invalid="ignore"):
        return ~(np.abs(np.asarray(xyz)) <= MAX_ABS_COORD).all(axis=-1)


def count_invalid(xyz: np.ndarray) -> int:
    """Joint-frames with an infinite or absurd (not NaN) coordinate."""
    xyz = np.asarray(xyz)
    return int((invalid_joints(xyz) & ~np.isnan(xyz).any(axis=-1)).sum())


def sanitize(
    xyz: np.ndarray, conf: np.ndarray | None, zero_is_missing: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Make coordinates finite and mark missing joints with confidence 0.

    A joint is missing when any coordinate is invalid (:func:`invalid_joints`: NaN, inf,
    beyond ±``MAX_ABS_COORD``), or (``zero_is_missing``, the MediaPipe convention) when
    all its coordinates are exactly 0.

    Args:
        xyz: ``(T, J, C)`` coordinates.
        conf: ``(T, J)`` confidences or ``None`` (1 for every present joint).
    Returns:
        ``xyz`` float32 ``(T, J, C)`` finite, ``conf`` float32 ``(T, J)`` in [0, 1].
    """
    bad = invalid_joints(xyz)  # (T, J)
    with np.errstate(over="ignore", invalid="ignore"):
        xyz = np.asarray(xyz, dtype=np.float32)
    if zero_is_missing:
        bad |= (xyz == 0).all(axis=-1)
    if conf is None:
        conf = np.ones(xyz.shape[:2], dtype=np.float32)
    else:
        conf = np.nan_to_num(np.asarray(conf, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        conf = np.clip(conf, 0.0, 1.0)
    conf = np.where(bad, np.float32(0), conf).astype(np.float32)
    xyz = np.where(bad[..., None], np.float32(0), xyz).astype(np.float32)
    return xyz, conf


@dataclass
class PoseSequence:
    """Keypoints of one clip.  See the module docstring for the conventions."""

    xyz: np.ndarray  # (T, J, C) float32
    conf: np.ndarray  # (T, J) float32 in [0, 1]
    layout: Layout
    fps: float | None = None
    source: str | None = None  # where it was read from, for messages
    invalid: int = field(default=0, compare=False)  # joint-frames set missing: inf / absurd

    def __post_init__(self) -> None:
        with np.errstate(over="ignore", invalid="ignore"):
            xyz = np.asarray(self.xyz, dtype=np.float32)
        conf = np.asarray(self.conf, dtype=np.float32)
        where = self.source or "pose sequence"
        if xyz.ndim != 3 or xyz.shape[-1] not in (2, 3):
            raise DataError(f"coordinates must be (T, J, 2|3), got {xyz.shape}", self.source)
        if conf.shape != xyz.shape[:2]:
            raise DataError(f"confidence must be {xyz.shape[:2]}, got {conf.shape}", self.source)
        if xyz.shape[1] != self.layout.num_joints:
            raise LayoutError(
                f"{where}: {xyz.shape[1]} joints but layout '{self.layout.name}' has "
                f"{self.layout.num_joints}"
            )
        bad = invalid_joints(xyz)  # (T, J)
        if bad.any():
            self.invalid += count_invalid(xyz)
        if bad.any() or not np.isfinite(conf).all():
            conf = np.where(np.isfinite(conf) & ~bad, conf, 0.0).astype(np.float32)
            xyz, conf = sanitize(xyz, conf, zero_is_missing=False)
            xyz[conf == 0] = 0.0
        self.xyz, self.conf = xyz, np.clip(conf, 0.0, 1.0)

    # -- shape
    @property
    def num_frames(self) -> int:
        return int(self.xyz.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.xyz.shape[1])

    @property
    def num_dims(self) -> int:
        return int(self.xyz.shape[2])

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        fps = "?" if self.fps is None else f"{self.fps:g}"
        return (
            f"PoseSequence(T={self.num_frames}, J={self.num_joints}, C={self.num_dims}, "
            f"fps={fps}, layout='{self.layout.name}', missing={self.missing_fraction():.3f})"
        )

    # -- missing data
    def missing_fraction(self) -> float:
        """Share of joint-frames with confidence 0 (1.0 for an empty sequence)."""
        return float((self.conf == 0).mean()) if self.conf.size else 1.0

    def part_missing_fractions(self) -> dict[str, float]:
        out = {}
        for p in self.layout.parts:
            c = self.conf[:, self.layout.part_slice(p.name)]
            out[p.name] = float((c == 0).mean()) if c.size else 1.0
        return out

    # -- selection
    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(xyz (T, Jp, C), conf (T, Jp))`` of one part (views, not copies)."""
        s = self.layout.part_slice(name)
        return self.xyz[:, s], self.conf[:, s]

    def to_layout(self, layout: Layout | str) -> PoseSequence:
        """Convert by qualified joint name; joints this sequence lacks get confidence 0."""
        target = get_layout(layout)
        src = np.array([self.layout._index.get(n, -1) for n in target.joint_names])  # (J',)
        have = src >= 0
        if not have.any():
            raise LayoutError(
                f"{self.source or 'sequence'}: layout '{self.layout.name}' shares no joint "
                f"with '{target.name}'"
            )
        xyz = np.zeros((self.num_frames, target.num_joints, self.num_dims), np.float32)
        conf = np.zeros((self.num_frames, target.num_joints), np.float32)
        xyz[:, have] = self.xyz[:, src[have]]
        conf[:, have] = self.conf[:, src[have]]
        return replace(self, xyz=xyz, conf=conf, layout=target)

    def select_joints(self, joints: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(xyz (T, len(joints), C), conf)`` for qualified names (all must exist)."""
        idx = self.layout.indices(joints)
        return self.xyz[:, idx], self.conf[:, idx]

    def frames(self, start: int | None = None, end: int | None = None) -> PoseSequence:
        """Frames ``[start, end)`` (Python slice semantics)."""
        return replace(self, xyz=self.xyz[start:end], conf=self.conf[start:end])

    def with_dims(self, dims: int) -> PoseSequence:
        """Keep the first ``dims`` coordinates (3 -> 2), or pad z with 0 (2 -> 3)."""
        if dims == self.num_dims:
            return self
        if dims == 2:
            return replace(self, xyz=self.xyz[..., :2].copy())
        pad = np.zeros(self.xyz.shape[:2] + (dims - self.num_dims,), np.float32)
        return replace(self, xyz=np.concatenate([self.xyz, pad], -1))

    # -- flat vectors
    @classmethod
    def from_flat(
        cls,
        flat: np.ndarray,
        layout: Layout | str,
        fps: float | None = None,
        source: str | None = None,
        zero_is_missing: bool = True,
    ) -> PoseSequence:
        """Decode ``(T, D)`` flat vectors laid out as ``layout`` says.

        Coordinates come from the parts' ``x, y, z`` values (C = 3 if any part has z;
        parts without z get z = 0); confidence from a confidence-like value when the part
        has one, else 1; all-zero or NaN joints are missing (confidence 0).
        """
        layout = get_layout(layout)
        flat = np.asarray(flat)
        if flat.ndim != 2:
            raise DataError(f"expected (T, D) flat vectors, got shape {flat.shape}", source)
        if flat.shape[1] != layout.flat_size:
            raise LayoutError(
                f"{source or 'array'}: {flat.shape[1]} values per frame but layout "
                f"'{layout.name}' expects {layout.flat_size} ({layout.summary()}); "
                "pick the matching --layout or write a layout YAML file"
            )
        T, C = flat.shape[0], 3 if layout.has_z else 2
        xyz = np.zeros((T, layout.num_joints, C), np.float32)
        conf = np.ones((T, layout.num_joints), np.float32)
        offset, j0 = 0, 0
        for p in layout.parts:
            nj, nv = len(p.joints), len(p.values)
            block = flat[:, offset : offset + nj * nv].reshape(T, nj, nv)  # (T, Jp, V)
            for k, v in enumerate(("x", "y", "z")[:C]):
                if v in p.values:
                    xyz[:, j0 : j0 + nj, k] = block[:, :, p.values.index(v)]
            cvals = [v for v in p.values if v in CONF_VALUES]
            if cvals:
                conf[:, j0 : j0 + nj] = block[:, :, p.values.index(cvals[0])]
            offset += nj * nv
            j0 += nj
        # missing = all coordinates the part stores are 0 (z=0 padding must not count)
        invalid = count_invalid(xyz)
        xyz_s, conf_s = sanitize(xyz, conf, zero_is_missing=False)
        if zero_is_missing:
            j0 = 0
            for p in layout.parts:
                nj = len(p.joints)
                dims = [k for k, v in enumerate(("x", "y", "z")[:C]) if v in p.values]
                zero = (xyz[:, j0 : j0 + nj][..., dims] == 0).all(-1)  # (T, Jp)
                conf_s[:, j0 : j0 + nj][zero] = 0.0
                j0 += nj
        xyz_s[conf_s == 0] = 0.0  # missing joints keep coordinates 0
        return cls(xyz_s, conf_s, layout, fps, source, invalid)

    def to_flat(self) -> np.ndarray:
        """Encode as ``(T, layout.flat_size)`` float32 (missing joints written as 0)."""
        T = self.num_frames
        out = []
        j0 = 0
        for p in self.layout.parts:
            nj = len(p.joints)
            block = np.zeros((T, nj, len(p.values)), np.float32)
            for k, v in enumerate(p.values):
                if v in ("x", "y", "z"):
                    d = "xyz".index(v)
                    if d < self.num_dims:
                        block[:, :, k] = self.xyz[:, j0 : j0 + nj, d]
                elif v in CONF_VALUES:
                    block[:, :, k] = self.conf[:, j0 : j0 + nj]
            out.append(block.reshape(T, -1))
            j0 += nj
        return np.concatenate(out, axis=1) if out else np.zeros((T, 0), np.float32)
