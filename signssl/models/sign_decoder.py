"""SignRep sign decoder: encoder tokens -> per-frame sign priors + activity (Eq. 1).

See docs/methods.md#signrep-model.

The decoder turns the encoder tokens of one clip into a clip vector, upsamples it back to
the ``T_in`` input frames and predicts every sign prior per frame::

    z   = W_z · LayerNorm(mean_n x_n)                           (B, N, D) -> (B, latent_dim)
    h   = GELU(Conv1d_{k=1}(z))                    z as a length-1 sequence -> (B, hidden, 1)
    u   = ConvTranspose1d_{k=T_in}(h)                                   -> (B, up_dim, T_in)
    ŷ^p_t = W_p u_t                  one Linear per prior p            -> (B, T_in, dim_p)
    a   = MLP(z)                     latent_dim -> activity_hidden -> 2 (left, right hand)

A transposed convolution with kernel ``T_in`` over a length-1 input writes one kernel
column per output frame, so ``u_t`` is a separate learned linear map of ``h`` for every
frame ``t``.  The activity head gives one logit per hand for the whole clip; ``sigmoid``
of a logit is that hand's ``P(active)`` (trained with BCE, see
:mod:`signssl.losses.prior_reconstruction`), which dictionary retrieval uses to weight
its sliding windows (Eq. 11-12).  The decoder is used only in pretraining (and for the
activity weights of retrieval); downstream tasks keep the encoder.

Example:
    >>> import torch
    >>> dec = SignDecoder(in_dim=32, latent_dim=24, hidden=16, up_dim=8, num_frames=4,
    ...                   prior_dims={"hand_keypoints": 63}, activity_hidden=8)
    >>> out = dec(torch.randn(2, 10, 32))
    >>> tuple(out.latent.shape), tuple(out.priors["hand_keypoints"].shape)
    ((2, 24), (2, 4, 63))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from torch import Tensor, nn

from signssl.errors import ConfigError
from signssl.models.heads import build_mlp

#: number of activity logits: one per hand (left, right).
NUM_HANDS = 2
#: how the per-frame priors read the encoder (see :class:`SignDecoder`)
READOUTS = ("pooled", "per_time")


@dataclass
class SignDecoderOutput:
    """What :class:`SignDecoder` returns.

    Attributes:
        latent: ``(B, latent_dim)`` clip vector ``z`` (input of the activity head; the
            variance/covariance losses of Eq. 3-6 act on it).
        priors: prior name -> ``(B, T_in, dim)`` per-frame predictions ``ŷ^p_t``.
        activity_logits: ``(B, 2)`` clip-level logits of the (left, right) hand being active.
    """

    latent: Tensor
    priors: dict[str, Tensor]
    activity_logits: Tensor


def _check_prior_dims(prior_dims: Mapping[str, int] | None) -> dict[str, int]:
    """Validate ``prior_dims`` (name -> flattened size per frame) and return a plain dict."""
    if prior_dims is None or len(prior_dims) == 0:
        raise ConfigError(
            "SignDecoder needs prior_dims, a mapping prior name -> flattened size per frame "
            "(e.g. {'hand_keypoints_left': 63}); got none"
        )
    out: dict[str, int] = {}
    for name, dim in prior_dims.items():
        if not isinstance(name, str) or not name or "." in name:
            raise ConfigError(
                f"prior name {name!r} is not usable as a head name: use a non-empty string "
                "without '.'"
            )
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ConfigError(f"prior '{name}' has size {dim!r}; give a positive integer")
        out[name] = dim
    return out


class SignDecoder(nn.Module):
    """Eq. 1 decoder with one linear head per prior and a clip-level activity head.

    Args:
        in_dim: encoder token width D (Hiera-B: 768).
        latent_dim: size of ``z`` (768).
        hidden: channels of the ``k=1`` convolution (512).
        up_dim: channels of ``u_t`` (384).
        num_frames: ``T_in``, the number of input frames (16); the kernel of the
            transposed convolution.
        prior_dims: prior name -> flattened size per frame (required; names must not
            contain ``'.'``).
        activity_hidden: hidden width of the activity MLP (128).
        readout: ``"pooled"`` (Eq. 1: every frame's priors from the one vector ``z``) or
            ``"per_time"`` (not in the paper): the priors of the frames under temporal
            token ``t`` from the encoder's tokens at ``t``, ``u_t = MLP(LN(x̄_t))``
            (``hidden`` then ``up_dim`` channels, repeated over the ``T_in / T'`` frames of
            ``t``); ``z`` (var/cov, activity, style) stays Eq. 1's.  Pass the tokens averaged
            per temporal position (``encoder.tokens_by_time``) as ``by_time``.
    """

    def __init__(
        self,
        in_dim: int = 768,
        latent_dim: int = 768,
        hidden: int = 512,
        up_dim: int = 384,
        num_frames: int = 16,
        prior_dims: Mapping[str, int] | None = None,
        activity_hidden: int = 128,
        readout: str = "pooled",
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ConfigError(f"unknown decoder readout {readout!r}; known: {', '.join(READOUTS)}")
        sizes = {
            "in_dim": in_dim,
            "latent_dim": latent_dim,
            "hidden": hidden,
            "up_dim": up_dim,
            "num_frames": num_frames,
            "activity_hidden": activity_hidden,
        }
        for key, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"SignDecoder {key} must be a positive integer, got {value!r}")
        self.prior_dims = _check_prior_dims(prior_dims)
        self.in_dim, self.latent_dim, self.num_frames = in_dim, latent_dim, num_frames
        self.norm = nn.LayerNorm(in_dim)
        self.to_latent = nn.Linear(in_dim, latent_dim)
        self.readout = readout
        self.act = nn.GELU()
        if readout == "pooled":
            self.expand = nn.Conv1d(latent_dim, hidden, kernel_size=1)
            self.upsample = nn.ConvTranspose1d(hidden, up_dim, kernel_size=num_frames)
        else:
            self.time_mlp = nn.Sequential(
                nn.LayerNorm(in_dim), nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, up_dim)
            )
        self.heads = nn.ModuleDict(
            {name: nn.Linear(up_dim, dim) for name, dim in self.prior_dims.items()}
        )
        self.activity = build_mlp(
            [latent_dim, activity_hidden, NUM_HANDS], norm=None, activation="gelu"
        )

    def encode(self, tokens: Tensor) -> Tensor:
        """``z``: mean over tokens -> LayerNorm -> Linear: ``(B, N, D) -> (B, latent_dim)``."""
        if tokens.ndim != 3 or tokens.shape[2] != self.in_dim or tokens.shape[1] == 0:
            raise ConfigError(
                f"SignDecoder expects encoder tokens (B, N>0, {self.in_dim}), got "
                f"{tuple(tokens.shape)}; build the decoder with in_dim = the encoder's out_dim"
            )
        return self.to_latent(self.norm(tokens.mean(dim=1)))  # (B, N, D) -> (B, latent)

    def frame_features(self, z: Tensor) -> Tensor:
        """``u_t`` for every input frame: ``(B, latent_dim) -> (B, T_in, up_dim)``."""
        h = self.act(self.expand(z.unsqueeze(-1)))  # (B, latent, 1) -> (B, hidden, 1)
        u = self.upsample(h)  # (B, hidden, 1) -> (B, up_dim, T_in)
        return u.transpose(1, 2)  # (B, up_dim, T_in) -> (B, T_in, up_dim)

    def time_features(self, by_time: Tensor) -> Tensor:
        """``u_t`` per input frame from per-time tokens: ``(B, T', D) -> (B, T_in, up_dim)``."""
        T = by_time.shape[1]
        if by_time.ndim != 3 or by_time.shape[2] != self.in_dim or self.num_frames % T:
            raise ConfigError(
                f"the per-time readout needs tokens (B, T', {self.in_dim}) with T' dividing "
                f"{self.num_frames} frames, got {tuple(by_time.shape)}"
            )
        u = self.time_mlp(by_time)  # (B, T', up_dim)
        return u.repeat_interleave(self.num_frames // T, dim=1)  # (B, T_in, up_dim)

    def forward(self, tokens: Tensor, by_time: Tensor | None = None) -> SignDecoderOutput:
        """Decode ``(B, N, in_dim)`` encoder tokens into priors and activity logits
        (``by_time (B, T', in_dim)``: the tokens' mean per temporal position, needed by the
        per-time readout)."""
        z = self.encode(tokens)  # (B, latent)
        if self.readout == "per_time":
            if by_time is None:
                raise ConfigError("the per-time decoder readout needs by_time "
                                  "(encoder.tokens_by_time(tokens, mask))")  # fmt: skip
            u = self.time_features(by_time)  # (B, T_in, up_dim)
        else:
            u = self.frame_features(z)  # (B, T_in, up_dim)
        priors = {name: head(u) for name, head in self.heads.items()}  # (B, T_in, dim_p)
        return SignDecoderOutput(latent=z, priors=priors, activity_logits=self.activity(z))
