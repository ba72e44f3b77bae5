"""``signssl pretrain`` end to end on a tiny generated manifest, and its user errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml
from engine_toys import write_pose_manifest
from typer.testing import CliRunner

from signssl.cli.main import app, main
from signssl.engine.config import load_config
from signssl.engine.pretrain_pose import check_encoder_matches_data
from signssl.engine.pretraining import read_summary
from signssl.errors import ConfigError
from signssl.models import create_model
from signssl.store.model import load_model, weights_of

runner = CliRunner()
TINY = ["--config", "tiny", "--set", "data.batch_size=8", "--set", "trainer.checkpoint_every_n_steps=1",
        "--no-progress"]


def _invoke(args: list[str]) -> str:
    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pose_manifest(tmp_path_factory.mktemp("data"), classes=3, signers=3, reps=2,
                               frames=12, bad=1)


def test_pretrain_cli_end_to_end(tmp_path: Path, manifest: Path) -> None:
    run = tmp_path / "run"
    text = _invoke(["pretrain", "--method", "sl_fpn", "--data", str(manifest), "--out", str(run),
                    *TINY, "--max-epochs", "2", "--set", "optim.lr=2e-3", "--seed", "3"])
    # 12 training clips (the test signer is held out), 1 unreadable row skipped
    assert re.search(r"clips\W+12 used, 1 skipped", text), text
    assert re.search(r"steps\W+2 / 2", text), text
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["optim"]["lr"] == 0.002 and cfg["trainer"]["seed"] == 3
    assert cfg["model"]["name"] == "pose_transformer_tiny"  # the tiny profile
    summary = read_summary(run)
    assert (summary["clips"], summary["skipped"], summary["global_step"]) == (12, 1, 2)
    encoder = load_model(run)
    x = torch.randn(2, 12, 49, 2)
    assert encoder.embed(x).shape == (2, encoder.out_dim)

    # extend the finished run: --resume reads RUN/config.yaml and run.json (no --data needed)
    text = _invoke(["pretrain", "--out", str(run), "--resume", "--max-epochs", "3", "--no-progress"])
    assert re.search(r"resumed from step\W+2", text), text
    assert read_summary(run)["global_step"] == 3
    assert not all(torch.equal(a, b) for a, b in zip(weights_of(run).values(),
                                                        encoder.state_dict().values(), strict=True))


def test_pretrain_dry_run_prints_resolved_config(manifest: Path, tmp_path: Path) -> None:
    text = _invoke(["pretrain", "--method", "byol", "--config", "tiny", "--set",
                    "method.kwargs.base_momentum=0.99", "--out", str(tmp_path / "r"), "--dry-run"])
    cfg = yaml.safe_load(text)
    assert cfg["method"] == {"name": "byol", "kwargs": {**cfg["method"]["kwargs"], "base_momentum": 0.99}}
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "dino"], "unknown method 'dino'"),
        (["--method", "sl_fpn", "--set", "optim.lr"], "expected KEY=VALUE"),
        (["--method", "sl_fpn", "--set", "optim.learning_rate=1"], "unknown key config.optim.learning_rate"),
        (["--method", "sl_fpn", "--config", "tiny"], "--data MANIFEST is required"),
        (["--method", "sl_fpn", "--config", "tiny", "--data", "nowhere.csv"], "manifest not found"),
        (["--method", "sl_fpn", "--config", "tiny", "--resume"], "config.yaml not found"),
        (["--method", "sl_fpn", "--config", "tiny", "--set", "data.batch_size=64"],
         "fewer than one batch"),
        (["--method", "sl_fpn", "--config", "tiny", "--set", "data.layout=hands"],
         "set model.kwargs.layout=hands instead of data.layout"),
    ],
)
def test_pretrain_user_errors_are_one_line_exit_2(
    args: list[str], message: str, manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = [a if a != "nowhere.csv" else str(tmp_path / a) for a in args]
    if "--data" not in args and "required" not in message and "--resume" not in args:
        args += ["--data", str(manifest)]
    with pytest.raises(SystemExit) as exc:
        main(["pretrain", "--out", str(tmp_path / "run"), "--no-progress", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_an_encoder_whose_layout_is_not_in_its_kwargs_is_checked_against_the_data() -> None:
    """model.init or a default layout: the encoder's own layout is checked, and the fix
    named is model.kwargs.layout (which data.layout follows)."""
    cfg = load_config("sl_fpn", "tiny")
    check_encoder_matches_data(create_model("pose_transformer_tiny", max_frames=32), cfg)
    with pytest.raises(ConfigError, match=r"differs from data.layout 'masa49': --set model\.kwargs\.layout=hands "):
        check_encoder_matches_data(create_model("pose_transformer_tiny", layout="hands", max_frames=32), cfg)


def test_pretrain_refuses_to_overwrite_a_run(manifest: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    args = ["pretrain", "--method", "simclr", "--data", str(manifest), "--out", str(run), *TINY,
            "--max-steps", "1"]
    _invoke(args)
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err


def test_a_second_pretrain_on_the_same_folder_stops_at_once(
    manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture, lock_holder
) -> None:
    """One writer per run folder: while another job holds RUN, pretrain exits 2 with one
    line naming RUN and that job's pid and writes nothing; once that job is killed, the
    next run takes the folder over and says so."""
    run = tmp_path / "run"
    args = ["pretrain", "--method", "simclr", "--data", str(manifest), "--out", str(run), *TINY,
            "--max-steps", "1"]
    holder = lock_holder(run)
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"pid {holder.pid}" in err and str(run) in err and "another pretraining run" in err
    assert [p.name for p in run.iterdir()] == [".signssl.lock"]  # no run.json, config, logs
    holder.kill()  # SIGKILL: its lock file stays behind
    holder.wait()
    text = _invoke(args)
    assert f"took over the lock of a pretraining run that no longer runs (pid {holder.pid})" in text
    assert read_summary(run)["global_step"] == 1 and not (run / ".signssl.lock").exists()


def test_checkpoint_option_initialises_the_encoder(manifest: Path, tmp_path: Path) -> None:
    """--checkpoint RUN starts from RUN's exported encoder (its name and kwargs too)."""
    first = tmp_path / "first"
    _invoke(["pretrain", "--method", "sl_fpn", "--data", str(manifest), "--out", str(first), *TINY,
             "--max-steps", "2"])
    second = tmp_path / "second"
    _invoke(["pretrain", "--method", "simsiam", "--data", str(manifest), "--out", str(second), *TINY,
             "--max-steps", "1", "--set", "optim.lr=1e-12", "--set", "optim.min_lr=0",
             "--set", "model.name=pose_transformer_test",
             "--checkpoint", str(first)])
    cfg = yaml.safe_load((second / "config.yaml").read_text())
    assert cfg["model"]["init"] == str(first)
    a, b = weights_of(first), weights_of(second)
    assert a.keys() == b.keys()  # the tiny encoder of the first run, not pose_transformer_test
    assert all(torch.allclose(a[k], b[k], atol=1e-8) for k in a)
    saved = yaml.safe_load((second / "model" / "config.json").read_text())
    assert saved["name"] == "pose_transformer_tiny"
