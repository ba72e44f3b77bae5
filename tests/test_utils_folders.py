"""``signssl.utils``: one writer per output folder, and the temporaries a killed job left."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import pytest

from signssl.errors import FolderInUseError
from signssl.utils import (
    LOCK_FILE,
    atomic_path,
    folder_lock,
    is_atomic_temporary,
    remove_stale_temporaries,
)


def test_a_second_process_is_refused_naming_the_folder_and_the_pid(tmp_path: Path,
                                                                   lock_holder) -> None:
    out = tmp_path / "run"
    holder = lock_holder(out)
    assert (out / LOCK_FILE).read_text().strip() == str(holder.pid)
    with pytest.raises(FolderInUseError) as e:
        with folder_lock(out, "pretraining run"):
            pytest.fail("the lock was granted twice")
    message = str(e.value)
    assert "\n" not in message
    assert str(out) in message and f"pid {holder.pid}" in message
    assert "another pretraining run" in message and "wait for it" in message
    assert (out / LOCK_FILE).read_text().strip() == str(holder.pid)  # left as it was


def test_the_lock_of_a_killed_job_is_taken_over_with_a_message(tmp_path: Path, lock_holder,
                                                              caplog) -> None:
    out = tmp_path / "run"
    holder = lock_holder(out)
    holder.kill()  # SIGKILL: no clean-up, the lock file stays
    holder.wait()
    assert (out / LOCK_FILE).is_file()
    with caplog.at_level(logging.WARNING, logger="signssl"):
        with folder_lock(out, "synth job"):
            assert (out / LOCK_FILE).read_text().strip() == str(os.getpid())
    assert re.search(rf"took over .*synth job.* no longer runs \(pid {holder.pid}\)", caplog.text)
    assert not (out / LOCK_FILE).exists()  # released


def test_a_file_naming_a_live_process_counts_as_held(tmp_path: Path) -> None:
    """A lock file written without ``flock`` (a job of another version) still excludes."""
    (tmp_path / LOCK_FILE).write_text(f"{os.getppid()}\n")
    with pytest.raises(FolderInUseError, match=f"pid {os.getppid()}"):
        with folder_lock(tmp_path):
            pass


def test_lock_is_reentrant_released_and_removes_a_folder_it_created_empty(tmp_path: Path) -> None:
    out = tmp_path / "new"
    with folder_lock(out) as lock, folder_lock(out):  # the same process, nested
        assert lock == out / LOCK_FILE and lock.is_file()
    assert not out.exists()  # nothing was written: the folder it made is gone
    with folder_lock(out):
        (out / "result.txt").write_text("x")
    assert sorted(p.name for p in out.iterdir()) == ["result.txt"]
    with folder_lock(out), folder_lock(out):
        pass  # taken again after the release


def test_only_the_temporaries_of_the_given_targets_are_removed(tmp_path: Path) -> None:
    sub = tmp_path / "poses" / "sign001"
    sub.mkdir(parents=True)
    # what atomic_path leaves when the job writing a.pose is killed
    fd, orphan = tempfile.mkstemp(prefix=".a.pose.", suffix=".tmp.pose", dir=sub)
    os.close(fd)
    with atomic_path(tmp_path / "kept.npz") as tmp:
        live = tmp.name  # the name pattern of a temporary in use
        tmp.write_bytes(b"x")
    keep = ["a.pose", ".hidden", "notes.tmp", ".a.pose.x1.tmp.npz", "a.pose.x1y2.tmp.pose",
            ".b.pose.x1y2.tmp.pose"]  # not a's temporaries, or of a file not in the targets
    for name in keep:
        (sub / name).write_text("user file")
    assert is_atomic_temporary(Path(orphan).name) and is_atomic_temporary(live)
    assert not any(is_atomic_temporary(n) for n in keep[:5])
    targets = [sub / "a.pose", tmp_path / "manifest.csv", tmp_path / "missing" / "x.npz"]
    assert remove_stale_temporaries(targets) == 1
    assert not Path(orphan).exists()
    assert sorted(p.name for p in sub.iterdir()) == sorted(keep)
    assert remove_stale_temporaries(targets) == 0
