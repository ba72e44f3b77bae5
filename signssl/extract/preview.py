"""Drawing extracted keypoints over their video frame, to check an extraction by eye."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from signssl.errors import DataError
from signssl.pose.layouts import Layout
from signssl.utils import atomic_path

#: colour per part (matplotlib names); parts not listed are drawn grey
PART_COLORS: dict[str, str] = {
    "body": "tab:orange", "face": "tab:cyan", "left_hand": "tab:green",
    "right_hand": "tab:red",
}
#: parts whose coordinates are not image pixels (never drawn over the frame)
NOT_IN_IMAGE = ("body_world",)


def draw_keypoints(
    ax: object, xyz: np.ndarray, conf: np.ndarray, layout: Layout, min_conf: float = 0.5
) -> int:
    """Draw one frame's keypoints (``xyz (J, C)`` in pixels, ``conf (J,)``) on a matplotlib
    axis: bones as lines, joints as dots, face points small.  Joints below ``min_conf``
    are left out.  Returns the number of joints drawn."""
    xyz, conf = np.asarray(xyz), np.asarray(conf)
    if xyz.shape[0] != layout.num_joints or conf.shape != (layout.num_joints,):
        raise DataError(f"keypoints {xyz.shape} / {conf.shape} do not match layout "
                        f"'{layout.name}' ({layout.num_joints} joints)")
    shown = conf >= min_conf  # (J,)
    drawn = 0
    for part in layout.parts:
        if part.name in NOT_IN_IMAGE:
            continue
        sl = layout.part_slice(part.name)
        color = PART_COLORS.get(part.name, "0.6")
        for a, b in layout.bones:
            if sl.start <= a < sl.stop and shown[a] and shown[b]:
                ax.plot(xyz[[a, b], 0], xyz[[a, b], 1], "-", color=color, lw=1.5,  # type: ignore[attr-defined]
                        zorder=3)
        keep = np.flatnonzero(shown[sl]) + sl.start
        face = part.name == "face"  # many small dots, drawn under the joints
        ax.scatter(xyz[keep, 0], xyz[keep, 1], s=2 if face else 16, color=color,  # type: ignore[attr-defined]
                   edgecolors="none" if face else "black", linewidths=0.5,
                   label=f"{part.name} ({len(keep)}/{sl.stop - sl.start})", zorder=2 if face else 4)
        drawn += len(keep)
    return drawn


def save_keypoints_preview(
    frames: np.ndarray,
    xyz: np.ndarray,
    conf: np.ndarray,
    layout: Layout,
    path: str | Path,
    titles: list[str] | None = None,
    min_conf: float = 0.5,
) -> Path:
    """Save a PNG of frames ``(N, H, W, 3)`` with their keypoints ``(N, J, C)`` /
    ``(N, J)`` drawn over them, side by side (atomic write)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = np.asarray(frames)
    n = frames.shape[0]
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 5.4), squeeze=False)
    for k in range(n):
        ax = axes[0, k]
        ax.imshow(frames[k])
        drawn = draw_keypoints(ax, xyz[k], conf[k], layout, min_conf)
        ax.set_title(titles[k] if titles else f"frame {k}: {drawn} keypoints", fontsize=10)
        ax.set_xlim(0, frames.shape[2])
        ax.set_ylim(frames.shape[1], 0)
        ax.axis("off")
    axes[0, 0].legend(loc="lower left", fontsize=8, framealpha=0.8)
    fig.tight_layout()
    p = Path(path)
    with atomic_path(p) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return p
