"""Cross-entropy plus the SignRep class-distribution loss (SignRep Eq. 13).

See docs/methods.md#signrep-recognition.

With classifier logits ``ŷ`` for a sample of class ``y``, the precomputed class
probability distribution ``P`` (``(K, K)``, rows sum to 1; see
:mod:`signssl.eval.class_distribution`) and ``q = softmax(ŷ)``::

    L = CE_ε(ŷ, y) + λ · P_y[y] · KL(P_y ‖ q)                                 (Eq. 13)
    KL(P_y ‖ q) = Σ_k P_y[k] (log P_y[k] − log q_k)          (terms with P_y[k] = 0 are 0)

``CE_ε`` is cross-entropy with label smoothing ε (target ``(1 − ε) 1_y + ε / K``,
PyTorch's definition).  Both terms are averaged over the batch; samples whose label is
``ignore_index`` (-1, a class the head does not know) are left out of both, and a batch
with no other sample gives 0.  Paper defaults: λ = 0.2, ε = 0.1.

Shapes: ``logits``: ``(B, K)``; ``y``: ``(B,)`` long; ``P``: ``(K, K)``; scalar out.

Example:
    >>> import torch
    >>> P = torch.tensor([[0.4, 0.3, 0.3], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4]])
    >>> logits = torch.log(P[[0, 2]])                    # predictions equal to P_y: KL = 0
    >>> y = torch.tensor([0, 2])
    >>> ce = torch.nn.functional.cross_entropy(logits, y, label_smoothing=0.1)
    >>> bool(torch.isclose(class_distribution_kl_loss(logits, y, P), ce))
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signssl.errors import ConfigError, DataError


def _check(logits: Tensor, y: Tensor, P: Tensor) -> None:
    if logits.ndim != 2 or y.ndim != 1 or y.shape[0] != logits.shape[0]:
        raise ConfigError(
            f"expected logits (B, K) and labels (B,), got {tuple(logits.shape)} and {tuple(y.shape)}"
        )
    k = logits.shape[1]
    if P.shape != (k, k):
        raise ConfigError(
            f"class distribution P has shape {tuple(P.shape)} but the classifier has K={k} "
            "classes; compute P over the classifier's class list"
        )


def class_distribution_kl(logits: Tensor, y: Tensor, P: Tensor, ignore_index: int = -1) -> Tensor:
    """Batch mean of ``P_y[y] · KL(P_y ‖ softmax(ŷ))`` over labelled samples: ``-> ()``."""
    _check(logits, y, P)
    keep = y != ignore_index  # (B,)
    safe_y = torch.where(keep, y, torch.zeros_like(y))  # (B,) any valid row for ignored ones
    rows = P.to(logits)[safe_y]  # (K, K)[(B,)] -> (B, K): P_y
    log_q = F.log_softmax(logits, dim=1)  # (B, K)
    cross = torch.where(rows > 0, rows * log_q, torch.zeros_like(log_q))  # 0 · log 0 = 0
    kl = (torch.xlogy(rows, rows) - cross).sum(dim=1)  # (B, K) -> (B,)
    weight = rows.gather(1, safe_y.unsqueeze(1)).squeeze(1)  # (B, K) -> (B,): P_y[y]
    per_sample = torch.where(keep, weight * kl, torch.zeros_like(kl))  # (B,)
    return per_sample.sum() / keep.sum().clamp_min(1)


def smoothed_cross_entropy(
    logits: Tensor, y: Tensor, label_smoothing: float = 0.1, ignore_index: int = -1
) -> Tensor:
    """Mean label-smoothed CE over labelled samples (0 when none): ``(B, K), (B,) -> ()``."""
    keep = y != ignore_index  # (B,)
    per_sample = F.cross_entropy(
        logits, y, ignore_index=ignore_index, label_smoothing=label_smoothing, reduction="none"
    )  # (B,), 0 for ignored samples
    return per_sample.sum() / keep.sum().clamp_min(1)


def class_distribution_kl_loss(
    logits: Tensor,
    y: Tensor,
    P: Tensor,
    lam: float = 0.2,
    label_smoothing: float = 0.1,
    ignore_index: int = -1,
) -> Tensor:
    """Eq. 13: ``CE_ε(ŷ, y) + λ · P_y[y] · KL(P_y ‖ softmax(ŷ))`` averaged over the batch."""
    _check(logits, y, P)
    if not 0.0 <= label_smoothing < 1.0:
        raise ConfigError(f"label smoothing must be in [0, 1), got {label_smoothing}")
    if lam < 0:
        raise ConfigError(f"class-distribution weight λ must be >= 0, got {lam}")
    ce = smoothed_cross_entropy(logits, y, label_smoothing, ignore_index)
    return ce + lam * class_distribution_kl(logits, y, P, ignore_index)


def check_class_distribution(P: Tensor, atol: float = 1e-4) -> None:
    """Raise :class:`DataError` unless ``P`` is ``(K, K)``, finite, >= 0 with rows summing to 1."""
    if P.ndim != 2 or P.shape[0] != P.shape[1] or P.shape[0] == 0:
        raise DataError(
            f"a class distribution must be a non-empty (K, K) matrix, got {tuple(P.shape)}"
        )
    if not bool(torch.isfinite(P).all()) or bool((P < 0).any()):
        raise DataError("the class distribution has negative or non-finite entries; recompute it")
    sums = P.sum(dim=1)  # (K, K) -> (K,)
    bad = torch.nonzero((sums - 1.0).abs() > atol).flatten().tolist()
    if bad:
        raise DataError(
            f"rows {bad[:10]} of the class distribution do not sum to 1 (sums "
            f"{sums[bad[:10]].tolist()}); recompute it with signssl.eval.class_distribution"
        )


class ClassDistributionKLLoss(nn.Module):
    """Module form of :func:`class_distribution_kl_loss` holding ``P`` as a buffer.

    Args:
        P: ``(K, K)`` class probability distribution (checked: rows sum to 1).
        lam: λ (0.2).
        label_smoothing: ε (0.1).
        ignore_index: label of samples left out (-1).
    """

    P: Tensor

    def __init__(
        self, P: Tensor, lam: float = 0.2, label_smoothing: float = 0.1, ignore_index: int = -1
    ) -> None:
        super().__init__()
        P = torch.as_tensor(P, dtype=torch.float32)
        check_class_distribution(P)
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"label smoothing must be in [0, 1), got {label_smoothing}")
        if lam < 0:
            raise ConfigError(f"class-distribution weight λ must be >= 0, got {lam}")
        self.register_buffer("P", P.clone())
        self.lam, self.label_smoothing = float(lam), float(label_smoothing)
        self.ignore_index = int(ignore_index)

    def forward(self, logits: Tensor, y: Tensor) -> Tensor:
        return class_distribution_kl_loss(
            logits, y, self.P, self.lam, self.label_smoothing, self.ignore_index
        )
