"""The activity head of SignRep's sign decoder, saved beside an exported encoder
(docs/methods.md#signrep-retrieval, Eq. 11).

Activity head file format (written by pretraining, read by
:func:`signssl.eval.windows.load_activity_head`)::

    RUN/model/activity_head.safetensors   the state dict of an ActivityHead
    RUN/model/activity_head.json          {"format": "signssl-activity-head",
                                           "format_version": 1,
                                           "kwargs": {"in_dim": D, "latent_dim": 768,
                                                      "activity_hidden": 128},
                                           "outputs": ["left", "right"]}

:class:`ActivityHead` holds the part of :class:`~signssl.models.sign_decoder.SignDecoder`
that the activity logits depend on (its ``encode`` step ``norm``, ``to_latent`` and its
``activity`` MLP, under the same parameter names), so
``save_activity_head(ActivityHead.from_decoder(decoder), RUN / "model")`` exports it and
the head gives exactly ``decoder(tokens).activity_logits``.
"""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import save_file
from torch import Tensor, nn

from signssl.errors import ConfigError
from signssl.models.heads import build_mlp
from signssl.utils import atomic_path, save_json

ACTIVITY_HEAD_WEIGHTS = "activity_head.safetensors"
ACTIVITY_HEAD_CONFIG = "activity_head.json"
ACTIVITY_HEAD_FORMAT = "signssl-activity-head"
ACTIVITY_HEAD_VERSION = 1
_HANDS = ("left", "right")


class ActivityHead(nn.Module):
    """Signer activity logits from encoder tokens: ``(B, N, in_dim) -> (B, 2)``.

    ``z = to_latent(LayerNorm(mean_n tokens))`` (the sign decoder's ``encode``, Eq. 1),
    then the activity MLP ``latent_dim -> activity_hidden -> 2`` (GELU); logits of the
    (left, right) hand being active.  Parameter names match
    :class:`~signssl.models.sign_decoder.SignDecoder`'s (``norm``, ``to_latent``,
    ``activity``).

    Args:
        in_dim: encoder token width D.
        latent_dim: size of the decoder latent ``z`` (768).
        activity_hidden: hidden width of the activity MLP (128).
    """

    def __init__(self, in_dim: int, latent_dim: int = 768, activity_hidden: int = 128) -> None:
        super().__init__()
        for key, value in (
            ("in_dim", in_dim),
            ("latent_dim", latent_dim),
            ("activity_hidden", activity_hidden),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"ActivityHead {key} must be a positive integer, got {value!r}")
        self.in_dim, self.latent_dim, self.activity_hidden = in_dim, latent_dim, activity_hidden
        self.norm = nn.LayerNorm(in_dim)
        self.to_latent = nn.Linear(in_dim, latent_dim)
        self.activity = build_mlp(
            [latent_dim, activity_hidden, len(_HANDS)], norm=None, activation="gelu"
        )

    def kwargs(self) -> dict[str, int]:
        """Constructor arguments (what ``activity_head.json`` stores)."""
        return {
            "in_dim": self.in_dim,
            "latent_dim": self.latent_dim,
            "activity_hidden": self.activity_hidden,
        }

    @classmethod
    def from_decoder(cls, decoder: nn.Module) -> ActivityHead:
        """The activity path of a trained ``SignDecoder`` (weights copied)."""
        try:
            in_dim = int(decoder.norm.normalized_shape[0])  # type: ignore[union-attr, index]
            latent_dim = int(decoder.to_latent.out_features)  # type: ignore[union-attr]
            hidden = int(decoder.activity[0].out_features)  # type: ignore[index, union-attr]
        except (AttributeError, IndexError, TypeError):
            raise ConfigError(
                f"{type(decoder).__name__} is not a SignDecoder (needs norm, to_latent and "
                "an activity MLP)"
            ) from None
        head = cls(in_dim, latent_dim, hidden)
        own = set(head.state_dict())
        state = {k: v for k, v in decoder.state_dict().items() if k in own}
        head.load_state_dict(state, strict=True)
        return head.to(decoder.to_latent.weight.device)  # type: ignore[union-attr]

    def forward(self, tokens: Tensor) -> Tensor:
        if tokens.ndim != 3 or tokens.shape[2] != self.in_dim or tokens.shape[1] == 0:
            raise ConfigError(
                f"ActivityHead expects encoder tokens (B, N>0, {self.in_dim}), got "
                f"{tuple(tokens.shape)}; the head does not belong to this encoder"
            )
        z = self.to_latent(self.norm(tokens.mean(dim=1)))  # (B, N, D) -> (B, latent)
        return self.activity(z)  # (B, latent) -> (B, 2)


def save_activity_head(head: ActivityHead, model_dir: str | Path) -> Path:
    """Write ``activity_head.safetensors`` + ``activity_head.json`` into ``model_dir``
    atomically (the run's ``model/`` folder); returns the weights file."""
    model_dir = Path(model_dir)
    weights = model_dir / ACTIVITY_HEAD_WEIGHTS
    state = {k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    with atomic_path(weights) as tmp:
        save_file(state, str(tmp), metadata={"format": ACTIVITY_HEAD_FORMAT})
    save_json(
        model_dir / ACTIVITY_HEAD_CONFIG,
        {
            "format": ACTIVITY_HEAD_FORMAT,
            "format_version": ACTIVITY_HEAD_VERSION,
            "kwargs": head.kwargs(),
            "outputs": list(_HANDS),
        },
    )
    return weights


def activity_head_files(run_dir: str | Path) -> tuple[Path, Path]:
    """``(weights, config)`` paths of a run's activity head (they may not exist).

    ``run_dir`` is a run directory (files in ``RUN/model/``), a model directory, or the
    model's ``.safetensors`` file (files beside it).
    """
    path = Path(run_dir)
    if path.is_file():
        folder = path.parent
    elif (path / "model").is_dir():
        folder = path / "model"
    else:
        folder = path
    return folder / ACTIVITY_HEAD_WEIGHTS, folder / ACTIVITY_HEAD_CONFIG
