"""Projection and prediction heads: one MLP builder, thin named variants.

:func:`build_mlp` makes ``Linear -> [norm] -> act`` for every hidden layer and a last
``Linear -> [last_norm]``.  The named heads only fix the paper's defaults; each takes
primitive keyword arguments so method recipes can scale them to a smaller encoder.

All heads map ``(B, in_dim) -> (B, out_dim)``.  Heads with batch norm need B >= 2 in
training mode.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

_NORMS = ("batch", "batch_noaffine", "layer", None)
_ACTS = {"relu": nn.ReLU, "gelu": nn.GELU}


def _norm(kind: str | None, dim: int) -> nn.Module | None:
    if kind == "batch":
        return nn.BatchNorm1d(dim)
    if kind == "batch_noaffine":
        return nn.BatchNorm1d(dim, affine=False)
    if kind == "layer":
        return nn.LayerNorm(dim)
    if kind is None:
        return None
    raise ValueError(f"unknown norm {kind!r}; known: {list(_NORMS)}")


def build_mlp(
    dims: Sequence[int],
    norm: str | None = "batch",
    activation: str = "relu",
    last_norm: str | None = None,
    last_bias: bool = True,
) -> nn.Sequential:
    """A multi-layer perceptron through ``dims = [in, hidden..., out]``.

    Args:
        dims: layer widths, at least ``[in, out]``.
        norm: after each hidden ``Linear``: ``"batch"``, ``"batch_noaffine"``,
            ``"layer"`` or ``None``.  A hidden ``Linear`` followed by a norm has no bias.
        activation: ``"relu"`` or ``"gelu"`` after each hidden layer (not the last).
        last_norm: norm after the last ``Linear`` (SimSiam's projector uses one).
        last_bias: bias of the last ``Linear``.
    """
    dims = [int(d) for d in dims]
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"dims must list >= 2 positive widths, got {dims}")
    if activation not in _ACTS:
        raise ValueError(f"unknown activation {activation!r}; known: {sorted(_ACTS)}")
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-2], dims[1:-1], strict=True):
        n = _norm(norm, d_out)
        layers.append(nn.Linear(d_in, d_out, bias=n is None))
        if n is not None:
            layers.append(n)
        layers.append(_ACTS[activation]())
    last = _norm(last_norm, dims[-1])
    layers.append(nn.Linear(dims[-2], dims[-1], bias=last_bias))
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class MLPHead(nn.Module):
    """A head made by :func:`build_mlp`; ``forward: (B, in_dim) -> (B, out_dim)``."""

    def __init__(
        self,
        dims: Sequence[int],
        norm: str | None = "batch",
        activation: str = "relu",
        last_norm: str | None = None,
        last_bias: bool = True,
    ) -> None:
        super().__init__()
        self.in_dim, self.out_dim = int(dims[0]), int(dims[-1])
        self.layers = build_mlp(dims, norm, activation, last_norm, last_bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_dim:
            raise ValueError(
                f"{type(self).__name__} expects (B, {self.in_dim}), got {tuple(x.shape)}"
            )
        return self.layers(x)


# ----------------------------------------------------------------------------- SL-FPN


class SLFPNProjectionHead(MLPHead):
    """SL-FPN projector g (SSL-SLR §6.2; docs/methods.md#sl-fpn).

    Paper: "The projection head of all the models was a 2-layer perceptron with a
    512-dimensional input and a 128-dimensional output."  Hidden width 1024 from the
    authors' code.  The paper does not state a norm; batch norm in the hidden layer is
    the convention of the library it used (``norm=None`` gives the bare perceptron).
    """

    def __init__(
        self,
        in_dim: int = 512,
        hidden_dim: int = 1024,
        out_dim: int = 128,
        norm: str | None = "batch",
        last_norm: str | None = None,
    ) -> None:
        super().__init__([in_dim, hidden_dim, out_dim], norm=norm, last_norm=last_norm)


class SLFPNPredictionHead(MLPHead):
    """SL-FPN predictor h (SSL-SLR §6.2; docs/methods.md#sl-fpn).

    Paper: "The predictor was also a 2-layer perceptron with a ReLU activation
    function."  Code: 128 -> 1024 -> 128.  Hidden batch norm as in
    :class:`SLFPNProjectionHead`.
    """

    def __init__(
        self,
        in_dim: int = 128,
        hidden_dim: int = 1024,
        out_dim: int = 128,
        norm: str | None = "batch",
    ) -> None:
        super().__init__([in_dim, hidden_dim, out_dim], norm=norm)


# ----------------------------------------------------------------------------- baselines


class SimCLRProjectionHead(MLPHead):
    """SimCLR projector (Chen et al. 2020, §2.1).

    Paper: "we use a MLP with one hidden layer to obtain z_i = g(h_i) = W(2) σ(W(1) h_i)
    where σ is a ReLU non-linearity"; output 128-d, hidden width = input width.
    """

    def __init__(
        self, in_dim: int = 512, hidden_dim: int = 512, out_dim: int = 128, norm: str | None = None
    ) -> None:
        super().__init__([in_dim, hidden_dim, out_dim], norm=norm)


class MoCoV2ProjectionHead(MLPHead):
    """MoCo v2 projector (Chen et al. 2020, "Improved baselines").

    Paper: "we replace the fc head in MoCo with a 2-layer MLP head (hidden layer
    2048-d, with ReLU)"; output 128-d, no batch norm.
    """

    def __init__(
        self, in_dim: int = 512, hidden_dim: int = 2048, out_dim: int = 128, norm: str | None = None
    ) -> None:
        super().__init__([in_dim, hidden_dim, out_dim], norm=norm)


class SimSiamProjectionHead(MLPHead):
    """SimSiam projector (Chen & He 2021, §4 "Baseline settings").

    Paper: "The projection MLP (in f) has BN applied to each fully-connected (fc) layer,
    including its output fc.  Its output fc has no ReLU.  The hidden fc is 2048-d.
    This MLP has 3 layers."  The output BN has no affine parameters (authors' code).
    """

    def __init__(
        self, in_dim: int = 512, hidden_dim: int = 2048, out_dim: int = 2048, num_layers: int = 3
    ) -> None:
        if num_layers < 2:
            raise ValueError(f"num_layers must be >= 2, got {num_layers}")
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        super().__init__(dims, norm="batch", last_norm="batch_noaffine", last_bias=False)


class SimSiamPredictionHead(MLPHead):
    """SimSiam predictor (Chen & He 2021, §4).

    Paper: "The prediction MLP (h) has BN applied to its hidden fc layers.  Its output
    fc does not have BN or ReLU.  This MLP has 2 layers.  The dimension of h's input
    and output (z and p) is d = 2048, and h's hidden layer's dimension is 512."
    """

    def __init__(self, in_dim: int = 2048, hidden_dim: int = 512, out_dim: int = 2048) -> None:
        super().__init__([in_dim, hidden_dim, out_dim], norm="batch")


class BYOLProjectionHead(MLPHead):
    """BYOL projector (Grill et al. 2020, §3.3).

    Paper: "a multi-layer perceptron (MLP) ... consisting in a linear layer with output
    size 4096 followed by batch normalization, rectified linear units (ReLU), and a
    final linear layer with output dimension 256."
    """

    def __init__(self, in_dim: int = 512, hidden_dim: int = 4096, out_dim: int = 256) -> None:
        super().__init__([in_dim, hidden_dim, out_dim], norm="batch")


class BYOLPredictionHead(MLPHead):
    """BYOL predictor (Grill et al. 2020, §3.3): "q_θ uses the same architecture as g_θ"
    (256 -> 4096 -> 256, batch norm, ReLU)."""

    def __init__(self, in_dim: int = 256, hidden_dim: int = 4096, out_dim: int = 256) -> None:
        super().__init__([in_dim, hidden_dim, out_dim], norm="batch")
