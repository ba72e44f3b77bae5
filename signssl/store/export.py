"""A trained run as a portable, self-describing model folder (``signssl export``).

Folder layout (the Hugging Face hub layout: the files sit at the top level)::

    DIR/
      config.json         the run's model description (``RUN/model/config.json``) plus
                          ``"sha256": {"model.safetensors": <hex>}``
      model.safetensors   the encoder weights
      README.md           model card: YAML front matter (library_name, tags, license) and
                          the model, recipe, input, training data, metrics and hash

:func:`signssl.store.model.load_model` reads ``DIR`` (and every ``--checkpoint``
option) and checks the recorded sha256 before loading the weights.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors import safe_open

from signssl.errors import ConfigError, DataError
from signssl.pose import get_layout
from signssl.store.model import (
    CONFIG_FILE,
    MODEL_DIR,
    WEIGHTS_FILE,
    file_sha256,
    load_model,
    load_model_config,
    resolve_model_files,
)
from signssl.utils import read_json_file, read_yaml_file, save_json

CARD_FILE = "README.md"
RUN_CONFIG = "config.yaml"
BEST_DIR = "best"
#: what ``signssl pretrain`` records about its data (``--data`` or ``data.sources``)
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_run` wrote."""

    out: Path
    sha256: str
    parameters: int
    replaced: bool


def export_run(run: str | Path, out: str | Path, *, force: bool = False, best: bool = False) -> ExportResult:
    """Write the encoder of pretraining run ``run`` as a self-describing folder ``out``.

    Args:
        run: a folder written by ``signssl pretrain`` (``RUN/config.yaml`` + ``RUN/model``).
        out: the folder to write; refused when it exists and is not empty unless ``force``.
        force: replace a non-empty ``out``.
        best: export ``RUN/best`` (the best encoder by validation) instead of ``RUN/model``.
    Returns:
        the folder, the weights' sha256, the number of parameters and whether ``out`` was
        replaced.  The folder appears at once (written in a temporary folder beside it and
        renamed), so an interrupted export leaves no partial folder.
    """
    run, out = Path(run), Path(out)
    source = _source_model_dir(run, best)
    replaced = _check_out(out, run, force)
    config = load_model_config(source)
    with _temporary_folder(out) as tmp:
        weights = tmp / WEIGHTS_FILE
        shutil.copyfile(resolve_model_files(source)[0], weights)
        digest = file_sha256(weights)
        save_json(tmp / CONFIG_FILE, {**config, "sha256": {WEIGHTS_FILE: digest}})
        parameters = count_parameters(weights)
        card = model_card(run, config, digest, parameters, source.name)
        (tmp / CARD_FILE).write_text(card, encoding="utf-8")
        load_model(tmp)  # the folder loads (hash checked) before it takes the name
        _move_into_place(tmp, out)
    return ExportResult(out, digest, parameters, replaced)


def _source_model_dir(run: Path, best: bool) -> Path:
    """``RUN/model`` (or ``RUN/best``) of a pretraining run; one-line errors otherwise."""
    if not run.exists():
        raise DataError("does not exist: pass a run folder written by `signssl pretrain`", run)
    if not run.is_dir():
        raise DataError("not a folder: pass a run folder written by `signssl pretrain`", run)
    if not (run / RUN_CONFIG).is_file():
        raise DataError(
            f"not a pretraining run (no {RUN_CONFIG}): pass the folder `signssl pretrain --out` wrote",
            run,
        )
    source = run / (BEST_DIR if best else MODEL_DIR)
    if best and not (source / WEIGHTS_FILE).is_file():
        raise DataError(
            f"no {BEST_DIR}/{WEIGHTS_FILE}: the run was not validated "
            "(trainer.val_every_n_steps); leave out --best to export RUN/model",
            run,
        )
    resolve_model_files(run if not best else source)  # unfinished runs: the usual hint
    return source


def _check_out(out: Path, run: Path, force: bool) -> bool:
    """Whether ``out`` will be replaced; refuses a file, a non-empty folder without
    ``force``, and a folder that holds the run."""
    target, source = out.resolve(), run.resolve()
    if target == source or target in source.parents or source in target.parents:
        raise ConfigError(f"--out {out} overlaps the run {run}: choose a folder outside it")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file: choose a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ConfigError(f"--out {out} exists and is not empty: choose another folder or pass --force")
        return True
    return False


@contextmanager
def _temporary_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out``, removed unless it was renamed into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; a non-empty ``out`` is first renamed aside, then removed."""
    old = None
    if out.is_dir() and any(out.iterdir()):
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, old)
    os.replace(tmp, out)  # an empty ``out`` is replaced by the rename itself
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def count_parameters(weights: Path) -> int:
    """Number of values in a ``.safetensors`` file (read from its header)."""
    with safe_open(str(weights), framework="pt") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())  # noqa: SIM118


# ----------------------------------------------------------------------------- model card


def model_card(run: Path, config: dict[str, Any], digest: str, parameters: int, source: str) -> str:
    """The ``README.md`` of an exported model (Hugging Face model-card form)."""
    run_cfg = _read_mapping(run / RUN_CONFIG, yaml=True)
    summary = _read_mapping(run / SUMMARY_FILE)
    method = str(config.get("method") or _get(run_cfg, "method", "name") or "unknown")
    modality = str(config.get("modality", "pose"))
    sections = [
        _front_matter(method, modality),
        _model_section(config, parameters, method, source),
        _recipe_section(run_cfg, summary),
        _input_section(config),
        _data_section(run, run_cfg, summary),
        _metrics_section(summary, config),
        _usage_section(),
        _files_section(digest),
    ]
    return "\n".join(s for s in sections if s)


def _front_matter(method: str, modality: str) -> str:
    tags = ["sign-language", "self-supervised-learning", modality, method]
    lines = ["---", "library_name: signssl",
             "license: other  # replace with the licence of these weights and of their training data",
             "tags:", *(f"- {t}" for t in dict.fromkeys(tags)), "---", ""]
    return "\n".join(lines)


def _model_section(config: dict[str, Any], parameters: int, method: str, source: str) -> str:
    lines = [
        f"# {config['name']} ({method})",
        "",
        f"A {config.get('modality', 'pose')} encoder trained with the self-supervised method "
        f"`{method}` in signssl (exported from `RUN/{source}`).",
        "",
        f"- model: `{config['name']}` with arguments `{json.dumps(config['kwargs'], sort_keys=True)}`",
        f"- parameters: {parameters:,} ({_megabytes(parameters)})",
    ]
    if isinstance(config.get("out_dim"), int):
        lines.append(f"- embedding size: {config['out_dim']}")
    if "best_step" in config:
        lines.append(f"- best encoder by validation, step {config['best_step']}")
    return "\n".join(lines) + "\n"


def _megabytes(parameters: int) -> str:
    return f"{parameters * 4 / 1e6:.1f} MB as float32"


def _recipe_section(run_cfg: dict[str, Any], summary: dict[str, Any]) -> str:
    if not run_cfg:
        return ""
    lines = ["## Method and recipe", ""]
    if _get(run_cfg, "method", "kwargs"):
        lines.append(f"- method `{_get(run_cfg, 'method', 'name')}`: `{json.dumps(run_cfg['method']['kwargs'], sort_keys=True)}`")
    optim = run_cfg.get("optim") or {}
    if optim:
        lines.append(f"- optimiser {optim.get('name')}, lr {optim.get('lr')}, weight decay "
                     f"{optim.get('weight_decay')}, schedule {optim.get('schedule')}")
    lines.append(f"- batch size {_get(run_cfg, 'data', 'batch_size')}, seed {_get(run_cfg, 'trainer', 'seed')}")
    if summary:
        lines.append(f"- epochs: {summary.get('epochs')}, steps: {summary.get('global_step')} "
                     f"({summary.get('steps_per_epoch')} per epoch)")
    return "\n".join(lines) + "\n"


def _input_section(config: dict[str, Any]) -> str:
    lines = ["## Input", ""]
    if config.get("modality") == "video":
        lines += [f"- modality: video, clips of `[T, H, W]` = `{config.get('input_size')}`",
                  f"- frame step {config.get('frame_step')}, fps {config.get('fps')}"]
        return "\n".join(lines) + "\n"
    layout = config.get("layout")
    lines += [
        f"- modality: pose keypoints, layout `{layout}`{_joints(layout)}, {config.get('dims')} "
        "coordinates per joint",
        f"- streams: {', '.join(config['kwargs'].get('streams') or ['joints'])}",
        f"- frames: at most {config.get('max_frames')} per clip"
        + (" (empty frames trimmed)" if config.get("trim_empty") else ""),
        f"- normalisation: `{config.get('normalize')}`",
    ]
    return "\n".join(lines) + "\n"


def _joints(layout: Any) -> str:
    try:
        return f" ({get_layout(str(layout)).num_joints} joints)"
    except Exception:  # a custom layout file that is not here: name it only
        return ""


def _data_section(run: Path, run_cfg: dict[str, Any], summary: dict[str, Any]) -> str:
    lines = ["## Training data", ""]
    sources = _get(run_cfg, "data", "sources") or []
    recorded = _read_mapping(run / RUN_FILE)
    if sources:
        lines += [f"- {_source_label(s)}" for s in sources]
    elif recorded.get("data"):
        lines.append(f"- manifest `{Path(str(recorded['data'])).name}`")
    else:
        lines.append("- a manifest given to `signssl pretrain` (not recorded in the run)")
    lines.append(f"- split: {_get(run_cfg, 'data', 'split') or 'every row'}")
    if summary:
        lines.append(f"- {summary.get('clips')} clips ({summary.get('skipped')} skipped), "
                     f"{summary.get('epochs')} epochs")
    return "\n".join(lines) + "\n"


def _source_label(source: Any) -> str:
    if not isinstance(source, dict):
        return f"`{source}`"
    weight = f" (weight {source['weight']})" if source.get("weight") is not None else ""
    if source.get("synthetic") is not None:
        args = ", ".join(f"{k}={v}" for k, v in sorted(dict(source["synthetic"]).items()))
        return f"synthetic clips ({args}){weight}"
    return f"manifest `{Path(str(source.get('path'))).name}`{weight}"


def _metrics_section(summary: dict[str, Any], config: dict[str, Any]) -> str:
    metrics = {k: v for k, v in (summary.get("metrics") or {}).items() if k.startswith("val/")}
    best = config.get("best_metrics") if isinstance(config.get("best_metrics"), dict) else {}
    if not metrics and not best:
        return ""
    lines = ["## Metrics", "", "| metric | value |", "| --- | --- |"]
    lines += [f"| {k} (last validation) | {_number(v)} |" for k, v in sorted(metrics.items())]
    lines += [f"| {k} (best encoder) | {_number(v)} |" for k, v in sorted(best.items())]
    return "\n".join(lines) + "\n"


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _usage_section() -> str:
    return "\n".join([
        "## Use", "",
        "```python",
        "import signssl",
        "",
        'encoder = signssl.load_model("path/to/this/folder")  # checks the sha256 below',
        "```", "",
        "```bash",
        "signssl embed --checkpoint path/to/this/folder --data manifest.csv -o features.npz",
        "```", "",
    ])


def _files_section(digest: str) -> str:
    return "\n".join(["## Files", "", "| file | sha256 |", "| --- | --- |",
                      f"| {WEIGHTS_FILE} | `{digest}` |", ""])


def _read_mapping(path: Path, yaml: bool = False) -> dict[str, Any]:
    """A JSON or YAML mapping, ``{}`` when the file is absent."""
    if not path.is_file():
        return {}
    value = read_yaml_file(path) if yaml else read_json_file(path)
    return value if isinstance(value, dict) else {}


def _get(tree: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)  # type: ignore[assignment]
    return tree
