"""Dictionary lookup: cosine search of query embeddings among labelled entries.

A :class:`Dictionary` holds L2-normalised entry embeddings ``(M, D)`` with one label
(gloss) per entry.  A query is answered with *labels*, aggregated from the entries:

* ``"nearest"`` — a label scores the cosine similarity of its closest entry;
* ``"mean"`` — a label scores the cosine similarity to its class centroid (the mean of
  its normalised entries);
* ``"none"`` — no aggregation: the k nearest entries themselves.

Search is exact.  In torch, similarities are computed block by block, over batches of
queries *and* chunks of the dictionary, so memory stays bounded by ``memory_mb`` whatever
the dictionary size; a running top-k is merged across chunks.  With the optional faiss
extra (``backend="faiss"``) an exact inner-product index (``IndexFlatIP``) gives the same
answers.

:func:`retrieval_eval` is the dictionary-retrieval protocol (ASL Citizen): the training
split is the dictionary, the test split the queries; without a test split it runs
*leave-one-out* (each labelled sample queries all the others; it is excluded from its own
neighbours and, for ``"mean"``, from its class centroid).

Files: a single ``.safetensors`` file holds ``embeddings`` ``(M, D)`` float32 and
``label_ids`` ``(M,)`` int64; its header metadata holds the class list, per-entry metadata
(paths, signers) and a free-form ``info`` JSON (how the embeddings were made).  Nothing
is pickled.

>>> import numpy as np
>>> d = Dictionary(np.eye(3, dtype=np.float32), ["a", "b", "b"])
>>> d.search(np.array([[0.0, 0.9, 0.1]]), k=2).labels
[['b', 'a']]
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor

from signssl.errors import ConfigError, DataError, MissingExtraError
from signssl.eval.features import Features
from signssl.eval.results import EvalResult, make_result
from signssl.utils import atomic_path

Aggregate = Literal["nearest", "mean", "none"]
Backend = Literal["torch", "faiss", "auto"]
AGGREGATES: tuple[str, ...] = ("nearest", "mean", "none")
FORMAT = "signssl.dictionary"
FORMAT_VERSION = "1"
#: default memory budget of one block of similarities, in MiB
DEFAULT_MEMORY_MB = 256


# ----------------------------------------------------------------------------- exact search

def l2_normalize(x: Tensor | np.ndarray, eps: float = 1e-12) -> Tensor:
    """Rows scaled to unit L2 norm (zero rows stay zero); returns float32 tensor ``(N, D)``."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).float()
    if t.ndim != 2:
        raise ConfigError(f"expected a (N, D) matrix of embeddings, got shape {tuple(t.shape)}")
    return t / t.norm(dim=1, keepdim=True).clamp_min(eps)


def block_sizes(num_queries: int, num_entries: int, memory_mb: float) -> tuple[int, int]:
    """``(query_batch, entry_chunk)`` so one float32 similarity block fits in ``memory_mb``.

    Queries are batched by at most 1024; the dictionary chunk takes the rest of the budget
    (at least 1 entry).  Both are balanced: equal-sized blocks instead of a small last one.
    """
    budget = max(1, int(memory_mb * 2**20 / 4))  # float32 elements in one block
    qb = _balanced(num_queries, max(1, min(num_queries, 1024, budget)))
    chunk = _balanced(num_entries, max(1, min(num_entries, budget // qb)))
    return qb, chunk


def _balanced(total: int, size: int) -> int:
    """The smallest block size giving as many blocks as ``size`` does over ``total``."""
    if total <= 0:
        return max(1, size)
    n_blocks = -(-total // size)  # ceil
    return -(-total // n_blocks)


def _mask_excluded(sim: Tensor, exclude: Tensor | None, start: int) -> None:
    """In-place: ``sim[i, exclude[i] - start] = -inf`` where that entry lies in the block.

    ``sim`` is ``(qb, c)`` for entries ``[start, start + c)``; ``exclude`` ``(qb,)`` holds
    one entry index per query (``-1`` = none).
    """
    if exclude is None:
        return
    local = exclude - start  # (qb,)
    rows = torch.nonzero((local >= 0) & (local < sim.shape[1])).squeeze(1)
    sim[rows, local[rows]] = float("-inf")


def exact_topk(
    queries: Tensor,
    entries: Tensor,
    k: int,
    exclude: Tensor | None = None,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> tuple[Tensor, Tensor]:
    """Top-k inner products of each query among the entries, blockwise.

    Args:
        queries: ``(Q, D)`` (normalise first for cosine).
        entries: ``(M, D)``.
        k: neighbours per query (capped at M).
        exclude: ``(Q,)`` entry index each query may not return (leave-one-out), or ``None``.
        memory_mb: budget of one ``(query_batch, chunk)`` similarity block.
    Returns:
        ``scores (Q, k)`` descending and ``indices (Q, k)`` int64 into ``entries``; slots
        with no entry left (all excluded) have score ``-inf``.
    """
    q_n, m = queries.shape[0], entries.shape[0]
    k = min(int(k), m)
    if k < 1:
        raise ConfigError("k must be >= 1 and the dictionary must not be empty")
    qb, chunk = block_sizes(q_n, m, memory_mb)
    chunk = max(chunk, k)  # each chunk can fill the running top-k
    out_s = torch.empty(q_n, k)
    out_i = torch.empty(q_n, k, dtype=torch.long)
    for q0 in range(0, q_n, qb):
        qx = queries[q0 : q0 + qb]  # (qb, D)
        ex = None if exclude is None else exclude[q0 : q0 + qb]
        best_s: Tensor | None = None
        best_i: Tensor | None = None
        for e0 in range(0, m, chunk):
            sim = qx @ entries[e0 : e0 + chunk].T  # (qb, D) @ (D, c) -> (qb, c)
            _mask_excluded(sim, ex, e0)
            s, i = sim.topk(min(k, sim.shape[1]), dim=1)  # (qb, k')
            del sim  # free the block before the next one is allocated
            i += e0
            if best_s is None:
                best_s, best_i = s, i
            else:  # merge the running top-k with this chunk's
                cat_s = torch.cat([best_s, s], dim=1)  # (qb, 2k)
                cat_i = torch.cat([best_i, i], dim=1)
                best_s, pos = cat_s.topk(min(k, cat_s.shape[1]), dim=1)
                best_i = cat_i.gather(1, pos)
        out_s[q0 : q0 + qb], out_i[q0 : q0 + qb] = best_s, best_i
    return out_s, out_i


def label_max_scores(
    queries: Tensor,
    entries: Tensor,
    label_ids: Tensor,
    num_labels: int,
    exclude: Tensor | None = None,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> Tensor:
    """Per-label maximum inner product ``(Q, L)`` (``-inf`` for labels with no entry).

    Blockwise like :func:`exact_topk`; the running maximum per label is kept with
    ``scatter_reduce(amax)``.
    """
    q_n, m = queries.shape[0], entries.shape[0]
    qb, chunk = block_sizes(q_n, m, memory_mb)
    out = torch.full((q_n, num_labels), float("-inf"))
    for q0 in range(0, q_n, qb):
        qx = queries[q0 : q0 + qb]  # (qb, D)
        ex = None if exclude is None else exclude[q0 : q0 + qb]
        acc = out[q0 : q0 + qb]  # (qb, L) view
        for e0 in range(0, m, chunk):
            sim = qx @ entries[e0 : e0 + chunk].T  # (qb, c)
            _mask_excluded(sim, ex, e0)
            idx = label_ids[e0 : e0 + chunk].expand(sim.shape[0], -1)  # (qb, c)
            acc.scatter_reduce_(1, idx, sim, reduce="amax", include_self=True)
            del sim, idx  # free the block before the next one is allocated
    return out


# ----------------------------------------------------------------------------- faiss

def _import_faiss() -> Any:
    try:
        import faiss  # type: ignore[import-not-found]
    except ImportError:
        raise MissingExtraError("faiss-cpu", "faiss") from None
    return faiss


def faiss_available() -> bool:
    try:
        _import_faiss()
    except MissingExtraError:
        return False
    return True


# ----------------------------------------------------------------------------- dictionary

@dataclass
class SearchResult:
    """Answers to Q queries, best first.

    Attributes:
        labels: ``Q`` lists of up to k labels.
        scores: ``(Q, k)`` cosine similarities (``-inf`` pads missing slots).
        indices: ``(Q, k)`` entry index behind each answer (the nearest entry of the
            label; ``-1`` for ``aggregate="mean"`` and for padding).
    """

    labels: list[list[str]]
    scores: np.ndarray
    indices: np.ndarray


class Dictionary:
    """Labelled embeddings searched by cosine similarity.

    Args:
        embeddings: ``(M, D)`` entry embeddings (normalised here).
        labels: ``M`` labels (glosses); every entry needs one.
        metadata: per-entry string columns, e.g. ``{"path": [...], "signer": [...]}``.
        info: free-form JSON-able description (encoder, layout, normalisation) kept in
            the file so queries can be embedded the same way.
    """

    def __init__(
        self,
        embeddings: np.ndarray | Tensor,
        labels: Sequence[str] | np.ndarray,
        metadata: dict[str, Sequence[str]] | None = None,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.embeddings = l2_normalize(embeddings).contiguous()  # (M, D) float32
        labels = [str(x) for x in np.asarray(labels, dtype=object).ravel()]
        m = self.embeddings.shape[0]
        if len(labels) != m:
            raise DataError(f"dictionary: {m} embeddings but {len(labels)} labels")
        if m == 0:
            raise DataError("dictionary: no entry (give at least one labelled embedding)")
        if any(lab == "" for lab in labels):
            raise DataError("dictionary: every entry needs a label (drop unlabeled rows first)")
        self.classes: list[str] = sorted(set(labels))
        index = {c: i for i, c in enumerate(self.classes)}
        self.label_ids = torch.tensor([index[lab] for lab in labels], dtype=torch.long)  # (M,)
        self.metadata: dict[str, list[str]] = {}
        for key, col in (metadata or {}).items():
            col = ["" if v is None else str(v) for v in col]
            if len(col) != m:
                raise DataError(f"dictionary: metadata '{key}' has {len(col)} values for {m} entries")
            self.metadata[key] = col
        self.info: dict[str, Any] = dict(info or {})
        self._centroids: Tensor | None = None
        self._faiss: dict[str, Any] = {}

    # -- basics
    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def __repr__(self) -> str:
        return f"Dictionary({len(self)} entries, {len(self.classes)} labels, dim {self.dim})"

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def labels(self) -> list[str]:
        """Label of every entry, in entry order."""
        return [self.classes[i] for i in self.label_ids.tolist()]

    @classmethod
    def from_features(cls, feats: Any, info: dict[str, Any] | None = None) -> Dictionary:
        """From :class:`~signssl.eval.features.Features` (unlabeled rows are dropped)."""
        keep = feats.labels != ""
        return cls(
            feats.features[keep],
            feats.labels[keep],
            {"path": feats.paths[keep].tolist(), "signer": feats.signers[keep].tolist()},
            {**feats.info, **(info or {})},
        )

    def centroids(self) -> Tensor:
        """``(L, D)`` normalised class means of the normalised entries (cached)."""
        if self._centroids is None:
            sums = torch.zeros(len(self.classes), self.dim)
            sums.index_add_(0, self.label_ids, self.embeddings)  # (L, D)
            self._centroids = l2_normalize(sums)
        return self._centroids

    # -- scoring
    def _queries(self, queries: np.ndarray | Tensor) -> Tensor:
        q = l2_normalize(queries)
        if q.shape[1] != self.dim:
            raise ConfigError(
                f"queries have dimension {q.shape[1]} but the dictionary has {self.dim}; "
                "embed queries with the encoder the dictionary was built with"
            )
        return q

    def label_scores(
        self,
        queries: np.ndarray | Tensor,
        aggregate: Aggregate = "nearest",
        exclude: Sequence[int] | np.ndarray | None = None,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> np.ndarray:
        """Score of every label for every query: ``(Q, L)`` float32, columns = ``classes``.

        Args:
            queries: ``(Q, D)`` embeddings.
            aggregate: ``"nearest"`` or ``"mean"``.
            exclude: ``(Q,)`` entry index to leave out per query (leave-one-out; ``-1`` =
                none).  With ``"mean"`` the label's centroid is recomputed without it; a
                label left with no entry scores ``-inf``.
        """
        q = self._queries(queries)
        ex = None if exclude is None else torch.as_tensor(np.asarray(exclude), dtype=torch.long)
        if ex is not None and ex.shape != (q.shape[0],):
            raise ConfigError(f"exclude must have one entry index per query, got {tuple(ex.shape)}")
        if aggregate == "nearest":
            out = label_max_scores(q, self.embeddings, self.label_ids, len(self.classes), ex, memory_mb)
        elif aggregate == "mean":
            out = q @ self.centroids().T  # (Q, D) @ (D, L) -> (Q, L)
            if ex is not None:
                self._mean_leave_one_out(q, ex, out)
        else:
            raise ConfigError(f"aggregate must be 'nearest' or 'mean' for label scores, got {aggregate!r}")
        return out.numpy()

    def _mean_leave_one_out(self, q: Tensor, exclude: Tensor, out: Tensor) -> None:
        """In-place: for queries that exclude an entry, rescore its label without it."""
        sums = torch.zeros(len(self.classes), self.dim)
        sums.index_add_(0, self.label_ids, self.embeddings)  # (L, D)
        counts = torch.bincount(self.label_ids, minlength=len(self.classes))  # (L,)
        rows = torch.nonzero(exclude >= 0).squeeze(1)
        if rows.numel() == 0:
            return
        ent = exclude[rows]
        lab = self.label_ids[ent]  # (R,)
        rest = sums[lab] - self.embeddings[ent]  # (R, D) class sum without the entry
        score = (q[rows] * l2_normalize(rest)).sum(dim=1)  # (R,)
        score[counts[lab] <= 1] = float("-inf")
        out[rows, lab] = score

    def search(
        self,
        queries: np.ndarray | Tensor,
        k: int = 5,
        aggregate: Aggregate = "nearest",
        backend: Backend = "torch",
        exclude: Sequence[int] | np.ndarray | None = None,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> SearchResult:
        """The k best labels (or entries, ``aggregate="none"``) for each query.

        Args:
            queries: ``(Q, D)`` embeddings (normalised here).
            k: answers per query.
            aggregate: ``"nearest"``, ``"mean"`` or ``"none"``.
            backend: ``"torch"`` (exact, blockwise), ``"faiss"`` (exact ``IndexFlatIP``,
                needs the ``[faiss]`` extra) or ``"auto"`` (faiss when installed and no
                ``exclude`` is given).
            exclude: ``(Q,)`` entry index each query may not use (torch backend only).
            memory_mb: budget of one similarity block (torch backend).
        """
        if aggregate not in AGGREGATES:
            raise ConfigError(f"unknown aggregate {aggregate!r}; known: {list(AGGREGATES)}")
        if int(k) < 1:
            raise ConfigError(f"k must be >= 1, got {k}")
        if backend not in ("torch", "faiss", "auto"):
            raise ConfigError(f"unknown backend {backend!r}; known: torch, faiss, auto")
        use_faiss = backend == "faiss" or (
            backend == "auto" and exclude is None and faiss_available()
        )
        if use_faiss and exclude is not None:
            raise ConfigError("exclude (leave-one-out) is only supported by the torch backend")
        q = self._queries(queries)
        ex = None if exclude is None else torch.as_tensor(np.asarray(exclude), dtype=torch.long)
        if ex is not None and ex.shape != (q.shape[0],):
            raise ConfigError(f"exclude must have one entry index per query, got {tuple(ex.shape)}")

        def topk(qq: Tensor, ents: Tensor, kk: int, key: str, qex: Tensor | None) -> tuple[Tensor, Tensor]:
            if use_faiss:
                return self._faiss_topk(qq, ents, kk, key)
            return exact_topk(qq, ents, kk, qex, memory_mb)

        if aggregate == "mean":
            k_lab = min(k, len(self.classes))
            if ex is None:
                s, li = topk(q, self.centroids(), k_lab, "centroids", None)
            else:  # leave-one-out centroids: score all labels, then rank
                s, li = torch.from_numpy(self.label_scores(q, "mean", ex.numpy())).topk(k_lab, dim=1)
            return self._labels_result(s, li, k)
        if aggregate == "none":
            s, i = topk(q, self.embeddings, min(k, len(self)), "entries", ex)
            labels = [
                [self.classes[self.label_ids[j]] for j, v in zip(ri, rs, strict=True) if np.isfinite(v)]
                for ri, rs in zip(i.tolist(), s.tolist(), strict=True)
            ]
            i = torch.where(torch.isfinite(s), i, torch.full_like(i, -1))
            return SearchResult(labels, _pad(s.numpy(), k), _pad(i.numpy(), k, -1))
        return self._nearest_labels(q, k, topk, ex)

    def _labels_result(self, s: Tensor, label_idx: Tensor, k: int) -> SearchResult:
        """Result of a search over centroids: indices are labels, not entries."""
        labels = [[self.classes[j] for j, v in zip(ri, rs, strict=True) if np.isfinite(v)]
                  for ri, rs in zip(label_idx.tolist(), s.tolist(), strict=True)]
        return SearchResult(labels, _pad(s.numpy(), k), np.full((s.shape[0], k), -1))

    def _nearest_labels(self, q: Tensor, k: int, topk: Any, ex: Tensor | None) -> SearchResult:
        """Top-k labels by nearest entry, exact.

        The first k distinct labels among a query's nearest entries, in order, are its top
        labels (a label's score is that of its first entry in the sorted list).  Candidates
        start at ``4k + 32`` entries and double for queries that have not met k distinct
        labels yet, up to the whole dictionary.
        """
        k_lab = min(k, len(self.classes))
        n_q = q.shape[0]
        scores = np.full((n_q, k), -np.inf, dtype=np.float32)
        indices = np.full((n_q, k), -1, dtype=np.int64)
        labels: list[list[str]] = [[] for _ in range(n_q)]
        todo = np.arange(n_q)
        cand = min(len(self), 4 * k_lab + 32)
        while todo.size:
            qq = q[torch.as_tensor(todo)]
            sub_ex = None if ex is None else ex[torch.as_tensor(todo)]
            s, i = topk(qq, self.embeddings, cand, "entries", sub_ex)
            lab = self.label_ids[i]  # (n_todo, cand)
            s_np, i_np, lab_np = s.numpy(), i.numpy(), lab.numpy()
            unfinished = []
            for row, qi in enumerate(todo.tolist()):
                ok = np.isfinite(s_np[row])
                _, first = np.unique(lab_np[row][ok], return_index=True)
                first = np.sort(first)[:k_lab]  # positions of each label's nearest entry
                exhausted = cand >= len(self) or not ok.all()
                if first.size < k_lab and not exhausted:
                    unfinished.append(qi)
                    continue
                n = first.size
                scores[qi, :n] = s_np[row][ok][first]
                indices[qi, :n] = i_np[row][ok][first]
                labels[qi] = [self.classes[j] for j in lab_np[row][ok][first]]
            todo = np.asarray(unfinished, dtype=np.int64)
            cand = min(len(self), cand * 2)
        return SearchResult(labels, scores, indices)

    def _faiss_topk(self, q: Tensor, entries: Tensor, k: int, key: str) -> tuple[Tensor, Tensor]:
        """Exact inner-product top-k with a cached faiss ``IndexFlatIP`` over ``entries``."""
        faiss = _import_faiss()
        if key not in self._faiss:
            index = faiss.IndexFlatIP(entries.shape[1])
            index.add(np.ascontiguousarray(entries.numpy(), dtype=np.float32))
            self._faiss[key] = index
        s, i = self._faiss[key].search(np.ascontiguousarray(q.numpy(), dtype=np.float32), k)
        s = np.where(i < 0, -np.inf, s).astype(np.float32)  # faiss pads with -1
        return torch.from_numpy(s), torch.from_numpy(i.astype(np.int64))

    # -- files
    def save(self, path: str | Path) -> Path:
        """Write one ``.safetensors`` file atomically (see the module docstring)."""
        from safetensors.torch import save_file

        path = Path(path)
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "classes": json.dumps(self.classes),
            "metadata": json.dumps(self.metadata),
            "info": json.dumps(self.info, default=str),
        }
        tensors = {"embeddings": self.embeddings, "label_ids": self.label_ids}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Dictionary:
        """Read a file written by :meth:`save` (never unpickles)."""
        from safetensors import SafetensorError
        from safetensors.torch import safe_open

        p = Path(path)
        if not p.is_file():
            raise DataError("dictionary file does not exist (build one with `signssl dictionary build`)", p)
        try:
            with safe_open(str(p), framework="pt") as f:
                meta = f.metadata() or {}
                if meta.get("format") != FORMAT:
                    raise DataError(f"not a signssl dictionary file (format {meta.get('format')!r})", p)
                emb, ids = f.get_tensor("embeddings"), f.get_tensor("label_ids")
        except (SafetensorError, OSError) as e:
            raise DataError(f"cannot read the dictionary: {e}", p) from None
        classes = json.loads(meta["classes"])
        obj = cls.__new__(cls)
        obj.embeddings = emb.float().contiguous()
        obj.label_ids = ids.long()
        obj.classes = list(classes)
        obj.metadata = {k: list(v) for k, v in json.loads(meta.get("metadata", "{}")).items()}
        obj.info = json.loads(meta.get("info", "{}"))
        obj._centroids = None
        obj._faiss = {}
        if obj.label_ids.numel() and int(obj.label_ids.max()) >= len(obj.classes):
            raise DataError("dictionary file is inconsistent: a label id exceeds the class list", p)
        return obj


def _pad(a: np.ndarray, k: int, fill: float = -np.inf) -> np.ndarray:
    """Pad ``(Q, k')`` to ``(Q, k)`` columns with ``fill``."""
    if a.shape[1] >= k:
        return a
    pad = np.full((a.shape[0], k - a.shape[1]), fill, dtype=a.dtype)
    return np.concatenate([a, pad], axis=1)


# ----------------------------------------------------------------------------- protocol

def retrieval_eval(
    dictionary: Features,
    queries: Features | None = None,
    aggregate: Aggregate = "nearest",
    memory_mb: float = DEFAULT_MEMORY_MB,
    examples_k: int = 5,
) -> EvalResult:
    """Dictionary retrieval (ASL Citizen protocol): rank the dictionary's labels per query.

    Args:
        dictionary: labelled entries (the training split).
        queries: the test split; ``None`` = leave-one-out over ``dictionary``.
        aggregate: ``nearest`` (a label scores its closest entry) or ``mean`` (its centroid).
        examples_k: nearest entries kept per query for the retrieval-example plot.
    Returns:
        :class:`EvalResult` with retrieval metrics (``dcg``, ``mrr``, ``recall@k``),
        ``n_queries`` and ``n_dictionary``.
    """
    if aggregate not in ("nearest", "mean"):
        raise ConfigError(f"retrieval aggregate must be 'nearest' or 'mean', got {aggregate!r}")
    dictionary = dictionary.require_labeled("retrieval dictionary")
    loo = queries is None
    queries = dictionary if loo else queries.require_labeled("retrieval queries")  # type: ignore[arg-type]
    d = Dictionary(dictionary.features, dictionary.labels)
    exclude = np.arange(len(dictionary)) if loo else None
    scores = d.label_scores(queries.features, aggregate, exclude, memory_mb)  # (Q, L)
    out = make_result(
        "retrieval", scores, d.classes, queries.labels, queries.paths, queries.signers,
        retrieval=True,
        extra={"n_dictionary": len(dictionary), "n_labels": len(d.classes), "leave_one_out": int(loo)},
    )
    out.metrics["n_queries"] = len(queries)
    top = d.search(queries.features, k=examples_k, aggregate="nearest", exclude=exclude,
                   memory_mb=memory_mb)
    out.neighbors, out.neighbor_scores = top.indices, top.scores
    out.reference_paths, out.reference_labels = dictionary.paths, dictionary.labels
    return out
