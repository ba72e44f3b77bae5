"""`signssl serve`: search cost against a bare GEMM + top-k, and the server under load.

1. Search (embedding done): :meth:`signssl.serve.index.SearchIndex.search` for one query
   (normalisation, ``q @ E.T``, the k best distinct glosses, their scores and entries)
   against the bare ``(q @ E.T).topk(k)`` on the same pre-normalised tensors, at 1k, 10k
   and 100k entries (D = 256, one gloss per 10 entries, k = 5).  Rounds interleave the two
   (alternating which goes first); each round times ``calls`` calls of each (about
   2,000,000 entries' worth, so a round lasts 0.1 s or more and one preemption by another
   process moves it little).  Printed: the median ratio ours / bare over rounds with its
   min-max, the median microseconds, and the load average before and after.
2. Load (``--no-load`` skips): `signssl serve` started as a process on loopback with a
   10,000-entry dictionary (random vectors; 1,000 glosses) and queried by ``--clients``
   concurrent clients (threads of this process) for ``--seconds`` each:

   * keypoints: the raw-hand-keypoints encoder, a synthetic 32-frame ``.pose`` per request;
   * video: the random-init ``cnn_test`` video encoder (untrained: this measures cost, not
     accuracy), a synthetic 16-frame 32 x 32 mp4 per request.

   Printed: requests/s, p50 / p95 latency (upload, sniff, decode, embed, search,
   previews, JSON), the error count, and the server's resident memory after 3 s of
   warm-up at full concurrency, halfway and at the end.
3. Edits (same dictionary as keypoints, ``--allow-edits``): ``--clients`` clients for
   ``--edit-seconds``, most searching, ``--editors`` adding entries and deleting some of
   them and some original ones; then the server stops, the file is reloaded and must hold
   exactly the acknowledged entries (PASS / FAIL).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_serve.py [--rounds 15] [--no-load]
        [--clients 50] [--seconds 20] [--edit-seconds 10] [--editors 4]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

    calls = max(5, 2_000_000 // n_entries)
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


def _built(argv: list[str]) -> None:
    """Run a ``signssl`` command in this process; a non-zero exit raises."""
    from signssl.cli.main import main

    try:
        main(argv)
    except SystemExit as e:
        if e.code not in (0, None):
            raise RuntimeError(f"signssl {' '.join(argv[:2])} exited with {e.code}") from None


def _grown(small: Path, out: Path, n_entries: int) -> Path:
    """``small``'s encoder and entry files with ``n_entries`` random vectors, 1,000 glosses."""
    d = Dictionary.load(small)
    emb = np.random.default_rng(0).normal(size=(n_entries, d.dim)).astype(np.float32)
    paths = [d.metadata["path"][i % len(d)] for i in range(n_entries)]
    return Dictionary(emb, [f"g{i % 1000}" for i in range(n_entries)], {"path": paths}, d.info).save(out)


def keypoint_dictionary(work: Path, n_entries: int) -> tuple[Path, Path]:
    """A ``n_entries`` raw-hand-keypoints dictionary and a synthetic ``.pose`` query."""
    from signssl.synth import generate_dataset

    manifest = generate_dataset(work / "poses", classes=3, signers=2, reps=1, frames=32, progress=False)
    _built(["dictionary", "build", "--baseline", "raw-hand-keypoints", "--data", str(manifest),
            "-o", str(work / "poses.safetensors")])
    big = _grown(work / "poses.safetensors", work / "poses-10k.safetensors", n_entries)
    return big, Path(Dictionary.load(big).metadata["path"][0])


def video_dictionary(work: Path, n_entries: int) -> tuple[Path, Path]:
    """A ``n_entries`` dictionary of the random-init ``cnn_test`` video encoder and a
    synthetic 16-frame 32 x 32 mp4 query."""
    from signssl.synth import generate_dataset

    manifest = generate_dataset(work / "videos", classes=3, signers=2, reps=1, frames=16, video=True,
                                size=32, minimal_pair_rate=0.0, progress=False)
    _built(["dictionary", "build", "--baseline", "random-init", "--model", "cnn_test", "--data",
            str(manifest), "-o", str(work / "videos.safetensors")])
    big = _grown(work / "videos.safetensors", work / "videos-10k.safetensors", n_entries)
    return big, Path(Dictionary.load(big).metadata["path"][0])


@contextmanager
def served(dictionary: Path, *options: str) -> Iterator[tuple[str, int, float]]:
    """``signssl serve`` on ``dictionary`` as a process: ``(url, pid, seconds to ready)``."""
    import httpx

    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    proc = subprocess.Popen([sys.executable, "-m", "signssl", "serve", "--dictionary", str(dictionary),
                             "--port", str(port), *options], env=env, stderr=subprocess.PIPE)
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
        yield base, proc.pid, time.perf_counter() - t0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _searcher(url: str, data: bytes, deadline: float, latencies: list[float], errors: list[str]) -> None:
    import httpx

    with httpx.Client(timeout=120) as c:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            try:
                r = c.post(url, files={"file": ("q", data)})
                ok, why = r.status_code == 200, r.text[:200]
            except httpx.HTTPError as e:
                ok, why = False, f"{type(e).__name__}: {e}"
            latencies.append(time.perf_counter() - t0)
            if not ok:
                errors.append(why)


def _run_all(threads: list[threading.Thread]) -> float:
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def _clients(url: str, data: bytes, clients: int, seconds: float) -> tuple[list[float], list[str], float]:
    """``clients`` searchers for ``seconds``: latencies, errors, wall seconds."""
    lat: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    wall = _run_all([threading.Thread(target=_searcher, args=(url, data, deadline, lat, errors))
                     for _ in range(clients)])
    return lat, errors, wall


def load(dictionary: Path, query: Path, clients: int, seconds: float) -> dict[str, float]:
    """``clients`` concurrent searchers against a fresh server: 3 s of warm-up at full
    concurrency, then two halves of ``seconds``, with the server's RSS after each."""
    data = query.read_bytes()
    with served(dictionary) as (base, pid, startup):
        _clients(base + "/search", data, clients, 3.0)  # warm-up: every connection and thread
        rss = [rss_mb(pid)]
        lat, errors, wall = [], [], 0.0
        for _half in range(2):
            h_lat, h_err, h_wall = _clients(base + "/search", data, clients, seconds / 2)
            lat, errors, wall = lat + h_lat, errors + h_err, wall + h_wall
            rss.append(rss_mb(pid))
    q = np.percentile(lat, [50, 95])
    if errors:
        print(f"  first error: {errors[0]}")
    return {"requests": len(lat), "rps": len(lat) / wall, "p50_ms": 1e3 * q[0], "p95_ms": 1e3 * q[1],
            "errors": len(errors), "startup_s": startup, "rss": rss}


class _Ledger:
    """Edits the server acknowledged (200), shared by the editing clients."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.added: dict[str, str] = {}  # id -> gloss
        self.removed: set[str] = set()
        self.failures: list[str] = []


def _editor(base: str, data: bytes, who: int, originals: list[str], deadline: float, ledger: _Ledger) -> None:
    """Add entries ``w<who>-<n>``; delete every third one added and one original per round."""
    import httpx

    mine: list[str] = []
    with httpx.Client(timeout=120) as c:
        n = 0
        while time.perf_counter() < deadline:
            r = c.post(base + "/entries", files={"file": ("q", data)}, data={"gloss": f"w{who}-{n}"})
            if r.status_code != 200:
                ledger.failures.append(r.text[:200])
                continue
            entry = r.json()["entry"]
            with ledger.lock:
                ledger.added[entry["id"]] = entry["gloss"]
            mine.append(entry["id"])
            victims = [mine.pop(0)] if n % 3 == 2 else []
            if n < len(originals):
                victims.append(originals[n])
            for victim in victims:
                r = c.delete(f"{base}/entries/{victim}")
                if r.status_code != 200:
                    ledger.failures.append(r.text[:200])
                    continue
                with ledger.lock:
                    ledger.removed.add(victim)
            n += 1


def edit_test(dictionary: Path, query: Path, clients: int, editors: int, seconds: float) -> dict[str, object]:
    """Searches and edits at once; then the file must hold exactly the acknowledged entries."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(shutil.copy(dictionary, Path(tmp) / "edited.safetensors"))
        before = Dictionary.load(path)
        ids = [f"e{i}" for i in range(len(before))]
        data = query.read_bytes()
        ledger = _Ledger()
        lat: list[float] = []
        errors: list[str] = []
        with served(path, "--allow-edits") as (base, _pid, _startup):
            deadline = time.perf_counter() + seconds
            threads = [threading.Thread(target=_editor, args=(base, data, w, ids[w::editors], deadline, ledger))
                       for w in range(editors)]
            threads += [threading.Thread(target=_searcher, args=(base + "/search", data, deadline, lat, errors))
                        for _ in range(clients - editors)]
            _run_all(threads)
        after = Dictionary.load(path)
        kept = {i: before.labels[n] for n, i in enumerate(ids) if i not in ledger.removed}
        kept.update({i: g for i, g in ledger.added.items() if i not in ledger.removed})
        got = dict(zip(after.metadata["id"], after.labels, strict=True))
        return {"added": len(ledger.added), "removed": len(ledger.removed), "entries": len(after),
                "searches": len(lat), "errors": len(errors) + len(ledger.failures),
                "pass": got == kept and len(after.metadata["id"]) == len(got) and not ledger.failures}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--no-load", action="store_true", help="Skip the server sections.")
    ap.add_argument("--entries", type=int, default=10_000, help="Dictionary entries served.")
    ap.add_argument("--clients", type=int, default=50, help="Concurrent clients.")
    ap.add_argument("--seconds", type=float, default=20.0, help="Seconds of load per query kind.")
    ap.add_argument("--edit-seconds", type=float, default=10.0, help="Seconds of concurrent edits.")
    ap.add_argument("--editors", type=int, default=4, help="Of the clients, how many edit.")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000],
                    help="Dictionary sizes of the search-cost section (1000000: ~1 GB).")
    args = ap.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    print("entries  ours/bare median [min-max]   ours us   bare us")
    for n in args.sizes:
        r = search_cost(n, args.rounds)
        print(f"{n:>7}  {r['ratio']:.2f} [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]"
              f"{r['ours_us']:>17.1f} {r['bare_us']:>9.1f}")
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.no_load:
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        poses = keypoint_dictionary(work, args.entries)
        videos = video_dictionary(work, args.entries)
        print(f"\nserver on loopback, {args.entries:,} entries, {args.clients} clients for {args.seconds:g} s")
        for kind, (dic, query) in (("keypoints (.pose)", poses), ("video (mp4, cnn_test)", videos)):
            r = load(dic, query, args.clients, args.seconds)
            print(f"{kind}: {r['requests']} requests, {r['rps']:.1f} req/s, p50 {r['p50_ms']:.0f} ms, "
                  f"p95 {r['p95_ms']:.0f} ms, errors {r['errors']}, server RSS after warm-up / half / end "
                  f"{' / '.join(f'{m:.0f}' for m in r['rss'])} MB (ready in {r['startup_s']:.1f} s)")
        e = edit_test(*poses, args.clients, args.editors, args.edit_seconds)
        print(f"edits ({args.editors} editing of {args.clients} clients, {args.edit_seconds:g} s): "
              f"{e['added']} added, {e['removed']} removed, {e['searches']} searches, "
              f"errors {e['errors']}; reloaded file {e['entries']} entries: "
              f"{'PASS' if e['pass'] else 'FAIL'}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
