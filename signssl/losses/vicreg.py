"""VICReg loss (Bardes, Ponce & LeCun, ICLR 2022, Eq. 1-6): invariance, variance and
covariance of the expander outputs of two views (docs/methods.md#vicreg).

For two batches ``Z, Z'`` of ``B`` expander vectors of width ``D``::

    s(Z, Z') = 1/(B D) Σ_i ||z_i − z'_i||²                      invariance (Eq. 5)
    v(Z)     = 1/D Σ_j max(0, 1 − sqrt(Var(Z_:,j) + ε))          variance   (Eq. 1-2)
    c(Z)     = 1/D Σ_{i≠j} C(Z)_ij²                              covariance (Eq. 3-4)
    L        = λ s(Z, Z') + μ (v(Z) + v(Z')) / 2 + ν (c(Z) + c(Z'))

with ``λ = μ = 25``, ``ν = 1``, ``ε = 1e-4``, ``Var`` and ``C`` unbiased (divisor
``B − 1``).  As in the authors' code (with which the weights were chosen), ``s`` is the
mean squared error over all ``B D`` entries and the two variance terms are averaged;
the paper's Eq. 6 writes ``s`` per vector and sums both variance terms.  ``v`` and ``c``
are those of :mod:`signssl.losses.variance_covariance`.  The statistics are those of the
batch on this process (the authors gather the batch across GPUs first).

Shapes: ``z_a``, ``z_b``: ``(B, D)`` with ``B >= 2``; every loss is a scalar.

Example:
    >>> import torch
    >>> z_a = torch.tensor([[1.0, 2.0], [-1.0, -2.0]])   # Var = (2, 8), Cov_01 = 4
    >>> z_b = torch.tensor([[1.0, 0.0], [-1.0, -2.0]])   # Var = (2, 2), Cov_01 = 2
    >>> float(invariance_loss(z_a, z_b))                  # (0 + 4 + 0 + 0) / 4
    1.0
    >>> loss, terms = VICRegLoss(eps=0.0)(z_a, z_b)       # every std >= 1: v = 0
    >>> [round(float(terms[k]), 4) for k in ("inv", "var", "cov")]   # cov: 16 + 4
    [1.0, 0.0, 20.0]
    >>> float(loss)                                       # 25 * 1 + 1 * 20
    45.0
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from signssl.errors import ConfigError
from signssl.losses.variance_covariance import covariance_loss, variance_loss


def invariance_loss(z_a: Tensor, z_b: Tensor) -> Tensor:
    """Eq. 5 as the authors' code: mean squared error over all entries, ``2 x (B, D) -> ()``."""
    if z_a.shape != z_b.shape or z_a.ndim != 2:
        raise ConfigError(
            f"invariance_loss expects two (B, D) batches of one shape, got {tuple(z_a.shape)} "
            f"and {tuple(z_b.shape)}"
        )
    return F.mse_loss(z_a, z_b)


def vicreg_terms(z_a: Tensor, z_b: Tensor, eps: float = 1e-4) -> dict[str, Tensor]:
    """The three unweighted terms ``{"inv": s, "var": (v_a + v_b)/2, "cov": c_a + c_b}``."""
    return {
        "inv": invariance_loss(z_a, z_b),
        "var": 0.5 * (variance_loss(z_a, eps) + variance_loss(z_b, eps)),
        "cov": covariance_loss(z_a) + covariance_loss(z_b),
    }


class VICRegLoss(nn.Module):
    """``λ s + μ v + ν c`` (module docstring); ``forward(z_a, z_b)``.

    Returns ``(weighted sum, {"inv": s, "var": v, "cov": c})`` (the terms unweighted).

    Args:
        inv_weight: ``λ`` (25).
        var_weight: ``μ`` (25).
        cov_weight: ``ν`` (1).
        eps: ``ε`` inside the standard deviation (1e-4).
    """

    def __init__(
        self,
        inv_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        eps: float = 1e-4,
    ) -> None:
        super().__init__()
        weights = {"inv_weight": inv_weight, "var_weight": var_weight, "cov_weight": cov_weight}
        bad = {k: v for k, v in weights.items() if not v >= 0}
        if bad or not eps >= 0:
            raise ConfigError(f"VICReg weights and eps must be >= 0, got {weights}, eps={eps}")
        self.inv_weight, self.var_weight = float(inv_weight), float(var_weight)
        self.cov_weight, self.eps = float(cov_weight), float(eps)

    def forward(self, z_a: Tensor, z_b: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        terms = vicreg_terms(z_a, z_b, self.eps)
        loss = (
            self.inv_weight * terms["inv"]
            + self.var_weight * terms["var"]
            + self.cov_weight * terms["cov"]
        )
        return loss, terms
