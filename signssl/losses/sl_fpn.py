"""SL-FPN loss: three-branch, negative-free objective of SSL-SLR (docs/methods.md#sl-fpn, Eq. 1/2).

With ``z0 = g(f(x))`` the projection of the original clip, ``z1``, ``z2`` those of two
augmented views and ``h`` the predictor::

    L = MSE(z1, z2) + MSE(z0, z1) + MSE(h(z0), sg(z2))          (Eq. 1/2)

``sg`` is the stop-gradient: it sits exactly on the target ``z2`` of the predictor term,
so that term sends no gradient into the ``z2`` branch (the first term still does).  The
terms are unweighted and act on the unnormalised embeddings; ``MSE(a, b)`` is the mean
of the squared differences over the batch and the D embedding dimensions,
``1/(B·D) Σ_i ||a_i − b_i||²`` (``F.mse_loss`` with ``reduction="mean"``).

Shapes: ``z0, z1, z2, p0``: ``(B, D)``; every term and the total are scalars.

Example:
    >>> import torch
    >>> z0, z1, z2 = torch.zeros(4, 8), torch.ones(4, 8), torch.ones(4, 8)
    >>> float(sl_fpn_loss(z0, z1, z2, p0=z0))   # 0 + 1 + 1
    2.0
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def _check(*zs: Tensor) -> None:
    shape = zs[0].shape
    if zs[0].ndim != 2 or any(z.shape != shape for z in zs):
        raise ValueError(
            f"SL-FPN expects equal (B, D) embeddings, got {[tuple(z.shape) for z in zs]}"
        )


def pair_term(z1: Tensor, z2: Tensor) -> Tensor:
    """``MSE(z1, z2)`` between the two augmented views (gradient to both)."""
    return F.mse_loss(z1, z2)


def original_term(z0: Tensor, z1: Tensor) -> Tensor:
    """``MSE(z0, z1)`` between the original clip and the first view (gradient to both)."""
    return F.mse_loss(z0, z1)


def predictor_term(p0: Tensor, z2: Tensor, stop_gradient: bool = True) -> Tensor:
    """``MSE(h(z0), sg(z2))``; ``p0 = h(z0)``.  ``stop_gradient=False`` is the ablation."""
    return F.mse_loss(p0, z2.detach() if stop_gradient else z2)


def sl_fpn_terms(
    z0: Tensor, z1: Tensor, z2: Tensor, p0: Tensor, stop_gradient: bool = True
) -> dict[str, Tensor]:
    """The three terms of Eq. 1/2 by name: ``pair``, ``original``, ``predictor``."""
    _check(z0, z1, z2, p0)
    return {
        "pair": pair_term(z1, z2),
        "original": original_term(z0, z1),
        "predictor": predictor_term(p0, z2, stop_gradient),
    }


def sl_fpn_loss(
    z0: Tensor, z1: Tensor, z2: Tensor, p0: Tensor, stop_gradient: bool = True
) -> Tensor:
    """Eq. 1/2: the unweighted sum of :func:`sl_fpn_terms`."""
    terms = sl_fpn_terms(z0, z1, z2, p0, stop_gradient)
    return terms["pair"] + terms["original"] + terms["predictor"]


class SLFPNLoss(nn.Module):
    """Module form of :func:`sl_fpn_loss`.

    Args:
        stop_gradient: put ``sg`` on the predictor target (the paper); ``False`` for the
            collapse ablation (docs/methods.md#sl-fpn).
    """

    def __init__(self, stop_gradient: bool = True) -> None:
        super().__init__()
        self.stop_gradient = stop_gradient

    def forward(self, z0: Tensor, z1: Tensor, z2: Tensor, p0: Tensor) -> Tensor:
        return sl_fpn_loss(z0, z1, z2, p0, self.stop_gradient)
