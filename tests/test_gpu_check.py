"""benchmarks/gpu_check.py: the smoke mode on CPU runs every section; the real check on a GPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"
SECTIONS = ("env", "hiera_b", "signrep_tiny", "signrep_paper", "ddp", "dataloader")


def run_check(tmp_path: Path, args: list[str], timeout: float) -> dict[str, Any]:
    out = tmp_path / "gpu_check.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    assert out.exists(), done.stdout[-2000:] + done.stderr[-4000:]
    report = json.loads(out.read_text())
    assert tuple(report["sections"]) == SECTIONS
    return report


def numbers(section: dict[str, Any]) -> list[float]:
    return [v for v in section.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]


def test_smoke_on_cpu_reports_every_section(tmp_path: Path) -> None:
    """Every section gives numbers or an explicit error string; on a CPU none fails."""
    report = run_check(tmp_path, ["--device", "cpu", "--smoke"], timeout=120)
    for name, section in report["sections"].items():
        assert numbers(section) or isinstance(section.get("error"), str), (name, section)
    failed = {k: v["error"] for k, v in report["sections"].items() if "error" in v}
    assert not failed
    hiera = report["sections"]["hiera_b"]
    assert hiera["bf16_step_ms"] > 0 and hiera["fp32_step_ms"] > 0
    assert hiera["hidden_units"] == round(0.9 * hiera["units"])
    for name in ("signrep_tiny", "signrep_paper"):
        s = report["sections"][name]
        assert s["finite"] and s["steps"] >= 4 and s["step_ms"] > 0
    assert report["sections"]["ddp"]["all_reduce_ok"] and report["sections"]["ddp"]["world_size"] == 1
    assert report["sections"]["dataloader"]["crops_per_s"] > 0


def test_a_used_up_budget_skips_the_sections(tmp_path: Path) -> None:
    """Sections that would start after the budget is used up are recorded as skipped."""
    report = run_check(tmp_path, ["--device", "cpu", "--smoke", "--budget-s", "0"], timeout=60)
    for name, section in report["sections"].items():
        assert "time budget" in section["skipped"], (name, section)


@pytest.mark.gpu
def test_real_check_on_one_gpu(tmp_path: Path) -> None:
    """The full check on one CUDA GPU within 8 minutes: no section fails, losses fall."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    report = run_check(tmp_path, [], timeout=480)
    failed = {k: v.get("error") for k, v in report["sections"].items() if "error" in v or "skipped" in v}
    assert not failed, failed
    for name in ("signrep_tiny", "signrep_paper"):
        assert report["sections"][name]["loss_falling"], report["sections"][name]
    assert report["sections"]["hiera_b"]["bf16_peak_mem_gib"] > 0
