"""Progress of a Lightning run as one bar over its optimiser steps.

:class:`StepProgress` replaces Lightning's own bars: it draws through
:func:`signssl.utils.progress_bar`, so a run on a terminal shows a bar redrawn in place
and a run whose stderr is a log (CI, ``nohup``) writes a plain line at the start, every
:data:`signssl.utils.PLAIN_PROGRESS_SECONDS` seconds and at the end.  The line shows the
steps done of the run's total (a resumed run starts at its checkpoint) and the last
``train/loss``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import lightning as L
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar

from signssl.utils import progress_bar

if TYPE_CHECKING:
    from tqdm import tqdm


class StepProgress(ProgressBar):
    """A progress bar over ``trainer.estimated_stepping_batches`` optimiser steps."""

    def __init__(self, desc: str = "pretrain") -> None:
        super().__init__()
        self.desc = desc
        self._enabled = True
        self._bar: tqdm | None = None

    def disable(self) -> None:  # Lightning calls it on every rank but the first
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        total = trainer.estimated_stepping_batches
        self._bar = progress_bar(
            total=int(total) if math.isfinite(total) else None,
            initial=trainer.global_step,
            desc=self.desc,
            unit="step",
            disable=not self._enabled,
        )

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self._bar is None:
            return
        loss = trainer.callback_metrics.get("train/loss")
        if loss is not None:
            self._bar.set_postfix_str(f"loss {float(loss):.4f}", refresh=False)
        self._bar.update(trainer.global_step - self._bar.n)  # drawn when the interval allows

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.on_train_end(trainer, pl_module)
