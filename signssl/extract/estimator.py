"""The pose-estimator interface, and how an estimator is named.

A pose estimator turns one RGB frame into keypoints of a fixed layout::

    estimator.layout                      # the Layout of its J joints
    xyz, conf = estimator.process(frame)  # (H, W, 3) uint8 -> (J, 3) float32, (J,) float32
    estimator.reset()                     # forget tracking state before the next video
    estimator.close()                     # free resources

Missing joints have confidence 0 and coordinates 0.  The extraction pipeline
(:mod:`signssl.extract.pipeline`) only uses this interface, so any estimator (or a fake
one in tests) can be plugged in.  Estimators are built inside each worker process from a
*factory*: a picklable callable taking no arguments (:func:`resolve_estimator`).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from signssl.errors import ConfigError, MissingExtraError
from signssl.pose.layouts import Layout

#: estimators known by name
ESTIMATORS: dict[str, str] = {
    "holistic": "MediaPipe Holistic (legacy solution; needs the [mediapipe] extra)",
}


@runtime_checkable
class PoseEstimator(Protocol):
    """What the extraction pipeline needs from a pose estimator (module docstring)."""

    layout: Layout

    def process(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(H, W, 3)`` uint8 RGB -> ``xyz (J, 3)`` float32, ``conf (J,)`` float32."""
        ...

    def reset(self) -> None:
        """Forget state carried from frame to frame (called before every video)."""
        ...

    def close(self) -> None:
        """Release the estimator's resources."""
        ...


EstimatorFactory = Callable[[], PoseEstimator]


class ImportedFactory:
    """A factory named ``"package.module:attribute"``, imported where it is called.

    Picklable (only the name and keyword arguments travel to worker processes).
    """

    def __init__(self, spec: str, kwargs: dict[str, Any] | None = None) -> None:
        self.spec, self.kwargs = spec, dict(kwargs or {})

    def target(self) -> Callable[..., PoseEstimator]:
        module_name, _, attr = self.spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as e:
            raise ConfigError(f"estimator '{self.spec}': cannot import module '{module_name}' "
                              f"({e}); check the name and that it is installed") from None
        try:
            return getattr(module, attr)
        except AttributeError:
            raise ConfigError(f"estimator '{self.spec}': module '{module_name}' has no "
                              f"attribute '{attr}'") from None

    def __call__(self) -> PoseEstimator:
        return self.target()(**self.kwargs)

    def __repr__(self) -> str:
        return f"ImportedFactory({self.spec!r}, {self.kwargs!r})"


def require_mediapipe() -> None:
    """Raise :class:`MissingExtraError` when ``mediapipe`` is not installed (without
    importing it: importing starts no graph, but costs about a second)."""
    if importlib.util.find_spec("mediapipe") is None:
        raise MissingExtraError("mediapipe", "mediapipe")


def resolve_estimator(
    estimator: str | EstimatorFactory, **kwargs: Any
) -> EstimatorFactory:
    """A no-argument factory for an estimator named or given by the caller.

    Args:
        estimator: ``"holistic"`` (:class:`~signssl.extract.holistic.HolisticEstimator`),
            ``"package.module:attribute"`` (a class or function returning an estimator),
            or a callable.
        **kwargs: passed to the estimator's constructor.
    Raises:
        MissingExtraError: ``"holistic"`` without the ``[mediapipe]`` extra.
        ConfigError: an unknown name or a spec that cannot be imported.
    """
    if callable(estimator):
        return functools.partial(estimator, **kwargs) if kwargs else estimator
    name = str(estimator)
    if name == "holistic":
        require_mediapipe()
        return ImportedFactory("signssl.extract.holistic:HolisticEstimator", kwargs)
    if ":" in name:
        factory = ImportedFactory(name, kwargs)
        factory.target()  # fail now, not in every worker
        return factory
    raise ConfigError(
        f"unknown pose estimator '{name}'; known: {sorted(ESTIMATORS)}, or give "
        "'package.module:attribute' naming a class or function that returns one"
    )


def check_output(
    xyz: np.ndarray, conf: np.ndarray, layout: Layout
) -> tuple[np.ndarray, np.ndarray]:
    """An estimator's per-frame output as ``(J, 3)`` / ``(J,)`` float32, or a ConfigError."""
    xyz = np.asarray(xyz, dtype=np.float32)
    conf = np.asarray(conf, dtype=np.float32)
    J = layout.num_joints
    if xyz.shape != (J, 3) or conf.shape != (J,):
        raise ConfigError(
            f"the pose estimator returned xyz {xyz.shape} and conf {conf.shape} but its layout "
            f"'{layout.name}' needs ({J}, 3) and ({J},)"
        )
    return xyz, conf
