"""SignRep style-adversarial losses (Eq. 7-9; paper §5.2 and App. A4).

See docs/methods.md#signrep-style-adversary.

Each batch holds two crops ``a`` and ``b`` of every video.  ``z_a`` is the clip vector of
crop ``a``, ``g_b`` the style vector (:func:`signssl.models.style_discriminator.gram_style`)
of crop ``b`` of the same video and ``g_c`` the style of a crop of another video, usually
``g_c = g_b[j]`` with ``j = mismatched_index(B)``.  ``Dsc`` returns logits ``ℓ``;
``p = sigmoid(ℓ)``; ``BCE(p, t) = −t log p − (1 − t) log(1 − p)``; ``sg`` = detach; every
``mean`` runs over the batch.

Discriminator step (its own optimiser; the encoder receives no gradient)::

    L_D = ½ [ mean BCE(Dsc(sg z_a, sg g_b), 1) + mean BCE(Dsc(sg z_a, sg g_c), 0) ]

Expected outputs, tracked from the discriminator step's outputs with momentum ``m = 0.1``
(both start at 0.5, the output of a discriminator that knows nothing)::

    e_same <- (1 − m) · e_same + m · mean Dsc(z_a, g_b)
    e_diff <- (1 − m) · e_diff + m · mean Dsc(z_a, g_c)

Encoder step (reconstruction of Eq. 7-9; the discriminator's parameters are detached, so
it receives no gradient, while ``z_a``, ``g_b`` and ``g_c`` all do — detach ``g`` before
the call to let only ``z`` adapt)::

    L_adv = ½ [ mean BCE(Dsc(z_a, g_b), e_diff) + mean BCE(Dsc(z_a, g_c), e_same) ]
                                                       if e_same > e_diff, else 0

Each output type is pulled toward the expected output of the *other* type, so once they
meet the discriminator's output carries no information about style.  The soft-target BCE
is minimal (its value is then the binary entropy of the target, not 0) exactly where
``Dsc`` equals the target.  While ``e_same <= e_diff`` (the discriminator is not winning)
``L_adv`` is a constant 0 with no gradient.  Eq. 10 weights it with ``λ_adv = 2.0``.

Shapes: ``z_a``: ``(B, z_dim)``; ``g_b, g_c``: ``(B, g_dim)``; logits ``(B,)``; losses are
scalars.

Example:
    >>> import torch
    >>> from signssl.models.style_discriminator import StyleDiscriminator
    >>> dsc = StyleDiscriminator(z_dim=4, g_dim=6, hidden=8)
    >>> crit = StyleAdversarialLoss()
    >>> z_a, g_b = torch.randn(3, 4), torch.randn(3, 6)
    >>> g_c = g_b[mismatched_index(3)]
    >>> loss_d = crit.discriminator_loss(dsc, z_a, g_b, g_c)   # also updates e_same, e_diff
    >>> loss_adv = crit(dsc, z_a, g_b, g_c)                    # 0 until e_same > e_diff
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from signssl import distributed
from signssl.errors import ConfigError


def mismatched_index(
    batch_size: int, generator: torch.Generator | None = None, device: torch.device | None = None
) -> Tensor:
    """For each item ``i`` a random other item ``j != i`` (uniform): ``-> (B,)`` long.

    ``j = (i + r) mod B`` with ``r`` uniform in ``[1, B − 1]``.  Needs ``B >= 2``.
    """
    if batch_size < 2:
        raise ConfigError(
            f"unmatched style pairs need at least 2 videos in the batch, got {batch_size}; "
            "increase the batch size"
        )
    shift = torch.randint(1, batch_size, (batch_size,), generator=generator)  # (B,) in [1, B-1]
    index = (torch.arange(batch_size) + shift) % batch_size
    return index if device is None else index.to(device)


def _check_pairs(z_a: Tensor, g_b: Tensor, g_c: Tensor) -> None:
    if z_a.ndim != 2 or g_b.ndim != 2 or g_b.shape != g_c.shape or z_a.shape[0] != g_b.shape[0]:
        raise ConfigError(
            "style losses expect z_a (B, z_dim) and g_b, g_c (B, g_dim), got "
            f"{tuple(z_a.shape)}, {tuple(g_b.shape)}, {tuple(g_c.shape)}"
        )


def discriminator_bce(logits_same: Tensor, logits_diff: Tensor) -> Tensor:
    """``L_D`` from logits: matched pairs -> 1, unmatched -> 0: ``(B,), (B,) -> ()``."""
    same = F.binary_cross_entropy_with_logits(logits_same, torch.ones_like(logits_same))
    diff = F.binary_cross_entropy_with_logits(logits_diff, torch.zeros_like(logits_diff))
    return 0.5 * (same + diff)


def adversarial_bce(
    logits_same: Tensor, logits_diff: Tensor, e_same: Tensor | float, e_diff: Tensor | float
) -> Tensor:
    """``L_adv`` from logits, ungated: matched -> ``e_diff``, unmatched -> ``e_same``."""
    target_same = torch.full_like(logits_same, float(e_diff))  # (B,) pull matched to e_diff
    target_diff = torch.full_like(logits_diff, float(e_same))  # (B,) pull unmatched to e_same
    same = F.binary_cross_entropy_with_logits(logits_same, target_same)
    diff = F.binary_cross_entropy_with_logits(logits_diff, target_diff)
    return 0.5 * (same + diff)


def discriminator_step_loss(
    disc: nn.Module, z_a: Tensor, g_b: Tensor, g_c: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """``L_D`` on detached inputs (no gradient reaches the encoder).

    Returns ``(L_D, p_same, p_diff)`` with ``p_*`` the detached ``(B,)`` probabilities
    ``Dsc(z_a, g_b)`` and ``Dsc(z_a, g_c)`` for the expected-output tracker.
    """
    _check_pairs(z_a, g_b, g_c)
    z, gb, gc = z_a.detach(), g_b.detach(), g_c.detach()
    logits_same, logits_diff = disc(z, gb), disc(z, gc)  # (B,), (B,)
    loss = discriminator_bce(logits_same, logits_diff)
    return loss, torch.sigmoid(logits_same.detach()), torch.sigmoid(logits_diff.detach())


def _frozen_call(disc: nn.Module, z: Tensor, g: Tensor) -> Tensor:
    """``disc(z, g)`` with its parameters detached: gradient flows to ``z`` and ``g`` only."""
    frozen = {name: p.detach() for name, p in disc.named_parameters()}
    return functional_call(disc, frozen, (z, g))


def encoder_adversarial_loss(
    disc: nn.Module,
    z_a: Tensor,
    g_b: Tensor,
    g_c: Tensor,
    e_same: Tensor | float,
    e_diff: Tensor | float,
) -> Tensor:
    """Gated ``L_adv`` for the encoder; the discriminator's parameters get no gradient.

    Returns a constant 0 (``requires_grad=False``) unless ``e_same > e_diff``.  Pass the
    discriminator itself (not a ``DistributedDataParallel`` wrapper: use ``.module``).
    """
    _check_pairs(z_a, g_b, g_c)
    if not float(e_same) > float(e_diff):
        return z_a.new_zeros(())
    logits_same = _frozen_call(disc, z_a, g_b)  # (B,)
    logits_diff = _frozen_call(disc, z_a, g_c)  # (B,)
    return adversarial_bce(logits_same, logits_diff, e_same, e_diff)


class StyleOutputEMA(nn.Module):
    """Expected discriminator outputs ``e_same`` and ``e_diff`` as checkpointed buffers.

    ``update`` applies ``e <- (1 − momentum) · e + momentum · x`` with ``x`` the batch mean
    of the probabilities (averaged over processes under DDP, so every rank gates alike).

    Args:
        momentum: weight of the new batch mean (0.1).
        init: starting value of both (0.5).
    """

    e_same: Tensor
    e_diff: Tensor

    def __init__(self, momentum: float = 0.1, init: float = 0.5) -> None:
        super().__init__()
        if not 0.0 < momentum <= 1.0:
            raise ConfigError(f"EMA momentum must be in (0, 1], got {momentum}")
        if not 0.0 <= init <= 1.0:
            raise ConfigError(f"initial expected output must be in [0, 1], got {init}")
        self.momentum = float(momentum)
        self.register_buffer("e_same", torch.tensor(float(init)))
        self.register_buffer("e_diff", torch.tensor(float(init)))

    @torch.no_grad()
    def update(self, p_same: Tensor, p_diff: Tensor) -> None:
        """Fold in the discriminator's probabilities on matched / unmatched pairs."""
        means = torch.stack([p_same.detach().float().mean(), p_diff.detach().float().mean()])
        if distributed.is_distributed() and distributed.world_size() > 1:
            dist.all_reduce(means)
            means /= distributed.world_size()
        means = means.to(self.e_same.device)
        self.e_same.mul_(1.0 - self.momentum).add_(self.momentum * means[0])
        self.e_diff.mul_(1.0 - self.momentum).add_(self.momentum * means[1])

    def discriminator_winning(self) -> bool:
        """``e_same > e_diff``: the gate of ``L_adv``."""
        return bool(self.e_same > self.e_diff)


class StyleAdversarialLoss(nn.Module):
    """Both style losses around one :class:`StyleOutputEMA`.

    * :meth:`discriminator_loss` -> ``L_D`` (encoder inputs detached) and updates the EMA;
    * ``forward(disc, z_a, g_b, g_c)`` -> gated ``L_adv`` (discriminator frozen).

    Args:
        momentum: EMA momentum (0.1).
        init: starting expected output (0.5).
    """

    def __init__(self, momentum: float = 0.1, init: float = 0.5) -> None:
        super().__init__()
        self.ema = StyleOutputEMA(momentum, init)

    def discriminator_loss(self, disc: nn.Module, z_a: Tensor, g_b: Tensor, g_c: Tensor) -> Tensor:
        loss, p_same, p_diff = discriminator_step_loss(disc, z_a, g_b, g_c)
        self.ema.update(p_same, p_diff)
        return loss

    def forward(self, disc: nn.Module, z_a: Tensor, g_b: Tensor, g_c: Tensor) -> Tensor:
        return encoder_adversarial_loss(disc, z_a, g_b, g_c, self.ema.e_same, self.ema.e_diff)
