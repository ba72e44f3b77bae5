"""Losses, one per file: pure functions per term plus a module class (docs/methods.md)."""

from signssl.losses.byol import BYOLLoss, byol_loss, normalized_mse
from signssl.losses.class_distribution_kl import (
    ClassDistributionKLLoss,
    class_distribution_kl_loss,
)
from signssl.losses.info_nce_queue import InfoNCEQueueLoss, MemoryQueue, info_nce_queue_loss
from signssl.losses.negative_cosine import (
    NegativeCosineLoss,
    negative_cosine,
    symmetric_negative_cosine,
)
from signssl.losses.nt_xent import NTXentLoss, nt_xent_loss
from signssl.losses.prior_reconstruction import (
    PriorReconstructionLoss,
    prior_reconstruction_loss,
)
from signssl.losses.sl_fpn import SLFPNLoss, sl_fpn_loss, sl_fpn_terms
from signssl.losses.style_adversarial import (
    StyleAdversarialLoss,
    StyleOutputEMA,
    discriminator_step_loss,
    encoder_adversarial_loss,
    mismatched_index,
)
from signssl.losses.variance_covariance import (
    VarianceCovarianceLoss,
    covariance_loss,
    variance_loss,
)

__all__ = [
    "BYOLLoss",
    "ClassDistributionKLLoss",
    "InfoNCEQueueLoss",
    "MemoryQueue",
    "NTXentLoss",
    "NegativeCosineLoss",
    "PriorReconstructionLoss",
    "SLFPNLoss",
    "StyleAdversarialLoss",
    "StyleOutputEMA",
    "VarianceCovarianceLoss",
    "byol_loss",
    "class_distribution_kl_loss",
    "covariance_loss",
    "discriminator_step_loss",
    "encoder_adversarial_loss",
    "info_nce_queue_loss",
    "mismatched_index",
    "negative_cosine",
    "normalized_mse",
    "nt_xent_loss",
    "prior_reconstruction_loss",
    "sl_fpn_loss",
    "sl_fpn_terms",
    "symmetric_negative_cosine",
    "variance_loss",
]
