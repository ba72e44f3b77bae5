"""Pose extraction from videos (MediaPipe Holistic with the ``[mediapipe]`` extra).

* :func:`extract_poses`: a folder / manifest of videos -> ``.pose`` files + manifests,
  parallel, resumable, with a failure report (:class:`ExtractReport`);
* :func:`extract_video`: one video -> :class:`~signssl.pose.PoseSequence`;
* :class:`PoseEstimator`: the interface an estimator implements;
  :class:`~signssl.extract.holistic.HolisticEstimator` is the MediaPipe one (import it
  from :mod:`signssl.extract.holistic`; only that module imports ``mediapipe``).
"""

from signssl.extract.estimator import (
    ESTIMATORS,
    EstimatorFactory,
    ImportedFactory,
    PoseEstimator,
    require_mediapipe,
    resolve_estimator,
)
from signssl.extract.pipeline import (
    LOCK_NAME,
    MANIFEST_NAME,
    POSE_COLUMN,
    REPORT_NAME,
    VIDEO_COLUMN,
    VIDEO_MANIFEST_NAME,
    ExtractPlan,
    ExtractReport,
    extract_poses,
    plan_extraction,
)
from signssl.extract.worker import ExtractTask, extract_video

__all__ = [
    "ESTIMATORS", "LOCK_NAME", "MANIFEST_NAME", "POSE_COLUMN", "REPORT_NAME", "VIDEO_COLUMN",
    "VIDEO_MANIFEST_NAME", "EstimatorFactory", "ExtractPlan", "ExtractReport", "ExtractTask",
    "ImportedFactory", "PoseEstimator", "extract_poses", "extract_video", "plan_extraction",
    "require_mediapipe", "resolve_estimator",
]
