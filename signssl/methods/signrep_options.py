"""SignRep's options in four groups (docs/methods.md#signrep), each checked where it is built.

A config keeps them flat (``method.kwargs.adv_weight``, ``method.kwargs.latent_dim``, ...):
:func:`~signssl.methods.registry.create_method` gathers each group's fields from the flat
keyword arguments, so the YAML names and the dataclass fields are the same words.
``mask_ratio`` and the video options stay plain arguments of
:class:`~signssl.methods.video_base.VideoMethod`.

>>> StyleAdversary(disc_betas=[0.5, 0.9]).disc_betas, VarCovWeights().cov_weight
((0.5, 0.9), 0.004)
>>> StyleAdversary(adv_weight=-1.0)
Traceback (most recent call last):
...
signssl.errors.ConfigError: adv_weight must be >= 0, got -1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from signssl.errors import ConfigError
from signssl.models.sign_decoder import READOUTS


@dataclass(frozen=True)
class PriorTargets:
    """What the decoder reconstructs (Eq. 2).

    priors: names of the priors (``None`` = all of :data:`signssl.priors.PRIOR_NAMES`;
    checked with the weights by :func:`~signssl.methods.signrep.prior_settings`).
    prior_weights: ``λ_p`` overrides by name (default Tab. 9).  smooth_l1_beta: β of the
    smooth L1 (1).
    """

    priors: Sequence[str] | None = None
    prior_weights: Mapping[str, float] | None = None
    smooth_l1_beta: float = 1.0


@dataclass(frozen=True)
class SignDecoderSize:
    """The sign decoder (Eq. 1, :class:`~signssl.models.sign_decoder.SignDecoder`):
    latent ``z`` width (768), hidden width (512), upsampler width (384), activity MLP width
    (128).  decoder_readout: ``"pooled"`` (Eq. 1) or ``"per_time"`` (not in the paper: each
    temporal token position decodes its own frames)."""

    latent_dim: int = 768
    decoder_hidden: int = 512
    up_dim: int = 384
    activity_hidden: int = 128
    decoder_readout: str = "pooled"

    def __post_init__(self) -> None:
        if self.decoder_readout not in READOUTS:
            raise ConfigError(
                f"unknown decoder readout {self.decoder_readout!r}; known: {', '.join(READOUTS)}"
            )


@dataclass(frozen=True)
class VarCovWeights:
    """λ_var, λ_cov of the variance and covariance terms on ``z`` (Eq. 3-6;
    docs/methods.md#signrep-variance-covariance): 1.0 and 0.004, 0 switches a term off."""

    var_weight: float = 1.0
    cov_weight: float = 0.004

    def __post_init__(self) -> None:
        check_weights(var_weight=self.var_weight, cov_weight=self.cov_weight)

    @property
    def on(self) -> bool:
        return self.var_weight > 0 or self.cov_weight > 0


@dataclass(frozen=True)
class StyleAdversary:
    """The style discriminator and the adversarial term (Eq. 7-9).

    use_style: build the discriminator and train adversarially.  adv_weight: λ_adv (2.0).
    adv_detach_style: stop L_adv's gradient at the style vectors (only z adapts; not in
    the paper).  disc_hidden, style_scale: discriminator width (768) and style factor
    (100).  style_momentum: EMA momentum of the expected outputs (0.1).  disc_lr: the
    discriminator's peak learning rate (``None`` = the encoder's).  disc_betas,
    disc_weight_decay: its Adam settings ((0.9, 0.999), 0; a list from YAML becomes a
    tuple).  disc_warmup_steps: its warmup (``None`` = the encoder's); cosine decay after.
    """

    use_style: bool = True
    adv_weight: float = 2.0
    adv_detach_style: bool = False
    disc_hidden: int = 768
    style_scale: float = 100.0
    style_momentum: float = 0.1
    disc_lr: float | None = None
    disc_betas: tuple[float, float] | list[float] = (0.9, 0.999)
    disc_weight_decay: float = 0.0
    disc_warmup_steps: int | None = None

    def __post_init__(self) -> None:
        check_weights(adv_weight=self.adv_weight)
        if self.disc_lr is not None and self.disc_lr <= 0:
            raise ConfigError(f"disc_lr must be positive or null, got {self.disc_lr}")
        if len(tuple(self.disc_betas)) != 2:
            raise ConfigError(f"disc_betas must be two numbers, got {self.disc_betas}")
        object.__setattr__(self, "disc_betas", tuple(float(b) for b in self.disc_betas))


def check_weights(**weights: float) -> None:
    """:class:`ConfigError` for the first negative loss weight."""
    for name, w in weights.items():
        if w < 0:
            raise ConfigError(f"{name} must be >= 0, got {w}")
