"""Model export / load round trip, path forms, safe loading, atomic checkpoint writes."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from signssl.engine.config import load_config
from signssl.engine.trainer import SafeCheckpointIO
from signssl.errors import DataError
from signssl.models import create_model
from signssl.store.model import (
    ENCODER_PREFIX,
    export_model,
    load_model,
    load_model_config,
    read_checkpoint,
    weights_of,
)

KWARGS = {"layout": "masa49", "in_dims": 2, "max_frames": 16, "pos_embed": "learned"}


def _batch(b: int = 3, t: int = 10) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, t, 49, 2, generator=g)
    conf = (torch.rand(b, t, 49, generator=g) > 0.2).float()
    mask = torch.zeros(b, t, dtype=torch.bool)
    mask[0, 7:] = True  # a padded clip
    return {"x": x, "conf": conf, "frame_mask": mask}


@pytest.fixture()
def exported(tmp_path: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    enc = create_model("pose_transformer_test", **KWARGS)
    with torch.no_grad():  # move every weight away from its initial value
        for p in enc.parameters():
            p.add_(0.01 * torch.randn_like(p))
    run = tmp_path / "run"
    export_model(enc, run / "model", "pose_transformer_test", KWARGS,
                 layout="masa49", dims=2, normalize="shoulders")
    return enc.eval(), run


def test_loading_a_model_imports_no_training_code() -> None:
    """``load_model`` works without Lightning or the recipes (checked in a fresh process)."""
    import subprocess
    import sys

    code = ("import sys; import signssl.store.model as c; "
            "print(sorted(m for m in ('lightning', 'signssl.methods', 'signssl.engine.pretraining') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_round_trip_gives_identical_outputs(exported: tuple[torch.nn.Module, Path]) -> None:
    enc, run = exported
    batch = _batch()
    want = enc.embed(batch)
    for path in (run, run / "model", run / "model" / "model.safetensors"):
        loaded = load_model(path)
        assert type(loaded) is type(enc) and not loaded.training
        assert torch.equal(loaded.embed(batch), want), path
        assert torch.equal(loaded.forward_features(batch), enc.forward_features(batch))
    state = weights_of(run)
    assert set(state) == set(enc.state_dict())
    assert all(torch.equal(state[k], v) for k, v in enc.state_dict().items())


def test_config_json_records_how_to_rebuild(exported: tuple[torch.nn.Module, Path]) -> None:
    enc, run = exported
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["name"] == "pose_transformer_test"
    assert config["kwargs"] == KWARGS
    assert (config["layout"], config["dims"], config["normalize"]) == ("masa49", 2, "shoulders")
    assert config["out_dim"] == enc.out_dim
    assert load_model_config(run) == config
    assert not list((run / "model").glob("*.tmp*"))  # atomic writes leave no temporaries


def test_load_errors_name_the_problem(tmp_path: Path, exported: tuple[torch.nn.Module, Path]) -> None:
    _, run = exported
    with pytest.raises(DataError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    with pytest.raises(DataError, match="no model.safetensors"):
        load_model(tmp_path)
    # weights of another architecture
    other = create_model("pose_transformer_test", **{**KWARGS, "depth": 2})
    export_model(other, tmp_path / "other", "pose_transformer_test", KWARGS)
    with pytest.raises(DataError, match="weights do not match"):
        load_model(tmp_path / "other")
    # damaged weights file
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text((run / "model" / "config.json").read_text())
    (bad / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(DataError, match="bad/model.safetensors"):
        load_model(bad)
    # config.json without a model name
    (bad / "config.json").write_text('{"kwargs": {}}')
    with pytest.raises(DataError, match="registered model"):
        load_model(bad)
    with pytest.raises(DataError, match="not a model"):
        load_model(run / "model" / "config.json")


@pytest.mark.parametrize(
    ("change", "expect"),
    [
        ({"kwargs": {**KWARGS, "dim": 48}}, r"tensors \d+ with another shape \(e\.g\. \S+ \[.*\] in the file vs"),
        ({"name": "pose_transformer_tiny"}, r"model 'pose_transformer_tiny'.*with another shape"),
        ({"name": "hiera_test", "kwargs": {}}, r"model 'hiera_test'.*missing from the file"),
        ({"kwargs": {**KWARGS, "depth": 2}}, r"\d+ missing from the file \(e\.g\. blocks\.1\."),
        ({"kwargs": {**KWARGS, "heads": 5}}, r"config\.json: cannot build model .*heads"),
        ({"kwargs": {**KWARGS, "dim": "wide"}}, r"config\.json: cannot build model"),
    ],
)
def test_config_json_that_does_not_fit_its_weights_is_one_line(
    exported: tuple[torch.nn.Module, Path], change: dict, expect: str
) -> None:
    """A config.json edited away from its weights: a DataError naming the model folder and
    the first mismatched tensors on one line, not load_state_dict's RuntimeError."""
    _, run = exported
    config_path = run / "model" / "config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), **change}))
    with pytest.raises(DataError, match=expect) as exc:
        load_model(run)
    text = str(exc.value)
    assert str(run / "model") in text and "\n" not in text and "export the model again" in text


def test_run_config_that_does_not_fit_its_checkpoint_is_one_line(
    exported: tuple[torch.nn.Module, Path],
) -> None:
    """The same for a run's .ckpt whose config.yaml names another model size."""
    enc, run = exported
    sets = ["model.name=pose_transformer_test", *(f"model.kwargs.{k}={v}" for k, v in KWARGS.items())]
    load_config("simclr", "tiny", [*sets, "model.kwargs.dim=48"]).save(run / "config.yaml")
    ckpt = run / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir()
    torch.save({"state_dict": {ENCODER_PREFIX + k: v for k, v in enc.state_dict().items()}}, ckpt)
    with pytest.raises(DataError, match=r"config\.yaml describes: tensors \d+ with another shape") as exc:
        load_model(ckpt)
    assert str(ckpt) in str(exc.value) and "\n" not in str(exc.value)


def test_export_rejects_non_json_kwargs(tmp_path: Path) -> None:
    enc = create_model("pose_transformer_test")
    with pytest.raises(DataError, match="not JSON-serialisable"):
        export_model(enc, tmp_path, "pose_transformer_test", {"layout": object()})


class _Payload:
    """Unpickling this would run code: a safe loader must refuse it."""

    def __reduce__(self):  # noqa: ANN204
        return (print, ("unpickled!",))


def test_read_checkpoint_never_unpickles_code(tmp_path: Path) -> None:
    evil = tmp_path / "evil.ckpt"
    with open(evil, "wb") as f:
        pickle.dump({"state_dict": {}, "x": _Payload()}, f, protocol=2)
    with pytest.raises(DataError, match="cannot load checkpoint safely"):
        read_checkpoint(evil)
    torch.save({"state_dict": {"w": torch.ones(2)}, "global_step": 3}, tmp_path / "ok.ckpt")
    assert read_checkpoint(tmp_path / "ok.ckpt")["global_step"] == 3


def test_safe_checkpoint_io_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    io = SafeCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"step": 1, "w": torch.arange(3)}, path)
    assert io.load_checkpoint(path)["step"] == 1

    def crash(obj: object, f: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"step": 2}, path)
    monkeypatch.undo()
    assert io.load_checkpoint(path)["step"] == 1  # the old checkpoint survives intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]


# ----------------------------------------------------------------------------- official Hiera


def _mae_checkpoint(path: Path) -> torch.nn.Module:
    """An official-style pixel-MAE Hiera file: ``{"model_state": ...}`` without ``norm``
    and with MAE-only entries; returns the source model (every weight moved off its init)."""
    torch.manual_seed(0)
    src = create_model("hiera_test")
    with torch.no_grad():
        for p in src.parameters():
            p.add_(torch.randn_like(p))
    state = {k: v.clone() for k, v in src.state_dict().items() if not k.startswith("norm.")}
    state |= {"encoder_norm.weight": torch.ones(32), "mask_token": torch.zeros(1, 1, 32),
              "decoder_embed.weight": torch.zeros(16, 32)}  # fmt: skip
    torch.save({"model_state": state, "epoch": 799}, path)
    return src


def test_import_hiera_cli_writes_a_model_every_command_reads(tmp_path: Path, prose) -> None:
    from typer.testing import CliRunner

    from signssl.cli.main import app
    from signssl.store.model import spec_of_run

    src = _mae_checkpoint(tmp_path / "mae_hiera.pth")
    out = tmp_path / "imported"
    args = ["import-hiera", str(tmp_path / "mae_hiera.pth"), "--model", "hiera_test", "--out",
            str(out), "--kwarg", "drop_path=0.1", "--frame-step", "2"]  # fmt: skip
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    n = len(src.state_dict())
    assert f"{n - 2} parameters loaded, 2 missing" in prose(result.output)
    assert "3 checkpoint entries unused" in prose(result.output)

    report = json.loads((out / "import_report.json").read_text())
    assert report["missing_keys"] == ["norm.bias", "norm.weight"]
    assert sorted(report["unexpected_keys"]) == ["decoder_embed.weight", "encoder_norm.weight",
                                                 "mask_token"]  # fmt: skip
    config = load_model_config(out)
    assert (config["name"], config["kwargs"], config["modality"]) == (
        "hiera_test", {"drop_path": 0.1}, "video")
    assert config["input_size"] == [4, 32, 32] and config["imported"]["loaded"] == n - 2
    spec = spec_of_run(out)
    assert (spec.modality, spec.clip_len, spec.frame_size, spec.frame_step) == (
        "video", 4, (32, 32), 2)

    enc = load_model(out)
    got = enc.state_dict()
    for key, value in src.state_dict().items():
        if key.startswith("norm."):  # not in an MAE file: left at LayerNorm's init
            expected = torch.ones_like(value) if key.endswith("weight") else torch.zeros_like(value)
            assert torch.equal(got[key], expected)
        else:
            assert torch.equal(got[key], value), key


def test_import_hiera_errors(tmp_path: Path) -> None:
    from signssl.errors import ConfigError
    from signssl.store.model import import_hiera

    _mae_checkpoint(tmp_path / "mae.pth")
    with pytest.raises(DataError, match=r"2 parameters .* not in the file .*norm"):
        import_hiera(tmp_path / "mae.pth", tmp_path / "a", "hiera_test", strict=True)
    assert not (tmp_path / "a").exists()  # nothing written when refused
    with pytest.raises(ConfigError, match="not a video Hiera"):
        import_hiera(tmp_path / "mae.pth", tmp_path / "b", "pose_transformer_test", KWARGS)
    with pytest.raises(ConfigError, match="no parameter"):  # another size: every shape differs
        import_hiera(tmp_path / "mae.pth", tmp_path / "c", "hiera_test", {"embed_dim": 16})
    with pytest.raises(DataError, match="not found"):
        import_hiera(tmp_path / "nope.pth", tmp_path / "d", "hiera_test")


def test_spec_of_run_reads_whether_empty_edge_frames_are_dropped(tmp_path: Path) -> None:
    from signssl.engine.config import load_config
    from signssl.models import create_model
    from signssl.store.model import export_model, spec_of_run
    from signssl.store.spec import spec_from_config

    enc = create_model("pose_transformer_test", layout="masa49", in_dims=2)
    export_model(enc, tmp_path / "kept", "pose_transformer_test", {}, layout="masa49", dims=2,
                 normalize="auto", max_frames=64, trim_empty=False)
    export_model(enc, tmp_path / "older", "pose_transformer_test", {}, layout="masa49", dims=2,
                 normalize="auto", max_frames=64)  # written before the key existed
    assert spec_of_run(tmp_path / "kept").trim_empty is False
    assert spec_of_run(tmp_path / "older").trim_empty is True
    assert spec_from_config(load_config("sl_fpn", "tiny")).trim_empty is True
    off = load_config("sl_fpn", "tiny", ["data.trim_empty=false"])
    assert spec_from_config(off).trim_empty is False


def test_every_reader_of_a_model_keeps_its_empty_frame_rule(tmp_path: Path) -> None:
    from signssl.eval.pipeline import EncoderSpec
    from signssl.eval.window_reader import ClipInput
    from signssl.models import create_model
    from signssl.store.model import export_model

    enc = create_model("pose_transformer_test", layout="masa49", in_dims=2)
    export_model(enc, tmp_path / "kept", "pose_transformer_test", {}, layout="masa49", dims=2,
                 normalize="auto", max_frames=64, trim_empty=False)
    assert EncoderSpec(checkpoint=str(tmp_path / "kept")).trim_empty is False
    assert ClipInput.of_run(tmp_path / "kept", enc).trim_empty is False
    assert EncoderSpec(baseline="raw-keypoints").trim_empty is True
