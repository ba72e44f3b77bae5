"""DTW 1-NN retrieval: distances against a naive loop, warping invariants, the protocol,
the CLI and the study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from eval_toys import MASA, run_cli, synthetic_sequence

from signssl.data import Manifest, ManifestRow
from signssl.errors import ConfigError
from signssl.eval.dtw import (
    ClipSequences,
    band_radius,
    clip_sequences,
    dtw_distance_matrix,
    dtw_retrieval_eval,
)
from signssl.io import write_pose
from signssl.models.baselines import get_baseline, list_baselines
from signssl.pose import PoseSequence

CLASSES = ["g_0", "g_1", "g_2", "g_3"]


def naive_dtw(a: np.ndarray, b: np.ndarray, band: float | None = None) -> float:
    """The recurrence of the module docstring, one cell at a time."""
    n, m = len(a), len(b)
    r = band_radius(n, m, band)
    d = np.full((n, m), np.inf)
    for i in range(n):
        for j in range(m):
            if r is not None and abs(i - j) > r:
                continue
            c = float(np.linalg.norm(a[i] - b[j]))
            if i == j == 0:
                d[i, j] = 2 * c
                continue
            best = min(d[i - 1, j] + c if i else np.inf, d[i, j - 1] + c if j else np.inf,
                       d[i - 1, j - 1] + 2 * c if i and j else np.inf)
            d[i, j] = best
    return d[-1, -1] / (n + m)


@pytest.mark.parametrize("band", [None, 0.0, 0.15, 0.5])
def test_distance_matrix_equals_the_naive_loop(band: float | None) -> None:
    rng = np.random.default_rng(0)
    queries = [rng.normal(size=(int(rng.integers(1, 10)), 4)) for _ in range(7)]
    entries = [rng.normal(size=(int(rng.integers(1, 10)), 4)) for _ in range(6)]
    ref = np.array([[naive_dtw(q, e, band) for e in entries] for q in queries])
    np.testing.assert_allclose(dtw_distance_matrix(queries, entries, band, progress=False), ref,
                               rtol=1e-12, atol=1e-12)
    f32 = dtw_distance_matrix([q.astype(np.float32) for q in queries],
                              [e.astype(np.float32) for e in entries], band, progress=False)
    np.testing.assert_allclose(f32, ref, rtol=1e-5, atol=1e-5)


def test_identical_and_time_warped_sequences() -> None:
    rng = np.random.default_rng(1)
    a = np.cumsum(rng.normal(size=(12, 5)), axis=0)  # a smooth-ish trajectory
    warped = np.repeat(a, rng.integers(1, 4, size=12), axis=0)  # frames held for 1-3 frames
    other = np.cumsum(rng.normal(size=(12, 5)), axis=0)
    d = dtw_distance_matrix([a], [a, warped, other], progress=False)[0]
    assert d[0] == pytest.approx(0.0, abs=1e-6)  # |a|^2 + |b|^2 - 2 a.b rounds
    assert d[1] == pytest.approx(0.0, abs=1e-6)  # repeating frames costs nothing
    assert d[2] > 0.5
    # a shifted copy is a constant cost c per frame: the normalised distance is c
    shift = np.zeros(5)
    shift[0] = 0.7
    assert dtw_distance_matrix([a], [a + shift], progress=False)[0, 0] == pytest.approx(0.7)


def test_zero_band_is_the_diagonal_and_bands_only_raise_the_distance() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(9, 3)), rng.normal(size=(9, 3))
    diagonal = np.linalg.norm(a - b, axis=1).mean()  # 2 c(i, i) per step over 2T
    d0, d_half, free = (dtw_distance_matrix([a], [b], band, progress=False)[0, 0]
                        for band in (0.0, 0.3, None))
    assert d0 == pytest.approx(diagonal)
    assert d0 >= d_half >= free
    assert band_radius(10, 6, 0.0) == 4  # the band always holds a path between the ends
    with pytest.raises(ConfigError, match="band"):
        dtw_distance_matrix([a], [b], band=-0.1, progress=False)


def _clip(label: int, rng: np.random.Generator, frames: int) -> PoseSequence:
    """A masa49 clip whose right hand rotates at a class-specific speed (a hand-shape
    change over time), signed at a random pace."""
    seq = synthetic_sequence(label, rng, frames=frames)
    template = np.random.default_rng(123).normal(0, 0.1, size=(21, 2))
    template[0] = 0.0  # the wrist
    t = np.sort(rng.uniform(0, 1, size=frames))  # random pace, in order
    angle = (label + 1) * 1.5 * t
    rot = np.stack([np.stack([np.cos(angle), -np.sin(angle)], -1),
                    np.stack([np.sin(angle), np.cos(angle)], -1)], -2)  # (T, 2, 2)
    sl = MASA.part_slice("right_hand")
    wrist = seq.xyz[:, sl.start][:, None]  # (T, 1, 2)
    seq.xyz[:, sl] = wrist + np.einsum("tab,jb->tja", rot, template)  # (T, 21, 2)
    return seq


def _write_set(root: Path, per_class: int = 4) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for c, lab in enumerate(CLASSES):
        for i in range(per_class):
            path = write_pose(_clip(c, rng, int(rng.integers(10, 20))), root / lab / f"{i}.npz")
            rows.append(ManifestRow(str(path), label=lab, split="test" if i == 0 else "train"))
    Manifest(rows).write(root / "manifest.csv")
    return root / "manifest.csv"


def test_retrieval_on_synthetic_clips_beats_chance(tmp_path: Path) -> None:
    from signssl.data import PoseDataset

    manifest = Manifest.read(_write_set(tmp_path))
    train = PoseDataset(manifest, split="train")
    test = PoseDataset(manifest, split="test", classes=train.classes)
    res = dtw_retrieval_eval(train, test)
    assert res.metrics["n_queries"] == 4 and res.metrics["n_dictionary"] == 12
    assert res.metrics["top1_per_instance"] > 0.5  # chance is 0.25
    assert {"dcg", "mrr", "recall@1", "top5_per_instance"} <= set(res.metrics)
    # the label score is minus the nearest entry's distance, whose index is kept
    nearest = res.neighbors[:, 0]
    np.testing.assert_allclose(res.scores.max(1), res.neighbor_scores[:, 0], rtol=1e-6)
    assert [res.reference_labels[k] for k in nearest] == [res.classes[k] for k in res.predictions]
    # leave-one-out over the dictionary never retrieves the query itself
    loo = dtw_retrieval_eval(clip_sequences(train))
    assert loo.metrics["leave_one_out"] == 1
    assert (loo.neighbors[:, 0] != np.arange(12)).all()


def test_features_are_standardised_with_the_dictionary_frames() -> None:
    seqs = [np.array([[0.0, 5.0], [2.0, 5.0]]), np.array([[4.0, 5.0]])]
    clips = ClipSequences(seqs, np.array(["a", "b"]), np.array(["p", "q"]), np.array(["", ""]))
    mean, std = clips.frame_stats()
    np.testing.assert_allclose(mean, [2.0, 5.0])
    np.testing.assert_allclose(std, [np.sqrt(8 / 3), 1.0])  # a constant feature keeps std 1


def test_cli_evaluate_retrieval_dtw_writes_metrics(tmp_path, capsys) -> None:
    data = _write_set(tmp_path / "set")
    out = tmp_path / "eval"
    code, stdout, err = run_cli(capsys, "evaluate", "retrieval", "--baseline", "dtw",
                                "--data", str(data), "--out", str(out), "--no-plots")
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["encoder"] == "dtw" and m["n_queries"] == 4 and m["n_dictionary"] == 12
    assert m["top1_per_instance"] > 0.5
    assert "minus the DTW distance" in (out / "report.md").read_text()
    assert "metrics.json" in stdout


@pytest.mark.parametrize("argv", [
    ["embed", "-o", "f.npz"],
    ["evaluate", "knn", "--out", "o"],
])
def test_dtw_has_no_embedding(tmp_path, capsys, prose, argv) -> None:
    data = _write_set(tmp_path / "set", per_class=2)
    code, _, err = run_cli(capsys, *argv, "--baseline", "dtw", "--data", str(data))
    assert code == 2 and "Traceback" not in err
    assert "has no embedding" in prose(err)
    assert "signssl evaluate retrieval --baseline dtw" in prose(err)


def test_dtw_is_listed_but_is_not_an_encoder() -> None:
    assert "dtw" in list_baselines()
    with pytest.raises(ConfigError, match="evaluate retrieval --baseline dtw"):
        get_baseline("dtw")


def test_study_dtw_variant_reports_retrieval_only(tmp_path: Path, monkeypatch) -> None:
    from signssl.studies import study_report
    from signssl.studies.study import run_study
    from signssl.studies.study_report import format_table
    from signssl.studies.study_spec import spec_from_dict

    monkeypatch.setattr(study_report, "plot_metric_summary", lambda names, metrics, seeds, path, **_: (path, "no bars"))

    spec = spec_from_dict({"data": str(_write_set(tmp_path / "set")), "seeds": [0],
                           "variants": [{"name": "DTW", "baseline": "dtw"}]})
    summary = run_study(spec, tmp_path / "study")
    metrics = summary["rows"][0]["metrics"]
    assert metrics["retrieval/top1_per_instance"]["mean"] > 0.5
    assert "linear/top1_per_instance" not in metrics
    row = format_table(summary).splitlines()[1].split()
    assert row[-1] == "-"  # linear top-1: not applicable
    assert "| - |" in (tmp_path / "study" / "study.md").read_text()
