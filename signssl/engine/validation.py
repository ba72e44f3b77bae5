"""Retrieval validation during pretraining and the best-model export (``RUN/best/``).

With ``trainer.val_every_n_steps = N > 0`` the encoder is evaluated every ``N`` optimiser
steps (and after the last one): frozen features (eval mode, no augmentation, no mask) of
the manifest's ``train`` split form the dictionary, those of the query split
(``trainer.val_split``; by default ``val`` when the manifest has such rows, else
``test``) are the queries, scored with the retrieval protocol of
:func:`signssl.eval.frozen.frozen_eval` (ASL Citizen: DCG, MRR, Recall@k, top-k).
The metrics are logged as ``val/<metric>`` (e.g. ``val/mrr``, ``val/top1_per_instance``)
at that step.  Whenever the MRR beats every earlier validation of the run (ties keep the
earlier encoder), the encoder is exported to ``RUN/best/`` exactly like ``RUN/model/``
(``load_model(RUN / "best")`` rebuilds it) with ``best_step`` and ``best_metrics`` added
to its ``config.json``.  The best value and step are saved in ``last.ckpt``, so a resumed
run keeps comparing against them.  Only the process of rank 0 evaluates and exports.

The pretraining itself never sees labels; the validation uses the labels of the
dictionary and query clips only to score the frozen features.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from signssl.errors import ConfigError
from signssl.eval.frozen import frozen_eval, split_features
from signssl.store.model import export_extras, write_model
from signssl.store.spec import DataSpec, ModelDescription

BEST_DIR = "best"
#: the metric that picks the best encoder (higher is better)
SELECT_METRIC = "retrieval/mrr"
#: retrieval metrics logged as ``val/<name>`` (the counts are left out)
LOGGED = (
    "mrr", "dcg", "top1_per_instance", "top1_per_class", "top5_per_instance",
    "recall@1", "recall@5", "recall@10",
)  # fmt: skip


def query_split(manifest: Any, wanted: str | None = None) -> str:
    """The split whose clips are the validation queries (module docstring).

    Raises :class:`ConfigError` when the manifest has no labelled ``train`` rows or no
    rows of the query split.
    """
    splits = {row.split for row in manifest.rows if row.label}
    if "train" not in splits:
        raise ConfigError(
            "trainer.val_every_n_steps needs labelled 'train' rows in the manifest (the "
            "retrieval dictionary); make a split with `signssl manifest split` or set it to 0"
        )
    split = wanted or ("val" if "val" in splits else "test")
    if split not in splits:
        raise ConfigError(
            f"trainer.val_every_n_steps: the manifest has no labelled '{split}' rows to use as "
            f"queries (splits with labels: {sorted(s or '-' for s in splits)}); set "
            "trainer.val_split or add a split"
        )
    return split


class RetrievalValidation(Callback):
    """Logs ``val/*`` retrieval metrics every ``every_n_steps`` steps; exports the best.

    Args:
        manifest: the labelled manifest (a :class:`~signssl.data.Manifest`).
        spec: how the encoder reads clips.
        every_n_steps: validation interval in optimiser steps.
        best_dir: where the best encoder is exported (``RUN/best``).
        export: the encoder's description, as for ``RUN/model`` (see ``fit``).
        split: query split (``None`` = :func:`query_split`'s default).
        batch_size: clips per embedding batch.
    """

    def __init__(
        self,
        manifest: Any,
        spec: DataSpec,
        every_n_steps: int,
        best_dir: str | Path,
        export: ModelDescription | Mapping[str, Any],
        split: str | None = None,
        batch_size: int = 64,
    ) -> None:
        if every_n_steps < 1:
            raise ConfigError(f"validation interval must be >= 1 step, got {every_n_steps}")
        self.manifest, self.spec = manifest, spec
        self.every_n_steps = int(every_n_steps)
        self.best_dir = Path(best_dir)
        self.export = ModelDescription.of(export)
        self.split = query_split(manifest, split)
        self.batch_size = int(batch_size)
        self.best: float | None = None
        self.best_step: int | None = None
        self.history: list[tuple[int, dict[str, float]]] = []
        self._done_step = -1

    # ------------------------------------------------------------------ hooks

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any
    ) -> None:
        step = int(trainer.global_step)
        if step > 0 and (step % self.every_n_steps == 0 or step >= int(trainer.max_steps)):
            self._validate(trainer, pl_module, step, inside_step=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """A run stopped before its last planned step is validated at its end too."""
        self._validate(trainer, pl_module, int(trainer.global_step), inside_step=False)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")
        self.best_step = state_dict.get("best_step")

    # ------------------------------------------------------------------ work

    def evaluate(self, encoder: Any) -> dict[str, float]:
        """Retrieval metrics of ``encoder`` (queries = the query split, dictionary = train)."""
        train, queries = split_features(
            encoder, self.manifest, self.spec, self.batch_size, splits=("train", self.split)
        )
        return frozen_eval(train, queries, protocols=("retrieval",))

    def _validate(
        self, trainer: L.Trainer, pl_module: L.LightningModule, step: int, inside_step: bool
    ) -> None:
        if step in (0, self._done_step) or trainer.sanity_checking:
            return
        self._done_step = step
        if not trainer.is_global_zero:
            return
        encoder = pl_module.method.encoder
        metrics = self.evaluate(encoder)
        self.history.append((step, metrics))
        logged = {
            "val/" + name.split("/", 1)[-1]: value
            for name, value in metrics.items()
            if name.split("/", 1)[-1] in LOGGED
        }
        if inside_step:
            for key, value in logged.items():
                pl_module.log(key, value, rank_zero_only=True, batch_size=1)
        else:  # after the fit loop Lightning refuses self.log: write to the loggers directly
            for logger in trainer.loggers:
                logger.log_metrics(logged, step=step)
        score = metrics.get(SELECT_METRIC)
        if score is not None and (self.best is None or score > self.best):
            self.best, self.best_step = float(score), step
            self._export(encoder, metrics)
            export_extras(pl_module.method, self.best_dir)

    def _export(self, encoder: Any, metrics: dict[str, float]) -> None:
        best = self.export.with_extra(
            best_step=self.best_step,
            best_metric=SELECT_METRIC,
            best_metrics=metrics,
            val_split=self.split,
        )
        write_model(encoder, self.best_dir, best)
