"""WebDataset vs litdata for pose-clip shards: write speed, read speed, random access.

Writes the same ``--clips`` pose clips (``(T, J, C)`` float32 xyz + ``(T, J)`` float32
confidence + label/signer/index) with each library into shards of ``--shard-size``
clips, then reads them back in order with each library's reader, and by random index
(litdata's ``StreamingDataset[i]``; tar members by their offsets with ``tarfile``).
Each measurement is repeated ``--repeat`` times, the two libraries interleaved; medians
and the spread (min-max) are printed.

    .venv/bin/pip install -c constraints.txt litdata    # not a dependency of signssl
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_shard_libs.py --clips 3000

Results and the choice they led to: docs/scale.md.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def make_clips(n: int, frames: int, joints: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [
        {
            "xyz": rng.standard_normal((frames, joints, 2)).astype(np.float32),  # (T, J, C)
            "conf": rng.random((frames, joints)).astype(np.float32),  # (T, J)
            "label": int(i % 50),
            "signer": f"s{i % 12:02d}",
            "index": i,
        }
        for i in range(n)
    ]


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def write_wds(clips: list[dict], out: Path, shard_size: int) -> None:
    import webdataset as wds

    out.mkdir(parents=True)
    with wds.ShardWriter(str(out / "shard-%06d.tar"), maxcount=shard_size, verbose=0) as sink:
        for c in clips:
            sink.write({"__key__": f"{c['index']:08d}", "xyz.npy": _npy(c["xyz"]),
                        "conf.npy": _npy(c["conf"]), "label.txt": str(c["label"]),
                        "signer.txt": c["signer"]})


def read_wds(out: Path) -> int:
    import webdataset as wds

    urls = sorted(str(p) for p in out.glob("*.tar"))
    n = 0
    for s in wds.WebDataset(urls, shardshuffle=False, empty_check=False).decode():
        n += int(s["xyz.npy"].shape[0] > 0)
    return n


def read_tar_random(out: Path) -> int:
    """Random access to tar shards by member offsets (what ``signssl.data.shards`` does)."""
    import tarfile

    where = {}
    for shard in sorted(out.glob("*.tar")):
        with tarfile.open(shard) as tf:
            for m in tf.getmembers():
                where[m.name] = (shard, m.offset_data, m.size)
    keys = sorted(k for k in where if k.endswith(".xyz.npy"))
    n = 0
    files: dict[Path, object] = {}
    for i in np.random.default_rng(0).permutation(len(keys)):
        shard, off, size = where[keys[i]]
        f = files.setdefault(shard, open(shard, "rb"))  # noqa: SIM115
        f.seek(off)
        n += int(np.load(io.BytesIO(f.read(size))).shape[0] > 0)
    for f in files.values():
        f.close()
    return n


def write_lit(clips: list[dict], out: Path, shard_size: int) -> None:
    from litdata.streaming.writer import BinaryWriter

    writer = BinaryWriter(str(out), chunk_size=shard_size)
    for c in clips:
        writer.add_item(c["index"], c)
    writer.done()
    writer.merge()


def read_lit(out: Path, random: bool = False) -> int:
    from litdata import StreamingDataset

    ds = StreamingDataset(str(out))
    n = 0
    if random:
        for i in np.random.default_rng(0).permutation(len(ds)):
            n += int(ds[int(i)]["xyz"].shape[0] > 0)
    else:
        for s in ds:
            n += int(s["xyz"].shape[0] > 0)
    return n


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=3000)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--joints", type=int, default=49)
    ap.add_argument("--shard-size", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    clips = make_clips(args.clips, args.frames, args.joints)
    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            for name, write, reads in (
                ("webdataset", write_wds, [("read", read_wds), ("random", read_tar_random)]),
                ("litdata", write_lit, [("read", read_lit),
                                        ("random", lambda p: read_lit(p, random=True))]),
            ):
                out = Path(tmp) / f"{name}{r}"
                times.setdefault(f"{name} write", []).append(timed(write, clips, out, args.shard_size))
                sizes[name] = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
                for what, read in reads:
                    times.setdefault(f"{name} {what}", []).append(timed(read, out))
                shutil.rmtree(out)
    print(f"{args.clips} clips of ({args.frames}, {args.joints}, 2), shards of {args.shard_size}, "
          f"{args.repeat} repeats (median clips/s, spread)")
    for key, ts in times.items():
        rates = [args.clips / t for t in ts]
        print(f"  {key:<20} {statistics.median(rates):>9.0f} clips/s  [{min(rates):.0f}-{max(rates):.0f}]")
    for name, size in sizes.items():
        print(f"  {name} on disk: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
