"""Dictionary search speed and memory, measured in one run.

Speed: 1,000 queries against 100,000 entries (D = 512, k = 5).  ``Dictionary.search``
(exact, blockwise, query normalisation included) against the bare reference on the same
pre-normalised tensors: ``(q @ e.T).topk(5)`` in one block.  Both run once untimed, then
``--rounds`` timed rounds alternating which goes first; the best round of each counts
(the machine may be shared: the load average is printed with the result).
Target: ratio <= 1.3 for ``aggregate="none"`` (entries); the label-aggregated search
(``nearest``: the top-k glosses by their closest entry, 2,000 glosses) is reported too.

Memory: a 1,000,000-entry dictionary (2 GB of float32) searched by ``--mem-queries``
queries with the default block budget.  The peak resident memory *added by the search*
is measured by resetting the kernel's high-water mark (``/proc/self/clear_refs``) after
the dictionary is built and reading ``VmHWM`` afterwards (torch's allocations are not
visible to ``tracemalloc``).  Skip it with ``--no-memory``.

    .venv/bin/python benchmarks/bench_retrieval.py [--rounds 3] [--no-memory]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

from signssl.eval.retrieval import DEFAULT_MEMORY_MB, Dictionary, l2_normalize

TARGET = 1.3


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def speed(rounds: int, n_q: int, n_e: int, dim: int, k: int, n_labels: int) -> None:
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(n_q, dim, generator=gen)
    e = torch.randn(n_e, dim, generator=gen)
    labels = [f"g{i % n_labels}" for i in range(n_e)]
    d = Dictionary(e, labels)
    qn, en = l2_normalize(q), d.embeddings

    def bare() -> None:
        (qn @ en.T).topk(k, dim=1)

    def ours() -> None:
        d.search(q, k=k, aggregate="none")

    def ours_labels() -> None:
        d.search(q, k=k, aggregate="nearest")

    fns = {"bare matmul+topk": bare, "search (entries)": ours, "search (glosses)": ours_labels}
    for fn in fns.values():
        fn()  # warm-up
    best = dict.fromkeys(fns, float("inf"))
    for r in range(rounds):
        order = list(fns) if r % 2 == 0 else list(reversed(fns))
        for name in order:
            t0 = time.perf_counter()
            fns[name]()
            best[name] = min(best[name], time.perf_counter() - t0)
    base = best["bare matmul+topk"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"speed: {n_q} queries x {n_e} entries, D={dim}, k={k}, {torch.get_num_threads()} threads, "
          f"best of {rounds} (load average {load:.1f} on {os.cpu_count()} CPUs)")
    for name, t in best.items():
        print(f"  {name:20s} {t:7.3f} s   ratio {t / base:5.2f}")
    verdict = "OK" if best["search (entries)"] / base <= TARGET else "ABOVE TARGET"
    print(f"  target ratio <= {TARGET} (entries): {verdict}")
    # identical answers
    s_ref, i_ref = (qn @ en.T).topk(k, dim=1)
    res = d.search(q, k=k, aggregate="none")
    same = bool((torch.from_numpy(res.indices) == i_ref).all())
    print(f"  same neighbours as the bare reference: {same}")


def memory(n_q: int, n_e: int, dim: int, k: int, memory_mb: float) -> None:
    gen = torch.Generator().manual_seed(1)
    rss0 = _status_kb("VmRSS")
    e = torch.empty(n_e, dim)
    for s in range(0, n_e, 100_000):  # fill in slices: no second full-size temporary
        e[s : s + 100_000] = torch.randn(min(100_000, n_e - s), dim, generator=gen)
    labels = [f"g{i % 2000}" for i in range(n_e)]
    d = Dictionary(e, labels)
    del e
    q = torch.randn(n_q, dim, generator=gen)
    rss_built = _status_kb("VmRSS")
    if not _reset_peak():
        print("memory: cannot reset the peak RSS here (/proc/self/clear_refs); skipped")
        return
    t0 = time.perf_counter()
    d.search(q, k=k, aggregate="none", memory_mb=memory_mb)
    t_entries = time.perf_counter() - t0
    peak_entries = _status_kb("VmHWM") - rss_built
    _reset_peak()
    rss_before = _status_kb("VmRSS")
    t0 = time.perf_counter()
    d.search(q, k=k, aggregate="nearest", memory_mb=memory_mb)
    t_labels = time.perf_counter() - t0
    peak_labels = _status_kb("VmHWM") - rss_before
    print(f"memory: {n_e:,} entries x D={dim} (dictionary {d.embeddings.numel() * 4 / 2**30:.2f} GiB, "
          f"process RSS after build {(rss_built - rss0) / 2**20:.2f} GiB more than at start)")
    print(f"  {n_q} queries, block budget {memory_mb:g} MiB:")
    print(f"  search (entries): {t_entries:6.2f} s, peak RSS added {peak_entries / 1024:7.1f} MiB")
    print(f"  search (glosses): {t_labels:6.2f} s, peak RSS added {peak_labels / 1024:7.1f} MiB")
    full = n_q * n_e * 4 / 2**20
    print(f"  (one unbatched similarity matrix would take {full:,.0f} MiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--labels", type=int, default=2000)
    ap.add_argument("--mem-entries", type=int, default=1_000_000)
    ap.add_argument("--mem-queries", type=int, default=200)
    ap.add_argument("--memory-mb", type=float, default=DEFAULT_MEMORY_MB)
    ap.add_argument("--no-memory", action="store_true")
    args = ap.parse_args()
    speed(args.rounds, args.queries, args.entries, args.dim, args.k, args.labels)
    if not args.no_memory:
        memory(args.mem_queries, args.mem_entries, args.dim, args.k, args.memory_mb)


if __name__ == "__main__":
    main()
