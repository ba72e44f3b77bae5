"""What one evaluation run is given, besides its encoder (:class:`~signssl.eval.pipeline.EncoderSpec`).

* :class:`EvalData`: the manifests, which rows train and which test, how many seeds;
* :class:`Embedding`: how frozen vectors are made (batch size, sliding-window pooling);
* :class:`EvalOutput`: the report folder and its figures;
* one class per protocol with that protocol's own settings: :class:`Retrieval`,
  :class:`Knn`, :class:`LinearProbe`, :class:`Finetune`.  Its ``protocol`` names it and
  :meth:`kwargs` are the keyword arguments of the protocol's function (and the
  ``config`` recorded in ``metrics.json``).

>>> Knn(k=5).protocol, Knn(k=5).kwargs()
('knn', {'k': 5, 'temperature': 0.07})
>>> Finetune(epochs=2).kwargs()["epochs"], "weight_decay" in Finetune().kwargs()
(2, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class EvalData:
    """The rows evaluated (:func:`~signssl.eval.data_splits.choose_splits`).

    ``data`` (a manifest CSV, a :class:`~signssl.data.Manifest` or a pose shard folder
    written by ``signssl shard``) gives the training / dictionary rows (``train_split``)
    and the test / query rows (``test_split``), unless ``test_data`` is given (transfer).
    Without a split column: leave-one-out, or a seeded stratified hold-out of ``holdout``
    per class.  ``seeds`` runs use seeds ``0..seeds-1``; ``label_fraction`` keeps that
    stratified share of training labels.
    """

    data: Any
    test_data: Any | None = None
    train_split: str = "train"
    test_split: str = "test"
    seeds: int = 1
    label_fraction: float | None = None
    holdout: float | None = None


@dataclass(frozen=True)
class Embedding:
    """How frozen vectors are made: ``batch_size`` samples per batch; ``pooling``
    (``"avg"`` / ``"weighted"``) pools sliding windows of ``window`` frames every ``stride``
    instead of embedding whole clips (video encoders always pool, ``None`` = weighted with
    an activity head, else avg)."""

    batch_size: int = 64
    pooling: str | None = None
    window: int | None = None
    stride: int = 2


@dataclass(frozen=True)
class EvalOutput:
    """The report folder (``metrics.json``, ``report.md``, figures unless ``plots`` is
    off, ``scores.npz`` of a classifier); ``projection`` (``pca`` / ``tsne``) draws the
    embedding map; ``progress`` shows progress bars."""

    out_dir: str | Path
    plots: bool = True
    projection: str = "pca"
    progress: bool = True


class _Protocol:
    """The settings of one protocol: ``protocol`` names it, :meth:`kwargs` are the keyword
    arguments of its function."""

    protocol: ClassVar[str]

    def kwargs(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Retrieval(_Protocol):
    """Dictionary retrieval: a label scored by its ``nearest`` entry or the ``mean`` of its
    entries (:func:`~signssl.eval.retrieval.retrieval_eval`)."""

    protocol: ClassVar[str] = "retrieval"
    aggregate: str = "nearest"


@dataclass(frozen=True)
class Knn(_Protocol):
    """k-NN classification with votes weighted ``exp(s / temperature)``; ``k=None`` chooses
    it from the class sizes (:func:`~signssl.eval.knn.choose_k`)."""

    protocol: ClassVar[str] = "knn"
    k: int | None = None
    temperature: float = 0.07


@dataclass(frozen=True)
class LinearProbe(_Protocol):
    """A linear classifier on frozen vectors (``backend``: ``sklearn`` | ``torch``)."""

    protocol: ClassVar[str] = "linear"
    backend: str = "sklearn"


@dataclass(frozen=True)
class Finetune(_Protocol):
    """Encoder + linear head trained end to end (:func:`~signssl.eval.finetune.finetune_eval`).

    Settings left ``None`` take ``finetune_eval``'s defaults (``max_frames``: the
    encoder's frame budget) and are not recorded."""

    protocol: ClassVar[str] = "finetune"
    epochs: int = 20
    lr: float = 1e-3
    optimizer: str = "adamw"
    schedule: str = "cosine"
    step_milestones: Sequence[float] | None = None
    weight_decay: float | None = None
    label_smoothing: float = 0.1
    warmup_epochs: float | None = None
    batch_size: int = 64
    train_crop: str = "uniform"
    max_frames: int | None = None

    def kwargs(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


#: the settings of one protocol
ProtocolOptions = Retrieval | Knn | LinearProbe | Finetune
PROTOCOL_OPTIONS: tuple[type, ...] = (Retrieval, Knn, LinearProbe, Finetune)
