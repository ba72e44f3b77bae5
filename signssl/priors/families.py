"""The per-prior computations of :mod:`signssl.priors.compute`: ``[sin, cos]`` angles
between vectors, pair distances, windowed sums and the hand activity, and the per-frame
families of a block of lifted frames.

Arrays are ``(T, P, 3)`` points with ``(T, P)`` validity (**True = valid**); every family
returns ``(T, dim)`` values (0 where invalid) and their ``(T, dim)`` validity.
"""

from __future__ import annotations

import numpy as np

from signssl.errors import ConfigError
from signssl.priors.bones import rebuild
from signssl.priors.joints import HAND0, POINT_INDEX, Lifted, extend
from signssl.priors.specs import PRIOR_SPECS, _index

#: normalised units of the activity rule (:mod:`signssl.priors.compute` docstring)
REFERENCE_SHOULDER_WIDTH = 0.3
ACTIVITY_THRESHOLD = 0.26
ACTIVITY_WINDOW = 16


# ----------------------------------------------------------------------------- families


def _coords_first(points: np.ndarray) -> np.ndarray:
    """``(T, P, 3)`` -> contiguous ``(3, T, P)``: per-coordinate arithmetic on whole planes."""
    return np.ascontiguousarray(points.transpose(2, 0, 1))  # (T, P, 3) -> (3, T, P)


def vector_angles(
    points: np.ndarray,
    valid: np.ndarray,
    vec_from: np.ndarray,
    vec_to: np.ndarray,
    ang_u: np.ndarray,
    ang_w: np.ndarray,
    ang_sign: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``[sin, cos]`` of the angles between pairs of vectors.

    Vector ``k`` runs from point ``vec_from[k]`` to ``vec_to[k]``; angle ``i`` is between
    vectors ``u = ang_u[i]`` and ``w = ang_w[i]``, the cosine multiplied by
    ``ang_sign[i]`` (±1, for a vector used reversed).  ``sin = |u×w| / r``,
    ``cos = u·w / r`` with ``r = sqrt(|u×w|² + (u·w)²) = |u||w|``.

    Args:
        points: ``(T, P, 3)``; valid: ``(T, P)``; vec_from, vec_to: ``(V,)`` point
            indices; ang_u, ang_w: ``(N,)`` vector indices; ang_sign: ``(N,)`` or None.
    Returns:
        ``(T, 2N)`` interleaved ``sin_0, cos_0, sin_1, …`` and its ``(T, 2N)`` validity
        (all points valid and both vectors non-zero).
    """
    x = _coords_first(points)  # (3, T, P)
    vec = x[:, :, vec_to] - x[:, :, vec_from]  # (3, T, V)
    vec_ok = valid[:, vec_to] & valid[:, vec_from]  # (T, V)
    u, w = vec[:, :, ang_u], vec[:, :, ang_w]  # (3, T, N) each
    cx = u[1] * w[2] - u[2] * w[1]
    cy = u[2] * w[0] - u[0] * w[2]
    cz = u[0] * w[1] - u[1] * w[0]
    sin = np.sqrt(cx * cx + cy * cy + cz * cz)  # (T, N) = |u x w|
    cos = u[0] * w[0] + u[1] * w[1] + u[2] * w[2]  # (T, N) = u . w
    r = np.sqrt(sin * sin + cos * cos)  # (T, N) = |u| |w|
    ok = vec_ok[:, ang_u] & vec_ok[:, ang_w] & (r > 0)  # (T, N)
    inv = np.divide(1.0, r, out=np.zeros_like(r), where=ok)  # 0 where invalid
    T, N = ok.shape
    out = np.empty((T, N, 2), np.float32)
    out[..., 0] = sin * inv
    out[..., 1] = cos * inv if ang_sign is None else cos * inv * ang_sign
    return (
        out.reshape(T, 2 * N),  # (T, N, 2) -> (T, 2N)
        np.repeat(ok, 2, axis=1),  # (T, N) -> (T, 2N)
    )


def pair_distances(
    points: np.ndarray, valid: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances from ``src[i]`` to each ``dst[i, k]``.

    Args:
        points: ``(T, P, 3)``; valid: ``(T, P)``; src: ``(S,)``; dst: ``(S, D)`` or ``(D,)``
            (the same targets for every source).
    Returns:
        ``(T, S*D)`` distances (row-major: source, then target; 0 where invalid) and
        their validity.
    """
    if dst.ndim == 1:
        dst = np.broadcast_to(dst, (src.size, dst.size))
    x = _coords_first(points)  # (3, T, P)
    d = np.zeros((points.shape[0],) + dst.shape, np.float32)  # (T, S, D)
    for plane in x:  # x, y, z planes (T, P): squared differences accumulated in place
        diff = plane[:, dst]  # (T, P) -> (T, S, D)
        diff -= plane[:, src][:, :, None]  # minus the source, (T, S, 1)
        diff *= diff
        d += diff
    np.sqrt(d, out=d)
    ok = valid[:, dst] & valid[:, src][:, :, None]  # (T, S, D)
    d *= ok
    T = d.shape[0]
    return d.reshape(T, dst.size), ok.reshape(T, dst.size)  # (T, S, D) -> (T, S*D)


def window_sums(x: np.ndarray, window: int | None, bounds: np.ndarray) -> np.ndarray:
    """Sum of ``x`` ``(N, K)`` over the centred window of each frame.

    The window of frame ``t`` is ``[t - window//2, t - window//2 + window)`` clipped to
    its own sequence (``bounds`` ``(n + 1,)``: first frame of each sequence, then N);
    ``window=None`` sums over the whole sequence.  Accumulates in float64 (prefix sums
    lose precision in float32).  Returns ``(N, K)`` float64.
    """
    N = x.shape[0]
    c = np.empty((N + 1,) + x.shape[1:], np.float64)
    c[0] = 0
    np.cumsum(x, axis=0, out=c[1:])  # (N, K) -> (N + 1, K) prefix sums: c[i] = sum x[:i]
    if bounds.size == 2 and window is not None:
        # one sequence: c[clip(t - half)] = cp[t], c[clip(t - half + window)] = cp[t + window]
        # with cp[k] = c[clip(k - half, 0, N)], built by slicing (no gathers)
        half = window // 2
        cp = np.empty((N + window,) + x.shape[1:], np.float64)
        cp[:half] = 0
        cp[half : half + N + 1] = c[: window + N - half]
        cp[half + N + 1 :] = c[N]
        return cp[window : window + N] - cp[:N]
    lengths = np.diff(bounds)  # (n,)
    start = np.repeat(bounds[:-1], lengths)  # (N,) first frame of each frame's sequence
    end = np.repeat(bounds[1:], lengths)  # (N,) one past its last frame
    if window is None:
        lo, hi = start, end
    else:
        t = np.arange(N) - window // 2
        lo, hi = np.clip(t, start, end), np.clip(t + window, start, end)
    return c[hi] - c[lo]


# reference height of the activity rule: the mean of stomach (= mean of the shoulders and
# hips), left hip and right hip, as weights on the four real points
_REFERENCE = np.array(
    [POINT_INDEX[f"body.{n}"] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
)
_REFERENCE_WEIGHTS = np.array([1 / 12, 1 / 12, 1 / 12 + 1 / 3, 1 / 12 + 1 / 3], np.float32)


def hand_activity(
    lifted: Lifted,
    window: int | None = ACTIVITY_WINDOW,
    threshold: float = ACTIVITY_THRESHOLD,
) -> tuple[np.ndarray, np.ndarray]:
    """Signer activity per hand and frame (:mod:`signssl.priors.compute` docstring,
    docs/methods.md#signrep-priors).

    Returns:
        ``(N, 2)`` float32 (left, right; 1 = active) and ``(N, 2)`` validity.
    """
    if window is not None and window < 1:
        raise ConfigError(f"activity window must be >= 1 frame (or None), got {window}")
    N, seg, bounds = lifted.num_frames, lifted.segment, lifted.bounds
    h0 = HAND0["left"]
    xy = lifted.image_points[:, h0 : h0 + 42, :2]  # (N, 42, 2), both hands
    valid = lifted.image_valid[:, h0 : h0 + 42]  # (N, 42)
    m = valid.astype(np.float32)
    # centre each point on its mean position in its sequence, so that the windowed
    # moments keep their precision
    if bounds.size == 2:
        mean = (xy * m[..., None]).sum(0) / np.maximum(m.sum(0), 1)[:, None]  # (42, 2)
    else:
        count = np.add.reduceat(m, bounds[:-1], axis=0)  # (n, 42)
        total = np.add.reduceat(xy * m[..., None], bounds[:-1], axis=0)  # (n, 42, 2)
        mean = (total / np.maximum(count, 1)[..., None])[seg]  # (N, 42, 2)
    xc = (xy - mean) * m[..., None]  # (N, 42, 2), 0 where invalid
    sq = xc[..., 0] * xc[..., 0] + xc[..., 1] * xc[..., 1]  # (N, 42) squared distance
    hand_frame = valid.reshape(N, 2, 21).any(-1).astype(np.float32)  # (N, 2)
    n_pts = np.maximum(m.reshape(N, 2, 21).sum(-1), 1)  # (N, 2)
    hand_y = (xy[..., 1] * m).reshape(N, 2, 21).sum(-1) / n_pts  # (N, 2) mean image y
    ref_ok = lifted.image_present[:, _REFERENCE].all(-1)  # (N,)
    ref_y = lifted.image_points[:, _REFERENCE, 1] @ _REFERENCE_WEIGHTS  # (N, 4) -> (N,)
    # one prefix-sum pass over every windowed quantity: (N, 42 + 84 + 42 + 2 + 2 + 1 + 1)
    cols = np.concatenate(
        [
            m,
            xc.reshape(N, 84),  # (N, 42, 2) -> (N, 84)
            sq,
            hand_frame,
            hand_y * hand_frame,
            ref_ok[:, None],
            (ref_y * ref_ok)[:, None],
        ],
        axis=1,
    )
    win = window_sums(cols, window, bounds)  # (N, 174) float64
    n = win[:, :42]  # (N, 42) valid frames of each point in the window
    s1 = win[:, 42:126]  # (N, 84) sums of x and y
    s2 = win[:, 126:168]  # (N, 42) sums of x² + y²
    n_hand, sum_hand_y = win[:, 168:170], win[:, 170:172]  # (N, 2)
    n_ref, sum_ref_y = win[:, 172], win[:, 173]  # (N,)
    s1 = s1 * s1
    s1sq = s1.reshape(N, 42, 2).sum(-1)  # (N, 84) -> (N, 42, 2) -> (N, 42): sx² + sy²
    nn = np.maximum(n, 1)
    var = np.maximum((s2 - s1sq / nn) / nn, 0.0)  # (N, 42): var(x) + var(y)
    std = np.sqrt(var) * (n > 0)
    n_seen = (n > 0).reshape(N, 2, 21).sum(-1)  # (N, 2) points seen in the window
    spread = std.reshape(N, 2, 21).sum(-1) * 21 / np.maximum(n_seen, 1)  # (N, 2)
    unit = REFERENCE_SHOULDER_WIDTH / lifted.image_shoulder_width[seg]  # (N,), nan = unknown
    known = np.isfinite(unit)
    spread = np.where(known[:, None], spread * np.where(known, unit, 0)[:, None], np.inf)
    low = sum_hand_y / np.maximum(n_hand, 1) > (sum_ref_y / np.maximum(n_ref, 1))[:, None]
    unseen = n_hand == 0  # (N, 2)
    inactive = unseen | (low & (spread < threshold))
    ok = unseen | ((n_ref > 0) & known)[:, None]
    return np.where(ok & ~inactive, np.float32(1), np.float32(0)), ok


# ----------------------------------------------------------------------------- per-frame families


def _frame_families(
    points: np.ndarray, point_ok: np.ndarray, lengths: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The per-frame families (all but the activity) of ``(N, 61, 3)`` lifted points."""
    idx = _index()
    pts, val = extend(points, point_ok)  # (N, 66, 3), (N, 66)
    body, body_ok, hand, hand_ok = rebuild(pts, val, lengths)  # (N, 61, 3) x2, (N, 61) x2
    N, h0 = points.shape[0], HAND0["left"]
    values: dict[str, np.ndarray] = {}
    valid: dict[str, np.ndarray] = {}
    # keypoints: hand-local (both hands at once), then the whole rebuilt skeleton
    kp = (hand[:, h0:] * hand_ok[:, h0:, None]).reshape(N, 126)  # (N, 42, 3) -> (N, 126)
    kp_ok = np.repeat(hand_ok[:, h0:], 3, axis=1)  # (N, 42) -> (N, 126), as (N, 42, 3)
    _split(values, valid, ("hand_kp_left", "hand_kp_right"), kp, kp_ok)
    values["body_kp"] = (body * body_ok[..., None]).reshape(N, 183)  # (N, 61, 3) -> (N, 183)
    valid["body_kp"] = np.repeat(body_ok, 3, axis=1)
    # angles (one pass over 41 + 41 + 22)
    ang, ang_ok = vector_angles(
        pts, val, idx.vec_from, idx.vec_to, idx.ang_u, idx.ang_w, idx.ang_sign
    )
    _split(values, valid, ("hand_angles_left", "hand_angles_right", "body_angles"), ang, ang_ok)
    # distances on the rebuilt skeleton
    tip, tip_ok = pair_distances(hand, hand_ok, idx.tips, idx.tip_targets)  # (N, 110)
    _split(values, valid, ("fingertip_dist_left", "fingertip_dist_right"), tip, tip_ok)
    rebuilt, rebuilt_ok = extend(body, body_ok)  # + virtual points on the rebuilt skeleton
    values["interaction_dist"], valid["interaction_dist"] = pair_distances(
        rebuilt, rebuilt_ok, idx.sources, idx.targets
    )
    return values, valid


def _split(
    values: dict[str, np.ndarray],
    valid: dict[str, np.ndarray],
    names: tuple[str, ...],
    v: np.ndarray,
    ok: np.ndarray,
) -> None:
    """Cut ``(T, Σ dim)`` columns into the named priors (views)."""
    start = 0
    for n in names:
        d = PRIOR_SPECS[n].dim
        values[n], valid[n] = v[:, start : start + d], ok[:, start : start + d]
        start += d
    assert start == v.shape[1], (names, v.shape)
