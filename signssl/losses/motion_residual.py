"""MASA's motion-prediction loss (docs/methods.md#masa-motion-loss, Eq. 4).

For the masked frames ``M`` of a clip, predictions ``y_i`` of the motion residuals
``m_i`` (or of the joints, in the ablation), weighted per joint by the confidences
``c_i · c_{i+k}``::

    L_m = (1/|M|) Σ_{i ∈ M} ‖(y_i − m_i) · c_i · c_{i+k}‖²                        (Eq. 4)

with the squared norm over joints and coordinates (``norm="l2"``, the paper); the
authors' code uses the L1 norm ``Σ |(y_i − m_i) · w_i|`` with an overall weight of 10
(``norm="l1"``, ``weight=10``).  The per-clip value is averaged over the clips that have
at least one masked frame; a batch without any masked frame gives 0 (with a graph, so
``backward`` still works).

Shapes: ``pred, target``: ``(B, T, J, C)``; ``weight``: ``(B, T, J)``; ``mask``: ``(B, T)``
bool, ``True`` = masked (the frames in ``M``); scalar out.

Example:
    >>> import torch
    >>> pred = torch.zeros(1, 2, 1, 2); target = torch.tensor([[[[3.0, 4.0]], [[1.0, 1.0]]]])
    >>> w = torch.ones(1, 2, 1); mask = torch.tensor([[True, False]])
    >>> float(motion_residual_loss(pred, target, w, mask))      # ‖(3, 4)‖² on frame 0 only
    25.0
"""

from __future__ import annotations

from torch import Tensor, nn

NORMS = ("l2", "l1")


def per_frame_error(pred: Tensor, target: Tensor, weight: Tensor, norm: str = "l2") -> Tensor:
    """``‖(y_i − m_i) · w_i‖²`` (l2) or ``Σ|(y_i − m_i) · w_i|`` (l1) per frame: ``(B, T)``."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {list(NORMS)}, got {norm!r}")
    err = (pred - target) * weight.unsqueeze(-1)  # (B, T, J, C)
    return err.pow(2).sum(dim=(-2, -1)) if norm == "l2" else err.abs().sum(dim=(-2, -1))


def motion_residual_loss(
    pred: Tensor, target: Tensor, weight: Tensor, mask: Tensor, norm: str = "l2"
) -> Tensor:
    """Eq. 4, averaged over the clips with a masked frame (module docstring)."""
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(
            "pred and target must share a (B, T, J, C) shape, got "
            f"{tuple(pred.shape)}, {tuple(target.shape)}"
        )
    if weight.shape != pred.shape[:3] or mask.shape != pred.shape[:2]:
        raise ValueError(
            f"weight must be {tuple(pred.shape[:3])} and mask {tuple(pred.shape[:2])}, got "
            f"{tuple(weight.shape)}, {tuple(mask.shape)}"
        )
    m = mask.to(pred.dtype)  # (B, T)
    per_frame = per_frame_error(pred, target, weight.to(pred.dtype), norm)  # (B, T)
    count = m.sum(dim=1)  # (B,) |M| per clip
    per_clip = (per_frame * m).sum(dim=1) / count.clamp_min(1.0)  # (B,)
    has = (count > 0).to(pred.dtype)
    return (per_clip * has).sum() / has.sum().clamp_min(1.0)


class MotionResidualLoss(nn.Module):
    """Module form: ``forward(pred, target, weight, mask) = scale · L_m``.

    Args:
        norm: ``"l2"`` (paper) or ``"l1"`` (authors' code).
        scale: overall weight (code: 10 with l1).
    """

    def __init__(self, norm: str = "l2", scale: float = 1.0) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {list(NORMS)}, got {norm!r}")
        self.norm, self.scale = norm, float(scale)

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor, mask: Tensor) -> Tensor:
        return self.scale * motion_residual_loss(pred, target, weight, mask, self.norm)
