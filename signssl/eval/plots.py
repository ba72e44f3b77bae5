"""Report figures (matplotlib, Agg backend, written atomically as PNG).

* :func:`plot_embedding_map` — 2-D map of embeddings (PCA or t-SNE) coloured by class;
* :func:`plot_class_bars` — one value per class (per-class accuracy, intra-class inertia);
* :func:`plot_confusion` — confusion matrix;
* :func:`plot_metric_bars` — a few metrics per encoder, with interval error bars;
* :func:`plot_retrieval_examples` — queries and their top retrieved entries drawn as
  keypoint thumbnails (:func:`draw_pose`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from signssl.errors import ConfigError
from signssl.utils import atomic_path

#: ``path -> (xyz (T, J, C), conf (T, J), bones [(i, j), ...])`` or ``None`` if unavailable
PoseLookup = Callable[[str], "tuple[np.ndarray, np.ndarray, Sequence[tuple[int, int]]] | None"]

#: neighbours drawn per query in the retrieval-example grid, whatever k the protocol used
EXAMPLE_HITS = 5


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    _plt().close(fig)
    return path


# ----------------------------------------------------------------------------- embeddings

def project_2d(features: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """``(N, D) -> (N, 2)`` by PCA (of the L2-normalised rows) or t-SNE (cosine)."""
    z = np.asarray(features, dtype=np.float64)
    z = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)
    if z.shape[0] < 3:
        return np.pad(z[:, :2], ((0, 0), (0, max(0, 2 - z.shape[1]))))
    if method == "pca":
        zc = z - z.mean(axis=0)
        _, _, vt = np.linalg.svd(zc, full_matrices=False)  # principal axes (D,)
        out = zc @ vt[:2].T  # (N, D) @ (D, 2)
        return np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (z.shape[0] - 1) / 3)))
        return TSNE(2, metric="cosine", init="pca", perplexity=perplexity,
                    random_state=seed).fit_transform(z)
    raise ConfigError(f"unknown projection {method!r}; known: pca, tsne")


def plot_embedding_map(
    features: np.ndarray, labels: Sequence[str], path: str | Path, method: str = "pca",
    max_classes: int = 20, title: str = "", seed: int = 0,
) -> Path:
    """Scatter of the 2-D projection; the ``max_classes`` most frequent classes each in its
    own colour and marker (:func:`class_style`), the rest in grey."""
    plt = _plt()
    xy = project_2d(features, method, seed)
    labels = [str(x) for x in labels]
    top = [c for c, _ in Counter(labels).most_common(max_classes)]
    fig, ax = plt.subplots(figsize=(7, 6))
    others = np.array([lab not in top for lab in labels])
    if others.any():
        ax.scatter(xy[others, 0], xy[others, 1], s=8, c="lightgrey", label="other classes")
    for i, c in enumerate(sorted(top)):
        sel = np.array([lab == c for lab in labels])
        colour, marker = class_style(i)
        ax.scatter(xy[sel, 0], xy[sel, 1], s=18, color=colour, marker=marker, label=c,
                   edgecolors="none")
    ax.set_title(title or f"embeddings ({method.upper()}, {len(labels)} samples)")
    ax.set_xticks([])
    ax.set_yticks([])
    if len(top) <= 20:
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return _save(fig, path)


#: one hue each, no grey (grey marks the classes not shown): matplotlib's tab10 without
#: its grey and its brown (too near the red at marker size)
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#e377c2", "#bcbd22",
                 "#17becf")
#: marker shapes; the next one starts when every colour is used
CLASS_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def class_style(i: int) -> tuple[str, str]:
    """``(colour, marker)`` of the ``i``-th class: the colours in turn with circles, then
    again with squares, and so on (distinct pairs for 64 classes).

    >>> class_style(0), class_style(8)
    (('#1f77b4', 'o'), ('#1f77b4', 's'))
    """
    n = len(CLASS_COLOURS)
    return CLASS_COLOURS[i % n], CLASS_MARKERS[(i // n) % len(CLASS_MARKERS)]


# ----------------------------------------------------------------------------- per class

def plot_class_bars(
    values: dict[str, float], path: str | Path, xlabel: str, title: str = "",
    reference: float | None = None,
) -> Path:
    """Horizontal bars, one per class, sorted by value; ``reference`` as a dashed line."""
    plt = _plt()
    items = sorted(values.items(), key=lambda kv: (kv[1], kv[0]))
    n = max(1, len(items))
    fig, ax = plt.subplots(figsize=(6, min(40.0, 1.0 + 0.18 * n)))
    ax.barh(range(len(items)), [v for _, v in items], color="tab:blue")
    ax.set_yticks(range(len(items)), [k for k, _ in items], fontsize=6 if n > 30 else 8)
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color="k", ls="--", lw=1, label=f"mean {reference:.3f}")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _save(fig, path)


#: ``(low, high)`` bounds of one bar's interval, ``None`` when unknown
Interval = "tuple[float, float] | None"


def plot_metric_bars(
    groups: Sequence[str],
    values: dict[str, Sequence[float]],
    path: str | Path,
    ylabel: str,
    intervals: dict[str, Sequence[Interval]] | None = None,
    note: str = "",
) -> Path:
    """Grouped bars in ``[0, 1]``: one group per encoder, one bar per metric (``values``:
    metric -> one value per group); ``intervals`` (metric -> ``(low, high)`` per group)
    drawn as black error bars; ``note`` (what the error bars are) is the x-axis label."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(groups), 4))
    width = 0.8 / max(1, len(values))
    x = np.arange(len(groups))
    for i, (name, vals) in enumerate(values.items()):
        v = np.asarray(vals, dtype=np.float64)  # (G,)
        ax.bar(x + i * width, np.nan_to_num(v), width, label=name)
        spans = (intervals or {}).get(name)
        if spans is None:
            continue
        bounds = np.array([(np.nan, np.nan) if s is None else s for s in spans], dtype=np.float64)
        yerr = np.stack([v - bounds[:, 0], bounds[:, 1] - v])  # (G, 2) -> (2, G) distances
        yerr = np.clip(yerr, 0.0, None)  # a bound equal to the value may differ by rounding
        ok = np.isfinite(yerr).all(axis=0)
        if ok.any():
            ax.errorbar((x + i * width)[ok], v[ok], yerr=yerr[:, ok], fmt="none", ecolor="k",
                        elinewidth=1, capsize=3, label=f"_{name} interval")  # _: not in legend
    ax.set_xticks(x + width * (len(values) - 1) / 2, list(groups), rotation=20)
    ax.set_ylim(0, 1)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(values),
              frameon=False)  # above the axes: bars and error bars may reach 1
    if note:
        ax.set_xlabel(note, fontsize=8)
    return _save(fig, path)


def plot_confusion(matrix: np.ndarray, classes: Sequence[str], path: str | Path,
                   title: str = "confusion (rows: true, columns: top-1)") -> Path:
    """Row-normalised confusion matrix image."""
    plt = _plt()
    m = np.asarray(matrix, dtype=np.float64)
    m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    size = min(16.0, 2.0 + 0.16 * n)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
    fs = 5 if n > 40 else 7
    ax.set_xticks(range(n), classes, rotation=90, fontsize=fs)
    ax.set_yticks(range(n), classes, fontsize=fs)
    ax.set_title(title)
    return _save(fig, path)


# ----------------------------------------------------------------------------- poses

def representative_frame(conf: np.ndarray) -> int:
    """The frame with the most detected joints, the one nearest the middle among ties."""
    counts = (np.asarray(conf) > 0).sum(axis=1)  # (T,)
    if counts.size == 0:
        return 0
    mid = (counts.size - 1) / 2
    best = np.nonzero(counts == counts.max())[0]
    return int(best[np.argmin(np.abs(best - mid))])


def draw_pose(ax: Any, xyz: np.ndarray, conf: np.ndarray, bones: Sequence[tuple[int, int]],
              title: str = "", color: str = "k") -> None:
    """Thumbnail of a clip: the skeleton of its most complete frame plus the trajectory
    of every joint over time (faint); image convention, y pointing down."""
    xyz = np.asarray(xyz)
    conf = np.asarray(conf)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    ax.invert_yaxis()
    if title:
        ax.set_title(title, fontsize=8, color=color)
    if xyz.size == 0 or not (conf > 0).any():
        ax.text(0.5, 0.5, "no keypoints", ha="center", va="center", transform=ax.transAxes)
        return
    present = conf > 0  # (T, J)
    for j in range(xyz.shape[1]):  # trajectories
        pts = xyz[present[:, j], j, :2]
        if len(pts) > 1:
            ax.plot(pts[:, 0], pts[:, 1], lw=0.4, color="tab:orange", alpha=0.35)
    t = representative_frame(conf)
    for a, b in bones:
        if present[t, a] and present[t, b]:
            ax.plot(xyz[t, [a, b], 0], xyz[t, [a, b], 1], lw=1.0, color="tab:blue")
    ax.scatter(xyz[t, present[t], 0], xyz[t, present[t], 1], s=2, color="k")


def plot_retrieval_examples(
    queries: Sequence[tuple[str, str]],
    hits: Sequence[Sequence[tuple[str, str, float]]],
    lookup: PoseLookup,
    path: str | Path,
    max_hits: int = EXAMPLE_HITS,
) -> Path:
    """Rows: a query (path, label) then its first ``max_hits`` hits (path, label, score)
    as thumbnails.

    A hit's title is green when its label equals the query's, red otherwise.
    """
    plt = _plt()
    hits = [list(h)[:max_hits] for h in hits]
    n_rows = max(1, len(queries))
    n_cols = 1 + max((len(h) for h in hits), default=0)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.2 * n_cols, 2.4 * n_rows), squeeze=False)
    for r, ((q_path, q_label), row_hits) in enumerate(zip(queries, hits, strict=True)):
        _draw_cell(axes[r][0], lookup, q_path, f"query: {q_label}", "k")
        for c in range(1, n_cols):
            if c - 1 < len(row_hits):
                h_path, h_label, score = row_hits[c - 1]
                color = "tab:green" if h_label == q_label else "tab:red"
                _draw_cell(axes[r][c], lookup, h_path, f"#{c} {h_label} ({score:.2f})", color)
            else:
                axes[r][c].axis("off")
    return _save(fig, path)


def _draw_cell(ax: Any, lookup: PoseLookup, path: str, title: str, color: str) -> None:
    pose = lookup(path) if path else None
    if pose is None:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=8, color=color)
        ax.text(0.5, 0.5, "pose not available", ha="center", va="center", fontsize=7,
                transform=ax.transAxes)
        return
    xyz, conf, bones = pose
    draw_pose(ax, xyz, conf, bones, title, color)
