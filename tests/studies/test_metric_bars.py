"""The metric bars of the demo (one seed: Wilson intervals of top-1 over the test clips)
and of the study (several seeds: t-intervals), and the demo's embedding-map title."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer
from scipy import stats

from signssl.eval.features import Features
from signssl.studies.demo import DemoRow, _figures, embedding_title
from signssl.studies.study_report import result_path, summarize_study, write_study_report
from signssl.studies.study_spec import spec_from_dict
from signssl.utils import save_json


def _error_bars(fig: Any) -> dict[str, list[tuple[float, float]]]:
    """Bar label -> the ``(low, high)`` of each drawn error bar."""
    out: dict[str, list[tuple[float, float]]] = {}
    for err in fig.axes[0].containers:
        if isinstance(err, ErrorbarContainer):
            segments = err.lines[2][0].get_segments()  # one vertical segment per bar
            label = err.get_label().removeprefix("_").removesuffix(" interval")
            out[label] = [(float(s[0, 1]), float(s[1, 1])) for s in segments]
    return out


def _demo_rows(n: int) -> list[DemoRow]:
    def metrics(top1: float, lin: float) -> dict[str, float]:
        return {"retrieval/top1_per_instance": top1, "retrieval/mrr": top1 + 0.1,
                "linear/top1_per_instance": lin, "retrieval/n_queries": float(n),
                "linear/n_test": float(n)}

    return [DemoRow("sl_fpn", "pretrained", metrics(18 / n, 24 / n)),
            DemoRow("random init", "baseline", metrics(6 / n, 10 / n))]


def test_demo_bars_carry_the_wilson_interval_of_top1_and_the_map_counts_signers(
        tmp_path: Path, saved_figures: dict[str, Any]) -> None:
    n = 40
    rows = _demo_rows(n)
    feats = Features(np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32),
                     np.array(["a", "a", "b", "b", "c", "c"]), [f"p{i}" for i in range(6)],
                     ["s1", "s2", "s1", "s2", "s1", "s2"])
    _figures(tmp_path, rows, {"sl_fpn": (feats, feats)}, tmp_path / "runs")
    bars = saved_figures["metrics.png"]
    drawn = _error_bars(bars)
    assert set(drawn) == {"retrieval top-1", "linear top-1"}  # no interval for MRR
    for label, key in (("retrieval top-1", "retrieval/top1_per_instance"),
                       ("linear top-1", "linear/top1_per_instance")):
        for row, (low, high) in zip(rows, drawn[label], strict=True):
            hits = round(row.metrics[key] * n)
            ref = stats.binomtest(hits, n).proportion_ci(0.95, method="wilson")
            assert (low, high) == pytest.approx((ref.low, ref.high), abs=1e-9)
    assert "Wilson" in bars.axes[0].get_xlabel() and f"{n} test clips" in bars.axes[0].get_xlabel()
    assert saved_figures["embedding_sl_fpn.png"].axes[0].get_title() == (
        "SL-FPN embeddings of the 2 test signers (PCA)")
    assert embedding_title("SL-FPN", ["s1", "s1"]) == "SL-FPN embeddings of the test signer (PCA)"


def test_study_bars_carry_the_t_interval_over_seeds(tmp_path: Path, saved_figures: dict[str, Any]) -> None:
    spec = spec_from_dict({"variants": [{"name": "a", "method": "sl_fpn"}], "seeds": [0, 1, 2]})
    values = {"retrieval/top1_per_instance": [0.2, 0.4, 0.45], "retrieval/mrr": [0.3, 0.5, 0.5],
              "linear/top1_per_instance": [0.5, 0.55, 0.7]}
    for seed in spec.seeds:
        save_json(result_path(tmp_path, spec.variants[0], seed), {
            "variant": "a", "seed": seed, "kind": "pretrained",
            "metrics": {k: v[seed] for k, v in values.items()},
        })
    text = write_study_report(spec, tmp_path, summarize_study(spec, tmp_path)).read_text()
    assert "![metrics](metrics.png)" in text and "t-interval over 3 seeds" in text
    drawn = _error_bars(saved_figures["metrics.png"])
    for key, label in (("retrieval/top1_per_instance", "retrieval top-1"),
                       ("retrieval/mrr", "retrieval MRR"), ("linear/top1_per_instance", "linear top-1")):
        v = np.asarray(values[key])
        half = stats.t.ppf(0.975, 2) * v.std(ddof=1) / np.sqrt(3)
        assert drawn[label] == [pytest.approx((v.mean() - half, v.mean() + half))]
