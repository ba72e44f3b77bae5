"""The scripts in examples/ run as a user runs them and print what they promise."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_example(name: str, *args: str) -> dict:
    """Run ``examples/NAME`` in a fresh interpreter; the JSON object it prints."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name), *args],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    start = proc.stdout.index("{\n")  # the printed result (after any training log lines)
    result, _ = json.JSONDecoder().raw_decode(proc.stdout[start:])
    return result


def test_pretrain_evaluate(tmp_path):
    result = run_example("pretrain_evaluate.py", "--out", str(tmp_path), "--epochs", "1")
    assert result["method"] == "sl_fpn" and result["steps"] >= 1
    assert math.isfinite(result["final_loss"])
    for encoder in ("pretrained", "random_init"):
        metrics = result[encoder]
        assert set(metrics) == {"top1_per_instance", "top5_per_instance", "mrr", "dcg"}
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
        assert metrics["top1_per_instance"] <= metrics["top5_per_instance"]
    assert json.loads((tmp_path / "retrieval.json").read_text()) == result
    assert (tmp_path / "run" / "model" / "config.json").is_file()


def test_custom_layout(tmp_path):
    result = run_example("custom_layout.py", "--out", str(tmp_path))
    assert result["layout"] == "upper9-hands"
    assert result["values_per_frame"] == 9 * 3 + 2 * 21 * 3
    assert (result["frames"], result["joints"], result["masa49_joints"]) == (32, 51, 49)
    assert result["missing_by_part"]["body"] == 0.0
    assert result["wrist_equal_after_round_trip"] is True
    for name in ("upper9-hands.yaml", "clip.npy", "clip_masa49.pose"):
        assert (tmp_path / name).is_file()


def test_custom_recipe(tmp_path):
    result = run_example("custom_recipe.py", "--out", str(tmp_path), "--steps", "3")
    assert result["registered"] is True
    assert result["steps"] == 3
    assert math.isfinite(result["final_loss"]) and result["final_loss"] > 0
    assert result["encoder"] == "PoseTransformer" and result["embedding_dim"] > 0
    assert Path(result["model_dir"], "config.json").is_file()
