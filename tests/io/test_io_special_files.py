"""Named pipes and other non-regular paths: refused at once by every reader, counted as
failed by folder jobs; never read (a named pipe blocks a plain ``open`` forever).

Every read runs in a thread with a deadline, so a regression fails instead of hanging.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from io_helpers import random_sequence, run

from signssl.errors import DataError, LayoutError, SignSSLError
from signssl.io import read_pose, write_pose
from signssl.io.bulk import convert_tree
from signssl.pose.layouts import get_layout
from signssl.utils import read_json_file, read_yaml_file

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")

DEADLINE_S = 20.0


def within_deadline(fn: Callable[[], Any]) -> BaseException | None:
    """Run ``fn`` in a thread; the exception it raised (``None`` if none), or fail the test
    when it is still running after :data:`DEADLINE_S` (it blocked on a pipe)."""
    out: list[BaseException | None] = []

    def target() -> None:
        try:
            fn()
            out.append(None)
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out.append(e)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(DEADLINE_S)
    assert not worker.is_alive(), "the reader blocked on a named pipe"
    return out[0]


@pytest.fixture()
def make_fifo() -> Iterator[Callable[[Path], Path]]:
    """``make_fifo(path)`` creates a named pipe; afterwards any reader a regression left
    blocked on one is released (a writer opens and closes it)."""
    made: list[Path] = []

    def make(path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        made.append(path)
        return path

    yield make
    for path in made:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass  # no reader waiting: nothing to release


@pytest.mark.parametrize("name", ["x.npy", "x.npz", "x.pose", "x.parquet", "x_0_keypoints.json"])
def test_a_named_pipe_is_refused_by_every_pose_reader(tmp_path: Path, make_fifo, name: str) -> None:
    fifo = make_fifo(tmp_path / name)
    err = within_deadline(lambda: read_pose(fifo))
    assert isinstance(err, DataError), err
    assert err.path == str(fifo) and "named pipe (FIFO), not a regular file" in str(err)


def test_a_named_pipe_inside_a_frame_folder_is_refused(tmp_path: Path, make_fifo) -> None:
    """An MP_Data sequence folder and an OpenPose folder with one frame file a pipe."""
    mp = tmp_path / "mp"
    mp.mkdir()
    for i in range(2):
        np.save(mp / f"{i}.npy", np.zeros(get_layout("holistic").flat_size, np.float32))
    make_fifo(mp / "2.npy")
    op = tmp_path / "op"
    op.mkdir()
    (op / "c_0_keypoints.json").write_text('{"people": []}')
    make_fifo(op / "c_1_keypoints.json")
    for folder, pipe in ((mp, mp / "2.npy"), (op, op / "c_1_keypoints.json")):
        err = within_deadline(lambda f=folder: read_pose(f))
        assert isinstance(err, DataError) and err.path == str(pipe), err


def test_convert_folder_counts_a_named_pipe_as_failed(tmp_path: Path, make_fifo) -> None:
    src = tmp_path / "in"
    write_pose(random_sequence("holistic"), src / "a.pose")
    make_fifo(src / "sub" / "b.npy")
    reports: list[Any] = []
    err = within_deadline(lambda: reports.append(convert_tree(src, tmp_path / "out", progress=False)))
    assert err is None, err
    rep = reports[0]
    assert (rep.converted, rep.failed) == (1, 1)
    assert "named pipe" in rep.errors[str(src / "sub" / "b.npy")]


def test_json_and_yaml_inputs_refuse_a_named_pipe(tmp_path: Path, make_fifo) -> None:
    """The shared text readers (configs, layouts, model configs, JSON frames)."""
    for name, read, error in (("c.json", read_json_file, DataError),
                              ("l.yaml", lambda p: read_yaml_file(p, LayoutError), LayoutError),
                              ("layout.yaml", get_layout, LayoutError)):  # fmt: skip
        fifo = make_fifo(tmp_path / name)
        err = within_deadline(lambda f=fifo, r=read: r(f))
        assert isinstance(err, error) and str(fifo) in str(err), (name, err)
    err = within_deadline(lambda: read_json_file("/dev/zero"))  # a device would never end
    assert isinstance(err, SignSSLError) and "character device" in str(err)


def test_info_on_a_named_pipe_is_a_one_line_error(tmp_path: Path, make_fifo, capsys) -> None:
    fifo = make_fifo(tmp_path / "x.npy")
    result: list[tuple[int, str, str]] = []
    err = within_deadline(lambda: result.append(run(capsys, "info", str(fifo))))
    assert err is None, err
    code, _, stderr = result[0]
    assert code == 2 and stderr.count("\n") == 1
    assert str(fifo) in stderr and "named pipe" in stderr
