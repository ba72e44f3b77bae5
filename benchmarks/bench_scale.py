"""Scale of the sharded pose reader (signssl.data.shards) on this machine.

1. Writes two synthetic pose corpora as tar shards: ``--clips`` clips (100,000 by
   default) and a tenth of that.  Clips come from the synthetic generator
   (:class:`~signssl.synth.stream.SyntheticPoseDataset`, ``--frames`` frames, masa49,
   2-D): ``--unique`` distinct clips are generated and clip ``i`` is clip ``i % unique``
   plus small noise seeded by ``i`` (the generator makes ~65 clips/s on one core here,
   too slow for 100,000), each with its own row, label and signer.
2. Memory: a fresh process streams every clip of a corpus once (``ShardStream``,
   ``DataLoader`` batches of ``--batch``); its peak resident memory (``ru_maxrss``) is
   compared between the two corpora (flat = ratio near 1).
3. Loader: step rate of a tiny model (``pose_transformer_tiny``: forward, backward,
   AdamW step) fed by the shard loader (one worker) vs fed the same batches already in
   memory; on both corpora, interleaved, ``--repeat`` times, median and spread of the ratio.
4. DDP: one epoch of the small corpus with 1 process and with 2 processes (gloo,
   ``torch.multiprocessing.spawn``, one thread each, ``DistributedDataParallel``): the
   indices every rank trained on are gathered and checked (every clip exactly once);
   throughput ratio 2 processes / 1 process, interleaved, ``--repeat`` times.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py            # ~7 min here, 2.3 GB disk
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py --small    # a few minutes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch

from signssl.data.collate import collate_poses, share_batches_by_file
from signssl.data.shard_write import ShardSink, clip_record
from signssl.data.shards import INDEX_NAME, ShardDataset, ShardIndex, ShardStream
from signssl.utils import save_json

FRAMES = 32


# ----------------------------------------------------------------------------- corpus


def base_clips(unique: int, frames: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """``unique`` generated clips as ``(xyz (T, 49, 2), conf (T, 49), signer)``."""
    from signssl.synth.stream import SyntheticPoseDataset

    gen = SyntheticPoseDataset(classes=50, signers=20, frames=frames, layout="masa49", dims=2)
    out = []
    for i in range(unique):
        s = gen[i]
        out.append((s["pose"].xyz, s["pose"].conf, s["signer"]))
    return out


def write_corpus(out: Path, n: int, base: list, shard_size: int) -> float:
    """``n`` clips as shards in ``out`` (atomic: a temporary folder renamed); seconds taken."""
    from signssl.pose.layouts import get_layout
    from signssl.pose.sequence import PoseSequence

    layout = get_layout("masa49")
    t0 = time.perf_counter()
    tmp = out.parent / f".{out.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    sink = ShardSink(tmp, shard_size, "shard")
    for i in range(n):
        xyz, conf, signer = base[i % len(base)]
        noise = np.random.default_rng(i).normal(0.0, 1e-3, xyz.shape).astype(np.float32)
        seq = PoseSequence(xyz + noise, conf, layout, fps=25.0, source=f"synth:{i}")
        meta = {"row": i, "split_row": i, "label": f"c{i % 50}", "signer": signer, "split": None,
                "start": None, "end": None, "fps": 25.0, "path": f"synth:{i}", "layout": "masa49",
                "extra": {}}  # fmt: skip
        sink.write(clip_record(f"{i:09d}", seq, meta), None)
    index = ShardIndex(out, sink.close(), "masa49", 2, "auto", True, [f"c{c}" for c in range(50)],
                       report={"counts": {"kept": n}})  # fmt: skip
    save_json(tmp / INDEX_NAME, index.to_dict())
    os.replace(tmp, out)
    return time.perf_counter() - t0


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir())


# ----------------------------------------------------------------------------- memory


def child_stream(root: str, batch: int) -> None:
    """(child process) Stream every clip once; print JSON: clips, seconds, RSS figures."""
    torch.set_num_threads(1)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ds = ShardDataset(root)
    loader = torch.utils.data.DataLoader(ShardStream(ds, block=batch), batch_size=batch,
                                         collate_fn=partial(collate_poses, max_frames=FRAMES))
    t0 = time.perf_counter()
    n = sum(int(b["x"].shape[0]) for b in loader)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"clips": n, "seconds": seconds, "base_mib": base, "peak_mib": peak}))


def stream_in_child(root: Path, batch: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-stream", str(root), "--batch", str(batch)],
                         check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- loader


def tiny_model() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    from signssl.models import create_model

    torch.manual_seed(0)
    model = create_model("pose_transformer_tiny", layout="masa49", in_dims=2, max_frames=FRAMES,
                         dropout=0.0)
    return model, torch.optim.AdamW(model.parameters(), lr=1e-4)


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: dict) -> None:
    loss = model.embed(batch).pow(2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def loader_ratio(root: Path, batch: int, steps: int, repeat: int, workers: int,
                 first_epoch: int = 0, label: str = "", sharing: str = "file_system") -> list[float]:
    """Per repeat: (shard loader steps/s) / (in-memory batches steps/s)."""
    torch.set_num_threads(1)
    model, opt = tiny_model()
    collate = partial(collate_poses, max_frames=FRAMES)
    stream = ShardStream(ShardDataset(root), block=batch)
    if workers > 0 and sharing == "file_system":
        share_batches_by_file()  # as the library's loaders do
    elif workers > 0:
        torch.multiprocessing.set_sharing_strategy(sharing)
    steps = min(steps, (len(stream) // batch - 2) // 2)  # one epoch holds both measurements
    ratios = []
    for r in range(repeat):
        stream.set_epoch(first_epoch + r)
        loader = torch.utils.data.DataLoader(stream, batch_size=batch, num_workers=workers,
                                             collate_fn=collate, prefetch_factor=4 if workers else None)
        it = iter(loader)
        for _ in range(2):  # worker start-up
            train_step(model, opt, next(it))
        ready = [next(it) for _ in range(steps)]  # the same kind of batches, in memory
        t0, c0 = time.perf_counter(), time.process_time()
        for b in ready:
            train_step(model, opt, b)
        mem_rate, mem_cpu = steps / (time.perf_counter() - t0), (time.process_time() - c0) / steps
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            train_step(model, opt, next(it))
        load_rate, load_cpu = steps / (time.perf_counter() - t0), (time.process_time() - c0) / steps
        ratios.append(load_rate / mem_rate)
        print(f"  {label}repeat {first_epoch + r}: in memory {mem_rate:.1f} steps/s ({1000 * mem_cpu:.0f} ms CPU/step), "
              f"shard loader {load_rate:.1f} steps/s ({1000 * load_cpu:.0f} ms CPU/step in the "
              f"training process), ratio {ratios[-1]:.3f}", flush=True)
        del it, loader
    return ratios


# ----------------------------------------------------------------------------- DDP


def _ddp_rank(rank: int, world: int, root: str, batch: int, port: int, result: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    model, opt = tiny_model()
    ddp = DistributedDataParallel(_Embed(model))  # gradients all-reduced over the ranks
    stream = ShardStream(ShardDataset(root), block=batch)  # rank and world from torch.distributed
    loader = torch.utils.data.DataLoader(stream, batch_size=batch,
                                         collate_fn=partial(collate_poses, max_frames=FRAMES))
    seen: list[int] = []
    dist.barrier()
    t0 = time.perf_counter()
    for b in loader:
        loss = ddp(b).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen.extend(b["index"].tolist())
    seconds = time.perf_counter() - t0
    gathered: list = [None] * world
    dist.all_gather_object(gathered, {"seen": seen, "seconds": seconds})
    if rank == 0:
        Path(result).write_text(json.dumps(gathered))
    dist.barrier()  # no rank closes its connections while another still uses them
    dist.destroy_process_group()


class _Embed(torch.nn.Module):
    """``forward = encoder.embed`` (DDP's hooks run on ``forward``)."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, batch: dict) -> torch.Tensor:
        return self.encoder.embed(batch)


def ddp_epoch_retried(root: Path, world: int, batch: int, tries: int = 3) -> tuple[dict, int]:
    """:func:`ddp_epoch`, started again (up to ``tries`` times) when a process dies; the
    result and how many starts failed (reported, never hidden)."""
    for failed in range(tries):
        try:
            return ddp_epoch(root, world, batch), failed
        except torch.multiprocessing.ProcessExitedException as e:
            print(f"  ({world} processes: a process died: {e}; starting again)", flush=True)
    raise RuntimeError(f"{world}-process DDP epoch failed {tries} times")


def ddp_epoch(root: Path, world: int, batch: int) -> dict:
    """One epoch with ``world`` processes: clips/s and whether every clip came once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        result = f.name
    torch.multiprocessing.spawn(_ddp_rank, args=(world, str(root), batch, port, result), nprocs=world)
    ranks = json.loads(Path(result).read_text())
    os.unlink(result)
    seen = [i for r in ranks for i in r["seen"]]
    n = len(ShardDataset(root))
    return {"clips": len(seen), "seconds": max(r["seconds"] for r in ranks),
            "exactly_once": sorted(seen) == list(range(n - n % world)),
            "per_rank": [len(r["seen"]) for r in ranks]}


# ----------------------------------------------------------------------------- main


def spread(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} [{min(xs):.3f}-{max(xs):.3f}] over {len(xs)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=100_000)
    ap.add_argument("--small", action="store_true", help="10,000 clips, fewer steps (a quick run)")
    ap.add_argument("--unique", type=int, default=500, help="distinct generated clips")
    ap.add_argument("--shard-size", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30, help="steps per loader measurement")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="DataLoader workers of the loader test")
    ap.add_argument("--sharing", nargs="+", default=["file_system"],
                    choices=["file_system", "file_descriptor"],
                    help="torch sharing strategies of the loader test, each measured in turn "
                         "(the library's loaders use file_system)")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "signssl_bench_scale")
    ap.add_argument("--keep", action="store_true", help="keep the corpora (else deleted)")
    ap.add_argument("--child-stream", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_stream:
        child_stream(args.child_stream, args.batch)
        return
    if args.small:
        args.clips, args.steps, args.repeat, args.unique = 10_000, 15, 2, 200
    torch.set_num_threads(1)
    print(f"load average before: {os.getloadavg()}, cpus: {os.cpu_count()}", flush=True)
    args.workdir.mkdir(parents=True, exist_ok=True)
    big, small = args.workdir / f"shards{args.clips}", args.workdir / f"shards{args.clips // 10}"
    try:
        t0 = time.perf_counter()
        base = base_clips(args.unique, FRAMES)
        print(f"generated {args.unique} distinct clips in {time.perf_counter() - t0:.1f} s", flush=True)
        for root, n in ((small, args.clips // 10), (big, args.clips)):
            shutil.rmtree(root, ignore_errors=True)
            sec = write_corpus(root, n, base, args.shard_size)
            print(f"wrote {n} clips in {len(ShardIndex.read(root).shards)} shards, "
                  f"{folder_bytes(root) / 2**20:.0f} MiB, {n / sec:.0f} clips/s", flush=True)

        print("memory: peak RSS of a process streaming every clip once", flush=True)
        rss: dict[int, list[float]] = {}
        for _ in range(2):
            for root, n in ((small, args.clips // 10), (big, args.clips)):
                r = stream_in_child(root, args.batch)
                assert r["clips"] == n
                rss.setdefault(n, []).append(r["peak_mib"])
                print(f"  {n} clips: peak {r['peak_mib']:.0f} MiB (after imports {r['base_mib']:.0f}), "
                      f"{n / r['seconds']:.0f} clips/s", flush=True)
        lo, hi = (max(rss[k]) for k in sorted(rss))
        print(f"  peak RSS {args.clips} / {args.clips // 10} clips: {hi / lo:.3f}", flush=True)

        print(f"loader: tiny model steps/s, shard loader ({args.workers} worker) / in memory", flush=True)
        ratios: dict[tuple[int, str], list[float]] = {}
        for r in range(args.repeat):  # corpora and strategies interleaved
            for root, n in ((small, args.clips // 10), (big, args.clips)):
                for how in args.sharing:
                    ratios.setdefault((n, how), []).extend(loader_ratio(
                        root, args.batch, args.steps, 1, args.workers, r, f"{n} clips, {how}, ", how))
        for (n, how), xs in ratios.items():
            print(f"  ratio at {n} clips, {how} sharing: {spread(xs)}", flush=True)

        print(f"DDP (gloo): one epoch of {args.clips // 10} clips", flush=True)
        speed: list[float] = []
        failures = 0
        for _ in range(args.repeat):
            one, f1 = ddp_epoch_retried(small, 1, args.batch)
            two, f2 = ddp_epoch_retried(small, 2, args.batch)
            failures += f1 + f2
            r1, r2 = one["clips"] / one["seconds"], two["clips"] / two["seconds"]
            speed.append(r2 / r1)
            print(f"  1 process {r1:.0f} clips/s (exactly once: {one['exactly_once']}), 2 processes "
                  f"{r2:.0f} clips/s (exactly once: {two['exactly_once']}, per rank {two['per_rank']})",
                  flush=True)
        print(f"  throughput 2 / 1 processes {spread(speed)}", flush=True)
        print(f"  DDP starts that lost a process and were run again: {failures}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(big, ignore_errors=True)
            shutil.rmtree(small, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
