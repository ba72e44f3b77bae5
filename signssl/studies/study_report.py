"""A study's records and what is written from them (``signssl study``).

Every (variant, seed) leaves ``OUT/results/<variant>__s<seed>.json``
(:func:`result_path`); :func:`summarize_study` gives the mean and the 95 % t-interval over
seeds of every metric per variant (``study.json``), :func:`write_study_report` the table
with the pretraining warnings (``study.md``), the metric bars (``metrics.png``) and the
collapse monitor of every pretrained variant, one line per seed (``collapse.png``), and
:func:`format_table` the table for the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from signssl.data import Manifest
from signssl.errors import SignSSLError
from signssl.eval.metrics import summarize_runs, wilson_interval
from signssl.eval.plots import plot_metric_bars
from signssl.studies.study_spec import StudySpec, Variant
from signssl.utils import atomic_path, atomic_write_text, json_float

#: columns of the summary table: (metric key, header)
TABLE_METRICS = (
    ("retrieval/top1_per_instance", "retrieval top-1"),
    ("retrieval/mrr", "retrieval MRR"),
    ("linear/top1_per_instance", "linear top-1"),
)


def result_path(out: Path, variant: Variant, seed: int) -> Path:
    return out / "results" / f"{variant.slug}__s{seed}.json"


def study_warnings(spec: StudySpec, out: Path) -> list[str]:
    """``"<variant>: <warning>"`` for every distinct warning of the variants' pretraining
    runs (seeds with the same warning give one line)."""
    found: dict[str, None] = {}
    for variant, records in load_records(spec, out).items():
        for record in records:
            for message in record.get("warnings", []):
                found.setdefault(f"{variant}: {message}")
    return list(found)



def load_records(spec: StudySpec, out: Path) -> dict[str, list[dict[str, Any]]]:
    """Finished records per variant name, in seed order."""
    records: dict[str, list[dict[str, Any]]] = {}
    for v in spec.variants:
        recs = []
        for s in spec.seeds:
            p = result_path(out, v, s)
            if p.is_file():
                recs.append(_read_record(p))
        records[v.name] = recs
    return records


def _read_record(path: Path) -> dict[str, Any]:
    """One run's record; the curves' ``null`` values (non-finite when written) come back
    as ``nan``."""
    rec = json.loads(path.read_text(encoding="utf-8"))
    for key in ("collapse", "feature_collapse", "loss"):
        if rec.get(key):
            rec[key] = [[step, json_float(value)] for step, value in rec[key]]
    return rec


def summarize_study(spec: StudySpec, out: Path) -> dict[str, Any]:
    """Mean ± 95 % CI over seeds of every metric, per variant."""
    rows = []
    for v in spec.variants:
        recs = load_records(spec, out)[v.name]
        final_collapse = [r["collapse"][-1][1] for r in recs if r.get("collapse")]
        final_features = [r["feature_collapse"][-1][1] for r in recs if r.get("feature_collapse")]
        rows.append({
            "variant": v.name,
            "kind": "baseline" if v.baseline else "pretrained",
            "seeds": [r["seed"] for r in recs],
            "metrics": summarize_runs([r["metrics"] for r in recs]),
            "final_collapse_ratio": final_collapse,
            "final_feature_collapse_ratio": final_features,
            "pretrain_seconds": [r.get("pretrain_seconds", 0.0) for r in recs],
        })
    return {"rows": rows, "seeds": spec.seeds, "size": spec.size, "data": spec.data,
            "epochs": spec.epochs, "config": spec.config}


def _fmt(stat: dict[str, Any] | None) -> str:
    if not stat:
        return "-"
    half = stat["ci95"]
    return f"{stat['mean']:.3f} ± {half:.3f}" if half == half else f"{stat['mean']:.3f}"


UNSEEN_SIGNERS = "from signers unseen in training"


def _query_signers(spec: StudySpec) -> str:
    """Whether the queries' signers are unseen in training (:data:`UNSEEN_SIGNERS`): a real
    manifest without signer ids gets a random split per seed, not signer-independent."""
    if spec.data is None:
        return UNSEEN_SIGNERS

    try:
        rows = Manifest.read(spec.data).rows
    except SignSSLError:
        return "(the manifest could not be read again to check its signer ids)"
    if any(row.signer for row in rows):
        return UNSEEN_SIGNERS
    return ("of a random split per seed: the manifest has no signer ids, so the split is NOT "
            "signer-independent")


def write_study_report(spec: StudySpec, out: Path, summary: dict[str, Any]) -> Path:
    """``study.md``: the table (mean ± 95 % CI over seeds) and the collapse figure."""
    columns = table_columns(spec)
    heads = " | ".join(h for _, h in columns)
    per_seed = (
        "a new vocabulary, signers and signer-independent split per seed"
        if spec.data_seed is None
        else f"one data set (data seed {spec.data_seed}) for every training seed"
    )
    data = spec.data or (
        f"synthetic: {spec.size.get('classes')} signs x {spec.size.get('signers')} signers x "
        f"{spec.size.get('reps')} repetitions, {per_seed}"
    )
    if spec.data is None and "minimal_pair_rate" in spec.size:
        data += f", minimal-pair rate {spec.size['minimal_pair_rate']}"
    queries, who = _queries(summary), _query_signers(spec)
    if queries:
        data += f"; {queries} test clips (queries) {who}"
    lines = [
        "# Study",
        "",
        f"Data: {data}. Pretraining: `{spec.config}` profile, {spec.epochs} epochs, no labels. "
        f"Seeds: {spec.seeds}. Cells: mean ± half-width of the 95 % t-interval over seeds.",
        "",
        f"| variant | kind | {heads} | collapse std·√D (end): head | encoder | pretrain s |",
        "|---|---|" + "---|" * len(columns) + "---|---|---|",
    ]
    for row in summary["rows"]:
        cells = " | ".join(_fmt(row["metrics"].get(k)) for k, _ in columns)
        head = _seed_values(row["final_collapse_ratio"])
        enc = _seed_values(row.get("final_feature_collapse_ratio", []))
        secs = [s for s in row["pretrain_seconds"] if s]
        secs_txt = f"{sum(secs) / len(secs):.0f}" if secs else "-"
        lines.append(f"| {row['variant']} | {row['kind']} | {cells} | {head} | {enc} | {secs_txt} |")
    bars, note = plot_metric_summary([row["variant"] for row in summary["rows"]],
                                     [row["metrics"] for row in summary["rows"]],
                                     len(spec.seeds), out / "metrics.png",
                                     independent=who == UNSEEN_SIGNERS)
    lines += ["", f"![metrics]({bars.name})", "", f"*{note}.*"]
    if summary.get("warnings"):
        lines += ["", "Warnings:", "", *(f"- {message}" for message in summary["warnings"])]
    fig = plot_collapse(spec, out)
    if fig is not None:
        lines += ["", f"![collapse monitor]({fig.name})"]
    path = out / "study.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


#: top-1 metric -> the number of test clips it is a proportion of
TOP1_TRIALS = {"retrieval/top1_per_instance": "retrieval/n_queries",
               "linear/top1_per_instance": "linear/n_test"}


def plot_metric_summary(names: Sequence[str], metrics: Sequence[dict[str, Any]], seeds: int,
                        path: Path, independent: bool = True) -> tuple[Path, str]:
    """Bars of the :data:`TABLE_METRICS` per encoder (``metrics``: one
    :func:`~signssl.eval.metrics.summarize_runs` result each) with error bars; returns the
    figure and the sentence saying what the error bars are (its x-axis label).
    ``independent``: the test clips are by signers unseen in training (the axis says so)."""
    values = {label: [json_float((m.get(key) or {}).get("mean")) for m in metrics]
              for key, label in TABLE_METRICS}
    intervals, note = metric_intervals(metrics, seeds)
    axis = "score (signer-independent test)" if independent else "score (test clips)"
    return plot_metric_bars(names, values, path, axis, intervals, note), note


def metric_intervals(metrics: Sequence[dict[str, Any]], seeds: int
                     ) -> tuple[dict[str, list[tuple[float, float] | None]], str]:  # fmt: skip
    """Error bars of :func:`plot_metric_summary`, by bar label: with several seeds the 95 %
    t-interval over seeds of every metric; with one, the 95 % Wilson interval of each top-1
    over the test clips (none for MRR).  Also the sentence saying which."""
    intervals: dict[str, list[tuple[float, float] | None]] = {}
    if seeds > 1:
        for key, label in TABLE_METRICS:
            stats = [m.get(key) or {} for m in metrics]
            intervals[label] = [(json_float(s.get("mean")) - json_float(s.get("ci95")),
                                 json_float(s.get("mean")) + json_float(s.get("ci95"))) for s in stats]
        return intervals, f"Error bars: 95 % t-interval over {seeds} seeds"
    clips: set[int] = set()
    for key, label in TABLE_METRICS:
        if key not in TOP1_TRIALS:
            continue
        spans: list[tuple[float, float] | None] = []
        for m in metrics:
            top1, n = (m.get(key) or {}).get("mean"), (m.get(TOP1_TRIALS[key]) or {}).get("mean")
            spans.append(None if top1 is None or n is None else wilson_interval(top1, int(n)))
            clips |= set() if n is None else {int(n)}
        intervals[label] = spans
    counted = " or ".join(str(c) for c in sorted(clips)) or "the"
    return intervals, (f"Error bars: 95 % Wilson interval of top-1 over the {counted} test "
                       "clips (one seed; none for MRR)")


def _seed_values(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values) if values else "-"


def _queries(summary: dict[str, Any]) -> int | None:
    """The number of retrieval queries of the study (``None`` if not recorded)."""
    for row in summary["rows"]:
        stat = row["metrics"].get("retrieval/n_queries")
        if stat is not None:
            return int(stat["mean"])
    return None


def plot_collapse(spec: StudySpec, out: Path) -> Path | None:
    """Collapse monitor (std of the L2-normalised embedding x sqrt(D)) against the step: the
    head output the loss sees (left) and, where logged, the encoder output (right)."""
    records = load_records(spec, out)
    panels = {}
    for key, title in (("collapse", "head output"), ("feature_collapse", "encoder output")):
        curves = {n: [r[key] for r in rs if r.get(key)] for n, rs in records.items()}
        curves = {n: c for n, c in curves.items() if c}
        if curves:
            panels[title] = curves
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = [v.name for v in spec.variants]  # one colour per variant in both panels
    for ax, (title, curves) in zip(axes[0], panels.items(), strict=True):
        for name, runs in curves.items():
            color = colors[names.index(name) % len(colors)]
            for j, run in enumerate(runs):
                steps, values = zip(*run, strict=True)
                ax.plot(steps, values, color=color, lw=1, alpha=0.8, label=name if j == 0 else None)
        ax.axhline(1.0, color="k", ls="--", lw=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("std x sqrt(D)")
        ax.set_ylim(bottom=0)
        ax.set_title(f"collapse monitor, {title} (1 healthy, 0 collapsed), one line per seed",
                     fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "collapse.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def table_columns(spec: StudySpec) -> tuple[tuple[str, str], ...]:
    """The table's metric columns: the standard ones, then each probed column and the
    majority-class rate of its test clips (what a probe gets from no information)."""
    extra = []
    if spec.finetune is not None:
        extra.append(("finetune/top1_per_instance", "fine-tune top-1"))
    for c in spec.probe:
        extra += [(f"probe/{c}/top1", f"{c} probe top-1"), (f"probe/{c}/majority", f"{c} majority")]
    return (*TABLE_METRICS, *extra)


def format_table(summary: dict[str, Any], keys: Sequence[tuple[str, str]] = TABLE_METRICS) -> str:
    """Plain-text table for the terminal."""
    width = max(len(r["variant"]) for r in summary["rows"]) + 2
    head = "variant".ljust(width) + "".join(h.rjust(20) for _, h in keys)
    lines = [head]
    for row in summary["rows"]:
        lines.append(row["variant"].ljust(width) + "".join(
            _fmt(row["metrics"].get(k)).rjust(20) for k, _ in keys))
    return "\n".join(lines)
