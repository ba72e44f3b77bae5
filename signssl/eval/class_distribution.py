"""Class probability distribution ``P`` from frozen features (paper App. A5).

See docs/methods.md#signrep-class-distribution.

Steps, for ``N`` training samples with features ``f_i`` and labels in ``K`` classes:

1. Class similarity ``S`` (``(K, K)``): the mean cosine similarity over sample pairs of
   two classes.  With ``n_a`` samples in class ``a`` and ``f̂ = f / ||f||``::

       S_ab = 1/(n_a n_b) Σ_{i∈a, j∈b} f̂_i·f̂_j                         (a ≠ b)
       S_aa = 1/(n_a (n_a − 1)) Σ_{i∈a, j∈a, i≠j} f̂_i·f̂_j              (n_a >= 2)

   The pairs ``i = j`` (always 1) are left out of the diagonal; a class with one sample
   has no pair left and gets ``S_aa = 1``.  Computed with class sums ``s_a = Σ_{i∈a} f̂_i``:
   ``Σ_{i∈a, j∈b} f̂_i·f̂_j = s_a·s_b`` and ``Σ_{i≠j} = ||s_a||² − n_a``, so memory is
   ``O(N D + K²)``.
2. Temperatures: for every class ``c`` the τ_c on a grid (default
   ``geomspace(1e-3, 10, 400)``) whose ``max_k softmax(S_c / τ_c)[k]`` is the largest value
   strictly below 0.5.  That maximum falls as τ grows (every ratio
   ``exp((S_ck − max S_c) / τ)`` grows with τ), so τ_c is the smallest grid value that
   brings it below 0.5, found by bisection.  A row that stays at or above 0.5 even at the
   largest τ (always the case for K = 2) raises :class:`ConfigError`.
3. ``P_c = softmax(S_c / τ_c)``: the target distribution of Eq. 13
   (:mod:`signssl.losses.class_distribution_kl`).

Classes are ordered as ``classes`` when given (the classifier's order; every class needs
a sample and every label must be listed; labels are matched to it as strings), else the
sorted distinct labels (integers numerically).  ``P`` is saved as ``.npz``
(arrays ``P``, ``tau``, ``classes``) or ``.json`` (keys ``classes``, ``tau``, ``P``),
written atomically.

Example:
    >>> import numpy as np
    >>> feats = np.random.default_rng(0).normal(size=(12, 8))
    >>> dist = class_distribution(feats, ["a", "b", "c"] * 4)
    >>> dist.P.shape, bool((dist.P.max(axis=1) < 0.5).all())
    ((3, 3), True)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from signssl.errors import ConfigError, DataError
from signssl.utils import atomic_savez, read_json_file, require_regular_file, save_json

#: the largest probability a row of ``P`` may give (strictly below).
MAX_PROBABILITY = 0.5


def default_temperature_grid() -> np.ndarray:
    """400 temperatures spaced geometrically over ``[1e-3, 10]``."""
    return np.geomspace(1e-3, 10.0, 400)


class ClassDistribution(NamedTuple):
    """``P`` (``(K, K)``, rows sum to 1), its temperatures ``tau`` (``(K,)``) and class names."""

    P: np.ndarray
    tau: np.ndarray
    classes: list[str]


def _as_array(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _class_index(labels: Any, classes: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    """Labels as strings -> ``(index (N,), class names)``; raises on unknown or empty classes."""
    raw = _as_array(labels).reshape(-1)
    names = np.asarray([str(v) for v in raw.tolist()])
    if (names == "").any():
        raise DataError(
            f"{int((names == '').sum())} samples have no label; keep only labelled samples "
            "(e.g. Features.labeled())"
        )
    if classes is None:  # sorted as given: numbers numerically, strings alphabetically
        class_list = [str(v) for v in np.unique(raw).tolist()]
    else:
        class_list = [str(c) for c in classes]
        if len(set(class_list)) != len(class_list):
            raise ConfigError("classes lists a name twice; give each class once")
    lookup = {c: k for k, c in enumerate(class_list)}
    unknown = sorted(set(names.tolist()) - set(lookup))
    if unknown:
        raise DataError(
            f"labels {unknown[:10]} are not in the class list; add them to `classes` or drop "
            "those samples"
        )
    index = np.array([lookup[n] for n in names.tolist()], dtype=np.int64)
    counts = np.bincount(index, minlength=len(class_list))  # (K,)
    empty = [class_list[k] for k in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(
            f"classes {empty[:10]} have no sample, so their similarity is undefined; give "
            "features of every class or leave them out of `classes`"
        )
    return index, class_list


def _normalised(features: Any) -> np.ndarray:
    f = _as_array(features).astype(np.float64)
    if f.ndim != 2 or f.shape[0] == 0:
        raise DataError(f"features must be a non-empty (N, D) array, got shape {f.shape}")
    if not np.isfinite(f).all():
        raise DataError("features contain NaN or infinite values; re-extract them")
    norms = np.linalg.norm(f, axis=1)  # (N, D) -> (N,)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise DataError(
            f"feature rows {zero[:10].tolist()} are all zero, so their cosine similarity is "
            "undefined; drop those samples"
        )
    return f / norms[:, None]


def class_similarity(
    features: Any, labels: Any, classes: Sequence[str] | None = None
) -> np.ndarray:
    """``S``: mean pairwise cosine similarity between classes: ``(N, D), (N,) -> (K, K)``.

    Class ``k`` is ``classes[k]`` (default: the sorted distinct labels; integer labels sort
    numerically).  Labels are matched to ``classes`` as strings.  See the module docstring
    for the diagonal.
    """
    f = _normalised(features)  # (N, D)
    n_labels = _as_array(labels).size
    if n_labels != f.shape[0]:
        raise DataError(f"{n_labels} labels for {f.shape[0]} feature rows; give one label per row")
    index, class_list = _class_index(labels, classes)
    return _similarity(f, index, len(class_list))


def _similarity(f: np.ndarray, index: np.ndarray, k: int) -> np.ndarray:
    """``S`` from unit rows ``f`` (``(N, D)``) and class indices (``(N,)``): ``-> (K, K)``."""
    counts = np.bincount(index, minlength=k).astype(np.float64)  # (K,), every count >= 1
    order = np.argsort(index, kind="stable")  # rows grouped by class
    starts = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.int64)  # (K,)
    sums = np.add.reduceat(f[order], starts, axis=0)  # (N, D) -> (K, D): s_a = Σ_{i∈a} f̂_i
    pair_sums = sums @ sums.T  # (K, D) @ (D, K) -> (K, K): Σ_{i∈a, j∈b} f̂_i·f̂_j
    S = pair_sums / np.outer(counts, counts)  # (K, K)
    diag = np.ones(k)  # singleton classes: no i ≠ j pair, S_aa = 1
    multi = counts >= 2
    diag[multi] = (np.diag(pair_sums)[multi] - counts[multi]) / (
        counts[multi] * (counts[multi] - 1)
    )
    np.fill_diagonal(S, diag)
    return S


def _row_max_probability(S: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """``max_k softmax(S_c / τ_c)[k]`` for every row: ``(K, K), (K,) -> (K,)``."""
    shifted = (S - S.max(axis=1, keepdims=True)) / tau[:, None]  # (K, K), <= 0
    return 1.0 / np.exp(shifted).sum(axis=1)


def _check_grid(grid: Any) -> np.ndarray:
    values = np.sort(_as_array(grid).astype(np.float64).reshape(-1))
    if values.size == 0 or not np.isfinite(values).all() or (values <= 0).any():
        raise ConfigError("the temperature grid must hold finite values > 0")
    return values


def choose_temperatures(S: Any, grid: Any = None) -> np.ndarray:
    """τ per class: the grid value giving the largest row maximum below 0.5: ``-> (K,)``.

    Args:
        S: ``(K, K)`` class similarity.
        grid: candidate temperatures (any order; default :func:`default_temperature_grid`).
    """
    S = _as_array(S).astype(np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or not np.isfinite(S).all():
        raise DataError(f"S must be a finite (K, K) matrix, got shape {S.shape}")
    values = _check_grid(default_temperature_grid() if grid is None else grid)
    k = S.shape[0]
    top = _row_max_probability(S, np.full(k, values[-1]))  # (K,) at the largest τ
    stuck = np.flatnonzero(top >= MAX_PROBABILITY)
    if stuck.size:
        raise ConfigError(
            f"for rows {stuck[:10].tolist()} no temperature up to {values[-1]:g} brings the "
            f"largest class probability below {MAX_PROBABILITY} (K={k}; with K = 2 none can); "
            "use more classes or extend the grid to larger temperatures"
        )
    # bisection on the ascending grid: hi always satisfies max < 0.5, lo never (or is -1)
    lo, hi = np.full(k, -1), np.full(k, values.size - 1)
    while (hi - lo > 1).any():
        mid = (lo + hi) // 2
        active = hi - lo > 1
        below = _row_max_probability(S, values[np.maximum(mid, 0)]) < MAX_PROBABILITY
        hi = np.where(active & below, mid, hi)
        lo = np.where(active & ~below, mid, lo)
    return values[hi]


def distribution_from_similarity(S: Any, tau: Any) -> np.ndarray:
    """``P_c = softmax(S_c / τ_c)``: ``(K, K), (K,) -> (K, K)``."""
    S, tau = _as_array(S).astype(np.float64), _as_array(tau).astype(np.float64)
    shifted = (S - S.max(axis=1, keepdims=True)) / tau[:, None]  # (K, K)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def class_distribution(
    features: Any, labels: Any, grid: Any = None, classes: Sequence[str] | None = None
) -> ClassDistribution:
    """``(P, tau, classes)`` from frozen training features (the steps of the module docstring).

    Args:
        features: ``(N, D)`` array or tensor.
        labels: ``(N,)`` class names or integer class ids (matched as strings).
        grid: candidate temperatures (default :func:`default_temperature_grid`).
        classes: class order of ``P`` (default: sorted labels).
    """
    S = class_similarity(features, labels, classes)
    class_list = _class_index(labels, classes)[1]
    tau = choose_temperatures(S, grid)
    return ClassDistribution(distribution_from_similarity(S, tau), tau, class_list)


# ----------------------------------------------------------------------------- I/O


def save_class_distribution(path: str | Path, dist: ClassDistribution) -> Path:
    """Write ``dist`` atomically as ``.npz`` or ``.json`` (chosen by the suffix)."""
    path = Path(path)
    P = np.asarray(dist.P, dtype=np.float64)
    tau = np.asarray(dist.tau, dtype=np.float64)
    classes = [str(c) for c in dist.classes]
    _check_loaded(P, tau, classes, path)
    if path.suffix == ".json":
        save_json(path, {"classes": classes, "tau": tau.tolist(), "P": P.tolist()})
    elif path.suffix == ".npz":
        atomic_savez(path, P=P, tau=tau, classes=np.asarray(classes, dtype=str))
    else:
        raise ConfigError(f"{path}: save a class distribution as .npz or .json")
    return path


def load_class_distribution(path: str | Path) -> ClassDistribution:
    """Read a file written by :func:`save_class_distribution`, checking shapes and rows."""
    path = Path(path)
    if path.suffix not in (".npz", ".json"):
        raise DataError("expected a .npz or .json class distribution", path)
    if not path.exists():
        raise DataError("class distribution file does not exist", path)
    obj = read_json_file(path) if path.suffix == ".json" else require_regular_file(path)
    try:
        if path.suffix == ".json":
            P, tau, classes = (
                np.asarray(obj["P"], float),
                np.asarray(obj["tau"], float),
                obj["classes"],
            )
        else:
            with np.load(path, allow_pickle=False) as z:
                P, tau, classes = z["P"], z["tau"], z["classes"].tolist()
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"cannot read a class distribution (P, tau, classes): {e!r}", path
        ) from None
    classes = [str(c) for c in classes]
    _check_loaded(P, tau, classes, path)
    return ClassDistribution(P, tau, classes)


def _check_loaded(P: np.ndarray, tau: np.ndarray, classes: list[str], path: Path) -> None:
    k = len(classes)
    if P.shape != (k, k) or tau.shape != (k,):
        raise DataError(
            f"P {P.shape} and tau {tau.shape} do not fit {k} classes; recompute the file", path
        )
    if not np.isfinite(P).all() or (P < 0).any() or not np.allclose(P.sum(axis=1), 1.0, atol=1e-6):
        raise DataError("P is not a row-stochastic matrix; recompute the file", path)
