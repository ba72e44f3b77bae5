"""Local checkpoints of the official Hiera release -> :class:`~signssl.models.hiera.Hiera`.

:func:`load_hiera_checkpoint` loads every parameter whose name (:func:`official_key`) and
shape match and reports the rest (:class:`CheckpointReport`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from signssl.errors import ConfigError, DataError

if TYPE_CHECKING:
    from signssl.models.hiera import Hiera


@dataclass
class CheckpointReport:
    """What :func:`load_hiera_checkpoint` did.  ``mismatched``: (key, checkpoint shape,
    model shape) of keys present in both with different shapes (not loaded)."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)


#: wrappers under which a checkpoint file may hold its state dict (official: "model_state")
_STATE_KEYS = ("model_state", "model", "state_dict")


def official_key(key: str) -> str:
    """Checkpoint key of the official Hiera release -> parameter name of :class:`Hiera`.

    ==========================================  ===================================
    official                                    here
    ==========================================  ===================================
    ``patch_embed.proj.{weight,bias}``          same (``Conv3d (D, 3, 3, 7, 7)``)
    ``pos_embed_spatial`` / ``_temporal``       same (``(1, H'W', D)`` / ``(1, T', D)``)
    ``blocks.N.norm1`` / ``norm2``              same
    ``blocks.N.attn.qkv`` / ``attn.proj``       same (qkv features ``(3, heads, hd)``)
    ``blocks.N.mlp.fc1`` / ``mlp.fc2``          same
    ``blocks.N.proj`` (width change)            same
    ``norm``                                    same (LayerNorm of the pooled mean)
    ``head.projection``                         none: reported as unexpected
    MAE-only: ``encoder_norm``, ``mask_token``,  none: reported as unexpected
    ``multi_scale_fusion_heads.*``, ``decoder*``
    ==========================================  ===================================

    A ``module.`` prefix (DistributedDataParallel) is removed.
    """
    return key.removeprefix("module.")


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """The state dict of a local ``.safetensors`` or ``torch.save`` file (unwrapped from
    ``model_state`` / ``model`` / ``state_dict`` when nested)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            "checkpoint file not found; give the path of a local Hiera checkpoint", path
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unreadable / not a checkpoint: say which file
        raise DataError(
            f"cannot read it as a checkpoint ({type(err).__name__}: {err}); expected a "
            ".safetensors file or a torch.save file of tensors",
            path,
        ) from err
    for key in _STATE_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict):
        raise DataError(f"holds a {type(state).__name__}, not a state dict", path)
    return state


def load_hiera_checkpoint(model: Hiera, path: str | Path) -> CheckpointReport:
    """Load the parameters of a local official-Hiera checkpoint whose shapes match.

    ``path``: ``.safetensors`` or a ``torch.save`` file (``weights_only=True``; official files
    hold ``{"model_state": state_dict, ...}``).  Keys are mapped by :func:`official_key`;
    every checkpoint entry ends up in exactly one of ``loaded`` / ``unexpected`` /
    ``mismatched``, and ``missing`` lists the model parameters left at their initial value.
    Raises :class:`ConfigError` when no parameter matches (wrong file or wrong model size).
    A 16-frame checkpoint loads into the 16-frame model; inflate afterwards
    (:func:`signssl.models.inflate.inflate_patch_embed`).
    """
    state = read_state_dict(path)
    own = model.state_dict()
    report, to_load = CheckpointReport(), {}
    for key, value in state.items():
        name = official_key(str(key))
        if not isinstance(value, Tensor) or name not in own:
            report.unexpected.append(str(key))
        elif tuple(value.shape) != tuple(own[name].shape):
            report.mismatched.append((str(key), tuple(value.shape), tuple(own[name].shape)))
        else:
            to_load[name] = value
            report.loaded.append(name)
    if not to_load:
        raise ConfigError(
            f"no parameter of {path} matches the model ({len(state)} entries, "
            f"{len(report.mismatched)} with the wrong shape); check that the file is a Hiera "
            "checkpoint of the same size as the model"
        )
    report.missing = sorted(set(own) - set(to_load))
    model.load_state_dict(to_load, strict=False)
    return report
