"""The search a server answers per query: one matrix product and a top-k, no loop.

:class:`SearchIndex` is an immutable snapshot of a dictionary's normalised entries; the
server swaps in a new one after an edit, so searches never take a lock.  Its answers are
those of :meth:`signssl.eval.retrieval.Dictionary.search` for one query (same labels,
scores and nearest entries), computed without the candidate rounds that method needs for
many queries at once:

* ``nearest``: ``sim = q @ E.T`` ``(1, M)``; the per-label maximum by one
  ``scatter_reduce(amax)`` ``(L,)``; ``topk`` over labels; each chosen label's nearest
  entry found among the few entries scoring at least the k-th label's score.
* ``mean``: ``q @ C.T`` over the class centroids ``(L,)`` and ``topk``.

>>> import numpy as np
>>> from signssl.eval.retrieval import Dictionary
>>> ix = SearchIndex.from_dictionary(Dictionary(np.eye(3, dtype=np.float32), ["a", "b", "b"]))
>>> [(h.gloss, round(h.score, 2), h.entry) for h in ix.search(np.array([0.0, 0.9, 0.1]), k=2)]
[('b', 0.99, 1), ('a', 0.0, 0)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from signssl.errors import ConfigError
from signssl.eval.retrieval import Dictionary, l2_normalize


@dataclass(frozen=True)
class Hit:
    """One answer: a gloss, its cosine score and the entry behind it (``-1`` for ``mean``)."""

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

    @classmethod
    def from_dictionary(cls, d: Dictionary) -> SearchIndex:
        return cls(d.embeddings.contiguous(), d.label_ids, tuple(d.classes), d.centroids())

    @property
    def dim(self) -> int:
        return int(self.entries.shape[1])

    def search(self, query: np.ndarray | Tensor, k: int = 5, aggregate: str = "nearest") -> list[Hit]:
        """The ``k`` best glosses for one query embedding ``(D,)`` or ``(1, D)``."""
        q = l2_normalize(torch.as_tensor(np.asarray(query, dtype=np.float32)).reshape(1, -1))
        if q.shape[1] != self.dim:
            raise ConfigError(f"the query has dimension {q.shape[1]} but the dictionary has "
                              f"{self.dim}; embed it with the dictionary's encoder")
        if int(k) < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        k = min(int(k), len(self.classes))
        if aggregate == "mean":
            s, li = (q @ self.centroids.T)[0].topk(k)  # (1, D) @ (D, L) -> (L,) -> (k,)
            return [Hit(self.classes[c], float(v), -1) for c, v in zip(li.tolist(), s.tolist(), strict=True)]
        if aggregate != "nearest":
            raise ConfigError(f"aggregate must be 'nearest' or 'mean', got {aggregate!r}")
        sim = (q @ self.entries.T)[0]  # (1, D) @ (D, M) -> (M,)
        per_label = torch.full((len(self.classes),), float("-inf"))
        per_label.scatter_reduce_(0, self.label_ids, sim, reduce="amax")  # (L,)
        s, li = per_label.topk(k)  # (k,)
        return [Hit(self.classes[c], float(v), e) for c, v, e in
                zip(li.tolist(), s.tolist(), self._nearest_entries(sim, per_label, li, s[-1]), strict=True)]

    def _nearest_entries(self, sim: Tensor, per_label: Tensor, labels: Tensor, floor: Tensor) -> list[int]:
        """For each label in ``labels`` ``(k,)``, its first entry reaching its maximum."""
        cand = torch.nonzero(sim >= floor).squeeze(1)  # (c,) c >= k entries, usually c ~ k
        lab = self.label_ids[cand]  # (c,)
        best = cand[sim[cand] == per_label[lab]]  # entries at their label's maximum
        first = torch.full((len(self.classes),), len(sim), dtype=torch.long)
        first.scatter_reduce_(0, self.label_ids[best], best, reduce="amin")  # (L,)
        return first[labels].tolist()
