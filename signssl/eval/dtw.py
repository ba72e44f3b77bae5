"""Dynamic time warping 1-NN retrieval: the training-free sequence baseline.

Clips are compared frame by frame, not as one vector: each clip becomes a sequence of
per-frame features ``(T, F)`` (the :mod:`signssl.pose.streams` groups ``body``,
``hand_shape`` and ``hand_angles`` by default, concatenated), every feature standardised
with the mean and standard deviation of the dictionary's frames so that no group
dominates the Euclidean frame cost.  A query scores each label by minus its smallest DTW
distance to that label's entries, so the metrics are those of
:func:`signssl.eval.retrieval.retrieval_eval` with ``aggregate="nearest"``.

DTW (:func:`dtw_distance_matrix`) is the symmetric form with steps ``(1, 0)``, ``(0, 1)``
and ``(1, 1)``: with frame costs ``c(i, j) = ||q_i - e_j||``,

    D(0, 0) = 2 c(0, 0)
    D(i, j) = min(D(i-1, j) + c(i, j), D(i, j-1) + c(i, j), D(i-1, j-1) + 2 c(i, j))

and ``dtw = D(T_q - 1, T_e - 1) / (T_q + T_e)``.  The diagonal step weighs 2, so the
weights of every warping path sum to ``T_q + T_e`` and the distance is a weighted mean of
frame costs (two clips whose frames all differ by ``c`` are ``c`` apart).  An optional
Sakoe-Chiba band keeps ``|i - j| <= r`` with ``r = max(ceil(band * max(T_q, T_e)),
|T_q - T_e|)`` (the band always contains a path).

There is no embedding, hence no ``embed`` / ``dictionary build``: use
``signssl evaluate retrieval --baseline dtw``.

>>> import numpy as np
>>> a = np.array([[0.0], [1.0], [2.0]])
>>> float(dtw_distance_matrix([a], [np.array([[0.0], [1.0], [1.0], [2.0]])], progress=False)[0, 0])
0.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from signssl.data import pose_loader
from signssl.errors import ConfigError, DataError
from signssl.eval.features import dataset_label_names
from signssl.eval.results import EvalResult, make_result
from signssl.pose.streams import StreamFeatures
from signssl.utils import progress_bar

#: per-frame stream groups compared by default (:class:`signssl.pose.streams.StreamFeatures`)
DEFAULT_STREAMS: tuple[str, ...] = ("body", "hand_shape", "hand_angles")
#: entries per padded chunk (sorted by length, so a chunk pads little)
ENTRY_CHUNK = 1024
#: cost cells ``(queries, T_q, entries, T_e)`` computed at once
BLOCK_CELLS = 1 << 23


# ----------------------------------------------------------------------------- distances

def band_radius(t_query: int, t_entry: int, band: float | None) -> int | None:
    """Half-width ``r`` of the Sakoe-Chiba band (``None`` = no band), see the module docstring."""
    if band is None:
        return None
    return max(math.ceil(band * max(t_query, t_entry)), abs(t_query - t_entry))


def frame_costs(q: Tensor, entries: Tensor) -> Tensor:
    """Euclidean frame costs ``(Qb, T_q, M, T)`` of queries ``(Qb, T_q, F)`` and entries
    ``(M, T, F)``, by one matrix product (``|a|^2 + |b|^2 - 2 a.b``)."""
    qb, tq, f = q.shape
    m, t, _ = entries.shape
    qf, ef = q.reshape(qb * tq, f), entries.reshape(m * t, f)  # (Qb*T_q, F), (M*T, F)
    cost = torch.addmm((ef * ef).sum(-1)[None], qf, ef.T, alpha=-2.0)  # (Qb*T_q, M*T)
    cost.add_((qf * qf).sum(-1)[:, None]).clamp_min_(0.0).sqrt_()
    return cost.view(qb, tq, m, t)


def _dtw_block(q: Tensor, entries: Tensor, lengths: Tensor, band: float | None) -> Tensor:
    """DTW ``(Qb, M)`` of queries ``(Qb, T_q, F)`` of one length to padded entries
    ``(M, T, F)`` of ``lengths`` ``(M,)``.

    Row by row over the query frames; within a row the horizontal recurrence
    ``D(i, j) = min(A_j, D(i, j-1) + c(i, j))`` is solved at once as
    ``P_j + cummin_k(A_k - P_k)``, ``P`` the row's cumulative cost and ``A`` the best
    vertical or diagonal arrival.  Padded entry frames only follow the real ones, so they
    never reach a real cell.
    """
    qb, tq, _ = q.shape
    m, t, _ = entries.shape
    cost = frame_costs(q, entries)  # (Qb, T_q, M, T)
    prefix = cost.cumsum(-1)  # (Qb, T_q, M, T): P of every row
    allowed = None
    if band is not None:
        r = torch.tensor([band_radius(tq, int(n), band) for n in lengths.tolist()])  # (M,)
        j = torch.arange(t)
        allowed = [(i - j)[None].abs() <= r[:, None] for i in range(tq)]  # T_q x (M, T)
    inf = torch.tensor(float("inf"), dtype=cost.dtype)
    row = cost[:, 0, :, :1] + prefix[:, 0]  # (Qb, M, T): D(0, j) = 2 c(0, 0) + c(0, 1..j)
    if allowed is not None:
        row = torch.where(allowed[0], row, inf)
    diag = torch.full_like(row, float("inf"))
    for i in range(1, tq):
        c, p = cost[:, i], prefix[:, i]  # (Qb, M, T)
        diag[..., 1:] = row[..., :-1]
        a = torch.minimum(row + c, diag.add_(c, alpha=2.0))  # arrive vertically or diagonally
        if allowed is not None:
            a = torch.where(allowed[i], a, inf)
        row = (a - p).cummin(-1).values.add_(p)  # then any number of horizontal steps
        if allowed is not None:
            row = torch.where(allowed[i], row, inf)
    end = row.gather(2, (lengths - 1).expand(qb, m)[..., None])[..., 0]  # (Qb, M)
    return end / (tq + lengths).to(end.dtype)


def dtw_distance_matrix(
    queries: Sequence[np.ndarray], entries: Sequence[np.ndarray], band: float | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Length-normalised DTW distances ``(Q, M)`` between sequences ``(T_i, F)``.

    Args:
        queries / entries: per-frame features, any lengths >= 1, one ``F`` for all;
            computed in float64 when any input is float64, else float32.
        band: Sakoe-Chiba band as a fraction of the longer sequence (``None`` = none).
        progress: a bar over the queries.
    Returns:
        the distances (module docstring) as float64.  Queries of one length are compared
        together with chunks of entries sorted by length and padded.
    """
    if band is not None and band < 0:
        raise ConfigError(f"band must be >= 0 (a fraction of the longer clip), got {band}")
    arrays = [np.asarray(s) for s in (*queries, *entries)]
    widths = {a.shape[1] for a in arrays if a.ndim == 2}
    if any(a.ndim != 2 or a.shape[0] < 1 for a in arrays) or len(widths) > 1:
        raise DataError(f"DTW needs non-empty (T, F) sequences with one F, got widths {sorted(widths)}")
    dtype = torch.float64 if any(a.dtype == np.float64 for a in arrays) else torch.float32
    qs = [torch.as_tensor(a, dtype=dtype) for a in arrays[: len(queries)]]
    es = [torch.as_tensor(a, dtype=dtype) for a in arrays[len(queries):]]
    out = np.zeros((len(qs), len(es)), dtype=np.float64)
    if not qs or not es:
        return out
    width = widths.pop()
    order = np.argsort([e.shape[0] for e in es], kind="stable")  # short with short: less padding
    chunks = []
    for start in range(0, len(es), ENTRY_CHUNK):
        idx = order[start:start + ENTRY_CHUNK]
        lengths = torch.tensor([es[k].shape[0] for k in idx])
        padded = torch.zeros(len(idx), int(lengths.max()), width, dtype=dtype)
        for row, k in enumerate(idx):
            padded[row, : len(es[k])] = es[k]  # (M, T, F), zeros after each entry's end
        chunks.append((idx, padded, lengths))
    by_length: dict[int, list[int]] = {}
    for qi, q in enumerate(qs):
        by_length.setdefault(q.shape[0], []).append(qi)
    bar = progress_bar(total=len(qs), desc="DTW", unit="query", disable=not progress, leave=False)
    for tq, members in sorted(by_length.items()):
        cells = max(tq * len(idx) * p.shape[1] for idx, p, _ in chunks)
        step = max(1, BLOCK_CELLS // cells)
        for s in range(0, len(members), step):
            block = members[s:s + step]
            q = torch.stack([qs[k] for k in block])  # (Qb, T_q, F)
            for idx, padded, lengths in chunks:
                out[np.ix_(block, idx)] = _dtw_block(q, padded, lengths, band).numpy()
            bar.update(len(block))
    bar.close()
    return out


# ----------------------------------------------------------------------------- clips

@dataclass
class ClipSequences:
    """Per-frame features of labelled clips: ``sequences[i]`` is ``(T_i, F)`` float32."""

    sequences: list[np.ndarray]
    labels: np.ndarray
    paths: np.ndarray
    signers: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)

    def labeled(self) -> ClipSequences:
        """The clips that have a label (unlabelled ones are neither entries nor queries)."""
        keep = np.flatnonzero(self.labels != "")
        return ClipSequences([self.sequences[i] for i in keep], self.labels[keep],
                             self.paths[keep], self.signers[keep])

    def standardized(self, mean: np.ndarray, std: np.ndarray) -> ClipSequences:
        """Every frame as ``(x - mean) / std``."""
        seqs = [((s - mean) / std).astype(np.float32) for s in self.sequences]
        return ClipSequences(seqs, self.labels, self.paths, self.signers)

    def frame_stats(self, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation ``(F,)`` of each feature over all frames; a constant
        feature gets std 1 (it then adds 0 to every frame cost)."""
        frames = np.concatenate(self.sequences).astype(np.float64)  # (sum T_i, F)
        mean, std = frames.mean(0), frames.std(0)
        return mean, np.where(std > eps, std, 1.0)


def clip_sequences(dataset: Any, streams: Sequence[str] = DEFAULT_STREAMS, max_frames: int | None = 64,
                   batch_size: int = 64, progress: bool = False) -> ClipSequences:
    """Per-frame stream features of every clip of a pose dataset (``PoseDataset`` samples).

    Clips longer than ``max_frames`` keep evenly spaced frames, as the other baselines
    read them (:func:`signssl.data.collate_poses`).  The layout is the dataset's
    (``dataset.layout``) or the clips' own.
    """
    if len(dataset) == 0:
        raise DataError("no clip to compare (empty dataset, or every clip was skipped)")
    layout = getattr(dataset, "layout", None) or dataset[0]["pose"].layout
    stream_fn = StreamFeatures(tuple(streams), layout)
    names = dataset_label_names(dataset) or []
    seqs: list[np.ndarray] = []
    labels: list[str] = []
    paths: list[str] = []
    signers: list[str] = []
    loader = pose_loader(dataset, batch_size=batch_size, max_frames=max_frames)
    for batch in progress_bar(loader, desc="frame features", disable=not progress, leave=False):
        with torch.no_grad():
            frames = torch.cat(stream_fn(batch["x"].float(), batch["conf"].float()), dim=-1)  # (B, T, F)
        for b, n in enumerate(batch["length"].tolist()):
            seqs.append(frames[b, :n].numpy().astype(np.float32))
        labels += [names[k] if 0 <= k < len(names) else "" for k in batch["label"].tolist()]
        paths += list(batch["path"])
        signers += list(batch["signer"])
    return ClipSequences(seqs, np.asarray(labels, dtype=str), np.asarray(paths, dtype=str),
                         np.asarray(signers, dtype=str))


# ----------------------------------------------------------------------------- protocol

def nearest_label_scores(dist: np.ndarray, entry_labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``(Q, L)`` label scores = minus the smallest distance to that label's entries, and
    the L labels (sorted); a label with no usable entry (``inf``) scores ``-inf``."""
    classes, ids = np.unique(entry_labels, return_inverse=True)
    order = np.argsort(ids, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(ids[order]) != 0])  # first entry of each label
    nearest = np.minimum.reduceat(dist[:, order], starts, axis=1)  # (Q, L)
    return -nearest, [str(c) for c in classes]


def dtw_retrieval_eval(
    dictionary_clips: Any,
    query_clips: Any | None = None,
    streams: Sequence[str] = DEFAULT_STREAMS,
    band: float | None = None,
    max_frames: int | None = 64,
    examples_k: int = 5,
    progress: bool = False,
) -> EvalResult:
    """DTW 1-NN dictionary retrieval (module docstring), metrics as ``retrieval_eval``.

    Args:
        dictionary_clips: the dictionary (training split): a pose dataset or
            :class:`ClipSequences`.
        query_clips: the queries (test split); ``None`` = leave-one-out over the dictionary.
        streams: per-frame stream groups compared (:mod:`signssl.pose.streams`).
        band: Sakoe-Chiba band as a fraction of the longer clip (``None`` = none).
        max_frames: longest clip read from a dataset (longer: evenly spaced frames).
        examples_k: nearest entries kept per query for the retrieval-example plot
            (their scores are minus the DTW distance).
    """
    def sequences(clips: Any, what: str) -> ClipSequences:
        if not isinstance(clips, ClipSequences):
            clips = clip_sequences(clips, streams, max_frames, progress=progress)
        clips = clips.labeled()
        if len(clips) == 0:
            raise DataError(f"DTW retrieval: the {what} has no labelled clip")
        return clips

    entries = sequences(dictionary_clips, "dictionary")
    loo = query_clips is None
    queries = entries if loo else sequences(query_clips, "query set")
    mean, std = entries.frame_stats()
    entries_z = entries.standardized(mean, std)
    queries_z = entries_z if loo else queries.standardized(mean, std)
    dist = dtw_distance_matrix(queries_z.sequences, entries_z.sequences, band, progress)  # (Q, M)
    if loo:
        np.fill_diagonal(dist, np.inf)  # a query is not its own entry
    scores, classes = nearest_label_scores(dist, entries.labels)
    out = make_result(
        "retrieval", scores, classes, queries.labels, queries.paths, queries.signers,
        retrieval=True,
        extra={"n_dictionary": len(entries), "n_labels": len(classes), "leave_one_out": int(loo)},
    )
    out.metrics["n_queries"] = len(queries)
    k = min(examples_k, dist.shape[1])
    near = np.argsort(dist, axis=1, kind="stable")[:, :k]  # (Q, k)
    near_d = np.take_along_axis(dist, near, axis=1)
    out.neighbors = np.where(np.isfinite(near_d), near, -1)
    out.neighbor_scores = (-near_d).astype(np.float32)
    out.reference_paths, out.reference_labels = entries.paths, entries.labels
    return out
