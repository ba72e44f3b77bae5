"""Training commands: ``signssl pretrain``, ``signssl boundary-search``, ``signssl demo``.

Thin: options are parsed into a configuration and handed to ``signssl.engine`` /
``signssl.studies.boundary_search``; results are printed with rich.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from signssl.distributed import launched_as_rank_zero, set_process_threads
from signssl.engine.config import load_config, load_run_config
from signssl.engine.sources import SourceSpec, parse_source, parse_sources
from signssl.errors import ConfigError
from signssl.methods import list_methods
from signssl.studies.boundary_search import boundary_search
from signssl.studies.demo import run_demo
from signssl.studies.study import run_study
from signssl.studies.study_report import format_table, table_columns
from signssl.studies.study_spec import load_spec
from signssl.utils import save_json

out = Console(highlight=False)

RUN_FILE = "run.json"

ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config", "-c",
        help="Built-in profile ('tiny': small CPU setting) or a YAML file, overlaid on the "
        "method's paper configuration.",
    ),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s",
        help="Override one value: dotted key = YAML value, e.g. --set optim.lr=0.01 "
        "--set method.kwargs.b_s=0.25 (repeatable).",
    ),
]
DataOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--data", "-d",
        help="Manifest CSV (signssl manifest / signssl synth). Repeat to mix sources (pose methods): "
        "PATH[:WEIGHT] or synth[:classes=N,signers=N,frames=N,seed=N,minimal_pair_rate=X,noise=X]"
        "[:WEIGHT] (generated on the fly). Weights are relative; a manifest without one weighs its "
        "share of the unweighted manifests' clips (so they mix by size and together weigh 1), synth without "
        "one weighs 1. An epoch is the manifests' clips together (--set data.samples_per_epoch=N "
        "to change it; needed with synth only).",
    ),
]




def _method_help() -> str:
    """``--method`` help: the registered recipes (:func:`signssl.methods.list_methods`)."""
    *rest, last = list_methods()
    return f"{', '.join(rest)} or {last}." if rest else f"{last}."


def _overrides(
    sets: list[str] | None,
    max_epochs: int | None = None,
    max_steps: int | None = None,
    devices: int | None = None,
    strategy: str | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    init: Path | None = None,
    num_nodes: int | None = None,
) -> list[str]:
    """``--set`` items plus the shortcut options, shortcuts last (they win)."""
    items = list(sets or [])
    for key, value in (
        ("trainer.max_epochs", max_epochs),
        ("trainer.max_steps", max_steps),
        ("trainer.devices", devices),
        ("trainer.strategy", strategy),
        ("trainer.num_nodes", num_nodes),
        ("trainer.seed", seed),
        ("trainer.progress_bar", None if progress is None else str(progress).lower()),
        ("model.init", None if init is None else json.dumps(str(init))),
    ):
        if value is not None:
            items.append(f"{key}={value}")
    return items


def pretrain_cmd(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Run directory to create (or resume).")],
    method: Annotated[
        str | None,
        typer.Option("--method", "-m", help=_method_help()),
    ] = None,
    options: DataOpt = None,
    config: ConfigOpt = None,
    sets: SetOpt = None,
    max_epochs: Annotated[int | None, typer.Option(help="Shortcut for --set trainer.max_epochs=N.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Stop after N optimiser steps.")] = None,
    devices: Annotated[int | None, typer.Option(help="Devices (GPUs, or CPU processes with ddp).")] = None,
    strategy: Annotated[str | None, typer.Option(help="auto, ddp (gloo on CPU, NCCL on GPU), ...")] = None,
    num_nodes: Annotated[int | None, typer.Option(
        help="Machines (each running --devices processes: torchrun, SLURM srun; docs/distributed.md).")] = None,
    threads: Annotated[int | None, typer.Option(
        help="Torch threads per process (default: cores // processes on this machine, or "
             "OMP_NUM_THREADS when set).")] = None,
    seed: Annotated[int | None, typer.Option(help="Shortcut for --set trainer.seed=N.")] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="Initialise the encoder from a run, model/ dir or .safetensors."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue RUN from checkpoints/last.ckpt (same result as no stop).")
    ] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="Progress bar.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved configuration and stop.")] = False,
) -> None:
    """Pretrain an encoder with a self-supervised method; writes RUN/model for evaluation."""
    items = _overrides(sets, max_epochs, max_steps, devices, strategy, seed, progress, checkpoint,
                       num_nodes)
    data, sources = _data_sources(options)
    if sources is not None:
        items.append(f"data.sources={json.dumps(sources)}")
    run_file = out_dir / RUN_FILE
    if resume:
        cfg = load_run_config(out_dir, items)
        saved = json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else {}
        if data is None and saved.get("data") is not None:
            data = Path(saved["data"])
        if method is not None and method != cfg.method.name:
            raise ConfigError(f"--method {method}: {out_dir} was trained with {cfg.method.name}")
    else:
        cfg = load_config(method, config, items)
    if dry_run:
        import yaml

        out.print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="", markup=False)
        return
    if data is None and not cfg.data.sources:
        raise ConfigError("--data MANIFEST is required (a CSV from `signssl manifest` or `signssl synth`)")
    from signssl.engine.pretraining import pretrain  # lazy: Lightning
    from signssl.engine.run import lock_run_dir  # lazy: Lightning

    set_process_threads(cfg.trainer.devices, threads)

    with lock_run_dir(out_dir):  # a second job on the folder stops here, before writing
        if launched_as_rank_zero():
            where = {"data": str(data.resolve())} if data is not None else {"sources": cfg.data.sources}
            save_json(run_file, {**where, "method": cfg.method.name})
        result = pretrain(cfg, data, out_dir, resume=resume)
    if not launched_as_rank_zero():
        return
    table = Table(title=f"pretrain {cfg.method.name} -> {escape(str(out_dir))}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("steps", f"{result.global_step} / {result.total_steps} ({result.steps_per_epoch} per epoch)")
    if result.resumed_from_step is not None:
        table.add_row("resumed from step", str(result.resumed_from_step))
    table.add_row("clips", f"{result.clips} used, {result.skipped} skipped")
    if cfg.data.sources:
        table.add_row("sources", escape(", ".join(s.label() for s in parse_sources(cfg.data.sources))))
    if result.final_loss is not None:
        table.add_row("final loss", f"{result.final_loss:.4f}")
    if result.collapse_std is not None:
        dim = _embedding_dim(result.metrics)
        healthy = f" (healthy ~ {1 / math.sqrt(dim):.3f})" if dim else ""
        table.add_row("collapse std", f"{result.collapse_std:.4f}{healthy}")
    table.add_row("time", f"{result.seconds:.1f} s")
    table.add_row("model", escape(str(result.model_dir)))
    table.add_row("logs", escape(str(out_dir / "logs")))
    out.print(table)


def _data_sources(options: list[str] | None) -> tuple[Path | None, list[dict] | None]:
    """``--data`` items as ``(manifest, None)`` for one plain manifest (as always), else
    ``(None, data.sources items)`` with absolute manifest paths (a resume finds them)."""
    if not options:
        return None, None
    specs = [parse_source(text) for text in options]
    if len(specs) == 1 and not specs[0].is_synthetic and specs[0].weight is None:
        return Path(options[0]), None
    return None, [
        (s if s.is_synthetic else SourceSpec(path=str(Path(str(s.path)).resolve()), weight=s.weight)).to_dict()
        for s in specs
    ]


def _embedding_dim(metrics: dict[str, float]) -> int | None:
    std, ratio = metrics.get("train/collapse_std"), metrics.get("train/collapse_ratio")
    if not std or not ratio:
        return None
    return round((ratio / std) ** 2)


def boundary_search_cmd(
    data: Annotated[Path, typer.Option("--data", "-d", help="Labelled manifest CSV (train/test splits).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the runs, JSON and plot.")],
    method: Annotated[str, typer.Option("--method", "-m", help="Method pretrained at each b.")] = "sl_fpn",
    config: ConfigOpt = "tiny",
    sets: SetOpt = None,
    step: Annotated[int, typer.Option(help="Frames between candidate b values.")] = 4,
    max_b: Annotated[int | None, typer.Option(help="Largest b tried (default: frames // 2).")] = None,
    frames: Annotated[
        int | None, typer.Option(help="Clip length b refers to (default: data.max_frames).")
    ] = None,
    max_epochs: Annotated[int | None, typer.Option(help="Pretraining epochs per candidate.")] = None,
    seeds: Annotated[
        int,
        typer.Option(help="Runs per candidate (seeds trainer.seed, +1, ...); candidates are "
                     "compared by their mean, shown with its 95 % t-interval. The paper uses 5."),
    ] = 1,
    reference: Annotated[
        bool,
        typer.Option("--reference/--no-reference",
                     help="Also train the no-permutation reference with the same seeds."),
    ] = True,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bars.")] = True,
) -> None:
    """Find how many start/end frames to permute (SSL-SLR Algorithm 1): pretrain + linear eval per b
    and seed, against the no-permutation reference."""
    cfg = load_config(method, config, _overrides(sets, max_epochs, progress=progress))
    result = boundary_search(
        cfg, data, out_dir, step=step, max_b=max_b, reference_frames=frames, progress=progress,
        log=lambda msg: out.print(escape(msg)), seeds=seeds, reference=reference,
    )
    spread = f", mean ± 95 % t-interval over {seeds} seeds" if seeds > 1 else ""
    table = Table(title=f"boundary search ({escape(result.metric)}{spread})")
    table.add_column("b")
    table.add_column("start: acc")
    table.add_column("end: acc")
    if result.reference is not None:
        ref = result.reference.label()
        table.add_row("0 (reference: no permutation)", ref, ref)
    start = {p.b: p.label() for p in result.start}
    end = {p.b: p.label() for p in result.end}
    for b in sorted(set(start) | set(end)):
        table.add_row(str(b), start.get(b, ""), end.get(b, ""))
    out.print(table)
    out.print(
        f"[bold]b_s = {result.b_s}[/], [bold]b_e = {result.b_e}[/] frames of {result.reference_frames} "
        f"(--set method.kwargs.b_s={result.b_s / result.reference_frames:.4g} "
        f"--set method.kwargs.b_e={result.b_e / result.reference_frames:.4g})"
    )
    out.print(f"curves: {escape(str(out_dir / 'boundary_search.json'))}, plot: {escape(str(result.plot))}")


def demo_cmd(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("demo_out"),
    quick: Annotated[bool, typer.Option("--quick", help="Smaller vocabulary and schedule (<= 3 min on 2 CPU cores).")] = False,
    all_methods: Annotated[bool, typer.Option("--all", help="Also pretrain SimCLR, MoCo, SimSiam, BYOL and MASA.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the data and of every run.")] = 0,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bars.")] = True,
) -> None:
    """Synthetic vocabulary -> pretrain SL-FPN (and baselines) -> retrieval + linear probe report."""
    result = run_demo(out_dir, quick=quick, all_methods=all_methods, seed=seed, progress=progress,
                      log=lambda msg: out.print(escape(msg)))
    table = Table(title=f"demo ({'quick' if quick else 'full'}): {result.num_clips} synthetic clips, "
                        f"{result.num_classes} signs, signer-independent test")
    for col in ("encoder", "retrieval top-1", "MRR", "DCG", "linear top-1", "linear top-1 / class", "pretrain"):
        table.add_column(col)
    for row in result.rows:
        m = row.metrics
        table.add_row(
            escape(row.name),
            f"{m.get('retrieval/top1_per_instance', float('nan')):.3f}",
            f"{m.get('retrieval/mrr', float('nan')):.3f}",
            f"{m.get('retrieval/dcg', float('nan')):.3f}",
            f"{m.get('linear/top1_per_instance', float('nan')):.3f}",
            f"{m.get('linear/top1_per_class', float('nan')):.3f}",
            f"{row.seconds:.0f} s" if row.seconds else "-",
        )
    out.print(table)
    out.print(f"report: {escape(str(result.report))}  ({result.seconds:.0f} s in all)")


def study_cmd(
    spec_path: Annotated[Path, typer.Argument(help="Study YAML (variants, seeds, data size; see signssl.studies.study_spec).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder (a rerun continues it).")],
    jobs: Annotated[int, typer.Option(help="Runs in parallel (processes).")] = 1,
    threads: Annotated[int, typer.Option(help="Torch threads per run.")] = 1,
    progress: Annotated[
        bool,
        typer.Option("--progress/--no-progress",
                     help="Progress of the data generation and, with --jobs 1, of each run."),
    ] = True,
) -> None:
    """Variants x seeds on synthetic (or given) data: mean ± 95 % CI table and collapse curves."""
    spec = load_spec(spec_path)
    summary = run_study(spec, out_dir, jobs=jobs, threads=threads, progress=progress,
                        log=lambda msg: out.print(escape(msg)))
    out.print(escape(format_table(summary, table_columns(spec))))
    out.print(f"report: {escape(str(Path(out_dir) / 'study.md'))}")


def register(app: typer.Typer) -> None:
    """Add ``pretrain``, ``boundary-search`` and ``demo`` to ``app``."""
    app.command("pretrain")(pretrain_cmd)
    app.command("boundary-search")(boundary_search_cmd)
    app.command("demo")(demo_cmd)
    app.command("study")(study_cmd)
