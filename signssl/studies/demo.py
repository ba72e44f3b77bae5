"""End-to-end demonstration on a synthetic vocabulary (``signssl demo``).

1. generate a synthetic vocabulary with a signer-independent test split
   (:func:`signssl.synth.generate_dataset`);
2. pretrain SL-FPN with the ``tiny`` profile (and, with ``all_methods``, SimCLR, MoCo v2,
   SimSiam, BYOL and MASA) on the training clips, without labels;
3. evaluate every encoder with frozen features — dictionary retrieval (training clips
   as the dictionary, the test signers' clips as queries) and a linear probe — next to two
   training-free baselines: raw keypoints and the same encoder with random weights;
4. write ``report.md``, ``results.json`` and figures (metric bars with the 95 % Wilson
   interval of each top-1 over the test clips, training curves, collapse monitor,
   embedding map).

Everything lands in ``OUT/`` and is reused on a rerun (finished runs are not redone).
Sizes: ``quick`` fits in about 3 minutes on two CPU cores, the default in about 15.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from signssl.data import Manifest
from signssl.engine.config import load_config
from signssl.eval.frozen import ensure_splits, frozen_eval, split_features
from signssl.eval.metrics import summarize_runs
from signssl.eval.plots import plot_embedding_map
from signssl.models.baselines import get_baseline
from signssl.store.model import load_model
from signssl.store.spec import spec_from_config
from signssl.studies.study_report import metric_intervals, plot_metric_summary
from signssl.synth import generate_dataset
from signssl.utils import atomic_path, atomic_write_text, json_floats, save_json

#: recipes pretrained next to SL-FPN with ``all_methods``
OTHER_METHODS = ("simclr", "moco", "simsiam", "byol", "masa")


@dataclass
class DemoSize:
    """Data and schedule of one demo size."""

    classes: int
    signers: int
    reps: int
    frames: int
    epochs: int
    batch_size: int = 32


QUICK = DemoSize(classes=10, signers=8, reps=4, frames=40, epochs=30)
FULL = DemoSize(classes=20, signers=10, reps=5, frames=48, epochs=40)


@dataclass
class DemoRow:
    """One evaluated encoder."""

    name: str
    kind: str  # "pretrained" or "baseline"
    metrics: dict[str, float]
    seconds: float = 0.0
    run_dir: str | None = None


@dataclass
class DemoResult:
    rows: list[DemoRow]
    report: Path
    num_clips: int
    num_classes: int
    seconds: float
    figures: list[str] = field(default_factory=list)


def demo_overrides(size: DemoSize, seed: int, progress: bool) -> list[str]:
    """``--set`` items turning the ``tiny`` profile into the demo schedule."""
    return [
        f"trainer.max_epochs={size.epochs}",
        f"data.batch_size={size.batch_size}",
        f"trainer.seed={seed}",
        f"trainer.progress_bar={str(progress).lower()}",
        "trainer.checkpoint_every_n_steps=100",
    ]


def run_demo(
    out_dir: str | Path,
    quick: bool = False,
    all_methods: bool = False,
    seed: int = 0,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    size: DemoSize | None = None,
) -> DemoResult:
    """Run the demonstration into ``out_dir`` (see the module docstring)."""
    from signssl.engine.pretraining import pretrain, read_summary  # lazy: Lightning

    say = log or (lambda _msg: None)
    start = time.perf_counter()
    out = Path(out_dir)
    size = size or (QUICK if quick else FULL)
    say(f"generating {size.classes} signs x {size.signers} signers x {size.reps} repetitions ...")
    manifest_path = generate_dataset(
        out / "data", classes=size.classes, signers=size.signers, reps=size.reps,
        frames=size.frames, video=False, seed=seed, progress=progress,
    )
    manifest = ensure_splits(Manifest.read(manifest_path), seed=seed)
    methods = ["sl_fpn", *(OTHER_METHODS if all_methods else ())]
    rows: list[DemoRow] = []
    features: dict[str, Any] = {}
    first = load_config("sl_fpn", "tiny", demo_overrides(size, seed, progress))
    for method in methods:
        cfg = load_config(method, "tiny", demo_overrides(size, seed, progress))
        spec = spec_from_config(cfg)
        run_dir = out / "runs" / method
        if not (run_dir / "model").exists():
            say(f"pretraining {method} ({size.epochs} epochs) -> {run_dir}")
            resume = (run_dir / "checkpoints" / "last.ckpt").is_file()
            pretrain(cfg, manifest_path, run_dir, resume=resume, progress=progress)
        seconds = float(read_summary(run_dir).get("seconds", 0.0))
        train, test = split_features(load_model(run_dir), manifest, spec)
        features[method] = (train, test)
        rows.append(DemoRow(method, "pretrained", frozen_eval(train, test, seed=seed), seconds, str(run_dir)))
        say(f"{method}: {_headline(rows[-1].metrics)}")
    # training-free baselines, read like SL-FPN's encoder (the pose transformer)
    spec = spec_from_config(first)
    baselines = {
        "raw keypoints": get_baseline("raw-keypoints", layout=spec.layout, dims=spec.dims),
        "random init": get_baseline("random-init", model=first.model.name, seed=seed, **first.model.kwargs),
    }
    for name, encoder in baselines.items():
        train, test = split_features(encoder, manifest, spec)
        features[name] = (train, test)
        rows.append(DemoRow(name, "baseline", frozen_eval(train, test, seed=seed)))
        say(f"{name}: {_headline(rows[-1].metrics)}")
    figures = _figures(out / "figures", rows, features, out / "runs")
    seconds = time.perf_counter() - start
    num_clips = len(manifest.rows)
    num_classes = len(manifest.labels())
    report = write_demo_report(out, rows, figures, size, num_clips, num_classes, seconds)
    return DemoResult(rows, report, num_clips, num_classes, seconds, [str(f) for f in figures])


def _headline(metrics: dict[str, float]) -> str:
    return (
        f"retrieval top-1 {metrics.get('retrieval/top1_per_instance', float('nan')):.3f}, "
        f"linear top-1 {metrics.get('linear/top1_per_instance', float('nan')):.3f}"
    )


# ----------------------------------------------------------------------------- figures


def _figures(fig_dir: Path, rows: list[DemoRow], features: dict[str, Any], runs: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from signssl.engine.pretraining import read_run_metrics  # lazy: Lightning

    fig_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []

    def save(fig: Any, name: str) -> None:
        path = fig_dir / name
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
        plt.close(fig)
        paths.append(path)

    # metric bars; one seed per row, so top-1 gets its binomial interval over the test clips
    bars, _ = plot_metric_summary([r.name for r in rows], _summaries(rows), 1, fig_dir / "metrics.png")
    paths.append(bars)

    # training curves and collapse monitor
    fig, (ax_loss, ax_std) = plt.subplots(1, 2, figsize=(10, 3.6))
    for row in rows:
        if row.run_dir is None:
            continue
        series = read_run_metrics(row.run_dir)
        if "train/loss" in series:
            steps, values = zip(*series["train/loss"], strict=True)
            ax_loss.plot(steps, values, label=row.name, lw=1)
        if "train/collapse_ratio" in series:
            steps, values = zip(*series["train/collapse_ratio"], strict=True)
            ax_std.plot(steps, values, label=row.name, lw=1)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss")
    ax_loss.legend(fontsize=7)
    ax_std.axhline(1.0, color="k", ls="--", lw=0.8)
    ax_std.set_xlabel("step")
    ax_std.set_ylabel("std x sqrt(D)")
    ax_std.set_title("collapse monitor (1 healthy, 0 collapsed)", fontsize=9)
    ax_std.set_ylim(bottom=0)
    save(fig, "training.png")

    # embedding map of the pretrained SL-FPN test features
    if "sl_fpn" in features:
        _, test = features["sl_fpn"]
        paths.append(
            plot_embedding_map(test.features, test.labels, fig_dir / "embedding_sl_fpn.png",
                               title=embedding_title("SL-FPN", test.signers))
        )
    return paths


def _summaries(rows: list[DemoRow]) -> list[dict[str, Any]]:
    """Each row's metrics as a one-seed :func:`~signssl.eval.metrics.summarize_runs` result."""
    return [summarize_runs([r.metrics]) for r in rows]


def embedding_title(encoder: str, signers: Any) -> str:
    """``"SL-FPN embeddings of the 2 test signers (PCA)"``: how many signers the map shows."""
    n = len({str(s) for s in signers if str(s)})
    who = "the test clips" if n == 0 else "the test signer" if n == 1 else f"the {n} test signers"
    return f"{encoder} embeddings of {who} (PCA)"


# ----------------------------------------------------------------------------- report


def write_demo_report(
    out: Path,
    rows: list[DemoRow],
    figures: list[Path],
    size: DemoSize,
    num_clips: int,
    num_classes: int,
    seconds: float,
) -> Path:
    """``OUT/results.json`` and ``OUT/report.md`` (a table and the figures)."""
    save_json(out / "results.json", {
        "size": size.__dict__,
        "clips": num_clips,
        "classes": num_classes,
        "seconds": round(seconds, 1),
        "rows": [r.__dict__ for r in rows],
    })
    cols = [("retrieval/top1_per_instance", "retrieval top-1"), ("retrieval/top5_per_instance", "top-5"),
            ("retrieval/mrr", "MRR"), ("retrieval/dcg", "DCG"),
            ("linear/top1_per_instance", "linear top-1"), ("linear/top1_per_class", "per class")]
    lines = [
        "# signssl demo",
        "",
        f"Synthetic vocabulary: {num_classes} signs, {size.signers} signers x {size.reps} repetitions "
        f"= {num_clips} clips of {size.frames} frames; the test split holds signers never seen in "
        f"training. Pretraining: `tiny` profile, {size.epochs} epochs, no labels. Evaluation with "
        "frozen features: retrieval (training clips = dictionary, test clips = queries) and a "
        "linear probe (logistic regression on the training clips).",
        "",
        "| encoder | kind | " + " | ".join(c for _, c in cols) + " | pretrain time |",
        "|---|---|" + "---|" * len(cols) + "---|",
    ]
    for r in rows:
        vals = " | ".join(f"{r.metrics.get(k, float('nan')):.3f}" for k, _ in cols)
        t = f"{r.seconds:.0f} s" if r.seconds else "-"
        lines.append(f"| {r.name} | {r.kind} | {vals} | {t} |")
    lines += ["", f"Total time: {seconds:.0f} s.", ""]
    for f in figures:
        lines += [f"![{f.stem}](figures/{f.name})", ""]
        if f.name == "metrics.png":
            lines += [f"*{metric_intervals(_summaries(rows), 1)[1]}.*", ""]
    path = out / "report.md"
    atomic_write_text(path, "\n".join(lines))
    return path


def load_demo_results(out_dir: str | Path) -> dict[str, Any]:
    """``OUT/results.json`` of a finished demo (``null`` metrics, non-finite when written,
    as ``nan``)."""
    results = json.loads((Path(out_dir) / "results.json").read_text(encoding="utf-8"))
    for row in results.get("rows", []):
        row["metrics"] = json_floats(row.get("metrics") or {})
    return results
