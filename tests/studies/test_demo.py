"""``run_demo`` on a very small synthetic vocabulary (the real sizes are timed by hand)."""

from __future__ import annotations

import json
from pathlib import Path

from signssl.studies.demo import DemoSize, run_demo


def test_demo_pretrains_evaluates_and_reports(tmp_path: Path) -> None:
    size = DemoSize(classes=3, signers=4, reps=3, frames=16, epochs=2, batch_size=8)
    messages: list[str] = []
    result = run_demo(tmp_path, size=size, progress=False, log=messages.append)
    names = [r.name for r in result.rows]
    assert names == ["sl_fpn", "raw keypoints", "random init"]
    for row in result.rows:
        for key in ("retrieval/top1_per_instance", "retrieval/mrr", "linear/top1_per_instance"):
            assert 0.0 <= row.metrics[key] <= 1.0, (row.name, key)
        # MRR is at least top-1 accuracy (rank 1 counts 1, other ranks add more)
        assert row.metrics["retrieval/mrr"] >= row.metrics["retrieval/top1_per_instance"]
    assert result.num_clips == 3 * 4 * 3 and result.num_classes == 3
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["name"] for r in saved["rows"]] == names
    report = result.report.read_text()
    assert "| sl_fpn | pretrained |" in report and "| raw keypoints | baseline |" in report
    for fig in ("metrics.png", "training.png", "embedding_sl_fpn.png"):
        assert (tmp_path / "figures" / fig).stat().st_size > 1000
        assert f"figures/{fig}" in report
    assert (tmp_path / "runs" / "sl_fpn" / "model" / "model.safetensors").is_file()
    # a rerun reuses the finished pretraining
    stamp = (tmp_path / "runs" / "sl_fpn" / "model" / "model.safetensors").stat().st_mtime
    run_demo(tmp_path, size=size, progress=False)
    assert (tmp_path / "runs" / "sl_fpn" / "model" / "model.safetensors").stat().st_mtime == stamp
    assert any("pretraining sl_fpn" in m for m in messages)
