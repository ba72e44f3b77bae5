"""Extracting one video, in the calling process or in a worker process.

Kept free of torch and the data package so that worker processes start fast.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from signssl.errors import ConfigError, DataError, MissingExtraError, SignSSLError
from signssl.extract.estimator import EstimatorFactory, PoseEstimator, check_output
from signssl.io import write_pose
from signssl.io.video import iter_frames
from signssl.io.video_probe import probe_video
from signssl.pose.sequence import PoseSequence
from signssl.utils import die_with_parent


@dataclass(frozen=True)
class ExtractTask:
    """One video to extract: ``video`` (absolute path) -> ``output`` (a ``.pose`` path)."""

    video: str
    output: str


@dataclass(frozen=True)
class TaskResult:
    """What became of a task: ``error`` is ``None`` on success; ``fatal`` when the
    estimator itself could not be built (every other task would fail the same way)."""

    task: ExtractTask
    frames: int = 0
    seconds: float = 0.0
    error: str | None = None
    fatal: bool = False


def extract_video(video: str | os.PathLike, estimator: PoseEstimator) -> PoseSequence:
    """Run ``estimator`` on every frame of ``video``.

    Returns:
        a :class:`PoseSequence` in the estimator's layout, one pose per video frame
        (frame ``i`` of the pose = frame ``i`` of the video), at the video's frame rate.
    Raises:
        DataError: unreadable, truncated or empty video.
    """
    src = os.fspath(video)
    fps = probe_video(src).fps
    estimator.reset()
    layout = estimator.layout
    xyz_frames, conf_frames = [], []
    for frame in iter_frames(src):
        xyz, conf = check_output(*estimator.process(frame), layout)
        xyz_frames.append(xyz)
        conf_frames.append(conf)
    if not xyz_frames:
        raise DataError("has no frames to extract poses from", src)
    # (T, J, 3), (T, J)
    return PoseSequence(np.stack(xyz_frames), np.stack(conf_frames), layout, fps, src)


def run_task(task: ExtractTask, estimator: PoseEstimator) -> TaskResult:
    """Extract one video and write its ``.pose`` file atomically; failures become results."""
    t0 = time.perf_counter()
    try:
        seq = extract_video(task.video, estimator)
        write_pose(seq, task.output)
    except SignSSLError as e:
        return TaskResult(task, 0, time.perf_counter() - t0, _strip(str(e), task.video))
    except Exception as e:  # an estimator failing on one video must not stop the job
        return TaskResult(task, 0, time.perf_counter() - t0, f"{type(e).__name__}: {e}")
    return TaskResult(task, seq.num_frames, time.perf_counter() - t0)


def _strip(message: str, path: str) -> str:
    return message.removeprefix(f"{path}: ")


# ----------------------------------------------------------------------------- worker processes

_FACTORY: EstimatorFactory | None = None
_ESTIMATOR: PoseEstimator | None = None


#: seconds between two checks that the main process is still there


def init_worker(factory: EstimatorFactory, parent_pid: int) -> None:
    """Process-pool initializer: remember the factory; die with the main process
    (:func:`signssl.utils.die_with_parent`), leaving at most a temporary file that the
    next run removes."""
    global _FACTORY
    _FACTORY = factory
    die_with_parent(parent_pid)


def worker_task(task: ExtractTask) -> TaskResult:
    """Run one task in a worker process (the estimator is built on the first task)."""
    global _ESTIMATOR
    if _ESTIMATOR is None:
        assert _FACTORY is not None, "init_worker was not called"
        try:
            _ESTIMATOR = _FACTORY()
        except (MissingExtraError, ConfigError) as e:
            return TaskResult(task, error=str(e), fatal=True)
        except Exception as e:
            return TaskResult(task, error=f"the pose estimator could not be built: "
                                          f"{type(e).__name__}: {e}", fatal=True)
    return run_task(task, _ESTIMATOR)
