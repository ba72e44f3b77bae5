"""SignRep and pixel-MAE recipes and their pair data: batch structure, loss terms,
gradients of the two players, gating, masking, hidden-unit-only MAE loss."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from signssl.data import Manifest, ManifestRow
from signssl.data.signrep import (
    NO_USABLE_POSE,
    PairClipDataset,
    VideoAugment,
    clip_activity,
    collate_pairs,
    video_manifest,
)
from signssl.errors import ConfigError
from signssl.losses.masked_pixel import masked_pixel_loss, normalize_units
from signssl.methods import create_method, list_methods, method_options
from signssl.methods.mae import MAE, unit_token_pixels, visible_unit_index
from signssl.methods.signrep import SignRep
from signssl.models import create_model
from signssl.models.style_discriminator import gram_style
from signssl.priors import PRIOR_SPECS

T, SIZE = 8, 32
SMALL = dict(latent_dim=16, decoder_hidden=16, up_dim=8, activity_hidden=8, disc_hidden=16)
FRAME_PRIORS = [n for n in PRIOR_SPECS if n != "activity"]


def encoder(seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return create_model("hiera_test", num_frames=T)  # 16 mask units of 16x16 px x 2 frames


def signrep(**kw: Any) -> SignRep:
    m = create_method("signrep", encoder(), **{**SMALL, "augment": False, **kw})
    assert isinstance(m, SignRep)
    return m


def mae(**kw: Any) -> MAE:
    m = create_method(
        "mae", encoder(), **{"decoder_dim": 16, "decoder_heads": 2, "augment": False, **kw}
    )
    assert isinstance(m, MAE)
    return m


def pair_batch(
    N: int = 3, K: int = 2, seed: int = 0, size: tuple[int, int, int] = (T, SIZE, SIZE)
) -> dict[str, Any]:
    """Random crops of ``size`` ``(T, H, W)`` and priors in the layout of collate_pairs."""
    frames, H, W = size
    g = torch.Generator().manual_seed(seed)
    batch: dict[str, Any] = {
        "video": torch.randint(0, 256, (N, K, frames, 3, H, W), generator=g, dtype=torch.uint8),
        "priors": {},
        "priors_valid": {},
        "activity": torch.randint(0, 2, (N, K, 2), generator=g).float(),
        "activity_valid": torch.rand(N, K, 2, generator=g) > 0.2,
        "index": torch.arange(N),
    }
    for name in FRAME_PRIORS:
        dim = PRIOR_SPECS[name].dim
        batch["priors"][name] = 0.3 * torch.randn(N, K, frames, dim, generator=g)
        batch["priors_valid"][name] = torch.rand(N, K, frames, dim, generator=g) > 0.2
    return batch


# ----------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from signssl.synth import generate_dataset

    out = tmp_path_factory.mktemp("synth_video")
    return generate_dataset(out, 2, 2, 1, 16, video=True, size=SIZE, seed=3, progress=False)


def test_video_manifest_moves_the_video_into_path() -> None:
    rows = [
        ManifestRow("poses/a.pose", "x", "s1", extra={"video": "videos/a.mp4", "k": "1"}),
        ManifestRow("videos/b.mp4", "y", extra={"pose_path": "poses/b.pose"}),
    ]
    out = video_manifest(Manifest(rows, root="/data")).rows
    assert (out[0].path, out[0].extra) == ("videos/a.mp4", {"k": "1", "pose_path": "poses/a.pose"})
    assert (out[0].label, out[0].signer) == ("x", "s1")
    assert out[1] == rows[1]  # already a video row


def test_clip_activity_is_the_majority_of_valid_frames() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        act = rng.integers(0, 2, (7, 2)).astype(np.float32)
        valid = rng.random((7, 2)) > 0.4
        target, ok = clip_activity(act, valid)
        for h in range(2):
            votes = [act[t, h] for t in range(7) if valid[t, h]]
            assert ok[h] == (len(votes) > 0)
            assert target[h] == (1.0 if votes and sum(votes) > len(votes) / 2 else 0.0)


def test_pair_batch_crops_come_from_their_own_video(synth: Path) -> None:
    from signssl.data.video import align_pose_frames
    from signssl.io import read_pose
    from signssl.io.video import read_video
    from signssl.priors import compute_priors

    ds = PairClipDataset(synth, clip_len=T, size=(SIZE, SIZE), seed=1)
    assert ds.scan(progress=False).num_problems == 0
    batch = collate_pairs([ds[i] for i in range(len(ds))])
    N = len(ds)
    assert batch["video"].shape == (N, 2, T, 3, SIZE, SIZE)
    assert len(set(batch["path"])) == N  # entries i are different videos
    rows = ds.manifest.rows
    for i in range(N):
        full = read_video(batch["path"][i]).frames  # (F, H, W, 3), every frame
        pose = read_pose(Path(ds.manifest.root) / rows[int(batch["index"][i])].extra["pose_path"])
        for k in range(2):
            idx = batch["frame_indices"][i, k].numpy()
            expected = torch.from_numpy(full[idx]).permute(0, 3, 1, 2)  # (T, 3, H, W)
            assert torch.equal(batch["video"][i, k], expected)
            ref = compute_priors(align_pose_frames(idx, None, pose, "p"), activity_window=None)
            for name in FRAME_PRIORS:
                assert np.allclose(batch["priors"][name][i, k].numpy(), ref.values[name])
                assert np.array_equal(batch["priors_valid"][name][i, k].numpy(), ref.valid[name])
            act, ok = clip_activity(ref.values["activity"], ref.valid["activity"])
            assert np.array_equal(batch["activity"][i, k].numpy(), act)
            assert np.array_equal(batch["activity_valid"][i, k].numpy(), ok)
    # the two crops of a video are drawn independently
    starts = batch["frame_indices"][:, :, 0]
    assert starts.min() >= 0 and starts.max() <= 16 - T
    draws = [tuple(ds[0]["frame_indices"][:, 0].tolist()) for _ in range(8)]
    assert len(set(draws)) > 1


def test_pair_dataset_skips_and_counts_clips_without_usable_pose(
    synth: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    from signssl.io import read_pose, write_npz

    m = video_manifest(Manifest.read(synth))
    first = m.rows[0]
    pose = read_pose(Path(m.root) / first.extra["pose_path"])
    blank = tmp_path / "blank.npz"
    write_npz(replace(pose, xyz=np.zeros_like(pose.xyz), conf=np.zeros_like(pose.conf)), blank)
    rows = list(m.rows)
    rows[0] = replace(
        first, path=str(Path(m.root) / first.path), extra={**first.extra, "pose_path": str(blank)}
    )
    rows[1] = replace(
        rows[1],
        path=str(Path(m.root) / rows[1].path),
        extra={**rows[1].extra, "pose_path": str(tmp_path / "missing.pose")},
    )
    ds = PairClipDataset(Manifest(rows, m.root), clip_len=T, size=(SIZE, SIZE))
    report = ds.scan(progress=False)
    assert report.count(NO_USABLE_POSE) == 1 and report.num_problems == 2
    assert len(ds) == len(rows) - 2
    assert {ds[i]["index"] for i in range(len(ds))} == {2, 3}
    # without scan the bad rows are skipped when met (and counted), never a crash
    lazy = PairClipDataset(Manifest(rows, m.root), clip_len=T, size=(SIZE, SIZE))
    assert lazy[0]["index"] == 2 and lazy.report().num_problems == 2
    # MAE data need no pose: every row is kept
    video_only = PairClipDataset(
        Manifest(rows, m.root), clip_len=T, size=(SIZE, SIZE), priors=False
    )
    assert video_only.scan(progress=False).num_problems == 0 and "priors" not in video_only[0]


def test_video_augment_same_on_frames_and_different_between_crops() -> None:
    torch.manual_seed(0)
    frame = torch.rand(1, 1, 3, SIZE, SIZE).expand(4, T, 3, SIZE, SIZE).contiguous()
    aug = VideoAugment((SIZE, SIZE), jitter_p=1.0, blur_p=1.0, gray_p=0.0)
    out = aug(frame)  # 4 crops of one static clip
    assert out.shape == frame.shape and out.min() >= 0 and out.max() <= 1
    assert torch.allclose(out[:, :1].expand_as(out), out)  # the same transform on every frame
    assert not torch.allclose(out[0], out[1])  # another draw for another crop


# ----------------------------------------------------------------------------- signrep


def test_registry_and_options() -> None:
    assert {"signrep", "mae"} <= set(list_methods())
    opts = method_options("signrep")
    assert opts["mask_ratio"] == 0.8 and opts["adv_weight"] == 2.0 and opts["cov_weight"] == 0.004
    assert opts["augment"] is True and opts["gray_p"] == 0.1  # the shared video options
    with pytest.raises(ConfigError, match="pose view options"):
        create_method("signrep", encoder(), b_s=0.5)
    with pytest.raises(ConfigError, match="needs a masked video encoder"):
        create_method("mae", create_model("pose_transformer_test"))
    with pytest.raises(ConfigError, match="not sign priors"):
        signrep(priors=["hand_kp_left", "nose"])


# method_options("signrep") before the options were grouped: the same flat names and defaults
SIGNREP_OPTIONS = {
    "boundary_permutation": True, "b_s": 1 / 3, "b_e": 0.25, "spatial_aug": True,
    "flip_p": 0.0, "hand_dropout_p": 0.0, "b_s_frames": None, "b_e_frames": None,
    "temporal_p": 0.0, "spatial_strength": 1.0, "signing_space": 0.0, "seed": 0,
    "mask_ratio": 0.8, "augment": True, "jitter_p": 0.8, "crop_scale_min": 0.8, "blur_p": 0.5,
    "gray_p": 0.1, "priors": None, "prior_weights": None, "smooth_l1_beta": 1.0,
    "latent_dim": 768, "decoder_hidden": 512, "up_dim": 384, "activity_hidden": 128,
    "var_weight": 1.0, "cov_weight": 0.004, "use_style": True, "adv_weight": 2.0,
    "adv_detach_style": False, "disc_hidden": 768, "style_scale": 100.0, "style_momentum": 0.1,
    "disc_lr": None, "disc_betas": (0.9, 0.999), "disc_weight_decay": 0.0,
    "disc_warmup_steps": None, "decoder_readout": "pooled",
}  # fmt: skip


def test_flat_options_reach_their_groups() -> None:
    """A config's flat keys land in SignRep's option groups; the groups' own checks run."""
    from signssl.methods.signrep_options import (
        PriorTargets,
        SignDecoderSize,
        StyleAdversary,
        VarCovWeights,
    )

    assert method_options("signrep") == SIGNREP_OPTIONS
    assert not {"prior", "decoder_size", "spread", "style"} & set(method_options("signrep"))
    m = signrep(
        priors=["hand_kp_left", "activity"], smooth_l1_beta=0.5, cov_weight=0.0,
        adv_weight=3.0, disc_lr=1e-4, disc_betas=[0.5, 0.9], disc_warmup_steps=7,
    )  # fmt: skip
    assert m.prior == PriorTargets(priors=["hand_kp_left", "activity"], smooth_l1_beta=0.5)
    assert m.spread == VarCovWeights(cov_weight=0.0) and m.spread.on
    assert m.style == StyleAdversary(
        adv_weight=3.0, disc_hidden=16, disc_lr=1e-4, disc_betas=(0.5, 0.9), disc_warmup_steps=7
    )
    assert set(m.prior_weights) == {"hand_kp_left", "activity"}
    assert m.decoder.latent_dim == SignDecoderSize(latent_dim=16).latent_dim == 16
    aux = m.auxiliary_optimizer()
    assert aux is not None
    assert (aux["lr"], aux["betas"], aux["warmup_steps"]) == (1e-4, (0.5, 0.9), 7)
    assert not VarCovWeights(var_weight=0.0, cov_weight=0.0).on
    for bad, match in [
        ({"var_weight": -1.0}, "var_weight must be >= 0"),
        ({"adv_weight": -0.5}, "adv_weight must be >= 0"),
        ({"disc_lr": 0.0}, "disc_lr must be positive or null"),
        ({"disc_betas": [0.9]}, "disc_betas must be two numbers"),
        ({"decoder_readout": "mean"}, "unknown decoder readout"),
    ]:
        with pytest.raises(ConfigError, match=match):
            signrep(**bad)
    with pytest.raises(ConfigError, match="has no option"):
        signrep(style=StyleAdversary())  # groups are built from the flat keys, not passed in


def test_loss_is_the_weighted_sum_of_its_terms() -> None:
    m = signrep()
    out = m.training_loss(pair_batch())
    rec = sum(PRIOR_SPECS[n].weight * out[f"rec_{n}"] for n in PRIOR_SPECS)
    assert torch.allclose(out["rec"], rec, rtol=1e-5)
    total = out["rec"] + 1.0 * out["var"] + 0.004 * out["cov"] + 2.0 * out["adv"]
    assert torch.allclose(out["loss"].detach(), total, rtol=1e-5)
    # the regularisers are those of z (= the embedding), by a naive formula
    z = out["embedding"]
    std = torch.sqrt(z.var(dim=0) + 1e-4)
    assert torch.allclose(out["var"], torch.relu(1 - std).mean(), atol=1e-6)
    c = torch.cov(z.T)  # (D, D), unbiased
    off = sum(c[i, j] ** 2 for i in range(c.shape[0]) for j in range(c.shape[0]) if i != j)
    assert torch.allclose(out["cov"], off / z.shape[1], rtol=1e-4)
    assert z.shape == (6, 16)  # 3 videos x 2 crops, latent 16
    # the activity term is a BCE of clip logits against the clip targets
    assert 0 < out["rec_activity"] < 5


def test_hand_computed_prior_term() -> None:
    """One prior, prediction forced to 0: L_p = mean smoothL1(0, s_p y) over valid entries."""
    m = signrep(priors=["hand_kp_left"], use_style=False, var_weight=0.0, cov_weight=0.0)
    with torch.no_grad():
        for p in m.decoder.heads["hand_kp_left"].parameters():
            p.zero_()
    b = pair_batch(N=2)
    out = m.training_loss(b)
    y = 2.0 * b["priors"]["hand_kp_left"]  # scale 2
    ok = b["priors_valid"]["hand_kp_left"]
    err = torch.where(y.abs() < 1, 0.5 * y**2, y.abs() - 0.5)
    assert torch.allclose(out["rec_hand_kp_left"], err[ok].mean(), rtol=1e-5)
    assert torch.allclose(out["loss"], 10.0 * out["rec_hand_kp_left"], rtol=1e-5)
    assert "aux_loss" not in out and m.auxiliary_optimizer() is None


def test_style_pairs_same_video_and_another_video() -> None:
    """Dsc sees (z_a, g_b) with b the other crop of a's video and (z_a, g_c) with c a crop
    of another video, every time."""
    m = signrep()
    seen: list[tuple[Tensor, Tensor]] = []
    m.discriminator.register_forward_hook(lambda _mod, args, _out: seen.append(args))
    tokens_out: list[Tensor] = []
    forward = m.encoder.forward_features
    m.encoder.forward_features = lambda x, mask=None: (
        tokens_out.append(forward(x, mask)) or tokens_out[-1]
    )
    for seed in range(5):
        seen.clear()
        tokens_out.clear()
        m.training_loss(pair_batch(N=4, seed=seed))
        g = gram_style(tokens_out[0].detach())  # (8, D): crops a of videos 0..3, then b
        (z1, g_same), (z2, g_diff) = seen[0], seen[1]
        assert torch.equal(z1, z2)
        assert torch.allclose(g_same, g[4:])  # g_b of the same video, row by row
        for i in range(4):
            j = [r for r in range(4) if torch.allclose(g_diff[i], g[4 + r])]
            assert j and j[0] != i  # c is a crop of another video


def test_adversarial_loss_is_gated() -> None:
    m = signrep()
    b = pair_batch()
    m.style_ema.e_same.fill_(0.2)
    m.style_ema.e_diff.fill_(0.8)
    m.style_ema.momentum = 1e-6  # keep the values through this step's update
    out = m.training_loss(b)
    assert out["adv"] == 0 and out["e_same"] < out["e_diff"]
    m.style_ema.e_same.fill_(0.8)
    m.style_ema.e_diff.fill_(0.2)
    out = m.training_loss(b)
    assert out["adv"] > 0
    # with the gate open L_adv reaches the encoder, never the discriminator
    x, N, _ = m.clips(b)
    tokens = m.encoder.forward_features(x, m.draw_mask(x.shape[0]))
    adv = m.style_terms(tokens, m.decoder(tokens).latent, N)["adv"]
    enc, disc = list(m.encoder.parameters()), list(m.discriminator.parameters())
    grads = torch.autograd.grad(adv, enc + disc, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads[: len(enc)])
    assert all(g is None for g in grads[len(enc) :])


def test_discriminator_and_encoder_losses_reach_disjoint_parameters() -> None:
    m = signrep()
    m.style_ema.e_same.fill_(0.9)  # gate open: L_adv is part of the loss
    out = m.training_loss(pair_batch())
    disc = list(m.discriminator.parameters())
    rest = [p for p in m.parameters() if all(p is not q for q in disc)]
    g_aux = torch.autograd.grad(out["aux_loss"], disc + rest, allow_unused=True, retain_graph=True)
    assert all(g is not None for g in g_aux[: len(disc)])
    assert all(g is None or g.abs().sum() == 0 for g in g_aux[len(disc) :])
    g_main = torch.autograd.grad(out["loss"], disc + rest, allow_unused=True)
    assert all(g is None for g in g_main[: len(disc)])
    assert sum(g is not None for g in g_main[len(disc) :]) > 0.9 * len(rest)


def test_masking_hides_the_configured_share_of_units() -> None:
    m = signrep()
    U = m.hiera.num_mask_units
    calls: list[tuple[Tensor | None, Tensor]] = []
    forward = m.encoder.forward_features

    def spy(x: Tensor, mask: Tensor | None = None) -> Tensor:
        out = forward(x, mask)
        calls.append((mask, out))
        return out

    m.encoder.forward_features = spy
    m.training_loss(pair_batch(N=3))
    mask, tokens = calls[-1]
    assert mask is not None and mask.shape == (6, U)
    assert (mask.sum(1) == round(0.8 * U)).all()  # every crop: exactly round(0.8 U) hidden
    assert len({tuple(r.tolist()) for r in mask}) > 1  # drawn per crop
    assert tokens.shape[1] == (U - round(0.8 * U)) * m.hiera.tokens_per_unit
    # hidden units' pixels never reach the tokens
    x = torch.rand(2, 3, T, SIZE, SIZE)
    mk = m.hiera.random_mask(2, 0.8)
    changed = x.clone()
    pt, ph, pw = m.hiera.mask_unit_pixels
    Tm, Hm, Wm = m.hiera.mask_unit_grid
    for b in range(2):
        for u in mk[b].nonzero().flatten().tolist():
            ut, uh, uw = u // (Hm * Wm), (u // Wm) % Hm, u % Wm
            changed[
                b, :, ut * pt : (ut + 1) * pt, uh * ph : (uh + 1) * ph, uw * pw : (uw + 1) * pw
            ] = 0.5
    m.eval()
    assert torch.allclose(forward(x, mk), forward(changed, mk), atol=1e-6)
    # ratio 0: no mask, every token
    m0 = signrep(mask_ratio=0.0)
    assert m0.draw_mask(4) is None


@pytest.mark.parametrize("name", ["signrep", "mae"])
def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(name: str) -> None:
    m = signrep() if name == "signrep" else mae()
    batch = pair_batch(N=2, seed=5)

    def loss() -> dict[str, Tensor]:
        m.generator.manual_seed(0)  # the same masks every time
        return m.training_loss(batch)

    aux = m.auxiliary_optimizer() if hasattr(m, "auxiliary_optimizer") else None
    aux_ids = {id(p) for p in aux["params"]} if aux else set()
    opt = torch.optim.AdamW([p for p in m.parameters() if id(p) not in aux_ids], lr=1e-2)
    opt_d = torch.optim.Adam(aux["params"], lr=1e-3) if aux else None
    first = float(loss()["loss"].detach())
    for _ in range(25):
        out = loss()
        opt.zero_grad()
        if opt_d is not None:
            opt_d.zero_grad()
        (out["loss"] + out.get("aux_loss", 0.0)).backward()
        opt.step()
        if opt_d is not None:
            opt_d.step()
    assert float(loss()["loss"].detach()) < 0.8 * first


def test_style_needs_pairs() -> None:
    with pytest.raises(ConfigError, match="two crops per video"):
        signrep().training_loss(pair_batch(N=3, K=1))
    out = signrep(use_style=False).training_loss(pair_batch(N=3, K=1))
    assert "adv" not in out and math.isfinite(float(out["loss"].detach()))


# ----------------------------------------------------------------------------- mae


def test_unit_token_pixels_against_a_naive_loop() -> None:
    g = torch.Generator().manual_seed(0)
    pixels = torch.randn(2, 3, 3, 2, 4, 6, generator=g)  # (B, U, C, pt, ph, pw)
    out = unit_token_pixels(pixels, (1, 2, 3))  # tokens of (2, 2, 2) pixels
    for b in range(2):
        for u in range(3):
            for s, (a, c, e) in enumerate(
                (a, c, e) for a in range(1) for c in range(2) for e in range(3)
            ):
                block = pixels[
                    b, u, :, a * 2 : (a + 1) * 2, c * 2 : (c + 1) * 2, e * 2 : (e + 1) * 2
                ]
                assert torch.equal(out[b, u, s], block.reshape(-1))


def test_normalize_units_and_hidden_only_loss() -> None:
    g = torch.Generator().manual_seed(0)
    t = torch.randn(2, 5, 12, generator=g) * 3 + 1
    n = normalize_units(t)
    for b in range(2):
        for u in range(5):
            v = t[b, u]
            assert torch.allclose(n[b, u], (v - v.mean()) / torch.sqrt(v.var() + 1e-6), atol=1e-5)
    pred = torch.randn(2, 5, 12, generator=g)
    mask = torch.tensor([[True, False, True, False, False], [False, False, False, True, True]])
    loss = masked_pixel_loss(pred, t, mask)
    naive = [((pred[b, u] - t[b, u]) ** 2).mean() for b in range(2) for u in range(5) if mask[b, u]]
    assert torch.allclose(loss, torch.stack(naive).mean())
    changed = t.clone()
    changed[~mask] += 100.0  # visible units' targets do not count
    assert torch.equal(masked_pixel_loss(pred, changed, mask), loss)
    changed[0, 0] += 1.0
    assert masked_pixel_loss(pred, changed, mask) != loss
    assert torch.equal(visible_unit_index(mask), torch.tensor([[1, 3, 4], [0, 1, 2]]))


def test_mae_loss_matches_a_naive_loop_over_hidden_units() -> None:
    m = mae()
    h = m.hiera
    batch = pair_batch(N=2, seed=2)
    U, S = h.num_mask_units, h.tokens_per_unit
    fixed = torch.randn(4, U, S, 3 * math.prod(h.final_token_pixels))
    masks: list[Tensor] = []
    m.decoder.forward = lambda units, mask: masks.append(mask) or fixed
    out = m.training_loss(batch)
    x = batch["video"].transpose(0, 1).flatten(0, 1).float() / 255  # (4, T, 3, H, W) crop-major
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 1, 3, 1, 1)) / torch.tensor(
        [0.229, 0.224, 0.225]
    ).view(1, 1, 3, 1, 1)  # ImageNet normalisation
    mask = masks[0]
    Tm, Hm, Wm = h.mask_unit_grid
    pt, ph, pw = h.mask_unit_pixels
    mt, mh, mw = h.final_unit_size
    ft, fh, fw = h.final_token_pixels
    errs = []
    for c in range(4):
        for u in range(U):
            if not mask[c, u]:
                continue
            ut, uh, uw = u // (Hm * Wm), (u // Wm) % Hm, u % Wm
            blocks = []
            for a in range(mt):
                for b in range(mh):
                    for e in range(mw):
                        t0, y0, x0 = ut * pt + a * ft, uh * ph + b * fh, uw * pw + e * fw
                        blk = x[c, t0 : t0 + ft, :, y0 : y0 + fh, x0 : x0 + fw]  # (ft, 3, fh, fw)
                        blocks.append(blk.permute(1, 0, 2, 3).reshape(-1))  # (3, ft, fh, fw)
            target = torch.cat(blocks)
            target = (target - target.mean()) / torch.sqrt(target.var() + 1e-6)
            errs.append(((fixed[c, u].reshape(-1) - target) ** 2).mean())
    assert len(errs) == 4 * round(0.8 * U)
    assert torch.allclose(out["loss"], torch.stack(errs).mean(), rtol=1e-4)


@pytest.mark.parametrize("model", ["hiera_test", "cnn_test"])
def test_per_time_decoder_readout_trains_the_encoder(model: str) -> None:
    torch.manual_seed(0)
    enc = create_model(model, num_frames=T)
    m = create_method("signrep", enc, **{**SMALL, "augment": False, "decoder_readout": "per_time"})
    out = m.training_loss(pair_batch())
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and not hasattr(m.decoder, "upsample")
    grads = [p.grad for p in m.encoder.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)
