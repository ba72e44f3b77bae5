"""Synthetic data commands: ``signssl synth`` and ``signssl synth-preview``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from signssl.synth import SynthConfig, generate_dataset, read_report
from signssl.synth.plots import save_frame_grid, save_trajectory_plot

out = Console(highlight=False)


def synth(
    out_dir: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output folder (resumable: existing files are kept)."),
    ],
    classes: Annotated[int, typer.Option(help="Number of sign classes.")] = 50,
    signers: Annotated[int, typer.Option(help="Number of signers.")] = 12,
    reps: Annotated[int, typer.Option(help="Repetitions of each class by each signer.")] = 4,
    frames: Annotated[int, typer.Option(help="Frames per clip.")] = 64,
    video: Annotated[bool, typer.Option("--video", help="Also render RGB videos.")] = False,
    size: Annotated[int, typer.Option(help="Video width and height in pixels.")] = 112,
    continuous: Annotated[
        bool,
        typer.Option(
            "--continuous", help="Clips of several signs in a row (unlabeled, for pretraining)."
        ),
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of everything (vocabulary, signers, clips).")] = 0,
    pose_format: Annotated[str, typer.Option("--pose-format", help="pose or npz.")] = "pose",
    video_format: Annotated[str, typer.Option("--video-format", help="mp4 (what the video methods read) or npy (raw uint8 frames, lossless, for your own analysis).")] = "mp4",
    test_fraction: Annotated[
        float, typer.Option(help="Share of clips (whole signers) in test.")
    ] = 0.25,
    val_fraction: Annotated[
        float, typer.Option(help="Share of clips (whole signers) in val.")
    ] = 0.0,
    noise: Annotated[
        float, typer.Option(help="Scale of all variation and noise (1 = default).")
    ] = 1.0,
    minimal_pairs: Annotated[
        float,
        typer.Option(
            "--minimal-pairs",
            help="Share of classes that differ from another class in one parameter only "
            "(0 = every class drawn afresh: use it for low-resolution video, where a "
            "handshape difference is a few pixels).",
        ),
    ] = 0.6,
    workers: Annotated[int, typer.Option(help="Processes to use.")] = 1,
) -> None:
    """Generate synthetic signs with ground truth: pose files, optional videos, manifest."""
    cfg = SynthConfig().scaled(noise) if noise != 1.0 else SynthConfig()
    manifest = generate_dataset(
        out_dir,
        classes=classes,
        signers=signers,
        reps=reps,
        frames=frames,
        video=video,
        size=size,
        continuous=continuous,
        seed=seed,
        pose_format=pose_format,
        video_format=video_format,
        test_fraction=test_fraction,
        val_fraction=val_fraction,
        minimal_pair_rate=minimal_pairs,
        config=cfg,
        workers=workers,
        progress=True,
    )
    rep = read_report(out_dir)
    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("clips", str(rep.samples))
    table.add_row("files written", str(rep.written))
    table.add_row("files kept (already there)", str(rep.kept))
    table.add_row("failed", f"[red]{rep.failed}[/]" if rep.failed else "0")
    table.add_row("splits", ", ".join(f"{k} {v}" for k, v in sorted(rep.splits.items())))
    table.add_row("seconds", f"{rep.seconds:.1f}")
    out.print(table)
    for e in rep.errors[:5]:
        out.print(f"[red]failed:[/] {escape(e)}", soft_wrap=True)
    out.print(f"manifest: [bold]{escape(str(manifest))}[/]", soft_wrap=True)


def synth_preview(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the PNG files.")],
    classes: Annotated[int, typer.Option(help="Classes shown in the frame grid.")] = 4,
    signers: Annotated[int, typer.Option(help="Signers shown in the frame grid.")] = 3,
    size: Annotated[int, typer.Option(help="Rendered frame size in pixels.")] = 112,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
) -> None:
    """Write a grid of rendered frames and a hand-trajectory plot (PNG)."""
    grid = save_frame_grid(
        out_dir / "synth_grid.png", classes=classes, signers=signers, size=size, seed=seed
    )
    traj = save_trajectory_plot(out_dir / "synth_trajectories.png", seed=seed)
    out.print(
        f"wrote [bold]{escape(str(grid))}[/] and [bold]{escape(str(traj))}[/]", soft_wrap=True
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("synth")(synth)
    app.command("synth-preview")(synth_preview)
