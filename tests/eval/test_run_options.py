"""The settings of an evaluation run (:mod:`signssl.eval.run_options`) and the
``signssl evaluate PROTOCOL`` commands built on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from eval_toys import run_cli, synthetic_sequence

from signssl.data import Manifest, ManifestRow
from signssl.errors import ConfigError
from signssl.eval.pipeline import EncoderSpec, run_evaluation
from signssl.eval.run_options import (
    Embedding,
    EvalData,
    EvalOutput,
    Finetune,
    Knn,
    LinearProbe,
    Retrieval,
)
from signssl.io import write_pose


def _write_set(root: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for c, lab in enumerate(["g_0", "g_1", "g_2"]):
        for i in range(6):
            path = write_pose(synthetic_sequence(c, rng, frames=6 + i), root / lab / f"{i}.npz")
            rows.append(ManifestRow(str(path), label=lab, split="test" if i % 3 == 0 else "train"))
    Manifest(rows).write(root / "manifest.csv")
    return root / "manifest.csv"


def test_each_protocol_names_itself_and_records_its_own_settings() -> None:
    assert [p.protocol for p in (Retrieval(), Knn(), LinearProbe(), Finetune())] == [
        "retrieval", "knn", "linear", "finetune"]
    assert Retrieval("mean").kwargs() == {"aggregate": "mean"}
    assert Knn(3).kwargs() == {"k": 3, "temperature": 0.07}
    assert LinearProbe().kwargs() == {"backend": "sklearn"}
    # settings left None take finetune_eval's defaults and are not recorded
    assert Finetune(epochs=2).kwargs() == {
        "epochs": 2, "lr": 1e-3, "optimizer": "adamw", "schedule": "cosine",
        "label_smoothing": 0.1, "batch_size": 64, "train_crop": "uniform"}
    assert Finetune(max_frames=32, weight_decay=0.0).kwargs()["max_frames"] == 32
    with pytest.raises(AttributeError):
        Knn().k = 5  # type: ignore[misc]


def test_the_library_and_the_command_write_the_same_metrics(tmp_path, capsys) -> None:
    data = _write_set(tmp_path / "set")
    spec = EncoderSpec(baseline="raw-hand-keypoints")
    lib = run_evaluation(Knn(k=3), spec, EvalData(data, seeds=2),
                         EvalOutput(tmp_path / "lib", plots=False, progress=False), Embedding(8))
    code, _, err = run_cli(capsys, "evaluate", "knn", "--baseline", "raw-hand-keypoints", "--k", "3",
                           "--seeds", "2", "--batch-size", "8", "--data", data,
                           "--out", tmp_path / "cli", "--no-plots")
    assert code == 0, err
    got = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert got["protocol"] == "knn" and got["k"] == 3
    assert got["top1_per_instance"] == pytest.approx(lib.runs.summary["top1_per_instance"]["mean"])


@pytest.mark.parametrize("protocol, option, value", [
    ("retrieval", "--k", "3"),
    ("retrieval", "--epochs", "2"),
    ("knn", "--aggregate", "mean"),
    ("linear", "--temperature", "0.1"),
    ("finetune", "--pooling", "avg"),
    ("finetune", "--backend", "torch"),
])
def test_a_protocol_shows_and_takes_only_its_own_options(tmp_path, capsys, protocol, option,
                                                         value) -> None:
    data = _write_set(tmp_path / "set")
    code, _, err = run_cli(capsys, "evaluate", protocol, "--baseline", "raw-keypoints",
                           "--data", data, "--out", tmp_path / "o", option, value)
    assert code == 2 and "No such option" in err and option in err
    assert not (tmp_path / "o").exists()


def test_the_library_refuses_what_a_protocol_cannot_take(tmp_path) -> None:
    data = EvalData(_write_set(tmp_path / "set"))
    out = EvalOutput(tmp_path / "o", plots=False, progress=False)
    spec = EncoderSpec(baseline="raw-keypoints")
    with pytest.raises(ConfigError, match="does not apply to fine-tuning"):
        run_evaluation(Finetune(epochs=1), spec, data, out, Embedding(pooling="avg"))
    with pytest.raises(ConfigError, match="unknown protocol"):
        run_evaluation("knn", spec, data, out)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="--seeds must be >= 1"):
        run_evaluation(Knn(), spec, EvalData(data.data, seeds=0), out)
