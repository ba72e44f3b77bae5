"""The search a server answers per query: one matrix product and a top-k, no loop.

:class:`SearchIndex` is an immutable snapshot of a dictionary's normalised entries; the
server swaps in a new one after an edit, so searches never take a lock.  Its answers are
those of :meth:`signssl.eval.retrieval.Dictionary.search` for one query (same labels,
scores and nearest entries), computed without the candidate rounds that method needs for
many queries at once:

* ``nearest``: ``sim = E q`` ``(M,)`` and ``topk`` of its ``4k + 32`` best entries;
  their first k distinct labels are the answer (a label scores its best entry).  When
  those few entries hold fewer than k labels (a gloss with very many close entries), the
  per-label maximum by one ``scatter_reduce(amax)`` ``(L,)`` and its ``topk`` answer
  instead.  No step loops over the entries in Python.  The product runs on NumPy views
  of the tensors (made once) and the few calls per query are kept few: at 1,000 entries
  the fixed per-query cost is of the size of the product itself.
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


class Hit(NamedTuple):
    """One answer: a gloss, its cosine score and the entry behind it (``-1`` for ``mean``).
    (A named tuple: built a few times per query, cheaper than a frozen dataclass.)"""

    gloss: str
    score: float
    entry: int


@dataclass(frozen=True)
class SearchIndex:
    """Normalised entries ``(M, D)``, their label ids ``(M,)``, the class names ``L`` and
    the class centroids ``(L, D)``."""

    entries: Tensor
    label_ids: Tensor
    classes: tuple[str, ...]
    centroids: Tensor
    _np: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # NumPy views (M, D) float32 and (M,) int64 sharing the tensors' memory, made once
        object.__setattr__(self, "_np", (self.entries.numpy(), self.label_ids.numpy()))

    @classmethod
    def from_dictionary(cls, d: Dictionary) -> SearchIndex:
        return cls(d.embeddings.contiguous(), d.label_ids, tuple(d.classes), d.centroids())

    @property
    def dim(self) -> int:
        return int(self.entries.shape[1])

    def search(self, query: np.ndarray | Tensor, k: int = 5, aggregate: str = "nearest") -> list[Hit]:
        """The ``k`` best glosses for one query embedding ``(D,)`` or ``(1, D)``."""
        if isinstance(query, Tensor):
            query = query.detach().cpu().numpy()
        q = np.asarray(query, dtype=np.float32).reshape(-1)  # (D,)
        E, labels = self._np
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
        sim = torch.from_numpy(E @ q)  # (M, D) @ (D,) -> (M,)
        return self._first_labels(sim, labels, k, inv) or self._per_label(sim, k, inv)

    def _first_labels(self, sim: Tensor, labels: np.ndarray, k: int, inv: float = 1.0) -> list[Hit]:
        """The first ``k`` distinct labels among the ``4k + 32`` best entries (each label
        scored by its best entry), or ``[]`` when they hold fewer than ``k`` labels."""
        s, i = sim.topk(min(len(sim), 4 * k + 32))  # (c,) sorted, c << M
        idx = i.numpy()
        first: dict[int, int] = {}  # label -> position of its best entry among the c
        for pos, lab in enumerate(labels[idx].tolist()):
            if lab not in first:
                first[lab] = pos
                if len(first) == k:
                    break
        if len(first) < k:
            return []
        p = list(first.values())
        classes = self.classes
        return [Hit(classes[lab], score * inv, entry) for lab, score, entry in
                zip(first, s.numpy()[p].tolist(), idx[p].tolist(), strict=True)]

    def _per_label(self, sim: Tensor, k: int, inv: float = 1.0) -> list[Hit]:
        """Exact for any spread of labels: the per-label maximum ``(L,)`` by one
        ``scatter_reduce(amax)``, its top-k, and each label's first entry at its maximum."""
        per_label = torch.full((len(self.classes),), float("-inf"))
        per_label.scatter_reduce_(0, self.label_ids, sim, reduce="amax")  # (L,)
        s, li = per_label.topk(k)  # (k,)
        cand = torch.nonzero(sim >= s[-1]).squeeze(1)  # (c,) entries scoring >= the k-th label
        best = cand[sim[cand] == per_label[self.label_ids[cand]]]  # at their label's maximum
        first = torch.full((len(self.classes),), len(sim), dtype=torch.long)
        first.scatter_reduce_(0, self.label_ids[best], best, reduce="amin")  # (L,)
        return [Hit(self.classes[c], float(v) * inv, e) for c, v, e in
                zip(li.tolist(), s.tolist(), first[li].tolist(), strict=True)]
