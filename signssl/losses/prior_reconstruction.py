"""SignRep sign-prior reconstruction loss (docs/methods.md#signrep-reconstruction, Eq. 2).

For every prior ``p`` with prediction ``ŷ^p``, target ``y^p``, validity mask ``v^p``
(``True`` = valid: confident, present keypoints), weight ``λ_p`` and target scale ``s_p``::

    L_p    = Σ_valid smoothL1_β(ŷ^p, s_p · y^p) / #valid          (0 when nothing is valid)
    L_rec  = Σ_p λ_p · L_p                                           (Eq. 2)

``smoothL1_β(a, b) = ½ (a − b)² / β`` if ``|a − b| < β`` else ``|a − b| − ½ β`` (β = 1,
PyTorch's default), element-wise; the mean runs over every valid element (frames and
prior dimensions alike).  A prior with no valid element contributes exactly 0 and a zero
gradient (never NaN); targets under an invalid mask may hold anything, even NaN.

The signer-activity prior (default name ``"activity"``, listed in ``bce_names``) is a
clip-level pair of logits ``(B, 2)`` (left, right hand) with 0/1 targets; it uses
BCE-with-logits instead of smooth L1, so ``sigmoid(logit)`` is ``P(active)`` as retrieval
needs (Eq. 11).  Its weight ``λ = 0.2`` (paper Tab. 9) enters Eq. 2 like any other
weight; its scale must be 1.  The paper's Tab. 9 weights are 10 for keypoints and angles,
20 for distances, 0.2 for activity; its scales are in docs/methods.md#signrep-priors.

Shapes: ``pred[p]`` and ``target[p]``: ``(B, T, d)`` per-frame priors or ``(B, d)``
clip-level ones; ``valid[p]``: bool of the same shape, or with the last axis left out
(one flag per frame / clip), or anything broadcastable to the target.  A name absent from
``valid`` is valid everywhere.  Returns ``(L_rec, {p: L_p})`` (the ``L_p`` unweighted).

Example:
    >>> import torch
    >>> pred = {"hand": torch.zeros(1, 2, 3)}
    >>> target = {"hand": torch.ones(1, 2, 3)}
    >>> valid = {"hand": torch.tensor([[True, False]])}      # frame 2 masked out
    >>> total, terms = prior_reconstruction_loss(pred, target, valid, {"hand": 10.0}, {"hand": 2.0})
    >>> float(terms["hand"]), float(total)                   # |0 − 2| − ½ = 1.5
    (1.5, 15.0)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signssl.errors import ConfigError

#: priors trained with BCE-with-logits instead of smooth L1 by default.
DEFAULT_BCE_NAMES: tuple[str, ...] = ("activity",)


def _broadcast_valid(name: str, valid: Tensor | None, target: Tensor) -> Tensor:
    """The mask of prior ``name`` as a bool tensor of ``target``'s shape."""
    if valid is None:
        return torch.ones_like(target, dtype=torch.bool)
    valid = valid.to(device=target.device, dtype=torch.bool)
    if valid.ndim == target.ndim - 1:
        valid = valid.unsqueeze(-1)  # (B, T) -> (B, T, 1): one flag for all d values
    try:
        return torch.broadcast_to(valid, target.shape)
    except RuntimeError:
        raise ConfigError(
            f"prior '{name}': valid mask of shape {tuple(valid.shape)} does not fit the target "
            f"shape {tuple(target.shape)}; give a mask of the target's shape or without its "
            "last axis"
        ) from None


def _masked_mean(values: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``values`` over ``valid`` entries; 0 (with zero gradient) when none is valid."""
    total = torch.where(valid, values, torch.zeros_like(values)).sum()
    return total / valid.sum().clamp_min(1)


def smooth_l1_term(
    pred: Tensor,
    target: Tensor,
    valid: Tensor | None = None,
    scale: float = 1.0,
    beta: float = 1.0,
    name: str = "prior",
) -> Tensor:
    """``L_p`` of Eq. 2: mean smooth L1 between ``pred`` and ``scale · target`` over valid entries.

    ``name`` only labels error messages.
    """
    if pred.shape != target.shape:
        raise ConfigError(
            f"prior '{name}': prediction {tuple(pred.shape)} and target {tuple(target.shape)} "
            "differ in shape"
        )
    mask = _broadcast_valid(name, valid, target)
    clean = torch.where(mask, target * scale, torch.zeros_like(target))  # no NaN past the mask
    return _masked_mean(F.smooth_l1_loss(pred, clean, reduction="none", beta=beta), mask)


def activity_term(
    logits: Tensor, target: Tensor, valid: Tensor | None = None, name: str = "activity"
) -> Tensor:
    """Activity term: mean BCE-with-logits over valid entries (``target`` in ``[0, 1]``)."""
    if logits.shape != target.shape:
        raise ConfigError(
            f"prior '{name}': logits {tuple(logits.shape)} and target {tuple(target.shape)} "
            "differ in shape"
        )
    mask = _broadcast_valid(name, valid, target)
    clean = torch.where(mask, target.to(logits.dtype), torch.zeros_like(logits))
    bce = F.binary_cross_entropy_with_logits(logits, clean, reduction="none")
    return _masked_mean(bce, mask)


def prior_reconstruction_loss(
    pred: Mapping[str, Tensor],
    target: Mapping[str, Tensor],
    valid: Mapping[str, Tensor] | None,
    weights: Mapping[str, float],
    scales: Mapping[str, float] | None = None,
    beta: float = 1.0,
    bce_names: Collection[str] = DEFAULT_BCE_NAMES,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Eq. 2: ``(Σ_p λ_p L_p, {p: L_p})`` over the priors in ``pred``.

    Args:
        pred: prior name -> prediction.
        target: prior name -> target (the same names as ``pred``).
        valid: prior name -> bool mask (``True`` = valid); absent names are all valid.
        weights: ``λ_p`` for every prior in ``pred``.
        scales: ``s_p``; absent names use 1.  Names in ``bce_names`` must use 1.
        beta: smooth-L1 threshold β.
        bce_names: priors trained with BCE-with-logits (``pred`` holds logits).
    """
    if set(pred) != set(target):
        raise ConfigError(
            f"predicted priors {sorted(pred)} and target priors {sorted(target)} differ; "
            "build the decoder with the priors the data provides"
        )
    if not pred:
        raise ConfigError("prior_reconstruction_loss got no prior")
    missing = sorted(set(pred) - set(weights))
    if missing:
        raise ConfigError(f"no loss weight for priors {missing}; add them to the weights")
    if beta <= 0:
        raise ConfigError(f"smooth-L1 beta must be > 0, got {beta}")
    valid = valid or {}
    scales = scales or {}
    terms: dict[str, Tensor] = {}
    for name in pred:
        scale = float(scales.get(name, 1.0))
        if name in bce_names:
            if scale != 1.0:
                raise ConfigError(
                    f"prior '{name}' is trained with BCE on 0/1 targets; its scale must be 1, "
                    f"got {scale}"
                )
            terms[name] = activity_term(pred[name], target[name], valid.get(name), name=name)
        else:
            terms[name] = smooth_l1_term(
                pred[name], target[name], valid.get(name), scale, beta, name=name
            )
    total = torch.stack([float(weights[name]) * term for name, term in terms.items()]).sum()
    return total, terms


class PriorReconstructionLoss(nn.Module):
    """Module form of :func:`prior_reconstruction_loss`; ``forward(pred, target, valid=None)``.

    Args:
        weights: ``λ_p`` per prior name.
        scales: ``s_p`` per prior name (absent: 1).
        beta: smooth-L1 threshold β.
        bce_names: priors trained with BCE-with-logits.
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        scales: Mapping[str, float] | None = None,
        beta: float = 1.0,
        bce_names: Collection[str] = DEFAULT_BCE_NAMES,
    ) -> None:
        super().__init__()
        if beta <= 0:
            raise ConfigError(f"smooth-L1 beta must be > 0, got {beta}")
        self.weights = {str(k): float(v) for k, v in weights.items()}
        self.scales = {str(k): float(v) for k, v in (scales or {}).items()}
        self.beta = float(beta)
        self.bce_names = tuple(bce_names)

    def forward(
        self,
        pred: Mapping[str, Tensor],
        target: Mapping[str, Tensor],
        valid: Mapping[str, Tensor] | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        return prior_reconstruction_loss(
            pred, target, valid, self.weights, self.scales, self.beta, self.bce_names
        )
