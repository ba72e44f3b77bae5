"""MASA's options in four groups (docs/methods.md#masa), each checked where it is built.

A config keeps them flat (``method.kwargs.mask_ratio``, ``method.kwargs.lambda_s``, ...):
:func:`~signssl.methods.registry.create_method` gathers each group's fields from the flat
keyword arguments, so the YAML names and the dataclass fields are the same words.

>>> MotionMasking(mask_ratio=0.75).mask_ratio, SemanticAlignment().queue_size
(0.75, 6144)
>>> MotionMasking(masking="blocks")
Traceback (most recent call last):
...
signssl.errors.ConfigError: masking must be one of ['motion', 'random'], got 'blocks'
"""

from __future__ import annotations

from dataclasses import dataclass

from signssl.errors import ConfigError
from signssl.losses.motion_residual import NORMS
from signssl.methods.masa_masking import SHARES

MASKINGS = ("motion", "random")
TARGETS = ("residual", "joints")
KEY_VIEWS = ("temporal", "augmented")


@dataclass(frozen=True)
class MotionMasking:
    """The motion-aware masking branch (Alg. 1, Eq. 4), the paper's defaults.

    interval: k, frames between the two ends of a residual.  masking: ``"motion"`` (Alg. 1)
    or ``"random"`` (as many frames, uniform over the frames with a residual).  target:
    ``"residual"`` (m_i) or ``"joints"`` (x_i of the masked frames).  mask_ratio: α;
    motion_threshold: ε_m; candidate_ratio: δ.  candidate_share: ``"all"`` (p_i over all J
    joints) or ``"confident"`` (over the joints seen in both frames; data with missing
    hands).  per_part: the authors' per-part candidate rule with ``part_motion_threshold``
    and ``part_min_joints``.  loss_norm: ``"l2"`` (paper) or ``"l1"`` (code);
    motion_weight: the scale of L_m (code: 10 with l1).
    """

    interval: int = 3
    masking: str = "motion"
    target: str = "residual"
    mask_ratio: float = 0.9
    motion_threshold: float = 5.0
    candidate_ratio: float = 0.5
    candidate_share: str = "all"
    per_part: bool = False
    part_motion_threshold: float = 3.0
    part_min_joints: int = 2
    loss_norm: str = "l2"
    motion_weight: float = 1.0

    def __post_init__(self) -> None:
        check_choice("masking", self.masking, MASKINGS)
        check_choice("target", self.target, TARGETS)
        check_choice("loss_norm", self.loss_norm, NORMS)
        check_choice("candidate_share", self.candidate_share, SHARES)
        if self.interval < 1:
            raise ConfigError(f"interval k must be >= 1, got {self.interval}")
        check_unit("mask_ratio", self.mask_ratio)
        check_unit("candidate_ratio", self.candidate_ratio)


@dataclass(frozen=True)
class DecoderSize:
    """The MA decoder (not stated in the paper): ``dim`` None = half the encoder width,
    ``heads`` None = the encoder's heads."""

    decoder_dim: int | None = None
    decoder_depth: int = 3
    decoder_heads: int | None = None


@dataclass(frozen=True)
class SemanticAlignment:
    """The momentum semantic-alignment branch (Eq. 5-9), the paper's defaults.

    semantic_alignment: the branch is on.  keep_ratio: 1 − α_r, the share of frames in the
    key view.  key_view: ``"temporal"`` (paper: the query's input, temporally subsampled)
    or ``"augmented"`` (not in the paper: its own draw of the view options, MoCo-style;
    needs one of them on).  proj_hidden_dim (None = encoder width), proj_dim: the
    projection heads.  queue_size, temperature, momentum: K, τ, μ.  lambda_s,
    lambda_s_ramp: λ_s and the share of training over which it ramps up from 0.
    """

    semantic_alignment: bool = True
    keep_ratio: float = 0.5
    key_view: str = "temporal"
    proj_hidden_dim: int | None = None
    proj_dim: int = 128
    queue_size: int = 6144
    temperature: float = 0.07
    momentum: float = 0.996
    lambda_s: float = 0.05
    lambda_s_ramp: float = 0.25

    def __post_init__(self) -> None:
        check_choice("key_view", self.key_view, KEY_VIEWS)
        check_unit("lambda_s_ramp", self.lambda_s_ramp)
        check_unit("momentum", self.momentum)
        if not 0.0 < self.keep_ratio <= 1.0:
            raise ConfigError(f"keep_ratio (1 - alpha_r) must be in (0, 1], got {self.keep_ratio}")
        if self.key_view == "augmented" and not self.semantic_alignment:
            raise ConfigError(
                "key_view 'augmented' shapes the semantic-alignment key, which is off "
                "(semantic_alignment=false); drop key_view or turn semantic alignment on"
            )


@dataclass(frozen=True)
class SpreadWeights:
    """Not in the paper (0 = off): SignRep's variance and covariance regularisers
    (docs/methods.md#signrep-variance-covariance) on the pooled encoder features,
    ``L += λ_var L_var + λ_cov L_cov``."""

    var_weight: float = 0.0
    cov_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.var_weight < 0 or self.cov_weight < 0:
            raise ConfigError(
                f"MASA var_weight and cov_weight must be >= 0, got {self.var_weight} and "
                f"{self.cov_weight} (method.kwargs)"
            )

    @property
    def on(self) -> bool:
        return self.var_weight > 0 or self.cov_weight > 0


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    """:class:`ConfigError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {list(allowed)}, got {value!r}")


def check_unit(name: str, value: float) -> None:
    """:class:`ConfigError` unless ``0 <= value <= 1``."""
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], got {value}")
