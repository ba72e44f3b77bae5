"""Boundary-importance search (SSL-SLR Algorithm 1, docs/methods.md#boundary-search).

For ``b = step, 2·step, ...``: pretrain with the permutation of the first ``b`` frames
only, measure linear-evaluation accuracy ``acc(b)``; stop as soon as ``acc`` stops
increasing (``acc(b) <= acc(b - step)``) and keep ``b_s`` = the last ``b`` before the
drop.  The same from the end (permuting only the last ``b`` frames) gives ``b_e``.

Every ``b`` is pretrained and evaluated once per seed (``seeds``; the paper trains each
candidate five times, the default here is one to keep the cost), and ``acc(b)`` is the
mean over the seeds, reported with its 95 % t-interval
(:func:`~signssl.eval.metrics.summarize_runs`).  The no-permutation reference
(``boundary_permutation=False``, i.e. ``b = 0``) is trained with the same seeds and shown
next to the curves; it does not enter the stopping rule.

Each (candidate, seed) is one run in ``OUT/<side>_b<b>_s<seed>/`` (the reference in
``OUT/reference_s<seed>/``) with its accuracy in ``result.json``, written atomically when
it finishes; a rerun reuses finished runs, so an interrupted search resumes.  Results:
``OUT/boundary_search.json`` (``b_s``, ``b_e``, both curves with per-seed values, mean
and interval per candidate, the reference) and ``OUT/boundary_search.png``.

``b`` counts frames of a clip of ``reference_frames`` frames (default: the data's
``max_frames``).  When the recipe takes absolute counts (``b_s_frames``/``b_e_frames``)
they are used; otherwise the permuted share of each clip is ``(b + 0.5) / reference``
(so a clip of exactly ``reference`` frames permutes ``b`` of them, shorter clips
proportionally fewer).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signssl.data import Manifest
from signssl.engine.config import config_from_dict, deep_merge
from signssl.errors import ConfigError
from signssl.eval.frozen import ensure_splits, frozen_eval, split_features
from signssl.eval.metrics import summarize_runs
from signssl.methods import method_options
from signssl.store.model import load_model
from signssl.store.spec import spec_from_config
from signssl.utils import atomic_path, json_float, json_floats, save_json

RESULT_FILE = "boundary_search.json"
PLOT_FILE = "boundary_search.png"
POINT_FILE = "result.json"
SIDES = ("start", "end")
#: the side name of the no-permutation reference runs
REFERENCE = "reference"


@dataclass
class SeedRun:
    """One pretraining run (one candidate, one seed) and its linear evaluation."""

    seed: int
    accuracy: float
    run_dir: str
    metrics: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, saved: dict[str, Any]) -> SeedRun:
        """A run read back from its JSON file (``null`` scores as ``nan``)."""
        return cls(seed=int(saved["seed"]), accuracy=json_float(saved["accuracy"]),
                   run_dir=str(saved["run_dir"]), metrics=json_floats(saved.get("metrics") or {}))


@dataclass
class BoundaryPoint:
    """One candidate ``b`` (``0``: the no-permutation reference): the mean accuracy over
    its seeds and the half-width of the 95 % t-interval (``nan`` with one seed)."""

    b: int
    accuracy: float
    ci95: float = float("nan")
    runs: list[SeedRun] = field(default_factory=list)

    @classmethod
    def from_runs(cls, b: int, runs: list[SeedRun]) -> BoundaryPoint:
        """Mean and interval of the runs' accuracies."""
        stat = summarize_runs([{"accuracy": r.accuracy} for r in runs])["accuracy"]
        return cls(b=b, accuracy=stat["mean"], ci95=stat["ci95"], runs=list(runs))

    def label(self) -> str:
        """``mean ± half-width`` (the mean alone with one seed)."""
        if self.ci95 == self.ci95:
            return f"{self.accuracy:.4f} ± {self.ci95:.4f}"
        return f"{self.accuracy:.4f}"

    def to_dict(self) -> dict[str, Any]:
        """The point with its per-seed values and every metric's mean and interval."""
        return {
            "b": self.b,
            "accuracy": self.accuracy,
            "ci95": self.ci95,
            "seeds": [r.seed for r in self.runs],
            "values": [r.accuracy for r in self.runs],
            "metrics": summarize_runs([r.metrics for r in self.runs]),
            "runs": [r.__dict__ for r in self.runs],
        }


@dataclass
class BoundarySearchResult:
    """``b_s``/``b_e`` in frames and the accuracy curves that chose them."""

    b_s: int
    b_e: int
    start: list[BoundaryPoint]
    end: list[BoundaryPoint]
    step: int
    reference_frames: int
    metric: str
    seeds: list[int] = field(default_factory=list)
    reference: BoundaryPoint | None = None
    plot: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "b_s": self.b_s,
            "b_e": self.b_e,
            "b_s_fraction": self.b_s / self.reference_frames,
            "b_e_fraction": self.b_e / self.reference_frames,
            "step": self.step,
            "reference_frames": self.reference_frames,
            "metric": self.metric,
            "seeds": self.seeds,
            "reference": None if self.reference is None else self.reference.to_dict(),
            "start": [p.to_dict() for p in self.start],
            "end": [p.to_dict() for p in self.end],
            "plot": self.plot,
        }


def candidate_bs(step: int, max_b: int) -> list[int]:
    """``[step, 2·step, ...] <= max_b``."""
    if step < 1:
        raise ConfigError(f"--step must be >= 1 frame, got {step}")
    if max_b < step:
        raise ConfigError(f"max b ({max_b}) is smaller than the step ({step}); lower --step")
    return list(range(step, max_b + 1, step))


def last_before_drop(accuracies: list[float]) -> int:
    """Index of the last value before the sequence stops increasing (Algorithm 1).

    >>> last_before_drop([0.3, 0.5, 0.4, 0.9])
    1
    >>> last_before_drop([0.3, 0.5, 0.6])
    2
    """
    if not accuracies:
        raise ValueError("no accuracy measured")
    for i in range(1, len(accuracies)):
        if accuracies[i] <= accuracies[i - 1]:
            return i - 1
    return len(accuracies) - 1


def boundary_kwargs(side: str, b: int, reference_frames: int, absolute: bool) -> dict[str, Any]:
    """Method options permuting only the first (``start``) or last (``end``) ``b`` frames."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    kwargs: dict[str, Any] = {"boundary_permutation": True}
    if absolute:
        kwargs.update(
            b_s_frames=b if side == "start" else 0, b_e_frames=b if side == "end" else 0,
            b_s=0.0, b_e=0.0,
        )
    else:
        share = min(1.0, (b + 0.5) / reference_frames)
        kwargs.update(b_s=share if side == "start" else 0.0, b_e=share if side == "end" else 0.0)
    return kwargs


def search_side(
    side: str,
    bs: list[int],
    evaluate: Callable[[str, int], BoundaryPoint],
    on_point: Callable[[BoundaryPoint], None] | None = None,
) -> tuple[int, list[BoundaryPoint]]:
    """Walk ``bs`` until accuracy stops increasing; returns ``(chosen b, points)``."""
    points: list[BoundaryPoint] = []
    for b in bs:
        point = evaluate(side, b)
        points.append(point)
        if on_point is not None:
            on_point(point)
        if len(points) > 1 and points[-1].accuracy <= points[-2].accuracy:
            break
    chosen = points[last_before_drop([p.accuracy for p in points])].b
    return chosen, points


def boundary_search(
    cfg: Any,
    data: str | Path,
    out_dir: str | Path,
    step: int = 4,
    max_b: int | None = None,
    reference_frames: int | None = None,
    metric: str = "linear/top1_per_instance",
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    seeds: int = 1,
    reference: bool = True,
) -> BoundarySearchResult:
    """Run Algorithm 1 with pretraining configuration ``cfg`` on manifest ``data``.

    Args:
        cfg: a :class:`~signssl.engine.config.PretrainConfig` (its method should use the
            boundary permutation, e.g. ``sl_fpn``); ``b_s``/``b_e`` are set per run.
        data: manifest CSV; its ``train``/``test`` splits are used for the linear
            evaluation (a signer-independent split is made when they are missing) and
            pretraining uses ``cfg.data.split``.
        out_dir: where the runs, JSON and plot go (reused on a rerun).
        step: frames between candidates.
        max_b: largest ``b`` tried (default ``reference_frames // 2``).
        reference_frames: clip length ``b`` refers to (default ``cfg.data.max_frames``).
        metric: the accuracy compared between candidates (a key of
            :func:`signssl.eval.frozen.frozen_eval`).
        seeds: runs per candidate, with seeds ``cfg.trainer.seed + 0 .. seeds - 1``
            (pretraining and linear probe); candidates are compared by their mean.  The
            paper uses 5.
        reference: also train the no-permutation reference with the same seeds.
    """
    from signssl.engine.pretraining import pretrain  # lazy: Lightning

    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1 run per candidate, got {seeds}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ref = int(reference_frames or cfg.data.max_frames)
    seed_list = [int(cfg.trainer.seed) + i for i in range(seeds)]
    bs = candidate_bs(step, max_b if max_b is not None else ref // 2)
    absolute = "b_s_frames" in method_options(cfg.method.name)
    manifest = ensure_splits(Manifest.read(data))
    split_csv = out_dir / "manifest_splits.csv"
    manifest.write(split_csv)
    spec = spec_from_config(cfg)
    say = log or (lambda _msg: None)

    def run_one(run_dir: Path, kwargs: dict[str, Any], seed: int) -> SeedRun:
        done = run_dir / POINT_FILE
        if done.is_file():
            return SeedRun.from_json(json.loads(done.read_text(encoding="utf-8")))
        tree = deep_merge(cfg.to_dict(), {"method": {"kwargs": kwargs}, "trainer": {"seed": seed}})
        if not (run_dir / "model").exists():  # not pretrained yet, or interrupted
            resume = (run_dir / "checkpoints" / "last.ckpt").is_file()
            pretrain(config_from_dict(tree), split_csv, run_dir, resume=resume, progress=progress)
        train, test = split_features(load_model(run_dir), manifest, spec)
        metrics = frozen_eval(train, test, protocols=("linear",), seed=seed)
        if metric not in metrics:
            raise ConfigError(f"unknown metric {metric!r}; available: {', '.join(sorted(metrics))}")
        run = SeedRun(seed=seed, accuracy=metrics[metric], run_dir=str(run_dir), metrics=metrics)
        save_json(done, run.__dict__)
        return run

    def evaluate(side: str, b: int) -> BoundaryPoint:
        if side == REFERENCE:
            stem, kwargs = REFERENCE, {"boundary_permutation": False}
        else:
            stem, kwargs = f"{side}_b{b:03d}", boundary_kwargs(side, b, ref, absolute)
        runs = [run_one(out_dir / f"{stem}_s{seed}", kwargs, seed) for seed in seed_list]
        return BoundaryPoint.from_runs(b, runs)

    def report(point: BoundaryPoint, side: str) -> None:
        values = ", ".join(f"{r.accuracy:.4f}" for r in point.runs)
        say(f"{side} b={point.b:3d}: {metric} = {point.label()}  (seeds {seed_list}: {values})")

    ref_point = None
    if reference:
        ref_point = evaluate(REFERENCE, 0)
        report(ref_point, REFERENCE)
    b_s, start = search_side("start", bs, evaluate, lambda p: report(p, "start"))
    b_e, end = search_side("end", bs, evaluate, lambda p: report(p, "end"))
    result = BoundarySearchResult(b_s, b_e, start, end, step, ref, metric, seed_list, ref_point)
    result.plot = str(plot_boundary_search(result, out_dir / PLOT_FILE))
    save_json(out_dir / RESULT_FILE, result.to_dict())
    return result


def plot_boundary_search(result: BoundarySearchResult, path: str | Path) -> Path:
    """Mean accuracy against ``b`` for both sides with 95 % intervals over the seeds, the
    chosen ``b`` marked, and the no-permutation reference as a horizontal line (its
    interval shaded); written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for side, points, chosen, colour in (
        ("start (b_s)", result.start, result.b_s, "tab:blue"),
        ("end (b_e)", result.end, result.b_e, "tab:orange"),
    ):
        xs = [p.b for p in points]
        ys = [p.accuracy for p in points]
        err = [p.ci95 if p.ci95 == p.ci95 else 0.0 for p in points]
        ax.errorbar(xs, ys, yerr=err, marker="o", color=colour, capsize=3, label=f"{side} = {chosen}")
        ax.axvline(chosen, color=colour, linestyle=":", alpha=0.7)
    ref = result.reference
    if ref is not None:
        ax.axhline(ref.accuracy, color="grey", linestyle="--", label="no permutation (reference)")
        if ref.ci95 == ref.ci95:
            ax.axhspan(ref.accuracy - ref.ci95, ref.accuracy + ref.ci95, color="grey", alpha=0.15)
    low, high = ax.get_ylim()
    ax.set_ylim(max(low, -0.02), min(high, 1.02))  # accuracies: intervals past [0, 1] say nothing
    seeds = len(result.seeds)
    ax.set_xlabel(f"permuted frames b (of {result.reference_frames})")
    ax.set_ylabel(result.metric if seeds <= 1 else
                  f"{result.metric}\n(mean, 95 % t-interval over {seeds} seeds)")
    ax.set_title("Boundary-importance search (SSL-SLR Alg. 1)")
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return path
