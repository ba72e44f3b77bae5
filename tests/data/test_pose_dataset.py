"""PoseDataset: values against hand-decoded frames, frame ranges, errors, skip counting, cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from signssl.data import (
    Manifest,
    ManifestRow,
    PoseDataset,
    SampleError,
    manifest_from_folder,
    pose_loader,
)
from signssl.errors import ConfigError, DataError, LayoutError

# masa49 body joints -> their index among the 11 body joints of the 170-value layout
MASA_BODY_FROM_H170 = [0, 1, 3, 5, 2, 4, 6]  # nose, L sh, L el, L wr, R sh, R el, R wr


def load_frames(folder: Path) -> np.ndarray:
    """``(T, 170)`` straight from the .npy files (independent of signssl.io)."""
    files = sorted(folder.glob("*.npy"), key=lambda p: int(p.stem))
    return np.stack([np.load(f) for f in files])


def masa49_reference(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hand-decoded masa49 ``xy (T, 49, 2)`` and ``conf (T, 49)`` from 170-value frames."""
    T = len(flat)
    body = flat[:, :44].reshape(T, 11, 4)[:, MASA_BODY_FROM_H170]  # (T, 7, [x y z vis])
    left = flat[:, 44:107].reshape(T, 21, 3)
    right = flat[:, 107:170].reshape(T, 21, 3)
    xy = np.concatenate([body[..., :2], left[..., :2], right[..., :2]], axis=1)
    conf = np.concatenate([body[..., 3], np.ones((T, 42))], axis=1)
    # a joint whose stored x, y, z are all 0 is missing
    missing = np.concatenate(
        [(body[..., :3] == 0).all(-1), (left == 0).all(-1), (right == 0).all(-1)], axis=1
    )
    conf[missing] = 0
    xy[missing] = 0
    return xy.astype(np.float32), conf.astype(np.float32)


def shoulder_reference(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Shoulder normalisation by a per-frame loop (left shoulder = 1, right = 4)."""
    mids, widths = [], []
    for t in range(len(xy)):
        if conf[t, 1] > 0 and conf[t, 4] > 0:
            mids.append((xy[t, 1] + xy[t, 4]) / 2)
            widths.append(np.hypot(*(xy[t, 1] - xy[t, 4])))
    mid, width = np.mean(mids, axis=0), np.mean(widths)
    out = (xy - mid) / width
    out[conf == 0] = 0
    return out


@pytest.fixture
def tiny(mp_data, h170_yaml: Path) -> tuple[Manifest, Path]:
    root = mp_data({"hello": [5, 4], "thanks": [6]})
    rows = [
        ManifestRow("hello/0", "hello", "s1", "train"),
        ManifestRow("hello/1", "hello", "s2", "test", start=1, end=3),
        ManifestRow("thanks/0", "thanks", None, "train"),
    ]
    return Manifest(rows, root), h170_yaml


def test_sample_values_match_hand_decoded_frames(tiny) -> None:
    m, yaml = tiny
    ds = PoseDataset(m, source_layout=yaml, normalize="none")
    assert len(ds) == 3 and ds.classes == ["hello", "thanks"] and ds.num_classes == 2
    s = ds[0]
    assert set(s) == {"pose", "label", "path", "signer", "index"}
    assert (s["label"], s["signer"], s["index"]) == (0, "s1", 0)
    assert s["path"] == str(m.root / "hello" / "0")
    xy, conf = masa49_reference(load_frames(m.root / "hello" / "0"))
    assert s["pose"].layout.name == "masa49"
    np.testing.assert_allclose(s["pose"].xyz, xy, rtol=1e-6)
    np.testing.assert_allclose(s["pose"].conf, conf, rtol=1e-6)
    assert ds[2]["signer"] == "" and ds[2]["label"] == 1


def test_frame_range_is_applied(tiny) -> None:
    m, yaml = tiny
    ds = PoseDataset(m, source_layout=yaml, normalize="none")
    xy, _ = masa49_reference(load_frames(m.root / "hello" / "1"))
    pose = ds[1]["pose"]
    assert pose.num_frames == 2  # frames [1, 3)
    np.testing.assert_allclose(pose.xyz, xy[1:3], rtol=1e-6)


def test_shoulder_normalisation_matches_a_per_frame_loop(tiny) -> None:
    m, yaml = tiny
    ds = PoseDataset(m, source_layout=yaml)  # default: masa49, 2D, auto = shoulders here
    xy, conf = masa49_reference(load_frames(m.root / "thanks" / "0"))
    np.testing.assert_allclose(ds[2]["pose"].xyz, shoulder_reference(xy, conf), rtol=1e-5, atol=1e-6)


def test_split_filter_keeps_the_full_class_list(tiny) -> None:
    m, yaml = tiny
    test = PoseDataset(m, source_layout=yaml, split="test")
    assert len(test) == 1 and test.classes == ["hello", "thanks"]
    assert test[0]["label"] == 0 and test[0]["index"] == 0


def test_dims_3_and_source_layout(tiny) -> None:
    m, yaml = tiny
    ds = PoseDataset(m, layout=None, dims=3, normalize="none", source_layout=yaml)
    flat = load_frames(m.root / "hello" / "0")
    pose = ds[0]["pose"]
    assert pose.layout.name == "wlasl50-holistic170" and pose.xyz.shape == (5, 53, 3)
    np.testing.assert_allclose(pose.xyz[:, 0], flat[:, 0:3], rtol=1e-6)  # nose x, y, z


def test_unknown_label_at_evaluation_time(tiny) -> None:
    m, yaml = tiny
    with pytest.raises(DataError, match=r"not in the class list.*\['thanks'\]"):
        PoseDataset(m, source_layout=yaml, classes=["hello", "bye"])
    ok = PoseDataset(m, source_layout=yaml, classes=["zzz", "thanks", "hello"])
    assert [ok[i]["label"] for i in range(3)] == [2, 2, 1]


@pytest.fixture
def mixed(mp_data, h170_yaml: Path) -> tuple[Manifest, Path]:
    """Good rows (0 and 5) around one bad row of each kind."""
    root = mp_data({"a": [4, 3]})
    zeros = root / "a" / "zeros"
    zeros.mkdir()
    for t in range(3):
        np.save(zeros / f"{t}.npy", np.zeros(170))  # nothing detected
    hands_only = root / "a" / "hands_only"
    hands_only.mkdir()
    for t in range(3):
        frame = np.full(170, 0.5)
        frame[:44] = 0  # no body -> no shoulders
        np.save(hands_only / f"{t}.npy", frame)
    rows = [
        ManifestRow("a/0", "a"),
        ManifestRow("a/missing", "a"),  # no such folder
        ManifestRow("a/zeros", "a"),  # all missing
        ManifestRow("a/1", "a", start=10),  # range past the 3 frames: empty
        ManifestRow("a/hands_only", "a"),  # cannot normalise by shoulders (auto: per hand)
        ManifestRow("a/1", "a"),
    ]
    return Manifest(rows, root), h170_yaml


def test_bad_samples_raise_a_data_error_naming_the_file(mixed) -> None:
    m, yaml = mixed
    ds = PoseDataset(m, source_layout=yaml, normalize="shoulders")
    expected = {1: ("unreadable", "a/missing"), 2: ("all missing", "a/zeros"),
                3: ("empty", "a/1"), 4: ("cannot normalise", "a/hands_only")}
    for i, (reason, name) in expected.items():
        with pytest.raises(DataError, match=name) as e:
            ds[i]
        assert isinstance(e.value, SampleError) and e.value.reason == reason
    assert ds[0]["index"] == 0 and ds[5]["index"] == 5
    # the same hand-only sample is fine with per-hand normalisation
    assert PoseDataset(m, source_layout=yaml, normalize="hands")[4]["pose"].num_frames == 3


def test_skip_mode_replaces_and_counts_bad_samples(mixed) -> None:
    m, yaml = mixed
    ds = PoseDataset(m, source_layout=yaml, on_error="skip", normalize="shoulders")
    assert ds[1]["index"] == 5  # rows 1-4 are bad: the next good one is served
    rep = ds.report()
    assert rep.counts() == {"kept": 1, "unreadable": 1, "all missing": 1, "empty": 1,
                            "cannot normalise": 1}
    assert rep.items("unreadable") == [str(m.root / "a" / "missing")]
    rep = ds.scan(progress=False)
    assert rep.kept == 2 and rep.num_problems == 4
    assert len(ds) == 2 and [ds[i]["index"] for i in range(2)] == [0, 5]


def test_all_bad_dataset_raises_in_skip_mode(mixed) -> None:
    m, yaml = mixed
    ds = PoseDataset(Manifest(m.rows[1:3], m.root), source_layout=yaml, on_error="skip")
    with pytest.raises(DataError, match="none of the 2 samples") as e:
        ds[0]
    assert "most common reason: unreadable (1 of 2), e.g." in str(e.value)


def test_auto_normalisation_falls_back_per_clip_and_counts_it(mixed) -> None:
    m, yaml = mixed
    ds = PoseDataset(m, source_layout=yaml, on_error="skip")  # default "auto"
    rep = ds.scan(progress=False)
    assert "cannot normalise" not in rep.problems and rep.kept == 3
    assert rep.notes == {"normalised by hands (no frame with both shoulders)": 1}
    assert "normalised by hands (no frame with both shoulders) 1" in rep.summary()
    # the fallback clip is exactly the per-hand normalisation; the others are by shoulders
    hands = PoseDataset(m, source_layout=yaml, normalize="hands")
    shoulders = PoseDataset(m, source_layout=yaml, normalize="shoulders")
    np.testing.assert_array_equal(ds.load(4).xyz, hands.load(4).xyz)
    np.testing.assert_array_equal(ds.load(0).xyz, shoulders.load(0).xyz)


def test_cache_and_transform(tiny) -> None:
    m, yaml = tiny
    ds = PoseDataset(m, source_layout=yaml, cache=True,
                     transform=lambda s: type(s)(s.xyz + 1.0, s.conf, s.layout, s.fps, s.source))
    first = ds.load(0)
    assert ds.load(0) is first and not first.xyz.flags.writeable
    a, b = ds[0]["pose"], ds[0]["pose"]
    np.testing.assert_allclose(a.xyz, first.xyz + 1.0)
    np.testing.assert_allclose(b.xyz, a.xyz)  # the transform did not touch the cache
    fresh = PoseDataset(m, source_layout=yaml)
    assert fresh.load(0) is not fresh.load(0)


def test_trim_empty_drops_padding_frames(mp_data, h170_yaml: Path) -> None:
    root = mp_data({"a": [5]})
    for t in (5, 6):  # two zero frames of padding, like the real MP_Data sets
        np.save(root / "a" / "0" / f"{t}.npy", np.zeros(170))
    m = Manifest([ManifestRow("a/0", "a")], root)
    assert PoseDataset(m, source_layout=h170_yaml, trim_empty=False)[0]["pose"].num_frames == 7
    assert PoseDataset(m, source_layout=h170_yaml)[0]["pose"].num_frames == 5  # the default


def test_bad_options(tiny) -> None:
    m, _ = tiny
    with pytest.raises(ConfigError, match="normalize"):
        PoseDataset(m, normalize="zscore")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="on_error"):
        PoseDataset(m, on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="dims"):
        PoseDataset(m, dims=4)
    with pytest.raises(LayoutError, match="unknown layout 'nope'"):
        PoseDataset(m, source_layout="nope")


def test_loader_batches_every_sample_once(tiny) -> None:
    m, yaml = tiny
    ds = PoseDataset(m, source_layout=yaml)
    batches = list(pose_loader(ds, batch_size=2, max_frames=4))
    assert [b["x"].shape[0] for b in batches] == [2, 1]
    assert sorted(i for b in batches for i in b["index"].tolist()) == [0, 1, 2]
    assert batches[0]["x"].shape[1:] == (4, 49, 2)


def test_a_worker_hands_batches_over_by_named_files(tiny) -> None:
    """With worker processes the loader switches torch to ``file_system`` sharing, and the
    batches equal those loaded in the main process."""
    m, yaml = tiny
    ds = PoseDataset(m, source_layout=yaml)
    here = list(pose_loader(ds, batch_size=2, max_frames=4))
    before = torch.multiprocessing.get_sharing_strategy()
    try:
        there = list(pose_loader(ds, batch_size=2, max_frames=4, num_workers=1))
        assert torch.multiprocessing.get_sharing_strategy() == "file_system"
    finally:
        torch.multiprocessing.set_sharing_strategy(before)
    assert len(here) == len(there)
    for a, b in zip(here, there, strict=True):
        assert a["path"] == b["path"]
        for key in ("x", "conf", "frame_mask", "label", "index"):
            assert torch.equal(a[key], b[key]), key


def test_real_wlasl50_samples(shared_data: Path, h170_yaml: Path) -> None:
    root = shared_data / "wlasl50-holistic170" / "MP_Data"
    m, _ = manifest_from_folder(root)
    m = m.filter(label=m.labels()[:4])
    ds = PoseDataset(m, source_layout=h170_yaml, normalize="none", on_error="skip",
                     trim_empty=False)  # the reference keeps the zero padding
    rep = ds.scan(progress=False)
    assert rep.kept == len(m) and rep.num_problems == 0
    for i in (0, len(ds) - 1):
        s = ds[i]
        xy, conf = masa49_reference(load_frames(Path(s["path"])))
        np.testing.assert_allclose(s["pose"].xyz, xy, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(s["pose"].conf, conf, rtol=1e-6, atol=1e-7)
