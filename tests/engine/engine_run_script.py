"""Train the toy method in a separate process (kill-and-resume and DDP tests).

    python engine_run_script.py RUN [--resume] [--sleep S] [--devices N] [--loss mse|nt_xent]
        [--batch B] [--items N] [--epochs E] [--grads FILE] [--lr LR]

Prints ``STEP <n>`` (flushed) after every optimiser step; with ``--grads`` rank 0 saves
the gradients of the first step and the per-step losses (averaged over ranks) to FILE.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).parent))

from engine_toys import ToyDataset, ToyEncoder, ToyMethod, toy_config  # noqa: E402

from signssl.engine.run import fit  # noqa: E402


class Probe(Callback):
    """Announce steps, slow them down, record first-step gradients and losses."""

    def __init__(self, sleep: float, grads_file: str | None) -> None:
        self.sleep = sleep
        self.grads_file = grads_file
        self.grads: dict[str, torch.Tensor] = {}
        self.losses: list[float] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:  # noqa: ANN001
        if trainer.global_step == 0 and self.grads_file:
            self.grads = {
                n: p.grad.detach().clone() for n, p in pl_module.named_parameters() if p.grad is not None
            }

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        loss = trainer.callback_metrics["train/loss"]  # synced mean over ranks
        self.losses.append(float(loss))
        if trainer.is_global_zero:
            print(f"STEP {trainer.global_step}", flush=True)
        if self.sleep:
            time.sleep(self.sleep)

    def on_train_end(self, trainer, pl_module) -> None:  # noqa: ANN001
        if self.grads_file and trainer.is_global_zero:
            torch.save({"grads": self.grads, "losses": self.losses}, self.grads_file)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--sleep", type=float, default=0.0)
    ap.add_argument("--devices", type=int, default=1)
    ap.add_argument("--loss", default="mse")
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--items", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--grads", default=None)
    args = ap.parse_args()

    torch.manual_seed(0)
    method = ToyMethod(ToyEncoder(dropout=args.dropout), noise=args.noise, loss=args.loss)
    cfg = toy_config(
        data__batch_size=args.batch,
        optim__lr=args.lr,
        trainer__max_epochs=args.epochs,
        trainer__devices=args.devices,
        trainer__strategy="ddp" if args.devices > 1 else "auto",
    )
    fit(
        method,
        ToyDataset(args.items),
        cfg,
        args.run,
        resume=args.resume,
        export={"name": "toy", "kwargs": {}},
        callbacks=[Probe(args.sleep, args.grads)],
        progress=False,
    )


if __name__ == "__main__":
    main()
