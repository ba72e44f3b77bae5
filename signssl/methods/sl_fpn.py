"""SL-FPN, the SSL-SLR recipe (docs/methods.md#sl-fpn; with boundary permutation = SSL-SLR).

One encoder f, projector g, predictor h; the original clip x and two views x1, x2::

    z0, z1, z2 = g(f(x)), g(f(x1)), g(f(x2))
    L = MSE(z1, z2) + MSE(z0, z1) + MSE(h(z0), sg(z2))

The original clip is not augmented.  Collapse ablation switches (paper §7):
``use_predictor=False`` replaces h by the identity, ``stop_gradient=False`` removes sg,
``input_layernorm=False`` turns off the encoder's input-embedding layer norms.
``embedding`` is z0 (projector output of the clip in the original's place), ``features``
is h0.

``branches`` picks what enters the three places (x, x1, x2) of the loss (paper §7, Fig. 8):

* ``"original"`` (the paper's SL-FPN): the original clip, a view, another view;
* ``"no_original"`` (the ablation "without o"): a third independent view t3(x) takes the
  original's place, so no branch sees the original clip; the three places, heads, terms
  and stop-gradient are unchanged (x1, x2 are the same draws as with ``"original"``);
* ``"swapped"`` (the ablation "perm", the original and one positive exchanged): the first
  view takes the original's place and the original the first view's,
  ``L = MSE(z0, z2) + MSE(z1, z0) + MSE(h(z1), sg(z2))`` in the default's names.

``l2_normalize=True`` (not in the paper) L2-normalises z0, z1, z2 and h(z0) before the
MSE terms, so that each term is ``(2 − 2·cos)/D`` averaged over the batch as in
BYOL/SimSiam: the unnormalised loss can also fall by shrinking every projection.
``proj_last_norm="batch"`` (not in the paper) ends the projector with a batch norm, as
SimSiam's projector does: every projection dimension keeps unit variance over the batch,
so the MSE terms cannot fall by shrinking the projections.

``var_weight`` / ``cov_weight`` > 0 (not in the paper) add the variance and covariance
regularisers of SignRep (docs/methods.md#signrep-variance-covariance) on the *encoder*
features of each of the three branches (averaged): ``L += λ_var L_var(h) + λ_cov
L_cov(h)``.  The projector's last batch norm keeps the projections spread, but the encoder
behind it can still fold its features onto a few directions: on real WLASL keypoints the
pooled features of a 30-epoch run had an effective rank of 2.2 against 7.3 at random init,
and retrieval fell with it (docs/results/README.md).
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from signssl.errors import ConfigError
from signssl.losses.sl_fpn import sl_fpn_terms
from signssl.losses.variance_covariance import covariance_loss, variance_loss
from signssl.methods.base import Method
from signssl.methods.registry import register_method
from signssl.models.base import Encoder
from signssl.models.heads import SLFPNPredictionHead, SLFPNProjectionHead
from signssl.pose.transforms import PoseBatch

#: what takes the places (x, x1, x2) of Eq. 1/2; the first is the paper's method
BRANCHES = ("original", "no_original", "swapped")


@register_method("sl_fpn")
class SLFPN(Method):
    """SL-FPN: projector ``out_dim -> proj_hidden_dim -> proj_dim``, predictor
    ``proj_dim -> pred_hidden_dim -> proj_dim`` (paper/code: 512 -> 1024 -> 128,
    128 -> 1024 -> 128).  ``head_norm``: hidden-layer norm of both heads."""

    def __init__(
        self,
        encoder: Encoder,
        proj_hidden_dim: int = 1024,
        proj_dim: int = 128,
        pred_hidden_dim: int = 1024,
        head_norm: str | None = "batch",
        use_predictor: bool = True,
        stop_gradient: bool = True,
        input_layernorm: bool | None = None,
        l2_normalize: bool = False,
        proj_last_norm: str | None = None,
        branches: str = "original",
        var_weight: float = 0.0,
        cov_weight: float = 0.0,
        **view_options: Any,
    ) -> None:
        super().__init__(encoder, **view_options)
        if branches not in BRANCHES:
            raise ConfigError(
                f"unknown SL-FPN branches {branches!r}; known: {', '.join(BRANCHES)} "
                "(method.kwargs.branches)"
            )
        if var_weight < 0 or cov_weight < 0:
            raise ConfigError(
                f"SL-FPN var_weight and cov_weight must be >= 0, got {var_weight} and "
                f"{cov_weight} (method.kwargs)"
            )
        self.branches = branches
        self.var_weight, self.cov_weight = float(var_weight), float(cov_weight)
        self.projector = SLFPNProjectionHead(
            encoder.out_dim, proj_hidden_dim, proj_dim, head_norm, last_norm=proj_last_norm
        )
        self.predictor = (
            SLFPNPredictionHead(proj_dim, pred_hidden_dim, proj_dim, head_norm)
            if use_predictor
            else None
        )
        self.stop_gradient = bool(stop_gradient)
        self.l2_normalize = bool(l2_normalize)
        if input_layernorm is not None:
            if not hasattr(encoder, "set_input_norm"):
                raise ConfigError(
                    f"input_layernorm={input_layernorm} needs an encoder with switchable input "
                    f"norms (pose transformer), got {type(encoder).__name__}; leave it unset"
                )
            encoder.set_input_norm(bool(input_layernorm))

    def training_loss(self, batch: PoseBatch) -> dict[str, Tensor]:
        h0, h1, h2 = self.encode(self.branch_inputs(self.prepare(batch)))  # 3 x (B, D)
        z0, z1, z2 = self.projector(h0), self.projector(h1), self.projector(h2)  # (B, d)
        p0 = self.predictor(z0) if self.predictor is not None else z0
        embedding = z0.detach()
        if self.l2_normalize:
            z0, z1, z2, p0 = (F.normalize(z, dim=-1) for z in (z0, z1, z2, p0))
        terms = sl_fpn_terms(z0, z1, z2, p0, self.stop_gradient)
        loss = terms["pair"] + terms["original"] + terms["predictor"]
        if self.var_weight > 0 or self.cov_weight > 0:
            terms.update(self.feature_spread_terms((h0, h1, h2)))
            loss = loss + self.var_weight * terms["var"] + self.cov_weight * terms["cov"]
        detached = {k: v.detach() for k, v in terms.items()}
        return {"loss": loss, "embedding": embedding, "features": h0.detach(), **detached}

    @staticmethod
    def feature_spread_terms(hs: tuple[Tensor, ...]) -> dict[str, Tensor]:
        """Variance and covariance losses of the encoder features, averaged over the
        branches: ``3 x (B, D) -> {"var": (), "cov": ()}``."""
        var = sum(variance_loss(h) for h in hs) / len(hs)
        cov = sum(covariance_loss(h) for h in hs) / len(hs)
        return {"var": var, "cov": cov}  # type: ignore[dict-item]

    def branch_inputs(self, x: PoseBatch) -> list[PoseBatch]:
        """The clips in the places (x, x1, x2) of Eq. 1/2 under ``self.branches``; the
        views x1, x2 are drawn first, so every setting sees the same two views."""
        x1, x2 = self.augment(x), self.augment(x)
        if self.branches == "no_original":
            return [self.augment(x), x1, x2]
        if self.branches == "swapped":
            return [x1, x, x2]
        return [x, x1, x2]
