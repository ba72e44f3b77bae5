"""What the video recipes (SignRep, pixel MAE) share: encoder check, crops, augmentation, masks.

A video method trains a masked video encoder
(:class:`~signssl.models.video_encoder.VideoEncoder`: the paper's Hiera or the CNN) on batches of
:func:`signssl.data.signrep.collate_pairs`: ``video (N, K, T, 3, H, W)`` uint8, ``K`` crops
of each of ``N`` videos.  :meth:`VideoMethod.clips` flattens them crop-major, augments
them (:class:`~signssl.data.signrep.VideoAugment`, training only) and returns encoder
input ``(K N, 3, T, H, W)``: entry ``k N + i`` is crop ``k`` of video ``i``, so with pairs
the first ``N`` entries are the crops ``a_i`` and the last ``N`` the crops ``b_i``.
:meth:`VideoMethod.draw_mask` draws the MAE-style unit mask (``True`` = hidden) with the
method's generator, which the engine reseeds every step.

The engine recognises a video method by ``modality = "video"`` (it then reads video
manifests, see :func:`signssl.engine.pretraining.pretrain`); ``needs_priors`` says whether
the batches must carry sign priors.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from signssl.data.signrep import VideoAugment
from signssl.errors import ConfigError
from signssl.methods.base import Method
from signssl.models.base import Encoder
from signssl.models.video_encoder import VideoEncoder


class VideoMethod(Method):
    """Base of the video recipes (module docstring).

    Args:
        encoder: a masked video encoder (``hiera_*`` or ``cnn_*`` models).
        mask_ratio: share of mask units hidden from the encoder (0 = no masking).
        augment: apply :class:`~signssl.data.signrep.VideoAugment` in training.
        jitter_p, crop_scale_min, blur_p, gray_p: its probabilities and crop area.
        seed: seed of the mask generator (the engine reseeds it every step).
        **pose_options: the pose-view options of :class:`Method` do not apply; giving one
            raises :class:`ConfigError`.
    """

    modality = "video"
    needs_priors = False

    def __init__(
        self,
        encoder: Encoder,
        *,
        mask_ratio: float = 0.8,
        augment: bool = True,
        jitter_p: float = 0.8,
        crop_scale_min: float = 0.8,
        blur_p: float = 0.5,
        gray_p: float = 0.1,
        seed: int = 0,
        **pose_options: Any,
    ) -> None:
        if pose_options:
            raise ConfigError(
                f"{type(self).__name__} trains on video: the pose view options "
                f"{sorted(pose_options)} do not apply; remove them from method.kwargs"
            )
        super().__init__(encoder, boundary_permutation=False, spatial_aug=False, seed=seed)
        if not isinstance(encoder, VideoEncoder):
            raise ConfigError(
                f"method '{type(self).__name__}' needs a masked video encoder (hiera_base_16x224, "
                f"hiera_tiny_16x64, cnn_tiny_16x64, ...), got {type(encoder).__name__}; set "
                "model.name"
            )
        if not 0.0 <= mask_ratio < 1.0:
            raise ConfigError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
        encoder.random_mask(1, mask_ratio)  # raises when the ratio hides every unit
        self.mask_ratio = float(mask_ratio)
        size = (encoder.input_size[1], encoder.input_size[2])
        self.augmentation = (
            VideoAugment(size, jitter_p, (crop_scale_min, 1.0), blur_p, gray_p) if augment else None
        )

    @property
    def hiera(self) -> Any:
        """The encoder, typed as a masked video encoder (its decoder-facing sizes)."""
        return self.encoder

    def clips(self, batch: dict[str, Any]) -> tuple[Tensor, int, int]:
        """``(x (K N, 3, T, H, W) float in [0, 1], N, K)`` from a pair batch (module docstring)."""
        video = batch.get("video") if isinstance(batch, dict) else None
        if not isinstance(video, Tensor) or video.ndim != 6 or video.shape[3] != 3:
            shape = tuple(video.shape) if isinstance(video, Tensor) else type(video).__name__
            raise ConfigError(
                f"{type(self).__name__} expects batch['video'] of shape (N, K, T, 3, H, W) from "
                f"signssl.data.signrep.collate_pairs, got {shape}"
            )
        N, K = int(video.shape[0]), int(video.shape[1])
        if N * K < 2:
            raise ConfigError(
                f"{type(self).__name__} needs at least 2 crops per batch, got {N * K}"
            )
        flat = video.transpose(0, 1).flatten(0, 1)  # (N, K, T, 3, H, W) -> (K N, T, 3, H, W)
        if self.augmentation is not None and self.training:
            flat = self.augmentation(flat)
        elif flat.dtype == torch.uint8:
            flat = flat.float() / 255.0
        return flat.permute(0, 2, 1, 3, 4), N, K  # (K N, T, 3, H, W) -> (K N, 3, T, H, W)

    def draw_mask(self, num_clips: int) -> Tensor | None:
        """``(num_clips, units)`` bool, ``True`` = hidden, ``round(mask_ratio * units)`` per
        clip; ``None`` when ``mask_ratio == 0``."""
        if self.mask_ratio == 0.0:
            return None
        return self.hiera.random_mask(num_clips, self.mask_ratio, self.generator)


def crop_major(x: Tensor) -> Tensor:
    """``(N, K, ...) -> (K N, ...)``: the order of :meth:`VideoMethod.clips`."""
    return x.transpose(0, 1).flatten(0, 1)  # (N, K, ...) -> (K, N, ...) -> (K N, ...)
