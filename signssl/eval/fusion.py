"""Late fusion of class scores (MASA "Ours (+R)", docs/methods.md#masa-fine-tuning; after SignBERT).

Two models score the same test clips over the same classes, e.g. the pose model
fine-tuned here and an RGB model; the fused score of a clip is

    s = norm(s_a) + weight · norm(s_b)

with ``norm`` the softmax over classes (``normalize="softmax"``, default: logits of two
models have unrelated scales, probabilities do not) or the identity (``"none"``).  The
fused scores are evaluated like any protocol's (:func:`fusion_eval` returns an
:class:`~signssl.eval.results.EvalResult`).

Scores travel as :class:`ClassScores` ``.npz`` files (plain numeric/unicode arrays,
read with ``allow_pickle=False``): ``scores (N, L)`` float32, ``classes (L,)``, and per
clip ``paths (N,)`` and ``labels (N,)`` (``""`` = unknown).  An RGB model trained elsewhere
only has to write those arrays.  Before fusing, the columns of the second file are put
in the class order of the first (by name) and, when both files name their clips, the
rows are matched by path.

>>> a = ClassScores.from_result(pose_result)                    # doctest: +SKIP
>>> fused = fuse_score_files("pose.npz", "rgb.npz", weight=1.0)  # doctest: +SKIP
>>> fusion_eval(fused).metrics["top1_per_instance"]             # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from signssl.errors import ConfigError, DataError
from signssl.eval.results import EvalResult, make_result
from signssl.utils import atomic_savez

NORMALIZATIONS = ("softmax", "none")


def _str_array(values: Sequence[str] | np.ndarray | None, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(n, "", dtype=str)
    out = np.asarray([str(v) for v in values], dtype=str)
    if out.shape != (n,):
        raise DataError(f"{name} must have {n} entries (one per row of scores), got {out.shape}")
    return out


@dataclass
class ClassScores:
    """Class scores of N clips over L classes (module docstring).

    Attributes:
        scores: ``(N, L)`` float32, higher = more likely (``-inf`` allowed).
        classes: ``(L,)`` distinct class names.
        paths / labels: ``(N,)`` str; ``""`` = unknown.
    """

    scores: np.ndarray
    classes: np.ndarray
    paths: np.ndarray | None = None
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.scores = np.asarray(self.scores, dtype=np.float32)
        if self.scores.ndim != 2:
            raise DataError(f"scores must be (N, L), got shape {self.scores.shape}")
        n, num_classes = self.scores.shape
        self.classes = _str_array(self.classes, num_classes, "classes")
        if len(set(self.classes.tolist())) != num_classes:
            raise DataError("class names repeat; each score column needs its own class")
        self.paths = _str_array(self.paths, n, "paths")
        self.labels = _str_array(self.labels, n, "labels")

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def from_result(cls, result: EvalResult) -> ClassScores:
        """The scores of an evaluation run (e.g. ``finetune_eval``)."""
        return cls(result.scores, result.classes, result.paths, result.labels)

    def save(self, path: str | Path) -> Path:
        """Write ``.npz`` atomically."""
        return atomic_savez(
            path, scores=self.scores, classes=self.classes, paths=self.paths, labels=self.labels
        )

    @classmethod
    def load(cls, path: str | Path) -> ClassScores:
        """Read a scores ``.npz`` (``scores`` and ``classes`` required)."""
        p = Path(path)
        if not p.is_file():
            raise DataError("scores file does not exist", p)
        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read as a scores .npz: {e}", p) from None
        missing = [k for k in ("scores", "classes") if k not in arrays]
        if missing:
            raise DataError(
                f"npz lacks {missing} (arrays: {sorted(arrays)}); a scores file holds scores "
                "(N, L), classes (L,) and optionally paths, labels (N,)",
                p,
            )
        try:
            return cls(
                arrays["scores"], arrays["classes"], arrays.get("paths"), arrays.get("labels")
            )
        except DataError as e:
            raise DataError(str(e), p) from None


def _normalize(scores: np.ndarray, how: str) -> np.ndarray:
    """Row-wise softmax (``-inf`` -> 0) or identity, float64."""
    s = scores.astype(np.float64)
    if how == "none":
        return s
    top = np.max(s, axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(s - top)  # (N, L)
    return e / np.maximum(e.sum(axis=1, keepdims=True), 1e-300)


def fuse_scores(
    scores_a: np.ndarray, scores_b: np.ndarray, weight: float = 1.0, normalize: str = "softmax"
) -> np.ndarray:
    """``norm(scores_a) + weight · norm(scores_b)``: two ``(N, L)`` -> ``(N, L)`` float32.

    The rows and columns must already correspond (see :func:`align_scores`).
    """
    if normalize not in NORMALIZATIONS:
        raise ConfigError(f"normalize must be one of {list(NORMALIZATIONS)}, got {normalize!r}")
    a, b = np.asarray(scores_a), np.asarray(scores_b)
    if a.ndim != 2 or a.shape != b.shape:
        raise DataError(
            f"scores to fuse must have one (N, L) shape, got {a.shape} and {b.shape}; align "
            "them first (same clips, same classes)"
        )
    if not np.isfinite(weight) or weight < 0:
        raise ConfigError(f"fusion weight must be a finite number >= 0, got {weight}")
    return (_normalize(a, normalize) + weight * _normalize(b, normalize)).astype(np.float32)


def align_scores(a: ClassScores, b: ClassScores) -> ClassScores:
    """``b`` with its columns in ``a``'s class order and, when both name every clip with
    distinct paths, its rows in ``a``'s clip order.

    Raises:
        DataError: different class sets, or clips of ``a`` missing from ``b``, or a
            different number of unnamed clips.
    """
    ca, cb = set(a.classes.tolist()), set(b.classes.tolist())
    if ca != cb:
        raise DataError(
            f"the two score files have different classes: only in the first "
            f"{sorted(ca - cb)[:5]}, only in the second {sorted(cb - ca)[:5]}; score both "
            "models over one class list"
        )
    col = {c: i for i, c in enumerate(b.classes.tolist())}
    cols = np.array([col[c] for c in a.classes.tolist()], dtype=np.int64)
    named = all(
        len(set(s.paths.tolist())) == len(s) and "" not in set(s.paths.tolist()) for s in (a, b)
    )
    if named:
        row = {p: i for i, p in enumerate(b.paths.tolist())}
        absent = [p for p in a.paths.tolist() if p not in row]
        if absent:
            raise DataError(
                f"{len(absent)} clips of the first file are not in the second (e.g. {absent[0]}); "
                "score the same test clips with both models"
            )
        rows = np.array([row[p] for p in a.paths.tolist()], dtype=np.int64)
    else:
        if len(a) != len(b):
            raise DataError(
                f"{len(a)} and {len(b)} clips, without paths to match them; write paths into "
                "both score files or score the same clips in the same order"
            )
        rows = np.arange(len(b))
    return ClassScores(b.scores[rows][:, cols], a.classes, b.paths[rows], b.labels[rows])


def fuse(
    a: ClassScores, b: ClassScores, weight: float = 1.0, normalize: str = "softmax"
) -> ClassScores:
    """Align ``b`` to ``a`` and fuse; labels and paths are ``a``'s (or ``b``'s where
    ``a`` has none)."""
    b = align_scores(a, b)
    labels = np.where(a.labels != "", a.labels, b.labels)
    paths = np.where(a.paths != "", a.paths, b.paths)
    return ClassScores(fuse_scores(a.scores, b.scores, weight, normalize), a.classes, paths, labels)


def fuse_score_files(
    path_a: str | Path, path_b: str | Path, weight: float = 1.0, normalize: str = "softmax"
) -> ClassScores:
    """:func:`fuse` of two scores ``.npz`` files."""
    return fuse(ClassScores.load(path_a), ClassScores.load(path_b), weight, normalize)


def fusion_eval(fused: ClassScores) -> EvalResult:
    """Metrics of fused scores (top-k per instance / per class), protocol ``"fusion"``;
    clips without a label are not scored."""
    keep = fused.labels != ""
    if not keep.any():
        raise DataError("no fused clip has a label; write labels into a scores file")
    return make_result(
        "fusion", fused.scores[keep], fused.classes.tolist(), fused.labels[keep], fused.paths[keep]
    )
