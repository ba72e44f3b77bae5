"""``signssl export``: a trained run as a portable model folder (Hugging Face layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from signssl.store.export import export_run

console = Console(highlight=False)


def export(
    run: Annotated[Path, typer.Argument(help="Run folder written by `signssl pretrain`.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write (config.json, model.safetensors, README.md).")],
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty --out folder.")] = False,
    best: Annotated[bool, typer.Option("--best", help="Export RUN/best (best by validation) instead of RUN/model.")] = False,
) -> None:
    """Write a run's encoder as a self-describing folder: config.json (with the weights'
    sha256), model.safetensors and a model card README.md.

    `signssl.load_model(DIR)` and every `--checkpoint` option read the folder and check
    the hash before loading.
    """
    result = export_run(run, out, force=force, best=best)
    verb = "replaced" if result.replaced else "wrote"
    console.print(f"{verb} {escape(str(out))}: {result.parameters:,} parameters, "
                  f"sha256 {result.sha256}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("export")(export)
