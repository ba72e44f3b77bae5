"""Pretraining on several sources: ``--data`` parsing, mixing weights, recorded sources,
resume with the on-the-fly synthetic source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import yaml
from engine_toys import write_pose_manifest
from test_engine_fit import Crash
from typer.testing import CliRunner

from signssl.cli.main import app, main
from signssl.engine.config import load_config
from signssl.engine.pretraining import pretrain, read_summary
from signssl.engine.sources import SourceSpec, parse_source, source_probabilities
from signssl.errors import ConfigError
from signssl.store.model import weights_of

SYNTH = {"classes": 4, "signers": 2, "frames": 16, "seed": 1}


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two manifests of 8 training clips each (the third signer is the test split)."""
    root = tmp_path_factory.mktemp("sources")
    return tuple(  # type: ignore[return-value]
        write_pose_manifest(root / name, classes=2, signers=3, reps=2, frames=12, seed=seed)
        for name, seed in (("a", 0), ("b", 1))
    )


def test_parse_source_forms() -> None:
    assert parse_source("A.csv") == SourceSpec(path="A.csv")
    assert parse_source("dir/B.csv:0.3") == SourceSpec(path="dir/B.csv", weight=0.3)
    assert parse_source("synth") == SourceSpec(synthetic={})
    assert parse_source("synth:classes=200,signers=50:0.5") == SourceSpec(
        synthetic={"classes": 200, "signers": 50}, weight=0.5)
    assert parse_source("synth:noise=0.5") == SourceSpec(synthetic={"noise": 0.5})


def test_default_weights_follow_manifest_sizes() -> None:
    specs = [SourceSpec(path="a"), SourceSpec(path="b"), SourceSpec(synthetic={})]
    # unweighted manifests: 30/40 and 10/40 of weight 1; unweighted synthetic: 1
    assert source_probabilities(specs, [30, 10, None]) == pytest.approx([0.375, 0.125, 0.5])
    specs[1] = SourceSpec(path="b", weight=3.0)
    assert source_probabilities(specs, [30, 10, None]) == pytest.approx([0.2, 0.6, 0.2])


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("A.csv:abc", "--data 'A.csv:abc': 'abc' after the last ':' is not a weight"),
        ("A.csv:-1", "--data 'A.csv:-1': weight must be a positive number"),
        ("synth:colour=3", "--data 'synth:colour=3': unknown synthetic argument 'colour'"),
        ("synth:classes=many:0.5", "synthetic classes='many' is not a number"),
        ("synth:classes=2.5", "synthetic classes must be an integer"),
        ("synth:classes", "'classes' is not KEY=VALUE"),
        (":0.5", "no manifest path before the weight"),
    ],
)
def test_bad_data_items_are_one_line_errors(
    item: str, message: str, manifests: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["pretrain", "--method", "simclr", "--config", "tiny", "--out", str(tmp_path / "r"),
              "--data", str(manifests[0]), "--data", item, "--no-progress"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()), err  # independent of where the terminal wraps
    assert "Traceback" not in err and not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ("[{path: a.csv}, {synthetic: {classes: 2}, weight: 0}]", "data.sources[1]: weight must be a positive"),
        ("[{path: a.csv, synthetic: {}}]", "data.sources[0] needs exactly one of 'path'"),
        ("[{manifest: a.csv}]", "data.sources[0]: unknown key 'manifest'"),
        ("[a.csv]", "data.sources[0] must be a mapping"),
    ],
)
def test_bad_config_sources_name_the_item(sources: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_config("simclr", "tiny", [f"data.sources={sources}"])
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_cli_pretrains_on_two_manifests_and_synthetic_and_records_them(
    manifests: tuple[Path, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    a, b = manifests
    result = CliRunner().invoke(app, [
        "pretrain", "--method", "simclr", "--config", "tiny", "--out", str(run), "--no-progress",
        "--data", str(a), "--data", f"{b}:0.3", "--data", "synth:classes=4,signers=2,frames=16:0.5",
        "--set", "data.batch_size=8", "--max-steps", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert re.search(r"clips\W+16 used", result.output), result.output  # 8 + 8 train clips
    expected = [{"path": str(a.resolve())}, {"path": str(b.resolve()), "weight": 0.3},
                {"synthetic": {"frames": 16, "seed": 0, "classes": 4, "signers": 2}, "weight": 0.5}]
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["data"]["sources"] == expected
    model_cfg = json.loads((run / "model" / "config.json").read_text())
    described = model_cfg["data_sources"]
    assert [{k: v for k, v in d.items() if k not in ("probability", "clips")} for d in described] == expected
    # a: weight 8/8 = 1 (the only unweighted manifest), b 0.3, synthetic 0.5
    assert [d["probability"] for d in described] == pytest.approx([1 / 1.8, 0.3 / 1.8, 0.5 / 1.8], abs=1e-6)
    assert [d.get("clips") for d in described] == [8, 8, None]
    assert model_cfg["samples_per_epoch"] == 16 and read_summary(run)["global_step"] == 2
    as_given = json.loads((run / "run.json").read_text())["sources"]
    assert [s.get("path") for s in as_given] == [str(a.resolve()), str(b.resolve()), None]


def test_resumed_run_with_a_synthetic_source_matches_uninterrupted(
    manifests: tuple[Path, Path], tmp_path: Path
) -> None:
    sources = json.dumps([{"path": str(manifests[0])}, {"synthetic": SYNTH, "weight": 1.0}])
    cfg = load_config("simclr", "tiny", [
        f"data.sources={sources}", "data.batch_size=4", "data.samples_per_epoch=8",
        "trainer.max_steps=4", "trainer.checkpoint_every_n_steps=1", "trainer.progress_bar=false"])
    torch.manual_seed(0)
    pretrain(cfg, None, tmp_path / "full")
    with pytest.raises(RuntimeError, match="simulated crash"):
        pretrain(cfg, None, tmp_path / "cut", callbacks=[Crash(3)])  # epoch 1, its 2nd batch next
    torch.manual_seed(123)
    resumed = pretrain(cfg, None, tmp_path / "cut", resume=True)
    assert resumed.resumed_from_step == 3 and resumed.global_step == 4
    full, cut = weights_of(tmp_path / "full"), weights_of(tmp_path / "cut")
    assert all(torch.equal(full[k], cut[k]) for k in full)


def test_sources_and_a_manifest_together_are_refused(manifests: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = load_config("simclr", "tiny", [f"data.sources=[{{synthetic: {json.dumps(SYNTH)}}}]"])
    with pytest.raises(ConfigError, match="either data.sources or one manifest"):
        pretrain(cfg, manifests[0], tmp_path / "r")
    with pytest.raises(ConfigError, match="set data.samples_per_epoch"):
        pretrain(cfg, None, tmp_path / "r2")
