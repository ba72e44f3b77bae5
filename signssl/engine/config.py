"""Pretraining configuration: YAML files mapped to dataclasses.

A configuration is a tree of five sections (``method``, ``model``, ``data``, ``optim``,
``trainer``), each a dataclass below.  Built-in files live in ``signssl/configs/``: one
per method with the paper's settings (docs/methods.md#ssl-slr-setting) and *profiles*
such as ``tiny`` (a small CPU setting) that are overlaid on the method's file.
A method file holds its own part of each profile under ``profiles:`` (e.g. the tiny
profile's head sizes)::

    method: {name: simclr, kwargs: {proj_dim: 128}}
    ...
    profiles:
      tiny: {method: {kwargs: {proj_dim: 64}}}

Resolution order (later wins)::

    configs/<method>.yaml  <-  profile (configs/<profile>.yaml, then the method file's
                               profiles.<profile>) or user YAML  <-  --set key=value ...

The encoder owns the joint layout: when ``model.kwargs`` names a ``layout``, ``data.layout``
follows it (``--set model.kwargs.layout=hands`` changes both); a ``data.layout`` that
differs from it raises, telling to set ``model.kwargs.layout`` instead.

Only the composition root (:mod:`signssl.engine.pretraining`, the CLI) reads this tree;
methods, models and losses receive primitive keyword arguments (``method.kwargs``,
``model.kwargs``).

>>> cfg = load_config("simclr", "tiny", ["optim.lr=0.01", "trainer.max_epochs=2"])
>>> cfg.optim.lr, cfg.trainer.max_epochs
(0.01, 2)
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from signssl.engine.sources import parse_sources
from signssl.errors import ConfigError
from signssl.optim import check_optim_values
from signssl.pose.layouts import DEFAULT_LAYOUT
from signssl.utils import atomic_write_text, read_yaml_file

# ----------------------------------------------------------------------------- sections


@dataclass
class MethodConfig:
    """Which recipe trains the encoder; ``kwargs`` go to ``create_method``."""

    name: str = "sl_fpn"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelConfig:
    """Which registered encoder; ``kwargs`` go to ``create_model``.

    ``init``: a run directory, ``model/`` directory or ``.safetensors`` file whose weights
    initialise the encoder (its saved name and kwargs replace ``name``/``kwargs``).
    """

    name: str = "pose_transformer_paper"
    kwargs: dict[str, Any] = field(default_factory=dict)
    init: str | None = None


@dataclass
class VideoDataConfig:
    """How video methods (``signrep``, ``mae``) read clips (:mod:`signssl.data.signrep`).

    ``clip_len`` / ``size`` default to the encoder's input (frames, ``(H, W)``); frames are
    resized plainly to it.  ``crops``: random crops per video and batch entry (SignRep's
    pairs: 2).  ``priors_dir``: precomputed priors (``signssl priors``) instead of
    computing them from the pose files.
    """

    clip_len: int | None = None
    size: int | None = None
    frame_step: int = 1
    fps: float | None = None
    crops: int = 2
    priors_dir: str | None = None
    bone_lengths: str | None = None  # JSON of `signssl bone-lengths`; None = built-in


@dataclass
class DataConfig:
    """How clips become batches.  ``batch_size`` is the *global* batch (all devices);
    for video methods it counts videos (each gives ``video.crops`` crops).  ``layout``
    is the encoder's (``model.kwargs.layout``) when the encoder takes one
    (:func:`config_from_dict`)."""

    layout: str = DEFAULT_LAYOUT
    dims: int = 2
    normalize: str = "auto"  # shoulders, or per hand for a clip without them
    max_frames: int = 64
    batch_size: int = 512
    num_workers: int = 0
    split: str | None = "train"  # manifest split used for pretraining; None = every row
    trim_empty: bool = True  # drop leading / trailing frames in which no joint is detected
    cache: bool = False
    on_error: str = "skip"  # "skip" unreadable clips (counted in the report) or "raise"
    # several sources mixed by weight, pose methods only (signssl.engine.sources):
    # [{path: A.csv, weight: 1.0}, {synthetic: {classes: 200, signers: 50}, weight: 0.5}]
    sources: list[dict[str, Any]] = field(default_factory=list)
    samples_per_epoch: int | None = None  # draws per epoch with sources (None: manifest clips)
    video: VideoDataConfig = field(default_factory=VideoDataConfig)


@dataclass
class OptimConfig:
    """Optimiser and per-step learning-rate schedule.

    ``lr`` is the peak rate reached after warmup; ``schedule`` is ``cosine`` (to
    ``min_lr``), ``linear`` (to ``min_lr``) or ``constant``.  ``layer_decay < 1`` scales
    block ``i`` of an encoder exposing ``blocks`` by ``layer_decay ** (L + 1 - (i + 1))``.
    """

    name: str = "sgd"  # "sgd" or "adamw"
    lr: float = 0.001
    weight_decay: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    warmup_steps: int | None = None  # overrides warmup_epochs when set
    min_lr: float = 0.0
    layer_decay: float = 1.0
    grad_clip: float | None = None


@dataclass
class TrainerConfig:
    """Lightning trainer settings.  ``precision: auto`` = mixed precision on GPU only."""

    max_epochs: int = 200
    max_steps: int = -1  # > 0 stops after this many optimiser steps
    accelerator: str = "auto"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"  # "auto", "ddp", "ddp_spawn", "fsdp", ...
    precision: str = "auto"
    seed: int = 0
    deterministic: bool = True
    log_every_n_steps: int = 1
    checkpoint_every_n_steps: int = 50
    progress_bar: bool = True
    # retrieval on held-out clips every N optimiser steps (0 = off); the best encoder by
    # retrieval MRR is exported to RUN/best (signssl.engine.validation)
    val_every_n_steps: int = 0
    val_split: str | None = None  # query split; None = "val" when the manifest has one, else "test"


@dataclass
class PretrainConfig:
    """The whole pretraining configuration (what ``RUN/config.yaml`` holds)."""

    method: MethodConfig = field(default_factory=MethodConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), ready for YAML."""
        return _plain(dataclasses.asdict(self))

    def save(self, path: str | Path) -> None:
        """Write the resolved configuration as YAML, atomically."""
        atomic_write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


# ----------------------------------------------------------------------------- built-ins

#: the SSL-SLR recipe and the baselines it compares with (docs/methods.md#ssl-slr-setting);
#: other recipe files (e.g. masa.yaml) are found in ``signssl/configs`` by name
METHODS: tuple[str, ...] = ("sl_fpn", "simclr", "moco", "simsiam", "byol")
PROFILES: tuple[str, ...] = ("tiny",)


def builtin_config_path(name: str) -> Path:
    """Path of ``signssl/configs/<name>.yaml``."""
    return Path(str(resources.files("signssl") / "configs" / f"{name}.yaml"))


def list_configs() -> dict[str, list[str]]:
    """Built-in method files and profiles present in ``signssl/configs``."""
    root = builtin_config_path("x").parent
    names = sorted(p.stem for p in root.glob("*.yaml"))
    return {
        "methods": [n for n in names if n not in PROFILES],
        "profiles": [n for n in names if n in PROFILES],
    }


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; errors name the file."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    data = read_yaml_file(path, ConfigError)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping, not {type(data).__name__}")
    return data


# ----------------------------------------------------------------------------- merging


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge: mappings merge key by key, any other value of ``overlay`` wins.

    Neither input is modified.

    >>> deep_merge({"a": {"x": 1, "y": 2}}, {"a": {"y": 3}, "b": 4})
    {'a': {'x': 1, 'y': 3}, 'b': 4}
    """
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def parse_value(text: str) -> Any:
    """YAML-typed value of a ``--set`` right-hand side.

    ``"3" -> 3``, ``"0.5" -> 0.5``, ``"1e-3" -> 0.001`` (YAML 1.1 would keep a string),
    ``"true" -> True``, ``"null" -> None``, ``"[1, 2]" -> [1, 2]``, ``"'7'" -> "7"``;
    other text stays text.
    """
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str) and value == text.strip():  # a plain (unquoted) scalar
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


def parse_override(item: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into ``(["a", "b", "c"], parsed value)``."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(
            f"--set {item!r}: expected KEY=VALUE with a dotted key, e.g. optim.lr=0.01"
        )
    return key.split("."), parse_value(raw.strip())


def apply_overrides(tree: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``--set`` items (``"optim.lr=0.01"``) to a nested dict; returns a new dict."""
    out = copy.deepcopy(dict(tree))
    for item in overrides:
        keys, value = parse_override(item)
        node = out
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                prefix = ".".join(keys[: depth + 1])
                raise ConfigError(f"--set {item!r}: {prefix} is a value, not a section")
            node = child
        node[keys[-1]] = value
    return out


# ----------------------------------------------------------------------------- dataclasses


def from_dict(cls: type, data: Mapping[str, Any], where: str = "config") -> Any:
    """Build dataclass ``cls`` from a mapping, checking key names and value types.

    Unknown keys and wrong types raise :class:`ConfigError` naming the dotted key.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, not {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(
            f"unknown key {where}.{unknown[0]}; known keys of {where}: {', '.join(sorted(fields))}"
        )
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """Check ``value`` against type hint ``tp`` (with int -> float widening)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value or {}, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if tp is Any:
        return _finite_everywhere(value, where)
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {value!r}")
        return _finite_everywhere(dict(value), where)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(f"{where} must be a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return _finite_everywhere(float(value), where)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {tp!r}")  # pragma: no cover


def _finite_everywhere(value: Any, where: str) -> Any:
    """``value`` unchanged; :class:`ConfigError` naming the key of a NaN or infinite number
    in it (no setting, nor any model or method keyword, means anything as NaN or inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {value}; give a finite value "
                          "in the config file or with --set")
    if isinstance(value, Mapping):
        for k, v in value.items():
            _finite_everywhere(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _finite_everywhere(v, f"{where}[{i}]")
    return value


def config_from_dict(tree: Mapping[str, Any], where: str = "config") -> PretrainConfig:
    """Build and validate a :class:`PretrainConfig` from a nested mapping (``data.layout``
    taken from ``model.kwargs.layout``, :func:`layout_from_model`)."""
    cfg = from_dict(PretrainConfig, layout_from_model(tree, where), where)
    validate(cfg)
    return cfg


def model_layout(tree: Mapping[str, Any]) -> str | None:
    """``model.kwargs.layout`` of a config tree, or None when the encoder takes no layout."""
    model = tree.get("model")
    kwargs = model.get("kwargs") if isinstance(model, Mapping) else None
    layout = kwargs.get("layout") if isinstance(kwargs, Mapping) else None
    return layout if isinstance(layout, str) else None


def layout_from_model(tree: Mapping[str, Any], where: str = "config") -> dict[str, Any]:
    """``tree`` with ``data.layout`` set to the encoder's layout (``model.kwargs.layout``);
    a new dict, the input is not modified.

    The encoder owns the layout: a tree that states ``data.layout`` too must state the
    same one (:class:`ConfigError` otherwise).  Without a layout in ``model.kwargs``
    (video encoders) the tree is returned as it is.

    >>> layout_from_model({"model": {"kwargs": {"layout": "hands"}}})["data"]
    {'layout': 'hands'}
    """
    out = dict(tree)
    layout = model_layout(tree)
    data = tree.get("data")
    if layout is None or not isinstance(data, Mapping | None):
        return out
    stated = (data or {}).get("layout", layout)
    if stated != layout:
        raise ConfigError(
            f"{where}.data.layout '{stated}' differs from the encoder's layout '{layout}' "
            f"(model.kwargs.layout), which the data follow: set model.kwargs.layout={stated} "
            "instead of data.layout"
        )
    out["data"] = {**(data or {}), "layout": layout}
    return out


def validate(cfg: PretrainConfig) -> None:
    """Cross-field checks that dataclass typing cannot express."""
    o, t, d = cfg.optim, cfg.trainer, cfg.data
    if o.name not in ("sgd", "adamw"):
        raise ConfigError(f"optim.name must be 'sgd' or 'adamw', got {o.name!r}")
    if o.schedule not in ("cosine", "linear", "constant"):
        raise ConfigError(
            f"optim.schedule must be 'cosine', 'linear' or 'constant', got {o.schedule!r}"
        )
    check_optim_values(
        "optim.", lr=o.lr, min_lr=o.min_lr, weight_decay=o.weight_decay, momentum=o.momentum,
        betas=o.betas, eps=o.eps, warmup_epochs=o.warmup_epochs, warmup_steps=o.warmup_steps,
        layer_decay=o.layer_decay, grad_clip=o.grad_clip,
    )  # fmt: skip
    if o.min_lr > o.lr:
        raise ConfigError(f"need 0 <= optim.min_lr <= optim.lr and lr > 0; got {o.lr}, {o.min_lr}")
    if o.grad_clip is not None and o.grad_clip <= 0:
        raise ConfigError(f"optim.grad_clip must be positive or null, got {o.grad_clip}")
    if d.max_frames < 1 or d.num_workers < 0:
        raise ConfigError(
            f"data.max_frames must be >= 1 and data.num_workers >= 0, got {d.max_frames}, "
            f"{d.num_workers}"
        )
    if d.batch_size < 2:
        raise ConfigError(f"data.batch_size must be >= 2 for contrastive batches, got {d.batch_size}")
    if d.on_error not in ("skip", "raise"):
        raise ConfigError(f"data.on_error must be 'skip' or 'raise', got {d.on_error!r}")
    if d.samples_per_epoch is not None and d.samples_per_epoch < 1:
        raise ConfigError(f"data.samples_per_epoch must be >= 1 or null, got {d.samples_per_epoch}")
    parse_sources(d.sources)  # a bad item raises naming it
    if t.max_epochs < 1 and t.max_steps < 1:
        raise ConfigError("set trainer.max_epochs or trainer.max_steps to a positive number")
    if t.devices < 1 or t.num_nodes < 1:
        raise ConfigError(f"trainer.devices and num_nodes must be >= 1, got {t.devices}")
    world = t.devices * t.num_nodes
    if d.batch_size % world:
        raise ConfigError(
            f"data.batch_size={d.batch_size} (global) is not divisible by {world} devices; "
            f"choose a multiple of {world}"
        )
    if t.checkpoint_every_n_steps < 1 or t.log_every_n_steps < 1:
        raise ConfigError("trainer.checkpoint_every_n_steps and log_every_n_steps must be >= 1")
    if t.val_every_n_steps < 0:
        raise ConfigError(
            f"trainer.val_every_n_steps must be >= 0 (0 = off), got {t.val_every_n_steps}"
        )
    v = d.video
    if v.crops < 1 or v.frame_step < 1:
        raise ConfigError(
            f"data.video.crops and frame_step must be >= 1, got {v.crops}, {v.frame_step}"
        )
    if v.fps is not None and not v.fps > 0:
        raise ConfigError(f"data.video.fps must be > 0 or null (the file's rate), got {v.fps}")
    if (v.clip_len is not None and v.clip_len < 1) or (v.size is not None and v.size < 1):
        raise ConfigError(
            f"data.video.clip_len and size must be >= 1 or null, got {v.clip_len}, {v.size}"
        )


# ----------------------------------------------------------------------------- loading


def resolve_tree(
    method: str | None = None,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """The merged, unvalidated config tree (see module docstring for the order).

    ``config`` is a built-in profile name (``tiny``), a built-in method name, or a YAML
    path.  ``method`` may be omitted when the YAML names ``method.name``.
    """
    overlay: dict[str, Any] = {}
    if config is not None:
        overlay = _read_overlay(config, method)
    from_overlay = (overlay.get("method") or {}).get("name") if isinstance(overlay, dict) else None
    name = method or from_overlay
    if name is None:
        raise ConfigError(
            f"no method given: pass --method ({', '.join(list_configs()['methods'])}) "
            "or name it in the config as method.name"
        )
    base, _ = _method_tree(name)
    tree = deep_merge(base, overlay)
    tree.setdefault("method", {})["name"] = name  # --method wins over the file
    return apply_overrides(tree, overrides)


def load_config(
    method: str | None = None,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
) -> PretrainConfig:
    """Resolve and validate a configuration (see :func:`resolve_tree`)."""
    return config_from_dict(resolve_tree(method, config, overrides))


def load_run_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> PretrainConfig:
    """The configuration saved in ``RUN/config.yaml``, with ``--set`` overrides applied."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{path} not found: {run_dir} is not a pretraining run directory")
    tree = read_yaml(path)
    data = tree.get("data")
    layout = model_layout(tree)
    if layout is not None and isinstance(data, dict) and data.get("layout") == layout:
        # saved as the encoder's: it follows model.kwargs.layout again under --set
        tree["data"] = {k: v for k, v in data.items() if k != "layout"}
    return config_from_dict(apply_overrides(tree, overrides), where=str(path))


def _method_file(name: str) -> Path:
    path = builtin_config_path(name)
    if name in PROFILES or not path.is_file():
        known = ", ".join(list_configs()["methods"])
        raise ConfigError(f"unknown method '{name}'; built-in method configs: {known}")
    return path


def _method_tree(name: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A built-in method file without its ``profiles:`` section, and that section (profile
    name -> overlay); a profile name not in :data:`PROFILES` raises naming the known ones."""
    path = _method_file(name)
    tree = read_yaml(path)
    profiles = tree.pop("profiles", None) or {}
    if not isinstance(profiles, dict) or any(
        p not in PROFILES or not isinstance(v, dict | None) for p, v in profiles.items()
    ):
        raise ConfigError(
            f"{path}: 'profiles' must map profile names ({', '.join(PROFILES)}) to config "
            f"overlays, got {profiles!r}"
        )
    return tree, {p: v or {} for p, v in profiles.items()}


def _read_overlay(config: str | Path, method: str | None) -> dict[str, Any]:
    """A profile overlay (``tiny``, then the method file's part of it), a built-in method
    file, or a user YAML file."""
    text = str(config)
    if text in PROFILES:
        data = read_yaml(builtin_config_path(text))
        if method is None:
            return data
        section = _method_tree(method)[1].get(text, {})
        own = (section.get("model") or {}).get("name")
        if own is not None and own != (data.get("model") or {}).get("name"):
            data.pop("model", None)  # another model: the profile's model kwargs do not apply
        return deep_merge(data, section)
    if text in list_configs()["methods"]:
        return _method_tree(text)[0]
    path = Path(config)
    if path.suffix.lower() not in (".yaml", ".yml") and not path.is_file():
        configs = list_configs()
        raise ConfigError(
            f"--config {text!r} is neither a built-in profile ({', '.join(configs['profiles'])}), "
            f"a method ({', '.join(configs['methods'])}) nor a YAML file"
        )
    return read_yaml(path)
