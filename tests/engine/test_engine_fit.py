"""The Lightning module and ``fit``: run directory, logs, hooks, collapse monitor, resume."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest
import torch
import yaml
from engine_toys import ToyDataset, ToyEncoder, ToyMethod, toy_config
from lightning.pytorch.callbacks import Callback

from signssl.engine.config import load_run_config
from signssl.engine.module import collapse_std
from signssl.engine.pretraining import read_run_metrics, read_summary
from signssl.engine.run import fit, schedule_lengths, warmup_warning
from signssl.errors import ConfigError
from signssl.store.model import weights_of

EXPORT = {"name": "toy", "kwargs": {}}


def test_collapse_std_hand_values_and_reference() -> None:
    same = torch.ones(5, 4) * torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert collapse_std(same).item() == pytest.approx(0.0, abs=1e-7)  # collapsed
    # rows (1,0) and (0,1): per-dimension values {1, 0}, unbiased std = sqrt(1/2)
    assert collapse_std(torch.eye(2)).item() == pytest.approx(math.sqrt(0.5))
    # a naive loop as the reference
    z = torch.randn(7, 5, generator=torch.Generator().manual_seed(0)) * 3
    rows = [v / v.norm() for v in z]
    ref = sum(
        math.sqrt(sum((r[d] - sum(q[d] for q in rows) / 7) ** 2 for r in rows) / 6) for d in range(5)
    ) / 5
    assert collapse_std(z).item() == pytest.approx(float(ref), rel=1e-5)
    # healthy embeddings: about 1/sqrt(D)
    g = torch.randn(8192, 64, generator=torch.Generator().manual_seed(1))
    assert collapse_std(g).item() == pytest.approx(1 / 8, rel=0.03)


def test_schedule_lengths() -> None:
    cfg = toy_config(data__batch_size=8, trainer__max_epochs=3, optim__warmup_steps=None,
                     optim__warmup_epochs=0.5)
    assert schedule_lengths(30, cfg) == (3, 9, 2)  # 30 // 8 steps/epoch, round(0.5 * 3) warmup
    capped = toy_config(data__batch_size=8, trainer__max_epochs=3, trainer__max_steps=4)
    assert schedule_lengths(30, capped)[1] == 4
    with pytest.raises(ConfigError, match="fewer than one batch"):
        schedule_lengths(5, cfg)


def test_warmup_warning_when_warmup_takes_more_than_half_of_the_run() -> None:
    # 24 clips, batch 8: 3 steps per epoch
    def warning(**sets: object) -> str | None:
        return warmup_warning(24, toy_config(data__batch_size=8, optim__warmup_steps=None, **sets))

    text = warning(trainer__max_epochs=2, optim__warmup_epochs=5)
    assert text is not None
    assert "warmup is 15 steps (optim.warmup_epochs=5, 3 steps per epoch) but the run has 6" in text
    assert "never reaches optim.lr" in text
    assert "set trainer.max_epochs >= 10 or lower optim.warmup_epochs" in text
    text = warning(trainer__max_epochs=3, optim__warmup_epochs=2)  # 6 of 9 steps
    assert text is not None and "stays below optim.lr for more than half of the run" in text
    assert warning(trainer__max_epochs=2, optim__warmup_epochs=1) is None  # exactly half
    assert warning(trainer__max_epochs=2, optim__warmup_epochs=0) is None
    capped = warmup_warning(24, toy_config(data__batch_size=8, trainer__max_epochs=9,
                                           trainer__max_steps=5, optim__warmup_steps=4))
    assert capped is not None
    assert "(optim.warmup_steps=4, 3 steps per epoch) but the run has 5" in capped
    assert "set trainer.max_steps >= 8 or lower optim.warmup_steps" in capped


def test_fit_warns_about_a_run_too_short_to_leave_warmup(tmp_path: Path, caplog) -> None:
    cfg = toy_config(trainer__max_epochs=1, optim__warmup_steps=3)  # 3 steps, all warmup
    with caplog.at_level(logging.WARNING, logger="signssl"):
        result = fit(ToyMethod(ToyEncoder()), ToyDataset(24), cfg, tmp_path, export=EXPORT)
    assert len(result.warnings) == 1 and "never reaches optim.lr" in result.warnings[0]
    assert f"{tmp_path}: {result.warnings[0]}" in caplog.text
    assert read_summary(tmp_path)["warnings"] == result.warnings
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="signssl"):
        result = fit(ToyMethod(ToyEncoder()), ToyDataset(24), toy_config(), tmp_path / "ok")
    assert result.warnings == [] and "warmup" not in caplog.text


def test_progress_in_a_log_is_plain_lines_over_the_run_steps(tmp_path: Path, capsys) -> None:
    """stderr is not a terminal here (captured): no redrawn bar, a line at the start and at
    the end with the steps done and the last loss; a resumed run starts at its checkpoint."""
    cfg = toy_config(trainer__max_epochs=2)
    fit(ToyMethod(ToyEncoder()), ToyDataset(24), cfg, tmp_path, progress=True)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("pretrain:")]
    assert "\r" not in err
    assert [line.split(" [")[0] for line in lines] == ["pretrain:   0% 0/6", "pretrain: 100% 6/6"]
    assert "step/s, loss 0." in lines[-1]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(toy_config(trainer__max_epochs=3).to_dict()))
    fit(ToyMethod(ToyEncoder()), ToyDataset(24), toy_config(trainer__max_epochs=3), tmp_path,
        resume=True, progress=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("pretrain:")]
    assert [line.split(" [")[0] for line in lines] == ["pretrain:  67% 6/9", "pretrain: 100% 9/9"]


def test_fit_writes_run_logs_and_calls_momentum_hook(tmp_path: Path) -> None:
    torch.manual_seed(0)
    method = ToyMethod(ToyEncoder())
    cfg = toy_config(trainer__max_epochs=2, optim__lr=0.1, optim__warmup_steps=2, optim__min_lr=0.01)
    assert not torch.are_deterministic_algorithms_enabled()
    result = fit(method, ToyDataset(24), cfg, tmp_path, export=EXPORT)
    assert not torch.are_deterministic_algorithms_enabled()  # the process flag is restored
    total = 6  # 24 // 8 steps per epoch, 2 epochs
    assert (result.global_step, result.total_steps, result.steps_per_epoch) == (total, total, 3)
    # after each optimiser step: step = steps completed, max_steps = the run's total
    assert method.step_calls == [(s, total) for s in range(1, total + 1)]
    assert int(method.steps_seen) == total
    # files
    for rel in ("config.yaml", "summary.json", "checkpoints/last.ckpt", "model/model.safetensors",
                "model/config.json", "logs/csv/metrics.csv"):
        assert (tmp_path / rel).is_file(), rel
    assert load_run_config(tmp_path) == cfg
    summary = read_summary(tmp_path)
    assert summary["global_step"] == total and summary["clips"] == 24
    # the export is the trained encoder
    state = weights_of(tmp_path)
    assert all(torch.equal(state[k], v) for k, v in method.encoder.state_dict().items())
    # every step logged: loss, collapse monitor, lr following warmup + cosine
    series = read_run_metrics(tmp_path)
    assert [s for s, _ in series["train/loss"]] == list(range(total))
    assert [s for s, _ in series["train/collapse_std"]] == list(range(total))
    lrs = [v for _, v in series["train/lr"]]
    want = [0.05, 0.1] + [0.01 + 0.09 * 0.5 * (1 + math.cos(math.pi * k / 4)) for k in range(4)]
    assert lrs == pytest.approx(want, rel=1e-6)
    assert "train/proj_norm" in series  # extra scalar terms are logged
    assert summary["final_loss"] == pytest.approx(series["train/loss"][-1][1])


def test_run_directory_is_never_overwritten(tmp_path: Path) -> None:
    cfg = toy_config(trainer__max_epochs=1)
    fit(ToyMethod(ToyEncoder()), ToyDataset(16), cfg, tmp_path, export=EXPORT)
    with pytest.raises(ConfigError, match="already holds a run; pass --resume"):
        fit(ToyMethod(ToyEncoder()), ToyDataset(16), cfg, tmp_path, export=EXPORT)
    with pytest.raises(ConfigError, match="--resume: .*last.ckpt not found"):
        fit(ToyMethod(ToyEncoder()), ToyDataset(16), cfg, tmp_path / "new", resume=True)


class Crash(Callback):
    """Simulates a crash once ``at`` optimiser steps are done (and checkpointed)."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        if trainer.global_step == self.at:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize(
    ("every", "crash_at", "saved_at"),
    [
        (2, 5, 4),  # mid-epoch
        (2, 6, 6),  # a periodic checkpoint that falls on an epoch's last batch
        (100, 4, 3),  # no periodic checkpoint yet: the one written as epoch 0 ended
        (100, 7, 6),  # the same after epoch 1
    ],
)
def test_resume_after_crash_matches_uninterrupted(
    tmp_path: Path, every: int, crash_at: int, saved_at: int
) -> None:
    """Dropout, noisy views, EMA target, warmup+cosine and the data order all continue
    exactly from every checkpoint: the resumed run ends with bit-identical weights."""
    cfg = toy_config(trainer__max_epochs=3, trainer__checkpoint_every_n_steps=every)  # 3 steps/epoch
    data = ToyDataset(24)
    torch.manual_seed(0)
    fit(ToyMethod(ToyEncoder()), data, cfg, tmp_path / "full", export=EXPORT)

    torch.manual_seed(0)
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(ToyMethod(ToyEncoder()), data, cfg, tmp_path / "cut", export=EXPORT,
            callbacks=[Crash(crash_at)])
    assert not (tmp_path / "cut" / "model").exists()
    torch.manual_seed(123)  # a different initialisation: the weights must come from the checkpoint
    resumed = fit(ToyMethod(ToyEncoder()), data, cfg, tmp_path / "cut", resume=True, export=EXPORT)
    assert resumed.resumed_from_step == saved_at
    a, b = weights_of(tmp_path / "full"), weights_of(tmp_path / "cut")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # logs of both sessions are kept and joined; redone steps are not duplicated
    loss_cut = read_run_metrics(tmp_path / "cut")["train/loss"]
    loss_full = read_run_metrics(tmp_path / "full")["train/loss"]
    assert [s for s, _ in loss_cut] == list(range(9))
    assert [v for _, v in loss_cut] == pytest.approx([v for _, v in loss_full], rel=1e-6)


def test_resume_can_extend_a_finished_run(tmp_path: Path) -> None:
    """A finished run resumed with more epochs equals a run trained that long at once
    when nothing depends on the planned length (constant lr; NT-Xent, no EMA target)."""
    data = ToyDataset(16)
    short = toy_config(trainer__max_epochs=2, optim__schedule="constant", optim__warmup_steps=0)
    long = toy_config(trainer__max_epochs=4, optim__schedule="constant", optim__warmup_steps=0)
    torch.manual_seed(0)
    fit(ToyMethod(ToyEncoder(), loss="nt_xent"), data, long, tmp_path / "long", export=EXPORT)
    torch.manual_seed(0)
    fit(ToyMethod(ToyEncoder(), loss="nt_xent"), data, short, tmp_path / "ext", export=EXPORT)
    (tmp_path / "ext" / "config.yaml").write_text(yaml.safe_dump(long.to_dict()))
    fit(ToyMethod(ToyEncoder(), loss="nt_xent"), data, long, tmp_path / "ext", resume=True,
        export=EXPORT)
    a, b = weights_of(tmp_path / "long"), weights_of(tmp_path / "ext")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)  # the exported encoder


class Record(Callback):
    def __init__(self) -> None:
        self.batches: list[tuple[int, list[int]]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:  # noqa: ANN001
        self.batches.append((trainer.current_epoch, batch["index"].tolist()))


def test_each_epoch_is_a_fresh_seeded_permutation(tmp_path: Path) -> None:
    cfg = toy_config(trainer__max_epochs=3)
    runs = []
    for name in ("a", "b"):
        rec = Record()
        fit(ToyMethod(ToyEncoder()), ToyDataset(24), cfg, tmp_path / name, callbacks=[rec])
        runs.append(rec.batches)
    assert runs[0] == runs[1]  # same seed, same order
    epochs = [sorted(i for e, b in runs[0] if e == k for i in b) for k in range(3)]
    assert all(ep == list(range(24)) for ep in epochs)  # 24 = 3 full batches of 8
    orders = [[i for e, b in runs[0] if e == k for i in b] for k in range(3)]
    assert orders[0] != orders[1] != orders[2]
