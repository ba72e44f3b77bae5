"""Batched pose augmentations in torch (SSL-SLR views, docs/methods.md#boundary-permutation).

Every transform takes a *pose batch* — a dict with ``x (B, T, J, C)`` coordinates,
``conf (B, T, J)`` confidences and ``frame_mask (B, T)`` bool, ``True`` = padded frame
(the output of ``signssl.data.collate_poses``; other keys pass through untouched) — and
a ``torch.Generator``, and returns a new batch; the input is never modified.

* Random parameters are drawn per sample, on the CPU, from the given generator (the
  global one when ``None``), so a seeded generator reproduces a view on any device.
* Each transform is applied to a sample with probability ``p`` (per sample).
* Missing joints (confidence 0) stay at coordinates 0 and padded frames are left as
  they are; spatial transforms move only present joints of valid frames.
* Spatial transforms act in the image plane (x, y) around the origin, which is the
  shoulder midpoint after ``normalize_shoulders``; z is only scaled.
* Temporal transforms that change the number of valid frames (:class:`RandomTemporalCrop`
  without resampling, :class:`RandomTemporalResample`) return the valid frames first and
  the padding after them.

>>> import torch
>>> views = default_view_pipeline("masa49")                       # doctest: +SKIP
>>> v1 = views(batch, torch.Generator().manual_seed(0))            # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from signssl.errors import ConfigError
from signssl.pose.layouts import DEFAULT_LAYOUT, Layout, get_layout

PoseBatch = dict[str, Any]


# ----------------------------------------------------------------------------- building blocks


def as_pose_batch(batch: PoseBatch | Tensor) -> PoseBatch:
    """A shallow copy of ``batch`` with ``x``, ``conf`` and ``frame_mask`` present and
    checked.  A bare ``(B, T, J, C)`` tensor becomes a batch whose joints with all
    coordinates 0 are missing and whose frames are all valid."""
    out: PoseBatch = {"x": batch} if isinstance(batch, Tensor) else dict(batch)
    x = out.get("x")
    if not isinstance(x, Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ConfigError(f"a pose batch needs 'x' as a (B, T, J, C) tensor, got {shape}")
    B, T, J, _ = x.shape
    if out.get("conf") is None:
        out["conf"] = (x != 0).any(-1).to(x.dtype)  # (B, T, J)
    if out.get("frame_mask") is None:
        out["frame_mask"] = torch.zeros(B, T, dtype=torch.bool, device=x.device)
    if out["conf"].shape != (B, T, J):
        raise ConfigError(f"'conf' must be (B, T, J) = {(B, T, J)}, got {tuple(out['conf'].shape)}")
    if out["frame_mask"].shape != (B, T):
        raise ConfigError(
            f"'frame_mask' must be (B, T) = {(B, T)}, got {tuple(out['frame_mask'].shape)}"
        )
    out["frame_mask"] = out["frame_mask"].bool()
    return out


def _uniform(n: int, low: float, high: float, generator: torch.Generator | None) -> Tensor:
    """``(n,)`` float32 uniform in ``[low, high)`` on the CPU."""
    return low + (high - low) * torch.rand(n, generator=generator)


def _chosen(n: int, p: float, generator: torch.Generator | None) -> Tensor:
    """``(n,)`` bool: which samples a transform applies to."""
    return torch.rand(n, generator=generator) < p


def _present(batch: PoseBatch) -> Tensor:
    """``(B, T, J, 1)`` bool: joint present and frame not padded."""
    return ((batch["conf"] > 0) & ~batch["frame_mask"][..., None]).unsqueeze(-1)


def _check_p(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"probability p must be in [0, 1], got {p}")
    return float(p)


def _valid_lengths_and_order(frame_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Valid frame count ``(B,)`` and ``(B, T)`` frame indices, valid frames first (in order)."""
    lengths = (~frame_mask).sum(dim=1)  # (B,)
    order = torch.argsort(frame_mask.to(torch.int8), dim=1, stable=True)  # (B, T)
    return lengths, order


def _gather_frames(batch: PoseBatch, src: Tensor, lengths: Tensor) -> PoseBatch:
    """New batch whose frame t of sample b is old frame ``src[b, t]`` for t < lengths[b],
    and padding (zeros, frame_mask True) after."""
    x, conf = batch["x"], batch["conf"]
    B, T, J, C = x.shape
    src = src.to(x.device)
    pad = torch.arange(T, device=x.device)[None, :] >= lengths.to(x.device)[:, None]  # (B, T)
    new_x = torch.gather(x, 1, src[:, :, None, None].expand(B, T, J, C))  # (B, T, J, C)
    new_conf = torch.gather(conf, 1, src[:, :, None].expand(B, T, J))  # (B, T, J)
    out = dict(batch)
    out["x"] = new_x.masked_fill(pad[:, :, None, None], 0.0)
    out["conf"] = new_conf.masked_fill(pad[:, :, None], 0.0)
    out["frame_mask"] = pad
    if "length" in batch:
        out["length"] = lengths.to(device=batch["length"].device, dtype=batch["length"].dtype)
    return out


class BatchTransform:
    """Base class: ``transform(batch, generator=None) -> batch``."""

    p: float = 1.0

    def __call__(
        self, batch: PoseBatch | Tensor, generator: torch.Generator | None = None
    ) -> PoseBatch:
        batch = as_pose_batch(batch)
        return self.apply(batch, generator)

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(BatchTransform):
    """Apply transforms in order with one generator."""

    def __init__(self, transforms: Sequence[BatchTransform]) -> None:
        self.transforms = list(transforms)

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        for t in self.transforms:
            batch = t.apply(batch, generator)
        return batch

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(t) for t in self.transforms)
        return f"Compose([\n  {inner}\n])"


# ----------------------------------------------------------------------------- spatial


def _apply_xy_matrix(batch: PoseBatch, A: Tensor) -> PoseBatch:
    """``x, y`` of present joints <- ``A (B, 2, 2)`` applied per sample."""
    x = batch["x"]
    A = A.to(device=x.device, dtype=x.dtype)
    xy = torch.einsum("btjc,bdc->btjd", x[..., :2], A)  # (B, T, J, 2) x (B, 2, 2) -> (B, T, J, 2)
    new = torch.cat([xy, x[..., 2:]], dim=-1)  # (B, T, J, C)
    out = dict(batch)
    out["x"] = torch.where(_present(batch), new, x)
    return out


class RandomRotation(BatchTransform):
    """Rotate (x, y) about the origin by an angle uniform in ``±max_degrees``."""

    def __init__(self, max_degrees: float = 15.0, p: float = 1.0) -> None:
        self.max_degrees, self.p = float(max_degrees), _check_p(p)

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        B = batch["x"].shape[0]
        deg = _uniform(B, -self.max_degrees, self.max_degrees, generator)
        theta = torch.where(_chosen(B, self.p, generator), deg, 0.0) * (math.pi / 180.0)
        c, s = torch.cos(theta), torch.sin(theta)
        A = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)  # (B, 2, 2)
        return _apply_xy_matrix(batch, A)


class RandomShear(BatchTransform):
    """Shear: ``x' = x + a·y``, ``y' = y + b·x`` with ``a, b`` uniform in ``±max_shear``."""

    def __init__(self, max_shear: float = 0.2, p: float = 1.0) -> None:
        self.max_shear, self.p = float(max_shear), _check_p(p)

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        B = batch["x"].shape[0]
        a = _uniform(B, -self.max_shear, self.max_shear, generator)
        b = _uniform(B, -self.max_shear, self.max_shear, generator)
        on = _chosen(B, self.p, generator)
        a, b = torch.where(on, a, 0.0), torch.where(on, b, 0.0)
        one = torch.ones(B)
        A = torch.stack([torch.stack([one, a], -1), torch.stack([b, one], -1)], -2)  # (B, 2, 2)
        return _apply_xy_matrix(batch, A)


class RandomScale(BatchTransform):
    """Multiply coordinates by a factor uniform in ``[min_scale, max_scale]`` (one per
    sample when ``isotropic``, else one per axis)."""

    def __init__(
        self, min_scale: float = 0.8, max_scale: float = 1.2, isotropic: bool = True, p: float = 1.0
    ) -> None:
        if not 0 < min_scale <= max_scale:
            raise ConfigError(f"need 0 < min_scale <= max_scale, got {min_scale}, {max_scale}")
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)
        self.isotropic, self.p = bool(isotropic), _check_p(p)

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        x = batch["x"]
        B, C = x.shape[0], x.shape[-1]
        n = 1 if self.isotropic else C
        s = _uniform(B * n, self.min_scale, self.max_scale, generator).reshape(B, n)
        s = torch.where(_chosen(B, self.p, generator)[:, None], s, 1.0).expand(B, C)  # (B, C)
        new = x * s.to(device=x.device, dtype=x.dtype)[:, None, None, :]
        out = dict(batch)
        out["x"] = torch.where(_present(batch), new, x)
        return out


class RandomJitter(BatchTransform):
    """Add Gaussian noise of std ``sigma`` to every present joint coordinate."""

    def __init__(self, sigma: float = 0.01, p: float = 1.0) -> None:
        if sigma < 0:
            raise ConfigError(f"sigma must be >= 0, got {sigma}")
        self.sigma, self.p = float(sigma), _check_p(p)

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        x = batch["x"]
        noise = torch.randn(x.shape, generator=generator) * self.sigma  # (B, T, J, C)
        on = _chosen(x.shape[0], self.p, generator)
        noise = noise * on[:, None, None, None]
        out = dict(batch)
        out["x"] = torch.where(_present(batch), x + noise.to(device=x.device, dtype=x.dtype), x)
        return out


# ----------------------------------------------------------------------------- parts


class RandomSigningSpace(BatchTransform):
    """Signers differ in the size and place of their signing space: move the arm joints
    (body joints named ``*_elbow`` / ``*_wrist``) to ``s * x + o`` in the image plane, one
    factor ``s`` uniform in ``[1 - scale, 1 + scale]`` and one offset ``o`` uniform in
    ``[-shift, shift]^2`` per sample (shoulder widths; around the origin, the shoulder
    midpoint after shoulder normalisation).  Shoulders, face and hand joints are left
    alone; z is unchanged.  Meant for hands given relative to their wrist
    (``data.normalize: shoulders_hands``): otherwise the hands do not follow the wrists."""

    def __init__(
        self, layout: str = DEFAULT_LAYOUT, scale: float = 0.15, shift: float = 0.1, p: float = 1.0
    ) -> None:
        if not 0.0 <= scale < 1.0 or shift < 0:
            raise ConfigError(f"need 0 <= scale < 1 and shift >= 0, got {scale}, {shift}")
        lay = get_layout(layout)
        names = lay.joint_names
        arm = [
            j for j, n in enumerate(names)
            if n.split(".")[0] == "body" and n.rsplit("_", 1)[-1] in ("elbow", "wrist")
        ]
        if not arm:
            raise ConfigError(
                f"layout '{lay.name}' has no body elbow/wrist joints for RandomSigningSpace"
            )
        self.layout, self.scale, self.shift, self.p = lay.name, float(scale), float(shift), _check_p(p)
        self._arm = torch.zeros(len(names), dtype=torch.bool)  # (J,) True = moved
        self._arm[arm] = True

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        x = batch["x"]
        B = x.shape[0]
        s = _uniform(B, 1.0 - self.scale, 1.0 + self.scale, generator)  # (B,)
        o = _uniform(B * 2, -self.shift, self.shift, generator).reshape(B, 2)  # (B, 2)
        on = _chosen(B, self.p, generator)
        s, o = torch.where(on, s, 1.0), o * on[:, None]
        new = x.clone()
        xy = x[..., :2] * s.to(x)[:, None, None, None] + o.to(x)[:, None, None, :]  # (B, T, J, 2)
        new[..., :2] = torch.where(self._arm.to(x.device)[None, None, :, None], xy, x[..., :2])
        out = dict(batch)
        out["x"] = torch.where(_present(batch), new, x)
        return out


class RandomHandDropout(BatchTransform):
    """Remove a whole hand from a clip: each hand part of each sample is dropped with
    probability ``p`` (coordinates 0, confidence 0 in every frame)."""

    def __init__(
        self,
        layout: str = DEFAULT_LAYOUT,
        p: float = 0.1,
        parts: Sequence[str] = ("left_hand", "right_hand"),
    ) -> None:
        lay = get_layout(layout)
        self.layout, self.p, self.parts = lay.name, _check_p(p), tuple(parts)
        missing = [q for q in self.parts if q not in lay.part_names]
        if missing:
            raise ConfigError(
                f"layout '{lay.name}' has no part(s) {missing} to drop; "
                f"its parts: {list(lay.part_names)}"
            )
        self._slices = [lay.part_slice(q) for q in self.parts]

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        x, conf = batch["x"], batch["conf"]
        B, J = x.shape[0], x.shape[2]
        keep = torch.ones(B, J, dtype=torch.bool)
        for sl in self._slices:
            drop = _chosen(B, self.p, generator)  # (B,)
            keep[:, sl] &= ~drop[:, None]
        keep = keep.to(x.device)[:, None, :]  # (B, 1, J)
        out = dict(batch)
        out["x"] = x * keep.unsqueeze(-1)
        out["conf"] = conf * keep
        return out


def mirror_permutation(layout: Layout | str) -> list[int]:
    """Joint index permutation of a horizontal mirror: ``left_*`` parts and joints swap
    with their ``right_*`` counterparts by qualified name (``left_hand.wrist`` <->
    ``right_hand.wrist``, ``body.left_elbow`` <-> ``body.right_elbow``); joints without
    a counterpart (``body.nose``, face points) keep their index."""
    lay = get_layout(layout)

    def swap(word: str) -> str:
        for a, b in (("left", "right"), ("right", "left")):
            if word == a or word.startswith(a + "_"):
                return b + word[len(a) :]
        return word

    perm = []
    for name in lay.joint_names:
        part, joint = name.split(".", 1)
        mirrored = f"{swap(part)}.{swap(joint)}"
        perm.append(lay.index(mirrored) if lay.has(mirrored) else lay.index(name))
    return perm


class RandomHorizontalFlip(BatchTransform):
    """Mirror about the vertical line ``x = center``: ``x -> 2·center − x`` and left/right
    joints swap (:func:`mirror_permutation`), so the left hand's points become the right
    hand's.  Missing joints move with their confidence and stay 0."""

    def __init__(self, layout: str = DEFAULT_LAYOUT, p: float = 0.5, center: float = 0.0) -> None:
        lay = get_layout(layout)
        self.layout, self.p, self.center = lay.name, _check_p(p), float(center)
        self._perm = torch.tensor(mirror_permutation(lay), dtype=torch.long)

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        x, conf = batch["x"], batch["conf"]
        if x.shape[2] != len(self._perm):
            raise ConfigError(
                f"flip built for layout '{self.layout}' ({len(self._perm)} joints) "
                f"got {x.shape[2]} joints; build it with the data's layout"
            )
        perm = self._perm.to(x.device)
        fx, fconf = x[:, :, perm].clone(), conf[:, :, perm]  # (B, T, J, C), (B, T, J)
        present = (fconf > 0) & ~batch["frame_mask"][..., None]  # (B, T, J)
        fx[..., 0] = torch.where(present, 2.0 * self.center - fx[..., 0], fx[..., 0])
        on = _chosen(x.shape[0], self.p, generator).to(x.device)  # (B,)
        out = dict(batch)
        out["x"] = torch.where(on[:, None, None, None], fx, x)
        out["conf"] = torch.where(on[:, None, None], fconf, conf)
        return out


# ----------------------------------------------------------------------------- temporal


class RandomTemporalCrop(BatchTransform):
    """Keep a random window of ``scale ∈ [min_scale, max_scale]`` of each clip's valid
    frames.  With ``resample`` the window is stretched back to the clip's length by
    nearest-frame indexing (a slow-down); otherwise the clip gets shorter (padding after)."""

    def __init__(
        self, min_scale: float = 0.5, max_scale: float = 1.0, resample: bool = True, p: float = 1.0
    ) -> None:
        if not 0 < min_scale <= max_scale <= 1:
            raise ConfigError(f"need 0 < min_scale <= max_scale <= 1, got {min_scale}, {max_scale}")
        self.min_scale, self.max_scale = float(min_scale), float(max_scale)
        self.resample, self.p = bool(resample), _check_p(p)

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        B, T = batch["frame_mask"].shape
        lengths, order = _valid_lengths_and_order(batch["frame_mask"].cpu())
        n = lengths.float()
        scale = torch.where(
            _chosen(B, self.p, generator),
            _uniform(B, self.min_scale, self.max_scale, generator),
            1.0,
        )
        win = (
            torch.clamp(torch.round(scale * n), min=1).minimum(lengths.clamp(min=1).float()).long()
        )
        start = torch.floor(torch.rand(B, generator=generator) * (lengths - win + 1).float()).long()
        t = torch.arange(T)[None, :]  # (1, T)
        if self.resample:
            rel = torch.floor(t * win[:, None].float() / n.clamp(min=1)[:, None]).long()  # (B, T)
            new_len = lengths
        else:
            rel, new_len = t.expand(B, T), torch.where(lengths > 0, win, 0)
        rank = (start[:, None] + rel).clamp(max=T - 1)  # (B, T) index among valid frames
        src = torch.gather(order, 1, rank)
        return _gather_frames(batch, src, new_len)


class RandomTemporalResample(BatchTransform):
    """Play each clip at a speed uniform in ``[min_speed, max_speed]`` by nearest-frame
    resampling: ``n`` valid frames become ``round(n / speed)`` (at most T, at least 1)."""

    def __init__(self, min_speed: float = 0.8, max_speed: float = 1.25, p: float = 1.0) -> None:
        if not 0 < min_speed <= max_speed:
            raise ConfigError(f"need 0 < min_speed <= max_speed, got {min_speed}, {max_speed}")
        self.min_speed, self.max_speed, self.p = float(min_speed), float(max_speed), _check_p(p)

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        B, T = batch["frame_mask"].shape
        lengths, order = _valid_lengths_and_order(batch["frame_mask"].cpu())
        speed = torch.where(
            _chosen(B, self.p, generator),
            _uniform(B, self.min_speed, self.max_speed, generator),
            1.0,
        )
        new_len = torch.round(lengths.float() / speed).long().clamp(min=1, max=T)
        new_len = torch.where(lengths > 0, new_len, 0)
        t = torch.arange(T)[None, :].float()  # (1, T)
        rank = torch.floor(
            t * lengths[:, None].float() / new_len.clamp(min=1)[:, None].float()
        ).long()
        rank = torch.minimum(rank, (lengths - 1).clamp(min=0)[:, None])  # (B, T)
        src = torch.gather(order, 1, rank)
        return _gather_frames(batch, src, new_len)


def boundary_segment_lengths(
    n: int, b_s: float, b_e: float, b_s_frames: int | None = None, b_e_frames: int | None = None
) -> tuple[int, int]:
    """Lengths ``(bs, be)`` of the permuted start and end segments of a clip of ``n``
    valid frames: ``floor(b_s·n)`` and ``floor(b_e·n)``, or the absolute frame counts
    when given; clipped so the two segments never overlap (``bs + be <= n``)."""
    eps = 1e-9  # float round-off: 0.29 * 100 = 28.999... must floor to 29
    bs = int(b_s_frames) if b_s_frames is not None else int(math.floor(b_s * n + eps))
    be = int(b_e_frames) if b_e_frames is not None else int(math.floor(b_e * n + eps))
    bs = max(0, min(bs, n))
    be = max(0, min(be, n - bs))
    return bs, be


class BoundaryPermutation(BatchTransform):
    """SSL-SLR boundary permutation (docs/methods.md#boundary-permutation).

    For each sample with ``n`` valid frames, the frames in ``[0, b_s)`` are put in a
    random order and, independently, those in ``[n − b_e, n)``; the middle keeps its
    order and padded frames stay.  Whole frames move, so hands and body share the
    permutation.  Defaults ``b_s = n/3``, ``b_e = n/4`` (fractions of each sample's
    valid length, floored); ``b_s_frames`` / ``b_e_frames`` give absolute counts
    instead (the boundary search, docs/methods.md#boundary-search, permutes "the first
    b frames").
    """

    def __init__(
        self,
        b_s: float = 1 / 3,
        b_e: float = 1 / 4,
        b_s_frames: int | None = None,
        b_e_frames: int | None = None,
        p: float = 1.0,
    ) -> None:
        for name, v in (("b_s", b_s), ("b_e", b_e)):
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"{name} is a fraction of the clip length in [0, 1], got {v}")
        for name, v in (("b_s_frames", b_s_frames), ("b_e_frames", b_e_frames)):
            if v is not None and v < 0:
                raise ConfigError(f"{name} must be >= 0, got {v}")
        self.b_s, self.b_e = float(b_s), float(b_e)
        self.b_s_frames, self.b_e_frames, self.p = b_s_frames, b_e_frames, _check_p(p)

    def permutation(self, frame_mask: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``(B, T)`` long source frame index per output frame (CPU)."""
        frame_mask = frame_mask.cpu()
        B, T = frame_mask.shape
        src = torch.arange(T).repeat(B, 1)  # (B, T) identity
        on = _chosen(B, self.p, generator)
        for b in range(B):
            valid = (~frame_mask[b]).nonzero().flatten()  # positions of the valid frames
            n = valid.numel()
            bs, be = boundary_segment_lengths(
                n, self.b_s, self.b_e, self.b_s_frames, self.b_e_frames
            )
            ps = torch.randperm(bs, generator=generator)
            pe = torch.randperm(be, generator=generator)
            if not on[b]:
                continue
            head, tail = valid[:bs], valid[n - be :]
            src[b, head] = head[ps]
            src[b, tail] = tail[pe]
        return src

    def apply(self, batch: PoseBatch, generator: torch.Generator | None) -> PoseBatch:
        src = self.permutation(batch["frame_mask"], generator).to(batch["x"].device)
        x, conf = batch["x"], batch["conf"]
        B, T, J, C = x.shape
        out = dict(batch)
        out["x"] = torch.gather(x, 1, src[:, :, None, None].expand(B, T, J, C))  # (B, T, J, C)
        out["conf"] = torch.gather(conf, 1, src[:, :, None].expand(B, T, J))  # (B, T, J)
        return out


# ----------------------------------------------------------------------------- pipelines


def default_view_pipeline(
    layout: str = DEFAULT_LAYOUT,
    boundary_permutation: bool = True,
    b_s: float = 1 / 3,
    b_e: float = 1 / 4,
    spatial: bool = True,
    flip_p: float = 0.0,
    hand_dropout_p: float = 0.0,
    b_s_frames: int | None = None,
    b_e_frames: int | None = None,
    temporal_p: float = 0.0,
    spatial_strength: float = 1.0,
    signing_space: float = 0.0,
) -> Compose:
    """The SSL-SLR view: boundary permutation then mild spatial noise.

    ``boundary_permutation=False`` gives the "classical" whole-sequence augmentations
    of the paper's Table 1 comparison (rotation, noise, flip — set ``flip_p``).
    ``b_s_frames`` / ``b_e_frames`` replace the fractions by absolute frame counts.
    Spatial: rotation ±15°, shear ±0.1, scale 0.9–1.1, jitter σ = 0.01 (shoulder widths);
    ``spatial_strength`` multiplies the four magnitudes (2 → ±30°, ±0.2, 0.8–1.2, σ 0.02).
    ``temporal_p`` > 0 first applies, each with that probability, a temporal crop keeping
    70–100 % of the clip (stretched back) and a speed change of 0.8–1.25x.
    ``signing_space`` > 0 (not in the paper) adds :class:`RandomSigningSpace` with scale
    ``signing_space`` and shift ``signing_space`` (after the spatial noise).
    """
    ts: list[BatchTransform] = []
    if temporal_p > 0:
        ts += [
            RandomTemporalCrop(0.7, 1.0, resample=True, p=temporal_p),
            RandomTemporalResample(0.8, 1.25, p=temporal_p),
        ]
    if boundary_permutation:
        ts.append(BoundaryPermutation(b_s, b_e, b_s_frames, b_e_frames))
    if not 0.0 <= spatial_strength < 10.0:
        raise ConfigError(f"spatial_strength must be in [0, 10), got {spatial_strength}")
    if spatial and spatial_strength > 0:
        k = float(spatial_strength)
        ts += [
            RandomRotation(15.0 * k),
            RandomShear(0.1 * k),
            RandomScale(1.0 - 0.1 * k, 1.0 + 0.1 * k),
            RandomJitter(0.01 * k),
        ]
    if signing_space > 0:
        ts.append(RandomSigningSpace(layout, scale=signing_space, shift=signing_space))
    if flip_p > 0:
        ts.append(RandomHorizontalFlip(layout, p=flip_p))
    if hand_dropout_p > 0:
        ts.append(RandomHandDropout(layout, p=hand_dropout_p))
    return Compose(ts)
