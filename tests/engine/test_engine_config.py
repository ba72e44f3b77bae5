"""Configuration: YAML merge, --set parsing, dataclass validation, built-in files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from signssl.engine.config import (
    METHODS,
    PretrainConfig,
    apply_overrides,
    builtin_config_path,
    config_from_dict,
    deep_merge,
    list_configs,
    load_config,
    load_run_config,
    parse_override,
    parse_value,
)
from signssl.errors import ConfigError
from signssl.pose.layouts import DEFAULT_LAYOUT


def test_deep_merge_merges_mappings_and_replaces_other_values() -> None:
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "b": [1, 2], "c": 3}
    overlay = {"a": {"y": {"q": 20}, "z": 5}, "b": [9]}
    merged = deep_merge(base, overlay)
    assert merged == {"a": {"x": 1, "y": {"p": 1, "q": 20}, "z": 5}, "b": [9], "c": 3}
    assert base["a"]["y"]["q"] == 2  # inputs untouched
    merged["a"]["x"] = 100
    assert base["a"]["x"] == 1  # no shared sub-dicts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("0.5", 0.5),
        ("1e-3", 0.001),  # YAML 1.1 alone would keep the string "1e-3"
        ("-2E4", -20000.0),
        ("true", True),
        ("false", False),
        ("null", None),
        ("[1, 2]", [1, 2]),
        ("{a: 1}", {"a": 1}),
        ("adamw", "adamw"),
        ("'007'", "007"),
        ("evening", "evening"),  # contains 'e' but is not a number
    ],
)
def test_parse_value_is_yaml_typed(text: str, expected: object) -> None:
    value = parse_value(text)
    assert value == expected and type(value) is type(expected)


def test_parse_override_splits_dotted_key() -> None:
    assert parse_override("optim.lr=0.01") == (["optim", "lr"], 0.01)
    assert parse_override("method.kwargs.b_s = 0.25") == (["method", "kwargs", "b_s"], 0.25)
    assert parse_override("data.split=") == (["data", "split"], None)  # empty YAML = null
    for bad in ("optim.lr", "=3", "optim..lr=1", ".lr=2"):
        with pytest.raises(ConfigError, match="KEY=VALUE"):
            parse_override(bad)


def test_apply_overrides_creates_and_replaces_nested_keys() -> None:
    tree = {"optim": {"lr": 0.1}, "method": {"name": "x"}}
    out = apply_overrides(tree, ["optim.lr=0.5", "method.kwargs.tau=0.2", "optim.lr=0.25"])
    assert out == {"optim": {"lr": 0.25}, "method": {"name": "x", "kwargs": {"tau": 0.2}}}
    assert tree["optim"]["lr"] == 0.1
    with pytest.raises(ConfigError, match="optim.lr is a value"):
        apply_overrides(tree, ["optim.lr.x=1"])


def test_from_dict_validates_keys_and_types() -> None:
    cfg = config_from_dict({"optim": {"lr": 1, "betas": [0.8, 0.9]}, "trainer": {"devices": 2},
                            "data": {"batch_size": 8}})
    assert isinstance(cfg.optim.lr, float) and cfg.optim.lr == 1.0  # int widened
    assert cfg.optim.betas == (0.8, 0.9)
    with pytest.raises(ConfigError, match=r"unknown key config.optim.learning_rate.*known keys"):
        config_from_dict({"optim": {"learning_rate": 0.1}})
    with pytest.raises(ConfigError, match=r"config.trainer.max_epochs must be an integer"):
        config_from_dict({"trainer": {"max_epochs": 2.5}})
    with pytest.raises(ConfigError, match=r"config.trainer.deterministic must be true or false"):
        config_from_dict({"trainer": {"deterministic": "yes"}})
    with pytest.raises(ConfigError, match=r"betas must be a list of 2"):
        config_from_dict({"optim": {"betas": [0.9]}})
    with pytest.raises(ConfigError, match="unknown key config.bogus"):
        config_from_dict({"bogus": {}})


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ({"optim": {"name": "lars"}}, "optim.name"),
        ({"optim": {"schedule": "step"}}, "optim.schedule"),
        ({"optim": {"layer_decay": 1.5}}, "layer_decay"),
        ({"optim": {"lr": 0.1, "min_lr": 0.2}}, "min_lr"),
        ({"data": {"batch_size": 10}, "trainer": {"devices": 4}}, "not divisible by 4"),
        ({"data": {"batch_size": 1}}, "batch_size must be >= 2"),
        ({"trainer": {"max_epochs": 0, "max_steps": -1}}, "max_epochs or trainer.max_steps"),
    ],
)
def test_validate_rejects_inconsistent_values(tree: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(tree)


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("optim.lr=.nan", r"optim\.lr must be a finite number, got nan"),
        ("optim.lr=.inf", r"optim\.lr must be a finite number, got inf"),
        ("optim.lr=-0.1", r"optim\.lr must be a finite number > 0, got -0\.1"),
        ("optim.lr=0", r"optim\.lr must be a finite number > 0"),
        ("optim.min_lr=.nan", r"optim\.min_lr must be a finite number"),
        ("optim.weight_decay=-1", r"optim\.weight_decay must be a finite number >= 0"),
        ("optim.weight_decay=.nan", r"optim\.weight_decay must be a finite number"),
        ("optim.momentum=1.5", r"optim\.momentum must be a finite number in \[0, 1\)"),
        ("optim.momentum=-0.5", r"optim\.momentum must be"),
        ("optim.betas=[0.9, 1.2]", r"optim\.betas must be a finite number in \[0, 1\)"),
        ("optim.betas=[.nan, 0.9]", r"optim\.betas\[0\] must be a finite number"),
        ("optim.eps=0", r"optim\.eps must be a finite number > 0"),
        ("optim.warmup_epochs=-1", r"optim\.warmup_epochs must be"),
        ("optim.warmup_steps=-2", r"optim\.warmup_steps must be"),
        ("optim.grad_clip=.nan", r"optim\.grad_clip must be a finite number"),
        ("optim.layer_decay=-.inf", r"optim\.layer_decay must be a finite number"),
        ("data.video.fps=-5", r"data\.video\.fps must be > 0"),
        ("data.max_frames=0", r"data\.max_frames must be >= 1"),
        ("method.kwargs.temperature=.nan", r"method\.kwargs\.temperature must be a finite"),
        ("model.kwargs.dropout=[0.1, .inf]", r"model\.kwargs\.dropout\[1\] must be a finite"),
    ],
)
def test_validator_refuses_non_finite_and_meaningless_values(item: str, message: str) -> None:
    """NaN, infinity, or a negative learning rate / weight decay / momentum is refused by
    the config validator naming the key, before any optimiser sees it."""
    with pytest.raises(ConfigError, match=message):
        load_config("sl_fpn", "tiny", [item])


def test_pretrain_cli_refuses_a_nan_learning_rate_before_reading_data(tmp_path: Path) -> None:
    from signssl.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main(["pretrain", "--method", "sl_fpn", "--config", "tiny", "--data",
              str(tmp_path / "m.csv"), "--out", str(tmp_path / "run"), "--set", "optim.lr=.nan"])
    assert exc.value.code == 2 and not (tmp_path / "run").exists()


def test_fine_tuning_settings_use_the_same_rules() -> None:
    from signssl.eval.finetune_video import VideoFinetuneConfig
    from signssl.optim import check_optim_values

    with pytest.raises(ConfigError, match=r"^--weight-decay must be a finite number >= 0, got -1"):
        check_optim_values("--", lr=0.1, weight_decay=-1.0)
    check_optim_values("--", lr=0.1, weight_decay=None, betas=(0.9, 0.999))
    with pytest.raises(ConfigError, match=r"^weight_decay must be a finite number >= 0"):
        VideoFinetuneConfig(weight_decay=-0.5)
    with pytest.raises(ConfigError, match=r"^lr must be a finite number > 0, got inf"):
        VideoFinetuneConfig(lr=float("inf"))


def test_builtin_method_configs_hold_the_paper_setting() -> None:
    """docs/methods.md#ssl-slr-setting: pose_transformer_paper, batch 512, <= 64 frames, 200 epochs;
    SL-FPN with SGD at a fixed lr of 0.001; contrastive baselines with tau = 0.5."""
    assert set(METHODS) <= set(list_configs()["methods"])
    assert list_configs()["profiles"] == ["tiny"]
    for method in METHODS:
        cfg = load_config(method)
        assert cfg.method.name == method
        assert cfg.model.name == "pose_transformer_paper"
        assert cfg.data.batch_size == 512 and cfg.data.max_frames == 64
        assert cfg.trainer.max_epochs == 200
        assert cfg.data.layout == cfg.model.kwargs["layout"] == "masa49"
    sl = load_config("sl_fpn")
    assert (sl.optim.name, sl.optim.lr, sl.optim.schedule) == ("sgd", 0.001, "constant")
    assert sl.method.kwargs["b_s"] == pytest.approx(1 / 3) and sl.method.kwargs["b_e"] == 0.25
    for method in ("simclr", "moco"):
        assert load_config(method).method.kwargs["temperature"] == 0.5


def test_builtin_configs_are_accepted_by_the_recipes() -> None:
    """Every method file (and its tiny overlay) only uses options the recipe knows."""
    from signssl.methods import method_options
    from signssl.models import list_models

    for method in list_configs()["methods"]:  # the SSL-SLR five and any other recipe file
        for profile in (None, "tiny"):
            cfg = load_config(method, profile)
            assert set(cfg.method.kwargs) <= set(method_options(method)), (method, profile)
            assert cfg.model.name in list_models()


def test_tiny_profile_overlays_method_file_and_its_own_section() -> None:
    paper, tiny = load_config("moco"), load_config("moco", "tiny")
    raw = yaml.safe_load(builtin_config_path("tiny").read_text())
    own = yaml.safe_load(builtin_config_path("moco").read_text())["profiles"]["tiny"]
    assert "methods" not in raw  # the profile file holds no per-method part
    assert tiny.model.name == raw["model"]["name"] != paper.model.name
    assert tiny.data.batch_size == raw["data"]["batch_size"]
    assert tiny.method.kwargs["queue_size"] == own["method"]["kwargs"]["queue_size"]
    assert tiny.method.kwargs["queue_size"] != paper.method.kwargs["queue_size"]
    assert tiny.method.kwargs["temperature"] == paper.method.kwargs["temperature"]  # kept
    assert tiny.data.layout == paper.data.layout  # not in the overlay: kept


def test_data_layout_is_the_encoders_in_every_builtin_config() -> None:
    """One knob: no method file states data.layout beside a model layout, and every
    method x profile resolves data.layout to model.kwargs.layout (video encoders, which
    take none, keep the default)."""
    for method in list_configs()["methods"]:
        raw = yaml.safe_load(builtin_config_path(method).read_text())
        assert "layout" not in (raw.get("data") or {}), method
        for profile in (None, "tiny"):
            cfg = load_config(method, profile)
            assert cfg.data.layout == cfg.model.kwargs.get("layout", DEFAULT_LAYOUT), (method, profile)


def test_model_layout_sets_data_layout_and_data_layout_alone_raises() -> None:
    cfg = load_config("sl_fpn", "tiny", ["model.kwargs.layout=hands"])
    assert cfg.data.layout == cfg.model.kwargs["layout"] == "hands"
    masa = load_config("masa", "tiny", ["model.kwargs.layout=hands"])
    assert masa.data.layout == "hands"
    same = load_config("simclr", "tiny", ["data.layout=masa49"])  # equal: accepted
    assert same == load_config("simclr", "tiny")
    both = load_config("simclr", None, ["model.kwargs.layout=hands", "data.layout=hands"])
    assert both.data.layout == "hands"
    msg = (r"^config\.data\.layout 'hands' differs from the encoder's layout 'masa49' "
           r"\(model\.kwargs\.layout\), which the data follow: set model\.kwargs\.layout=hands "
           r"instead of data\.layout$")
    with pytest.raises(ConfigError, match=msg):
        load_config("simclr", "tiny", ["data.layout=hands"])
    with pytest.raises(ConfigError, match="set model.kwargs.layout=hands instead"):
        config_from_dict({"model": {"kwargs": {"layout": "masa49"}}, "data": {"layout": "hands"}})
    video = load_config("mae", "tiny", ["data.layout=hands"])  # no layout kwarg: unaffected
    assert "layout" not in video.model.kwargs and video.data.layout == "hands"
    assert load_config("signrep", "tiny").data.layout == DEFAULT_LAYOUT


def test_a_saved_run_layout_follows_model_layout_overrides(tmp_path: Path) -> None:
    load_config("byol", "tiny").save(tmp_path / "config.yaml")
    assert load_run_config(tmp_path).data.layout == "masa49"
    moved = load_run_config(tmp_path, ["model.kwargs.layout=hands"])
    assert moved.data.layout == moved.model.kwargs["layout"] == "hands"
    with pytest.raises(ConfigError, match="set model.kwargs.layout=hands instead of data.layout"):
        load_run_config(tmp_path, ["data.layout=hands"])


def test_every_registered_method_has_a_file_with_tiny_sizes() -> None:
    """``--method NAME --config tiny`` works for every recipe, at the sizes its file
    declares (a recipe without them would build its paper-sized heads on the tiny
    encoder)."""
    from signssl.methods import list_methods

    assert sorted(list_methods()) == list_configs()["methods"]
    for method in list_methods():
        raw = yaml.safe_load(builtin_config_path(method).read_text())
        assert raw["method"]["name"] == method
        assert "tiny" in (raw.get("profiles") or {}), f"{method}.yaml has no profiles: tiny:"


def test_a_new_method_file_brings_its_own_profile_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import signssl.engine.config as config

    root = tmp_path / "configs"
    shutil.copytree(builtin_config_path("tiny").parent, root)
    monkeypatch.setattr(config, "builtin_config_path", lambda name: root / f"{name}.yaml")
    (root / "toy.yaml").write_text(
        "method: {name: toy, kwargs: {width: 4096, depth: 3}}\n"
        "model: {name: pose_transformer_paper, kwargs: {layout: masa49}}\n"
        "profiles:\n  tiny: {method: {kwargs: {width: 8}}, trainer: {max_epochs: 2}}\n"
    )
    assert "toy" in list_configs()["methods"]
    tiny_file = yaml.safe_load((root / "tiny.yaml").read_text())
    tiny = load_config("toy", "tiny")
    assert tiny.method.kwargs == {"width": 8, "depth": 3}
    assert tiny.trainer.max_epochs == 2  # the method's section wins over the profile file
    assert tiny.model.name == tiny_file["model"]["name"]
    assert tiny.model.kwargs == tiny_file["model"]["kwargs"]
    assert load_config("toy").method.kwargs == {"width": 4096, "depth": 3}
    as_overlay = load_config("simclr", "toy")  # a method file as --config: no profiles key
    assert as_overlay.method.name == "simclr" and as_overlay.method.kwargs["width"] == 4096
    (root / "toy.yaml").write_text("method: {name: toy}\nprofiles: {tniy: {}}\n")
    with pytest.raises(ConfigError, match=r"toy.yaml: 'profiles' must map profile names \(tiny\)"):
        load_config("toy", "tiny")


def test_set_wins_over_profile_and_yaml_file(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("method: {name: byol}\noptim: {lr: 0.02}\ntrainer: {max_epochs: 7}\n")
    cfg = load_config(None, user, ["trainer.max_epochs=3"])
    assert cfg.method.name == "byol"  # taken from the file
    assert cfg.optim.lr == 0.02 and cfg.trainer.max_epochs == 3
    assert cfg.data.batch_size == load_config("byol").data.batch_size  # the method's defaults
    assert load_config("simclr", user).method.name == "simclr"  # --method wins


def test_load_config_errors_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown method 'dino'.*sl_fpn"):
        load_config("dino")
    with pytest.raises(ConfigError, match="no method given"):
        load_config(None, "tiny")
    with pytest.raises(ConfigError, match="neither a built-in profile"):
        load_config("sl_fpn", "huge")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("sl_fpn", tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config("sl_fpn", bad)
    bad.write_bytes("optim:\n  name: adamw  # café\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"bad\.yaml: is not UTF-8 text"):
        load_config("sl_fpn", bad)


def test_saved_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config("simsiam", "tiny", ["optim.lr=0.123", "method.kwargs.flip_p=0.5"])
    cfg.save(tmp_path / "config.yaml")
    again = load_run_config(tmp_path)
    assert again == cfg
    assert load_run_config(tmp_path, ["optim.lr=0.5"]).optim.lr == 0.5
    with pytest.raises(ConfigError, match="not a pretraining run"):
        load_run_config(tmp_path / "nope")
    assert isinstance(again, PretrainConfig)
