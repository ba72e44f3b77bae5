"""Pictures of synthetic data: a grid of rendered frames, hand trajectories (matplotlib)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signssl.synth.dataset import derive_seed, sample_signers
from signssl.synth.generate import SynthSample, render, synthesize
from signssl.synth.phonology import SignSpec, Vocabulary
from signssl.utils import atomic_path


def _pyplot():  # noqa: ANN202 - matplotlib.pyplot
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def describe(spec: SignSpec) -> str:
    """One line naming a class's parameters (``A -> B`` for a change within the sign)."""
    hs = spec.handshape + (f" -> {spec.handshape2}" if spec.handshape2 else "")
    loc = spec.location + (f" -> {spec.location2}" if spec.location2 else "")
    move = spec.movement + (
        f" {spec.direction}" if spec.movement in ("straight", "arc", "zigzag") else ""
    )
    move += f" x{spec.repeat}" if spec.repeat > 1 else ""
    hands = spec.hands + (f" (base {spec.passive_handshape})" if spec.hands == "passive" else "")
    return f"{spec.name}: {hands}, {hs}, {loc}, {move}, {spec.orientation}"


def _grid_classes(vocab: Vocabulary, n: int) -> list[int]:
    """Class indices to show: a handshape minimal pair first, then other classes."""
    idx = {s.name: i for i, s in enumerate(vocab.signs)}
    chosen: list[int] = []
    for a, b, param in vocab.minimal_pairs:
        if param == "handshape":
            chosen = [idx[a], idx[b]]
            break
    for i in range(len(vocab)):
        if len(chosen) >= n:
            break
        if i not in chosen:
            chosen.append(i)
    return chosen[:n]


def save_frame_grid(
    path: str | Path,
    classes: int = 4,
    signers: int = 3,
    frames_per_clip: int = 4,
    size: int = 112,
    seed: int = 0,
    num_classes: int = 50,
) -> Path:
    """Rendered frames: one row per class, ``frames_per_clip`` frames per signer.

    The frames are spread over the sign's own movement (its core, without the transitions
    from and to rest); the first two rows are a handshape minimal pair when the vocabulary
    has one.
    """
    plt = _pyplot()
    vocab = Vocabulary.sample(num_classes, seed)
    people = sample_signers(max(signers, 1), seed)
    rows = []
    titles = []
    for c in _grid_classes(vocab, classes):
        spec = vocab[c]
        strips = []
        for s, signer in enumerate(people[:signers]):
            sample = synthesize(spec, signer, derive_seed(seed, 1, c, s, 0))
            video = render(sample, size)
            a, b = sample.performance.cores[0]
            idx = np.linspace(a, b - 1, frames_per_clip)
            strips.append(np.concatenate(list(video[idx.round().astype(int)]), 1))
            strips.append(np.full((size, 4, 3), 255, np.uint8))
        rows.append(np.concatenate(strips[:-1], 1))
        titles.append(describe(spec))
    fig, axes = plt.subplots(
        len(rows), 1, figsize=(rows[0].shape[1] / 80, len(rows) * (size / 80 + 0.35))
    )
    axes = np.atleast_1d(axes)
    for ax, img, title in zip(axes, rows, titles, strict=True):
        ax.imshow(img)
        ax.set_title(title, fontsize=9, loc="left")
        ax.axis("off")
    ids = ", ".join(f"{p.id}{' (left-handed)' if p.left_handed else ''}" for p in people[:signers])
    fig.suptitle(f"synthetic signs: rows = classes, column groups = signers ({ids})", fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def save_trajectory_plot(
    path: str | Path, seed: int = 0, sample: SynthSample | None = None
) -> Path:
    """Hand trajectories of one clip: observed wrists and index tips (image x, y over time)
    against the ground truth, with the true sign boundaries shaded."""
    plt = _pyplot()
    if sample is None:
        vocab = Vocabulary.sample(50, seed)
        spec = next(
            (
                s
                for s in vocab.signs
                if s.hands in ("symmetric", "alternating")
                and s.movement in ("circle", "zigzag", "arc")
            ),
            vocab[0],
        )
        sample = synthesize(spec, sample_signers(1, seed)[0], derive_seed(seed, 9))
    seq = sample.pose
    lay = seq.layout
    uv_true, _ = sample.camera.project(sample.world)  # (T, 75, 2)
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True)
    t = np.arange(seq.num_frames)
    colours = {"left_hand": "tab:blue", "right_hand": "tab:red"}
    for col, joint in enumerate(("wrist", "index_finger_tip")):
        for row, dim in enumerate("xy"):
            ax = axes[row, col]
            ax.axvspan(
                sample.sign_start - 0.5,
                sample.sign_end - 0.5,
                color="0.9",
                label="sign (away from rest)",
            )
            for a, b in sample.performance.cores:
                ax.axvspan(a - 0.5, b - 0.5, color="0.78", label="sign movement (core)")
            for hand, colour in colours.items():
                j = lay.index(f"{hand}.{joint}")
                obs = np.where(seq.conf[:, j] > 0, seq.xyz[:, j, "xy".index(dim)], np.nan)
                ax.plot(
                    t,
                    uv_true[:, j, "xy".index(dim)],
                    "-",
                    color=colour,
                    alpha=0.45,
                    lw=2,
                    label=f"{hand} true",
                )
                ax.plot(t, obs, ".", color=colour, ms=4, label=f"{hand} observed")
            ax.set_ylabel(f"image {dim}")
            ax.set_title(f"{joint} {dim}", fontsize=10)
            if row == 1:
                ax.set_xlabel("frame")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    fig.legend(uniq.values(), uniq.keys(), loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(
        f"{describe(sample.specs[0])}; signer {sample.signer.id}; sign frames "
        f"[{sample.sign_start}, {sample.sign_end}); gaps = hand lost by the estimator",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:  # noqa: ANN001 - matplotlib Figure
    plt = _pyplot()
    p = Path(path)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return p
