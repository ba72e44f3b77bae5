"""benchmarks/activity_check.py: a run's window activity against the generator's signing range."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from eval_toys import export_video_run
from script_loader import load_script

from signssl.data import Manifest
from signssl.eval.windows import window_starts
from signssl.models.activity_head import ActivityHead, save_activity_head
from signssl.models.sign_decoder import SignDecoder
from signssl.store.model import load_model
from signssl.synth import generate_dataset

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "activity_check.py"


@pytest.fixture(scope="module")
def check() -> ModuleType:
    return load_script(SCRIPT)


def test_signing_share_counts_the_frames_inside_the_sign(check: ModuleType) -> None:
    starts = np.array([0, 2, 4, 6])
    want = [sum(3 <= s + k < 7 for k in range(4)) / 4 for s in starts]  # naive loop
    assert check.signing_share(starts, 4, 3, 7).tolist() == want == [0.25, 0.75, 0.75, 0.25]


def test_auc_is_the_share_of_ordered_pairs(check: ModuleType) -> None:
    assert check.auc(np.array([0.9, 0.8, 0.1]), np.array([True, True, False])) == 1.0
    assert check.auc(np.array([0.1, 0.9]), np.array([True, False])) == 0.0
    assert check.auc(np.array([0.5, 0.5]), np.array([True, False])) == 0.5
    assert np.isnan(check.auc(np.array([0.5, 0.6]), np.array([True, True])))
    rng = np.random.default_rng(0)
    scores, positive = rng.integers(0, 5, 40).astype(float), rng.random(40) < 0.4
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0
             for p in scores[positive] for n in scores[~positive]]  # fmt: skip
    assert check.auc(scores, positive) == pytest.approx(np.mean(pairs))


def test_scores_every_window_of_the_split(check: ModuleType, tmp_path: Path, monkeypatch,
                                          capsys) -> None:  # fmt: skip
    manifest = generate_dataset(tmp_path / "data", classes=2, signers=4, reps=1, frames=16,
                                video=True, size=32, progress=False)  # fmt: skip
    run = tmp_path / "run"
    model_dir = export_video_run(run)
    enc = load_model(run)
    dec = SignDecoder(in_dim=enc.out_dim, latent_dim=12, hidden=8, up_dim=6, num_frames=4,
                      prior_dims={"hand_keypoints": 5}, activity_hidden=7)  # fmt: skip
    save_activity_head(ActivityHead.from_decoder(dec), model_dir)
    test_rows = Manifest.read(manifest).filter(split="test")
    monkeypatch.setattr(sys, "argv", ["activity_check", "--run", str(run), "--data",
                                      str(manifest), "--videos", "50"])  # fmt: skip
    check.main()
    out = capsys.readouterr().out
    windows = len(test_rows) * len(window_starts(16, 4, 2))  # hiera_test reads 4 frames
    assert f"{len(test_rows)} videos, {windows} windows of 4 frames" in out
    lo, hi = (float(v) for v in re.search(r"min ([0-9.]+), max ([0-9.]+)", out).groups())
    assert 0.0 <= lo <= hi <= 1.0
    assert re.search(r"AUC signing vs rest: (nan|[01]\.[0-9]{3})", out)
