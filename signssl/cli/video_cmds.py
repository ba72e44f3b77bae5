"""Video commands: ``signssl extract-poses`` and ``signssl video-info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from signssl.cli.parts import PART_HELP, read_part
from signssl.data.parts import part_path
from signssl.extract import REPORT_NAME, extract_poses
from signssl.io.video_probe import probe_video
from signssl.utils import json_ready

out = Console(highlight=False)
SHOWN_FAILURES = 5


def extract_poses_cmd(
    src: Annotated[Path, typer.Argument(help="A folder of videos (searched recursively), a "
                                             "video manifest CSV, or one video.")],
    out_dir: Annotated[Path, typer.Argument(help="Output folder for the .pose files, "
                                                 "manifest.csv, videos.csv and the report.")],
    workers: Annotated[int, typer.Option("--workers", "-w", help="Worker processes.")] = 1,
    estimator: Annotated[str, typer.Option(
        help="'holistic' (MediaPipe, needs the [mediapipe] extra) or "
             "'package.module:attribute' returning a pose estimator.")] = "holistic",
    model_complexity: Annotated[int, typer.Option(help="Holistic pose model (the wheel "
                                                       "ships 1).")] = 1,
    refine_face: Annotated[bool, typer.Option(help="478-point face with irises (layout "
                                                   "holistic_iris_world).")] = False,
    min_detection_confidence: Annotated[float, typer.Option(help="Holistic threshold.")] = 0.5,
    min_tracking_confidence: Annotated[float, typer.Option(help="Holistic threshold.")] = 0.5,
    static_image_mode: Annotated[bool, typer.Option(help="Detect in every frame (no "
                                                         "tracking; slower).")] = False,
    overwrite: Annotated[bool, typer.Option(help="Redo videos whose .pose file exists.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    part: Annotated[str | None, typer.Option("--part", metavar="I/N", help=PART_HELP)] = None,
) -> None:
    """Extract poses from videos into .pose files (parallel; rerun to resume)."""
    which = read_part(part)
    kwargs = {}
    if estimator == "holistic":
        kwargs = {"model_complexity": model_complexity, "refine_face": refine_face,
                  "min_detection_confidence": min_detection_confidence,
                  "min_tracking_confidence": min_tracking_confidence,
                  "static_image_mode": static_image_mode}
    report = extract_poses(src, out_dir, estimator=estimator, estimator_kwargs=kwargs,
                           workers=workers, overwrite=overwrite, progress=progress, part=which)
    out.print(escape(report.summary()), soft_wrap=True)
    if report.manifest:
        out.print(f"manifest: [bold]{escape(report.manifest)}[/]  videos with poses: "
                  f"{escape(report.video_manifest or '')}", soft_wrap=True)
    for video, message in list(report.errors.items())[:SHOWN_FAILURES]:
        out.print(f"  [red]failed[/] {escape(video)}: {escape(message)}", soft_wrap=True)
    if report.failed > SHOWN_FAILURES:
        out.print(f"  ... and {report.failed - SHOWN_FAILURES} more", soft_wrap=True)
    out.print(f"report: {escape(str(part_path(out_dir / REPORT_NAME, which)))}", soft_wrap=True)


def video_info_cmd(
    path: Annotated[Path, typer.Argument(help="A video file.")],
    count: Annotated[bool, typer.Option(help="Count the frames (demuxing) instead of "
                                             "trusting the header; finds truncated files.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show frame count, frame rate, size and codec of a video."""
    info = probe_video(path, count=count)
    if as_json:
        typer.echo(json.dumps(json_ready(info.to_dict()), indent=2, allow_nan=False))
        return
    table = Table(show_header=False, title=escape(str(path)), title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in info.to_dict().items():
        if key != "path":
            table.add_row(key, escape(f"{value:g}" if isinstance(value, float) else str(value)))
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``extract-poses`` and ``video-info`` to ``app``."""
    app.command("extract-poses")(extract_poses_cmd)
    app.command("video-info")(video_info_cmd)
