"""The MASA-49 input pipeline (docs/methods.md#masa-input), batched in torch.

MASA reads 49 joints per frame (layout ``masa49``: 7 upper-body joints, then 21 left-hand
and 21 right-hand joints) with 2D coordinates and confidences.  Any source layout is
converted by joint name first (``PoseSequence.to_layout("masa49")``, what
``PoseDataset(layout="masa49")`` does).  Then, per frame:

1. **confidence threshold**: ``c = r · 1[r ≥ ε_c]`` with ``ε_c = 0.4``; a joint below the
   threshold is missing (confidence 0, coordinates 0);
2. **per-hand crop**: each hand is put in its own square box, ``hand_box = 2.2`` times the
   larger side of the bounding box of its present joints and centred on it, rescaled to
   ``crop_size = 256`` units; the left hand is mirrored (``u_x -> 256 − u_x``) so that both
   hands look like right hands and share one sub-network.  A hand with fewer than two
   present joints (or a zero-size box) is missing in that frame;
3. **body normalisation**: the body joints are centred on the shoulder midpoint of the
   frame and scaled so that the shoulder width is ``body_units = 64`` units, with the
   midpoint at ``(128, 128)``: a 256-unit box spans four shoulder widths, about the
   framing of a signer's upper-body video.  A frame without both shoulders has no body.

All coordinates come out in *MASA units* (the 256-unit crop frames), the unit of the
masking thresholds of docs/methods.md#motion-aware-masking (``ε_m = 5.0``).  Every step is
per frame, so a frame's output depends on that frame's input only: hiding a frame from the
encoder hides everything about it (no clip statistics leak between frames).

Differences from the authors' code (docs/methods.md#masa-input): the code divides the body by the
image size, which many sources do not record and which changes with the camera; the
per-frame shoulder frame above needs no image size and gives the threshold one meaning
across datasets.

Layouts other than ``masa49`` work when they have the parts ``body`` (with
``left_shoulder`` and ``right_shoulder``), ``left_hand`` and ``right_hand`` (21 joints each);
joints of other parts come out missing.

>>> seq = read_pose("clip.pose")                                    # doctest: +SKIP
>>> masa = masa_sequence(seq)       # PoseSequence in masa49, MASA units
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from signssl.errors import ConfigError, LayoutError
from signssl.pose.layouts import HAND_21, Layout, get_layout
from signssl.pose.sequence import PoseSequence

CONF_THRESHOLD = 0.4  # ε_c
HAND_BOX = 2.2  # crop side / hand extent
CROP_SIZE = 256.0  # crop side in MASA units
BODY_UNITS = 64.0  # MASA units per shoulder width
_EPS = 1e-6


@dataclass(frozen=True)
class MasaParts:
    """Where the three MASA parts sit in a layout (joint index ranges)."""

    layout: Layout
    body: slice
    left_hand: slice
    right_hand: slice
    left_shoulder: int  # index within the body part
    right_shoulder: int

    @property
    def hands(self) -> tuple[slice, slice]:
        return self.left_hand, self.right_hand


def masa_parts(layout: str | Layout = "masa49") -> MasaParts:
    """Locate ``body``, ``left_hand`` and ``right_hand`` in ``layout``.

    Raises:
        LayoutError: a part or a shoulder is missing, or a hand does not have the 21
            joints of ``HAND_21`` in order.
    """
    lay = get_layout(layout)
    missing = [p for p in ("body", "left_hand", "right_hand") if p not in lay.part_names]
    if missing:
        raise LayoutError(
            f"MASA needs the parts body, left_hand and right_hand; layout '{lay.name}' lacks "
            f"{missing}; read the data with layout masa49"
        )
    for hand in ("left_hand", "right_hand"):
        if lay.part(hand).joints != HAND_21:
            raise LayoutError(
                f"layout '{lay.name}': part '{hand}' must hold the 21 hand joints in MediaPipe "
                "order (HAND_21); read the data with layout masa49"
            )
    body = lay.part("body")
    for j in ("left_shoulder", "right_shoulder"):
        if j not in body.joints:
            raise LayoutError(
                f"layout '{lay.name}': the body has no '{j}', needed for body normalisation; "
                "read the data with layout masa49"
            )
    return MasaParts(
        layout=lay,
        body=lay.part_slice("body"),
        left_hand=lay.part_slice("left_hand"),
        right_hand=lay.part_slice("right_hand"),
        left_shoulder=body.joints.index("left_shoulder"),
        right_shoulder=body.joints.index("right_shoulder"),
    )


def threshold_confidence(conf: Tensor, threshold: float = CONF_THRESHOLD) -> Tensor:
    """``c = r · 1[r ≥ ε_c]`` (docs/methods.md#motion-aware-masking): ``(…, J) -> (…, J)``."""
    return conf * (conf >= threshold).to(conf.dtype)


def crop_hand(
    x: Tensor,
    conf: Tensor,
    mirror: bool = False,
    hand_box: float = HAND_BOX,
    crop_size: float = CROP_SIZE,
) -> tuple[Tensor, Tensor]:
    """Per-frame square crop of one hand, rescaled to ``crop_size`` units.

    Args:
        x: ``(…, Jh, 2)`` coordinates (any unit).
        conf: ``(…, Jh)``; joints with confidence 0 are absent and ignored.
        mirror: flip x inside the crop (the left hand).
    Returns:
        ``(u (…, Jh, 2), conf (…, Jh))``: crop coordinates in ``[0, crop_size]`` for present
        joints (0 for absent ones) and the confidence, zeroed in frames where the hand has
        fewer than two present joints or a zero-size box.
    """
    present = conf > 0  # (…, Jh)
    p = present.unsqueeze(-1)  # (…, Jh, 1)
    lo = torch.where(p, x, torch.full_like(x, float("inf"))).amin(dim=-2)  # (…, 2)
    hi = torch.where(p, x, torch.full_like(x, float("-inf"))).amax(dim=-2)  # (…, 2)
    extent = (hi - lo).amax(dim=-1)  # (…,) larger side of the box
    ok = (present.sum(dim=-1) >= 2) & torch.isfinite(extent) & (extent > _EPS)  # (…,)
    centre = torch.where(ok.unsqueeze(-1), (lo + hi) / 2, torch.zeros_like(lo))  # (…, 2)
    side = torch.where(ok, hand_box * extent, torch.ones_like(extent))  # (…,)
    u = (x - centre.unsqueeze(-2)) / side[..., None, None] * crop_size + crop_size / 2
    if mirror:
        u = torch.stack([crop_size - u[..., 0], u[..., 1]], dim=-1)
    conf = conf * ok.unsqueeze(-1).to(conf.dtype)
    return torch.where(conf.unsqueeze(-1) > 0, u, torch.zeros_like(u)), conf


def normalize_body(
    x: Tensor,
    conf: Tensor,
    left_shoulder: int,
    right_shoulder: int,
    body_units: float = BODY_UNITS,
    crop_size: float = CROP_SIZE,
) -> tuple[Tensor, Tensor]:
    """Per-frame shoulder frame of the body joints.

    Args:
        x: ``(…, Jb, 2)``; conf: ``(…, Jb)``.
        left_shoulder, right_shoulder: indices of the shoulders within the body joints.
    Returns:
        ``(u, conf)``: ``u = (x − shoulder midpoint) / shoulder width · body_units +
        crop_size / 2``; frames without both shoulders (or with coincident shoulders) get
        confidence 0 and coordinates 0.
    """
    ls, rs = x[..., left_shoulder, :], x[..., right_shoulder, :]  # (…, 2)
    width = (ls - rs).norm(dim=-1)  # (…,)
    ok = (conf[..., left_shoulder] > 0) & (conf[..., right_shoulder] > 0) & (width > _EPS)
    mid = (ls + rs) / 2  # (…, 2)
    scale = body_units / torch.where(ok, width, torch.ones_like(width))  # (…,)
    u = (x - mid.unsqueeze(-2)) * scale[..., None, None] + crop_size / 2  # (…, Jb, 2)
    conf = conf * ok.unsqueeze(-1).to(conf.dtype)
    return torch.where(conf.unsqueeze(-1) > 0, u, torch.zeros_like(u)), conf


def masa_normalize(
    x: Tensor,
    conf: Tensor,
    frame_mask: Tensor | None = None,
    layout: str | Layout | MasaParts = "masa49",
    conf_threshold: float = CONF_THRESHOLD,
    hand_box: float = HAND_BOX,
    crop_size: float = CROP_SIZE,
    body_units: float = BODY_UNITS,
) -> tuple[Tensor, Tensor]:
    """Steps 1-3 of the module docstring on a batch.

    Args:
        x: ``(B, T, J, 2)`` coordinates in the layout (extra coordinates are an error).
        conf: ``(B, T, J)`` raw confidences ``r``.
        frame_mask: ``(B, T)`` bool, ``True`` = padded frame (output 0, confidence 0).
        layout: the joint layout (``masa49``) or its :class:`MasaParts`.
    Returns:
        ``(u (B, T, J, 2) float32 in MASA units, c (B, T, J))``; missing joints have
        ``u = 0`` and ``c = 0``.
    """
    parts = layout if isinstance(layout, MasaParts) else masa_parts(layout)
    if x.ndim != 4 or x.shape[-1] != 2:
        raise ConfigError(
            f"MASA takes 2D joints (B, T, J, 2), got {tuple(x.shape)}; load the data with dims=2"
        )
    if x.shape[2] != parts.layout.num_joints or conf.shape != x.shape[:3]:
        raise ConfigError(
            f"expected x (B, T, {parts.layout.num_joints}, 2) and conf (B, T, "
            f"{parts.layout.num_joints}) for layout '{parts.layout.name}', got "
            f"{tuple(x.shape)} and {tuple(conf.shape)}"
        )
    if not 0.0 <= conf_threshold <= 1.0:
        raise ConfigError(f"conf_threshold must be in [0, 1], got {conf_threshold}")
    x = x.float()
    c = threshold_confidence(conf.to(x.dtype), conf_threshold)
    if frame_mask is not None:
        c = c.masked_fill(frame_mask.to(torch.bool).unsqueeze(-1), 0.0)
    u = torch.zeros_like(x)
    c_out = torch.zeros_like(c)
    for sl, mirror in ((parts.left_hand, True), (parts.right_hand, False)):
        u[:, :, sl], c_out[:, :, sl] = crop_hand(
            x[:, :, sl], c[:, :, sl], mirror, hand_box, crop_size
        )
    b = parts.body
    u[:, :, b], c_out[:, :, b] = normalize_body(
        x[:, :, b], c[:, :, b], parts.left_shoulder, parts.right_shoulder, body_units, crop_size
    )
    return u, c_out


def masa_sequence(
    seq: PoseSequence,
    layout: str | Layout = "masa49",
    conf_threshold: float = CONF_THRESHOLD,
    hand_box: float = HAND_BOX,
    crop_size: float = CROP_SIZE,
    body_units: float = BODY_UNITS,
) -> PoseSequence:
    """One sequence through the pipeline: converted to ``layout`` by joint name, 2D,
    then :func:`masa_normalize`.  For inspection and export: the MASA encoders apply the
    pipeline to their input themselves (give them the dataset's usual coordinates)."""
    seq = seq.to_layout(layout).with_dims(2)
    x = torch.from_numpy(np.ascontiguousarray(seq.xyz))[None]  # (1, T, J, 2)
    c = torch.from_numpy(np.ascontiguousarray(seq.conf))[None]  # (1, T, J)
    u, c = masa_normalize(x, c, None, seq.layout, conf_threshold, hand_box, crop_size, body_units)
    return replace(seq, xyz=u[0].numpy(), conf=c[0].numpy())
