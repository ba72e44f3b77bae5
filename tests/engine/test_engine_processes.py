"""Separate processes: a run killed with SIGKILL and resumed, and 2-process DDP on CPU.

Both start Python processes that import torch and Lightning (several seconds each on
two shared cores), so they are marked ``slow``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from signssl.store.model import weights_of

SCRIPT = Path(__file__).with_name("engine_run_script.py")


def _run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _kill_after_step(args: list[str], step: int, log: Path, timeout: float = 300) -> int:
    """Start the script, SIGKILL it once it has printed ``STEP <step>``; returns the last step seen."""
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=out,
                                stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            steps = [int(line.split()[1]) for line in log.read_text().splitlines()
                     if line.startswith("STEP ")]
            if steps and steps[-1] >= step:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return steps[-1]
            if proc.poll() is not None:
                pytest.fail(f"run ended before step {step}:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        pytest.fail("timed out waiting for the run")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return -1


@pytest.mark.slow
def test_sigkill_then_resume_reaches_the_uninterrupted_weights(tmp_path: Path) -> None:
    """18 steps (3 epochs of 6); killed with SIGKILL after step 8 (mid-epoch, checkpoint
    every step), resumed with ``resume=True``: bit-identical final weights."""
    _run([str(tmp_path / "full")])
    last = _kill_after_step([str(tmp_path / "cut"), "--sleep", "0.3"], 8, tmp_path / "cut.log")
    assert last < 18
    assert not (tmp_path / "cut" / "model").exists()
    assert (tmp_path / "cut" / "checkpoints" / "last.ckpt").is_file()
    proc = _run([str(tmp_path / "cut"), "--resume"])
    resumed = [int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("STEP ")]
    assert resumed[0] > 8 and resumed[-1] == 18  # continued, did not start over
    a, b = weights_of(tmp_path / "full"), weights_of(tmp_path / "cut")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.ddp
@pytest.mark.slow
def test_ddp_two_cpu_processes_match_one_process(tmp_path: Path) -> None:
    """NT-Xent with negatives gathered across ranks: 2 gloo processes with local batch 4
    give the single-process loss, gradients and weights of global batch 8."""
    common = ["--loss", "nt_xent", "--noise", "0", "--dropout", "0", "--epochs", "1",
              "--items", "32", "--batch", "8"]
    _run([str(tmp_path / "one"), *common, "--grads", str(tmp_path / "one.pt")])
    _run([str(tmp_path / "two"), *common, "--devices", "2", "--grads", str(tmp_path / "two.pt")])
    one = torch.load(tmp_path / "one.pt", weights_only=True)
    two = torch.load(tmp_path / "two.pt", weights_only=True)
    assert len(one["losses"]) == len(two["losses"]) == 4
    assert two["losses"] == pytest.approx(one["losses"], rel=1e-5, abs=1e-6)
    assert one["grads"].keys() == two["grads"].keys() and len(one["grads"]) > 0
    for name, g in one["grads"].items():
        torch.testing.assert_close(two["grads"][name], g, rtol=1e-4, atol=1e-6, msg=name)
    a, b = weights_of(tmp_path / "one"), weights_of(tmp_path / "two")
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-5, msg=name)
