"""Non-finite values written as JSON ``null`` are read back as ``nan`` by the study, the
demo and the boundary search (no ``NaN`` token in any file they write)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from signssl.studies.boundary_search import BoundaryPoint, SeedRun
from signssl.studies.demo import DemoRow, DemoSize, load_demo_results, write_demo_report
from signssl.studies.study_report import result_path, summarize_study, write_study_report
from signssl.studies.study_spec import spec_from_dict
from signssl.utils import save_json

NAN = float("nan")


def _strict(path: Path) -> object:
    def reject(token: str) -> object:
        raise ValueError(f"{path.name} holds {token}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=reject)


def test_study_reads_back_null_metrics_and_curves(tmp_path: Path) -> None:
    spec = spec_from_dict({"variants": [{"name": "a", "method": "sl_fpn"}], "seeds": [0, 1]})
    variant = spec.variants[0]
    for seed, top1 in ((0, 0.5), (1, NAN)):
        save_json(result_path(tmp_path, variant, seed), {
            "variant": "a", "seed": seed, "kind": "pretrained", "pretrain_seconds": 1.0,
            "metrics": {"retrieval/top1_per_instance": top1, "retrieval/mrr": NAN},
            "collapse": [[1, 0.9], [2, NAN]], "feature_collapse": [[1, NAN]], "loss": [[1, NAN]],
        })
        assert _strict(result_path(tmp_path, variant, seed))
    summary = summarize_study(spec, tmp_path)
    save_json(tmp_path / "study.json", summary)
    row = _strict(tmp_path / "study.json")["rows"][0]  # type: ignore[index]
    assert row["metrics"]["retrieval/top1_per_instance"]["values"] == [0.5, None]
    assert row["metrics"]["retrieval/top1_per_instance"]["mean"] == 0.5  # finite seeds only
    assert row["metrics"]["retrieval/mrr"]["mean"] is None
    assert row["final_collapse_ratio"] == [None, None]
    text = write_study_report(spec, tmp_path, summary).read_text()
    assert "| a | pretrained | 0.500 |" in text


def test_demo_results_and_boundary_points_read_back_null(tmp_path: Path) -> None:
    row = DemoRow("x", "baseline", {"retrieval/top1_per_instance": 0.25, "linear/top1_per_instance": NAN})
    write_demo_report(tmp_path, [row], [], DemoSize(2, 2, 1, 8, 1), 4, 2, 1.0)
    assert _strict(tmp_path / "results.json")
    metrics = load_demo_results(tmp_path)["rows"][0]["metrics"]
    assert metrics["retrieval/top1_per_instance"] == 0.25
    assert math.isnan(metrics["linear/top1_per_instance"])
    save_json(tmp_path / "point.json", SeedRun(4, NAN, "run", {"linear/top1": NAN}).__dict__)
    run = SeedRun.from_json(_strict(tmp_path / "point.json"))  # type: ignore[arg-type]
    assert run.seed == 4 and math.isnan(run.accuracy) and math.isnan(run.metrics["linear/top1"])
    save_json(tmp_path / "candidate.json", BoundaryPoint.from_runs(4, [run]).to_dict())
    assert _strict(tmp_path / "candidate.json")["ci95"] is None  # type: ignore[index]
