"""Naive per-frame reference of the sign priors, and sequence builders (tests only).

Written from the definitions in the module docstrings (docs/methods.md#signrep-priors),
frame by frame and point by point with dictionaries keyed by joint name, in float64, so
that it shares no code path with the vectorised implementation beyond the joint-list
constants (the specification).  Angles come from ``arccos`` here, from cross/dot products
there.
"""

from __future__ import annotations

import numpy as np

from signssl.pose.layouts import HAND_21, get_layout
from signssl.pose.sequence import PoseSequence
from signssl.priors import (
    BODY_ANGLES,
    BONES,
    FINGERTIP_TARGETS,
    FINGERTIPS,
    HAND_ANGLES,
    INTERACTION_SOURCES,
    INTERACTION_TARGETS,
    PRIOR_SPECS,
    UPPER_BODY_19,
    BoneLengths,
)

HANDS = ("left", "right")
MIN_CONF = 0.5
VIRTUAL = {
    "shoulder_mid": ("body.left_shoulder", "body.right_shoulder"),
    "hip_mid": ("body.left_hip", "body.right_hip"),
    "eye_mid": ("body.left_eye", "body.right_eye"),
    "mouth_mid": ("body.mouth_left", "body.mouth_right"),
    "stomach": ("body.left_shoulder", "body.right_shoulder", "body.left_hip", "body.right_hip"),
}
SKELETON = [f"body.{j}" for j in UPPER_BODY_19] + [f"{h}_hand.{j}" for h in HANDS for j in HAND_21]


def _get(seq: PoseSequence, t: int, name: str) -> tuple[np.ndarray, float]:
    """Coordinates (float64, 3) and confidence of a joint; missing -> conf 0."""
    if not seq.layout.has(name):
        return np.zeros(3), 0.0
    j = seq.layout.index(name)
    xyz = np.zeros(3)
    xyz[: seq.num_dims] = seq.xyz[t, j]
    return xyz, float(seq.conf[t, j])


def _median_width(seq: PoseSequence, part: str, dims: int, thr: float = MIN_CONF) -> float:
    widths = []
    for t in range(seq.num_frames):
        a, ca = _get(seq, t, f"{part}.left_shoulder")
        b, cb = _get(seq, t, f"{part}.right_shoulder")
        if ca >= thr and cb >= thr:
            w = float(np.linalg.norm(a[:dims] - b[:dims]))
            if w > 0:
                widths.append(w)
    return float(np.median(widths)) if widths else float("nan")


def lifted_frame(seq: PoseSequence, t: int) -> dict[str, np.ndarray]:
    """Valid skeleton and virtual points of frame ``t`` (name -> xyz), 3D frame of
    ``signssl.priors.joints``: world when the layout has ``body_world``, else image."""
    world = "body_world" in seq.layout.part_names
    pts: dict[str, np.ndarray] = {}
    for j in UPPER_BODY_19:
        p, c = _get(seq, t, f"{'body_world' if world else 'body'}.{j}")
        if c >= MIN_CONF:
            pts[f"body.{j}"] = p
    if world:
        s = _median_width(seq, "body_world", 3) / _median_width(seq, "body", 3)
        if not np.isfinite(s):
            s = 1.0
    for h in HANDS:
        hw, chw = _get(seq, t, f"{h}_hand.wrist")
        bw, cbw = _get(seq, t, f"body{'_world' if world else ''}.{h}_wrist")
        for j in HAND_21:
            p, c = _get(seq, t, f"{h}_hand.{j}")
            if c < MIN_CONF:
                continue
            if world:
                if chw >= MIN_CONF and cbw >= MIN_CONF:
                    pts[f"{h}_hand.{j}"] = bw + s * (p - hw)
            else:
                _, c_img_wrist = _get(seq, t, f"body.{h}_wrist")
                pts[f"{h}_hand.{j}"] = p + np.array([0, 0, bw[2] if c_img_wrist > 0 else 0.0])
    _add_virtual(pts)
    return pts


def _add_virtual(pts: dict[str, np.ndarray]) -> None:
    for v, members in VIRTUAL.items():
        if all(m in pts for m in members):
            pts[v] = np.mean([pts[m] for m in members], axis=0)


def rebuilt_frame(
    pts: dict[str, np.ndarray], lengths: BoneLengths
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Walk the tree: ``(body, hand_local)`` rebuilt points (name -> xyz), valid only."""
    body: dict[str, np.ndarray] = {}
    if "shoulder_mid" in pts:
        body["shoulder_mid"] = np.zeros(3)
    local: dict[str, np.ndarray] = {
        f"{h}_hand.wrist": np.zeros(3) for h in HANDS if f"{h}_hand.wrist" in pts
    }
    for parent, child in BONES:  # parents come before children
        length = lengths.lengths.get(f"{parent}->{child}", 0.0)
        if parent not in pts or child not in pts:
            continue
        d = pts[child] - pts[parent]
        norm = np.linalg.norm(d)
        if length > 0 and norm == 0:
            continue
        step = d / norm * length if length > 0 else np.zeros(3)
        if parent in body:
            body[child] = body[parent] + step
        if parent in local and parent.split(".")[0] == child.split(".")[0]:
            local[child] = local[parent] + step
    _add_virtual(body)
    return body, local


def _angle(p: dict[str, np.ndarray], q: tuple[str, str, str, str]) -> tuple[float, float] | None:
    a, b, c, d = q
    if not all(n in p for n in q):
        return None
    u, w = p[b] - p[a], p[d] - p[c]
    nu, nw = np.linalg.norm(u), np.linalg.norm(w)
    if nu == 0 or nw == 0:
        return None
    theta = np.arccos(np.clip(np.dot(u, w) / (nu * nw), -1.0, 1.0))
    return float(np.sin(theta)), float(np.cos(theta))


def _activity(seq: PoseSequence, window: int | None = 16, threshold: float = 0.26):
    """``(T, 2)`` activity and validity, frame by frame, from image coordinates."""
    T = seq.num_frames
    sw = _median_width(seq, "body", 2)
    unit = 0.3 / sw
    values, valid = np.zeros((T, 2), np.float32), np.zeros((T, 2), bool)
    for t in range(T):
        lo, hi = (
            (0, T)
            if window is None
            else (max(0, t - window // 2), min(T, t - window // 2 + window))
        )
        refs = []
        for f in range(lo, hi):
            got = [
                _get(seq, f, f"body.{n}")
                for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
            ]
            if all(c > 0 for _, c in got):
                stomach = np.mean([p[1] for p, _ in got])
                refs.append((stomach + got[2][0][1] + got[3][0][1]) / 3)
        for k, h in enumerate(HANDS):
            frame_y, per_point = [], {j: [] for j in HAND_21}
            for f in range(lo, hi):
                ys = []
                for j in HAND_21:
                    p, c = _get(seq, f, f"{h}_hand.{j}")
                    if c >= MIN_CONF:
                        per_point[j].append(p[:2])
                        ys.append(p[1])
                if ys:
                    frame_y.append(np.mean(ys))
            if not frame_y:
                values[t, k], valid[t, k] = 0.0, True
                continue
            if not refs or not np.isfinite(unit):
                continue
            stds = [np.sqrt(np.var(np.array(v), axis=0).sum()) for v in per_point.values() if v]
            spread = sum(stds) * 21 / len(stds) * unit
            low = np.mean(frame_y) > np.mean(refs)
            values[t, k] = 0.0 if (low and spread < threshold) else 1.0
            valid[t, k] = True
    return values, valid


def naive_priors(
    seq: PoseSequence, lengths: BoneLengths, window: int | None = 16
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every prior, frame by frame: ``(values, valid)`` dicts of ``(T, dim)`` arrays."""
    T = seq.num_frames
    values = {n: np.zeros((T, s.dim)) for n, s in PRIOR_SPECS.items()}
    valid = {n: np.zeros((T, s.dim), bool) for n, s in PRIOR_SPECS.items()}
    for t in range(T):
        pts = lifted_frame(seq, t)
        body, local = rebuilt_frame(pts, lengths)
        for h in HANDS:
            for j, name in enumerate(HAND_21):
                q = f"{h}_hand.{name}"
                if q in local:
                    values[f"hand_kp_{h}"][t, 3 * j : 3 * j + 3] = local[q]
                    valid[f"hand_kp_{h}"][t, 3 * j : 3 * j + 3] = True
            for i, (_, quad) in enumerate(HAND_ANGLES):
                r = _angle(pts, tuple(f"{h}_hand.{n}" for n in quad))
                if r is not None:
                    values[f"hand_angles_{h}"][t, 2 * i : 2 * i + 2] = r
                    valid[f"hand_angles_{h}"][t, 2 * i : 2 * i + 2] = True
            for i, tip in enumerate(FINGERTIPS):
                for k, target in enumerate(FINGERTIP_TARGETS):
                    a, b = f"{h}_hand.{tip}", f"{h}_hand.{target}"
                    if a in local and b in local:
                        values[f"fingertip_dist_{h}"][t, 11 * i + k] = np.linalg.norm(
                            local[a] - local[b]
                        )
                        valid[f"fingertip_dist_{h}"][t, 11 * i + k] = True
        for j, name in enumerate(SKELETON):
            if name in body:
                values["body_kp"][t, 3 * j : 3 * j + 3] = body[name]
                valid["body_kp"][t, 3 * j : 3 * j + 3] = True
        for i, (_, quad) in enumerate(BODY_ANGLES):
            r = _angle(pts, quad)
            if r is not None:
                values["body_angles"][t, 2 * i : 2 * i + 2] = r
                valid["body_angles"][t, 2 * i : 2 * i + 2] = True
        for i, src in enumerate(INTERACTION_SOURCES):
            other = "right" if src.startswith("left") else "left"
            for k, target in enumerate(INTERACTION_TARGETS):
                dst = target.format(other=other)
                if src in body and dst in body:
                    values["interaction_dist"][t, 22 * i + k] = np.linalg.norm(
                        body[src] - body[dst]
                    )
                    valid["interaction_dist"][t, 22 * i + k] = True
    values["activity"], valid["activity"] = _activity(seq, window)
    return values, valid


# ----------------------------------------------------------------------------- builders


def synth_clip(index: int = 0, frames: int = 24, noise: float = 1.0) -> PoseSequence:
    """One synthetic clip (``holistic_world_noface``): class/signer picked by ``index``."""
    from signssl.synth import SynthConfig, Vocabulary, derive_seed, sample_signers, synthesize

    vocab = Vocabulary.sample(4, seed=3)
    people = sample_signers(3, seed=3)
    cfg = SynthConfig() if noise == 1.0 else SynthConfig().scaled(noise)
    sample = synthesize(
        vocab[index % 4], people[index % 3], derive_seed(3, index), frames, config=cfg
    )
    return sample.pose


def sequence(
    T: int, points: dict[str, np.ndarray], layout: str = "holistic_world_noface"
) -> PoseSequence:
    """A sequence whose listed joints (qualified name -> ``(3,)`` or ``(T, 3)``) have
    confidence 1; every other joint is missing."""
    lay = get_layout(layout)
    xyz = np.zeros((T, lay.num_joints, 3), np.float32)
    conf = np.zeros((T, lay.num_joints), np.float32)
    for name, p in points.items():
        j = lay.index(name)
        xyz[:, j] = np.broadcast_to(np.asarray(p, np.float32), (T, 3))
        conf[:, j] = 1.0
    return PoseSequence(xyz, conf, lay, fps=30.0)
