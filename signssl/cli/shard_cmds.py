"""Sharded datasets: ``signssl shard`` (a manifest's pose clips, or a video manifest's
videos, as tar shards)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from signssl.cli.parts import read_part
from signssl.data.manifest import Manifest
from signssl.data.shard_write import merge_shard_parts, write_shards
from signssl.data.shards import verify_shards
from signssl.data.video_shards import manifest_kind, write_video_shards
from signssl.errors import ConfigError
from signssl.pose.layouts import DEFAULT_LAYOUT

out = Console(highlight=False)

PART_HELP = ("Shard only part I of N of the manifest rows (e.g. 2/8 for a job array, all into "
             "the same --out); then `signssl shard --merge --out SHARDS` writes the index.")


def shard(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Shard folder to write (a new folder).")],
    data: Annotated[
        Path | None, typer.Option("--data", "-d", help="Manifest CSV whose pose clips (or videos) are sharded.")
    ] = None,
    kind: Annotated[str, typer.Option("--kind", help="auto: video when every row's path is a video file, "
                                      "else pose; video: also a synthetic manifest's `video` column.")] = "auto",
    priors_dir: Annotated[Path | None, typer.Option("--priors-dir", help="Video shards: also store each "
                          "row's precomputed priors from this `signssl priors` folder.")] = None,
    shard_size: Annotated[int, typer.Option("--shard-size", help="Clips per shard.")] = 1000,
    split: Annotated[str | None, typer.Option("--split", help="Only rows of this split (default: all; "
                                              "each shard holds one split).")] = None,
    layout: Annotated[str, typer.Option(help="Layout the clips are stored in (the encoder's).")] = DEFAULT_LAYOUT,
    dims: Annotated[int, typer.Option(help="Coordinates kept (2 or 3).")] = 2,
    normalize: Annotated[str, typer.Option(help="Normalisation (as data.normalize).")] = "auto",
    trim_empty: Annotated[bool, typer.Option("--trim-empty/--keep-empty", help="Drop leading and "
                                             "trailing frames without a detected joint.")] = True,
    source_layout: Annotated[str | None, typer.Option("--source-layout", help="Layout of flat-vector "
                                                      "files (e.g. an MP_Data YAML).")] = None,
    part: Annotated[str | None, typer.Option("--part", metavar="I/N", help=PART_HELP)] = None,
    merge: Annotated[bool, typer.Option("--merge", help="Join the parts in --out into one index.")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Check every shard in --out against its "
                                         "index (size, sha256).")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
) -> None:
    """Write a manifest's clips as tar shards + shards.json, read by `pretrain`, `evaluate`,
    `embed`, `dictionary build` and `finetune-video` as `--data SHARDS`.

    Each pose clip is stored as pretraining reads it (layout, dims, normalisation), so
    training or evaluating on the shards gives the results of the folder; bad clips are
    skipped and counted.  Options must match the run's data.* settings or the encoder's
    (checked when read).  A video manifest's videos are stored as they are (with the pose
    and, with --priors-dir, the priors of each row), for video methods and encoders.
    """
    if verify:
        out.print(f"{escape(str(out_dir))}: {verify_shards(out_dir)} clips, every shard matches its index")
        return
    if merge:
        index = merge_shard_parts(out_dir)
        out.print(f"{escape(str(out_dir))}: {index.count} clips in {len(index.shards)} shards")
        return
    if data is None:
        raise ConfigError("--data MANIFEST is required (or --merge to join parts, --verify to check)")
    if kind not in ("auto", "pose", "video"):
        raise ConfigError(f"--kind must be auto, pose or video, got {kind!r}")
    if kind == "auto":
        kind = manifest_kind(Manifest.read(data)) if data.is_file() else "pose"  # missing: pose's error
    if kind == "video":
        index, report = write_video_shards(data, out_dir, priors_dir=priors_dir, split=split,
                                           shard_size=shard_size, part=read_part(part), progress=progress)
    elif priors_dir is not None:
        raise ConfigError("--priors-dir is for video shards (a video manifest, or --kind video)")
    else:
        index, report = write_shards(
            data, out_dir, layout=layout, dims=dims, normalize=normalize, trim_empty=trim_empty,
            split=split, shard_size=shard_size, source_layout=source_layout, part=read_part(part),
            progress=progress,
        )  # fmt: skip
    what = "videos" if index.kind == "video" else "clips"
    out.print(f"{escape(str(out_dir))}: {index.count} {what} in {len(index.shards)} shards; "
              f"{escape(report.summary())}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("shard")(shard)
