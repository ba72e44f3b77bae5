"""Motion residuals and MASA's motion-aware masking (MASA Alg. 1).

See docs/methods.md#motion-aware-masking.

All functions are vectorised over the batch and the frames (no Python loop over frames).

Polarity: every mask returned here is ``(B, T)`` bool with ``True`` = **masked**
(hidden from the encoder, in the prediction set ``M``); ``frame_mask`` arguments use the
batch convention ``True`` = padded.

* Motion residual with interval k: ``m_i = x_{i+k} − x_i`` when frames ``i`` and
  ``i + k`` are both real, else 0 (0-based ``i < T − k``).  Its weight is
  ``c_i · c_{i+k}`` per joint (0 when either joint is missing, and then ``m_i`` is set to 0
  for that joint).  Computed on the MASA-49 coordinates, so each part moves in its own
  normalised frame.
* Alg. 1: ``m̃_i = |m_i| · c_i · c_{i+k}`` per joint (``|·|`` = Euclidean length of the 2D
  displacement), ``p_i`` = fraction of the J joints with ``m̃_i ≥ ε_m``; frame ``i`` is a
  candidate when ``p_i ≥ δ`` and its residual exists; ``round(α·|S|)`` candidates are
  masked, chosen uniformly at random.  Defaults ε_m = 5.0 (256-unit crops), δ = 0.5,
  α = 0.9.
* Per-part rule (authors' code): per part (body, each hand) count the joints with
  ``m̃_i ≥ 3.0``; the frame is a candidate when some part has at least ``min_joints = 2``
  (code: "more than one joint").

>>> res = motion_residuals(x, conf, k=3, frame_mask=pad)               # doctest: +SKIP
>>> cand = motion_candidates(res, threshold=5.0, ratio=0.5)              # doctest: +SKIP
>>> masked = select_frames(cand, mask_counts(cand, 0.9), generator)      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from signssl.errors import ConfigError

SHARES = ("all", "confident")


@dataclass
class MotionResiduals:
    """``residual (B, T, J, C)``, ``weight (B, T, J)`` = ``c_i·c_{i+k}``, ``valid (B, T)``
    bool = the residual of frame i exists (frames i and i+k are real)."""

    residual: Tensor
    weight: Tensor
    valid: Tensor


def motion_residuals(
    x: Tensor, conf: Tensor, k: int = 3, frame_mask: Tensor | None = None
) -> MotionResiduals:
    """Residuals ``x_{i+k} − x_i`` and their confidence weights (module docstring).

    Args:
        x: ``(B, T, J, C)`` coordinates; conf: ``(B, T, J)`` (thresholded) confidence.
        k: interval length (>= 1).
        frame_mask: ``(B, T)`` bool, ``True`` = padded frame.
    """
    if k < 1:
        raise ConfigError(f"the residual interval k must be >= 1, got {k}")
    B, T = x.shape[:2]
    real = (
        torch.ones(B, T, dtype=torch.bool, device=x.device)
        if frame_mask is None
        else ~frame_mask.bool()
    )
    residual = torch.zeros_like(x)
    weight = torch.zeros_like(conf)
    valid = torch.zeros(B, T, dtype=torch.bool, device=x.device)
    if T > k:
        valid[:, : T - k] = real[:, : T - k] & real[:, k:]  # (B, T−k): frames i and i+k real
        w = conf[:, : T - k] * conf[:, k:] * valid[:, : T - k, None]  # (B, T−k, J)
        weight[:, : T - k] = w
        residual[:, : T - k] = (x[:, k:] - x[:, : T - k]) * (w > 0).unsqueeze(-1)  # (B, T−k, J, C)
    return MotionResiduals(residual, weight, valid)


def weighted_motion(res: MotionResiduals) -> Tensor:
    """``m̃_i = |m_i| · c_i · c_{i+k}``: ``(B, T, J)``."""
    return res.residual.norm(dim=-1) * res.weight


def motion_candidates(
    res: MotionResiduals, threshold: float = 5.0, ratio: float = 0.5, share: str = "all"
) -> Tensor:
    """Alg. 1 lines 1-8: ``(B, T)`` bool, frames whose share of joints with
    ``m̃ ≥ threshold`` is at least ``ratio``.

    ``share="all"``: over all J joints (Alg. 1 as printed: the denominator counts every
    ``m̃ ≥ 0``); ``"confident"``: over the joints with ``c_i·c_{i+k} > 0`` only, so that
    frames with a missing hand can still qualify (MediaPipe data often lacks a hand).
    """
    if share not in SHARES:
        raise ConfigError(f"share must be one of {list(SHARES)}, got {share!r}")
    moving = weighted_motion(res) >= threshold  # (B, T, J)
    if share == "all":
        p = moving.float().mean(dim=-1)  # (B, T) p_i
    else:
        seen = res.weight > 0  # (B, T, J)
        p = (moving & seen).sum(dim=-1) / seen.sum(dim=-1).clamp_min(1)
    return (p >= ratio) & res.valid


def part_motion_candidates(
    res: MotionResiduals, parts: Sequence[slice], threshold: float = 3.0, min_joints: int = 2
) -> Tensor:
    """Per-part rule: ``(B, T)`` bool, frames where some part has at least
    ``min_joints`` joints with ``m̃ ≥ threshold``."""
    moving = weighted_motion(res) >= threshold  # (B, T, J)
    counts = torch.stack([moving[:, :, sl].sum(dim=-1) for sl in parts], dim=-1)  # (B, T, P)
    return (counts >= min_joints).any(dim=-1) & res.valid


def mask_counts(candidates: Tensor, ratio: float) -> Tensor:
    """``round(ratio · |S|)`` per clip (halves round up): ``(B, T) bool -> (B,) long``."""
    if not 0.0 <= ratio <= 1.0:
        raise ConfigError(f"mask ratio must be in [0, 1], got {ratio}")
    n = candidates.sum(dim=1).double()  # (B,)
    return torch.floor(ratio * n + 0.5).long().minimum(candidates.sum(dim=1))


def select_frames(
    candidates: Tensor, counts: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """Choose ``counts[b]`` of clip b's candidate frames uniformly at random.

    Args:
        candidates: ``(B, T)`` bool.
        counts: ``(B,)`` long, at most the number of candidates of each clip.
        generator: CPU generator for the random order (reproducible on any device).
    Returns:
        ``(B, T)`` bool, ``True`` = selected (a subset of ``candidates``).
    """
    B, T = candidates.shape
    noise = torch.rand(B, T, generator=generator).to(candidates.device)  # (B, T) in [0, 1)
    noise = torch.where(candidates, noise, torch.full_like(noise, 2.0))  # non-candidates last
    rank = noise.argsort(dim=1).argsort(dim=1)  # (B, T) position of each frame in the order
    return (rank < counts.to(candidates.device)[:, None]) & candidates


def motion_aware_mask(
    res: MotionResiduals,
    mask_ratio: float = 0.9,
    threshold: float = 5.0,
    ratio: float = 0.5,
    parts: Sequence[slice] | None = None,
    part_threshold: float = 3.0,
    part_min_joints: int = 2,
    generator: torch.Generator | None = None,
    share: str = "all",
) -> tuple[Tensor, Tensor]:
    """Alg. 1: ``(mask, candidates)``, both ``(B, T)`` bool, ``True`` = masked / candidate.

    With ``parts`` the per-part rule picks the candidates, else the paper's rule
    (:func:`motion_candidates` with ``share``).
    """
    if parts is not None:
        cand = part_motion_candidates(res, parts, part_threshold, part_min_joints)
    else:
        cand = motion_candidates(res, threshold, ratio, share)
    return select_frames(cand, mask_counts(cand, mask_ratio), generator), cand


def random_frame_mask(
    res: MotionResiduals, counts: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """The random-masking ablation (MASA Tab. VI): ``counts[b]`` frames of clip b chosen
    uniformly among the frames whose residual exists (``True`` = masked)."""
    return select_frames(res.valid, counts.minimum(res.valid.sum(dim=1)), generator)


def temporal_subsample(
    frame_mask: Tensor, keep_ratio: float, generator: torch.Generator | None = None
) -> Tensor:
    """MASA Eq. 5 (random temporal sampling): keep ``max(1, round(keep_ratio·n))`` of each
    clip's ``n`` real frames at random, in order.

    Args:
        frame_mask: ``(B, T)`` bool, ``True`` = padded.
        keep_ratio: ``1 − α_r``.
    Returns:
        ``(B, T)`` bool, ``True`` = dropped from the view (padded frames included).
    """
    if not 0.0 < keep_ratio <= 1.0:
        raise ConfigError(f"keep ratio (1 - alpha_r) must be in (0, 1], got {keep_ratio}")
    real = ~frame_mask.bool()
    n = real.sum(dim=1)  # (B,)
    keep_n = torch.floor(keep_ratio * n.double() + 0.5).long().clamp(min=1).minimum(n)
    return ~select_frames(real, keep_n, generator)
