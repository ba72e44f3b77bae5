"""Losses, one per file: pure functions per term plus a module class (METHODS.md)."""

from signssl.losses.byol import BYOLLoss, byol_loss, normalized_mse
from signssl.losses.info_nce_queue import InfoNCEQueueLoss, MemoryQueue, info_nce_queue_loss
from signssl.losses.negative_cosine import (
    NegativeCosineLoss,
    negative_cosine,
    symmetric_negative_cosine,
)
from signssl.losses.nt_xent import NTXentLoss, nt_xent_loss
from signssl.losses.sl_fpn import SLFPNLoss, sl_fpn_loss, sl_fpn_terms

__all__ = [
    "BYOLLoss",
    "InfoNCEQueueLoss",
    "MemoryQueue",
    "NTXentLoss",
    "NegativeCosineLoss",
    "SLFPNLoss",
    "byol_loss",
    "info_nce_queue_loss",
    "negative_cosine",
    "normalized_mse",
    "nt_xent_loss",
    "sl_fpn_loss",
    "sl_fpn_terms",
    "symmetric_negative_cosine",
]
