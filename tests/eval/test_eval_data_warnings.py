"""What evaluation says about its data: unlabeled rows left out, signers shared between
the dictionary and the queries, and the k of k-NN chosen from the class sizes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from eval_toys import run_cli, synthetic_sequence

from signssl.data import Manifest, ManifestRow
from signssl.eval.features import Features
from signssl.eval.knn import choose_k, knn_eval
from signssl.eval.pipeline import signer_warnings, unlabeled_counts
from signssl.io import write_pose


def _write(root: Path, rows: list[tuple[int, str | None, str | None, str | None]]) -> Path:
    """One synthetic clip per ``(class id, label, signer, split)``; returns the CSV."""
    rng = np.random.default_rng(0)
    out = []
    for i, (c, label, signer, split) in enumerate(rows):
        path = write_pose(synthetic_sequence(c, rng, frames=8), root / f"{i}.npz")
        out.append(ManifestRow(str(path), label, signer, split))
    return Manifest(out).write(root / "manifest.csv").source  # type: ignore[return-value]


def _feats(labels: list[str], signers: list[str]) -> Features:
    n = len(labels)
    return Features(np.eye(n, 4, dtype=np.float32) + 0.1, labels, [f"p{i}" for i in range(n)],
                    signers)


# ----------------------------------------------------------------------------- library

def test_unlabeled_counts_and_signer_warnings_by_hand() -> None:
    train = _feats(["a", "a", "", "b"], ["s1", "s2", "s1", "s3"])
    test = _feats(["a", "b", "", "b"], ["s1", "s9", "s1", "s3"])
    assert unlabeled_counts(train, test) == {"train": 1, "test": 1}
    (w,) = signer_warnings(train, test)
    # labelled test rows by s1 and s3 (both in train); the unlabeled s1 row is no query
    assert w.startswith("2 of 3 test rows are by signers who also sign training") and "s1, s3" in w
    assert signer_warnings(train, _feats(["a", "b"], ["s8", "s9"])) == []
    assert signer_warnings(train, _feats(["a", "b"], ["", ""])) == []  # unknown: no claim
    # leave-one-out within one set: s1 signs two labelled rows? no: one labelled, one not
    assert signer_warnings(train, None) == []
    (loo,) = signer_warnings(_feats(["a", "a", "b"], ["s1", "s1", "s2"]), None)
    assert loo.startswith("2 of 3 labelled rows share their signer")


@pytest.mark.parametrize(("sizes", "loo", "k"), [((4, 9), True, 3), ((4, 9), False, 4),
                                                  ((30, 40), True, 20), ((1, 5), True, 1)])
def test_choose_k_from_the_smallest_class(sizes, loo, k) -> None:
    labels = np.array([c for c, n in zip("ab", sizes, strict=True) for _ in range(n)] + [""] * 7)
    got, why = choose_k(labels, loo)
    assert got == k and f"k = {k}" in why and f"has {min(sizes)} clip(s)" in why


def test_default_k_beats_k20_on_few_shot_data() -> None:
    """5 clips per class, each class a tight cluster plus one clip of class 'a' lying in
    the middle of class 'b': k = 20 outvotes the near neighbours with far ones."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(8, 16))
    x = np.concatenate([c + 0.3 * rng.normal(size=(5, 16)) for c in centres]).astype(np.float32)
    labels = np.repeat([f"c{i}" for i in range(8)], 5)
    f = Features(x, labels, [f"p{i}" for i in range(40)], [""] * 40)
    auto, k20 = knn_eval(f), knn_eval(f, k=20)
    assert auto.metrics["k"] == 4  # 5 per class, minus the query
    assert auto.metrics["top1_per_instance"] >= k20.metrics["top1_per_instance"]


# ----------------------------------------------------------------------------- CLI

def test_evaluate_counts_unlabeled_rows_and_warns_about_shared_signers(tmp_path, capsys,
                                                                       prose) -> None:
    rows = []
    for c in range(3):
        for i in range(6):
            label = f"g{c}" if i % 2 == 0 else None  # half of the rows unlabeled
            rows.append((c, label, f"s{i % 2}", "test" if i >= 4 else "train"))
    csv_path = _write(tmp_path / "set", rows)
    out = tmp_path / "report"
    code, stdout, err = run_cli(capsys, "evaluate", "knn", "--baseline", "raw-keypoints", "--data",
                                csv_path, "--out", out, "--no-plots")
    assert code == 0, err
    text = prose(stdout)
    # train: rows 0-3 of each class, 2 unlabeled; test: rows 4-5, 1 unlabeled
    assert "9 rows without a label skipped (train 6, test 3)" in text
    assert "3 of 3 test rows are by signers who also sign training / dictionary rows" in text
    assert "k-NN: k = 2: smallest training class has 2 clip(s); at most 20" in text
    m = json.loads((out / "metrics.json").read_text())
    assert m["unlabeled_rows_skipped"] == {"train": 6, "test": 3}
    assert any("without a label" in w for w in m["warnings"])
    assert any("not signer-independent" in w for w in m["warnings"])
    assert m["k"] == 2 and m["config"]["k"] == "auto"
    assert "rows without a label skipped" in prose((out / "report.md").read_text())


def test_evaluate_with_disjoint_signers_and_labels_warns_nothing(tmp_path, capsys) -> None:
    rows = [(c, f"g{c}", f"s{i}", "test" if i == 3 else "train") for c in range(3) for i in range(4)]
    csv_path = _write(tmp_path / "set", rows)
    code, stdout, err = run_cli(capsys, "evaluate", "knn", "--k", "2", "--baseline",
                                "raw-keypoints", "--data", csv_path, "--out", tmp_path / "r",
                                "--no-plots")
    assert code == 0, err
    assert "warning" not in stdout and "k-NN: k =" not in stdout  # --k given: no choice shown
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["warnings"] == [] and m["k"] == 2
