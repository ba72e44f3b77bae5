"""Pool workers end with the main process that started them (signssl.utils.die_with_parent)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from signssl.utils import process_alive

PARENT = textwrap.dedent("""
    import multiprocessing as mp, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from signssl.utils import die_with_parent

    def work(path):
        with open(path, "w") as fh:
            fh.write(str(os.getpid()))
        time.sleep(120)  # a long job, like a pretraining run

    if __name__ == "__main__":
        with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"),
                                 initializer=die_with_parent if sys.argv[2] == "1" else None,
                                 initargs=(os.getpid(),) if sys.argv[2] == "1" else ()) as pool:
            pool.submit(work, sys.argv[1])
            time.sleep(120)
""")


def _start(tmp_path: Path, watched: bool) -> tuple[subprocess.Popen, int]:
    script, pid_file = tmp_path / "parent.py", tmp_path / f"worker{int(watched)}.pid"
    script.write_text(PARENT)
    proc = subprocess.Popen([sys.executable, str(script), str(pid_file), str(int(watched))])
    deadline = time.monotonic() + 60
    while not (pid_file.is_file() and pid_file.read_text()):
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.1)
    return proc, int(pid_file.read_text())


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while process_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process checks via /proc")
def test_a_killed_main_process_takes_its_pool_workers_with_it(tmp_path: Path) -> None:
    proc, worker = _start(tmp_path, watched=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _gone_within(worker, 5.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process checks via /proc")
def test_without_the_watch_a_worker_outlives_its_main_process(tmp_path: Path) -> None:
    """The reference: what the initializer prevents (an orphan still running)."""
    proc, worker = _start(tmp_path, watched=False)
    try:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert not _gone_within(worker, 1.0)
    finally:
        if process_alive(worker):
            os.kill(worker, signal.SIGKILL)
