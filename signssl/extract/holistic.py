"""MediaPipe Holistic as a :class:`~signssl.extract.estimator.PoseEstimator`.

The only module that imports ``mediapipe`` (the optional ``[mediapipe]`` extra:
``mediapipe==0.10.21``, the legacy ``solutions.holistic`` API, which needs ``numpy<2``;
its models ship inside the wheel, nothing is downloaded).

Output layout: ``holistic_world`` (face 468 points) or, with ``refine_face=True``,
``holistic_iris_world`` (face 478 points, with irises).  Per part:

==============  ========================================  ==========================
part            coordinates                               confidence
==============  ========================================  ==========================
body (33)       x * width, y * height, z * width (pixels)  MediaPipe's visibility
face            x * width, y * height, z * width           1 when the face is found
left_hand (21)  x * width, y * height, z * width           1 when the hand is found
right_hand (21) x * width, y * height, z * width           1 when the hand is found
body_world (33) metres, origin between the hips            visibility
==============  ========================================  ==========================

MediaPipe gives ``z`` "at roughly the same scale as x"; multiplying it by the width
puts the three image coordinates in one unit (pose-format's ``video_to_pose`` leaves
``z`` unscaled).  A part that is not found has confidence 0 and coordinates 0.
``left_hand`` is the signer's left hand, as MediaPipe reports it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from signssl.errors import ConfigError, MissingExtraError
from signssl.pose.layouts import Layout, get_layout
from signssl.utils import interactive

_BLANK = np.full((64, 64, 3), 255, np.uint8)  # a frame with nobody: clears tracking state


#: environment of MediaPipe's native logging (glog / TensorFlow Lite): errors only
QUIET_NATIVE_LOGS = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}


def quiet_native_logs() -> None:
    """Keep MediaPipe's INFO and WARNING lines (glog, TensorFlow Lite, absl) out of a
    non-interactive log (CI, ``nohup``, extraction workers); values the user set win.
    Must run before ``mediapipe`` is imported: glog reads its level when it loads."""
    for name, value in QUIET_NATIVE_LOGS.items():
        os.environ.setdefault(name, value)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging  # a dependency of mediapipe
    except ImportError:
        return
    absl_logging.set_verbosity(absl_logging.ERROR)


def import_mediapipe() -> Any:
    """``mediapipe``, or a :class:`MissingExtraError` / :class:`ConfigError` saying why not.

    When stderr is not a terminal its native INFO and WARNING logs are silenced first
    (:func:`quiet_native_logs`)."""
    if not interactive():
        quiet_native_logs()
    try:
        import mediapipe as mp
    except ModuleNotFoundError:
        raise MissingExtraError("mediapipe", "mediapipe") from None
    except (ImportError, AttributeError, RuntimeError) as e:  # e.g. built against numpy 1
        raise ConfigError(
            f"mediapipe is installed but cannot be imported ({type(e).__name__}: {e}); "
            "mediapipe 0.10.21 needs numpy<2: pip install -c constraints.txt "
            "\"mediapipe==0.10.21\" \"numpy<2\""
        ) from None
    if not hasattr(mp, "solutions") or not hasattr(mp.solutions, "holistic"):
        raise ConfigError(
            f"mediapipe {getattr(mp, '__version__', '?')} has no legacy Holistic solution; "
            "install mediapipe==0.10.21"
        )
    return mp


class HolisticEstimator:
    """MediaPipe Holistic, frame by frame (module docstring for the output).

    Args:
        model_complexity: pose model 0, 1 or 2 (0.10.21 ships only the model of 1 in its
            wheel; 0 and 2 would be downloaded, which is not possible here).
        refine_face: 478-point face with irises (layout ``holistic_iris_world``).
        min_detection_confidence, min_tracking_confidence: MediaPipe's thresholds.
        static_image_mode: detect in every frame instead of tracking (slower).
        smooth_landmarks: MediaPipe's temporal smoothing (video mode only).
    """

    def __init__(
        self,
        model_complexity: int = 1,
        refine_face: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        static_image_mode: bool = False,
        smooth_landmarks: bool = True,
    ) -> None:
        if model_complexity not in (0, 1, 2):
            raise ConfigError(f"model_complexity must be 0, 1 or 2, got {model_complexity}")
        mp = import_mediapipe()
        self.layout: Layout = get_layout("holistic_iris_world" if refine_face else "holistic_world")
        self._num_face = 478 if refine_face else 468
        try:
            self._holistic = mp.solutions.holistic.Holistic(
                static_image_mode=static_image_mode,
                model_complexity=model_complexity,
                smooth_landmarks=smooth_landmarks,
                refine_face_landmarks=refine_face,
                min_detection_confidence=min_detection_confidence,
                min_tracking_confidence=min_tracking_confidence,
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise ConfigError(
                f"MediaPipe Holistic could not start with model_complexity={model_complexity} "
                f"({e}); the wheel ships the model of complexity 1 only"
            ) from None

    def process(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W, 3)`` uint8 RGB -> ``xyz (J, 3)``, ``conf (J,)`` in this estimator's layout."""
        h, w = frame.shape[:2]
        result = self._holistic.process(np.ascontiguousarray(frame))
        return landmarks_to_arrays(result, w, h, self._num_face)

    def reset(self) -> None:
        # one frame with nobody in it drops the tracked regions, so the next frame is
        # detected afresh (much cheaper than restarting the graph)
        self._holistic.process(_BLANK)

    def close(self) -> None:
        self._holistic.close()


def _points(landmarks: Any, count: int, with_visibility: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(count, 3)`` raw coordinates and ``(count,)`` confidence of one landmark list."""
    if landmarks is None:
        return np.zeros((count, 3), np.float32), np.zeros(count, np.float32)
    lm = landmarks.landmark
    if with_visibility:
        arr = np.array([(p.x, p.y, p.z, p.visibility) for p in lm], np.float32)  # (count, 4)
        return arr[:, :3], np.clip(arr[:, 3], 0.0, 1.0)
    return np.array([(p.x, p.y, p.z) for p in lm], np.float32), np.ones(len(lm), np.float32)


def landmarks_to_arrays(
    result: Any, width: int, height: int, num_face: int = 468
) -> tuple[np.ndarray, np.ndarray]:
    """One Holistic result -> ``xyz (J, 3)``, ``conf (J,)`` in the ``holistic[_iris]_world``
    joint order: body 33, face, left hand 21, right hand 21, body_world 33."""
    scale = np.array([width, height, width], np.float32)
    parts = [
        (result.pose_landmarks, 33, True, True),
        (result.face_landmarks, num_face, False, True),
        (result.left_hand_landmarks, 21, False, True),
        (result.right_hand_landmarks, 21, False, True),
        (result.pose_world_landmarks, 33, True, False),
    ]
    xyz_parts, conf_parts = [], []
    for landmarks, count, visibility, in_pixels in parts:
        xyz, conf = _points(landmarks, count, visibility)
        if xyz.shape[0] != count:  # e.g. a 478-point face from a refined model
            raise ConfigError(f"MediaPipe returned {xyz.shape[0]} points where {count} were expected")
        xyz_parts.append(xyz * scale if in_pixels and landmarks is not None else xyz)
        conf_parts.append(conf)
    return np.concatenate(xyz_parts), np.concatenate(conf_parts)
