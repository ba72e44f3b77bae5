"""The one description of a trained model: JSON round trip, every earlier config.json read,
one builder for the pose branch, the video branch and a run's .ckpt, read once at load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_model

from signssl.engine.config import load_config
from signssl.errors import DataError
from signssl.eval.pipeline import EncoderSpec
from signssl.eval.window_reader import ClipInput
from signssl.models import create_model
from signssl.store import model as store_model
from signssl.store.model import load_described_model, load_model, load_model_config, open_model
from signssl.store.spec import (
    FORMAT_VERSION,
    DataSpec,
    ModelDescription,
    describe_pretraining,
    spec_of_config,
)

POSE_KWARGS = {"layout": "masa49", "in_dims": 2, "max_frames": 16}

#: ``model/config.json`` as the pose branch wrote it before format 2 (no ``modality``)
POSE_V1 = {
    "format": "signssl-model", "format_version": 1, "name": "pose_transformer_test",
    "kwargs": POSE_KWARGS, "layout": "masa49", "dims": 2, "normalize": "auto",
    "trim_empty": False, "max_frames": 16, "method": "sl_fpn", "out_dim": 32,
}  # fmt: skip
#: ... the video branch (format 1)
VIDEO_V1 = {
    "format": "signssl-model", "format_version": 1, "name": "hiera_test", "kwargs": {},
    "modality": "video", "input_size": [4, 32, 32], "frame_step": 2, "fps": None,
    "method": "signrep",
}  # fmt: skip
#: ... a pose run's .ckpt and hand-made exports (no method, no format)
BARE_V1 = {"name": "pose_transformer_test", "kwargs": POSE_KWARGS, "layout": "masa49",
           "dims": 2, "max_frames": 16}  # fmt: skip


def _old_folder(path: Path, config: dict) -> torch.nn.Module:
    """A model folder as the code before format 2 wrote it: its weights and ``config``."""
    torch.manual_seed(0)
    encoder = create_model(config["name"], **config["kwargs"]).eval()
    path.mkdir(parents=True)
    save_model(encoder, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps(config))
    return encoder


@pytest.mark.parametrize("config", [POSE_V1, VIDEO_V1, BARE_V1], ids=["pose", "video", "bare"])
def test_folders_written_before_format_2_load_with_their_description(
    tmp_path: Path, config: dict
) -> None:
    encoder = _old_folder(tmp_path / "model", config)
    loaded, description = load_described_model(tmp_path / "model")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                 encoder.state_dict().values(), strict=True))
    assert description.name == config["name"] and description.kwargs == config["kwargs"]
    assert description.method == config.get("method")
    assert description.modality == config.get("modality", "pose")
    # the old mapping and the description say the same about reading clips
    assert description.data_spec == spec_of_config(config)
    assert load_model_config(tmp_path / "model") == {**config, "kwargs": config["kwargs"]}


def test_old_keys_give_the_same_reading_as_before() -> None:
    pose, video, bare = (ModelDescription.from_json(c).data_spec for c in (POSE_V1, VIDEO_V1, BARE_V1))
    assert pose == DataSpec("masa49", 2, "auto", 16, trim_empty=False)
    assert video == DataSpec(modality="video", clip_len=4, frame_size=(32, 32), frame_step=2)
    assert bare == DataSpec("masa49", 2, "shoulders", 16)  # unrecorded: the old default


@pytest.mark.parametrize("config", [POSE_V1, VIDEO_V1, {**BARE_V1, "sha256": {"a": "b"}}])
def test_json_round_trip(config: dict) -> None:
    description = ModelDescription.from_json(config)
    written = description.to_json()
    assert written["format_version"] == FORMAT_VERSION
    assert written["modality"] == config.get("modality", "pose")
    assert ModelDescription.from_json(json.loads(json.dumps(written))) == description
    for key, value in config.items():  # every recorded field is written again as it was
        if key != "format_version":
            assert written[key] == value, key


def test_newer_format_and_bad_fields_are_one_line_errors() -> None:
    with pytest.raises(DataError, match="newer than this signssl reads.*upgrade"):
        ModelDescription.from_json({**POSE_V1, "format_version": FORMAT_VERSION + 1})
    with pytest.raises(DataError, match="registered model"):
        ModelDescription.from_json({"kwargs": {}})
    with pytest.raises(DataError, match="'kwargs' must be a mapping"):
        ModelDescription.from_json({"name": "x", "kwargs": [1]})
    with pytest.raises(DataError, match="modality must be"):
        ModelDescription.from_json({"name": "x", "modality": "audio"})


def test_one_builder_for_the_export_and_the_ckpt(tmp_path: Path) -> None:
    """A run's .ckpt is described as its export is (the method recorded for pose too)."""
    for method, size in (("sl_fpn", None), ("signrep", (4, 32, 32))):
        overrides = ["model.name=hiera_test"] if size else ["data.trim_empty=false"]
        cfg = load_config(method, "tiny", overrides)
        run = tmp_path / method
        run.mkdir()
        cfg.save(run / "config.yaml")
        from_ckpt = open_model(run / "checkpoints" / "last.ckpt").description
        exported = describe_pretraining(cfg.to_dict(), input_size=size)
        assert from_ckpt == exported and from_ckpt.method == method
        if size is None:
            assert (from_ckpt.layout, from_ckpt.trim_empty) == (cfg.data.layout, False)
        else:
            assert from_ckpt.input_size == size and from_ckpt.reads_video


def test_a_checkpoint_is_found_and_described_once(tmp_path: Path, monkeypatch) -> None:
    """EncoderSpec reads config.json and resolves the folder once, then builds from it."""
    _old_folder(tmp_path / "run" / "model", POSE_V1)
    calls = {"resolve": 0, "read": 0}
    resolve, read = store_model.resolve_model_files, store_model.read_json_file

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(store_model, "resolve_model_files", counted("resolve", resolve))
    monkeypatch.setattr(store_model, "read_json_file", counted("read", read))
    spec = EncoderSpec(checkpoint=str(tmp_path / "run"))
    spec.build()
    spec.build(seed=1)
    assert calls == {"resolve": 1, "read": 1}
    assert (spec.layout, spec.normalize, spec.trim_empty, spec.max_frames) == ("masa49", "auto", False, 16)
    assert ClipInput.of_description(spec.description, load_model(tmp_path / "run")).trim_empty is False
