"""Boundary-importance search (SSL-SLR Algorithm 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from engine_toys import write_pose_manifest

from signssl.errors import ConfigError
from signssl.eval.boundary_search import (
    BoundaryPoint,
    boundary_kwargs,
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
        return BoundaryPoint(b=b, accuracy=curve[b], run_dir=f"{side}_{b}")

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


def test_boundary_search_cli_end_to_end(tmp_path: Path) -> None:
    """Two candidates per side, one epoch each; rerunning reuses the finished points."""
    from typer.testing import CliRunner

    from signssl.cli.main import app

    manifest = write_pose_manifest(tmp_path / "data", classes=3, signers=3, reps=2, frames=12)
    out = tmp_path / "search"
    args = ["boundary-search", "--data", str(manifest), "--out", str(out), "--step", "3",
            "--max-b", "6", "--frames", "12", "--max-epochs", "1", "--set", "data.batch_size=8",
            "--no-progress"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "boundary_search.json").read_text())
    assert saved["reference_frames"] == 12 and saved["step"] == 3
    for side, key in (("start", "b_s"), ("end", "b_e")):
        accs = [p["accuracy"] for p in saved[side]]
        assert [p["b"] for p in saved[side]] == [3, 6][: len(accs)]
        assert saved[key] == saved[side][last_before_drop(accs)]["b"]
        assert all(0.0 <= a <= 1.0 for a in accs)
    assert (out / "boundary_search.png").stat().st_size > 1000
    assert f"b_s = {saved['b_s']}" in result.output
    # resumable: a rerun trains nothing new and gives the same answer
    stamp = {p: p.stat().st_mtime for p in out.glob("*/model/model.safetensors")}
    again = CliRunner().invoke(app, args, catch_exceptions=False)
    assert again.exit_code == 0
    assert {p: p.stat().st_mtime for p in out.glob("*/model/model.safetensors")} == stamp
    assert json.loads((out / "boundary_search.json").read_text())["b_s"] == saved["b_s"]
