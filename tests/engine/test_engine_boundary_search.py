"""Boundary-importance search (SSL-SLR Algorithm 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from engine_toys import write_pose_manifest

from signssl.errors import ConfigError
from signssl.studies.boundary_search import (
    BoundaryPoint,
    SeedRun,
    boundary_kwargs,
    boundary_search,
    candidate_bs,
    last_before_drop,
    search_side,
)


def test_candidates_and_stopping_rule() -> None:
    assert candidate_bs(4, 16) == [4, 8, 12, 16]
    assert candidate_bs(5, 16) == [5, 10, 15]
    with pytest.raises(ConfigError, match="smaller than the step"):
        candidate_bs(8, 4)
    with pytest.raises(ConfigError, match="--step must be >= 1"):
        candidate_bs(0, 4)
    assert last_before_drop([0.2, 0.3, 0.25]) == 1
    assert last_before_drop([0.2, 0.3, 0.3]) == 1  # "stops increasing": a tie stops too
    assert last_before_drop([0.5, 0.4]) == 0
    assert last_before_drop([0.1, 0.2, 0.3]) == 2  # never drops: the largest b tried
    assert last_before_drop([0.7]) == 0


def test_search_side_stops_at_the_first_drop() -> None:
    curve = {4: 0.30, 8: 0.42, 12: 0.47, 16: 0.40, 20: 0.90}  # a later rise is never seen
    calls: list[int] = []

    def evaluate(side: str, b: int) -> BoundaryPoint:
        calls.append(b)
        return BoundaryPoint(b=b, accuracy=curve[b])

    chosen, points = search_side("start", [4, 8, 12, 16, 20], evaluate)
    assert chosen == 12
    assert calls == [4, 8, 12, 16]
    assert [p.accuracy for p in points] == [0.30, 0.42, 0.47, 0.40]


@pytest.mark.parametrize(("side", "b"), [("start", 4), ("end", 5), ("start", 7)])
def test_boundary_kwargs_permute_exactly_b_frames_of_a_reference_clip(side: str, b: int) -> None:
    """With the real SL-FPN views: a clip of ``reference`` frames keeps every frame
    outside the first (or last) ``b`` in place, and those ``b`` frames are permuted."""
    from signssl.methods import create_method, method_options
    from signssl.models import create_model

    T = 12
    absolute = "b_s_frames" in method_options("sl_fpn")
    kwargs = boundary_kwargs(side, b, reference_frames=T, absolute=absolute)
    enc = create_model("pose_transformer_test", max_frames=T)
    method = create_method("sl_fpn", enc, spatial_aug=False, **kwargs)
    x = torch.arange(T, dtype=torch.float32)[None, :, None, None].expand(6, T, 49, 2).clone() + 1
    batch = {"x": x, "conf": torch.ones(6, T, 49), "frame_mask": torch.zeros(6, T, dtype=torch.bool)}
    view = method.augment(batch)["x"][:, :, 0, 0] - 1  # (B, T) source frame of each position
    moved = range(b) if side == "start" else range(T - b, T)
    kept = [t for t in range(T) if t not in moved]
    assert torch.equal(view[:, kept], torch.tensor(kept, dtype=torch.float32).expand(6, -1))
    for row in view:
        assert sorted(row[list(moved)].tolist()) == list(map(float, moved))
    assert (view[:, list(moved)] != torch.tensor(list(moved), dtype=torch.float32)).any()


def test_point_mean_and_interval_over_seeds() -> None:
    """Hand-computed: two seeds 0.5, 0.7 -> mean 0.6, half-width t(0.975, 1)·s/sqrt(2)
    with s = 0.1·sqrt(2), i.e. 12.7062 x 0.1; one seed has no interval."""
    runs = [SeedRun(seed=s, accuracy=a, run_dir=f"r{s}") for s, a in ((0, 0.5), (1, 0.7))]
    point = BoundaryPoint.from_runs(4, runs)
    assert point.accuracy == pytest.approx(0.6)
    assert point.ci95 == pytest.approx(1.270620, rel=1e-5)
    assert point.label() == "0.6000 ± 1.2706"
    assert point.to_dict()["values"] == [0.5, 0.7] and point.to_dict()["seeds"] == [0, 1]
    single = BoundaryPoint.from_runs(4, runs[:1])
    assert single.accuracy == 0.5 and single.ci95 != single.ci95 and single.label() == "0.5000"
    with pytest.raises(ConfigError, match="--seeds must be >= 1"):
        boundary_search(None, "unused.csv", "unused", seeds=0)


def test_boundary_search_cli_seeds_and_reference(tmp_path: Path, prose) -> None:
    """One candidate per side (b = 3 of 12 frames), two seeds each, one epoch, and the
    no-permutation reference with the same seeds; rerunning reuses every finished run."""
    from typer.testing import CliRunner

    from signssl.cli.main import app

    manifest = write_pose_manifest(tmp_path / "data", classes=3, signers=3, reps=2, frames=12)
    out = tmp_path / "search"
    args = ["boundary-search", "--data", str(manifest), "--out", str(out), "--step", "3",
            "--max-b", "3", "--frames", "12", "--max-epochs", "1", "--set", "data.batch_size=8",
            "--set", "trainer.seed=5", "--seeds", "2", "--no-progress"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "boundary_search.json").read_text())
    assert saved["reference_frames"] == 12 and saved["step"] == 3 and saved["seeds"] == [5, 6]
    points = {"start": saved["start"][0], "end": saved["end"][0], "reference": saved["reference"]}
    assert [p["b"] for p in points.values()] == [3, 3, 0]
    assert saved["b_s"] == saved["b_e"] == 3
    for side, point in points.items():
        runs = {r["seed"]: r for r in point["runs"]}
        assert sorted(runs) == [5, 6] and point["seeds"] == [5, 6]
        stem = "reference" if side == "reference" else f"{side}_b003"
        for seed, run in runs.items():  # one atomic result file per candidate and seed
            assert Path(run["run_dir"]) == out / f"{stem}_s{seed}"
            assert json.loads((out / f"{stem}_s{seed}" / "result.json").read_text()) == run
        values = [runs[5]["accuracy"], runs[6]["accuracy"]]
        assert point["values"] == values and all(0.0 <= v <= 1.0 for v in values)
        assert point["accuracy"] == pytest.approx(sum(values) / 2)
        assert point["ci95"] == pytest.approx(12.706205 * abs(values[0] - values[1]) / 2, abs=1e-6)
        assert point["metrics"]["linear/top1_per_instance"]["values"] == values
    # the seed reached the runs: the two seeds' runs were trained differently
    configs = {(out / f"start_b003_s{s}" / "config.yaml").read_text() for s in (5, 6)}
    assert len(configs) == 2
    ref_cfg = (out / "reference_s5" / "config.yaml").read_text()
    assert "boundary_permutation: false" in ref_cfg
    text = prose(result.output)
    assert "mean ± 95 % t-interval over 2 seeds" in text
    ref = saved["reference"]
    assert f"0 (reference: no permutation) │ {ref['accuracy']:.4f} ± {ref['ci95']:.4f}" in text
    assert f"b_s = {saved['b_s']}" in text
    assert (out / "boundary_search.png").stat().st_size > 1000
    # resumable: a rerun trains nothing new and gives the same answer
    stamp = {p: p.stat().st_mtime for p in out.glob("*/model/model.safetensors")}
    assert len(stamp) == 6
    again = CliRunner().invoke(app, args, catch_exceptions=False)
    assert again.exit_code == 0
    assert {p: p.stat().st_mtime for p in out.glob("*/model/model.safetensors")} == stamp
    assert json.loads((out / "boundary_search.json").read_text())["reference"] == ref
