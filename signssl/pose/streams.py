"""Per-frame input streams of pose encoders: what a frame token is built from.

A pose encoder reads ``xyz (B, T, J, C)`` and ``conf (B, T, J)`` (as the dataset
normalised them) and turns each frame into a few feature *groups*; each group gets its
own ``LayerNorm -> Linear`` embedding and the embeddings are summed into the frame token
(:class:`signssl.models.pose_transformer.PoseTransformer`).  The streams are computed
inside the encoder, so a saved model reads clips the same way wherever it is loaded.

==================  =====================================================================
stream              groups per frame
==================  =====================================================================
``coords``          every part of the layout: its joints' coordinates and confidences
                    (the encoder's input before streams existed)
``body``            the ``body`` part only (coordinates + confidences), e.g. where the
                    hands are relative to the shoulders after shoulder normalisation
``hand_shape``      per hand: the 20 joints minus the wrist, divided by that frame's
                    wrist-to-middle-knuckle length (the left hand mirrored in x when
                    ``mirror_left``), plus a presence flag: hand shape apart from where the
                    hand is and how far it is from the camera
``hand_angles``     per hand: the 19 finger angles of ``raw-hand-angles`` (radians) and
                    a presence flag per angle
``velocity``        the frame-to-frame change of the ``body`` coordinates (0 where the
                    joint is missing in either frame, and in the first frame)
==================  =====================================================================

A joint is missing where its confidence is 0; its values are 0 in every stream and the
presence flags say so.  A stream reads the parts the layout has: on a hands-only layout
``body`` and ``velocity`` add no group (streams that read nothing at all are an error).  :func:`stream_dims` gives the width of each group, so an encoder
can build its embeddings before it sees data.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from signssl.errors import ConfigError
from signssl.pose.layouts import HAND_21, Layout

STREAMS: tuple[str, ...] = ("coords", "body", "hand_shape", "hand_angles", "velocity")
HANDS: tuple[str, str] = ("left_hand", "right_hand")
_FINGERS = ("thumb", "index_finger", "middle_finger", "ring_finger", "pinky")
_MIDDLE_MCP = HAND_21.index("middle_finger_mcp")


def check_streams(streams: Sequence[str], layout: Layout) -> tuple[str, ...]:
    """Validated stream names (unknown names, repeats, or hand/body streams on a layout
    without those parts raise :class:`ConfigError`)."""
    out = tuple(str(s) for s in streams)
    if not out:
        raise ConfigError(f"streams must name at least one of {list(STREAMS)}")
    unknown = [s for s in out if s not in STREAMS]
    if unknown:
        raise ConfigError(f"unknown input stream(s) {unknown}; known: {list(STREAMS)}")
    if len(set(out)) != len(out):
        raise ConfigError(f"input streams repeat a name: {list(out)}")
    if not stream_groups(out, layout):
        raise ConfigError(
            f"input streams {list(out)} read nothing from layout '{layout.name}' (parts "
            f"{list(layout.part_names)}): body / velocity need a 'body' part, hand_shape / "
            "hand_angles a left_hand or right_hand part; add 'coords'"
        )
    return out


def finger_angle_quads() -> list[tuple[str, str, str, str]]:
    """Joint quadruples ``(a, b, c, d)``: the angle between bones ``a->b`` and ``c->d``.

    Flexion: for each finger chain wrist-j1-j2-j3-tip, the angles at j1, j2, j3 between
    consecutive bones (0 = straight): 15.  Spread: between the first bones of adjacent
    fingers (thumb mcp->ip vs index mcp->pip, then index/middle, middle/ring, ring/pinky): 4.
    """
    quads: list[tuple[str, str, str, str]] = []
    for finger in _FINGERS:
        chain = ["wrist"] + [n for n in HAND_21 if n.startswith(finger + "_")]  # 5 joints
        for i in range(1, 4):
            quads.append((chain[i - 1], chain[i], chain[i], chain[i + 1]))
    firsts = [("thumb_mcp", "thumb_ip")] + [(f"{f}_mcp", f"{f}_pip") for f in _FINGERS[1:]]
    for (a, b), (c, d) in zip(firsts[:-1], firsts[1:], strict=True):
        quads.append((a, b, c, d))
    return quads


def vector_angle(a: Tensor, b: Tensor) -> Tensor:
    """Unsigned angle in ``[0, pi]`` between vectors ``(..., C)`` (C = 2 or 3); 0 if degenerate."""
    dot = (a * b).sum(-1)
    if a.shape[-1] == 2:
        cross = (a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]).abs()
    else:
        cross = torch.linalg.cross(a, b, dim=-1).norm(dim=-1)
    return torch.atan2(cross, dot)


def _hands(layout: Layout) -> list[str]:
    return [h for h in HANDS if h in layout.part_names]


def stream_groups(streams: Sequence[str], layout: Layout) -> list[str]:
    """Names of the feature groups the streams produce, in order (e.g. ``coords.body``)."""
    names: list[str] = []
    for s in streams:
        if s == "coords":
            names += [f"coords.{p}" for p in layout.part_names]
        elif s in ("body", "velocity"):
            names += [s] if "body" in layout.part_names else []
        else:
            names += [f"{s}.{h}" for h in _hands(layout)]
    return names


def stream_dims(streams: Sequence[str], layout: Layout, dims: int) -> list[int]:
    """Width of each group of :func:`stream_groups` for ``dims`` coordinates per joint."""
    n_quads = len(finger_angle_quads())
    body = layout.part_slice("body") if "body" in layout.part_names else slice(0, 0)
    n_body = body.stop - body.start
    widths: list[int] = []
    for s in streams:
        if s == "coords":
            widths += [(sl.stop - sl.start) * (dims + 1)
                       for sl in (layout.part_slice(p) for p in layout.part_names)]
        elif s == "body":
            widths += [n_body * (dims + 1)] if n_body else []
        elif s == "velocity":
            widths += [n_body * dims] if n_body else []
        elif s == "hand_shape":
            widths += [20 * dims + 1] * len(_hands(layout))
        else:  # hand_angles
            widths += [2 * n_quads] * len(_hands(layout))
    return widths


def _part(xyz: Tensor, conf: Tensor, sl: slice) -> Tensor:
    """``(B, T, Jp * (C + 1))``: a part's coordinates (0 where missing) and confidences."""
    c = conf[:, :, sl, None]  # (B, T, Jp, 1)
    x = xyz[:, :, sl] * (c > 0).to(xyz.dtype)  # (B, T, Jp, C)
    return torch.cat([x, c.to(xyz.dtype)], dim=-1).flatten(2)


def hand_shape(xyz: Tensor, present: Tensor, idx: list[int], mirror: bool) -> Tensor:
    """``(B, T, 20 * C + 1)``: wrist-centred, size-scaled hand joints and a presence flag.

    The size is the frame's wrist-to-middle-knuckle length in the image plane; a frame
    without wrist, middle knuckle or a positive size is missing (all zeros).
    """
    h, p = xyz[:, :, idx], present[:, :, idx]  # (B, T, 21, C), (B, T, 21)
    rel = h[:, :, 1:] - h[:, :, :1]  # (B, T, 20, C)
    size = rel[:, :, _MIDDLE_MCP - 1, :2].norm(dim=-1)  # (B, T)
    ok = p[:, :, 0] & p[:, :, _MIDDLE_MCP] & (size > 1e-6)  # (B, T)
    rel = rel / torch.where(ok, size, torch.ones_like(size))[..., None, None]
    if mirror:
        rel = torch.cat([-rel[..., :1], rel[..., 1:]], dim=-1)
    keep = (p[:, :, 1:] & ok[..., None]).to(rel.dtype)  # (B, T, 20)
    rel = (rel * keep[..., None]).flatten(2)  # (B, T, 20 * C)
    return torch.cat([rel, ok[..., None].to(rel.dtype)], dim=-1)


def finger_angles(xyz: Tensor, present: Tensor, quad_idx: list[int]) -> tuple[Tensor, Tensor]:
    """``(angles (B, T, 19), ok (B, T, 19) bool)``: each angle between the bones of a quad
    (``quad_idx``: 19 x 4 flattened joint indices); ``ok`` where its four joints are
    present and both bones have non-zero length."""
    B, T, _, C = xyz.shape
    j = xyz[:, :, quad_idx].reshape(B, T, -1, 4, C)  # (B, T, 19, 4, C)
    p = present[:, :, quad_idx].reshape(B, T, -1, 4).all(-1)  # (B, T, 19)
    u, v = j[..., 1, :] - j[..., 0, :], j[..., 3, :] - j[..., 2, :]  # (B, T, 19, C)
    ok = p & (u.norm(dim=-1) > 1e-8) & (v.norm(dim=-1) > 1e-8)
    return vector_angle(u, v), ok


def hand_angles(xyz: Tensor, present: Tensor, quad_idx: list[int]) -> Tensor:
    """``(B, T, 2 * 19)``: finger angles (0 where undefined) and their presence flags."""
    angles, ok = finger_angles(xyz, present, quad_idx)
    okf = ok.to(xyz.dtype)
    return torch.cat([angles * okf, okf], dim=-1)


def velocity(xyz: Tensor, present: Tensor, sl: slice) -> Tensor:
    """``(B, T, Jp * C)``: frame-to-frame change of a part's joints (0 in frame 0)."""
    x, p = xyz[:, :, sl], present[:, :, sl]  # (B, T, Jp, C), (B, T, Jp)
    d = torch.zeros_like(x)
    both = (p[:, 1:] & p[:, :-1])[..., None].to(x.dtype)  # (B, T - 1, Jp, 1)
    d[:, 1:] = (x[:, 1:] - x[:, :-1]) * both
    return d.flatten(2)


class StreamFeatures:
    """Callable ``(xyz (B, T, J, C), conf (B, T, J)) -> list of (B, T, F_k)`` groups.

    Args:
        streams: names from :data:`STREAMS` (see the module docstring).
        layout: the encoder's layout.
        mirror_left: mirror the left hand in x in ``hand_shape`` (both hands then look
            like right hands, as in MASA's hand crops).
    """

    def __init__(self, streams: Sequence[str], layout: Layout, mirror_left: bool = False) -> None:
        self.streams = check_streams(streams, layout)
        self.layout, self.mirror_left = layout, bool(mirror_left)
        self.hand_idx = {h: layout.indices([f"{h}.{j}" for j in HAND_21]) for h in _hands(layout)}
        quads = finger_angle_quads()
        self.quad_idx = {h: [layout.index(f"{h}.{j}") for q in quads for j in q]
                         for h in _hands(layout)}

    def __call__(self, xyz: Tensor, conf: Tensor) -> list[Tensor]:
        present = conf > 0  # (B, T, J)
        L = self.layout
        groups: list[Tensor] = []
        for s in self.streams:
            if s == "coords":
                groups += [_part(xyz, conf, L.part_slice(p)) for p in L.part_names]
            elif s == "body" and "body" in L.part_names:
                groups.append(_part(xyz, conf, L.part_slice("body")))
            elif s == "velocity" and "body" in L.part_names:
                groups.append(velocity(xyz, present, L.part_slice("body")))
            elif s == "hand_shape":
                groups += [hand_shape(xyz, present, idx, self.mirror_left and h == "left_hand")
                           for h, idx in self.hand_idx.items()]
            elif s == "hand_angles":
                groups += [hand_angles(xyz, present, q) for q in self.quad_idx.values()]
        return groups
