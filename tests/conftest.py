"""Shared fixtures: a fixed terminal for CLI output, locations of optional real data."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SIGNSSL_SHARED_DATA", REPO.parent / "shared" / "data"))

# The CLI prints through rich, which wraps and truncates text to the console width: COLUMNS
# when a module-level Console is created (at import), else the real terminal. Pin one wide,
# plain terminal here, before any test module imports ``signssl.cli``, so no test output
# depends on the terminal pytest runs in; subprocesses inherit it.
TEST_TERMINAL = {"COLUMNS": "200", "LINES": "50", "TERM": "dumb", "NO_COLOR": "1"}
TERMINAL_OVERRIDES = ("FORCE_COLOR", "TERMINAL_WIDTH", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
os.environ.update(TEST_TERMINAL)
for _name in TERMINAL_OVERRIDES:
    os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _fixed_terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Re-pin the terminal for every test (consoles built later, CliRunner, subprocesses)."""
    for name, value in TEST_TERMINAL.items():
        monkeypatch.setenv(name, value)
    for name in TERMINAL_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def prose() -> Callable[[str], str]:
    """Collapse whitespace (line wraps, table padding) so a sentence check ignores layout."""
    return lambda text: re.sub(r"\s+", " ", text)


def _stsigned_poses() -> list[str]:
    try:
        import spoken_to_signed  # type: ignore[import-not-found]
    except ImportError:
        return []
    root = Path(spoken_to_signed.__file__).parent / "assets" / "fingerspelling_lexicon"
    return sorted(glob.glob(str(root / "**" / "*.pose"), recursive=True))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real WLASL MediaPipe keypoints); skips when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_pose_files() -> list[str]:
    """The 600 real ``.pose`` files shipped by ``spoken-to-signed``; skips when absent."""
    files = _stsigned_poses()
    if not files:
        pytest.skip("spoken-to-signed is not installed (pip install --no-deps spoken-to-signed)")
    return files


@pytest.fixture
def saved_figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """The figures that ``signssl.eval.plots`` saves, by file name, kept open so a test can
    read what they draw (axes, titles, artists); nothing is written."""
    from signssl.eval import plots

    kept: dict[str, object] = {}

    def keep(fig: object, path: str | Path) -> Path:
        kept[Path(path).name] = fig
        return Path(path)

    monkeypatch.setattr(plots, "_save", keep)
    yield kept
    plots._plt().close("all")


_HOLD_LOCK = """
import sys, time
from signssl.utils import folder_lock
with folder_lock(sys.argv[1], "test job"):
    print("locked", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def lock_holder() -> Iterator[Callable[[Path], subprocess.Popen]]:
    """Start a process holding ``signssl.utils.folder_lock`` on a folder (killed after the
    test); returns once the lock is taken."""
    procs: list[subprocess.Popen] = []

    def hold(folder: Path) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(folder)],
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        return proc

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()
