"""Video methods in the engine: pretrain signrep / mae end to end, export + load_model,
resume, two optimisers, validation with RUN/best, video features for evaluation, configs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from signssl.cli.main import app
from signssl.data import Manifest
from signssl.data.signrep import video_manifest
from signssl.engine import load_config, load_run_config
from signssl.engine.module import PretrainModule
from signssl.engine.pretrain_video import build_video_dataset
from signssl.engine.pretraining import pretrain, read_run_metrics, read_summary
from signssl.errors import ConfigError
from signssl.eval.frozen import split_features
from signssl.methods import create_method
from signssl.models import create_model
from signssl.optim import layer_ids
from signssl.store.model import (
    encoder_state_from_checkpoint,
    load_model,
    read_checkpoint,
    spec_of_run,
)
from signssl.store.spec import DataSpec

FRAMES, SIZE = 16, 32
#: hiera_test on 16 x 32 x 32 crops, 2 videos (4 crops) per batch, small heads
SETS = {
    "signrep": [
        "method.kwargs.latent_dim=16",
        "method.kwargs.decoder_hidden=16",
        "method.kwargs.up_dim=8",
        "method.kwargs.activity_hidden=8",
        "method.kwargs.disc_hidden=16",
    ],
    "mae": ["method.kwargs.decoder_dim=16", "method.kwargs.decoder_heads=2"],
}
COMMON = [
    "model.name=hiera_test", f"model.kwargs.num_frames={FRAMES}", "data.batch_size=2",
    "trainer.max_epochs=1", "trainer.progress_bar=false", "trainer.checkpoint_every_n_steps=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 classes x 2 signers x 1 repetition, 16 frames of 32 px (train: 2 videos, test: 2)."""
    from signssl.synth import generate_dataset

    out = tmp_path_factory.mktemp("synth_video")
    return generate_dataset(out, 2, 2, 1, FRAMES, video=True, size=SIZE, seed=0, progress=False)


def _rebuilt_from_checkpoint(run: Path) -> torch.nn.Module:
    cfg = load_run_config(run)
    enc = create_model(cfg.model.name, **cfg.model.kwargs)
    enc.load_state_dict(encoder_state_from_checkpoint(run / "checkpoints" / "last.ckpt"))
    return enc.eval()


#: Tab. 5's first row: priors alone (no masking, no var/cov, no discriminator)
PRIORS_ALONE = [
    "method.kwargs.mask_ratio=0", "method.kwargs.var_weight=0", "method.kwargs.cov_weight=0",
    "method.kwargs.use_style=false",
]  # fmt: skip


@pytest.mark.parametrize("method", ["signrep", "mae", "priors-alone"])
def test_pretrain_exports_a_video_model_and_resumes(
    method: str, synth: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    sets = [*COMMON, *SETS["signrep" if method == "priors-alone" else method]]
    if method == "priors-alone":
        sets += PRIORS_ALONE
        method = "signrep"
    cfg = load_config(method, "tiny", [*sets, "trainer.val_every_n_steps=1"])
    result = pretrain(cfg, synth, run)
    assert (result.clips, result.skipped, result.global_step) == (2, 0, 1)  # the train split
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["modality"] == "video" and config["input_size"] == [FRAMES, SIZE, SIZE]
    assert config["method"] == method and config["name"] == "hiera_test"
    encoder = load_model(run)
    x = torch.rand(2, 3, FRAMES, SIZE, SIZE)
    with torch.no_grad():
        assert torch.equal(encoder.embed(x), _rebuilt_from_checkpoint(run).embed(x))
    series = read_run_metrics(run)
    assert "train/collapse_std" in series and "train/loss" in series
    assert "val/mrr" in series  # validation every step
    best = json.loads((run / "best" / "config.json").read_text())
    assert best["best_step"] == 1 and best["best_metric"] == "retrieval/mrr"
    assert load_model(run / "best").input_size == (FRAMES, SIZE, SIZE)
    # SignRep exports its activity head (weighted retrieval); MAE has none
    from signssl.eval.windows import load_activity_head

    for where in (run, run / "best"):
        scorer = load_activity_head(where, encoder=load_model(where))
        assert (scorer is None) == (method == "mae")
    if method == "signrep":
        scorer = load_activity_head(run, encoder=encoder)
        a = scorer(x)  # (B,) = max over hands of P(active)
        assert a.shape == (2,) and bool(((a >= 0) & (a <= 1)).all())
    ckpt = read_checkpoint(run / "checkpoints" / "last.ckpt")
    two = cfg.method.kwargs.get("use_style", False)
    assert len(ckpt["optimizer_states"]) == (2 if two else 1)
    assert ("train/disc" in series) == two

    # --resume extends the finished run (one more epoch) without crashing
    more = load_run_config(run, ["trainer.max_epochs=2"])
    again = pretrain(more, synth, run, resume=True)
    assert (again.resumed_from_step, again.global_step) == (1, 2)
    assert read_summary(run)["global_step"] == 2


def test_cli_pretrain_signrep(synth: Path, tmp_path: Path) -> None:
    run = tmp_path / "cli"
    sets = [a for s in [*COMMON, *SETS["signrep"]] for a in ("--set", s)]
    result = CliRunner().invoke(
        app,
        ["pretrain", "--method", "signrep", "--data", str(synth), "--config", "tiny", "--out",
         str(run), "--no-progress", *sets],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.search(r"clips\W+2 used, 0 skipped", result.output), result.output
    assert spec_of_run(run).modality == "video"


def test_a_damaged_training_video_is_skipped_with_its_reason(synth: Path, tmp_path: Path) -> None:
    """A training video whose header names no decodable codec is left out and counted,
    with the file and a readable reason (not PyAV's AttributeError)."""
    data = Path(shutil.copytree(synth.parent, tmp_path / "ds")) / synth.name
    m = video_manifest(Manifest.read(data))
    video = next(m.resolve(row) for row in m.rows if row.split == "train")
    video.write_bytes(video.read_bytes().replace(b"avc1", b"zzzz"))
    cfg = load_config("signrep", "tiny", [*COMMON, *SETS["signrep"]])
    enc = create_model("hiera_test", num_frames=FRAMES)
    dataset, skipped = build_video_dataset(cfg, data, enc, priors=False, progress=False)
    assert (len(dataset), skipped) == (1, 1)
    [(item, detail)] = [p for items in dataset.report().problems.values() for p in items]
    assert str(video) in f"{item} {detail}" and "no decoder can read" in detail


def test_video_method_on_a_pose_manifest_is_a_clear_error(tmp_path: Path) -> None:
    from signssl.synth import generate_dataset

    poses = generate_dataset(tmp_path / "poses", 2, 2, 1, 16, seed=0, progress=False)
    cfg = load_config("mae", "tiny", [*COMMON, *SETS["mae"]])
    with pytest.raises(ConfigError, match=r"manifest.csv: a video method needs rows naming videos"):
        pretrain(cfg, poses, tmp_path / "run")
    arrays = generate_dataset(tmp_path / "arrays", 2, 2, 1, 16, video=True, size=16, seed=0,
                              video_format="npy", progress=False)  # fmt: skip
    with pytest.raises(ConfigError, match=r"\.npy` frame arrays .* render mp4"):
        pretrain(cfg, arrays, tmp_path / "run2")


def test_two_optimisers_train_disjoint_parameters() -> None:
    torch.manual_seed(0)
    enc = create_model("hiera_test", num_frames=8)
    method = create_method("signrep", enc, latent_dim=16, decoder_hidden=16, up_dim=8,
                           activity_hidden=8, disc_hidden=16, augment=False)  # fmt: skip
    optim = {
        "name": "adamw",
        "lr": 1e-2,
        "weight_decay": 0.5,
        "layer_decay": 0.85,
        "grad_clip": 1.0,
    }
    module = PretrainModule(method, total_steps=10, warmup_steps=2, optim=optim)
    assert module.automatic_optimization is False
    (main, aux) = module.configure_optimizers()
    main_opt, aux_opt = main["optimizer"], aux["optimizer"]
    assert isinstance(aux_opt, torch.optim.Adam) and isinstance(main_opt, torch.optim.AdamW)
    in_main = {id(p) for g in main_opt.param_groups for p in g["params"]}
    in_aux = {id(p) for g in aux_opt.param_groups for p in g["params"]}
    disc = {id(p) for p in method.discriminator.parameters()}
    assert in_aux == disc and not in_main & in_aux
    assert in_main | in_aux == {id(p) for p in method.parameters() if p.requires_grad}
    # layer-wise decay reaches Hiera's blocks: deeper blocks get larger rates
    by_layer = {g["layer"]: g["lr"] for g in main_opt.param_groups}
    assert (
        by_layer[0]
        < by_layer[1]
        < by_layer[3]
        < by_layer[max(by_layer)]
        == pytest.approx(1e-2 * 0.5)
    )
    # the discriminator's optimiser leaves the encoder alone, and the other way round
    method.style_ema.e_same.fill_(0.9)  # the adversarial term is on
    b = _pair_batch()
    out = method.training_loss(b)
    (out["loss"] + out["aux_loss"]).backward()
    enc_before = {k: v.clone() for k, v in method.encoder.state_dict().items()}
    dsc_before = {k: v.clone() for k, v in method.discriminator.state_dict().items()}
    aux_opt.step()
    assert all(torch.equal(v, enc_before[k]) for k, v in method.encoder.state_dict().items())
    assert any(
        not torch.equal(v, dsc_before[k]) for k, v in method.discriminator.state_dict().items()
    )
    dsc_after = {k: v.clone() for k, v in method.discriminator.state_dict().items()}
    main_opt.step()
    assert all(torch.equal(v, dsc_after[k]) for k, v in method.discriminator.state_dict().items())
    assert any(not torch.equal(v, enc_before[k]) for k, v in method.encoder.state_dict().items())


def _pair_batch(N: int = 2, T: int = 8) -> dict[str, Any]:
    from signssl.priors import PRIOR_SPECS

    g = torch.Generator().manual_seed(0)
    names = [n for n in PRIOR_SPECS if n != "activity"]
    return {
        "video": torch.randint(0, 256, (N, 2, T, 3, SIZE, SIZE), generator=g, dtype=torch.uint8),
        "priors": {n: torch.randn(N, 2, T, PRIOR_SPECS[n].dim, generator=g) for n in names},
        "priors_valid": {
            n: torch.ones(N, 2, T, PRIOR_SPECS[n].dim, dtype=torch.bool) for n in names
        },
        "activity": torch.ones(N, 2, 2),
        "activity_valid": torch.ones(N, 2, 2, dtype=torch.bool),
    }


def test_layer_ids_of_hiera() -> None:
    enc = create_model("hiera_test")
    method = create_method("mae", enc, decoder_dim=16, decoder_heads=2)
    ids = layer_ids(method, enc)
    L = len(enc.blocks)
    assert ids["encoder.patch_embed.proj.weight"] == ids["encoder.pos_embed_spatial"] == 0
    for i in range(L):
        assert ids[f"encoder.blocks.{i}.attn.qkv.weight"] == i + 1
    assert ids["encoder.norm.weight"] == ids["decoder.head.weight"] == L + 1


def test_split_features_embed_the_centre_clip_of_each_video(synth: Path) -> None:
    from signssl.data.signrep import video_manifest
    from signssl.io.video import read_video

    torch.manual_seed(0)
    enc = create_model("hiera_test", num_frames=8).eval()
    manifest = Manifest.read(synth)
    train, test = split_features(enc, manifest, DataSpec(modality="video"))
    assert len(train) == 2 and len(test) == 2 and train.dim == enc.out_dim
    assert set(train.labels) == {"sign000", "sign001"}
    rows = [r for r in video_manifest(manifest).rows if r.split == "train"]
    for i, row in enumerate(rows):
        frames = read_video(manifest.root / row.path).frames[4:12]  # centre 8 of 16 frames
        clip = torch.from_numpy(frames).permute(3, 0, 1, 2)[None]  # (1, 3, 8, H, W) uint8
        with torch.no_grad():
            ref = enc.embed(clip)[0].numpy()
        assert train.features[i] == pytest.approx(ref, abs=1e-5)
        assert train.labels[i] == row.label
    assert not enc.training  # the encoder's mode is kept


def test_configs_of_the_video_methods() -> None:
    paper = load_config("signrep")
    assert paper.model.name == "hiera_base_16x224" and paper.data.batch_size == 20
    o = paper.optim
    assert (o.name, o.lr, o.weight_decay, o.betas, o.layer_decay, o.grad_clip, o.warmup_steps) == (
        "adamw",
        1e-4,
        0.5,
        (0.9, 0.999),
        0.85,
        1.0,
        50000,
    )
    assert paper.trainer.max_steps == 500000
    k = paper.method.kwargs
    assert (k["mask_ratio"], k["var_weight"], k["cov_weight"], k["adv_weight"]) == (
        0.8,
        1.0,
        0.004,
        2.0,
    )
    for method in ("signrep", "mae"):
        tiny = load_config(method, "tiny")
        assert tiny.model.name == "hiera_tiny_16x64" and tiny.model.kwargs == {}
        assert tiny.data.batch_size == 4 and tiny.optim.warmup_steps is None
    tiny = load_config("signrep", "tiny").method.kwargs
    assert (tiny["latent_dim"], tiny["decoder_hidden"], tiny["up_dim"], tiny["disc_hidden"]) == (
        128,
        128,
        64,
        128,
    )
    assert load_config("masa", "tiny").model.kwargs["layout"] == "masa49"  # pose profiles unchanged


def test_study_spec_generates_video_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import signssl.synth
    from signssl.studies.study import _data_manifest
    from signssl.studies.study_spec import spec_from_dict

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(
        signssl.synth, "generate_dataset", lambda out, **kw: calls.append(kw) or out
    )
    spec = spec_from_dict(
        {
            "variants": [{"name": "SignRep", "method": "signrep"}],
            "video": True,
            "video_size": 48,
            "size": {"classes": 2, "signers": 2, "reps": 1, "frames": 16},
        }
    )
    _data_manifest(spec, tmp_path, 0)
    assert calls[-1]["video"] is True and calls[-1]["size"] == 48
    plain = spec_from_dict({"variants": [{"name": "SL-FPN"}]})
    _data_manifest(plain, tmp_path, 0)
    assert calls[-1]["video"] is False and "size" not in calls[-1]
