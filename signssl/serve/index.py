"""The search a server answers per query: one matrix product and a few passes, no loop
over the entries.

:class:`SearchIndex` is an immutable snapshot of a dictionary's normalised entries; the
server swaps in a new one after an edit, so searches never take a lock.  Its answers are
those of :meth:`signssl.eval.retrieval.Dictionary.search` for one query (same labels,
scores and nearest entries), computed without the candidate rounds that method needs for
many queries at once, and with one fixed order on equal scores: the entries sorted by
score, highest first and the lower entry index first among equal scores; the answer is
their first k distinct labels (a label scores its best entry, its first one on a tie):

* ``nearest``: ``sim = E q`` ``(M,)`` on NumPy views of the entries (made once), then

  - ``k <= ROUNDS_MAX``: k rounds of ``argmax`` (the first index among equal maxima is
    the lowest) and setting the chosen label's entries to ``-inf`` through the
    precomputed per-label entry lists.  A few NumPy calls per round and nothing else, so
    at 1,000 entries the fixed per-query cost stays small next to the product;
  - larger k: the entries at or above the ``4k + 32``-th best score (``np.partition``;
    all of them when scores tie there) sorted by score, stably, and their first k
    distinct labels; when they hold fewer than k labels (a gloss with very many close
    entries), the rounds answer instead.

* ``mean``: ``q @ C.T`` over the class centroids ``(L,)`` and ``topk``.

>>> import numpy as np
>>> from signssl.eval.retrieval import Dictionary
>>> ix = SearchIndex.from_dictionary(Dictionary(np.eye(3, dtype=np.float32), ["a", "b", "b"]))
>>> [(h.gloss, round(h.score, 2), h.entry) for h in ix.search(np.array([0.0, 0.9, 0.1]), k=2)]
[('b', 0.99, 1), ('a', 0.0, 0)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from signssl.errors import ConfigError
from signssl.eval.retrieval import Dictionary

ROUNDS_MAX = 8  # largest k answered by argmax rounds (measured: benchmarks/bench_serve.py)


class Hit(NamedTuple):
    """One answer: a gloss, its cosine score and the entry behind it (``-1`` for ``mean``).
    (A named tuple: built a few times per query, cheaper than a frozen dataclass.)"""

    gloss: str
    score: float
    entry: int


class _Views(NamedTuple):
    """NumPy arrays a search reads, made once per snapshot."""

    entries: np.ndarray  # (M, D) float32, sharing the entries tensor's memory
    labels: np.ndarray  # (M,) int64 label id of each entry, sharing label_ids' memory
    members: np.ndarray  # (M,) int64 entry indices grouped by label (label 0's first)
    bounds: list[int]  # (L + 1,) label c's entries are members[bounds[c]:bounds[c + 1]]


@dataclass(frozen=True)
class SearchIndex:
    """Normalised entries ``(M, D)``, their label ids ``(M,)``, the class names ``L`` and
    the class centroids ``(L, D)``."""

    entries: Tensor
    label_ids: Tensor
    classes: tuple[str, ...]
    centroids: Tensor
    _np: _Views = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        labels = self.label_ids.numpy()
        counts = np.bincount(labels, minlength=len(self.classes))  # (L,)
        views = _Views(self.entries.numpy(), labels, np.argsort(labels, kind="stable"),
                       [0, *np.cumsum(counts).tolist()])
        object.__setattr__(self, "_np", views)

    @classmethod
    def from_dictionary(cls, d: Dictionary) -> SearchIndex:
        return cls(d.embeddings.contiguous(), d.label_ids, tuple(d.classes), d.centroids())

    @property
    def dim(self) -> int:
        return int(self.entries.shape[1])

    def search(self, query: np.ndarray | Tensor, k: int = 5, aggregate: str = "nearest") -> list[Hit]:
        """The ``k`` best glosses for one query embedding ``(D,)`` or ``(1, D)`` (fewer
        when the dictionary has fewer glosses)."""
        if isinstance(query, Tensor):
            query = query.detach().cpu().numpy()
        q = np.asarray(query, dtype=np.float32).reshape(-1)  # (D,)
        E = self._np.entries
        if q.shape[0] != E.shape[1]:
            raise ConfigError(f"the query has dimension {q.shape[0]} but the dictionary has "
                              f"{self.dim}; embed it with the dictionary's encoder")
        if int(k) < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        k = min(int(k), len(self.classes))
        inv = 1.0 / max(float(np.sqrt(q @ q)), 1e-12)  # ranks do not depend on it: scores only
        if aggregate == "mean":
            qt = torch.from_numpy(q)[None]  # (1, D)
            s, li = (qt @ self.centroids.T)[0].topk(k)  # (1, D) @ (D, L) -> (L,) -> (k,)
            return [Hit(self.classes[c], v * inv, -1) for c, v in
                    zip(li.tolist(), s.tolist(), strict=True)]  # fmt: skip
        if aggregate != "nearest":
            raise ConfigError(f"aggregate must be 'nearest' or 'mean', got {aggregate!r}")
        sim = E @ q  # (M, D) @ (D,) -> (M,), a fresh array this search may overwrite
        if k <= ROUNDS_MAX:
            return self._rounds(sim, k, inv)
        return self._first_labels(sim, k, inv) or self._rounds(sim, k, inv)

    def _rounds(self, sim: np.ndarray, k: int, inv: float = 1.0) -> list[Hit]:
        """Exact for any spread of labels: k times, the best remaining entry (the lowest
        index among equal scores) gives its label, whose entries then leave ``sim``
        (overwritten with ``-inf``)."""
        _, labels, members, bounds = self._np
        classes = self.classes
        hits = []
        for _ in range(k):
            j = int(sim.argmax())
            lab = int(labels[j])
            hits.append(Hit(classes[lab], float(sim[j]) * inv, j))
            sim[members[bounds[lab]:bounds[lab + 1]]] = -np.inf
        return hits

    def _first_labels(self, sim: np.ndarray, k: int, inv: float = 1.0) -> list[Hit]:
        """The first ``k`` distinct labels among the entries scoring at least the
        ``4k + 32``-th best score (sorted by score, then index), or ``[]`` when those hold
        fewer than ``k`` labels.  ``sim`` is left as it was."""
        m = len(sim)
        c = min(m, 4 * k + 32)
        cand = np.flatnonzero(sim >= np.partition(sim, m - c)[m - c])  # (c',) c' >= c on ties
        order = cand[np.argsort(-sim[cand], kind="stable")]  # score desc, index asc on ties
        first: dict[int, int] = {}  # label -> its best entry
        for lab, entry in zip(self._np.labels[order].tolist(), order.tolist(), strict=True):
            if lab not in first:
                first[lab] = entry
                if len(first) == k:
                    break
        if len(first) < k:
            return []
        classes = self.classes
        return [Hit(classes[lab], float(sim[e]) * inv, e) for lab, e in first.items()]
