"""Window-feature extraction of a long video in bounded memory (docs/methods.md#signrep-retrieval).

Builds a ``--minutes`` long (default 10) synthetic continuous-signing video at 25 fps
(15,000 frames) of ``--size`` pixels (64): one continuous clip of ``--clip-frames`` (250)
frames is generated with :func:`signssl.synth.generate_dataset` and the long file is
written by repeating it, streamed frame by frame through
:func:`signssl.io.video.write_video` (rendering 15,000 distinct frames would take minutes
on two cores and gives the decoder and the encoder the same work).  A random-init
``--model`` (``hiera_tiny_16x64``) is exported as a run, and ``signssl extract-features``'s
library function runs in a fresh child process over the video (16-frame windows, stride
2, ``--batch-size`` windows per encoder call).

The same is done first on a ``--reference-minutes`` (0.5) cut of the video.  Printed,
measured in that one run: each child's peak RSS (``resource.getrusage``) after imports
and model loading and at the end, so what extraction added, against the size the decoded
video would take in memory (uint8 and float32); what the long video adds beyond the short
one (bounded memory: about 0); and the windows per second.  Extraction's own working
memory is the encoder's activations for one batch of windows (proportional to
``--batch-size``).

    .venv/bin/python benchmarks/bench_extract_features.py [--minutes 10] [--size 64]
        [--reference-minutes 0.5] [--model hiera_tiny_16x64] [--batch-size 32]
        [--threads N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FPS = 25.0
WINDOW, STRIDE = 16, 2


def rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def repeated(frames: np.ndarray, total: int) -> Iterator[np.ndarray]:
    """``total`` frames cycling through ``frames`` (one at a time)."""
    for i in range(total):
        yield frames[i % len(frames)]


def generated_clip(work: Path, size: int, clip_frames: int) -> np.ndarray:
    """One synthetic continuous-signing clip, ``(T, H, W, 3)`` uint8."""
    from signssl.data import Manifest
    from signssl.io.video import read_video
    from signssl.synth import generate_dataset

    csv_path = generate_dataset(
        work / "synth",
        classes=8,
        signers=1,
        reps=1,
        frames=clip_frames,
        video=True,
        size=size,
        continuous=True,
        progress=False,
    )
    m = Manifest.read(csv_path)
    return read_video(m.root / m.rows[0].extra["video"]).frames  # type: ignore[operator]


def make_video(path: Path, clip: np.ndarray, minutes: float) -> tuple[Path, int]:
    """A ``minutes`` long video repeating ``clip``, written frame by frame."""
    from signssl.io.video import write_video

    total = int(round(minutes * 60 * FPS))
    return write_video(path, repeated(clip, total), fps=FPS), total


def make_run(work: Path, model: str) -> Path:
    import torch

    from signssl.models import create_model
    from signssl.store.model import export_model

    torch.manual_seed(0)
    enc = create_model(model)
    export_model(
        enc,
        work / "run" / "model",
        model,
        {},
        modality="video",
        input_size=list(enc.input_size),
        frame_step=1,
        fps=None,
    )
    return work / "run"


def child(work: Path, video: Path, batch_size: int, threads: int | None) -> None:
    """Runs in a fresh process: extraction only, then prints its measurements as JSON."""
    import torch

    from signssl.data import Manifest, ManifestRow
    from signssl.eval.extract import extract_run_features
    from signssl.store.model import load_model

    if threads:
        torch.set_num_threads(threads)
    manifest = work / f"{video.stem}.csv"
    Manifest([ManifestRow(str(video))]).write(manifest)
    load_model(work / "run")  # imports and one model in memory: the baseline
    before = rss_mb()
    out = work / f"features_{video.stem}"
    rep = extract_run_features(
        work / "run", manifest, out, WINDOW, STRIDE, batch_size, progress=False
    )
    z = np.load(out / f"{video.stem}.npy", mmap_mode="r")
    result = {
        "rss_before_mb": before,
        "rss_peak_mb": rss_mb(),
        "windows": rep.windows_written,
        "seconds": rep.seconds,
        "windows_per_second": rep.windows_per_second,
        "shape": list(z.shape),
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


def measure(work: Path, video: Path, args: argparse.Namespace) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        str(work),
        "--video",
        str(video),
        "--batch-size",
        str(args.batch_size),
    ]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def report(name: str, frames: int, size: int, r: dict) -> float:
    """Print one child's figures; returns the MB extraction added."""
    decoded = frames * size * size * 3 / 2**20
    grown = r["rss_peak_mb"] - r["rss_before_mb"]
    print(
        f"{name}: {frames} frames -> output {tuple(r['shape'])}; decoded it would take "
        f"{decoded:.0f} MB (uint8) / {4 * decoded:.0f} MB (float32); peak RSS "
        f"{r['rss_before_mb']:.0f} MB after imports + model, {r['rss_peak_mb']:.0f} MB at the "
        f"end: extraction added {grown:.0f} MB; {r['windows']} windows in {r['seconds']:.1f} s "
        f"= {r['windows_per_second']:.1f} windows/s"
    )
    return grown


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--reference-minutes", type=float, default=0.5)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--clip-frames", type=int, default=250)
    ap.add_argument("--model", default="hiera_tiny_16x64")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--video", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.video, args.batch_size, args.threads)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        clip = generated_clip(work, args.size, args.clip_frames)
        short, n_short = make_video(work / "short.mp4", clip, args.reference_minutes)
        long, n_long = make_video(work / "long.mp4", clip, args.minutes)
        print(
            f"videos made in {time.perf_counter() - t0:.1f} s by repeating one generated "
            f"{len(clip)}-frame continuous clip: {args.reference_minutes:g} and {args.minutes:g} "
            f"min at {FPS:g} fps, {args.size} px ({long.stat().st_size / 2**20:.1f} MB file)"
        )
        make_run(work, args.model)
        print(f"model {args.model}, window {WINDOW}, stride {STRIDE}, batch {args.batch_size}")
        a = report("reference", n_short, args.size, measure(work, short, args))
        r = measure(work, long, args)
        b = report("long video", n_long, args.size, r)
        print(
            f"the long video ({n_long / n_short:.0f}x the frames) added {b - a:+.0f} MB of peak RSS "
            f"beyond the reference ({r['threads']} threads)"
        )


if __name__ == "__main__":
    main()
