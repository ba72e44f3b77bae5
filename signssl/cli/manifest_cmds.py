"""``signssl manifest …``: build, split, inspect and check dataset manifests."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from signssl.data import (
    KNOWN_SPLITS,
    POSE_EXTENSIONS,
    ItemReport,
    Manifest,
    ManifestCheck,
    check_manifest,
    classes_missing_from,
    describe_splits,
    drop_duplicates,
    manifest_from_asl_citizen,
    manifest_from_folder,
    manifest_from_lsa64,
    manifest_from_wlasl,
    signer_independent_split,
    signer_overlap,
    split_warnings,
)
from signssl.data.autsl import manifest_from_autsl
from signssl.data.gislr import manifest_from_gislr
from signssl.data.how2sign import manifest_from_how2sign
from signssl.data.lsfb_isol import manifest_from_lsfb_isol
from signssl.data.msasl import manifest_from_msasl
from signssl.data.nmfs_csl import manifest_from_nmfs_csl
from signssl.data.parts import merge_csv_parts
from signssl.data.samples import VIDEO_EXTENSIONS
from signssl.data.slr500 import manifest_from_slr500
from signssl.data.youtube_asl import manifest_from_youtube_asl
from signssl.errors import ConfigError
from signssl.eval.parts import merge_feature_parts
from signssl.utils import save_json

console = Console(highlight=False)
manifest_app = typer.Typer(
    name="manifest",
    help="Build, split and check dataset manifests (CSV: path,label,signer,split,start,end).",
    no_args_is_help=True,
)

OUT = typer.Option(..., "--out", "-o", help="Manifest CSV to write.")
SHOW = typer.Option(5, "--show", help="Paths listed per problem kind (0 = none, -1 = all).")
REPORT = typer.Option(None, "--report", help="Also write the full report as JSON here.")
VIDEOS = typer.Option(None, "--videos", help="Folder of the videos.")
POSES = typer.Option(None, "--poses", help="Folder of pose files named like the videos; "
                     "takes precedence over --videos.")
SPLIT_SEED = typer.Option(None, "--split-seed",
                          help="Also make a signer-independent split with this seed.")
TEST_FRACTION = typer.Option(0.25, "--test-fraction", help="Test share (with --split-seed).")
VAL_FRACTION = typer.Option(0.0, "--val-fraction", help="Val share (with --split-seed).")


# ----------------------------------------------------------------------------- printing

def print_manifest_summary(manifest: Manifest, title: str = "manifest") -> None:
    """Rows, classes and signers per split, and the split's signer-independence."""
    table = Table(title=f"{title}: {len(manifest)} rows, {len(manifest.labels())} classes, "
                        f"{len(manifest.signers())} signers")
    for col in ("split", "rows", "classes", "signers", "unknown signer"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for split, d in describe_splits(manifest).items():
        table.add_row(split or "(none)", str(d["rows"]), str(d["classes"]), str(d["signers"]),
                      str(d["unknown_signer"]))
    console.print(table)
    overlap = signer_overlap(manifest)
    if overlap:
        console.print(f"[yellow]{len(overlap)} signer(s) appear in several splits[/] "
                      f"(e.g. {next(iter(overlap.items()))})")
    if any(r.split == "train" for r in manifest):
        missing = classes_missing_from(manifest, "train")
        if missing:
            console.print(f"[yellow]{len(missing)} class(es) have no train row:[/] {missing[:10]}")
    unknown = manifest.unknown_splits()
    if unknown:
        console.print(f"[yellow]unknown split name(s) {unknown}[/] (known: {', '.join(KNOWN_SPLITS)}): "
                      "pretrain and evaluate refuse this manifest until the split column is fixed")


def print_warnings(warnings: list[str]) -> None:
    for w in warnings:
        console.print(f"[yellow]warning: {w}[/]")


def print_report(report: ItemReport, title: str, show: int = 5) -> None:
    """Counts by reason plus up to ``show`` paths each (-1 = all)."""
    table = Table(title=title)
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_column("examples" if show else "", overflow="fold")
    table.add_row("[green]kept[/]", str(report.kept), "")
    for reason, items in report.problems.items():
        listed = items if show < 0 else items[:show]
        lines = [f"{item}  [dim]{detail}[/]" if detail else item for item, detail in listed]
        if len(items) > len(listed):
            lines.append(f"… and {len(items) - len(listed)} more")
        table.add_row(f"[red]{reason}[/]", str(len(items)), "\n".join(lines))
    console.print(table)


def _finish(manifest: Manifest, report: ItemReport, out: Path, report_json: Path | None,
            show: int, seed: int | None, test_fraction: float, val_fraction: float) -> None:
    """Drop repeated rows (counted), split when asked, write the manifest (and report),
    print both."""
    manifest, repeats = drop_duplicates(manifest)
    for dropped, first in repeats:
        report.add("duplicate", dropped.path, f"same clip as the row of {first.path} "
                   f"(label {first.label!r}) kept before it")
    if seed is not None:
        manifest = signer_independent_split(manifest, test_fraction, val_fraction, seed)
        print_warnings(split_warnings(manifest))
    written = manifest.write(out)
    if report_json is not None:
        save_json(report_json, report.to_dict())
    print_report(report, "entries", show)
    print_manifest_summary(written, str(out))
    console.print(f"wrote {out} ({len(written)} rows; {report.summary()})")


# ----------------------------------------------------------------------------- builders

@manifest_app.command("folder")
def folder_cmd(
    root: Path = typer.Argument(..., help="Dataset folder: ROOT/<gloss>/<sample>."),
    out: Path = OUT,
    videos: bool = typer.Option(False, "--videos", help="Samples are video files, not poses."),
    split_seed: int | None = typer.Option(
        None, "--split-seed", help="Also make a signer-independent split with this seed."),
    test_fraction: float = typer.Option(0.25, "--test-fraction", help="Test share (with --split-seed)."),
    val_fraction: float = typer.Option(0.0, "--val-fraction", help="Val share (with --split-seed)."),
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of a folder-per-gloss dataset (pose files or MP_Data sequence folders)."""
    manifest, report = manifest_from_folder(root, VIDEO_EXTENSIONS if videos else POSE_EXTENSIONS)
    _finish(manifest, report, out, report_json, show, split_seed, test_fraction, val_fraction)


@manifest_app.command("wlasl")
def wlasl_cmd(
    json_path: Path = typer.Argument(..., help="WLASL_v0.3.json (or a WLASL subset JSON)."),
    out: Path = OUT,
    videos: Path | None = typer.Option(None, "--videos", help="Folder of <video_id>.mp4."),
    poses: Path | None = typer.Option(
        None, "--poses", help="Folder of pose files / sequence folders named <video_id>."),
    trimmed: bool = typer.Option(
        False, "--trimmed", help="Files are already cut to each instance's frame range "
        "(WLASL preprocess.py output): do not write start/end."),
    subset: int | None = typer.Option(
        None, "--subset", help="WLASL100/300/1000/2000: keep the first N glosses of the JSON."),
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of WLASL; instances whose file is absent are counted, not silently dropped."""
    manifest, report = manifest_from_wlasl(json_path, videos, poses, trimmed=trimmed, subset=subset)
    _finish(manifest, report, out, report_json, show, None, 0.0, 0.0)


@manifest_app.command("asl-citizen")
def asl_citizen_cmd(
    splits_dir: Path = typer.Argument(..., help="Folder with train.csv, val.csv, test.csv."),
    out: Path = OUT,
    videos: Path | None = typer.Option(None, "--videos", help="Folder of the videos."),
    poses: Path | None = typer.Option(
        None, "--poses", help="Folder of pose files named by the video's stem."),
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of ASL Citizen from its split CSVs."""
    manifest, report = manifest_from_asl_citizen(splits_dir, videos, poses)
    _finish(manifest, report, out, report_json, show, None, 0.0, 0.0)


@manifest_app.command("lsa64")
def lsa64_cmd(
    root: Path = typer.Argument(..., help="Folder of CCC_SSS_RRR clips (class_signer_rep)."),
    out: Path = OUT,
    split_seed: int | None = typer.Option(
        None, "--split-seed", help="Also make a signer-independent split with this seed."),
    test_fraction: float = typer.Option(0.25, "--test-fraction", help="Test share (with --split-seed)."),
    val_fraction: float = typer.Option(0.0, "--val-fraction", help="Val share (with --split-seed)."),
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of LSA64 from its file names."""
    manifest, report = manifest_from_lsa64(root)
    _finish(manifest, report, out, report_json, show, split_seed, test_fraction, val_fraction)


@manifest_app.command("msasl")
def msasl_cmd(
    json_dir: Path = typer.Argument(..., help="Folder with MSASL_{train,val,test}.json."),
    out: Path = OUT,
    videos: Path | None = typer.Option(None, "--videos", help="Folder of <youtube id>.mp4."),
    poses: Path | None = POSES,
    subset: int = typer.Option(1000, "--subset", help="MSASL100/200/500/1000: classes < N."),
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of MS-ASL with its official splits (frames from the times and fps)."""
    manifest, report = manifest_from_msasl(json_dir, videos, poses, subset=subset)
    _finish(manifest, report, out, report_json, show, None, 0.0, 0.0)


@manifest_app.command("autsl")
def autsl_cmd(
    labels_dir: Path = typer.Argument(..., help="Folder with {train,val,test}_labels.csv."),
    out: Path = OUT,
    videos: Path | None = VIDEOS,
    poses: Path | None = POSES,
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of AUTSL with its signer-independent train/val/test split."""
    manifest, report = manifest_from_autsl(labels_dir, videos, poses)
    _finish(manifest, report, out, report_json, show, None, 0.0, 0.0)


@manifest_app.command("slr500")
def slr500_cmd(
    root: Path = typer.Argument(..., help="Folder of the class folders 000000/ … 000499/."),
    out: Path = OUT,
    dictionary: Path | None = typer.Option(None, "--dictionary", help="dictionary.txt (words)."),
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of SLR500: signers 1-36 train, 37-50 test."""
    manifest, report = manifest_from_slr500(root, dictionary)
    _finish(manifest, report, out, report_json, show, None, 0.0, 0.0)


@manifest_app.command("nmfs-csl")
def nmfs_csl_cmd(
    lists_dir: Path = typer.Argument(..., help="Folder with train.txt and test.txt."),
    out: Path = OUT,
    data: Path | None = typer.Option(None, "--data", help="Folder the listed paths are in."),
    poses: Path | None = POSES,
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of NMFs-CSL from its train/test lists."""
    manifest, report = manifest_from_nmfs_csl(lists_dir, data, poses)
    _finish(manifest, report, out, report_json, show, None, 0.0, 0.0)


@manifest_app.command("lsfb-isol")
def lsfb_isol_cmd(
    root: Path = typer.Argument(..., help="LSFB-ISOL root (instances.csv, metadata/splits/)."),
    out: Path = OUT,
    videos: Path | None = typer.Option(None, "--videos", help="Folder of <id>.mp4 (default ROOT/videos)."),
    poses: Path | None = POSES,
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of LSFB-ISOL with its official train/test split."""
    manifest, report = manifest_from_lsfb_isol(root, videos, poses)
    _finish(manifest, report, out, report_json, show, None, 0.0, 0.0)


@manifest_app.command("how2sign")
def how2sign_cmd(
    csv_dir: Path = typer.Argument(..., help="Folder with how2sign_realigned_<split>.csv."),
    out: Path = OUT,
    videos: Path | None = typer.Option(
        None, "--videos", help="Folder of sentence clips or raw videos."),
    poses: Path | None = POSES,
    fps: float | None = typer.Option(None, "--fps", help="Frame rate of the raw videos."),
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Unlabeled manifest of How2Sign's sentence segments (text column; for pretraining)."""
    manifest, report = manifest_from_how2sign(csv_dir, videos, poses, fps)
    _finish(manifest, report, out, report_json, show, None, 0.0, 0.0)


@manifest_app.command("youtube-asl")
def youtube_asl_cmd(
    ids_file: Path = typer.Argument(..., help="The YouTube-ASL video id list."),
    out: Path = OUT,
    captions: Path = typer.Option(..., "--captions", help="Folder of <id>.vtt / <id>.json captions."),
    fps: float = typer.Option(..., "--fps", help="Frame rate of the downloaded videos."),
    videos: Path | None = typer.Option(None, "--videos", help="Folder of <id>.mp4."),
    poses: Path | None = POSES,
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Unlabeled manifest of YouTube-ASL's caption segments (text column; for pretraining)."""
    manifest, report = manifest_from_youtube_asl(ids_file, captions, fps, videos, poses)
    _finish(manifest, report, out, report_json, show, None, 0.0, 0.0)


@manifest_app.command("gislr")
def gislr_cmd(
    root: Path = typer.Argument(..., help="Kaggle GISLR data folder (train.csv, train_landmark_files/)."),
    out: Path = OUT,
    split_seed: int | None = SPLIT_SEED,
    test_fraction: float = TEST_FRACTION,
    val_fraction: float = VAL_FRACTION,
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Manifest of the GISLR landmark parquet files (signer = participant_id)."""
    manifest, report = manifest_from_gislr(root)
    _finish(manifest, report, out, report_json, show, split_seed, test_fraction, val_fraction)


# ----------------------------------------------------------------------------- split / info

@manifest_app.command("split")
def split_cmd(
    manifest_path: Path = typer.Argument(..., help="Manifest CSV."),
    out: Path = OUT,
    seed: int = typer.Option(0, "--seed", help="Shuffles the signers; same seed, same split."),
    test_fraction: float = typer.Option(0.25, "--test-fraction"),
    val_fraction: float = typer.Option(0.0, "--val-fraction"),
    unknown_signer: str = typer.Option(
        "own_group", "--unknown-signer",
        help="Rows without a signer: own_group (split at random), train, or error."),
) -> None:
    """Assign train/val/test so that no signer is in two splits."""
    if unknown_signer not in ("own_group", "train", "error"):
        raise ConfigError(
            f"--unknown-signer must be own_group, train or error, got {unknown_signer!r}")
    manifest = signer_independent_split(
        Manifest.read(manifest_path), test_fraction, val_fraction, seed,
        unknown_signer=unknown_signer,  # type: ignore[arg-type]
    )
    written = manifest.write(out)
    print_manifest_summary(written, str(out))
    print_warnings(split_warnings(written))
    console.print(f"wrote {out}")


@manifest_app.command("dedupe")
def dedupe_cmd(
    manifest_path: Path = typer.Argument(..., help="Manifest CSV."),
    out: Path = OUT,
) -> None:
    """Write the manifest without rows repeating an earlier one (same path and frame range;
    the first is kept). Repeats with another label, signer or split are refused."""
    manifest = Manifest.read(manifest_path, duplicates="drop")
    manifest.write(out)
    console.print(f"wrote {out} ({len(manifest)} rows; dropped {manifest.dropped_duplicates} "
                  "repeated row(s))")


@manifest_app.command("merge")
def merge_cmd(
    out: Path = typer.Argument(..., help="Merged file to write (.csv, or .npz for embed --out)."),
    parts: list[Path] = typer.Argument(..., help="The files the --part I/N runs wrote (any order)."),
) -> None:
    """Join the outputs of a job split with --part I/N into the unsplit output; refuses a
    missing or repeated part and a row in two parts (docs/distributed.md)."""
    if out.suffix == ".npz":
        feats = merge_feature_parts(parts)
        feats.save(out)
        n = len(feats)
    else:
        n = merge_csv_parts(out, parts)
    console.print(f"wrote {out} ({n} rows from {len(parts)} parts)")


@manifest_app.command("info")
def info_cmd(manifest_path: Path = typer.Argument(..., help="Manifest CSV.")) -> None:
    """Rows, classes and signers per split (reads the CSV only, not the samples)."""
    print_manifest_summary(Manifest.read(manifest_path), str(manifest_path))


# ----------------------------------------------------------------------------- check

def print_check(result: ManifestCheck, show: int) -> None:
    print_report(result.report, "samples", show)
    for note, n in result.report.notes.items():
        console.print(f"[yellow]{note}: {n}[/]")
    stats = result.frame_stats()
    if stats:
        mean_present = sum(result.present) / len(result.present)
        console.print(
            f"usable: {result.report.kept}; frames min {stats['min']} / mean "
            f"{stats['mean']:.1f} / max {stats['max']}; detected joint-frames mean "
            f"{mean_present:.1%}"
        )


@manifest_app.command("check")
def check_cmd(
    manifest_path: Path = typer.Argument(..., help="Manifest CSV."),
    source_layout: str | None = typer.Option(
        None, "--source-layout", "--layout",
        help="Layout of flat-vector files (name or YAML), as for read (--layout is the older "
             "name)."),
    min_present: float = typer.Option(
        0.1, "--min-present", help="Report samples with a smaller detected share."),
    measure_layout: str | None = typer.Option(
        None, "--measure-layout",
        help="Measure the detected share on this layout's joints (e.g. masa49)."),
    normalize: str = typer.Option(
        "auto", "--normalize",
        help="Normalisation the data will be read with, as for embed/evaluate/pretrain: "
             "auto | shoulders | shoulders_frame | hands | shoulders_hands | none."),
    show: int = SHOW,
    report_json: Path | None = REPORT,
) -> None:
    """Read EVERY sample as embed/evaluate/pretrain do; report unreadable, empty,
    not normalisable and mostly-missing ones.

    Exits with code 1 when any sample is unreadable.
    """
    result = check_manifest(manifest_path, source_layout, min_present, measure_layout,
                            normalize=normalize)
    if report_json is not None:
        save_json(report_json, result.to_dict())
    print_check(result, show)
    if result.num_unreadable:
        console.print(f"[bold red]{result.num_unreadable} unreadable sample(s)[/]")
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add the ``manifest`` command group to ``app``."""
    app.add_typer(manifest_app, name="manifest")
