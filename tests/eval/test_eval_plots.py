"""Report figures: what each draws (neighbour columns, colours and markers, error bars),
read from the matplotlib figure rather than the pixels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from signssl.eval import plots
from signssl.eval.features import Features
from signssl.eval.report import write_report
from signssl.eval.runner import evaluate_features


def _pose(_path: str) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    xyz = np.random.default_rng(0).normal(size=(4, 3, 2))
    return xyz, np.ones((4, 3)), [(0, 1), (1, 2)]


def _features(classes: int = 4, per_class: int = 6, seed: int = 0) -> Features:
    rng = np.random.default_rng(seed)
    labels = np.repeat([f"c{i}" for i in range(classes)], per_class)
    centres = 3 * rng.normal(size=(classes, 8))
    x = centres[np.repeat(np.arange(classes), per_class)] + rng.normal(size=(len(labels), 8))
    return Features(x.astype(np.float32), labels, [f"p{i}" for i in range(len(labels))],
                    [f"s{i % 2}" for i in range(len(labels))])


def test_retrieval_grid_draws_a_fixed_number_of_neighbours_whatever_k(tmp_path, saved_figures) -> None:
    feats = _features()
    runs = evaluate_features("knn", feats, seeds=(0,), k=20)
    assert runs.result.neighbors.shape[1] == 20
    write_report(tmp_path, runs, feats, lookup=_pose)
    grid = saved_figures["retrieval_examples.png"]
    queries = 4
    assert len(grid.axes) == queries * (1 + plots.EXAMPLE_HITS)
    titles = [ax.get_title() for ax in grid.axes]
    assert sum(t.startswith("query:") for t in titles) == queries
    assert sum(t.startswith(f"#{plots.EXAMPLE_HITS} ") for t in titles) == queries
    assert not any(t.startswith(f"#{plots.EXAMPLE_HITS + 1} ") for t in titles)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"their {plots.EXAMPLE_HITS} nearest entries of 20" in md


def _class_marks(fig: Any) -> dict[str, tuple[tuple[float, ...], bytes]]:
    """``label -> (RGB, marker outline)`` of every class scatter of an embedding map."""
    out = {}
    for coll in fig.axes[0].collections:
        label = coll.get_label()
        if label != "other classes":
            rgb = tuple(np.round(coll.get_facecolor()[0][:3], 4))
            out[label] = (rgb, coll.get_paths()[0].vertices.round(3).tobytes())
    return out


def _hue_gap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    import colorsys

    ha, hb = colorsys.rgb_to_hsv(*a)[0], colorsys.rgb_to_hsv(*b)[0]
    return min(abs(ha - hb), 1 - abs(ha - hb))


@pytest.mark.parametrize("classes", [len(plots.CLASS_COLOURS), 20])
def test_embedding_map_gives_every_class_its_own_hue_then_marker(tmp_path, saved_figures, classes) -> None:
    feats = _features(classes=classes, per_class=3)
    plots.plot_embedding_map(feats.features, feats.labels, tmp_path / "map.png")
    marks = _class_marks(saved_figures["map.png"])
    assert len(marks) == classes
    assert len(set(marks.values())) == classes  # no two classes drawn alike
    colours = sorted({rgb for rgb, _ in marks.values()})
    assert len(colours) == min(classes, len(plots.CLASS_COLOURS))
    # distinct hues, not light/dark shades of one hue (tab20's pairs differ by < 0.03)
    gaps = [_hue_gap(a, b) for i, a in enumerate(colours) for b in colours[i + 1:]]
    assert min(gaps) > 0.04
    assert all(max(rgb) - min(rgb) > 0.2 for rgb in colours)  # no grey: grey marks the rest
    if classes > len(plots.CLASS_COLOURS):
        assert len({m for _, m in marks.values()}) == -(-classes // len(plots.CLASS_COLOURS))


def test_metric_bars_take_an_interval_whose_bound_equals_the_value(tmp_path, saved_figures) -> None:
    from matplotlib.container import ErrorbarContainer

    from signssl.eval.metrics import wilson_interval

    assert wilson_interval(0.0, 3)[0] == 0.0 and wilson_interval(1.0, 3)[1] == 1.0
    # a bound off by rounding (5.6e-17 above a 0 score) is drawn as a zero-length side
    plots.plot_metric_bars(["a", "b"], {"top-1": [0.0, 0.5]}, tmp_path / "m.png", "score",
                           {"top-1": [(5.6e-17, 0.56), None]})
    bars = [c for c in saved_figures["m.png"].axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1 and len(bars[0].lines[2][0].get_segments()) == 1  # "b" has none
