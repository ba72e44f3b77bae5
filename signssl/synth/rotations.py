"""Small vectorised rotation helpers (numpy only).

Rotations are ``(..., 3, 3)`` matrices acting on column vectors, quaternions are
``(..., 4)`` arrays ``(w, x, y, z)``.  Everything broadcasts over leading axes.
"""

from __future__ import annotations

import math

import numpy as np


def normalize(v: np.ndarray, eps: float = 1e-9) -> np.ndarray:
    """Unit vectors along the last axis (zero vectors stay zero)."""
    n = np.sqrt(np.sum(v * v, axis=-1, keepdims=True))
    return v / np.maximum(n, eps)


def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product along the last axis (3-vectors; cheaper than ``np.cross`` on small arrays)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], -1)


def frame_from_vectors(finger: np.ndarray, palm: np.ndarray) -> np.ndarray:
    """Right-handed frame ``[radial, finger, palm]`` as columns, ``(..., 3, 3)``.

    ``palm`` is made orthogonal to ``finger`` (Gram-Schmidt); ``radial = finger x palm``.
    """
    u = normalize(finger)
    n = normalize(palm - np.sum(palm * u, -1, keepdims=True) * u)
    r = cross(u, n)
    return np.stack([r, u, n], axis=-1)  # (..., 3 rows, 3 columns)


def axis_angle(axis: np.ndarray, angle: np.ndarray | float) -> np.ndarray:
    """Rotation matrices from ``axis`` ``(..., 3)`` and ``angle`` (radians), Rodrigues:
    ``R = cos(a) I + sin(a) [k]x + (1 - cos(a)) k k^T``."""
    k = normalize(np.asarray(axis, np.float64))
    angle = np.asarray(angle, np.float64)
    shape = np.broadcast_shapes(k.shape[:-1], angle.shape)
    k = np.broadcast_to(k, shape + (3,))
    c, s = np.cos(angle)[..., None, None], np.sin(angle)[..., None, None]
    x, y, z = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros(shape)
    cross = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(shape + (3, 3))
    outer = k[..., :, None] * k[..., None, :]
    return c * np.eye(3) + s * cross + (1 - c) * outer


def euler_xyz(rx: np.ndarray | float, ry: np.ndarray | float, rz: np.ndarray | float) -> np.ndarray:
    """``Rz @ Ry @ Rx`` (radians; arrays broadcast to ``(..., 3, 3)``), written out."""
    cx, sx = np.cos(rx), np.sin(rx)
    cy, sy = np.cos(ry), np.sin(ry)
    cz, sz = np.cos(rz), np.sin(rz)
    rows = [
        [cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx],
        [sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx],
        [-sy, cy * sx, cy * cx],
    ]
    return np.stack([np.stack(np.broadcast_arrays(*r), -1) for r in rows], -2)


def matrix_to_quat(R: np.ndarray) -> np.ndarray:
    """Quaternions ``(..., 4)`` (w >= 0) of rotation matrices ``(..., 3, 3)``."""
    m = np.asarray(R, np.float64)
    tr = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    # the four candidate magnitudes; pick the largest per rotation for stability
    cand = np.stack(
        [
            1 + tr,
            1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
            1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2],
        ],
        -1,
    )  # (..., 4)
    k = np.argmax(cand, -1)
    q = np.empty(m.shape[:-2] + (4,))
    s = np.sqrt(np.maximum(np.take_along_axis(cand, k[..., None], -1)[..., 0], 1e-12)) * 2
    d21, d02, d10 = (
        m[..., 2, 1] - m[..., 1, 2],
        m[..., 0, 2] - m[..., 2, 0],
        m[..., 1, 0] - m[..., 0, 1],
    )
    a01, a02, a12 = (
        m[..., 0, 1] + m[..., 1, 0],
        m[..., 0, 2] + m[..., 2, 0],
        m[..., 1, 2] + m[..., 2, 1],
    )
    options = [
        (s / 4, d21 / s, d02 / s, d10 / s),
        (d21 / s, s / 4, a01 / s, a02 / s),
        (d02 / s, a01 / s, s / 4, a12 / s),
        (d10 / s, a02 / s, a12 / s, s / 4),
    ]
    for i, opt in enumerate(options):
        sel = k == i
        q[sel] = np.stack(opt, -1)[sel]
    q *= np.where(q[..., :1] < 0, -1.0, 1.0)
    return normalize(q)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of unit quaternions ``(..., 4)``."""
    q = normalize(np.asarray(q, np.float64))
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    rows = [
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def _quat(R: np.ndarray) -> np.ndarray:
    """Quaternion ``(4,)`` of one rotation matrix (scalar code, for speed)."""
    m = R.tolist()
    tr = m[0][0] + m[1][1] + m[2][2]
    if tr > 0:
        s = math.sqrt(tr + 1.0) * 2
        q = (s / 4, (m[2][1] - m[1][2]) / s, (m[0][2] - m[2][0]) / s, (m[1][0] - m[0][1]) / s)
    elif m[0][0] > m[1][1] and m[0][0] > m[2][2]:
        s = math.sqrt(1.0 + m[0][0] - m[1][1] - m[2][2]) * 2
        q = ((m[2][1] - m[1][2]) / s, s / 4, (m[0][1] + m[1][0]) / s, (m[0][2] + m[2][0]) / s)
    elif m[1][1] > m[2][2]:
        s = math.sqrt(1.0 + m[1][1] - m[0][0] - m[2][2]) * 2
        q = ((m[0][2] - m[2][0]) / s, (m[0][1] + m[1][0]) / s, s / 4, (m[1][2] + m[2][1]) / s)
    else:
        s = math.sqrt(1.0 + m[2][2] - m[0][0] - m[1][1]) * 2
        q = ((m[1][0] - m[0][1]) / s, (m[0][2] + m[2][0]) / s, (m[1][2] + m[2][1]) / s, s / 4)
    out = np.asarray(q)
    return out / np.linalg.norm(out)


def slerp(R0: np.ndarray, R1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between two rotations ``(3, 3)`` at times ``t`` ``(n,)``.

    Returns ``(n, 3, 3)``; ``t = 0`` gives ``R0`` and ``t = 1`` gives ``R1``.
    """
    q0, q1 = _quat(R0), _quat(R1)
    dot = float(np.dot(q0, q1))
    if dot < 0:  # shortest path
        q1, dot = -q1, -dot
    t = np.asarray(t, np.float64)[:, None]  # (n, 1)
    if dot > 0.9995:
        q = q0 + t * (q1 - q0)
    else:
        theta = math.acos(min(dot, 1.0))
        q = (np.sin((1 - t) * theta) * q0 + np.sin(t * theta) * q1) / math.sin(theta)
    return quat_to_matrix(q)
