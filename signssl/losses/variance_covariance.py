"""SignRep feature regularisation: variance and covariance losses (Eq. 3-6).

See docs/methods.md#signrep-variance-covariance.

For a batch ``Z`` of ``B`` clip vectors of width ``D`` (SignRep: the decoder latent ``z``)::

    σ_j   = sqrt(Var_batch(Z_:,j) + ε)                  ε = 1e-4            (Eq. 3)
    L_var = 1/D Σ_j max(0, 1 − σ_j)                                         (Eq. 4)
    C     = (Z − Z̄)ᵀ (Z − Z̄) / (B − 1)                  (D, D)              (Eq. 5)
    L_cov = 1/D Σ_{i≠j} C_ij²                                               (Eq. 6)

``Var_batch`` is the unbiased variance (divisor ``B − 1``), the diagonal of ``C``.  Both
need ``B >= 2``.  The statistics are those of the batch on this process (no gathering
under DDP).  Eq. 10 weights them with ``λ_var = 1.0`` and ``λ_cov = 0.004`` (paper Tab. 9).

Shapes: ``z``: ``(B, D)``; every loss is a scalar.

Example:
    >>> import torch
    >>> z = torch.tensor([[1.0, 2.0], [-1.0, -2.0]])   # Var = (2, 8), Cov_01 = 4
    >>> float(variance_loss(z, eps=0.0))                # σ = (√2, √8) >= 1
    0.0
    >>> float(covariance_loss(z))                       # (4² + 4²) / 2
    16.0
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from signssl.errors import ConfigError


def _check_batch(z: Tensor, what: str) -> None:
    if z.ndim != 2:
        raise ConfigError(f"{what} expects a (B, D) batch of vectors, got {tuple(z.shape)}")
    if z.shape[0] < 2:
        raise ConfigError(
            f"{what} needs a batch of at least 2 vectors to estimate batch statistics, got "
            f"B={z.shape[0]}; increase the batch size"
        )


def variance_loss(z: Tensor, eps: float = 1e-4) -> Tensor:
    """Eq. 3-4: mean hinge ``max(0, 1 − σ_j)`` over the D dimensions: ``(B, D) -> ()``."""
    _check_batch(z, "variance_loss")
    std = torch.sqrt(z.var(dim=0, unbiased=True) + eps)  # (B, D) -> (D,)
    return torch.relu(1.0 - std).mean()


def covariance_matrix(z: Tensor) -> Tensor:
    """Eq. 5: unbiased covariance ``C`` of the batch: ``(B, D) -> (D, D)``."""
    _check_batch(z, "covariance_matrix")
    centred = z - z.mean(dim=0, keepdim=True)  # (B, D)
    return centred.T @ centred / (z.shape[0] - 1)  # (D, B) @ (B, D) -> (D, D)


def covariance_loss(z: Tensor) -> Tensor:
    """Eq. 6: sum of squared off-diagonal covariances divided by D: ``(B, D) -> ()``."""
    _check_batch(z, "covariance_loss")
    cov = covariance_matrix(z)  # (D, D)
    off_diagonal = cov.pow(2).sum() - cov.diagonal().pow(2).sum()
    return off_diagonal / z.shape[1]


class VarianceCovarianceLoss(nn.Module):
    """``λ_var L_var + λ_cov L_cov`` (the regularisers of Eq. 10); ``forward(z)``.

    Returns ``(weighted sum, {"var": L_var, "cov": L_cov})`` (the terms unweighted).

    Args:
        var_weight: ``λ_var`` (1.0).
        cov_weight: ``λ_cov`` (0.004).
        eps: ``ε`` of Eq. 3 (1e-4).
    """

    def __init__(
        self, var_weight: float = 1.0, cov_weight: float = 0.004, eps: float = 1e-4
    ) -> None:
        super().__init__()
        if eps < 0:
            raise ConfigError(f"eps must be >= 0, got {eps}")
        self.var_weight, self.cov_weight = float(var_weight), float(cov_weight)
        self.eps = float(eps)

    def forward(self, z: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        terms = {"var": variance_loss(z, self.eps), "cov": covariance_loss(z)}
        return self.var_weight * terms["var"] + self.cov_weight * terms["cov"], terms
