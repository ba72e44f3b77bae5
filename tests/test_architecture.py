"""No import circles and no import up a layer in ``signssl/`` (docs/architecture.md), read
by benchmarks/arch_report.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_file_or_package_circles() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "arch_report.py")],
        capture_output=True, text=True, check=True,
    ).stdout
    counts = dict(line.rsplit(": ", 1) for line in out.splitlines()
                  if "circles" in line or "up a layer" in line)
    assert counts == {
        "file circles (top-level + function-local imports)": "0",
        "file circles (top-level imports only)": "0",
        "package circles": "0",
        "imports that run up a layer (top-level + function-local)": "0",
    }, out


def test_every_import_inside_a_function_says_why() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "arch_report.py"), "--list"],
        capture_output=True, text=True, check=True,
    ).stdout
    sites = [line.split(": ", 1)[1] for line in out.splitlines() if "local import:" in line]
    assert sites
    for site in sites:
        path, line = site.rsplit(":", 1)
        lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
        start = int(line) - 1
        context = "\n".join(lines[max(0, start - 3) : start + 1])
        assert "lazy" in context, f"{site}: {lines[start].strip()}"
