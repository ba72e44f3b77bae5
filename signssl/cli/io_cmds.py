"""Pose file commands: ``signssl info``, ``signssl convert``, ``signssl layouts``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from signssl.errors import ConfigError, DataError
from signssl.io import convert_tree, pose_info, read_pose, summarize, write_pose
from signssl.io.bulk import REPORT_NAME
from signssl.io.dispatch import WRITE_SUFFIXES
from signssl.pose.layouts import get_layout, list_layouts
from signssl.utils import json_ready

out = Console(highlight=False)

LayoutOpt = Annotated[
    str | None,
    typer.Option(
        "--layout", "-l",
        help="Layout name or layout YAML file: decodes flat vectors, or converts by joint name.",
    ),
]


def _fmt(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value % 1 else f"{value:g}"
    return str(value)


def info(
    path: Annotated[Path, typer.Argument(help="A pose file or folder (.pose, .npy, .npz, "
                                                 ".parquet, MP_Data or OpenPose folder).")],
    layout: LayoutOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show format, layout, size, frame rate and missing data of a pose file."""
    summary = pose_info(path, layout=layout)
    if as_json:
        typer.echo(json.dumps(json_ready(summary), indent=2, allow_nan=False))
        return
    out.print(f"[bold]{escape(str(path))}[/]", soft_wrap=True)
    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key in ("format", "layout", "frames", "joints", "dims", "fps", "missing_fraction"):
        table.add_row(key, escape(_fmt(summary[key])))
    for part, frac in summary["part_missing_fractions"].items():
        table.add_row(f"  missing in {escape(part)}", _fmt(frac))
    out.print(table)


def convert(
    src: Annotated[Path, typer.Argument(help="A pose file or folder; or a folder of many "
                                             "(MP_Data root, folder of pose files).")],
    dst: Annotated[Path, typer.Argument(help="Output file ending in .pose or .npz; or an "
                                             "output folder when SRC holds many items.")],
    layout: LayoutOpt = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate to record.")] = None,
    to: Annotated[str, typer.Option(help="Output type when converting a folder: pose or npz.")] = "pose",
    overwrite: Annotated[bool, typer.Option(help="Redo outputs that already exist (folders).")] = False,
) -> None:
    """Convert a pose file to .pose or .npz, or every item of a folder (atomic writes)."""
    if dst.suffix.lower() in WRITE_SUFFIXES:
        seq = read_pose(src, layout=layout, fps=fps)
        write_pose(seq, dst)
        s = summarize(seq)
        out.print(
            f"wrote [bold]{escape(str(dst))}[/]: {s['frames']} frames x {s['joints']} joints x "
            f"{s['dims']}D, layout {escape(s['layout'])}, missing {s['missing_fraction']:.3f}",
            soft_wrap=True,
        )
        return
    if dst.suffix:
        raise DataError(f"output must end in {' or '.join(WRITE_SUFFIXES)} (or be a folder)", dst)
    if to not in ("pose", "npz"):
        raise ConfigError(f"--to must be 'pose' or 'npz', got '{to}'")
    report = convert_tree(src, dst, suffix=f".{to}", layout=layout, fps=fps, overwrite=overwrite)
    out.print(
        f"{report.total} items: converted {report.converted}, kept existing "
        f"{report.skipped_existing}, failed {report.failed} (report: "
        f"{escape(str(dst / REPORT_NAME))})",
        soft_wrap=True,
    )
    for message in list(report.errors.values())[:5]:
        out.print(f"  [red]failed[/] {escape(message)}", soft_wrap=True)
    if report.failed > 5:
        out.print(f"  ... and {report.failed - 5} more in the report", soft_wrap=True)


def layouts() -> None:
    """List the built-in joint layouts."""
    table = Table(title="built-in layouts (or give a layout YAML file)", title_justify="left")
    for col in ("name", "joints", "flat size", "parts"):
        table.add_column(col, justify="right" if col in ("joints", "flat size") else "left")
    for name in list_layouts():
        lay = get_layout(name)
        parts = ", ".join(f"{p.name} {len(p.joints)}" for p in lay.parts)
        table.add_row(name, str(lay.num_joints), str(lay.flat_size), parts)
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``info``, ``convert`` and ``layouts`` to ``app``."""
    app.command()(info)
    app.command()(convert)
    app.command()(layouts)
