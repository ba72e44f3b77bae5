"""Frozen features: run an encoder over a dataset once, keep embeddings + metadata.

:class:`Features` is what every frozen-feature protocol consumes (retrieval, k-NN, linear
probe, reports).  It is saved as a plain ``.npz`` of numeric and unicode arrays, so it is
read back with ``allow_pickle=False``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from signssl.data import pose_loader
from signssl.errors import ConfigError, DataError
from signssl.models.base import Encoder
from signssl.utils import atomic_savez, progress_bar


@dataclass
class Features:
    """Embeddings of N samples and their metadata (all arrays in sample order).

    Attributes:
        features: ``(N, D)`` float32 embeddings.
        labels: ``(N,)`` str class names (``""`` = unlabeled).
        paths: ``(N,)`` str sample paths.
        signers: ``(N,)`` str signer ids (``""`` = unknown).
        info: free-form JSON-able description (encoder, layout ...).
    """

    features: np.ndarray
    labels: np.ndarray
    paths: np.ndarray
    signers: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=np.float32)
        if self.features.ndim != 2:
            raise DataError(f"features must be (N, D), got shape {self.features.shape}")
        n = self.features.shape[0]
        self.labels = _str_array(self.labels, n, "labels")
        self.paths = _str_array(self.paths, n, "paths")
        self.signers = _str_array(self.signers, n, "signers")

    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    def classes(self) -> list[str]:
        """Sorted distinct non-empty labels."""
        return sorted(set(self.labels.tolist()) - {""})

    def subset(self, index: np.ndarray | Sequence[int]) -> Features:
        """Rows ``index`` (an integer index array or a boolean mask)."""
        idx = np.asarray(index)
        return Features(
            self.features[idx], self.labels[idx], self.paths[idx], self.signers[idx], dict(self.info)
        )

    def labeled(self) -> Features:
        """Only the rows that have a label."""
        return self.subset(self.labels != "")

    def require_labeled(self, what: str) -> Features:
        """:meth:`labeled`, raising :class:`DataError` naming ``what`` when none is left."""
        out = self.labeled()
        if len(out) == 0:
            raise DataError(f"{what}: no labelled sample (fill the manifest's label column)")
        return out

    # -- I/O
    def save(self, path: str | Path) -> Path:
        """Write ``.npz`` atomically: ``features``, ``labels``, ``paths``, ``signers``, ``info``."""
        import json

        return atomic_savez(
            path,
            features=self.features,
            labels=self.labels,
            paths=self.paths,
            signers=self.signers,
            info=np.array(json.dumps(self.info, default=str)),
        )

    @classmethod
    def load(cls, path: str | Path) -> Features:
        """Read a file written by :meth:`save` (or any npz with ``features`` + ``labels``)."""
        import json

        p = Path(path)
        if not p.is_file():
            raise DataError("features file does not exist (make one with `signssl embed`)", p)
        try:
            with np.load(p, allow_pickle=False) as z:
                if "features" not in z.files:
                    raise DataError(f"npz has no 'features' array (arrays: {z.files})", p)
                feats = z["features"]
                n = feats.shape[0] if feats.ndim else 0
                get = {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read as a features .npz: {e}", p) from None
        info = json.loads(str(get["info"])) if "info" in get else {}
        return cls(
            feats,
            get.get("labels", np.full(n, "")),
            get.get("paths", np.full(n, "")),
            get.get("signers", np.full(n, "")),
            info,
        )


def is_features_file(path: str | Path) -> bool:
    """True for an ``.npz`` holding a ``features`` array (pose ``.npz`` files do not)."""
    p = Path(path)
    if p.suffix != ".npz" or not p.is_file():
        return False
    try:
        with np.load(p, allow_pickle=False) as z:
            return "features" in z.files
    except (OSError, ValueError):
        return False


def _str_array(values: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(["" if v is None else str(v) for v in np.asarray(values, dtype=object).ravel()])
    if arr.size == 0 and n:
        arr = np.full(n, "")
    if arr.shape != (n,):
        raise DataError(f"{name} has {arr.size} entries for {n} feature rows")
    return arr.astype(str)


# ----------------------------------------------------------------------------- extraction

def _move(batch: Any, device: torch.device) -> Any:
    """Tensors of a (possibly nested) batch to ``device``; other values unchanged."""
    if isinstance(batch, Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _move(v, device) for k, v in batch.items()}
    return batch


def dataset_label_names(dataset: Any) -> list[str] | None:
    """The class list that turns a dataset's integer labels into names, when it has one.

    Looks for ``dataset.classes`` and then ``dataset.manifest.labels()``, through
    ``torch.utils.data.Subset`` wrappers.
    """
    if isinstance(dataset, torch.utils.data.Subset):
        return dataset_label_names(dataset.dataset)
    classes = getattr(dataset, "classes", None)
    if classes is not None and not callable(classes):
        return [str(c) for c in classes]
    manifest = getattr(dataset, "manifest", None)
    if manifest is not None and hasattr(manifest, "labels"):
        return [str(c) for c in manifest.labels()]
    return None


@torch.no_grad()
def extract_features(
    encoder: Encoder,
    dataset_or_loader: Any,
    batch_size: int = 64,
    label_names: Sequence[str] | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    max_frames: int | None = 64,
) -> Features:
    """Embed every sample with ``encoder.embed`` (eval mode, no gradients).

    Args:
        encoder: any :class:`~signssl.models.Encoder`.
        dataset_or_loader: a map-style dataset of pose samples (batched here with
            ``signssl.data.pose_loader``) or any iterable of batch dicts with ``x``
            and optionally ``label`` ``(B,)`` long, ``path`` and ``signer`` lists.
        batch_size: batch size when a dataset is given.
        label_names: class list mapping integer labels to names; by default taken from
            the dataset (``classes`` or ``manifest.labels()``), else the integers as text.
        device: where to run; default = the encoder's parameters' device (CPU if none).
        max_frames: longest clip when a dataset is given (longer ones are subsampled).
    Returns:
        :class:`Features` in iteration order (the dataset's order when not shuffled).
    """
    if not isinstance(encoder, Encoder):
        raise ConfigError(f"expected a signssl Encoder, got {type(encoder).__name__}")
    if label_names is None:
        label_names = dataset_label_names(dataset_or_loader) or dataset_label_names(
            getattr(dataset_or_loader, "dataset", None)
        )
    loader: Iterable[Any]
    if isinstance(dataset_or_loader, torch.utils.data.Dataset) and not isinstance(
        dataset_or_loader, torch.utils.data.IterableDataset
    ):
        loader = pose_loader(dataset_or_loader, batch_size=batch_size, max_frames=max_frames)
    else:
        loader = dataset_or_loader
    dev = torch.device(device) if device is not None else _encoder_device(encoder)
    was_training = encoder.training
    encoder.eval().to(dev)
    feats: list[np.ndarray] = []
    labels: list[str] = []
    paths: list[str] = []
    signers: list[str] = []
    total = len(loader) if hasattr(loader, "__len__") else None  # type: ignore[arg-type]
    try:
        for batch in progress_bar(loader, total=total, desc="embed", disable=not progress, leave=False):
            x = _move(batch, dev)
            z = encoder.embed(x)  # (B, D)
            if z.ndim != 2:
                raise ConfigError(f"{type(encoder).__name__}.embed returned shape {tuple(z.shape)}, "
                                  "expected (B, D)")
            b = z.shape[0]
            feats.append(z.detach().float().cpu().numpy())
            labels += _batch_labels(batch, b, label_names)
            paths += _batch_list(batch, "path", b)
            signers += _batch_list(batch, "signer", b)
    finally:
        encoder.train(was_training)
    if not feats:
        raise DataError("no sample to embed (empty dataset, or every sample was skipped)")
    return Features(np.concatenate(feats), labels, paths, signers)


def _encoder_device(encoder: Encoder) -> torch.device:
    for p in encoder.parameters():
        return p.device
    for b in encoder.buffers():
        return b.device
    return torch.device("cpu")


def _batch_list(batch: Any, key: str, b: int) -> list[str]:
    vals = batch.get(key) if isinstance(batch, dict) else None
    if vals is None:
        return [""] * b
    return ["" if v is None else str(v) for v in vals]


def _batch_labels(batch: Any, b: int, names: Sequence[str] | None) -> list[str]:
    lab = batch.get("label") if isinstance(batch, dict) else None
    if lab is None:
        return [""] * b
    out = []
    for v in (lab.tolist() if isinstance(lab, Tensor) else list(lab)):
        if isinstance(v, str):
            out.append(v)
        elif v is None or int(v) < 0:
            out.append("")
        elif names is not None and int(v) < len(names):
            out.append(names[int(v)])
        else:
            out.append(str(int(v)))
    return out
