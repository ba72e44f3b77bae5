"""The pretraining composition root: config -> data, encoder, method -> Lightning -> RUN/.

:func:`pretrain` builds everything from a :class:`~signssl.engine.config.PretrainConfig`
and a manifest: it takes the run directory, resolves ``data.sources`` and hands over to
the pose branch (:mod:`signssl.engine.pretrain_pose`) or the video branch
(:mod:`signssl.engine.pretrain_video`), which both train with
:func:`~signssl.engine.run.fit` and write the run directory described in
:mod:`signssl.store.model`; :func:`read_summary` and :func:`read_run_metrics` read a run
back.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

from signssl.engine.config import PretrainConfig
from signssl.engine.datasets import sources_for_pretraining
from signssl.engine.loader import seed_all
from signssl.engine.pretrain_pose import pretrain_pose
from signssl.engine.pretrain_video import pretrain_video
from signssl.engine.run import CSV_DIR, SUMMARY_FILE, PretrainResult, check_run_dir, lock_run_dir
from signssl.errors import DataError
from signssl.methods.registry import method_modality


def pretrain(
    cfg: PretrainConfig,
    data: str | Path | Any,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool | None = None,
    callbacks: Sequence[Callback] = (),
) -> PretrainResult:
    """Pretrain ``cfg.method`` on the clips of manifest ``data``; write run dir ``out``.

    With ``cfg.data.sources`` (pose methods) ``data`` is ``None`` and the clips are drawn
    from those sources by weight (:mod:`signssl.engine.sources`).

    The encoder is exported to ``out/model`` (``load_model(out)`` rebuilds it).
    ``resume=True`` continues ``out/checkpoints/last.ckpt`` to the same final weights an
    uninterrupted run reaches.

    Video methods (``signrep``, ``mae``: ``modality = "video"``) read a video manifest
    (:func:`pretrain_video`); the others read pose clips.  With
    ``trainer.val_every_n_steps > 0`` the run is validated by retrieval on held-out
    clips and its best encoder exported to ``out/best`` (:mod:`signssl.engine.validation`).
    """
    out = Path(out)
    with lock_run_dir(out):  # a second job on ``out`` fails before reading any data
        return _pretrain(cfg, data, out, resume=resume, progress=progress, callbacks=callbacks)


def _pretrain(
    cfg: PretrainConfig,
    data: str | Path | Any,
    out: Path,
    *,
    resume: bool,
    progress: bool | None,
    callbacks: Sequence[Callback],
) -> PretrainResult:
    check_run_dir(out, resume)
    seed_all(cfg.trainer.seed)
    show = cfg.trainer.progress_bar if progress is None else progress
    mixed = None
    if cfg.data.sources:  # several sources mixed by weight (signssl.engine.sources)
        video = method_modality(cfg.method.name) == "video"
        cfg, mixed = sources_for_pretraining(cfg, data, video, progress=show)
        data = mixed.first_manifest()  # validation queries (trainer.val_every_n_steps)
    if method_modality(cfg.method.name) == "video":
        return pretrain_video(
            cfg, data, out, resume=resume, progress=progress, callbacks=callbacks, show=show
        )
    return pretrain_pose(
        cfg, data, out, mixed=mixed, resume=resume, progress=progress, callbacks=callbacks,
        show=show,
    )


def read_run_metrics(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Logged series of a run, ``{name: [(step, value), ...]}`` sorted by step.

    Sessions of a resumed run are joined; where two sessions logged the same step (the
    steps redone after the last checkpoint) the later session wins.  Cells that are not
    numbers are skipped (:func:`read_run_metrics_counted` counts them).
    """
    return read_run_metrics_counted(run_dir)[0]


def read_run_metrics_counted(
    run_dir: str | Path,
) -> tuple[dict[str, list[tuple[int, float]]], dict[str, int]]:
    """:func:`read_run_metrics` and, per name, the number of logged cells skipped because
    the cell or its row's step is not a number (e.g. a line cut off when a run was killed)."""
    csv_dir = Path(run_dir) / CSV_DIR
    parts = sorted(csv_dir.glob("metrics.part*.csv"), key=lambda p: int(p.stem[len("metrics.part"):]))
    series: dict[str, dict[int, float]] = {}
    skipped: dict[str, int] = {}
    for path in [*parts, csv_dir / "metrics.csv"]:
        if not path.is_file():
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                cells = {k: v for k, v in row.items()
                         if k not in ("step", "epoch") and v not in ("", None)}  # fmt: skip
                for key, value in cells.items():
                    try:
                        step, number = int(row.get("step") or 0), float(value)
                    except (TypeError, ValueError):
                        skipped[key] = skipped.get(key, 0) + 1
                        continue
                    series.setdefault(key, {})[step] = number
    return {k: sorted(v.items()) for k, v in series.items()}, skipped


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """``RUN/summary.json`` as a dict."""
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise DataError("no summary.json: the run has not finished", run_dir)
    return json.loads(path.read_text(encoding="utf-8"))
