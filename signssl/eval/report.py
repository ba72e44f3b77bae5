"""Evaluation reports: ``metrics.json``, ``report.md`` and PNG figures in one folder.

``metrics.json`` holds the metric means at the top level (``top1_per_instance``,
``top5_per_instance``, ``top1_per_class``, ``top5_per_class``; for retrieval also ``dcg``,
``mrr``, ``recall@1``, ``recall@5``, ``recall@10``, ``n_queries``, ``n_dictionary``), then
``ci95`` (half-widths over seeds), ``per_seed``, ``per_signer``, ``config``,
``intra_class_inertia`` and whatever the caller adds (e.g. skipped-sample counts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from signssl.eval import plots
from signssl.eval.features import Features
from signssl.eval.metrics import intra_class_inertia
from signssl.eval.runner import EvalRuns
from signssl.utils import atomic_write_text, save_json

#: metrics shown first in report.md, in this order
HEADLINE = (
    "top1_per_instance", "top5_per_instance", "top1_per_class", "top5_per_class",
    "dcg", "mrr", "recall@1", "recall@5", "recall@10",
)
COUNTS = ("n_queries", "n_dictionary", "n_labels", "n_test", "n_train", "n_reference",
          "n_label_absent")


def _fmt(mean: float, half: float | None = None) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    if half is None or not np.isfinite(half):
        return f"{mean:.4f}"
    return f"{mean:.4f} ± {half:.4f}"


def retrieval_example_rows(
    runs: EvalRuns, n: int = 4, per_query: int = plots.EXAMPLE_HITS,
) -> tuple[list[tuple[str, str]], list[list[tuple[str, str, float]]]]:
    """``n`` queries (evenly spread over the test set) and their ``per_query`` nearest
    entries, for the plot."""
    res = runs.result
    if res.neighbors is None or res.reference_paths is None or res.reference_labels is None:
        return [], []
    picks = np.unique(np.linspace(0, len(res.labels) - 1, num=min(n, len(res.labels))).astype(int))
    sims = res.neighbor_scores
    queries, hits = [], []
    for q in picks.tolist():
        queries.append((str(res.paths[q]), str(res.labels[q])))
        row = []
        for j, idx in enumerate(res.neighbors[q, :per_query].tolist()):
            if idx >= 0:
                score = float(sims[q, j]) if sims is not None else float("nan")
                row.append((str(res.reference_paths[idx]), str(res.reference_labels[idx]), score))
        hits.append(row)
    return queries, hits


def write_report(
    out_dir: str | Path,
    runs: EvalRuns,
    features: Features | None = None,
    title: str = "evaluation",
    lookup: plots.PoseLookup | None = None,
    extra: dict[str, Any] | None = None,
    projection: str = "pca",
    plots_on: bool = True,
) -> dict[str, Path]:
    """Write ``metrics.json``, ``report.md`` and the figures; returns name -> path.

    Args:
        runs: the protocol's runs (:func:`~signssl.eval.runner.evaluate_features` or
            :func:`~signssl.eval.runner.evaluate_finetune`).
        features: frozen embeddings of the evaluated samples, for the embedding map and
            the intra-class inertia (skipped when ``None``).
        lookup: ``path -> (xyz, conf, bones)`` for the retrieval-example thumbnails.
        extra: more JSON fields for ``metrics.json`` (and listed in ``report.md``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    metrics = runs.metrics_json()
    inertia_per_class: dict[str, float] = {}
    if features is not None:
        feats = features.labeled()
        if len(feats):
            overall, per = intra_class_inertia(feats.features, feats.labels)
            metrics["intra_class_inertia"] = overall
            inertia_per_class = {str(k): v for k, v in per.items()}
    metrics.update(extra or {})
    figures: list[tuple[str, str]] = []
    if plots_on:
        figures = _figures(out, runs, features, lookup, inertia_per_class, metrics, projection, written)
    save_json(out / "metrics.json", metrics)
    written["metrics.json"] = out / "metrics.json"
    atomic_write_text(out / "report.md", render_markdown(title, runs, metrics, figures, extra or {}))
    written["report.md"] = out / "report.md"
    return written


def _figures(out: Path, runs: EvalRuns, features: Features | None, lookup: plots.PoseLookup | None,
             inertia: dict[str, float], metrics: dict[str, Any], projection: str,
             written: dict[str, Path]) -> list[tuple[str, str]]:
    res = runs.result
    figs: list[tuple[str, str]] = []

    def add(name: str, caption: str, path: Path) -> None:
        written[name] = path
        figs.append((name, caption))

    if features is not None and len(features.labeled()) >= 3:
        f = features.labeled()
        add("embedding_map.png", f"2-D map ({projection.upper()}) of the frozen embeddings",
            plots.plot_embedding_map(f.features, f.labels, out / "embedding_map.png", projection))
    per_class = res.per_class_accuracy(1)
    add("per_class_accuracy.png", "top-1 per-instance accuracy within each test class (first seed)",
        plots.plot_class_bars(per_class, out / "per_class_accuracy.png", "top-1 accuracy",
                              f"{runs.protocol}: per-class accuracy", res.metrics.get("top1_per_class")))
    if len(res.classes) <= 100:
        cm, classes = res.confusion()
        add("confusion.png", "confusion matrix of the top-1 predictions (first seed)",
            plots.plot_confusion(cm, classes, out / "confusion.png"))
    if inertia:
        add("inertia.png", "intra-class inertia per class (L2-normalised embeddings)",
            plots.plot_class_bars(inertia, out / "inertia.png", "mean squared distance to centroid",
                                  "intra-class inertia", metrics.get("intra_class_inertia")))
    if lookup is not None and res.neighbors is not None:
        queries, hits = retrieval_example_rows(runs)
        if queries:
            shown = max(len(h) for h in hits)
            add("retrieval_examples.png",
                f"queries (left) and their {shown} nearest entries of {res.neighbors.shape[1]} "
                "(title green: same label as the query; score: "
                f"{runs.config.get('neighbor_score', 'cosine similarity')})",
                plots.plot_retrieval_examples(queries, hits, lookup, out / "retrieval_examples.png"))
    return figs


def render_markdown(title: str, runs: EvalRuns, metrics: dict[str, Any],
                    figures: Sequence[tuple[str, str]], extra: dict[str, Any]) -> str:
    """The text of ``report.md``."""
    s = runs.summary
    lines = [f"# {title}", "", f"Protocol: **{runs.protocol}**; seeds: {runs.seeds}; "
             f"split: {runs.config.get('split', '?')}"]
    if runs.config.get("label_fraction") is not None:
        lines.append(f"; label fraction {runs.config['label_fraction']}")
    lines += ["", "| metric | mean ± 95 % CI |", "| --- | --- |"]
    for name in HEADLINE:
        if name in s:
            lines.append(f"| {name} | {_fmt(s[name]['mean'], s[name]['ci95'])} |")
    if "intra_class_inertia" in metrics:
        lines.append(f"| intra_class_inertia | {_fmt(metrics['intra_class_inertia'])} |")
    for name in COUNTS:
        if name in s:
            lines.append(f"| {name} | {s[name]['mean']:g} |")
    lines += [
        "",
        "Definitions: *per-instance* top-k = share of test samples whose label is among the "
        "k best; *per-class* top-k = mean over the classes present in the test set of their "
        "per-instance top-k; with r the 1-based rank of the true label among the ranked "
        "labels, DCG = 1/log2(r+1), MRR = 1/r, Recall@k = 1[r <= k], averaged per query. "
        "Ties rank the true label last. CI: two-sided t-distribution over seeds.",
    ]
    if runs.result.per_signer:
        lines += ["", "## Per signer (first seed)", "", "| signer | n | top1_per_instance | "
                  "top1_per_class |", "| --- | --- | --- | --- |"]
        for sig, m in runs.result.per_signer.items():
            lines.append(f"| {sig} | {m['n_test']} | {_fmt(m['top1_per_instance'])} | "
                         f"{_fmt(m['top1_per_class'])} |")
    warnings = list(extra.get("warnings") or [])
    if warnings:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in warnings)]
    extra = {k: v for k, v in extra.items() if k != "warnings"}
    settings = {k: v for k, v in runs.config.items() if k not in ("split", "label_fraction")}
    if settings or extra:
        lines += ["", "## Settings", ""]
        for k, v in {**settings, **extra}.items():
            lines.append(f"- {k}: `{v}`")
    if figures:
        lines += ["", "## Figures", ""]
        for name, caption in figures:
            lines += [f"![{caption}]({name})", "", f"*{caption}*", ""]
    return "\n".join(lines).rstrip() + "\n"
