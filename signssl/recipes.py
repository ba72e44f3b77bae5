"""Training recipes shared by the command line and the library, kept free of heavy imports
so that the CLI can use them as option defaults."""

from __future__ import annotations

from typing import Any

#: MASA's fine-tuning recipe (docs/methods.md#masa-fine-tuning) as
#: :func:`signssl.eval.finetune.finetune_eval` arguments: SGD momentum 0.9, lr 0.01 x0.1
#: every 20 of 60 epochs (milestones 1/3, 2/3), batch 64, random temporal sampling in
#: training.  The defaults of ``signssl finetune`` and of a study's ``finetune:``.
MASA_FINETUNE: dict[str, Any] = {
    "epochs": 60, "batch_size": 64, "optimizer": "sgd", "lr": 0.01, "weight_decay": 1e-4,
    "schedule": "step", "step_milestones": [1 / 3, 2 / 3], "label_smoothing": 0.0,
    "train_crop": "random",
}
