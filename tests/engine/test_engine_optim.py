"""Learning-rate schedule, parameter groups (weight decay, layer-wise lr decay), optimisers."""

from __future__ import annotations

import math

import pytest
import torch
from engine_toys import ToyEncoder, ToyMethod
from torch import nn

from signssl.engine.module import PretrainModule
from signssl.errors import ConfigError
from signssl.optim import WarmupSchedule, build_optimizer, layer_ids, param_groups


def hand_lr(step: int, base: float, total: int, warmup: int, min_lr: float) -> float:
    """The schedule written out: linear warmup to ``base``, cosine down to ``min_lr``."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / (total - warmup)
    return min_lr + (base - min_lr) * 0.5 * (1 + math.cos(math.pi * t))


def test_warmup_cosine_matches_hand_formula() -> None:
    base, min_lr, total, warmup = 0.4, 0.01, 50, 8
    f = WarmupSchedule(total, warmup, min_ratio=min_lr / base)
    for s in range(total):
        assert base * f(s) == pytest.approx(hand_lr(s, base, total, warmup, min_lr), rel=1e-12)
    # hand-computed anchor points
    assert base * f(0) == pytest.approx(0.05)  # 0.4 * 1/8
    assert base * f(7) == pytest.approx(0.4)  # end of warmup
    assert base * f(8) == pytest.approx(0.4)  # cosine starts at the peak
    assert base * f(8 + 21) == pytest.approx(0.205)  # half way: (0.4 + 0.01) / 2
    assert base * f(10_000) == pytest.approx(min_lr)  # clipped after the end


def test_linear_and_constant_schedules() -> None:
    lin = WarmupSchedule(total_steps=12, warmup_steps=2, kind="linear")
    assert [lin(s) for s in (0, 1, 2, 7, 12)] == pytest.approx([0.5, 1.0, 1.0, 0.5, 0.0])
    const = WarmupSchedule(total_steps=10, warmup_steps=4, kind="constant")
    assert [const(s) for s in range(6)] == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    with pytest.raises(ConfigError, match="unknown schedule"):
        WarmupSchedule(10, 0, kind="step")(3)


def test_scheduler_applies_schedule_per_optimizer_step() -> None:
    """Run the module's optimiser + LambdaLR by hand: step s uses the hand formula."""
    torch.manual_seed(0)
    method = ToyMethod(ToyEncoder())
    module = PretrainModule(method, total_steps=20, warmup_steps=5,
                            optim={"name": "sgd", "lr": 0.2, "min_lr": 0.02})
    conf = module.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    assert conf["lr_scheduler"]["interval"] == "step"
    seen = []
    for _ in range(20):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([hand_lr(s, 0.2, 20, 5, 0.02) for s in range(20)])


def test_layer_ids_follow_block_depth() -> None:
    enc = ToyEncoder(depth=3)
    method = ToyMethod(enc)
    ids = layer_ids(method, enc)
    assert ids["encoder.embed_in.weight"] == 0
    for i in range(3):
        assert ids[f"encoder.blocks.{i}.1.weight"] == i + 1
    assert ids["encoder.norm.weight"] == 4  # after the blocks
    assert ids["projector.0.weight"] == 4  # heads are on top
    assert "target.0.weight" in ids  # frozen, but still assigned


def test_param_groups_llrd_scales_and_weight_decay() -> None:
    enc = ToyEncoder(depth=3)
    method = ToyMethod(enc)
    lr, decay, wd = 0.1, 0.5, 0.05
    groups = param_groups(method, enc, lr=lr, weight_decay=wd, layer_decay=decay)
    by_name = {n: g for g in groups for n in g["names"]}
    for name, p in method.named_parameters():
        if not p.requires_grad:
            assert name not in by_name  # momentum targets are not optimised
            continue
        g = by_name[name]
        depth = layer_ids(method, enc)[name]
        assert g["lr"] == pytest.approx(lr * decay ** (4 - depth)), name
        assert g["weight_decay"] == (wd if p.ndim > 1 else 0.0), name
    # every trainable parameter exactly once
    grouped = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in method.parameters() if p.requires_grad]
    assert sorted(grouped) == sorted(trainable)


def test_param_groups_without_blocks() -> None:
    flat = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    holder = nn.Module()
    holder.encoder = flat
    groups = param_groups(holder, flat, lr=0.1, weight_decay=0.1)
    assert {g["lr"] for g in groups} == {0.1}
    with pytest.raises(ConfigError, match="layer_decay=0.7 needs an encoder exposing `blocks`"):
        param_groups(holder, flat, lr=0.1, weight_decay=0.1, layer_decay=0.7)


def test_build_optimizer_kinds_keep_group_settings() -> None:
    enc = ToyEncoder(depth=2)
    groups = param_groups(ToyMethod(enc), enc, lr=0.1, weight_decay=0.01, layer_decay=0.5)
    sgd = build_optimizer(groups, "sgd", lr=0.1, momentum=0.8, nesterov=True)
    assert isinstance(sgd, torch.optim.SGD)
    assert all(g["momentum"] == 0.8 and g["nesterov"] for g in sgd.param_groups)
    # depth 0 (embedding), blocks 1-2, top 3: lr 0.1 * 0.5 ** (3 - depth)
    assert sorted({g["lr"] for g in sgd.param_groups}) == pytest.approx([0.0125, 0.025, 0.05, 0.1])
    adamw = build_optimizer(groups, "adamw", lr=0.1, betas=(0.9, 0.95))
    assert isinstance(adamw, torch.optim.AdamW) and adamw.param_groups[0]["betas"] == (0.9, 0.95)
    with pytest.raises(ConfigError, match="unknown optimiser"):
        build_optimizer(groups, "lars", lr=0.1)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        build_optimizer([], "sgd", lr=0.1)
