"""``signssl study``: spec validation, the summary over seeds, resumability."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from signssl.errors import ConfigError
from signssl.studies.study import run_study
from signssl.studies.study_spec import load_spec, spec_from_dict

TINY = {
    "size": {"classes": 3, "signers": 4, "reps": 1, "frames": 16},
    "epochs": 1,
    "seeds": [0, 1],
    "set": ["data.batch_size=4", "data.max_frames=16", "model.kwargs.max_frames=16"],
}


def test_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="variants"):
        spec_from_dict({"seeds": [0]})
    with pytest.raises(ConfigError, match="unknown keys"):
        spec_from_dict({"variants": [{"name": "a"}], "epoch": 3})
    with pytest.raises(ConfigError, match="unknown keys"):
        spec_from_dict({"variants": [{"name": "a", "methd": "x"}]})
    with pytest.raises(ConfigError, match="must differ"):
        spec_from_dict({"variants": [{"name": "A b"}, {"name": "a-b"}]})
    with pytest.raises(ConfigError, match="not found"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="unknown 'finetune' settings"):
        spec_from_dict({"variants": [{"name": "a"}], "finetune": {"epoch": 3}})
    with pytest.raises(ConfigError, match="finetune-video"):
        spec_from_dict({"variants": [{"name": "a"}], "video": True, "finetune": {}})
    with pytest.raises(ConfigError, match=r"unknown 'size' settings \['signer'\]"):
        spec_from_dict({"variants": [{"name": "a"}], "size": {"signer": 3}})
    with pytest.raises(ConfigError, match="video_size"):
        spec_from_dict({"variants": [{"name": "a"}], "size": {"size": 32}})
    with pytest.raises(ConfigError, match=r"\['config'\]"):
        spec_from_dict({"variants": [{"name": "a"}], "size": {"config": {"zoom": [1, 2]}}})
    with pytest.raises(ConfigError, match="not a pretrained variant"):
        spec_from_dict({"variants": [{"name": "a", "init": "b"}]})
    with pytest.raises(ConfigError, match="not a pretrained variant"):
        spec_from_dict({"variants": [{"name": "r", "baseline": "raw-keypoints"},
                                     {"name": "a", "init": "r"}]})
    with pytest.raises(ConfigError, match="baseline and cannot take 'init'"):
        spec_from_dict({"variants": [{"name": "a"},
                                     {"name": "r", "baseline": "random-init", "init": "a"}]})
    with pytest.raises(ConfigError, match="cycle"):
        spec_from_dict({"variants": [{"name": "a", "init": "b"}, {"name": "b", "init": "a"}]})
    ok = spec_from_dict({"variants": [{"name": "a"}], "size": {"classes": 3, "minimal_pair_rate": 0}})
    assert ok.size["minimal_pair_rate"] == 0


def test_study_summary_and_resume(tmp_path: Path) -> None:
    spec = spec_from_dict({**TINY, "variants": [
        {"name": "SL-FPN", "method": "sl_fpn"},
        {"name": "raw keypoints", "baseline": "raw-keypoints"},
    ]})
    out = tmp_path / "study"
    summary = run_study(spec, out)
    files = sorted((out / "results").glob("*.json"))
    assert [f.name for f in files] == [
        "raw-keypoints__s0.json", "raw-keypoints__s1.json", "sl-fpn__s0.json", "sl-fpn__s1.json",
    ]
    # the summary is the t-interval over the per-seed values
    vals = [json.loads((out / "results" / f"sl-fpn__s{s}.json").read_text())["metrics"]
            ["retrieval/top1_per_instance"] for s in (0, 1)]
    row = summary["rows"][0]["metrics"]["retrieval/top1_per_instance"]
    assert row["values"] == vals
    half = stats.t.ppf(0.975, 1) * np.std(vals, ddof=1) / np.sqrt(2)
    assert row["mean"] == pytest.approx(np.mean(vals)) and row["ci95"] == pytest.approx(half, nan_ok=True)
    rec = json.loads((out / "results" / "sl-fpn__s0.json").read_text())
    assert rec["kind"] == "pretrained" and rec["collapse"] and (Path(rec["run_dir"]) / "model").is_dir()
    assert len(rec["feature_collapse"]) == len(rec["collapse"])  # encoder output, same steps
    assert summary["rows"][0]["final_feature_collapse_ratio"][0] == rec["feature_collapse"][-1][1]
    assert (out / "study.md").read_text().count("| SL-FPN |") == 1 and (out / "collapse.png").is_file()
    # one epoch of the tiny profile is all learning-rate warmup: said once per variant
    assert summary["warnings"] and all(
        w.startswith("SL-FPN: learning-rate warmup is") and "never reaches optim.lr" in w
        for w in summary["warnings"])  # fmt: skip
    assert rec["warnings"] and rec["warnings"][0] in summary["warnings"][0]
    assert "Warnings:\n\n- SL-FPN: learning-rate warmup" in (out / "study.md").read_text()
    # a rerun redoes nothing; a deleted result is redone alone
    stamps = {f.name: f.stat().st_mtime_ns for f in files}
    (out / "results" / "raw-keypoints__s1.json").unlink()
    run_study(spec, out)
    again = {f.name: f.stat().st_mtime_ns for f in sorted((out / "results").glob("*.json"))}
    assert {k for k in again if again[k] != stamps.get(k)} == {"raw-keypoints__s1.json"}


def test_variant_starts_from_another_variants_encoder(tmp_path: Path, monkeypatch) -> None:
    """``init``: the second stage runs after the first (listed first here, to show the
    order is the dependency's, not the spec's) and starts from its exported weights."""
    import signssl.engine.pretrain_pose as pose_module
    from signssl.store.model import load_model

    starts: dict[str, dict] = {}
    build = pose_module.build_encoder

    def spy(cfg):  # the encoder each pretraining run starts from, before any step
        encoder, name, kwargs = build(cfg)
        starts[str(cfg.model.init)] = {k: v.clone() for k, v in encoder.state_dict().items()}
        return encoder, name, kwargs

    monkeypatch.setattr(pose_module, "build_encoder", spy)
    spec = spec_from_dict({**TINY, "seeds": [0], "data_seed": 1, "variants": [
        {"name": "SL-FPN again", "method": "sl_fpn", "init": "SL-FPN"},
        {"name": "SL-FPN", "method": "sl_fpn"},
    ]})
    out = tmp_path / "s"
    run_study(spec, out)
    first = out / "runs" / "sl-fpn__s0"
    assert set(starts) == {"None", str(first)}  # first stage from scratch, second from it
    trained = load_model(first).state_dict()
    assert all(torch.equal(starts[str(first)][k], trained[k]) for k in trained)
    rec = json.loads((out / "results" / "sl-fpn-again__s0.json").read_text())
    assert rec["init"] == "SL-FPN"
    # a second stage whose first stage's run is gone says so instead of training from scratch
    import shutil

    (out / "results" / "sl-fpn-again__s0.json").unlink()
    shutil.rmtree(first)
    with pytest.raises(ConfigError, match="has not finished"):
        run_study(spec, out)


def test_data_seed_shares_one_data_set(tmp_path: Path) -> None:
    spec = spec_from_dict({**TINY, "data_seed": 5, "probe": ["style_background"], "variants": [
        {"name": "raw keypoints", "baseline": "raw-keypoints"},
    ]})
    summary = run_study(spec, tmp_path / "s")
    assert [p.name for p in (tmp_path / "s" / "data").iterdir()] == ["s5"]
    values = summary["rows"][0]["metrics"]["retrieval/top1_per_instance"]["values"]
    assert values[0] == values[1]  # same data, training-free baseline: same score
    # the probe's floor is the majority share of the test clips' style ids
    from collections import Counter

    from signssl.data import Manifest

    m = Manifest.read(tmp_path / "s" / "data" / "s5" / "manifest.csv")
    styles = [r.extra["style_background"] for r in m.rows if r.split == "test"]
    majority = Counter(styles).most_common(1)[0][1] / len(styles)
    row = summary["rows"][0]["metrics"]
    assert row["probe/style_background/majority"]["values"] == [pytest.approx(majority)] * 2
    assert 0.0 <= row["probe/style_background/top1"]["mean"] <= 1.0


def test_finetune_column_for_trainable_encoders(tmp_path: Path) -> None:
    """With ``finetune``, pretrained and random-init (from scratch) rows get fine-tuning
    metrics; a training-free baseline has nothing to fine-tune and gets none."""
    spec = spec_from_dict({**TINY, "seeds": [0], "data_seed": 2,
                           "finetune": {"epochs": 2, "batch_size": 8}, "variants": [
        {"name": "SL-FPN", "method": "sl_fpn"},
        {"name": "random init", "baseline": "random-init", "method": "sl_fpn"},
        {"name": "raw keypoints", "baseline": "raw-keypoints"},
    ]})
    summary = run_study(spec, tmp_path / "s")
    rows = {r["variant"]: r["metrics"] for r in summary["rows"]}
    from signssl.data import Manifest

    n_test = sum(r.split == "test" for r in Manifest.read(tmp_path / "s" / "data" / "s2" / "manifest.csv").rows)
    for name in ("SL-FPN", "random init"):
        assert rows[name]["finetune/n_test"]["values"] == [n_test]
        assert 0.0 <= rows[name]["finetune/top1_per_instance"]["mean"] <= 1.0
    assert not any(k.startswith("finetune/") for k in rows["raw keypoints"])
    table = (tmp_path / "s" / "study.md").read_text()
    assert "fine-tune top-1" in table and table.count(" | - |") >= 1


EXPERIMENTS = sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_shipped_experiment_specs_resolve(path: Path) -> None:
    """Every spec in experiments/ loads, and each pretrained variant's configuration
    (profile + spec ``set`` + variant ``set``) resolves and builds its method, so a typo
    in a key fails here rather than minutes into a study."""
    from signssl.engine.config import load_config
    from signssl.engine.run import build_encoder
    from signssl.methods import create_method

    spec = load_spec(path)
    for variant in spec.variants:
        cfg = load_config(variant.method, spec.config, [*spec.set, *variant.set])
        if variant.baseline is None:
            encoder, _, _ = build_encoder(cfg)
            create_method(cfg.method.name, encoder, **cfg.method.kwargs)


def test_study_command_takes_no_progress_and_logs_plain_lines(tmp_path: Path, capsys) -> None:
    """``--no-progress`` like the other long commands; with progress and stderr not a
    terminal (a log), plain lines instead of a redrawn bar."""
    import yaml

    from signssl.cli.main import main

    spec = tmp_path / "study.yaml"
    spec.write_text(yaml.safe_dump({**TINY, "seeds": [0],
                                    "variants": [{"name": "raw", "baseline": "raw-keypoints"}]}))
    for flag, out in (("--no-progress", "quiet"), ("--progress", "shown")):
        with pytest.raises(SystemExit) as e:
            main(["study", str(spec), "--out", str(tmp_path / out), flag])
        assert e.value.code == 0
        captured = capsys.readouterr()
        assert "raw seed 0" in captured.out
        if flag == "--no-progress":
            assert "synth:" not in captured.err
        else:
            assert "synth: 100% 12/12" in captured.err and "\r" not in captured.err


def test_a_study_folder_another_study_writes_is_refused(tmp_path: Path, lock_holder) -> None:
    from signssl.errors import FolderInUseError

    spec = spec_from_dict({**TINY, "variants": [{"name": "raw", "baseline": "raw-keypoints"}]})
    holder = lock_holder(tmp_path / "s")
    with pytest.raises(FolderInUseError, match=f"another study \\(pid {holder.pid}\\)"):
        run_study(spec, tmp_path / "s")
    assert [p.name for p in (tmp_path / "s").iterdir()] == [".signssl.lock"]


def test_report_says_whether_the_queries_are_by_unseen_signers(tmp_path: Path) -> None:
    from signssl.studies.study_report import _query_signers

    for name, signer in (("anon.csv", ""), ("signed.csv", "s1")):
        (tmp_path / name).write_text(f"path,label,signer\na.npz,x,{signer}\nb.npz,y,{signer}\n")
    synthetic = spec_from_dict({**TINY, "variants": [{"name": "raw", "baseline": "raw-keypoints"}]})
    assert _query_signers(synthetic) == "from signers unseen in training"
    anon = spec_from_dict({**TINY, "data": str(tmp_path / "anon.csv"),
                           "variants": [{"name": "raw", "baseline": "raw-keypoints"}]})
    assert "NOT signer-independent" in _query_signers(anon)
    signed = spec_from_dict({**TINY, "data": str(tmp_path / "signed.csv"),
                             "variants": [{"name": "raw", "baseline": "raw-keypoints"}]})
    assert _query_signers(signed) == "from signers unseen in training"
