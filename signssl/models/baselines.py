"""Training-free baseline encoders (SignRep Tab. 4 and the random-weights control).

Each baseline is an :class:`~signssl.models.Encoder`, so every protocol evaluates it with
the same code as a pretrained model.  They take a pose batch (the dict of
``signssl.data.collate_poses``: ``x`` ``(B, T, J, C)``, ``conf`` ``(B, T, J)``,
``frame_mask`` ``(B, T)`` with ``True`` = padded) or a bare ``(B, T, J, C)`` tensor, in
which a joint whose coordinates are all 0 counts as missing.  ``forward_features``
returns a single token ``(B, 1, D)`` (the clip descriptor), so ``embed`` returns it as is.

========================  ===========================================================
name                      clip descriptor
========================  ===========================================================
``raw-keypoints``         every joint's coordinates (as the dataset normalised them,
                          by default shoulder-centred and shoulder-width scaled),
                          averaged over the frames where the joint is present
``raw-hand-keypoints``    both hands' joints relative to their wrist (per frame; scaled
                          by the wrist-to-middle-knuckle length), averaged over time
``raw-hand-angles``       finger flexion angles (3 per finger) and the spread between
                          adjacent fingers (4), per hand, in radians, averaged over time
``random-init``           any registered encoder with random weights (``model=NAME``)
``dtw``                   no descriptor: clips are compared frame by frame by dynamic
                          time warping, retrieval only (:mod:`signssl.eval.dtw`,
                          ``signssl evaluate retrieval --baseline dtw``)
========================  ===========================================================

>>> enc = get_baseline("raw-hand-angles")
>>> enc.out_dim
38
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from signssl.errors import ConfigError
from signssl.models.base import Encoder
from signssl.models.registry import create_model
from signssl.pose.layouts import DEFAULT_LAYOUT, HAND_21, Layout, get_layout
from signssl.pose.streams import finger_angle_quads, finger_angles, vector_angle  # noqa: F401

HANDS: tuple[str, str] = ("left_hand", "right_hand")


# ----------------------------------------------------------------------------- inputs

def unpack_pose_batch(
    x: Any, mask: Tensor | None = None, conf_threshold: float = 0.0
) -> tuple[Tensor, Tensor, Tensor]:
    """``(xyz (B, T, J, C), present (B, T, J) bool, valid (B, T) bool)`` from a batch.

    ``present`` = joint confidence above ``conf_threshold`` in a valid frame; ``valid`` =
    frame not padded and not hidden by ``mask`` (``True`` = hidden).
    """
    if isinstance(x, dict):
        if "x" not in x:
            raise ConfigError(f"pose batch has no 'x' entry (keys: {sorted(x)})")
        xyz = x["x"].float()
        conf = x.get("conf")
        conf = (xyz != 0).any(-1).float() if conf is None else conf.float()
        fm = x.get("frame_mask")
        valid = torch.ones(xyz.shape[:2], dtype=torch.bool, device=xyz.device) if fm is None else ~fm.bool()
    elif isinstance(x, Tensor):
        xyz = x.float()
        conf = (xyz != 0).any(-1).float()  # (B, T, J)
        valid = torch.ones(xyz.shape[:2], dtype=torch.bool, device=xyz.device)
    else:
        raise ConfigError(f"expected a pose batch dict or a (B, T, J, C) tensor, got {type(x).__name__}")
    if xyz.ndim != 4:
        raise ConfigError(f"pose input must be (B, T, J, C), got shape {tuple(xyz.shape)}")
    if mask is not None:
        valid = valid & ~mask.bool()
    present = (conf > conf_threshold) & valid[..., None]  # (B, T, J)
    return xyz, present, valid


def masked_time_mean(values: Tensor, present: Tensor) -> Tensor:
    """Mean over time of ``values`` ``(B, T, ...)`` where ``present`` ``(B, T, ...)``; 0 if never."""
    w = present.to(values.dtype)
    while w.ndim < values.ndim:
        w = w.unsqueeze(-1)
    total = (values * w).sum(dim=1)  # (B, ...)
    count = w.sum(dim=1).clamp_min(1.0)
    return total / count


def _hand_index(layout: Layout, hand: str) -> list[int]:
    """Layout indices of the 21 joints of ``hand`` in MediaPipe order (raises if absent)."""
    return layout.indices([f"{hand}.{j}" for j in HAND_21])


# ----------------------------------------------------------------------------- encoders

class _PoseBaseline(Encoder):
    """Common constructor: a layout name or YAML path, the number of coordinates."""

    def __init__(self, layout: str = DEFAULT_LAYOUT, dims: int = 2, conf_threshold: float = 0.0) -> None:
        super().__init__()
        if dims not in (2, 3):
            raise ConfigError(f"dims must be 2 or 3, got {dims}")
        self.layout = get_layout(layout)
        self.dims = int(dims)
        self.conf_threshold = float(conf_threshold)

    def _inputs(self, x: Any, mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        xyz, present, valid = unpack_pose_batch(x, mask, self.conf_threshold)
        if xyz.shape[2] != self.layout.num_joints:
            raise ConfigError(
                f"{type(self).__name__}: input has {xyz.shape[2]} joints but layout "
                f"'{self.layout.name}' has {self.layout.num_joints}; build the baseline with "
                "the dataset's layout"
            )
        if xyz.shape[3] < self.dims:
            raise ConfigError(f"{type(self).__name__}: input has {xyz.shape[3]} coordinates, need {self.dims}")
        return xyz[..., : self.dims], present, valid


class RawKeypoints(_PoseBaseline):
    """All joints' (normalised) coordinates averaged over the frames where each is present.

    ``out_dim = J * dims``.
    """

    def __init__(self, layout: str = DEFAULT_LAYOUT, dims: int = 2, conf_threshold: float = 0.0) -> None:
        super().__init__(layout, dims, conf_threshold)
        self.out_dim = self.layout.num_joints * self.dims

    def forward_features(self, x: Any, mask: Tensor | None = None) -> Tensor:
        xyz, present, _ = self._inputs(x, mask)  # (B, T, J, C), (B, T, J)
        mean = masked_time_mean(xyz, present)  # (B, J, C)
        return mean.flatten(1).unsqueeze(1)  # (B, J, C) -> (B, 1, J*C)


class RawHandKeypoints(_PoseBaseline):
    """Wrist-centred hand joints averaged over time: ``out_dim = 2 * 20 * dims``.

    Per frame, each hand's joints minus its wrist, divided (``scale=True``) by that
    frame's wrist-to-middle-knuckle length so hand shape does not depend on the distance
    to the camera.  A joint counts in a frame only when it and the wrist are present.
    """

    def __init__(self, layout: str = DEFAULT_LAYOUT, dims: int = 2, conf_threshold: float = 0.0,
                 scale: bool = True) -> None:
        super().__init__(layout, dims, conf_threshold)
        self.scale = bool(scale)
        self.hand_index = [_hand_index(self.layout, h) for h in HANDS]
        self.out_dim = 2 * 20 * self.dims

    def forward_features(self, x: Any, mask: Tensor | None = None) -> Tensor:
        xyz, present, _ = self._inputs(x, mask)
        out = []
        for idx in self.hand_index:
            h = xyz[:, :, idx]  # (B, T, 21, C)
            p = present[:, :, idx]  # (B, T, 21)
            rel = h[:, :, 1:] - h[:, :, :1]  # (B, T, 20, C) joints minus wrist
            ok = p[:, :, 1:] & p[:, :, :1]  # (B, T, 20)
            if self.scale:
                size = rel[:, :, HAND_21.index("middle_finger_mcp") - 1].norm(dim=-1)  # (B, T)
                size_ok = ok[:, :, HAND_21.index("middle_finger_mcp") - 1] & (size > 1e-6)
                rel = rel / torch.where(size_ok, size, torch.ones_like(size))[..., None, None]
                ok = ok & size_ok[..., None]
            out.append(masked_time_mean(rel, ok).flatten(1))  # (B, 20*C)
        return torch.cat(out, dim=1).unsqueeze(1)  # (B, 1, 40*C)


def finger_angle_triplets() -> list[tuple[str, str, str, str]]:
    """The 19 joint quadruples of a hand's angles (:func:`signssl.pose.streams.finger_angle_quads`)."""
    return finger_angle_quads()


class RawHandAngles(_PoseBaseline):
    """Finger joint angles (radians) averaged over time: ``out_dim = 2 * 19``.

    See :func:`finger_angle_triplets` for the 19 angles of a hand.  An angle counts in a
    frame only when its four joints are present and both bones have non-zero length.
    """

    def __init__(self, layout: str = DEFAULT_LAYOUT, dims: int = 2, conf_threshold: float = 0.0) -> None:
        super().__init__(layout, dims, conf_threshold)
        quads = finger_angle_triplets()
        self.quads = [
            [self.layout.index(f"{hand}.{j}") for q in quads for j in q] for hand in HANDS
        ]  # per hand: 19 * 4 joint indices, flattened
        self.out_dim = 2 * len(quads)

    def forward_features(self, x: Any, mask: Tensor | None = None) -> Tensor:
        xyz, present, _ = self._inputs(x, mask)
        out = [masked_time_mean(*finger_angles(xyz, present, flat)) for flat in self.quads]
        return torch.cat(out, dim=1).unsqueeze(1)  # 2 x (B, 19) -> (B, 1, 38)


# ----------------------------------------------------------------------------- factory

def random_init(model: str, seed: int = 0, **kwargs: Any) -> Encoder:
    """A registered encoder with freshly initialised (untrained) weights, seeded."""
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        enc = create_model(model, **kwargs)
    finally:
        torch.random.set_rng_state(state)
    if not isinstance(enc, Encoder):
        raise ConfigError(f"model '{model}' is not an Encoder ({type(enc).__name__}); pick an encoder")
    return enc.eval()


_BASELINES: dict[str, type[_PoseBaseline]] = {
    "raw-keypoints": RawKeypoints,
    "raw-hand-keypoints": RawHandKeypoints,
    "raw-hand-angles": RawHandAngles,
}


#: training-free baselines that compare sequences and have no encoder
SEQUENCE_BASELINES: tuple[str, ...] = ("dtw",)


def list_baselines() -> list[str]:
    """Names of the training-free baselines: the encoders of :func:`get_baseline` and the
    sequence baselines (:data:`SEQUENCE_BASELINES`, evaluated by retrieval only)."""
    return sorted([*_BASELINES, "random-init", *SEQUENCE_BASELINES])


def get_baseline(name: str, **kwargs: Any) -> Encoder:
    """A training-free baseline encoder by name (``_`` and ``-`` are interchangeable).

    ``random-init`` needs ``model=NAME`` (a registered encoder) and takes ``seed`` plus
    that model's keyword overrides; the others take ``layout``, ``dims``,
    ``conf_threshold`` (and ``scale`` for ``raw-hand-keypoints``).  ``dtw`` has no
    encoder: it raises, naming the command that evaluates it.
    """
    key = name.strip().lower().replace("_", "-")
    if key == "dtw":
        raise ConfigError("baseline 'dtw' compares sequences by dynamic time warping and has no "
                          "embedding; use `signssl evaluate retrieval --baseline dtw`")
    if key == "random-init":
        model = kwargs.pop("model", None)
        if not model:
            raise ConfigError("baseline 'random-init' needs a model name (--model NAME)")
        return random_init(model, **kwargs)
    if key not in _BASELINES:
        raise ConfigError(f"unknown baseline '{name}'; known: {', '.join(list_baselines())}")
    kwargs.pop("seed", None)  # deterministic: a seed changes nothing
    try:
        return _BASELINES[key](**kwargs).eval()
    except TypeError as e:
        raise ConfigError(f"baseline '{name}': {e}") from None
