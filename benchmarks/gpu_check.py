"""One-run check of the video pretraining path on a GPU: speed, memory, learning, DDP, data.

Sections (each one reported on its own: a failure is recorded as an error string and the
next section still runs; once ``--budget-s`` seconds have passed the remaining sections
are recorded as skipped):

``env``            torch / CUDA versions, the device, bf16 support.
``hiera_b``        Hiera-B at the paper's configuration (``hiera_base_16x224``, clips
                   16 x 224 x 224, mask ratio 0.9 from the model's ``random_mask``):
                   forward + backward time per step with bf16 autocast and in fp32, and
                   the peak CUDA memory of each.
``signrep_tiny``   SignRep pretraining with the ``--config tiny`` settings
                   (``hiera_tiny_16x64``, the tiny decoder / discriminator widths) for
                   ``--steps`` steps; loss at the start and at the end.
``signrep_paper``  the same with the paper's model and widths (``signrep.yaml``: Hiera-B,
                   latent 768, discriminator 768, mask ratio 0.8), bf16 autocast.
``ddp``            DistributedDataParallel on this one device (``torch.distributed``, NCCL
                   on CUDA / gloo on CPU, world size 1, env initialisation): a few steps.
``dataloader``     crops per second of ``PairClipDataset`` + ``collate_pairs`` in a
                   ``DataLoader`` with workers, against the crops per second the paper-size
                   step consumes (``loader / step`` >= 1: the loader keeps up).

Training data: a small synthetic sign set with videos and pose (``signssl.synth``)
written to a temporary folder, read by ``PairClipDataset`` (two crops per video, priors
computed from the pose); a few batches are loaded once and cycled, so the loss falls as
the model fits them.  Every number is printed and written to ``--out`` (JSON, rewritten
after each section, so a run cut short keeps what it measured).  Nothing is downloaded
and nothing outside a temporary folder and ``--out`` is written.

How to run it (from the repository root, in the project's environment)::

    python benchmarks/gpu_check.py                        # one CUDA GPU: a few minutes,
                                                          # at most --budget-s (420 s)
    python benchmarks/gpu_check.py --out check.json --budget-s 300 --steps 100
    python benchmarks/gpu_check.py --device cpu --smoke   # every section, tiny, < 1 min
    pytest -m gpu tests/test_gpu_check.py                 # the full check as a test

The exit status is 1 when a section failed.  Read in the JSON: ``hiera_b.bf16_step_ms`` /
``fp32_step_ms`` and ``*_peak_mem_gib``; ``signrep_*.loss_start`` > ``loss_end``
(``loss_falling``), ``step_ms``, ``peak_mem_gib``; ``ddp.all_reduce_ok``;
``dataloader.loader_over_step`` (< 1: training would wait for data with these workers).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

SECTIONS = ("env", "hiera_b", "signrep_tiny", "signrep_paper", "ddp", "dataloader")
GIB = 1024**3


@dataclass(frozen=True)
class Sizes:
    """What each section runs; :func:`sizes` gives the full and the smoke settings."""

    hiera_model: str  # the Hiera-B timing
    hiera_batch: int
    hiera_iters: int
    tiny_model: str  # signrep_tiny (with the tiny profile's method widths)
    tiny_steps: int
    paper_model: str  # signrep_paper (with signrep.yaml's method widths)
    paper_batch: int  # videos per batch (two crops each)
    paper_steps: int
    ddp_steps: int
    loader_batches: int
    loader_workers: int
    video_size: int  # side of the synthetic videos
    videos: int  # synthetic videos (classes x signers x reps)


def sizes(smoke: bool, steps: int | None = None) -> Sizes:
    """The full check (one GPU), or tiny sizes for a CPU smoke test."""
    if smoke:
        return Sizes("hiera_test", 2, 2, "hiera_test", steps or 6, "hiera_test", 2, steps or 6,
                     2, 2, 0, 32, 8)
    workers = min(8, max(1, (os.cpu_count() or 2) - 2))
    return Sizes("hiera_base_16x224", 16, 10, "hiera_tiny_16x64", steps or 300,
                 "hiera_base_16x224", 8, steps or 200, 5, 12, workers, 128, 24)


# ----------------------------------------------------------------------------- helpers


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, bf16: bool) -> AbstractContextManager[Any]:
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gib(device: torch.device) -> float | None:
    """Peak CUDA memory allocated since :func:`reset_peak` (``None`` off CUDA)."""
    return torch.cuda.max_memory_allocated(device) / GIB if device.type == "cuda" else None


def to_device(x: Any, device: torch.device) -> Any:
    """Tensors of a nested batch (dicts, lists) moved to ``device``."""
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    if isinstance(x, list):
        return [to_device(v, device) for v in x]
    return x


def timed_ms(fn: Callable[[], object], iters: int, warmup: int, device: torch.device) -> list[float]:
    """Milliseconds of each of ``iters`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(1000 * (time.perf_counter() - t0))
    return times


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def error_text(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip()
    return text if len(text) < 500 else text[:500] + "..."


# ----------------------------------------------------------------------------- data


class SynthData:
    """A synthetic video set in a temporary folder and ``PairClipDataset`` views of it."""

    def __init__(self, root: Path, s: Sizes) -> None:
        from signssl.synth import generate_dataset

        self.sizes = s
        classes = max(2, s.videos // 4)
        self.manifest = generate_dataset(root / "synth", classes, 2, max(1, s.videos // (2 * classes)),
                                         32, video=True, size=s.video_size, seed=0, progress=False)

    def dataset(self, clip: tuple[int, int, int]) -> Any:
        """Pairs of ``(T, H, W)`` crops with their priors."""
        from signssl.data.signrep import PairClipDataset

        T, H, W = clip
        ds = PairClipDataset(self.manifest, clip_len=T, size=(H, W), priors=True, seed=0)
        ds.scan(progress=False)
        return ds

    def batches(self, clip: tuple[int, int, int], batch: int, count: int) -> list[dict[str, Any]]:
        """``count`` collated batches of ``batch`` videos, loaded once."""
        from signssl.data.signrep import collate_pairs

        ds = self.dataset(clip)
        n = len(ds)
        return [collate_pairs([ds[(k * batch + i) % n] for i in range(batch)]) for k in range(count)]


# ----------------------------------------------------------------------------- sections


def section_env(ctx: Check) -> dict[str, Any]:
    dev = ctx.device
    out: dict[str, Any] = {
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "device": str(dev),
        "cuda_available": torch.cuda.is_available(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        out.update(gpu=props.name, gpu_memory_gib=props.total_memory / GIB,
                   capability=f"{props.major}.{props.minor}", cuda=torch.version.cuda,
                   bf16_supported=torch.cuda.is_bf16_supported(),
                   nccl_available=torch.distributed.is_nccl_available())
    return out


class PooledLoss(torch.nn.Module):
    """``forward(x, mask)`` = mean square of the encoder's pooled tokens, the loss of
    :func:`hiera_step` as a module DDP can wrap (its gradient hooks run through
    ``forward``; every parameter, the final norm included, takes part)."""

    def __init__(self, encoder: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.of(self.encoder, x, mask)

    @staticmethod
    def of(encoder: Any, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        tokens = encoder.forward_features(x, mask)  # (B, visible tokens, D)
        return encoder.pool(tokens).float().square().mean()  # (B, D) -> ()


def hiera_step(model: Any, x: torch.Tensor, mask: torch.Tensor, bf16: bool) -> None:
    """Forward (masked tokens, pooled) + backward, no optimiser."""
    model.zero_grad(set_to_none=True)
    with autocast(x.device, bf16):
        loss = PooledLoss.of(model, x, mask)
    loss.backward()


def section_hiera(ctx: Check) -> dict[str, Any]:
    from signssl.models.registry import create_model

    s, dev = ctx.sizes, ctx.device
    torch.manual_seed(0)
    model = create_model(s.hiera_model).to(dev).train()
    B = s.hiera_batch
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (B, 3, *model.input_size), generator=g, dtype=torch.uint8).to(dev)
    mask = model.random_mask(B, 0.9, g)  # (B, units) True = hidden
    out: dict[str, Any] = {"model": s.hiera_model, "batch": B, "input": list(model.input_size),
                           "mask_ratio": 0.9, "hidden_units": int(mask[0].sum()),
                           "units": int(mask.shape[1])}
    for name, bf16 in (("bf16", True), ("fp32", False)):
        reset_peak(dev)
        ms = timed_ms(lambda b=bf16: hiera_step(model, x, mask, b), s.hiera_iters, 3, dev)
        out[f"{name}_step_ms"] = statistics.median(ms)
        out[f"{name}_step_ms_range"] = [min(ms), max(ms)]
        out[f"{name}_clips_per_s"] = 1000 * B / statistics.median(ms)
        out[f"{name}_peak_mem_gib"] = peak_gib(dev)
    out["bf16_speedup"] = out["fp32_step_ms"] / out["bf16_step_ms"]
    return out


def build_signrep(profile: str | None, model_name: str, device: torch.device) -> tuple[Any, Any]:
    """SignRep with the method options of a profile (``tiny`` or the paper's), its optimisers
    (AdamW on the encoder + decoder, the discriminator's own Adam) at the profile's peak
    learning rate from the first step (no warmup: a short run that must learn)."""
    from signssl.engine.config import load_config
    from signssl.methods import create_method
    from signssl.models.registry import create_model

    cfg = load_config("signrep", profile)
    torch.manual_seed(0)
    kwargs = cfg.model.kwargs if model_name == cfg.model.name else {}
    encoder = create_model(model_name, **kwargs)
    method = create_method("signrep", encoder, **cfg.method.kwargs).to(device).train()
    aux = method.auxiliary_optimizer()
    aux_ids = {id(p) for p in aux["params"]} if aux else set()
    main = [p for p in method.parameters() if id(p) not in aux_ids and p.requires_grad]
    opt = torch.optim.AdamW(main, lr=cfg.optim.lr, weight_decay=0.05)
    opt_d = torch.optim.Adam(aux["params"], lr=cfg.optim.lr, betas=aux["betas"]) if aux else None
    return method, (opt, opt_d)


def train_steps(method: Any, opts: tuple[Any, Any], batches: Iterator[dict[str, Any]], steps: int,
                bf16: bool, device: torch.device, deadline: float) -> tuple[list[float], list[float]]:
    """Up to ``steps`` optimiser steps (fewer when ``deadline`` passes); the loss and the
    milliseconds of every step."""
    opt, opt_d = opts
    params = [p for group in opt.param_groups for p in group["params"]]
    losses: list[torch.Tensor] = []
    times: list[float] = []
    for _ in range(steps):
        if time.perf_counter() > deadline and len(losses) >= 4:
            break
        batch = to_device(next(batches), device)
        sync(device)
        t0 = time.perf_counter()
        with autocast(device, bf16):
            out = method.training_loss(batch)
        total = out["loss"] + out.get("aux_loss", 0.0)
        opt.zero_grad(set_to_none=True)
        if opt_d is not None:
            opt_d.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if opt_d is not None:
            opt_d.step()
        sync(device)
        times.append(1000 * (time.perf_counter() - t0))
        losses.append(out["loss"].detach().float())
    return torch.stack(losses).cpu().tolist(), times


def cycle(items: list[Any]) -> Iterator[Any]:
    while True:
        yield from items


def section_signrep(ctx: Check, profile: str | None, model_name: str, batch: int, steps: int,
                    share: float) -> dict[str, Any]:
    """Pretrain for ``steps`` steps (or until ``share`` of the remaining budget is used)."""
    dev = ctx.device
    method, opts = build_signrep(profile, model_name, dev)
    clip = tuple(method.hiera.input_size)
    pool = ctx.data.batches(clip, batch, 4)
    bf16 = True  # autocast to bfloat16 (on a CPU too, so the smoke test runs the same path)
    deadline = time.perf_counter() + share * ctx.remaining()
    reset_peak(dev)
    losses, ms = train_steps(method, opts, cycle(pool), steps, bf16, dev, deadline)
    k = max(1, len(losses) // 10)  # the first and the last tenth of the run
    start, end = statistics.mean(losses[:k]), statistics.mean(losses[-k:])
    timed = ms[2:] or ms  # the first steps compile kernels
    step_ms = statistics.median(timed)
    crops = int(pool[0]["video"].shape[0] * pool[0]["video"].shape[1])
    out = {"model": model_name, "profile": profile or "signrep.yaml", "videos_per_batch": batch,
           "crops_per_batch": crops, "clip": list(clip), "bf16": bf16, "steps": len(losses),
           "steps_asked": steps, "loss_start": start, "loss_end": end,
           "loss_first": losses[0], "loss_last": losses[-1], "loss_falling": end < start,
           "finite": all(math.isfinite(v) for v in losses), "step_ms": step_ms,
           "lr": opts[0].param_groups[0]["lr"], "step_ms_range": [min(timed), max(timed)],
           "crops_per_s": 1000 * crops / step_ms,
           "peak_mem_gib": peak_gib(dev)}
    ctx.results.setdefault("_rates", {})[model_name] = out["crops_per_s"]
    ctx.results.setdefault("_clips", {})[model_name] = clip
    return out


def ddp_steps(device: torch.device, model_name: str, steps: int) -> dict[str, Any]:
    """A few DDP steps in this process, as rank 0 of a world of one (env initialisation)."""
    from datetime import timedelta

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from signssl.models.registry import create_model

    backend = "nccl" if device.type == "cuda" else "gloo"
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ["MASTER_PORT"] = str(free_port())
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=0, world_size=1, timeout=timedelta(seconds=120))
    try:
        torch.manual_seed(0)
        encoder = create_model(model_name)
        model = PooledLoss(encoder).to(device).train()
        ids = [device.index] if device.type == "cuda" else None
        ddp = DistributedDataParallel(model, device_ids=ids)
        opt = torch.optim.AdamW(ddp.parameters(), lr=1e-3)
        B = 2
        x = torch.randint(0, 256, (B, 3, *encoder.input_size), dtype=torch.uint8).to(device)
        mask = encoder.random_mask(B, 0.8)
        losses, times = [], []
        for _ in range(steps):
            sync(device)
            t0 = time.perf_counter()
            loss = ddp(x, mask)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sync(device)
            times.append(1000 * (time.perf_counter() - t0))
            losses.append(float(loss.detach()))
        t = torch.ones(1, device=device)
        dist.all_reduce(t)
        return {"backend": backend, "world_size": dist.get_world_size(), "model": model_name,
                "steps": steps, "step_ms": statistics.median(times), "loss_first": losses[0],
                "loss_last": losses[-1], "all_reduce_ok": float(t.item()) == 1.0}
    finally:
        dist.destroy_process_group()


def section_ddp(ctx: Check) -> dict[str, Any]:
    return ddp_steps(ctx.device, ctx.sizes.tiny_model, ctx.sizes.ddp_steps)


def section_loader(ctx: Check) -> dict[str, Any]:
    """Crops per second out of a DataLoader against the paper-size step's consumption."""
    from torch.utils.data import DataLoader

    from signssl.data.signrep import collate_pairs
    from signssl.models.registry import create_model

    s = ctx.sizes
    clip = ctx.results.get("_clips", {}).get(s.paper_model)
    if clip is None:  # signrep_paper did not run
        clip = tuple(create_model(s.paper_model).input_size)
    ds = ctx.data.dataset(clip)
    loader = DataLoader(ds, batch_size=s.paper_batch, shuffle=True, num_workers=s.loader_workers,
                        collate_fn=collate_pairs, persistent_workers=s.loader_workers > 0,
                        pin_memory=ctx.device.type == "cuda", drop_last=False)
    it = iter(loader)
    first = next(it)  # worker start-up, excluded
    t0, crops, batches = time.perf_counter(), 0, 0
    while batches < s.loader_batches:
        try:
            b = next(it)
        except StopIteration:
            it = iter(loader)
            continue
        crops += int(b["video"].shape[0] * b["video"].shape[1])
        batches += 1
    sec = time.perf_counter() - t0
    T = int(first["video"].shape[2])
    rate = crops / sec
    out = {"workers": s.loader_workers, "clip": list(clip), "batches": batches,
           "crops_per_s": rate, "frames_per_s": rate * T, "videos": len(ds)}
    step_rate = ctx.results.get("_rates", {}).get(s.paper_model)
    if step_rate is not None:
        out["step_crops_per_s"] = step_rate
        out["loader_over_step"] = rate / step_rate
        out["keeps_up"] = rate >= step_rate
    else:
        out["loader_over_step"] = "no step rate: signrep_paper did not run"
    return out


# ----------------------------------------------------------------------------- driver


class Check:
    """Runs the sections in order, each on its own, within a time budget."""

    def __init__(self, device: torch.device, s: Sizes, budget_s: float, out: Path, tmp: Path) -> None:
        self.device, self.sizes, self.out, self.tmp = device, s, out, tmp
        self.start = time.perf_counter()
        self.budget_s = budget_s
        self.results: dict[str, Any] = {}
        self._data: SynthData | None = None

    @property
    def data(self) -> SynthData:
        if self._data is None:
            self._data = SynthData(self.tmp, self.sizes)
        return self._data

    def remaining(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)

    def run(self, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        if self.remaining() <= 0:
            self.results[name] = {"skipped": f"time budget of {self.budget_s:g} s used up"}
        else:
            t0 = time.perf_counter()
            try:
                result = fn()
            except Exception as e:  # recorded, not raised: the next section still runs
                traceback.print_exc()
                result = {"error": error_text(e)}
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
            result["seconds"] = time.perf_counter() - t0
            self.results[name] = result
        print(f"[{name}] {json.dumps(self.results[name], default=str)}", flush=True)
        self.write()

    def write(self) -> None:
        public = {k: v for k, v in self.results.items() if not k.startswith("_")}
        report = {"sizes": asdict(self.sizes), "budget_s": self.budget_s,
                  "elapsed_s": time.perf_counter() - self.start, "sections": public}
        tmp = self.out.with_name(self.out.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=2, default=str))
        tmp.replace(self.out)


def run_check(device: torch.device, s: Sizes, budget_s: float, out: Path) -> dict[str, Any]:
    """Every section in order; returns the report written to ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        ck = Check(device, s, budget_s, out, Path(tmp))
        ck.run("env", lambda: section_env(ck))
        ck.run("hiera_b", lambda: section_hiera(ck))
        ck.run("signrep_tiny", lambda: section_signrep(ck, "tiny", s.tiny_model, 4, s.tiny_steps, 0.15))
        ck.run("signrep_paper", lambda: section_signrep(ck, None, s.paper_model, s.paper_batch,
                                                        s.paper_steps, 0.45))
        ck.run("ddp", lambda: section_ddp(ck))
        ck.run("dataloader", lambda: section_loader(ck))
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    ap.add_argument("--budget-s", type=float, default=420.0,
                    help="skip the remaining sections once this many seconds have passed")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes (a CPU test of the script)")
    ap.add_argument("--steps", type=int, default=None, help="pretraining steps per SignRep size")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            ap.error("no CUDA device here; use --device cpu --smoke to test the script")
        if device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 timings are fp32
        torch.backends.cudnn.allow_tf32 = False
    report = run_check(device, sizes(args.smoke, args.steps), args.budget_s, args.out)
    failed = [k for k, v in report["sections"].items() if "error" in v]
    print(f"wrote {args.out} in {report['elapsed_s']:.0f} s; sections with errors: "
          f"{failed or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
