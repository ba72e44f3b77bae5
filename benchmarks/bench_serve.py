"""`signssl serve`: search cost against a bare GEMM + top-k, and the server under load.

1. Search (embedding done): :meth:`signssl.serve.index.SearchIndex.search` for one query
   (normalisation, ``q @ E.T``, per-gloss maximum, top-k glosses and their entries)
   against the bare ``(q @ E.T).topk(k)`` on the same pre-normalised tensors, at 1k, 10k
   and 100k entries (D = 256, one gloss per 10 entries, k = 5).  Rounds interleave the two
   (alternating which goes first); each round times ``calls`` calls of each.  Printed: the
   median ratio ours / bare over rounds with its min-max, and the median microseconds.
2. Load (``--no-load`` skips): `signssl serve` started as a process on loopback with a
   10,000-entry dictionary (random vectors, raw-hand-keypoints encoder), queried with a
   synthetic ``.pose`` file by 1, 4 and 8 concurrent clients: requests/s and p50 / p95
   latency (upload, decode, embed, search, previews, JSON).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_serve.py [--rounds 15] [--no-load]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from signssl.eval.retrieval import Dictionary, l2_normalize
from signssl.serve.index import SearchIndex


def _per_call(fn: Callable[[], object], calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def search_cost(n_entries: int, rounds: int, dim: int = 256, k: int = 5) -> dict[str, float]:
    gen = torch.Generator().manual_seed(n_entries)
    emb = torch.randn(n_entries, dim, generator=gen)
    labels = [f"g{i % max(1, n_entries // 10)}" for i in range(n_entries)]
    index = SearchIndex.from_dictionary(Dictionary(emb, labels))
    q = torch.randn(dim, generator=gen)
    qn, en = l2_normalize(q[None]), index.entries

    def bare() -> None:
        (qn @ en.T).topk(k, dim=1)

    def ours() -> None:
        index.search(q, k=k)

    calls = max(5, 200_000 // n_entries)
    bare(), ours()  # warm up
    ratios, t_ours, t_bare = [], [], []
    for r in range(rounds):
        order = (ours, bare) if r % 2 == 0 else (bare, ours)
        t = {fn: _per_call(fn, calls) for fn in order}
        ratios.append(t[ours] / t[bare])
        t_ours.append(t[ours])
        t_bare.append(t[bare])
    return {"entries": n_entries, "ratio": statistics.median(ratios), "ratio_min": min(ratios),
            "ratio_max": max(ratios), "ours_us": 1e6 * statistics.median(t_ours),
            "bare_us": 1e6 * statistics.median(t_bare)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load_dictionary(work: Path, n_entries: int) -> tuple[Path, Path]:
    """A ``n_entries`` dictionary of random vectors with the raw-hand-keypoints encoder,
    and a synthetic ``.pose`` query."""
    from signssl.cli.main import main
    from signssl.synth import generate_dataset

    manifest = generate_dataset(work / "set", classes=3, signers=2, reps=1, frames=32, progress=False)
    small = work / "small.safetensors"
    try:
        main(["dictionary", "build", "--baseline", "raw-hand-keypoints", "--data", str(manifest),
              "-o", str(small)])
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    d = Dictionary.load(small)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n_entries, d.dim)).astype(np.float32)
    paths = [d.metadata["path"][i % len(d)] for i in range(n_entries)]
    big = Dictionary(emb, [f"g{i % 1000}" for i in range(n_entries)], {"path": paths}, d.info)
    return big.save(work / "big.safetensors"), Path(paths[0])


def _client(url: str, data: bytes, n: int, latencies: list[float], errors: list[str]) -> None:
    import httpx

    with httpx.Client(timeout=60) as c:
        for _ in range(n):
            t0 = time.perf_counter()
            r = c.post(url, files={"file": ("q.pose", data)})
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors.append(r.text[:200])


def load_test(n_entries: int, requests: int, levels: tuple[int, ...]) -> list[dict[str, float]]:
    import httpx

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        dic, query = _load_dictionary(Path(tmp), n_entries)
        port = _free_port()
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        proc = subprocess.Popen([sys.executable, "-m", "signssl", "serve", "--dictionary", str(dic),
                                 "--port", str(port)], env=env, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            t0 = time.perf_counter()
            while True:
                try:
                    httpx.get(base + "/health", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if proc.poll() is not None or time.perf_counter() - t0 > 120:
                        raise RuntimeError(f"server did not start: {proc.stderr.read().decode()[-500:]}") from None
                    time.sleep(0.1)
            startup = time.perf_counter() - t0
            data = query.read_bytes()
            _client(base + "/search", data, 5, [], [])  # warm up
            for clients in levels:
                lat: list[float] = []
                errors: list[str] = []
                per = max(1, requests // clients)
                threads = [threading.Thread(target=_client, args=(base + "/search", data, per, lat, errors))
                           for _ in range(clients)]
                t1 = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall = time.perf_counter() - t1
                q = np.percentile(lat, [50, 95])
                out.append({"clients": clients, "requests": len(lat), "rps": len(lat) / wall,
                            "p50_ms": 1e3 * q[0], "p95_ms": 1e3 * q[1], "errors": len(errors),
                            "startup_s": startup})
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--no-load", action="store_true", help="Skip the server load test.")
    ap.add_argument("--requests", type=int, default=200, help="Requests per concurrency level.")
    args = ap.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    print("entries  ours/bare median [min-max]   ours us   bare us")
    for n in (1_000, 10_000, 100_000):
        r = search_cost(n, args.rounds)
        print(f"{n:>7}  {r['ratio']:.2f} [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]"
              f"{r['ours_us']:>17.1f} {r['bare_us']:>9.1f}")
    if args.no_load:
        return
    print("\nserver on loopback, 10,000 entries, one .pose query per request")
    for r in load_test(10_000, args.requests, (1, 4, 8)):
        print(f"clients {r['clients']}: {r['requests']} requests, {r['rps']:.1f} req/s, "
              f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, errors {r['errors']} "
              f"(server ready in {r['startup_s']:.1f} s)")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
