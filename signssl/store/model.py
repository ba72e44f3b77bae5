"""Checkpoints: Lightning ``last.ckpt`` for exact resume, and a portable model export.

Run directory layout::

    RUN/
      config.yaml            resolved configuration
      checkpoints/last.ckpt  Lightning checkpoint (model, optimiser, schedule, loops, data
                             position); loaded with ``torch.load(weights_only=True)``
      model/model.safetensors + model/config.json   the exported encoder
      best/                  the best encoder by validation retrieval (optional, same form)
      logs/                  CSV (and TensorBoard when installed) logs
      summary.json           what the run did

``model/config.json`` is a :class:`~signssl.store.spec.ModelDescription`
(``{"name", "kwargs", "method", "modality", "layout", "dims", "normalize", ...}``; video
encoders ``{..., "modality": "video", "input_size", "frame_step", "fps"}``): written once
by :func:`write_model`, read once by :func:`open_model`, which finds the weights and
describes them; :func:`load_model` rebuilds the encoder with ``create_model(name,
**kwargs)`` and loads the safetensors weights — no training code, no unpickling.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_model
from safetensors.torch import load_model as st_load_model
from torch import nn

from signssl.errors import ConfigError, DataError, SignSSLError
from signssl.models import create_model
from signssl.models.base import Encoder
from signssl.models.hiera import CheckpointReport, Hiera, load_hiera_checkpoint
from signssl.store.spec import FORMAT, DataSpec, ModelDescription, describe_pretraining
from signssl.utils import atomic_path, read_json_file, read_yaml_file, save_json

MODEL_DIR = "model"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CHECKPOINT_DIR = "checkpoints"
LAST_CKPT = "last.ckpt"
ENCODER_PREFIX = "method.encoder."


# ----------------------------------------------------------------------------- export


def export_model(
    encoder: nn.Module, out_dir: str | Path, name: str, kwargs: dict[str, Any], **meta: Any
) -> Path:
    """Write ``out_dir/model.safetensors`` and ``out_dir/config.json`` atomically.

    Args:
        encoder: the module to save (its ``state_dict``, shared tensors handled).
        out_dir: destination directory (created).
        name: the registered model name that rebuilds it (``create_model(name, **kwargs)``).
        kwargs: primitive keyword arguments of that entrypoint.
        **meta: the other fields of its :class:`~signssl.store.spec.ModelDescription`
            (``layout``, ``dims``, ``normalize``, ``max_frames`` ...) or extra JSON fields.
    Returns:
        ``out_dir``.
    """
    return write_model(encoder, out_dir, ModelDescription.from_json({"name": name, "kwargs": kwargs, **meta}))


def write_model(encoder: nn.Module, out_dir: str | Path, description: ModelDescription) -> Path:
    """Write ``encoder`` and its ``description`` as ``out_dir/model.safetensors`` and
    ``out_dir/config.json`` (atomically; ``out_dim`` from the encoder when unrecorded)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_dim = getattr(encoder, "out_dim", None)
    if description.out_dim is None and isinstance(out_dim, int):
        description = replace(description, out_dim=out_dim)
    config = description.to_json()
    try:
        json.dumps(config)
    except TypeError as e:
        raise DataError(f"model config is not JSON-serialisable ({e}); pass primitives") from None
    with atomic_path(out_dir / WEIGHTS_FILE) as tmp:
        save_model(encoder, str(tmp), metadata={"format": FORMAT, "name": description.name})
    save_json(out_dir / CONFIG_FILE, config)
    return out_dir


def export_extras(method: Any, model_dir: Path) -> None:
    """Method-specific files next to the exported encoder (``method.export_extras``;
    SignRep writes its activity head for weighted retrieval)."""
    hook = getattr(method, "export_extras", None)
    if callable(hook):
        hook(model_dir)


# ----------------------------------------------------------------------------- load


def resolve_model_files(path: str | Path) -> tuple[Path, Path]:
    """``(weights, config.json)`` for a run dir, its ``model/`` dir or a ``.safetensors``."""
    path = Path(path)
    if path.is_dir():
        model_dir = path / MODEL_DIR if (path / MODEL_DIR / WEIGHTS_FILE).is_file() else path
        weights = model_dir / WEIGHTS_FILE
        if not weights.is_file():
            hint = (
                " (training has not finished: the last checkpoint is "
                f"{path / CHECKPOINT_DIR / LAST_CKPT})"
                if (path / CHECKPOINT_DIR / LAST_CKPT).is_file()
                else ""
            )
            raise DataError(
                f"no {WEIGHTS_FILE} here nor in {MODEL_DIR}/: pass a run directory, its "
                f"model/ directory or a .safetensors file{hint}",
                path,
            )
        return weights, model_dir / CONFIG_FILE
    if not path.exists():
        raise DataError("does not exist: pass a run directory, model/ directory or .safetensors", path)
    if path.suffix == ".safetensors":
        for candidate in (path.with_suffix(".json"), path.parent / CONFIG_FILE):
            if candidate.is_file():
                return path, candidate
        raise DataError(f"no {CONFIG_FILE} next to the weights; it names the model to build", path)
    raise DataError(
        "not a model: pass a run directory, its model/ directory, a .safetensors file "
        "or a run's checkpoints/*.ckpt",
        path,
    )


@dataclass(frozen=True)
class StoredModel:
    """A model on disk, found and described once: ``weights`` (``model.safetensors`` or a
    run's ``.ckpt``), the ``config`` file that describes them (``config.json``, or the
    run's ``config.yaml`` for a ``.ckpt``) and its :class:`ModelDescription`."""

    weights: Path
    config: Path
    description: ModelDescription


def open_model(path: str | Path) -> StoredModel:
    """Find the model at ``path`` (as :func:`load_model` takes it) and read its description:
    the folder resolved once, ``config.json`` opened once."""
    path = Path(path)
    if path.suffix == ".ckpt":
        return StoredModel(path, path.parent.parent / "config.yaml", _ckpt_description(path))
    weights, config_path = resolve_model_files(path)
    if not config_path.exists():
        raise DataError(f"missing {CONFIG_FILE}; it names the model to build", config_path.parent)
    return StoredModel(weights, config_path,
                       ModelDescription.from_json(read_json_file(config_path), config_path))  # fmt: skip


def load_model_config(path: str | Path) -> dict[str, Any]:
    """The ``config.json`` mapping of an exported model (or of a run's ``.ckpt``)."""
    path = Path(path)
    if path.suffix == ".ckpt":
        return _ckpt_description(path).to_json()
    _, config_path = resolve_model_files(path)
    return _read_model_config(config_path)


def spec_of_run(path: str | Path) -> DataSpec:
    """How the model at ``path`` (as :func:`load_model` takes it) reads clips."""
    return open_model(path).description.data_spec


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> Encoder:
    """Rebuild an encoder from an export, without training code and without unpickling.

    Args:
        path: a run directory (``RUN``), its ``RUN/model`` directory, a ``.safetensors``
            file with ``config.json`` beside it, or ``RUN/checkpoints/*.ckpt`` of one of
            this library's runs (read with ``torch.load(weights_only=True)``).
        map_location: device for the weights.
    Returns:
        the encoder in eval mode (:func:`load_described_model`: with its description).

    When ``config.json`` records ``{"sha256": {"model.safetensors": ...}}`` (``signssl
    export``), the weights' hash is checked first: damaged or replaced weights are a
    :class:`DataError` naming the file.
    """
    return load_encoder(open_model(path), map_location)


def load_described_model(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[Encoder, ModelDescription]:
    """``(encoder, description)`` of the model at ``path`` (as :func:`load_model`)."""
    stored = open_model(path)
    return load_encoder(stored, map_location), stored.description


def load_encoder(stored: StoredModel, map_location: str | torch.device = "cpu") -> Encoder:
    """The encoder of a model :func:`open_model` found, its weights loaded (eval mode)."""
    description, weights = stored.description, stored.weights
    encoder = _build_encoder(description, stored.config)
    if weights.suffix == ".ckpt":
        state = _ckpt_encoder_state(weights)
        shapes = {k: tuple(v.shape) for k, v in state.items()}
        _check_shapes(encoder, shapes, description, weights, stored.config.name)
        _load_state(encoder, state, weights)
        return encoder.to(map_location).eval()
    verify_sha256(weights, description.extra)
    try:
        with safe_open(str(weights), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
        _check_shapes(encoder, shapes, description, weights, CONFIG_FILE)
        missing, unexpected = st_load_model(encoder, str(weights), strict=False, device=str(map_location))
    except (SafetensorError, OSError) as e:
        raise DataError(f"cannot read weights ({e}); the file is damaged", weights) from None
    if missing or unexpected:
        raise DataError(
            _mismatch_message(description, CONFIG_FILE, sorted(missing), sorted(unexpected), []),
            weights,
        )
    return encoder.to(map_location).eval()


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in ``chunk``-byte blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(weights: Path, config: dict[str, Any]) -> None:
    """:class:`DataError` naming ``weights`` when ``config["sha256"]`` records another hash
    for them (damaged or replaced weights); nothing when the config records none."""
    recorded = config.get("sha256")
    if not isinstance(recorded, dict):
        return
    expected = recorded.get(weights.name, recorded.get(WEIGHTS_FILE))
    if not isinstance(expected, str):
        return
    actual = file_sha256(weights)
    if actual != expected.lower():
        raise DataError(
            f"sha256 {actual[:16]}... differs from {expected[:16]}... that {CONFIG_FILE} records: "
            "the weights are damaged or were replaced; restore the original file or export "
            "the model again",
            weights,
        )


def _build_encoder(description: ModelDescription, source: Path) -> nn.Module:
    """``create_model(name, **kwargs)`` of a model description; one that cannot build its
    model is a :class:`DataError` naming ``source``."""
    try:
        return create_model(description.name, **description.kwargs)
    except (SignSSLError, TypeError, ValueError) as e:
        raise DataError(
            f"cannot build model '{description.name}' with kwargs {description.kwargs} ({e}); "
            "restore the config written with these weights or export the model again",
            source,
        ) from None


def _check_shapes(
    module: nn.Module,
    shapes: dict[str, tuple[int, ...]],
    description: ModelDescription,
    source: Path,
    config_file: str,
) -> None:
    """:class:`DataError` naming ``source`` when a tensor of the file has another shape in
    ``module`` (``load_state_dict`` would raise a multi-line ``RuntimeError``)."""
    own = module.state_dict()
    wrong = [
        f"{k} {list(shapes[k])} in the file vs {list(own[k].shape)} in the model"
        for k in sorted(shapes)
        if k in own and tuple(own[k].shape) != tuple(shapes[k])
    ]
    if wrong:
        missing = sorted(set(own) - set(shapes))
        unexpected = sorted(set(shapes) - set(own))
        raise DataError(_mismatch_message(description, config_file, missing, unexpected, wrong), source)


def _mismatch_message(
    description: ModelDescription,
    config_file: str,
    missing: list[str],
    unexpected: list[str],
    wrong: list[str],
) -> str:
    """One line: which tensors of the weights do not fit the model the config builds."""
    parts = [
        f"{len(keys)} {what} (e.g. {', '.join(keys[:2])})"
        for what, keys in (
            ("with another shape", wrong),
            ("missing from the file", missing),
            ("unexpected in the file", unexpected),
        )
        if keys
    ]
    return (
        f"weights do not match model '{description.name}' with kwargs {description.kwargs} that "
        f"its {config_file} describes: tensors {'; '.join(parts)}; {config_file} and the "
        f"weights come from different models - restore the {config_file} written with these "
        "weights, or export the model again"
    )


def _read_model_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise DataError(f"missing {CONFIG_FILE}; it names the model to build", path.parent)
    config = read_json_file(path)
    ModelDescription.from_json(config, path)  # names a model, kwargs a mapping
    config.setdefault("kwargs", {})
    return config


def _load_state(module: nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise DataError(
            f"weights do not match the model (missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}); the run's config.yaml and its "
            "checkpoint come from different models",
            source,
        )


# ----------------------------------------------------------------------------- ckpt


def last_checkpoint(run_dir: str | Path) -> Path | None:
    """``RUN/checkpoints/last.ckpt`` if it exists."""
    path = Path(run_dir) / CHECKPOINT_DIR / LAST_CKPT
    return path if path.is_file() else None


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a Lightning checkpoint of this library with ``weights_only=True`` (no pickle code)."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DataError("checkpoint not found", path) from None
    except Exception as e:  # damaged file or foreign pickle content
        raise DataError(
            f"cannot load checkpoint safely ({type(e).__name__}: {e}); only checkpoints "
            "written by signssl runs are supported",
            path,
        ) from None


def _ckpt_encoder_state(path: Path) -> dict[str, torch.Tensor]:
    state = read_checkpoint(path).get("state_dict", {})
    enc = {k[len(ENCODER_PREFIX) :]: v for k, v in state.items() if k.startswith(ENCODER_PREFIX)}
    if not enc:
        raise DataError(f"no '{ENCODER_PREFIX}*' weights in this checkpoint", path)
    return enc


def _ckpt_description(path: Path) -> ModelDescription:
    """The description of a run's checkpoint, from the resolved ``RUN/config.yaml`` that
    pretraining writes (:func:`~signssl.store.spec.describe_pretraining`, as at export)."""
    run_dir = path.parent.parent
    if not (run_dir / "config.yaml").is_file():
        raise DataError("a .ckpt is only readable inside its run directory (RUN/checkpoints/)", path)
    tree = read_yaml_file(run_dir / "config.yaml", ConfigError)
    method, model, data = (_section(tree, key, run_dir) for key in ("method", "model", "data"))
    if not isinstance(model.get("name"), str) or not isinstance(method.get("name"), str):
        raise ConfigError(f"{run_dir / 'config.yaml'}: model.name and method.name must be set")
    _section(data, "video", run_dir)
    described = describe_pretraining({"method": method, "model": model, "data": data})
    if described.reads_video:
        size = getattr(create_model(described.name, **described.kwargs), "input_size", None)
        described = replace(described, input_size=None if size is None else tuple(size))
    return described


def _section(tree: Any, key: str, run_dir: Path) -> dict[str, Any]:
    """``tree[key]`` as a mapping (``{}`` when absent)."""
    value = tree.get(key) if isinstance(tree, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{run_dir / 'config.yaml'}: {key} must be a mapping, not {value!r}")
    return value


def encoder_state_from_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Encoder weights of a run's ``.ckpt`` (keys relative to the encoder)."""
    return _ckpt_encoder_state(Path(path))


def weights_of(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of an exported model (for comparisons), read with safetensors."""
    weights, _ = resolve_model_files(path)
    return load_file(str(weights))


# ----------------------------------------------------------------------------- import

IMPORT_REPORT = "import_report.json"


def import_hiera(
    checkpoint: str | Path,
    out_dir: str | Path,
    model: str = "hiera_base_16x224",
    kwargs: dict[str, Any] | None = None,
    frame_step: int = 1,
    strict: bool = False,
) -> CheckpointReport:
    """Turn a local official-Hiera checkpoint into this library's model export.

    Builds ``create_model(model, **kwargs)``, loads the checkpoint's parameters whose names
    and shapes match (:func:`signssl.models.hiera.load_hiera_checkpoint`) and writes
    ``out_dir/model.safetensors`` + ``config.json`` (a video encoder reading clips with
    ``frame_step``), so every command that takes a run or model directory reads it
    (``--checkpoint``, ``model.init``), and ``out_dir/import_report.json`` with the
    ``loaded`` / ``missing`` / ``mismatched`` / ``unexpected`` keys.  Parameters the file
    lacks keep their initial values and are listed as missing (an MAE checkpoint has no
    ``norm``); ``strict=True`` refuses any missing or mismatched parameter.

    Returns:
        what was loaded (:class:`signssl.models.hiera.CheckpointReport`).
    """
    kwargs = dict(kwargs or {})
    if frame_step < 1:
        raise ConfigError(f"frame_step must be >= 1, got {frame_step}")
    encoder = create_model(model, **kwargs)
    if not isinstance(encoder, Hiera):
        raise ConfigError(
            f"model '{model}' is not a video Hiera; use hiera_base_16x224 (the official "
            "Hiera-B 16x224 release) or another hiera_* size"
        )
    report = load_hiera_checkpoint(encoder, checkpoint)
    if strict and (report.missing or report.mismatched):
        raise DataError(
            f"{len(report.missing)} parameters of '{model}' are not in the file "
            f"({report.missing[:3]}) and {len(report.mismatched)} have another shape "
            f"({[m[0] for m in report.mismatched[:3]]}); check the model size, or leave "
            "out --strict to keep those at their initial values",
            checkpoint,
        )
    T, H, W = (int(n) for n in encoder.input_size)
    source = str(Path(checkpoint).resolve())
    counts = {
        "loaded": len(report.loaded),
        "missing": len(report.missing),
        "mismatched": len(report.mismatched),
        "unexpected": len(report.unexpected),
    }
    description = ModelDescription(model, kwargs, method="imported", modality="video",
                                   input_size=(T, H, W), frame_step=frame_step,
                                   extra={"source": source, "imported": counts})  # fmt: skip
    write_model(encoder, out_dir, description)
    save_json(
        Path(out_dir) / IMPORT_REPORT,
        {
            "source": source,
            "model": model,
            "kwargs": kwargs,
            **counts,
            "missing_keys": report.missing,
            "mismatched_keys": [[k, list(a), list(b)] for k, a, b in report.mismatched],
            "unexpected_keys": report.unexpected,
        },
    )
    return report
