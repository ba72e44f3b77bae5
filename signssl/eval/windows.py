"""Sliding-window features and activity-weighted pooling (docs/methods.md#signrep-retrieval).

SignRep represents a video of any length by the embeddings of its sliding windows:

* windows of ``window`` frames (16) start every ``stride`` frames (2):
  ``0, stride, 2 stride, ...`` while they fit in the clip
  (:func:`signssl.io.video.window_starts`, the rule the streaming decoder
  :func:`~signssl.io.video.iter_windows` follows, so in-memory and streamed windows agree).
  A tail shorter than ``stride`` past the last window is not covered.  A clip shorter than
  one window gives one window padded by repeating its last frame;
* ``z_i``: the embedding of window ``i`` by any :class:`~signssl.models.Encoder`
  (``embed``), windows batched through the encoder;
* ``a_i`` (Eq. 11): how active the signer is in window ``i``, in [0, 1], from an optional
  callable ``activity(window_batch) -> (N,)``.  For SignRep it is the maximum over the two
  hands of ``P(active) = sigmoid(logit)`` from the sign decoder's activity head
  (:class:`~signssl.models.activity_head.ActivityHead`, saved with a run,
  :func:`load_activity_head`);
* pooling (Eq. 12): ``"avg"``: ``v = mean_i z_i``; ``"weighted"``:
  ``v = Σ_i a_i z_i / Σ_i a_i``.  When every ``a_i`` is 0 (no active window) the weighted
  average is undefined: the plain mean is used instead and the fall-back is counted
  (:class:`PoolingStats`).  ``v`` is then L2-normalised (retrieval compares videos by
  cosine similarity).

Clips and window batches (what an encoder receives):

* video: a clip ``(T, 3, H, W)`` (uint8 or float, as :mod:`signssl.data.video` gives) ->
  windows ``(N, 3, window, H, W)``, the layout video encoders take;
* pose: a clip ``(T, J, C)`` with optional confidence ``(T, J)`` -> the batch dict of
  :func:`signssl.data.collate_poses` with ``x (N, window, J, C)``, ``conf (N, window, J)``
  and ``frame_mask (N, window)`` (all ``False``: padded-by-repetition frames are real
  frames).

Example:
    >>> import torch
    >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> pool_windows(z, torch.tensor([1.0, 0.0, 0.0]), "weighted")[0].tolist()
    [1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from signssl.errors import ConfigError, DataError
from signssl.io.video import window_starts
from signssl.models.activity_head import (
    ACTIVITY_HEAD_FORMAT,
    ACTIVITY_HEAD_WEIGHTS,
    ActivityHead,
    activity_head_files,
)
from signssl.models.base import Encoder
from signssl.utils import read_json_file

#: pooling modes of Eq. 12
POOLINGS: tuple[str, ...] = ("avg", "weighted")
#: SignRep's window length and stride (docs/methods.md#signrep-retrieval)
DEFAULT_WINDOW, DEFAULT_STRIDE = 16, 2

#: ``activity(window_batch) -> (N,)`` weights in [0, 1]
ActivityFn = Callable[[Any], Tensor]


# ----------------------------------------------------------------------------- positions


def check_pooling(pooling: str) -> str:
    """``pooling`` if it is ``"avg"`` or ``"weighted"``, else :class:`ConfigError`."""
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling must be one of {list(POOLINGS)}, got {pooling!r}")
    return pooling


def window_index(
    num_frames: int, window: int = DEFAULT_WINDOW, stride: int = DEFAULT_STRIDE
) -> Tensor:
    """Frame index of every position of every window: ``(N, window)`` long.

    Row ``i`` is ``s_i, s_i + 1, ..., s_i + window - 1`` with ``s_i`` the starts of the
    module docstring; in a clip shorter than ``window`` the positions past its end repeat
    the last frame.

    >>> window_index(5, 4, 2).tolist(), window_index(2, 4, 2).tolist()
    ([[0, 1, 2, 3]], [[0, 1, 1, 1]])
    """
    if num_frames < 1:
        raise DataError(f"cannot cut windows from a clip of {num_frames} frames")
    starts = torch.tensor(window_starts(num_frames, window, stride), dtype=torch.long)  # (N,)
    index = starts[:, None] + torch.arange(window)[None, :]  # (N, 1) + (1, W) -> (N, W)
    return index.clamp_max(num_frames - 1)


def num_windows(num_frames: int, window: int = DEFAULT_WINDOW, stride: int = DEFAULT_STRIDE) -> int:
    """Number of windows of a clip of ``num_frames`` frames (1 for a short clip)."""
    return len(window_starts(num_frames, window, stride))


def sliding_windows(
    clip: Tensor, window: int = DEFAULT_WINDOW, stride: int = DEFAULT_STRIDE
) -> Tensor:
    """All windows of a clip, stacked: ``(T, ...) -> (N, window, ...)`` (a copy).

    For a video ``(T, 3, H, W)`` this is ``(N, window, 3, H, W)``; use
    :func:`iter_window_batches` for the encoder layout and bounded memory.
    """
    return clip[window_index(clip.shape[0], window, stride)]  # (T, ...)[(N, W)] -> (N, W, ...)


def video_window_batch(windows: Tensor) -> Tensor:
    """Video windows ``(N, window, 3, H, W)`` -> encoder input ``(N, 3, window, H, W)``."""
    if windows.ndim != 5 or windows.shape[2] != 3:
        raise ConfigError(f"video windows must be (N, window, 3, H, W), got {tuple(windows.shape)}")
    return windows.permute(0, 2, 1, 3, 4)  # (N, W, 3, H, W) -> (N, 3, W, H, W)


def pose_window_batch(x: Tensor, conf: Tensor | None = None) -> dict[str, Tensor]:
    """Pose windows ``x (N, window, J, C)`` (+ ``conf (N, window, J)``, default 1) -> the
    pose batch dict with ``frame_mask (N, window)`` all ``False`` (every frame is real)."""
    if x.ndim != 4:
        raise ConfigError(f"pose windows must be (N, window, J, C), got {tuple(x.shape)}")
    if conf is None:
        conf = x.new_ones(x.shape[:3])  # (N, W, J)
    frame_mask = torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)  # (N, W)
    return {"x": x, "conf": conf, "frame_mask": frame_mask}


def iter_window_batches(
    clip: Tensor,
    window: int = DEFAULT_WINDOW,
    stride: int = DEFAULT_STRIDE,
    batch_size: int = 64,
    conf: Tensor | None = None,
) -> Iterator[Any]:
    """Encoder-ready batches of at most ``batch_size`` windows of one in-memory clip.

    ``clip``: a video ``(T, 3, H, W)`` (4-D) or a pose ``(T, J, C)`` (3-D, with optional
    ``conf (T, J)``).  Only one batch of windows is materialised at a time.
    """
    if batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    if clip.ndim not in (3, 4):
        raise ConfigError(
            f"a clip is a video (T, 3, H, W) or a pose (T, J, C), got shape {tuple(clip.shape)}"
        )
    if conf is not None and tuple(conf.shape) != tuple(clip.shape[:2]):
        raise ConfigError(f"conf must be (T, J) = {tuple(clip.shape[:2])}, got {tuple(conf.shape)}")
    index = window_index(clip.shape[0], window, stride)  # (N, W)
    for chunk in index.split(batch_size):  # (b, W)
        if clip.ndim == 4:
            yield video_window_batch(clip[chunk])  # (b, W, 3, H, W) -> (b, 3, W, H, W)
        else:
            yield pose_window_batch(clip[chunk], None if conf is None else conf[chunk])


# ----------------------------------------------------------------------------- pooling


@dataclass
class PoolingStats:
    """Counts over the videos pooled: ``videos``, ``windows`` and ``fallbacks`` (weighted
    pooling fell back to the plain mean because every window had weight 0)."""

    videos: int = 0
    windows: int = 0
    fallbacks: int = 0

    def add(self, n_windows: int, fell_back: bool) -> None:
        self.videos += 1
        self.windows += int(n_windows)
        self.fallbacks += int(fell_back)

    def to_dict(self) -> dict[str, int]:
        return {"videos": self.videos, "windows": self.windows, "fallbacks": self.fallbacks}


def pool_windows(
    z: Tensor, weights: Tensor | None = None, pooling: str = "avg", normalize: bool = True
) -> tuple[Tensor, bool]:
    """Eq. 12: one vector from window embeddings: ``(N, D), (N,) -> ((D,), fell_back)``.

    ``"avg"``: ``mean_i z_i``; ``"weighted"``: ``Σ a_i z_i / Σ a_i``, the plain mean when
    ``Σ a_i = 0`` (then ``fell_back`` is ``True``).  L2-normalised when ``normalize``.
    """
    check_pooling(pooling)
    if z.ndim != 2 or z.shape[0] == 0:
        raise ConfigError(
            f"window embeddings must be a non-empty (N, D) tensor, got {tuple(z.shape)}"
        )
    fell_back = False
    if pooling == "avg":
        v = z.mean(dim=0)  # (N, D) -> (D,)
    else:
        if weights is None:
            raise ConfigError(
                "weighted pooling needs per-window activity weights; give an activity "
                "function (a run's activity head) or use pooling 'avg'"
            )
        a = weights.to(z.dtype).reshape(-1)  # (N,)
        if a.shape[0] != z.shape[0]:
            raise ConfigError(f"{a.shape[0]} weights for {z.shape[0]} windows")
        if bool((a < 0).any()) or not bool(torch.isfinite(a).all()):
            raise ConfigError("activity weights must be finite and >= 0")
        total = a.sum()
        if float(total) > 0:
            v = (a[:, None] * z).sum(dim=0) / total  # (N, 1) * (N, D) -> (D,)
        else:
            v, fell_back = z.mean(dim=0), True
    return (F.normalize(v, dim=0) if normalize else v), fell_back


# ----------------------------------------------------------------------------- activity head


class ActivityScorer:
    """Eq. 11 weights from an :class:`ActivityHead`: ``a = max_h sigmoid(logit_h)``.

    :meth:`from_tokens` scores encoder tokens ``(B, N, D) -> (B,)``; calling the scorer on
    a window batch runs ``encoder.forward_features`` first (it needs ``encoder``).
    :func:`embed_windows` uses :meth:`from_tokens` on the tokens it already has, so the
    encoder runs once per window.
    """

    def __init__(self, head: ActivityHead, encoder: Encoder | None = None) -> None:
        self.head = head.eval()
        self.encoder = encoder

    def bind(self, encoder: Encoder) -> ActivityScorer:
        """The same head, scoring window batches with ``encoder``."""
        return ActivityScorer(self.head, encoder)

    def check_encoder(self, encoder: Encoder) -> None:
        """:class:`ConfigError` unless the head reads tokens of ``encoder``'s width."""
        if int(encoder.out_dim) != self.head.in_dim:
            raise ConfigError(
                f"the activity head reads {self.head.in_dim}-d tokens but the encoder gives "
                f"{encoder.out_dim}-d ones; use the head saved with this encoder's run"
            )

    @torch.no_grad()
    def from_tokens(self, tokens: Tensor) -> Tensor:
        """``(B, N, D) -> (B,)`` in [0, 1]: max over hands of P(active)."""
        head = self.head.to(tokens.device)
        return torch.sigmoid(head(tokens.float())).amax(dim=1)  # (B, 2) -> (B,)

    @torch.no_grad()
    def __call__(self, window_batch: Any) -> Tensor:
        if self.encoder is None:
            raise ConfigError("this activity scorer has no encoder: use scorer.bind(encoder)")
        return self.from_tokens(self.encoder.forward_features(window_batch))


def load_activity_head(
    run_dir: str | Path, encoder: Encoder | None = None
) -> ActivityScorer | None:
    """The activity scorer saved with a run, or ``None`` when the run has no head.

    Args:
        run_dir: run directory, its ``model/`` directory or the model ``.safetensors``.
        encoder: bound to the scorer (and checked against the head's width) when given.
    Raises:
        DataError: only one of the two files exists, or they cannot be read.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, config = activity_head_files(run_dir)
    if not weights.exists() and not config.exists():
        return None
    for present, missing in ((weights, config), (config, weights)):
        if present.exists() and not missing.exists():
            raise DataError(
                f"{missing.name} is missing beside it; export the activity head "
                "again (save_activity_head writes both files)",
                present,
            )
    meta = read_json_file(config)
    try:
        kwargs = {k: int(v) for k, v in dict(meta["kwargs"]).items()}
        head = ActivityHead(**kwargs)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"not an activity head description ({e!r}); expected "
            '{"format": "signssl-activity-head", "kwargs": {"in_dim", "latent_dim", '
            '"activity_hidden"}}',
            config,
        ) from None
    if meta.get("format") != ACTIVITY_HEAD_FORMAT:
        raise DataError(
            f"format is {meta.get('format')!r}, expected {ACTIVITY_HEAD_FORMAT!r}", config
        )
    try:
        state = load_file(str(weights))
        head.load_state_dict(state, strict=True)
    except (SafetensorError, OSError, RuntimeError) as e:
        raise DataError(
            f"weights do not fit activity_head.json ({_short(e)}); export the head again", weights
        ) from None
    scorer = ActivityScorer(head)
    if encoder is not None:
        scorer.check_encoder(encoder)
        scorer = scorer.bind(encoder)
    return scorer


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


# ----------------------------------------------------------------------------- embedding


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _batch_size(batch: Any) -> int:
    return int((batch["x"] if isinstance(batch, dict) else batch).shape[0])


@torch.no_grad()
def embed_windows(
    encoder: Encoder, window_batch: Any, activity: ActivityFn | None = None
) -> tuple[Tensor, Tensor | None]:
    """``(z (b, D) float32, a (b,) or None)`` of one window batch (on the encoder's device).

    With an :class:`ActivityScorer` the encoder runs once: ``z = pool(tokens)`` and
    ``a = scorer.from_tokens(tokens)``; any other ``activity`` callable gets the batch.
    """
    if isinstance(activity, ActivityScorer):
        tokens = encoder.forward_features(window_batch)  # (b, N, D)
        z, a = encoder.pool(tokens), activity.from_tokens(tokens)
    else:
        z = encoder.embed(window_batch)  # (b, D)
        a = None if activity is None else activity(window_batch)
    b = _batch_size(window_batch)
    if z.ndim != 2 or z.shape[0] != b:
        raise ConfigError(
            f"{type(encoder).__name__}.embed returned {tuple(z.shape)} for {b} "
            "windows; expected (windows, D)"
        )
    if a is not None:
        a = torch.as_tensor(a).reshape(-1).float()
        if a.shape[0] != b:
            raise ConfigError(
                f"the activity function returned {a.shape[0]} weights for {b} windows"
            )
    return z.float(), a


@dataclass
class WindowedEmbedding:
    """What :meth:`WindowEmbedder.embed_clip` returns.

    Attributes:
        vector: ``(D,)`` pooled, L2-normalised video vector.
        windows: ``(N, D)`` window embeddings ``z_i`` (not normalised).
        weights: ``(N,)`` activity ``a_i`` (``None`` without an activity function).
        fell_back: weighted pooling used the plain mean (every ``a_i`` was 0).
    """

    vector: Tensor
    windows: Tensor
    weights: Tensor | None
    fell_back: bool


class WindowEmbedder:
    """Window embeddings and pooled video vectors with one encoder (module docstring).

    Args:
        encoder: any :class:`~signssl.models.Encoder` (put in eval mode).
        window, stride: window length and stride in frames (16, 2).  A video encoder
            with a fixed clip length (``input_size[0]``) needs ``window`` equal to it.
        pooling: ``"avg"`` or ``"weighted"`` (needs ``activity``).
        activity: ``activity(window_batch) -> (b,)`` in [0, 1], or an
            :class:`ActivityScorer`; ``None`` = no weights.
        batch_size: windows per encoder call.
        device: where the encoder runs (default: where its parameters are).
    """

    def __init__(
        self,
        encoder: Encoder,
        window: int = DEFAULT_WINDOW,
        stride: int = DEFAULT_STRIDE,
        pooling: str = "avg",
        activity: ActivityFn | None = None,
        batch_size: int = 64,
        device: str | torch.device | None = None,
    ) -> None:
        if not isinstance(encoder, Encoder):
            raise ConfigError(f"expected a signssl Encoder, got {type(encoder).__name__}")
        if window < 1 or stride < 1 or batch_size < 1:
            raise ConfigError(
                f"window, stride and batch size must be >= 1, got {window}, {stride}, {batch_size}"
            )
        check_pooling(pooling)
        if pooling == "weighted" and activity is None:
            raise ConfigError(
                "pooling 'weighted' needs activity weights, but no activity head was given "
                f"(a run provides one as model/{ACTIVITY_HEAD_WEIGHTS}); use pooling 'avg'"
            )
        clip_len = getattr(encoder, "input_size", None)
        if clip_len is not None and int(clip_len[0]) != window:
            raise ConfigError(
                f"{type(encoder).__name__} takes clips of {int(clip_len[0])} frames, so the window "
                f"must be {int(clip_len[0])} frames, not {window}"
            )
        max_frames = getattr(encoder, "max_frames", None)
        if isinstance(max_frames, int) and window > max_frames:
            raise ConfigError(
                f"{type(encoder).__name__} takes at most {max_frames} frames; use a window of "
                f"at most {max_frames} frames, not {window}"
            )
        if isinstance(activity, ActivityScorer):
            activity.check_encoder(encoder)
        self.device = torch.device(device) if device is not None else _param_device(encoder)
        self.encoder = encoder.eval().to(self.device)
        if isinstance(activity, ActivityScorer):
            activity.head.to(self.device)
        self.window, self.stride, self.pooling = window, stride, pooling
        self.activity, self.batch_size = activity, batch_size
        self.stats = PoolingStats()

    def embed_batch(self, window_batch: Any) -> tuple[Tensor, Tensor | None]:
        """``(z (b, D), a (b,) or None)`` on the CPU."""
        z, a = embed_windows(self.encoder, _to_device(window_batch, self.device), self.activity)
        return z.cpu(), None if a is None else a.cpu()

    def embed_batches(self, batches: Any) -> tuple[Tensor, Tensor | None]:
        """Concatenated ``(z (N, D), a (N,) or None)`` over an iterable of window batches."""
        zs: list[Tensor] = []
        As: list[Tensor] = []
        for batch in batches:
            z, a = self.embed_batch(batch)
            zs.append(z)
            if a is not None:
                As.append(a)
        if not zs:
            raise DataError("no window to embed")
        return torch.cat(zs), (torch.cat(As) if As else None)

    def pool(self, z: Tensor, a: Tensor | None) -> WindowedEmbedding:
        """Pool one video's windows (Eq. 12) and count it in :attr:`stats`."""
        vector, fell_back = pool_windows(z, a, self.pooling)
        self.stats.add(z.shape[0], fell_back)
        return WindowedEmbedding(vector, z, a, fell_back)

    def embed_clip(self, clip: Tensor, conf: Tensor | None = None) -> WindowedEmbedding:
        """Windows, embeddings and the pooled vector of one in-memory clip
        (video ``(T, 3, H, W)`` or pose ``(T, J, C)`` with optional ``conf (T, J)``)."""
        batches = iter_window_batches(clip, self.window, self.stride, self.batch_size, conf)
        return self.pool(*self.embed_batches(batches))


def _param_device(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")
