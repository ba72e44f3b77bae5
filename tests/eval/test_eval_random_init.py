"""``--baseline random-init --config/--method/--set``: the model a pretraining run builds,
read as that run reads clips."""

from __future__ import annotations

from pathlib import Path

import pytest
from eval_toys import run_cli

from signssl.engine.config import load_config
from signssl.engine.pretraining import pretrain
from signssl.eval.features import Features
from signssl.eval.pipeline import EncoderSpec
from signssl.store.model import load_model, load_model_config
from signssl.synth import generate_dataset


def _shapes(module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _embedded_spec(capsys, manifest: Path, out: Path, *options: str) -> EncoderSpec:
    code, _, err = run_cli(capsys, "embed", "--baseline", "random-init", *options,
                           "--data", manifest, "-o", out)
    assert code == 0, err
    return EncoderSpec.from_info(Features.load(out).info)


def test_random_init_from_a_profile_matches_the_pretrained_runs_encoder(tmp_path, capsys) -> None:
    manifest = generate_dataset(tmp_path / "data", classes=2, signers=3, reps=1, frames=16,
                                progress=False)
    run = tmp_path / "run"
    pretrain(load_config("sl_fpn", "tiny", ["data.batch_size=2", "trainer.max_steps=1"]),
             manifest, run, progress=False)
    trained = load_model(run)
    spec = _embedded_spec(capsys, manifest, tmp_path / "a.npz", "--config", "tiny", "--method", "sl_fpn")
    assert _shapes(spec.build()) == _shapes(trained)  # same parameter names and shapes
    run_input = load_model_config(run)
    assert (spec.layout, spec.dims, spec.max_frames) == (
        run_input["layout"], run_input["dims"], run_input["max_frames"])
    # the model name alone builds the registry's default size, not the profile's
    plain = _embedded_spec(capsys, manifest, tmp_path / "b.npz", "--model", run_input["name"])
    assert _shapes(plain.build()) != _shapes(trained)
    # --set reaches the model's arguments
    deeper = _embedded_spec(capsys, manifest, tmp_path / "c.npz", "--config", "tiny", "--method",
                            "sl_fpn", "--set", "model.kwargs.depth=3")
    assert deeper.extra["depth"] == 3 and len(_shapes(deeper.build())) > len(_shapes(trained))


@pytest.mark.parametrize("options, message", [
    (["--baseline", "raw-keypoints", "--config", "tiny"], "model of --baseline random-init"),
    (["--baseline", "random-init", "--model", "pose_transformer_test", "--config", "tiny",
      "--method", "sl_fpn"], "differs from the model of the configuration"),
])
def test_config_options_outside_random_init_are_errors(tmp_path, capsys, options, message) -> None:
    code, out, err = run_cli(capsys, "embed", *options, "--data", tmp_path / "m.csv",
                             "-o", tmp_path / "f.npz")
    assert code != 0 and message in " ".join((out + err).split())
