"""SignRep: a video Hiera pretrained to reconstruct sign priors (docs/methods.md#signrep).

Per batch of ``N`` videos with two crops each (``a_i``, ``b_i``; see
:mod:`signssl.methods.video_base` for the crop-major order)::

    x      = augment(crops)                                    (2N, 3, T, H, W)
    M      = random mask units, ratio mask_ratio per crop      True = hidden (0.8)
    X      = Hiera(x, M)                                       (2N, n, D) visible tokens
    z, ŷ   = SignDecoder(X)                                    Eq. 1: z (2N, L), ŷ^p (2N, T, d_p)
    L_rec  = Σ_p λ_p smoothL1(ŷ^p, s_p y^p) + λ_a BCE(activity)  Eq. 2 on both crops
    L_var, L_cov on z of all 2N crops                          Eq. 3-6
    g      = gram_style(X)                                     Eq. 7 (2N, D)
    z_a = z[:N], g_b = g[N:], g_c = g_b[j], j = mismatched_index(N)   (c: another video)
    L_D    = discriminator loss on (sg z_a, sg g_b) -> 1, (sg z_a, sg g_c) -> 0
             (discriminator parameters only; its own optimiser), then the EMA of its outputs
    L_adv  = adversarial loss, discriminator frozen, gated on e_same > e_diff   Eq. 8-9
    L      = L_rec + λ_adv L_adv + λ_var L_var + λ_cov L_cov                    Eq. 10

The losses are those of :mod:`signssl.losses.prior_reconstruction`,
:mod:`~signssl.losses.variance_covariance` and :mod:`~signssl.losses.style_adversarial`
(read the last one for the exact reconstructed form of L_adv).  ``training_loss`` returns
``loss`` (= L, whose gradient never reaches the discriminator) and ``aux_loss`` (= L_D,
whose gradient reaches only the discriminator): the engine backpropagates their sum once
and steps the two optimisers on their disjoint parameter sets
(:meth:`SignRep.auxiliary_optimizer`, :mod:`signssl.engine.module`).  The discriminator
and the encoder are updated from the same forward pass (simultaneous updates); the gate
uses the expected outputs after this step's EMA update.

Weights (paper Tab. 9, docs/methods.md#signrep-total-loss): keypoints and angles 10, distances 20,
activity 0.2 (from :data:`signssl.priors.PRIOR_SPECS`, overridable per prior with
``prior_weights``), ``var_weight`` 1.0, ``cov_weight`` 0.004, ``adv_weight`` 2.0; EMA
momentum 0.1; mask ratio 0.8.  The Tab. 5 ablation rows are switches: priors alone
(``mask_ratio=0, var_weight=0, cov_weight=0, use_style=false``), + masking
(``mask_ratio=0.8``), + var/cov (``var_weight=1, cov_weight=0.004``), + adversarial
(``use_style=true``).  Not stated in the paper (our choice): whether L_adv's gradient
also flows through the style vectors g (default yes, ``adv_detach_style=false``: the
encoder is pushed to make its token statistics uninformative, not only z), and the
discriminator's learning rate (default: the encoder's peak rate, ``disc_lr``).

``embedding`` (collapse monitor) is z.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor

from signssl.errors import ConfigError
from signssl.losses.prior_reconstruction import prior_reconstruction_loss
from signssl.losses.style_adversarial import (
    StyleOutputEMA,
    discriminator_step_loss,
    encoder_adversarial_loss,
    mismatched_index,
)
from signssl.losses.variance_covariance import covariance_loss, variance_loss
from signssl.methods.registry import register_method
from signssl.methods.signrep_options import (
    PriorTargets,
    SignDecoderSize,
    StyleAdversary,
    VarCovWeights,
)
from signssl.methods.video_base import VideoMethod, crop_major
from signssl.models.activity_head import ActivityHead, save_activity_head
from signssl.models.base import Encoder
from signssl.models.sign_decoder import SignDecoder
from signssl.models.style_discriminator import StyleDiscriminator, gram_style
from signssl.priors import PRIOR_SPECS

ACTIVITY = "activity"


def prior_settings(
    names: Sequence[str] | None, weights: Mapping[str, float] | None
) -> tuple[dict[str, int], dict[str, float], dict[str, float]]:
    """``(per-frame dims, weights λ_p, scales s_p)`` of the chosen priors (activity included
    in the weights and scales, not in the dims: it is the decoder's clip-level head)."""
    chosen = list(PRIOR_SPECS) if names is None else list(names)
    unknown = sorted(set(chosen) - set(PRIOR_SPECS))
    if unknown or not chosen:
        raise ConfigError(
            f"priors {unknown or chosen} are not sign priors; choose among {list(PRIOR_SPECS)}"
        )
    extra = sorted(set(weights or {}) - set(chosen))
    if extra:
        raise ConfigError(f"prior_weights names priors that are not used: {extra}")
    lam = {n: float((weights or {}).get(n, PRIOR_SPECS[n].weight)) for n in chosen}
    scales = {n: float(PRIOR_SPECS[n].scale) for n in chosen}
    dims = {n: int(PRIOR_SPECS[n].dim) for n in chosen if n != ACTIVITY}
    if not dims:
        raise ConfigError("choose at least one per-frame prior besides the activity")
    return dims, lam, scales


@register_method("signrep")
class SignRep(VideoMethod):
    """The SignRep recipe (module docstring).  Its options come in four groups
    (:mod:`signssl.methods.signrep_options`), each with the paper's defaults:

    Args:
        mask_ratio: share of mask units hidden per crop (0.8; 0 = no masking).
        prior: :class:`PriorTargets`, the priors to reconstruct, their weights ``λ_p``
            (default Tab. 9) and the smooth L1's β (Eq. 2).
        decoder_size: :class:`SignDecoderSize`, the decoder's widths (Eq. 1) and its
            readout (``"pooled"``, or ``"per_time"``: not in the paper, see
            :class:`~signssl.models.sign_decoder.SignDecoder`).
        spread: :class:`VarCovWeights`, λ_var and λ_cov (1.0, 0.004; 0 switches a term off).
        style: :class:`StyleAdversary`, the style discriminator and L_adv (λ_adv 2.0,
            widths, EMA momentum, the discriminator's Adam settings and schedule).
        augment, jitter_p, crop_scale_min, blur_p, gray_p, seed: see
            :class:`~signssl.methods.video_base.VideoMethod`.

    A config gives every group's fields flat (``method.kwargs.adv_weight``);
    :func:`~signssl.methods.create_method` gathers them into the groups.
    """

    needs_priors = True

    def __init__(
        self,
        encoder: Encoder,
        mask_ratio: float = 0.8,
        prior: PriorTargets = PriorTargets(),
        decoder_size: SignDecoderSize = SignDecoderSize(),
        spread: VarCovWeights = VarCovWeights(),
        style: StyleAdversary = StyleAdversary(),
        **video_options: Any,
    ) -> None:
        super().__init__(encoder, mask_ratio=mask_ratio, **video_options)
        dims, self.prior_weights, self.prior_scales = prior_settings(
            prior.priors, prior.prior_weights
        )
        self.use_activity = ACTIVITY in self.prior_weights
        self.prior, self.spread, self.style = prior, spread, style
        d = decoder_size
        self.decoder = SignDecoder(
            in_dim=encoder.out_dim,
            latent_dim=d.latent_dim,
            hidden=d.decoder_hidden,
            up_dim=d.up_dim,
            num_frames=self.hiera.num_frames,
            prior_dims=dims,
            activity_hidden=d.activity_hidden,
            readout=d.decoder_readout,
        )
        self.discriminator: StyleDiscriminator | None = None
        if style.use_style:
            self.discriminator = StyleDiscriminator(
                z_dim=d.latent_dim,
                g_dim=encoder.out_dim,
                hidden=style.disc_hidden,
                style_scale=style.style_scale,
            )
            self.style_ema = StyleOutputEMA(momentum=style.style_momentum)

    # ------------------------------------------------------------------ engine hooks

    def export_extras(self, model_dir: Any) -> None:
        """Write the activity head (decoder latent + activity MLP) next to the exported
        encoder, for activity-weighted retrieval (Eq. 11-12, ``signssl.eval.windows``)."""
        save_activity_head(ActivityHead.from_decoder(self.decoder), model_dir)

    def auxiliary_optimizer(self) -> dict[str, Any] | None:
        """The discriminator's optimiser (Adam, warmup + cosine), or ``None`` without style.

        ``params`` are excluded from the encoder's optimiser; ``lr`` / ``warmup_steps``
        ``None`` mean "as the encoder's".
        """
        if self.discriminator is None:
            return None
        s = self.style
        return {
            "params": list(self.discriminator.parameters()),
            "name": "adam",
            "lr": None if s.disc_lr is None else float(s.disc_lr),
            "betas": s.disc_betas,
            "weight_decay": float(s.disc_weight_decay),
            "warmup_steps": None if s.disc_warmup_steps is None else int(s.disc_warmup_steps),
        }

    # ------------------------------------------------------------------ the step

    def targets(self, batch: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """Crop-major targets and masks: ``{p: (2N, T, d_p)}``, activity ``(2N, 2)``."""
        if "priors" not in batch or "activity" not in batch:
            raise ConfigError(
                "signrep needs sign priors in the batch: build the data with "
                "PairClipDataset(priors=True) (pose_path column or data.video.priors_dir)"
            )
        target: dict[str, Tensor] = {}
        valid: dict[str, Tensor] = {}
        for name in self.decoder.prior_dims:
            if name not in batch["priors"]:
                raise ConfigError(
                    f"the batch has no prior '{name}'; it has {sorted(batch['priors'])}"
                )
            target[name] = crop_major(batch["priors"][name]).float()  # (N, K, T, d) -> (K N, T, d)
            valid[name] = crop_major(batch["priors_valid"][name])
        if self.use_activity:
            target[ACTIVITY] = crop_major(batch["activity"]).float()  # (N, K, 2) -> (K N, 2)
            valid[ACTIVITY] = crop_major(batch["activity_valid"])
        return target, valid

    def style_terms(self, tokens: Tensor, z: Tensor, num_videos: int) -> dict[str, Tensor]:
        """``L_D`` (``disc``), gated ``L_adv`` (``adv``) and the EMA values of Eq. 7-9.

        ``tokens (2N, n, D)`` and ``z (2N, L)`` crop-major (a then b).  The EMA is updated
        in training mode only.
        """
        assert self.discriminator is not None
        N = num_videos
        g = gram_style(tokens)  # (2N, n, D) -> (2N, D)
        z_a, g_b = z[:N], g[N:]  # crop a of video i, style of crop b of the same video
        j = mismatched_index(N, self.generator, device=g.device)  # (N,), j[i] != i
        g_c = g_b[j]  # style of a crop of another video
        loss_d, p_same, p_diff = discriminator_step_loss(self.discriminator, z_a, g_b, g_c)
        if self.training:
            self.style_ema.update(p_same, p_diff)
        if self.style.adv_detach_style:
            g_b, g_c = g_b.detach(), g_c.detach()
        e_same, e_diff = self.style_ema.e_same, self.style_ema.e_diff
        adv = encoder_adversarial_loss(self.discriminator, z_a, g_b, g_c, e_same, e_diff)
        return {
            "disc": loss_d,
            "adv": adv,
            "e_same": e_same.detach().clone(),
            "e_diff": e_diff.detach().clone(),
            "p_same": p_same.mean(),
            "p_diff": p_diff.mean(),
        }

    def training_loss(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        x, N, K = self.clips(batch)  # (K N, 3, T, H, W)
        if self.style.use_style and K != 2:
            raise ConfigError(
                f"signrep's style discriminator needs two crops per video, got {K}; set "
                "data.video.crops=2 (or method.kwargs.use_style=false)"
            )
        target, valid = self.targets(batch)
        mask = self.draw_mask(x.shape[0])  # (K N, U) True = hidden, or None
        tokens = self.encoder.forward_features(x, mask)  # (K N, n, D)
        by_time = (self.encoder.tokens_by_time(tokens, mask)  # (K N, T', D)
                   if self.decoder.readout == "per_time" else None)  # fmt: skip
        dec = self.decoder(tokens, by_time)
        pred: dict[str, Tensor] = dict(dec.priors)  # (K N, T, d_p)
        if self.use_activity:
            pred[ACTIVITY] = dec.activity_logits  # (K N, 2)
        beta = self.prior.smooth_l1_beta
        loss_rec, terms = prior_reconstruction_loss(
            pred, target, valid, self.prior_weights, self.prior_scales, beta
        )
        z = dec.latent  # (K N, L)
        out: dict[str, Tensor] = {"rec": loss_rec.detach()}
        out.update({f"rec_{n}": t.detach() for n, t in terms.items()})
        loss = loss_rec
        w = self.spread
        if w.on:
            l_var, l_cov = variance_loss(z), covariance_loss(z)
            loss = loss + w.var_weight * l_var + w.cov_weight * l_cov
            out.update(var=l_var.detach(), cov=l_cov.detach())
        if self.style.use_style:
            terms_s = self.style_terms(tokens, z, N)
            loss = loss + self.style.adv_weight * terms_s["adv"]
            out["aux_loss"] = terms_s["disc"]
            out.update({k: v.detach() for k, v in terms_s.items()})
        out["loss"] = loss
        out["embedding"] = z.detach()
        if mask is not None:
            out["mask_ratio"] = mask.float().mean().detach()
        return out
