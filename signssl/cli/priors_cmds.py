"""Sign-prior commands: ``signssl priors`` and ``signssl bone-lengths``.

The priors are those of docs/methods.md#signrep-priors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from signssl.cli.parts import PART_HELP, read_part
from signssl.data.parts import part_path
from signssl.data.priors import (
    INDEX_NAME,
    REPORT_NAME,
    PriorSettings,
    dataset_bone_lengths,
    precompute_priors,
)
from signssl.errors import ConfigError

out = Console(highlight=False)

MinConfOpt = Annotated[
    float, typer.Option("--min-conf", help="Keypoints below this confidence are masked out.")
]
AspectOpt = Annotated[
    float,
    typer.Option(
        "--image-aspect",
        help="Video width / height when x, y are normalised image coordinates (1 for pixels).",
    ),
]


def priors(
    data: Annotated[Path, typer.Option("--data", "-d", help="Pose manifest CSV.")],
    out_dir: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output folder (resumable: existing files are kept)."),
    ],
    bone_lengths: Annotated[
        Path | None,
        typer.Option(
            "--bone-lengths",
            help="Standard bone lengths JSON from 'signssl bone-lengths' (default: built-in).",
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes to use.")] = 1,
    min_conf: MinConfOpt = 0.5,
    image_aspect: AspectOpt = 1.0,
    activity_window: Annotated[
        int, typer.Option(help="Frames of the centred activity window (0 = whole clip).")
    ] = 16,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Recompute files that already exist.")
    ] = False,
    part: Annotated[str | None, typer.Option("--part", metavar="I/N", help=PART_HELP)] = None,
) -> None:
    """Precompute the SignRep sign priors of every row of a pose manifest (.npz per row)."""
    which = read_part(part)
    if activity_window < 0:
        raise ConfigError(f"--activity-window must be >= 0 frames, got {activity_window}")
    settings = PriorSettings(
        min_conf=min_conf,
        image_aspect=image_aspect,
        activity_window=activity_window or None,
    )
    report = precompute_priors(
        data,
        out_dir,
        bone_lengths,
        settings=settings,
        workers=workers,
        overwrite=overwrite,
        progress=True,
        part=which,
    )
    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("samples", str(report.total))
    table.add_row("computed", f"{report.computed} ({report.frames} frames)")
    table.add_row("kept (already there)", str(report.kept))
    table.add_row("failed", f"[red]{report.failed}[/]" if report.failed else "0")
    table.add_row("seconds", f"{report.seconds:.1f}")
    out.print(table)
    for path, message in list(report.errors.items())[:5]:
        out.print(f"[red]failed:[/] {escape(path)}: {escape(message)}", soft_wrap=True)
    if report.failed > 5:
        out.print(f"... and {report.failed - 5} more in the report", soft_wrap=True)
    out.print(
        f"index: [bold]{escape(str(part_path(out_dir / INDEX_NAME, which)))}[/], report: "
        f"{escape(str(part_path(out_dir / REPORT_NAME, which)))}",
        soft_wrap=True,
    )


def bone_lengths(
    data: Annotated[Path, typer.Option("--data", "-d", help="Pose manifest CSV.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Output JSON file.")],
    min_conf: MinConfOpt = 0.5,
    image_aspect: AspectOpt = 1.0,
) -> None:
    """Measure the standard bone lengths (dataset medians) of a pose manifest."""
    lengths, report = dataset_bone_lengths(
        data, min_conf=min_conf, image_aspect=image_aspect, progress=True
    )
    lengths.save(out_file)
    table = Table(title="bone lengths (shoulder widths)", title_justify="left")
    for col in ("bone", "median", "frames"):
        table.add_column(col, justify="left" if col == "bone" else "right")
    for name in ("shoulder_mid->body.left_shoulder", "body.left_shoulder->body.left_elbow",
                 "body.left_elbow->body.left_wrist",
                 "left_hand.wrist->left_hand.middle_finger_mcp",
                 "right_hand.wrist->right_hand.middle_finger_mcp"):  # fmt: skip
        table.add_row(name, f"{lengths.lengths[name]:.3f}", str(lengths.counts.get(name, 0)))
    out.print(table)
    out.print(f"sequences: {report.summary()}", soft_wrap=True)
    for reason, items in report.problems.items():
        for item, detail in items[:3]:
            out.print(f"[red]{escape(reason)}:[/] {escape(item)}: {escape(detail)}", soft_wrap=True)
    if lengths.defaulted:
        out.print(
            f"[yellow]{len(lengths.defaulted)} bone(s) never measured took the built-in "
            f"default:[/] {escape(', '.join(lengths.defaulted[:6]))}",
            soft_wrap=True,
        )
    out.print(f"wrote [bold]{escape(str(out_file))}[/]", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``priors`` and ``bone-lengths`` to ``app``."""
    app.command("priors")(priors)
    app.command("bone-lengths")(bone_lengths)
