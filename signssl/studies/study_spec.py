"""A study's description (``signssl study``): its YAML, read and checked before anything runs.

A study is described in YAML::

    size: {classes: 20, signers: 10, reps: 5, frames: 48}   # synthetic data per seed
                          # (any generate_dataset argument, e.g. minimal_pair_rate: 0)
    video: false          # true: render videos too (video methods: signrep, mae)
    video_size: 64        # their frame size (pixels) when video is true
    probe: []             # manifest columns to decode with a linear probe (e.g. style_background)
    finetune: null        # {} or settings: also fine-tune (labels) every encoder, pose only
    data: null            # or a manifest path: real data, the same for every seed
    data_seed: null       # an int: one synthetic data set for every seed (training seeds only)
    config: tiny          # profile / YAML overlaid on each method's config
    epochs: 40
    seeds: [0, 1, 2]
    set: []               # --set items for every pretrained variant
    variants:
      - {name: SL-FPN, method: sl_fpn}
      - {name: SL-FPN no permutation, method: sl_fpn,
         set: [method.kwargs.boundary_permutation=false]}
      - {name: random init, baseline: random-init, method: sl_fpn}   # method's encoder
      - {name: raw keypoints, baseline: raw-keypoints}
      - {name: DTW, baseline: dtw}        # retrieval only: linear metrics shown as '-'

A variant with ``init: <another pretrained variant>`` starts its encoder from that
variant's encoder of the same seed (``model.init``), as SignRep starts from a pixel-MAE
Hiera (``{name: SignRep from MAE, method: signrep, init: pixel MAE}``): such variants
run after the ones they start from, and the two stages together cost the sum of both
rows' budgets.

With ``finetune`` set, every pretrained variant and every random-init baseline is also
fine-tuned with labels (encoder + linear head) on the training clips and scored on the
test clips (``finetune/*`` metrics; random init = training from scratch).  The recipe is
MASA's (:data:`signssl.recipes.MASA_FINETUNE`), at the encoder's frame budget; the dict overrides
arguments of :func:`signssl.eval.finetune.finetune_eval`.

:func:`load_spec` reads the YAML and :func:`spec_from_dict` checks it: unknown keys, a
``size`` or ``finetune`` setting the study sets itself and ``init`` links that name no
pretrained variant (or form a cycle) raise :class:`~signssl.errors.ConfigError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signssl.errors import ConfigError
from signssl.synth.dataset import generate_dataset
from signssl.utils import read_yaml_file

#: finetune_eval arguments the study sets itself
_FINETUNE_FIXED = {"encoder", "train_data", "test_data", "classes", "seed", "accelerator",
                   "progress", "max_frames"}


@dataclass
class Variant:
    """One row of the study: a pretrained method (+ overrides) or a baseline."""

    name: str
    method: str = "sl_fpn"
    set: list[str] = field(default_factory=list)
    baseline: str | None = None  # "random-init" | "raw-keypoints" | "dtw" | ... (no training)
    init: str | None = None  # name of the pretrained variant whose encoder it starts from

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", self.name).strip("-").lower() or "variant"


@dataclass
class StudySpec:
    variants: list[Variant]
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    size: dict[str, Any] = field(
        default_factory=lambda: {"classes": 20, "signers": 10, "reps": 5, "frames": 48}
    )
    data: str | None = None
    data_seed: int | None = None
    config: str = "tiny"
    epochs: int = 40
    set: list[str] = field(default_factory=list)
    video: bool = False
    video_size: int = 64
    probe: list[str] = field(default_factory=list)
    finetune: dict[str, Any] | None = None


def load_spec(path: str | Path) -> StudySpec:
    """Read a study YAML (see the module docstring); unknown keys raise."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"study file {p} not found")
    raw = read_yaml_file(p, ConfigError) or {}
    return spec_from_dict(raw, where=str(p))


def spec_from_dict(raw: dict[str, Any], where: str = "study") -> StudySpec:
    known = set(StudySpec.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    if not raw.get("variants"):
        raise ConfigError(f"{where}: 'variants' must list at least one variant")
    variants = []
    for i, v in enumerate(raw["variants"]):
        if not isinstance(v, dict) or "name" not in v:
            raise ConfigError(f"{where}: variant #{i} needs a 'name'")
        bad = set(v) - set(Variant.__dataclass_fields__)
        if bad:
            raise ConfigError(f"{where}: variant '{v['name']}' has unknown keys {sorted(bad)}")
        variants.append(Variant(**{**v, "set": list(v.get("set") or [])}))
    slugs = [v.slug for v in variants]
    if len(set(slugs)) != len(slugs):
        raise ConfigError(f"{where}: variant names must differ (after slugging): {slugs}")
    _check_inits(variants, where)
    spec = StudySpec(variants=variants, **{k: v for k, v in raw.items() if k != "variants"})
    spec.seeds = [int(s) for s in spec.seeds]
    if not spec.seeds:
        raise ConfigError(f"{where}: 'seeds' must not be empty")
    _check_size(spec, where)
    _check_finetune(spec, where)
    return spec


#: generate_dataset arguments the study sets itself (or, for config, that YAML cannot give)
_SIZE_FIXED = {"out_dir", "video", "size", "seed", "progress", "config"}


def _check_inits(variants: Sequence[Variant], where: str) -> None:
    """``init`` names another pretrained variant of the spec (no baseline, no cycle)."""
    by_name = {v.name: v for v in variants}
    for v in variants:
        if v.init is None:
            continue
        if v.baseline is not None:
            raise ConfigError(f"{where}: variant '{v.name}' is a baseline and cannot take 'init'")
        source = by_name.get(v.init)
        if source is None or source.baseline is not None:
            known = [n for n, u in by_name.items() if u.baseline is None and n != v.name]
            raise ConfigError(f"{where}: variant '{v.name}' starts from '{v.init}', which is not "
                              f"a pretrained variant of the study (pretrained: {known})")
        init_depth(v, by_name, where)


def init_depth(variant: Variant, by_name: dict[str, Variant], where: str) -> int:
    """How many ``init`` links lead from ``variant`` to a variant trained from scratch."""
    depth, seen, v = 0, {variant.name}, variant
    while v.init is not None:
        v = by_name[v.init]
        if v.name in seen:
            raise ConfigError(f"{where}: the 'init' links of variant '{variant.name}' form a cycle")
        seen.add(v.name)
        depth += 1
    return depth


def _check_size(spec: StudySpec, where: str) -> None:
    """``size`` holds :func:`signssl.synth.generate_dataset` arguments."""
    if not isinstance(spec.size, dict):
        raise ConfigError(f"{where}: 'size' must be a mapping of synthetic-data settings")
    _check_arguments(generate_dataset, spec.size, _SIZE_FIXED, f"{where}: unknown 'size'",
                     " (frame size: video_size)")  # fmt: skip


def _check_arguments(fn: Any, given: dict[str, Any], fixed: set[str], what: str,
                     hint: str = "") -> None:  # fmt: skip
    """Raise when ``given`` names an argument of ``fn`` that is missing or in ``fixed``."""
    import inspect

    allowed = set(inspect.signature(fn).parameters) - fixed
    bad = set(given) - allowed
    if bad:
        raise ConfigError(f"{what} settings {sorted(bad)}; known: {sorted(allowed)}{hint}")


def _check_finetune(spec: StudySpec, where: str) -> None:
    """``finetune`` is a dict of :func:`finetune_eval` arguments, for pose data only."""
    from signssl.eval.finetune import finetune_eval  # lazy: Lightning

    if spec.finetune is None:
        return
    if not isinstance(spec.finetune, dict):
        raise ConfigError(f"{where}: 'finetune' must be a mapping of settings ({{}} = defaults)")
    if spec.video:
        raise ConfigError(f"{where}: 'finetune' fine-tunes pose encoders; for video use "
                          "`signssl finetune-video`")
    _check_arguments(finetune_eval, spec.finetune, _FINETUNE_FIXED, f"{where}: unknown 'finetune'")
