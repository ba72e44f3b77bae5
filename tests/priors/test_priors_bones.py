"""Kinematic tree, re-lengthening and standard bone lengths."""

from __future__ import annotations

import json

import numpy as np
import pytest
from priors_reference import lifted_frame

from signssl.errors import DataError
from signssl.priors import (
    BONE_NAMES,
    BONES,
    SKELETON_POINTS,
    BoneLengths,
    default_bone_lengths,
    lift_holistic,
    rebuild,
    standard_bone_lengths,
)
from signssl.priors.bones import FIXED_LENGTHS, MEASURED_BONES, path_matrix
from signssl.priors.joints import EXTENDED_POINTS, extend


def test_tree_covers_every_point_once() -> None:
    children = [c for _, c in BONES]
    assert sorted(children) == sorted(SKELETON_POINTS)  # one bone into each of the 61
    seen = {"shoulder_mid"}
    for p, c in BONES:  # parents are placed before their children
        assert p in seen, (p, c)
        seen.add(c)
    a, a_hand = path_matrix()
    nose = SKELETON_POINTS.index("body.nose")
    tip = SKELETON_POINTS.index("left_hand.index_finger_tip")
    # path lengths, counted by hand: root -> nose (1); root -> shoulder -> elbow -> wrist
    # -> hand wrist -> mcp -> pip -> dip -> tip (8); inside the hand 4
    assert a[nose].sum() == 1 and a[tip].sum() == 8 and a_hand[tip].sum() == 4


def test_rebuild_with_the_observed_lengths_gives_the_observed_skeleton(clean_clip) -> None:
    lifted = lift_holistic(clean_clip)
    pts, val = extend(lifted.points, lifted.valid)
    t = int(np.flatnonzero(val.all(1))[0]) if val.all(1).any() else 0
    vec = (
        pts[t, [EXTENDED_POINTS.index(c) for _, c in BONES]]
        - pts[t, [EXTENDED_POINTS.index(p) for p, _ in BONES]]
    )
    observed = np.linalg.norm(vec, axis=-1).astype(np.float32)  # frame t's own lengths
    body, body_ok, hand, hand_ok = rebuild(pts[t : t + 1], val[t : t + 1], observed)
    root = pts[t, EXTENDED_POINTS.index("shoulder_mid")]
    ok = body_ok[0]
    assert ok.sum() >= 40
    np.testing.assert_allclose(body[0][ok], pts[t, :61][ok] - root, atol=1e-5)
    hok = hand_ok[0]
    for h0 in (19, 40):
        m = hok[h0 : h0 + 21]
        rel = pts[t, h0 : h0 + 21] - pts[t, h0]
        np.testing.assert_allclose(hand[0, h0 : h0 + 21][m], rel[m], atol=1e-5)


def test_rebuild_uses_standard_lengths_and_observed_directions() -> None:
    # a 3-point chain in the body: root -> left shoulder -> left elbow, other points absent
    pts = np.zeros((1, len(EXTENDED_POINTS), 3), np.float32)
    val = np.zeros((1, len(EXTENDED_POINTS)), bool)
    names = ("shoulder_mid", "body.left_shoulder", "body.right_shoulder", "body.left_elbow")
    idx = {n: EXTENDED_POINTS.index(n) for n in names}
    pts[0, idx["body.left_shoulder"]] = (2.0, 0, 0)
    pts[0, idx["body.right_shoulder"]] = (-2.0, 0, 0)
    pts[0, idx["body.left_elbow"]] = (2.0, 5.0, 0)  # straight down from the shoulder
    for n in idx:
        val[0, idx[n]] = True
    lengths = np.ones(len(BONES), np.float32) * 0.5
    lengths[BONE_NAMES.index("body.left_shoulder->body.left_elbow")] = 0.8
    body, ok, _, _ = rebuild(pts, val, lengths)
    el = SKELETON_POINTS.index("body.left_elbow")
    np.testing.assert_allclose(body[0, el], (0.5, 0.8, 0.0), atol=1e-6)  # hand-computed
    assert ok[0, el] and not ok[0, SKELETON_POINTS.index("body.left_wrist")]


def test_standard_lengths_are_dataset_medians() -> None:
    from priors_reference import synth_clip

    seqs = [synth_clip(i, frames=20) for i in range(3)]
    got = standard_bone_lengths(seqs, source="three clips")
    # naive: every valid bone of every frame, each clip in its own shoulder widths
    samples: dict[str, list[float]] = {n: [] for n in MEASURED_BONES}
    for seq in seqs:
        widths = []
        for t in range(seq.num_frames):
            p = lifted_frame(seq, t)
            if "body.left_shoulder" in p and "body.right_shoulder" in p:
                widths.append(np.linalg.norm(p["body.left_shoulder"] - p["body.right_shoulder"]))
        sw = np.median(widths)
        for t in range(seq.num_frames):
            p = lifted_frame(seq, t)
            for parent, child in BONES:
                name = f"{parent}->{child}"
                if name in samples and parent in p and child in p:
                    samples[name].append(np.linalg.norm(p[child] - p[parent]) / sw)
    for name in MEASURED_BONES:
        assert got.counts[name] == len(samples[name]), name
        v = np.sort(samples[name])
        if v.size:  # a median: between the two middle samples, to within one 0.001 bin
            lo, hi = v[(v.size - 1) // 2], v[v.size // 2]
            assert lo - 1e-3 <= got.lengths[name] <= hi + 1e-3, name
    assert got.source == "three clips"
    assert all(got.lengths[n] == default_bone_lengths().lengths[n] for n in got.defaulted)


def test_defaults_are_sensible() -> None:
    d = default_bone_lengths().lengths
    assert set(d) == set(MEASURED_BONES) and all(v > 0 for v in d.values())
    for side in ("left", "right"):
        assert d[f"shoulder_mid->body.{side}_shoulder"] == pytest.approx(0.5, abs=0.01)
        # upper arm > forearm > hand (wrist to middle knuckle), anthropometric order
        upper = d[f"body.{side}_shoulder->body.{side}_elbow"]
        fore = d[f"body.{side}_elbow->body.{side}_wrist"]
        palm = d[f"{side}_hand.wrist->{side}_hand.middle_finger_mcp"]
        assert 0.7 < upper < 1.2 and 0.6 < fore < upper and 0.2 < palm < 0.45
    for name in MEASURED_BONES:  # left and right agree within 5 %
        if name.startswith(("left_", "body.left")) or ".left_" in name:
            mirror = name.replace("left", "right")
            assert d[name] == pytest.approx(d[mirror], rel=0.05), name


def test_json_round_trip_and_errors(tmp_path) -> None:
    from priors_reference import synth_clip

    lengths = standard_bone_lengths([synth_clip(0)], source="clip0")
    path = lengths.save(tmp_path / "lengths.json")
    back = BoneLengths.load(path)
    assert back.source == "clip0" and back.counts == lengths.counts
    for n in MEASURED_BONES:
        assert back.lengths[n] == pytest.approx(lengths.lengths[n], abs=1e-6)
    np.testing.assert_allclose(back.as_array(), lengths.as_array(), atol=1e-6)
    assert back.as_array()[BONE_NAMES.index(next(iter(FIXED_LENGTHS)))] == 0.0

    data = json.loads(path.read_text())
    del data["bones"][MEASURED_BONES[3]]
    (tmp_path / "missing.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="missing"):
        BoneLengths.load(tmp_path / "missing.json")
    data = json.loads(path.read_text())
    data["bones"][MEASURED_BONES[0]]["length"] = -1
    (tmp_path / "negative.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="finite and > 0"):
        BoneLengths.load(tmp_path / "negative.json")
    (tmp_path / "junk.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="signssl bone-lengths"):
        BoneLengths.load(tmp_path / "junk.json")
    with pytest.raises(DataError, match="does not exist"):
        BoneLengths.load(tmp_path / "nope.json")
